//! What the scanners find, before it becomes a map.

use std::path::PathBuf;

use crate::DistFields;

/// A problem with one input file; the build carries on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Warning {
    /// The file or directory concerned.
    pub path: PathBuf,
    /// What is wrong with it.
    pub message: String,
}

impl std::fmt::Display for Warning {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.message)
    }
}

/// A site directory (`site-packages`, `dist-packages`, a `.pth` target)
/// together with the environment it belongs to.
#[derive(Debug, Clone)]
pub(crate) struct Site {
    /// Normalised absolute path, as found.
    pub dir: Vec<u8>,
    /// The environment recorded for its distributions.
    pub env: Vec<u8>,
    /// Names of its entries (for `top_level.txt` fallbacks).
    pub listing: Vec<Vec<u8>>,
}

/// One distribution found by a scanner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    pub fields: DistFields,
    /// Absolute, normalised paths of its files.
    pub files: Vec<Vec<u8>>,
    /// Whole directories it owns (eggs, editable source trees, top-level
    /// packages of distributions without a file list).
    pub dirs: Vec<Vec<u8>>,
}

/// Output of one scanner job.
#[derive(Debug, Default)]
pub(crate) struct Scanned {
    pub found: Option<Found>,
    pub warnings: Vec<Warning>,
}

impl Scanned {
    pub fn warn(&mut self, path: impl Into<PathBuf>, message: impl Into<String>) {
        self.warnings.push(Warning {
            path: path.into(),
            message: message.into(),
        });
    }
}
