//! pyusage's integration tests, in one test binary (each binary of a
//! release build is linked with LTO, so one binary keeps `make test` short).
//!
//! - `interpreters`: every interpreter on the machine, flags, old versions,
//!   debug allocators, non-Python programs.
//! - `exits`: every way a process ends; fork, exec, multiprocessing,
//!   subprocess, signals and `pyusage sweep`.
//! - `context`: Slurm, opt-out, config keys, `pyusage run`, native library
//!   kinds, `$ORIGIN` RUNPATH, embedded interpreters.
//! - `packages`: the shared virtualenv resolved through a package map.
//! - `accuracy`: only code that ran counts (opened, copied, compiled files do
//!   not), whatever file it ran from (bytecode caches elsewhere, pyc files no
//!   installer listed, zips); who imported each distribution, and when.
//! - `spool`: the spool sink in both layouts (`pyusage spool init`), planted
//!   symlinks and directories, a read-only or full spool.
//! - `schema`: `docs/record.schema.json` against `docs/record.md`.
//! - `safety`: attacks by one user on another's records through the shared
//!   runtime directory and spool (two real uids), and a full runtime tmpfs.
//!
//! Run one part with `cargo test -p pyusage-tests --test tracer exits::`.

/// The suite's one way to run a case on several interpreters:
///
/// ```ignore
/// per_python!(fork_case(true);
///     fork_child_imports_3_11 => Python::pyenv("3.11.7"),
///     fork_child_imports_debian_static => Python::debian(),
/// );
/// ```
///
/// makes one `#[test]` per `name => interpreter` line, which calls
/// `fork_case(&py, true)` with that interpreter, or skips (a failure under
/// CI) when it is not installed. The name ends with the interpreter
/// (`_3_11`, `_debian_static`), so each can be run alone.
macro_rules! per_python {
    ($case:ident $args:tt; $($name:ident => $py:expr),+ $(,)?) => {
        $(per_python!(@one $name, $py, $case $args);)+
    };
    (@one $name:ident, $py:expr, $case:ident($($arg:expr),* $(,)?)) => {
        #[test]
        fn $name() {
            let py = pyusage_tests::or_skip!($py, "{} is not installed", stringify!($py));
            $case(&py $(, $arg)*);
        }
    };
}

mod accuracy;
mod context;
mod exits;
mod interpreters;
mod packages;
mod safety;
mod schema;
mod spool;
