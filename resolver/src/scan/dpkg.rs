//! Debian's `dist-packages`: metadata directories there often lack a
//! `RECORD`, so the files come from dpkg's `/var/lib/dpkg/info/*.list`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use rayon::prelude::*;

use super::paths;
use super::text;

/// Which dpkg package installed each `*.dist-info` / `*.egg-info` path,
/// built on first use from every `*.list` file.
#[derive(Debug)]
pub(crate) struct DpkgIndex {
    dir: PathBuf,
    index: OnceLock<HashMap<Vec<u8>, (String, PathBuf)>>,
}

impl DpkgIndex {
    pub fn new(dir: PathBuf) -> Self {
        DpkgIndex {
            dir,
            index: OnceLock::new(),
        }
    }

    fn index(&self) -> &HashMap<Vec<u8>, (String, PathBuf)> {
        self.index.get_or_init(|| {
            let Ok(rd) = std::fs::read_dir(&self.dir) else {
                return HashMap::new();
            };
            let lists: Vec<PathBuf> = rd
                .filter_map(|e| e.ok())
                .map(|e| e.path())
                .filter(|p| p.extension().is_some_and(|x| x == "list"))
                .collect();
            lists
                .par_iter()
                .flat_map_iter(|list| {
                    let data = std::fs::read(list).unwrap_or_default();
                    let pkg = package_name(list);
                    let mut hits = Vec::new();
                    for l in text::lines(&data) {
                        if l.ends_with(b".egg-info") || l.ends_with(b".dist-info") {
                            hits.push((paths::normalize(l), (pkg.clone(), list.clone())));
                        }
                    }
                    hits
                })
                .collect()
        })
    }

    /// The package owning the metadata directory/file `meta` and the plain
    /// files it lists (directories left out), or `None`.
    pub fn files_of(&self, meta: &[u8]) -> Option<(String, Vec<Vec<u8>>)> {
        let (pkg, list) = self.index().get(meta)?;
        let data = std::fs::read(list).ok()?;
        let mut lines: Vec<Vec<u8>> = text::lines(&data).map(paths::normalize).collect();
        lines.sort_unstable();
        lines.dedup();
        // A line is a directory when another line lies below it.
        let mut parents: std::collections::HashSet<&[u8]> = std::collections::HashSet::new();
        for l in &lines {
            let mut d = paths::parent(l);
            while let Some(p) = d.filter(|p| !p.is_empty()) {
                if !parents.insert(p) {
                    break;
                }
                d = paths::parent(p);
            }
        }
        let files = lines
            .iter()
            .filter(|l| l.as_slice() != b"/" && !parents.contains(&l[..]))
            .cloned()
            .collect();
        Some((pkg.clone(), files))
    }
}

/// `python3-numpy:amd64.list` -> `python3-numpy`.
fn package_name(list: &Path) -> String {
    let stem = list
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default();
    match stem.split_once(':') {
        Some((p, _)) => p.to_string(),
        None => stem,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lists() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(
            d.path().join("python3-demo:amd64.list"),
            "/.\n/usr\n/usr/lib\n/usr/lib/python3/dist-packages\n/usr/lib/python3/dist-packages/demo\n\
             /usr/lib/python3/dist-packages/demo/__init__.py\n/usr/lib/python3/dist-packages/demo-1.0.egg-info\n\
             /usr/lib/python3/dist-packages/demo-1.0.egg-info/PKG-INFO\n/usr/bin/demo\n",
        )
        .unwrap();
        let idx = DpkgIndex::new(d.path().to_path_buf());
        let (pkg, files) = idx
            .files_of(b"/usr/lib/python3/dist-packages/demo-1.0.egg-info")
            .unwrap();
        assert_eq!(pkg, "python3-demo");
        let files: Vec<String> = files.iter().map(|f| paths::show(f)).collect();
        assert_eq!(
            files,
            [
                "/usr/bin/demo",
                "/usr/lib/python3/dist-packages/demo-1.0.egg-info/PKG-INFO",
                "/usr/lib/python3/dist-packages/demo/__init__.py"
            ]
        );
        assert!(idx.files_of(b"/nope.egg-info").is_none());
    }
}
