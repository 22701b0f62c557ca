//! With a package map of the shared virtualenv (`tests/fixtures/venv.sh`,
//! `pyusage map build`), imports resolve to distributions with their
//! metadata name and version, and the standard library never shows up.
//!
//! Skipped (with a message) when the virtualenv cannot be built; failing
//! when the map cannot be built from it.

use pyusage_tests::fixtures::{venv_map, venv_python};
use pyusage_tests::python::Python;
use pyusage_tests::{or_skip, rfc3339_now, Record, Tracer};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;

/// The venv's interpreter and a tracer with its map, or `None` (skip).
pub(crate) fn setup() -> Option<(Python, Tracer)> {
    let py = match venv_python() {
        Ok(p) => p,
        Err(e) => pyusage_tests::skip!("the test virtualenv is unavailable: {e}"),
    };
    let map = venv_map().expect("venv exists, so the map is built");
    let py = Python::at(&py)?;
    Some((py, Tracer::new().with_map(&map)))
}

/// Distribution (metadata name -> version) of each import distribution
/// name, as the venv's own importlib.metadata reports them.
pub(crate) fn metadata(py: &Python, dists: &[&str]) -> BTreeMap<String, String> {
    let code = format!(
        "import importlib.metadata as m\n\
         for d in {dists:?}:\n    md = m.metadata(d)\n    print(md['Name'] + '\\t' + md['Version'])\n"
    );
    let out = py.prog().arg("-c").arg(code).run_plain();
    out.assert_success();
    out.stdout_str()
        .lines()
        .map(|l| {
            let (n, v) = l.split_once('\t').unwrap();
            (n.to_owned(), v.to_owned())
        })
        .collect()
}

/// Metadata names of every distribution installed in the venv.
pub(crate) fn installed(py: &Python) -> BTreeSet<String> {
    let out = py
        .prog()
        .args([
            "-c",
            "import importlib.metadata as m\nfor d in m.distributions(): print(d.metadata['Name'])",
        ])
        .run_plain();
    out.assert_success();
    out.stdout_str().lines().map(str::to_owned).collect()
}

/// Distributions whose modules `.pth` files load at start-up before any user
/// code (setuptools' `distutils-precedence.pth` imports `_distutils_hack`):
/// start-up machinery, which a record must not list (docs/record.md).
fn startup_dists(py: &Python) -> BTreeSet<String> {
    let code = "import sys, os\n\
        loaded = {os.path.realpath(m.__file__) for m in list(sys.modules.values())\n\
                  if getattr(m, '__file__', None)}\n\
        import importlib.metadata as md\n\
        for d in md.distributions():\n\
        \x20   if any(os.path.realpath(d.locate_file(f)) in loaded for f in (d.files or [])):\n\
        \x20       print(d.metadata['Name'])\n";
    let out = py.prog().arg("-c").arg(code).run_plain();
    out.assert_success();
    out.stdout_str().lines().map(str::to_owned).collect()
}

pub(crate) fn site_packages(py: &Python) -> PathBuf {
    PathBuf::from(&py.prefix).join(format!(
        "lib/python{}.{}/site-packages",
        py.major_minor.0, py.major_minor.1
    ))
}

/// Nothing of the stdlib (nor anything mapped) in `unmapped`, no stdlib
/// names in `packages`, every package installed, one entry per distribution.
pub(crate) fn assert_clean(py: &Python, r: &Record, installed: &BTreeSet<String>) {
    let stdlib = py.stdlib();
    let leaked: Vec<PathBuf> = r
        .unmapped()
        .into_iter()
        .filter(|u| u.starts_with(&stdlib) && !u.starts_with(stdlib.join("site-packages")))
        .collect();
    assert!(
        leaked.is_empty(),
        "stdlib files in `unmapped`: {leaked:?}\n{r:?}"
    );
    r.assert_unmapped_avoids(&site_packages(py));
    let names: Vec<String> = r.packages().into_iter().map(|p| p.0).collect();
    let unique: BTreeSet<&String> = names.iter().collect();
    assert_eq!(
        unique.len(),
        names.len(),
        "duplicate package entries: {r:?}"
    );
    for n in &names {
        assert!(
            installed.contains(n),
            "package {n:?} is not a distribution of the venv (stdlib?): {r:?}"
        );
    }
}

pub(crate) fn assert_has(r: &Record, expected: &BTreeMap<String, String>) {
    for (name, version) in expected {
        let p = r
            .package(name)
            .unwrap_or_else(|| r.fail(&format!("no package {name:?} in the record")));
        assert_eq!(p.1.as_deref(), Some(version.as_str()), "{name}: {r:?}");
    }
}

#[test]
fn imports_resolve_to_distributions() {
    let (py, t) = or_skip!(setup(), "no venv");
    let expected = metadata(
        &py,
        &[
            "numpy",
            "scipy",
            "pandas",
            "scikit-learn",
            "PyYAML",
            "pillow",
            "six",
            "pyusage-editable-demo",
        ],
    );
    assert_eq!(expected.len(), 8);
    let code = "import numpy, scipy.linalg, pandas, sklearn, yaml, PIL.Image, six\n\
                import pyusage_editable_demo\n\
                print(numpy.__name__, sklearn.__name__, yaml.__name__, PIL.Image.__name__)\n";
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exit", Some(0), None);
    assert_has(&r, &expected);
    assert_clean(&py, &r, &installed(&py));
    assert!(
        r.unmapped().is_empty(),
        "every module here is stdlib or installed, yet unmapped: {r:?}"
    );
    let via = |n: &str| r.package(n).unwrap().2;
    assert_eq!(via("six"), "import", "six is one .py file");
    assert_eq!(via("pyusage-editable-demo"), "import");
    // `import` is the strongest evidence (record/src/raw.rs): numpy's
    // __init__.py was read, its extension modules only add weaker evidence.
    assert_eq!(via("numpy"), "import");
    let edit = &r.0["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["name"] == "pyusage-editable-demo")
        .unwrap()["version"];
    assert_eq!(*edit, Value::from("0.3.1"));
    // numpy and scipy.linalg load the OpenBLAS their wheels bundle.
    let sp = site_packages(&py);
    for libs in ["numpy.libs", "scipy.libs"] {
        for e in std::fs::read_dir(sp.join(libs)).unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.contains("openblas") {
                let blas = r.0["native"]["blas"].as_array().unwrap();
                assert!(
                    blas.iter().any(|b| b == name.as_str()),
                    "{libs}/{name} is not in native.blas: {r:?}"
                );
            }
        }
    }
}

/// `-I`, `-E` and `-S` (site-packages added by hand) resolve the same.
#[test]
fn flags_resolve_too() {
    let (py, t) = or_skip!(setup(), "no venv");
    let expected = metadata(&py, &["six", "PyYAML"]);
    let sp = site_packages(&py);
    let add_sp = format!("import sys\nsys.path.append({:?})\n", sp.to_str().unwrap());
    let all = installed(&py);
    for (flags, prelude) in [
        (vec!["-I"], String::new()),
        (vec!["-E"], String::new()),
        (vec!["-S"], add_sp.clone()),
        (vec!["-I", "-S"], add_sp),
    ] {
        let code = format!("{prelude}import six, yaml\nprint(six.PY3)\n");
        let out = py.prog().args(&flags).arg("-c").arg(code).run_both(&t);
        out.assert_success();
        let r = t.record_of(out.pid);
        assert_has(&r, &expected);
        assert_clean(&py, &r, &all);
        assert!(r.unmapped().is_empty(), "{flags:?}: {r:?}");
        for f in t.spool_files() {
            std::fs::remove_file(f).unwrap();
        }
    }
}

/// The stdlib alone: no packages (not even those `.pth` files load at
/// start-up), nothing unmapped.
#[test]
fn stdlib_is_never_a_package() {
    let (py, t) = or_skip!(setup(), "no venv");
    let code =
        "import json, csv, decimal, email.parser, sqlite3, xml.dom.minidom, asyncio\nprint('ok')\n";
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    let startup = startup_dists(&py);
    assert!(
        startup.contains("setuptools"),
        "the venv's distutils-precedence.pth no longer loads setuptools' code: {startup:?}"
    );
    assert!(r.packages().is_empty(), "{r:?}");
    assert_clean(&py, &r, &installed(&py));
    assert!(r.unmapped().is_empty(), "{r:?}");
    // Under -S nothing runs at startup: no package at all.
    let out = py.prog().args(["-S", "-c", code]).run_both(&t);
    let r = t.record_of(out.pid);
    assert!(r.packages().is_empty(), "{r:?}");
    assert!(r.unmapped().is_empty(), "{r:?}");
}

/// A fork child with its own new import: its record lists only that
/// distribution, the parent's only its own.
#[test]
fn fork_child_packages_are_its_own() {
    let (py, t) = or_skip!(setup(), "no venv");
    let dir = t.scratch("work");
    let pidfile = dir.join("child.pid");
    let code = format!(
        "import os, six\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         \x20   import yaml\n\
         \x20   open({:?}, 'w').write(str(os.getpid()))\n\
         \x20   os._exit(0)\n\
         os.waitpid(pid, 0)\n\
         print('done')\n",
        pidfile.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
    let child_pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let parent = t.record_of(out.pid);
    let child = t.record_of(child_pid);
    let names =
        |r: &Record| -> BTreeSet<String> { r.packages().into_iter().map(|p| p.0).collect() };
    let six = metadata(&py, &["six"]);
    let yaml = metadata(&py, &["PyYAML"]);
    assert_has(&parent, &six);
    assert_has(&child, &yaml);
    assert_eq!(
        names(&parent),
        six.keys().cloned().collect(),
        "parent: {parent:?}"
    );
    assert_eq!(
        names(&child),
        yaml.keys().cloned().collect(),
        "child: {child:?}"
    );
    assert_eq!(child.forked_from(), Some(out.pid));
}

/// A killed process's raw record, swept with the map, resolves too.
#[test]
fn swept_record_resolves_with_map() {
    let (py, t) = or_skip!(setup(), "no venv");
    let code = "import six, yaml\nprint('ready', flush=True)\nimport time\ntime.sleep(600)\n";
    let before = rfc3339_now();
    let mut run = py.prog().arg("-c").arg(code).spawn_traced(&t);
    run.wait_for_line("ready");
    run.kill(libc::SIGKILL);
    let out = run.finish();
    assert!(t.spool_files().is_empty());
    t.sweep();
    let r = t.record_of(out.pid);
    py.expect(&out, &before)
        .swept()
        .script(Some("-c"))
        .check(&r);
    assert_has(&r, &metadata(&py, &["six", "PyYAML"]));
    assert!(r.unmapped().is_empty(), "{r:?}");
}

/// Build a map of `pythons` (each `EXE[=LABEL]`) into the tracer's dir.
pub(crate) fn build_map(t: &Tracer, pythons: &[String]) -> PathBuf {
    let map = t.scratch("map").join("map.bin");
    let mut c = std::process::Command::new(pyusage_tests::artifacts::pyusage());
    c.args(["map", "build", "--quiet", "--output"]).arg(&map);
    for p in pythons {
        c.arg("--python").arg(p);
    }
    let out = c.output().expect("run pyusage map build");
    assert!(
        out.status.success(),
        "pyusage map build {pythons:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    map
}

/// Packages carry the environment they belong to: the venv's prefix, or
/// the label given to `--python EXE=LABEL`.
#[test]
fn package_env_is_the_environment() {
    let (py, t) = or_skip!(setup(), "no venv");
    let code = "import six, yaml\nprint('ok')\n";
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    let r = t.record_of(out.pid);
    for p in r.0["packages"].as_array().unwrap() {
        assert_eq!(p["env"], Value::from(py.prefix.as_str()), "{r:?}");
    }

    let labelled = Tracer::new();
    let map = build_map(&labelled, &[format!("{}=test-venv", py.path.display())]);
    let labelled = labelled.with_map(&map);
    let out = py.prog().arg("-c").arg(code).run_both(&labelled);
    let r = labelled.record_of(out.pid);
    assert!(r.package("six").is_some(), "{r:?}");
    for p in r.0["packages"].as_array().unwrap() {
        assert_eq!(p["env"], Value::from("test-venv"), "{r:?}");
    }
}

/// Debian's `python3-numpy` in `/usr/lib/python3/dist-packages`, imported
/// by Debian's static python3.11, resolves through a map of that python.
#[test]
fn debian_dist_packages_resolve() {
    let deb = or_skip!(Python::debian(), "/usr/bin/python3.11 is not installed");
    let probe = deb
        .prog()
        .args([
            "-c",
            "import numpy, importlib.metadata as m\nprint(m.metadata('numpy')['Name'] + '\\t' + m.version('numpy'))",
        ])
        .run_plain();
    if probe.status.code() != Some(0) {
        pyusage_tests::skip!(
            "Debian's python3-numpy is not installed (tests/fixtures/system-deps.sh installs it when run as root{})",
            if pyusage_tests::is_root() { "" } else { "; not root here" }
        );
    }
    let text = probe.stdout_str();
    let (name, version) = text.trim().split_once('\t').unwrap();
    let t = Tracer::new();
    let map = build_map(&t, &[deb.path.display().to_string()]);
    let t = t.with_map(&map);
    let out = deb
        .prog()
        .args(["-c", "import numpy\nprint(numpy.zeros(2).sum())"])
        .run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    let p = r
        .package(name)
        .unwrap_or_else(|| r.fail("Debian's numpy is not in packages"));
    assert_eq!(p.1.as_deref(), Some(version), "{r:?}");
    assert_clean(&deb, &r, &installed(&deb));
}
