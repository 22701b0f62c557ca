//! `libpyusage.so`: the tracer that the module system preloads into every process.
//!
//! The library has one job in a non-Python process: notice, in a few
//! microseconds, that it is not CPython, and do nothing else. In a CPython
//! process it records which distributions the program used and ships that
//! record however the process ends. It is written without `std`: a `std`
//! cdylib costs every process on the machine far more at load time (see
//! `docs/design.md`), and the library must never allocate, lock, panic or
//! print where its host would notice (the two calls that do allocate or lock,
//! `PySys_AddAuditHook` and `dl_iterate_phdr`, and why they are safe where
//! they are made, are in `docs/design.md`).
//!
//! The parts, in the order a process meets them:
//!
//! - [`start`]: the ELF constructor. Probes the loaded objects' symbol hash
//!   tables for `Py_Initialize` ([`elf`], over `dl_iterate_phdr`; no `dlsym`,
//!   whose failure path allocates); if no object defines it, returns at once.
//!   Otherwise it reads the configuration ([`settings`]), decides whether this
//!   process is traced (opt-out, sampling, MPI rank), maps the package map,
//!   and registers the audit hook and exit handlers.
//! - [`hook`]: the PEP 578 audit hook. It sees the code object of every
//!   module the process runs and every extension module imported, and tells
//!   the tracker; it keeps no state of its own.
//! - [`tracker`]: owns the record and all its state: creates the crash-safe
//!   raw record on tmpfs lazily on the first import, resolves each file
//!   through the package map, appends what is new, with who imported it
//!   ([`importer`]) and when, and finishes and ships it.
//! - [`exits`]: `on_exit`, the `_exit` interposer and the `fork` handlers, so a
//!   record is finished on `exit`, `os._exit`, `exec`, and inherited correctly
//!   by fork children. Whatever is left behind by a killed process is shipped
//!   later by `pyusage sweep`.
//!
//! The library does not interpose `dlopen`: glibc takes the caller's RUNPATH
//! from the return address, so any interposer breaks `$ORIGIN` lookups of
//! libraries that load siblings by soname (CUDA, cuDNN, torch). Native
//! libraries are found with `dl_iterate_phdr` instead ([`native`]).
//!
//! # Layers
//!
//! A module uses only modules on the lines above its own (never one on its
//! own line or below), so no modules import each other in a circle.
//! `preload/tests/layers.rs` checks every `crate::` reference against this
//! list. Bottom to top:
//!
//! 1. `syscall`, `elf`: raw system calls; symbol lookup in the loaded objects.
//! 2. `sys`: safe helpers over them (C strings, paths, files, errno, time).
//!    These two layers know nothing of settings: callers pass what they need.
//! 3. `diag`, `seen`, `lastopen`, `stdlib`, `argv`, `cpython`: one small job
//!    each: the diagnostics switch, the seen-sets, the last file opened, where
//!    the standard library is, the command line, CPython's API.
//! 4. `settings`, `spool`, `syslog`, `native`, `globals`: the configuration
//!    and package map, the two sinks' writers, the walk over native
//!    libraries, the state the constructor sets up.
//! 5. `sinks`, `importer`: shipping to the configured sinks; who imported a
//!    module.
//! 6. `tracker`: the record, and all state about it.
//! 7. `hook`, `exits`: events (audit events, exit, fork) turned into tracker
//!    calls.
//! 8. `start`: the constructor, which sets everything up.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

mod argv;
mod cpython;
mod diag;
mod elf;
mod exits;
mod globals;
mod hook;
mod importer;
mod lastopen;
mod native;
mod seen;
mod settings;
mod sinks;
mod spool;
mod start;
mod stdlib;
mod sys;
mod syscall;
mod syslog;
mod tracker;

#[cfg(not(test))]
#[panic_handler]
fn panic(_: &core::panic::PanicInfo) -> ! {
    // Nothing in this crate panics on purpose; if a bug ever does, ending the
    // process quietly is not an option we like, but unwinding into C is worse.
    crate::syscall::abort()
}

/// The ELF constructor. glibc passes `argc`, `argv` and `envp` to functions
/// in `.init_array` of shared objects.
#[used]
#[link_section = ".init_array"]
static CONSTRUCTOR: extern "C" fn(
    libc::c_int,
    *const *const libc::c_char,
    *const *const libc::c_char,
) = start::constructor;
