//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Command;

use pyusage_resolver::scan::{self, BuildOptions, BuildReport, RootSpec};
use pyusage_resolver::{Lookup, PackageMap};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// The shared test venv (built by `tests/fixtures/venv.sh`), or `None` with
/// a message when it cannot be built (no network).
pub fn venv() -> Option<PathBuf> {
    let ws = workspace();
    let dest = ws.join("build/venv");
    let status = Command::new("bash")
        .arg(ws.join("tests/fixtures/venv.sh"))
        .arg(&dest)
        .status();
    match status {
        Ok(s) if s.success() && dest.join(".pyusage-fixture-v1").exists() => Some(dest),
        other => {
            pyusage_tests::skip!(
                "cannot build the test venv with tests/fixtures/venv.sh ({other:?}); no network?"
            )
        }
    }
}

pub fn build_with(roots: &[(&Path, Option<&str>)], pythons: &[&Path]) -> BuildReport {
    let opts = BuildOptions {
        roots: roots
            .iter()
            .map(|(p, l)| RootSpec {
                path: p.to_path_buf(),
                label: l.map(str::to_string),
            })
            .collect(),
        pythons: pythons
            .iter()
            .map(|p| RootSpec {
                path: p.to_path_buf(),
                label: None,
            })
            .collect(),
        ..BuildOptions::default()
    };
    scan::build(&opts, &()).expect("build")
}

/// (name, version, env) of a lookup, or "stdlib" / "unmapped".
pub fn resolve(map: &PackageMap<'_>, path: impl AsRef<[u8]>) -> String {
    match map.lookup(path.as_ref()) {
        Lookup::Stdlib => "stdlib".into(),
        Lookup::Unmapped => "unmapped".into(),
        Lookup::Dist(d) => format!(
            "{} {} {}",
            String::from_utf8_lossy(d.name),
            String::from_utf8_lossy(d.version),
            String::from_utf8_lossy(d.env)
        ),
    }
}

pub fn write(path: &Path, text: &str) {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, text).unwrap();
}
