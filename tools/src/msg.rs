//! Messages to the person at the terminal, in one format for every command:
//!
//! ```text
//! pyusage: error: /etc/pyusage/config.toml: line 3: unknown key `spoool`
//! pyusage: warning: /var/lib/pyusage/map.bin: bad checksum; keeping raw paths
//! ```
//!
//! The subject (usually a path) comes first, then why. Errors print their
//! whole cause chain (`anyhow`'s `{:#}`), outermost first.

use std::fmt::Display;

/// `pyusage: warning: <what>`.
pub fn warning(what: impl Display) {
    eprintln!("pyusage: warning: {what}");
}

/// `pyusage: error: <what>`, with the cause chain of an `anyhow::Error`.
pub fn error(what: &anyhow::Error) {
    eprintln!("pyusage: error: {what:#}");
}

/// `pyusage: warning: <subject>: <why>`.
pub fn warning_at(subject: impl Display, why: impl Display) {
    eprintln!("pyusage: warning: {subject}: {why}");
}

/// `pyusage: error: <subject>: <why>`, for a failure that does not stop the
/// command (one bad file among many).
pub fn error_at(subject: impl Display, why: impl Display) {
    eprintln!("pyusage: error: {subject}: {why}");
}
