//! Skipping a test, honestly.
//!
//! A test that needs something this machine may lack (an interpreter, a
//! Debian package, root) calls [`skipped`] (through [`skip!`](crate::skip!) or
//! [`or_skip!`](crate::or_skip)) and returns. Outside CI that prints the
//! reason and the test passes, so a developer without root can still run the
//! suite. Under CI (`CI=true`) a skip fails the test, unless the test is on
//! [`ALLOWED_IN_CI`] with the reason it can never run there: CI installs
//! everything the tests need (`make test` as root), so a skip there means a
//! test that silently stopped testing.
//!
//! Every skip is also appended to `target/test-skips.log`, which
//! `tests/summary.sh` counts at the end of `make test`.

use std::io::Write;

/// Tests allowed to skip under CI, each with the reason it cannot run there.
/// Matched against the test's name as libtest gives it (`module::test`).
/// Keep this list short and every reason specific.
pub const ALLOWED_IN_CI: &[(&str, &str)] = &[
    // (empty: every test runs in CI)
];

/// The running test's name: libtest names each test's thread after it.
pub fn current_test() -> String {
    std::thread::current()
        .name()
        .unwrap_or("<unnamed test>")
        .to_string()
}

/// Whether this run is CI (`CI=true`, as CI services set it).
pub fn in_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Record that the current test skips (part of) its work, and why.
///
/// Panics under CI unless the test is allow-listed.
pub fn skipped(reason: &str) {
    let test = current_test();
    eprintln!("SKIP: {test}: {reason}");
    let log = crate::artifacts::repo_root().join("target/test-skips.log");
    if let Ok(mut f) = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
    {
        let _ = writeln!(f, "{test}\t{}", reason.replace(['\n', '\t'], " "));
    }
    if in_ci() && !ALLOWED_IN_CI.iter().any(|(name, _)| *name == test) {
        panic!(
            "{test} skipped under CI ({reason}); CI must run every test: install what it needs \
             in `make test` (tests/fixtures/), or add it to ALLOWED_IN_CI in tests/src/skip.rs \
             with the reason it can never run there"
        );
    }
}
