//! Shared harness for pyusage's integration tests.
//!
//! The tests run real programs twice, once plain and once under the tracer
//! (`LD_PRELOAD=target/release/libpyusage.so`), compare what a user would see
//! (stdout, stderr, exit status or signal) byte for byte, then read the JSON
//! records the tracer shipped to its spool and check them field by field.
//!
//! Parts:
//! - [`artifacts`]: where the release build put `libpyusage.so` and `pyusage`
//!   (the tests fail with a clear message when they are missing).
//! - [`Tracer`]: a fresh temp dir per test with its own spool, runtime dir and
//!   config file, so nothing from `/etc` is read and tests never share state.
//! - [`Prog`] / [`Outcome`]: a program with its arguments and a clean
//!   environment, run plain or traced, with a guard against hangs.
//! - [`Record`]: a shipped record, validated against `docs/record.schema.json`
//!   on load, with accessors and the common field checks ([`Expect`]).
//! - [`python`]: the interpreters on this machine and what each reports about
//!   itself (version, prefix), probed once.
//! - [`chromium`]: headless Chromium through the DevTools protocol, for the
//!   HTML report (errors, requests that left the file, charts drawn).
//! - [`cli`]: the `pyusage` command run in a private [`cli::Site`] (spool,
//!   runtime dir, config), and raw records made with the tracer's own writer.
//! - [`fixtures`]: the shared virtualenv, a package map built from it, the
//!   `$ORIGIN` RUNPATH libraries, Python module trees in temp dirs.
//! - [`postgres`]: a private PostgreSQL server for the store tests.
//! - [`skip`](mod@skip): skipping a test, honestly ([`skip!`](crate::skip!), [`or_skip!`]): under
//!   `CI=true` a skip fails unless the test is allow-listed.
#![deny(missing_docs)]

pub mod chromium;
pub mod cli;
pub mod fixtures;
pub mod postgres;
pub mod python;
mod record;
mod run;
pub mod skip;
mod time;
mod tracer;

pub use record::{passwd_name, validate, Expect, Record};
pub use run::{Outcome, Prog, Running, TEST_USER};
pub use time::{format_unix, rfc3339_now};
pub use tracer::{dump, Tracer};

use std::path::PathBuf;

/// Skip the rest of the test, saying why (see [`skip`](mod@skip): a skip
/// fails under `CI=true` unless the test is allow-listed).
#[macro_export]
macro_rules! skip {
    ($($arg:tt)*) => {{
        $crate::skip::skipped(&format!($($arg)*));
        return Default::default();
    }};
}

/// Unwrap an `Option`, or skip the test with the given message.
#[macro_export]
macro_rules! or_skip {
    ($e:expr, $($arg:tt)*) => {
        match $e {
            Some(v) => v,
            None => $crate::skip!($($arg)*),
        }
    };
}

/// Paths of the build outputs the tests exercise.
pub mod artifacts {
    use super::*;

    /// The workspace root (the parent of this crate).
    pub fn repo_root() -> PathBuf {
        let here = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        here.parent().expect("tests/ has a parent").to_path_buf()
    }

    fn release(name: &str) -> PathBuf {
        let p = repo_root().join("target/release").join(name);
        assert!(
            p.is_file(),
            "{} is missing: run `cargo build --release` first (the Makefile does this before `cargo test`)",
            p.display()
        );
        p
    }

    /// `target/release/libpyusage.so`, the preloaded library.
    pub fn libpyusage() -> PathBuf {
        release("libpyusage.so")
    }

    /// `target/release/pyusage`, the command-line tool.
    pub fn pyusage() -> PathBuf {
        release("pyusage")
    }

    /// `docs/record.schema.json`.
    pub fn schema() -> PathBuf {
        repo_root().join("docs/record.schema.json")
    }
}

/// Whether the tests run as root (some need root-only installs).
pub fn is_root() -> bool {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// `uname -n` of this machine.
pub fn hostname() -> String {
    // SAFETY: uname fills the zeroed struct; the field is NUL-terminated.
    unsafe {
        let mut u: libc::utsname = std::mem::zeroed();
        assert_eq!(libc::uname(&mut u), 0, "uname failed");
        std::ffi::CStr::from_ptr(u.nodename.as_ptr())
            .to_string_lossy()
            .into_owned()
    }
}

/// Real uid of the test process (and of every process it starts).
pub fn uid() -> u32 {
    // SAFETY: getuid has no preconditions.
    unsafe { libc::getuid() }
}
