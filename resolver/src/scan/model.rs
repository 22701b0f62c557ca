//! What the scanners find, before it becomes a map.

use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::Arc;

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
    /// The directory, open (`O_PATH`): metadata files are opened relative
    /// to it, so the kernel walks two components instead of the whole path.
    pub fd: Option<Arc<OwnedFd>>,
}

/// Files of one distribution below one site directory, as paths relative to
/// it: spans of the `RECORD` text they were read from (no copy per line).
/// Only plain relative paths (no empty, `.` or `..` component) are kept
/// here, so `site/rel` is already normalised.
#[derive(Debug, Clone, Default)]
pub(crate) struct SiteFiles {
    /// Index of the site directory in the plan.
    pub site: usize,
    /// The text the spans point into.
    pub data: Vec<u8>,
    /// (start, end) of each path in `data`.
    pub spans: Vec<(u32, u32)>,
    /// The spans in runs of one first component (see [`SiteFiles::set_runs`]).
    pub runs: Vec<Run>,
}

/// Consecutive paths of a [`SiteFiles`] with the same first component, all
/// below it (`numpy/...`) or all that component itself (`six.py`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Run {
    /// The spans `first..end`.
    pub first: u32,
    pub end: u32,
    /// Length of the first component.
    pub comp_len: u32,
    /// Whether the paths lie below the component.
    pub below: bool,
}

impl SiteFiles {
    /// Groups the spans into [`Run`]s (done while scanning, in parallel, so
    /// that the map's partition looks at a few runs per distribution
    /// instead of every path).
    pub fn set_runs(&mut self) {
        let mut runs: Vec<Run> = Vec::new();
        let mut prev: &[u8] = b"";
        for (k, &(s, e)) in self.spans.iter().enumerate() {
            let p = &self.data[s as usize..e as usize];
            let (comp, rest) = super::paths::split_after(p, prev);
            let below = rest.is_some_and(|r| !r.is_empty());
            match runs.last_mut() {
                // `split_after` hands back `prev` itself when it is the same component.
                Some(r) if std::ptr::eq(comp, prev) && r.below == below => {
                    r.end = k as u32 + 1;
                }
                _ => runs.push(Run {
                    first: k as u32,
                    end: k as u32 + 1,
                    comp_len: comp.len() as u32,
                    below,
                }),
            }
            prev = comp;
        }
        self.runs = runs;
    }

    /// The first component of run `r`.
    pub fn comp(&self, r: &Run) -> &[u8] {
        let s = self.spans[r.first as usize].0 as usize;
        &self.data[s..s + r.comp_len as usize]
    }

    /// The paths of run `r`.
    pub fn run_paths(&self, r: &Run) -> impl Iterator<Item = &[u8]> {
        self.spans[r.first as usize..r.end as usize]
            .iter()
            .map(move |&(s, e)| &self.data[s as usize..e as usize])
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        self.spans
            .iter()
            .map(move |&(s, e)| &self.data[s as usize..e as usize])
    }
}

/// Absolute, normalised paths packed in one buffer (one allocation for
/// hundreds of thousands of RECORD lines instead of one each).
#[derive(Debug, Clone, Default)]
pub(crate) struct PathList {
    buf: Vec<u8>,
    ends: Vec<usize>,
}

impl PathList {
    pub fn push(&mut self, p: &[u8]) {
        self.buf.extend_from_slice(p);
        self.ends.push(self.buf.len());
    }

    /// Pushes `base/rel`, normalised (`rel` may be absolute or hold `..`).
    pub fn push_join(&mut self, base: &[u8], rel: &[u8]) {
        if super::paths::is_plain_relative(rel) {
            self.buf.extend_from_slice(base);
            if base != b"/" {
                self.buf.push(b'/');
            }
            self.buf.extend_from_slice(rel);
            self.ends.push(self.buf.len());
        } else {
            self.push(&super::paths::join(base, rel));
        }
    }

    pub fn extend(&mut self, other: &PathList) {
        for p in other.iter() {
            self.push(p);
        }
    }

    pub fn clear(&mut self) {
        self.buf.clear();
        self.ends.clear();
    }

    pub fn iter(&self) -> impl Iterator<Item = &[u8]> {
        let mut start = 0;
        self.ends.iter().map(move |&e| {
            let s = &self.buf[start..e];
            start = e;
            s
        })
    }
}

/// One distribution found by a scanner.
#[derive(Debug, Clone, Default)]
pub(crate) struct Found {
    pub fields: DistFields,
    /// Absolute, normalised paths of its files.
    pub files: PathList,
    /// More of its files, relative to a site directory.
    pub site_files: Vec<SiteFiles>,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_of_site_files() {
        let data = b"a/x,\na/y/z,\na,\nb.py,\na/w,\nab/c,\n".to_vec();
        let mut spans = Vec::new();
        let mut at = 0u32;
        for line in data.split(|&b| b == b'\n').filter(|l| !l.is_empty()) {
            spans.push((at, at + line.len() as u32 - 1));
            at += line.len() as u32 + 1;
        }
        let mut sf = SiteFiles {
            site: 0,
            data,
            spans,
            runs: Vec::new(),
        };
        sf.set_runs();
        let got: Vec<(&[u8], bool, usize)> = sf
            .runs
            .iter()
            .map(|r| (sf.comp(r), r.below, sf.run_paths(r).count()))
            .collect();
        let want: Vec<(&[u8], bool, usize)> = vec![
            (b"a", true, 2),
            (b"a", false, 1),
            (b"b.py", false, 1),
            (b"a", true, 1),
            (b"ab", true, 1),
        ];
        assert_eq!(got, want);
    }
}
