//! The scanner: finds installations, reads their metadata in parallel and
//! builds the package map from it.
//!
//! [`build`] runs in four steps:
//! 1. *plan* (module `walk`): turn roots and interpreters into site
//!    directories, conda environments, standard-library directories and path
//!    aliases (canonical forms, a venv's `lib64`);
//! 2. *scan* (in parallel, `rayon`): one job per `conda-meta` record, then
//!    one per `*.dist-info`, `*.egg-info` and egg. Only metadata files are read;
//! 3. *collapse* (module `collapse`): claimed files become directory and
//!    file keys;
//! 4. *write* ([`MapWriter`]), under every alias of each key.

mod collapse;
mod conda;
mod dist_info;
mod dpkg;
mod egg_info;
mod fsio;
mod interp;
mod model;
mod paths;
mod pth;
mod text;
mod toplevel;
mod walk;

use std::collections::{HashMap, HashSet};
use std::io::Write;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use crate::{MapWriter, WriteError, MAX_MAP_BYTES};

pub use collapse::Conflict;
pub use interp::{query as query_interpreter, InterpreterInfo};
pub use model::Warning;

/// A directory (or interpreter) with an optional label, from `DIR[=LABEL]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSpec {
    /// The directory (or the interpreter executable).
    pub path: PathBuf,
    /// The environment name recorded for what it provides.
    pub label: Option<String>,
}

impl RootSpec {
    /// Parses `DIR` or `DIR=LABEL` (the label is what follows the last `=`,
    /// when it holds no `/`).
    pub fn parse(s: &str) -> RootSpec {
        match s.rsplit_once('=') {
            Some((dir, label)) if !dir.is_empty() && !label.contains('/') => RootSpec {
                path: PathBuf::from(dir),
                label: (!label.is_empty()).then(|| label.to_string()),
            },
            _ => RootSpec {
                path: PathBuf::from(s),
                label: None,
            },
        }
    }
}

/// What to scan.
#[derive(Debug, Clone)]
pub struct BuildOptions {
    /// Directories: site directories, environment prefixes, conda envs.
    pub roots: Vec<RootSpec>,
    /// Interpreters to ask for their site directories and standard library.
    pub pythons: Vec<RootSpec>,
    /// Where dpkg keeps its `*.list` files.
    pub dpkg_info_dir: PathBuf,
    /// Build time to record (default: now).
    pub built_at: Option<u64>,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            roots: Vec::new(),
            pythons: Vec::new(),
            dpkg_info_dir: PathBuf::from("/var/lib/dpkg/info"),
            built_at: None,
        }
    }
}

/// Progress of the scan (the tools show a bar on a terminal).
pub trait Progress: Sync {
    /// The number of metadata items to read is known.
    fn set_total(&self, _total: u64) {}
    /// `n` more items have been read.
    fn inc(&self, _n: u64) {}
}

impl Progress for () {}

/// A root as planned.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RootSummary {
    /// The directory or interpreter as given.
    pub path: String,
    /// Its label (or the environment it belongs to).
    pub env: String,
    /// What it turned out to be.
    pub kind: String,
}

/// The result of a build.
#[derive(Debug)]
pub struct BuildReport {
    /// The serialised map.
    pub map: Vec<u8>,
    /// Distributions found.
    pub dists: usize,
    /// Distinct files claimed.
    pub files: usize,
    /// Keys written (including aliases).
    pub keys: usize,
    /// The roots and interpreters.
    pub roots: Vec<RootSummary>,
    /// Site directories scanned.
    pub sites: Vec<String>,
    /// Standard-library directories.
    pub stdlib: Vec<String>,
    /// Paths claimed by two distributions (the first 200).
    pub conflicts: Vec<Conflict>,
    /// How many such paths there were.
    pub conflict_count: usize,
    /// Problems with inputs; the build went on.
    pub warnings: Vec<Warning>,
}

/// Why a build failed as a whole.
#[derive(Debug)]
pub enum BuildError {
    /// Nothing to scan.
    NoRoots,
    /// The map could not be serialised (too large).
    Write(WriteError),
}

impl std::fmt::Display for BuildError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            BuildError::NoRoots => f.write_str("no roots and no interpreters to scan"),
            BuildError::Write(e) => e.fmt(f),
        }
    }
}

impl std::error::Error for BuildError {}

enum Job {
    DistInfo(Vec<u8>, usize),
    EggInfo(Vec<u8>, usize),
    Egg(Vec<u8>, usize),
}

/// Scans the roots and interpreters of `opts` and builds the map.
pub fn build(opts: &BuildOptions, progress: &dyn Progress) -> Result<BuildReport, BuildError> {
    if opts.roots.is_empty() && opts.pythons.is_empty() {
        return Err(BuildError::NoRoots);
    }
    let mut plan = walk::plan(opts);
    let dpkg = dpkg::DpkgIndex::new(opts.dpkg_info_dir.clone());

    // conda records first: they say which dist-info directories they cover.
    let conda_jobs: Vec<(Vec<u8>, usize)> = plan
        .conda
        .iter()
        .enumerate()
        .flat_map(|(i, (prefix, _))| conda::records(prefix).into_iter().map(move |j| (j, i)))
        .collect();
    let mut jobs = Vec::new();
    for (i, site) in plan.sites.iter().enumerate() {
        for name in &site.listing {
            let abs = paths::join(&site.dir, name);
            if name.ends_with(b".dist-info") {
                jobs.push(Job::DistInfo(abs, i));
            } else if name.ends_with(b".egg-info") {
                jobs.push(Job::EggInfo(abs, i));
            } else if name.ends_with(b".egg") {
                jobs.push(Job::Egg(abs, i));
            }
        }
    }
    progress.set_total((conda_jobs.len() + jobs.len()) as u64);
    let conda_out: Vec<(model::Scanned, HashSet<Vec<u8>>)> = conda_jobs
        .par_iter()
        .map(|(json, i)| {
            let (prefix, env) = &plan.conda[*i];
            let mut covered = HashSet::new();
            let s = conda::scan(json, prefix, env, &mut covered);
            progress.inc(1);
            (s, covered)
        })
        .collect();
    let mut covered = HashSet::new();
    let mut scanned = Vec::with_capacity(conda_out.len() + jobs.len());
    for (s, c) in conda_out {
        covered.extend(c);
        scanned.push(s);
    }
    let site_out: Vec<model::Scanned> = jobs
        .par_iter()
        .map(|job| {
            let s = match job {
                Job::DistInfo(p, _) if covered.contains(p) => model::Scanned::default(),
                Job::DistInfo(p, i) => dist_info::scan(p, *i, &plan.sites[*i], &dpkg),
                Job::EggInfo(p, i) => egg_info::scan_egg_info(p, &plan.sites[*i], &dpkg),
                Job::Egg(p, i) => egg_info::scan_egg(p, &plan.sites[*i]),
            };
            progress.inc(1);
            s
        })
        .collect();
    scanned.extend(site_out);

    // Merge: one distribution per (env, normalised name, version); an
    // editable install's dist-info and the egg-info left in its source tree
    // are one distribution, and the installer that says more wins.
    let mut by_fields: HashMap<(Vec<u8>, String, Vec<u8>), model::Found, crate::writer::FastBuild> =
        HashMap::default();
    for s in scanned {
        plan.warnings.extend(s.warnings);
        if let Some(f) = s.found {
            let key = (
                f.fields.env.clone(),
                crate::diff::normalize_name(&String::from_utf8_lossy(&f.fields.name)),
                f.fields.version.clone(),
            );
            match by_fields.get_mut(&key) {
                Some(existing) => {
                    let weak = |i: &[u8]| i == b"setuptools" || i == b"unknown";
                    if weak(&existing.fields.installer) && !weak(&f.fields.installer) {
                        existing.fields = f.fields;
                    }
                    existing.files.extend(&f.files);
                    existing.site_files.extend(f.site_files);
                    existing.dirs.extend(f.dirs);
                }
                None => {
                    by_fields.insert(key, f);
                }
            }
        }
    }
    let mut founds: Vec<model::Found> = by_fields.into_values().collect();
    founds.sort_by(|a, b| a.fields.cmp(&b.fields));

    let site_dirs: Vec<Vec<u8>> = plan.sites.iter().map(|s| s.dir.clone()).collect();
    let keys = collapse::compute(&founds, &site_dirs, &plan.stdlib, &plan.barriers);

    let mut w = MapWriter::new();
    for f in &founds {
        w.add_dist(&f.fields);
    }
    for (path, label) in &plan.map_roots {
        w.add_root(path, label);
    }
    w.set_built_at(opts.built_at.unwrap_or_else(|| {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs())
    }));
    for (k, t) in &keys.keys {
        w.insert(k, *t).map_err(BuildError::Write)?;
    }
    for (k, t) in &keys.keys {
        for alias in walk::aliases_of(k, &plan.aliases) {
            w.insert(&alias, *t).map_err(BuildError::Write)?;
        }
    }
    let n_keys = w.entry_count();
    let map = w.finish().map_err(BuildError::Write)?;
    Ok(BuildReport {
        map,
        dists: founds.len(),
        files: keys.files,
        keys: n_keys,
        roots: plan.summaries,
        sites: plan.sites.iter().map(|s| paths::show(&s.dir)).collect(),
        stdlib: plan.stdlib.iter().map(|s| paths::show(s)).collect(),
        conflicts: keys.conflicts,
        conflict_count: keys.conflict_count,
        warnings: plan.warnings,
    })
}

/// Writes `bytes` to a temporary file beside `path` (mode 0444), syncs it and
/// renames it over `path`, so that readers see the old map or the new one,
/// never a mix.
/// Refuses maps larger than [`MAX_MAP_BYTES`].
pub fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    if bytes.len() as u64 > MAX_MAP_BYTES {
        return Err(std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            format!(
                "refusing to write a {}-byte map (limit {MAX_MAP_BYTES})",
                bytes.len()
            ),
        ));
    }
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d.to_path_buf(),
        _ => PathBuf::from("."),
    };
    let name = path
        .file_name()
        .map_or_else(|| std::ffi::OsString::from("map"), |n| n.to_os_string());
    let mut tmp_name = std::ffi::OsString::from(".");
    tmp_name.push(&name);
    tmp_name.push(format!(".tmp.{}", std::process::id()));
    let tmp = dir.join(tmp_name);
    let result = (|| {
        let mut f = std::fs::File::create(&tmp)?;
        f.write_all(bytes)?;
        // Read-only: a map is never changed once written, only replaced.
        use std::os::unix::fs::PermissionsExt;
        f.set_permissions(std::fs::Permissions::from_mode(0o444))?;
        f.sync_all()?;
        drop(f);
        std::fs::rename(&tmp, path)?;
        if let Ok(d) = std::fs::File::open(&dir) {
            let _ = d.sync_all();
        }
        Ok(())
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_specs() {
        assert_eq!(
            RootSpec::parse("/opt/env=desi"),
            RootSpec {
                path: "/opt/env".into(),
                label: Some("desi".into())
            }
        );
        assert_eq!(RootSpec::parse("/opt/a=b/c").label, None);
        assert_eq!(RootSpec::parse("/opt/env").label, None);
        assert_eq!(RootSpec::parse("/opt/env=").label, None);
    }
}
