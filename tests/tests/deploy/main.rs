//! Deployment as a centre runs it, tested with the real tools: `make install`
//! and `make uninstall` in a DESTDIR, the Lmod modulefile under Debian's
//! `lmod`, the system switch, opt-out and per-job sampling with the system
//! config file, a real single-node Slurm (slurmctld, slurmd, munge) with the
//! epilog, the installed library's glibc symbol versions, and the RPM and
//! Spack recipes.
//!
//! Run one part with `cargo test -p pyusage-tests --test deploy lmod::`.

mod common;
mod glibc;
mod install;
mod lmod;
mod packages;
mod slurm;
mod switch;
mod walkthrough;
