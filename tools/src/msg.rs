//! Messages to the person at the terminal, in one format for every command:
//!
//! ```text
//! pyusage: error: /etc/pyusage/config.toml: line 3: unknown key `spoool`
//! pyusage: warning: /var/lib/pyusage/map.bin: bad checksum; keeping raw paths
//! ```
//!
//! The subject (usually a path) comes first, then why. Errors print their
//! whole cause chain (`anyhow`'s `{:#}`, or [`Chain`] for a typed error),
//! outermost first.

use std::error::Error;
use std::fmt::{self, Display};

/// An error and its causes, `what: cause: cause`, as `anyhow`'s `{:#}`
/// prints them.
pub struct Chain<'a>(pub &'a dyn Error);

impl Display for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut cause = self.0.source();
        while let Some(c) = cause {
            write!(f, ": {c}")?;
            cause = c.source();
        }
        Ok(())
    }
}

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
