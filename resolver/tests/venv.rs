//! Maps of a real virtualenv (packages from the index, an editable install),
//! checked file by file against `importlib.metadata`.

mod common;

use std::process::Command;

use common::*;
use pyusage_resolver::{Lookup, PackageMap};

const LIST_SCRIPT: &str = r#"
import json, sys, importlib.metadata as md
out = []
for d in md.distributions():
    files = [str(f.locate()) for f in (d.files or [])]
    out.append({"name": d.metadata["Name"], "version": d.version, "files": files})
print(json.dumps(out))
"#;

#[test]
fn venv_matches_importlib_metadata() {
    let Some(venv) = venv() else { return };
    let python = venv.join("bin/python");
    let report = build_with(&[], &[&python]);
    assert!(
        report.warnings.is_empty(),
        "warnings: {:?}",
        report.warnings
    );
    let map = PackageMap::parse(&report.map).unwrap();
    map.verify_checksum().unwrap();
    let env = venv.to_str().unwrap();

    // Every file importlib.metadata knows resolves to its distribution.
    let out = Command::new(&python)
        .arg("-c")
        .arg(LIST_SCRIPT)
        .output()
        .unwrap();
    assert!(out.status.success());
    let dists: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let dists = dists.as_array().unwrap();
    assert!(dists.len() >= 10, "{} dists", dists.len());
    // importlib lists the editable install twice (its dist-info, and the
    // egg-info in its source tree on sys.path); the map has it once.
    let mut distinct: Vec<String> = dists
        .iter()
        .map(|d| {
            let n = d["name"].as_str().unwrap().to_lowercase().replace('_', "-");
            format!("{n} {}", d["version"].as_str().unwrap())
        })
        .collect();
    distinct.sort();
    distinct.dedup();
    assert_eq!(map.dist_count() as usize, distinct.len());
    let mut checked = 0;
    for d in dists {
        let want = format!(
            "{} {} {env}",
            d["name"].as_str().unwrap(),
            d["version"].as_str().unwrap()
        );
        for f in d["files"].as_array().unwrap() {
            let f = std::path::Path::new(f.as_str().unwrap());
            // importlib guesses egg-info files from SOURCES.txt, some wrongly.
            if !f.exists() {
                continue;
            }
            // importlib leaves `..` in paths outside site-packages.
            let f = std::fs::canonicalize(f).unwrap_or_else(|_| f.to_path_buf());
            let f = f
                .to_str()
                .unwrap()
                .replace(std::fs::canonicalize(&venv).unwrap().to_str().unwrap(), env);
            assert_eq!(resolve(&map, &f), want, "{f}");
            checked += 1;
        }
    }
    assert!(checked > 5000, "only {checked} files checked");

    let sp = venv.join("lib/python3.11/site-packages");
    let sp = sp.to_str().unwrap();
    // Import names that differ from distribution names.
    for (path, name) in [
        ("sklearn/__init__.py", "scikit-learn"),
        ("yaml/__init__.py", "PyYAML"),
        ("PIL/Image.py", "pillow"),
        ("numpy.libs/whatever.so", "numpy"),
        ("six.py", "six"),
        (
            "numpy/core/__pycache__/not_in_record.cpython-311.pyc",
            "numpy",
        ),
    ] {
        let got = resolve(&map, format!("{sp}/{path}"));
        assert!(
            got.to_lowercase()
                .starts_with(&format!("{} ", name.to_lowercase())),
            "{path}: {got}"
        );
    }
    // The distribution name is as written in METADATA.
    assert!(resolve(&map, format!("{sp}/sklearn/base.py")).starts_with("scikit-learn "));
    assert!(resolve(&map, format!("{sp}/yaml/__init__.py")).starts_with("PyYAML "));
    // Through the lib64 symlink.
    assert!(resolve(
        &map,
        format!(
            "{}/lib64/python3.11/site-packages/numpy/__init__.py",
            venv.display()
        )
    )
    .starts_with("numpy "));
    // Hand-written modules belong to nothing.
    assert_eq!(
        resolve(&map, format!("{sp}/mymod_written_by_hand.py")),
        "unmapped"
    );
    assert_eq!(resolve(&map, "/nowhere/at/all.py"), "unmapped");
    // The editable install maps its source tree.
    let src = workspace().join("tests/fixtures/editable/src/pyusage_editable_demo/__init__.py");
    assert_eq!(
        resolve(&map, src.to_str().unwrap()),
        format!("pyusage-editable-demo 0.3.1 {env}")
    );

    // The interpreter's standard library and lib-dynload.
    let info = pyusage_resolver::scan::query_interpreter(&python).unwrap();
    let stdlib = &info.stdlib[0];
    assert_eq!(resolve(&map, format!("{stdlib}/os.py")), "stdlib");
    assert_eq!(resolve(&map, format!("{stdlib}/json/decoder.py")), "stdlib");
    let dynload = &info.dynload[0];
    assert_eq!(
        resolve(
            &map,
            format!("{dynload}/_json.cpython-311-x86_64-linux-gnu.so")
        ),
        "stdlib"
    );
    // ... but not the base interpreter's own site-packages.
    assert_eq!(
        resolve(&map, format!("{stdlib}/site-packages/foo/__init__.py")),
        "unmapped"
    );

    // The distribution table.
    let numpy = (0..map.dist_count())
        .filter_map(|i| map.dist(i))
        .find(|d| d.name == b"numpy")
        .unwrap();
    assert_eq!(numpy.installer, b"pip");
    assert!(
        matches!(map.lookup(format!("{sp}/numpy/__init__.py").as_bytes()), Lookup::Dist(d) if d == numpy)
    );
}

#[test]
fn venv_as_root_with_label() {
    let Some(venv) = venv() else { return };
    let report = build_with(&[(&venv, Some("demo-env"))], &[]);
    let map = PackageMap::parse(&report.map).unwrap();
    let sp = venv.join("lib/python3.11/site-packages");
    let got = resolve(&map, sp.join("yaml/__init__.py").to_str().unwrap());
    assert!(
        got.starts_with("PyYAML ") && got.ends_with(" demo-env"),
        "{got}"
    );
    assert_eq!(map.root_count(), 1);
    assert_eq!(map.root(0).unwrap().label, b"demo-env");
}
