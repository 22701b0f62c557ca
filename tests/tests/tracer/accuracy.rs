//! What counts as use, both ways, and who imported what when.
//!
//! - Not use: a package's files opened by `linecache` (every traceback),
//!   copied by `shutil.copy`, read with `open(..., "rb")`, byte-compiled by
//!   `compileall`; modules that `.pth` files import at start-up.
//! - Not use either: setuptools' editable finder, imported by its `.pth`.
//! - Use, whatever file the code came from: a bytecode cache under
//!   `PYTHONPYCACHEPREFIX` / `-X pycache_prefix` (warm or cold), a cached
//!   `.pyc` the installer did not list (Debian's py3compile), a sourceless
//!   `.pyc` compiled somewhere else, a zip on `sys.path`, a zipapp, `pip
//!   --no-compile` and uv installs (cold and warm), pytest's rewritten test
//!   modules; a Jupyter kernel's cells; a namespace package's submodule; a
//!   lazily loaded module once its code runs (not before).
//! - `by`: null for the program's own code, else the distribution whose code
//!   made the first import; `at_ms`: when.

use crate::packages::{
    assert_clean, assert_has, build_map, installed, metadata, setup, site_packages,
};
use pyusage_tests::fixtures::extra_venv;
use pyusage_tests::python::Python;
use pyusage_tests::{or_skip, Record, Tracer};
use std::collections::BTreeSet;
use std::path::Path;

fn names(r: &Record) -> BTreeSet<String> {
    r.packages().into_iter().map(|p| p.0).collect()
}

/// Python code that touches files of PIL, sklearn, yaml and pandas without
/// importing them, then imports six. `pyc` is where compileall writes.
fn touch_files(sp: &Path, scratch: &Path) -> String {
    format!(
        "import linecache, shutil, compileall, sys, os\n\
         sp, tmp = {sp:?}, {scratch:?}\n\
         assert linecache.getline(os.path.join(sp, 'PIL', 'Image.py'), 1) != ''\n\
         shutil.copy(os.path.join(sp, 'sklearn', '__init__.py'), os.path.join(tmp, 'copy.py'))\n\
         open(os.path.join(sp, 'yaml', '__init__.py'), 'rb').read()\n\
         sys.pycache_prefix = os.path.join(tmp, 'pyc')\n\
         assert compileall.compile_dir(os.path.join(sp, 'pandas', 'io', 'json'), quiet=1, force=True)\n\
         import six\n\
         print('touched')\n",
        sp = sp.to_str().unwrap(),
        scratch = scratch.to_str().unwrap(),
    )
}

#[test]
fn opened_copied_and_compiled_files_are_not_use() {
    let (py, t) = or_skip!(setup(), "no venv");
    let scratch = t.scratch("touch");
    let code = touch_files(&site_packages(&py), &scratch);
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert!(scratch.join("copy.py").is_file(), "shutil.copy did not run");
    assert!(
        scratch.join("pyc").is_dir(),
        "compileall wrote nothing under the prefix"
    );
    let r = t.record_of(out.pid);
    assert_eq!(
        names(&r),
        BTreeSet::from(["six".to_owned()]),
        "only six was imported: {r:?}"
    );
    assert_clean(&py, &r, &installed(&py));
    assert!(r.unmapped().is_empty(), "{r:?}");
}

#[test]
fn the_same_files_imported_are_use() {
    let (py, t) = or_skip!(setup(), "no venv");
    let scratch = t.scratch("touch");
    let code = touch_files(&site_packages(&py), &scratch)
        + "import PIL.Image, sklearn, yaml, pandas.io.json\nprint('imported')\n";
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    assert_has(
        &r,
        &metadata(&py, &["pillow", "scikit-learn", "PyYAML", "pandas", "six"]),
    );
    assert_clean(&py, &r, &installed(&py));
}

/// `by`: null for `-c`, a script, `importlib.import_module` called by the
/// program and a module of the program's own; the importing distribution
/// for what another distribution pulled in. `at_ms` grows with time.
#[test]
fn by_and_at_ms() {
    let (py, t) = or_skip!(setup(), "no venv");
    let dir = t.scratch("own");
    std::fs::write(dir.join("own_helper.py"), "import six\n").unwrap();
    let code = format!(
        "import sys, time, importlib\n\
         sys.path.insert(0, {:?})\n\
         import pandas\n\
         time.sleep(0.4)\n\
         importlib.import_module('yaml')\n\
         import own_helper\n\
         print('ok')\n",
        dir.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    let pandas = metadata(&py, &["pandas", "numpy", "PyYAML", "six"]);
    assert_has(&r, &pandas);
    assert_eq!(r.by("pandas"), Some(None), "-c imported pandas: {r:?}");
    assert_eq!(
        r.by("numpy"),
        Some(Some("pandas".to_owned())),
        "numpy came with pandas: {r:?}"
    );
    assert_eq!(
        r.by("PyYAML"),
        Some(None),
        "importlib.import_module from -c is the program's own import: {r:?}"
    );
    let six_by = r.by("six").unwrap();
    // pandas' dependency python-dateutil may import six before own_helper does.
    assert!(
        six_by.is_none() || six_by.as_deref() == Some("python-dateutil"),
        "{r:?}"
    );
    let (p, y) = (r.at_ms("pandas").unwrap(), r.at_ms("PyYAML").unwrap());
    assert!(p < 30_000, "pandas at {p} ms: {r:?}");
    assert!(
        y >= p + 400,
        "yaml ({y} ms) was imported 0.4 s after pandas ({p} ms)"
    );
    assert!(r.at_ms("numpy").unwrap() >= p);

    // A script's imports are direct too.
    let script = dir.join("prog.py");
    std::fs::write(&script, "import yaml\nprint('ok')\n").unwrap();
    let out = py.prog().arg(&script).run_both(&t);
    let r = t.record_of(out.pid);
    assert_eq!(r.by("PyYAML"), Some(None), "{r:?}");
}

/// Bytecode kept out of the software tree, warm and cold, by environment
/// variable and by `-X`: the source path counts, not the cache.
#[test]
fn pycache_prefix_warm_and_cold() {
    let (py, t) = or_skip!(setup(), "no venv");
    for (i, by_env) in [true, false].into_iter().enumerate() {
        let prefix = t.scratch(&format!("pycache-{i}"));
        let prog = |code: &str| {
            let p = py.prog().env("PYTHONDONTWRITEBYTECODE", "");
            if by_env {
                p.env("PYTHONPYCACHEPREFIX", &prefix).arg("-c").arg(code)
            } else {
                p.arg("-X")
                    .arg(format!("pycache_prefix={}", prefix.display()))
                    .arg("-c")
                    .arg(code)
            }
        };
        let code = "import six, yaml, json, csv, decimal\nprint('ok')\n";
        // Cold: the traced run writes the caches; then warm.
        for state in ["cold", "warm"] {
            let out = prog(code).run_traced(&t);
            out.assert_success();
            let r = t.record_of(out.pid);
            assert_has(&r, &metadata(&py, &["six", "PyYAML"]));
            assert!(
                r.unmapped().is_empty(),
                "{state} cache (env {by_env}): prefix paths in unmapped: {r:?}"
            );
            assert_clean(&py, &r, &installed(&py));
        }
        assert!(
            walk_has_pyc(&prefix),
            "nothing was cached under {}",
            prefix.display()
        );
    }
}

fn walk_has_pyc(dir: &Path) -> bool {
    std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .any(|e| {
            let p = e.path();
            if p.is_dir() {
                walk_has_pyc(&p)
            } else {
                p.extension().is_some_and(|x| x == "pyc")
            }
        })
}

/// Debian's `python3-six`: py3compile wrote `__pycache__/six.*.pyc`, which
/// the package's file list does not name. The same record whether the
/// process shipped it or the sweep did.
#[test]
fn debian_six_compiled_by_py3compile() {
    let deb = or_skip!(Python::debian(), "/usr/bin/python3.11 is not installed");
    let six = Path::new("/usr/lib/python3/dist-packages/six.py");
    if !six.is_file() {
        pyusage_tests::skip!(
            "Debian's python3-six is not installed (tests/fixtures/system-deps.sh)"
        );
    }
    let t = Tracer::new();
    let map = build_map(&t, &[deb.path.display().to_string()]);
    let t = t.with_map(&map);
    let out = deb
        .prog()
        .env("PYTHONDONTWRITEBYTECODE", "")
        .args(["-c", "import six\nprint(six.PY3)"])
        .run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    assert!(r.package("six").is_some(), "Debian's six is missing: {r:?}");
    assert!(r.unmapped().is_empty(), "{r:?}");
    assert_eq!(r.by("six"), Some(None));

    // Killed: the sweep renders the same packages.
    let mut run = deb
        .prog()
        .args([
            "-c",
            "import six\nprint('ready', flush=True)\nimport time\ntime.sleep(600)",
        ])
        .spawn_traced(&t);
    run.wait_for_line("ready");
    run.kill(libc::SIGKILL);
    let out = run.finish();
    t.sweep();
    let swept = t.record_of(out.pid);
    assert_eq!(names(&swept), names(&r), "{swept:?}");
    assert!(swept.unmapped().is_empty(), "{swept:?}");
}

/// A module whose only file is a `.pyc` compiled elsewhere (its code says
/// `/build/elsewhere/...`): the `.pyc` the import system opened is kept.
#[test]
fn sourceless_pyc_compiled_elsewhere() {
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let t = Tracer::new();
    let dir = t.scratch("sourceless");
    let src = dir.join("pyusage_sourceless.py");
    std::fs::write(&src, "V = 7\n").unwrap();
    let pyc = dir.join("pyusage_sourceless.pyc");
    let compile = format!(
        "import py_compile\npy_compile.compile({:?}, cfile={:?}, dfile='/build/elsewhere/pyusage_sourceless.py', doraise=True)\n",
        src.to_str().unwrap(),
        pyc.to_str().unwrap()
    );
    py.prog()
        .arg("-c")
        .arg(compile)
        .run_plain()
        .assert_success();
    std::fs::remove_file(&src).unwrap();
    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport pyusage_sourceless\nprint(pyusage_sourceless.V, pyusage_sourceless.__loader__.__class__.__name__)\n",
        dir.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    assert_eq!(out.stdout_str(), "7 SourcelessFileLoader\n");
    let r = t.record_of(out.pid);
    r.assert_unmapped_covers(&pyc);
}

/// Modules imported from a zip on `sys.path`, and a zipapp with a module of
/// its own: recorded (as unmapped paths inside the zip); a zip merely read
/// is not.
#[test]
fn zip_on_sys_path_and_zipapp() {
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let t = Tracer::new();
    let dir = t.scratch("zips");
    let make = format!(
        "import zipfile, zipapp, os\n\
         d = {d:?}\n\
         with zipfile.ZipFile(os.path.join(d, 'lib.zip'), 'w') as z:\n\
         \x20   z.writestr('pyusage_zipped/__init__.py', 'V = 1\\n')\n\
         \x20   z.writestr('pyusage_zipped/sub.py', 'W = 2\\n')\n\
         os.makedirs(os.path.join(d, 'app'))\n\
         open(os.path.join(d, 'app', '__main__.py'), 'w').write('import pyusage_inapp\\nprint(pyusage_inapp.X)\\n')\n\
         open(os.path.join(d, 'app', 'pyusage_inapp.py'), 'w').write('X = 3\\n')\n\
         zipapp.create_archive(os.path.join(d, 'app'), os.path.join(d, 'app.pyz'))\n",
        d = dir.to_str().unwrap()
    );
    py.prog().arg("-c").arg(make).run_plain().assert_success();
    let zip = dir.join("lib.zip");

    let read_only = format!(
        "import zipfile\nprint(len(zipfile.ZipFile({:?}).read('pyusage_zipped/sub.py')))\n",
        zip.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(read_only).run_both(&t);
    let r = t.record_of(out.pid);
    assert!(
        r.unmapped().iter().all(|u| !u.starts_with(&zip)),
        "a zip that was only read: {r:?}"
    );

    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport pyusage_zipped.sub\nprint(pyusage_zipped.sub.W)\n",
        zip.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    assert_eq!(out.stdout_str(), "2\n");
    let r = t.record_of(out.pid);
    r.assert_unmapped_covers(&zip.join("pyusage_zipped/sub.py"));

    let app = dir.join("app.pyz");
    let out = py.prog().arg(&app).run_both(&t);
    assert_eq!(out.stdout_str(), "3\n");
    let r = t.record_of(out.pid);
    r.assert_unmapped_covers(&app.join("pyusage_inapp.py"));
}

/// The Jupyter virtualenv (`tests/fixtures/venv-jupyter.sh`), or why not.
fn jupyter_python() -> Result<Python, String> {
    let py = extra_venv("venv-jupyter")?;
    Python::at(&py).ok_or_else(|| format!("{} does not run", py.display()))
}

/// A real notebook executed by nbclient: the kernel's record says it is a
/// kernel (`-m ipykernel_launcher`) and which notebook it runs (as the
/// Jupyter server exports it), and the cells' imports are direct.
#[test]
fn jupyter_kernel_is_recorded_as_such() {
    let py = match jupyter_python() {
        Ok(p) => p,
        Err(e) => pyusage_tests::skip!("the Jupyter virtualenv is unavailable: {e}"),
    };
    let t = Tracer::new();
    let map = build_map(&t, &[py.path.display().to_string()]);
    let t = t.with_map(&map);
    let nb_path = t.scratch("nb").join("analysis.ipynb");
    let driver = format!(
        "import os, nbformat\n\
         from nbclient import NotebookClient\n\
         nb = nbformat.v4.new_notebook()\n\
         nb.cells = [nbformat.v4.new_code_cell('import six\\nprint(six.PY3)'),\n\
         \x20           nbformat.v4.new_code_cell('import os\\nprint(os.getpid())')]\n\
         nbformat.write(nb, {nb:?})\n\
         env = dict(os.environ, JPY_SESSION_NAME={nb:?})\n\
         NotebookClient(nb, kernel_name='python3', timeout=120).execute(env=env)\n\
         print(nb.cells[0].outputs[0]['text'].strip())\n\
         print(nb.cells[1].outputs[0]['text'].strip())\n",
        nb = nb_path.to_str().unwrap()
    );
    let out = py.prog().arg("-c").arg(driver).run_traced(&t);
    out.assert_success();
    let text = out.stdout_str();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("True"), "{text}");
    let kernel_pid: u32 = lines.next().unwrap().parse().unwrap();
    t.sweep(); // in case the kernel was killed at shutdown
    let k = t.record_of(kernel_pid);
    assert_eq!(k.0["script"], "-m ipykernel_launcher", "{k:?}");
    assert_eq!(k.0["notebook"], nb_path.to_str().unwrap(), "{k:?}");
    assert_eq!(k.by("six"), Some(None), "a cell imported six: {k:?}");
    assert_eq!(k.by("ipykernel"), Some(None), "{k:?}");
    let driver = t.record_of(out.pid);
    assert_eq!(driver.0["notebook"], serde_json::Value::Null, "{driver:?}");
    assert!(driver.package("six").is_none(), "{driver:?}");
    assert_eq!(driver.by("nbclient"), Some(None), "{driver:?}");
}

/// The installers virtualenv (`tests/fixtures/venv-installers.sh`) and a
/// tracer with its map, or why not.
fn installers() -> Result<(Python, Tracer), String> {
    let py = extra_venv("venv-installers")?;
    let py = Python::at(&py).ok_or_else(|| format!("{} does not run", py.display()))?;
    let t = Tracer::new();
    let map = build_map(&t, &[py.path.display().to_string()]);
    Ok((py, t.with_map(&map)))
}

/// The lines of `<dist>.dist-info/RECORD` in the installers venv.
fn record_lines(py: &Python, dist_info_prefix: &str) -> Vec<String> {
    let sp = site_packages(py);
    let dir = std::fs::read_dir(&sp)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .find(|p| {
            let n = p.file_name().unwrap().to_string_lossy().to_lowercase();
            n.starts_with(dist_info_prefix) && n.ends_with(".dist-info")
        })
        .unwrap_or_else(|| panic!("no {dist_info_prefix}*.dist-info in {}", sp.display()));
    std::fs::read_to_string(dir.join("RECORD"))
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect()
}

/// `pip install --no-compile` (six) and uv (PyYAML) list no bytecode; the
/// first import writes it, later runs load it. Both runs count.
#[test]
fn no_compile_and_uv_installs_cold_and_warm() {
    let (py, t) = match installers() {
        Ok(v) => v,
        Err(e) => pyusage_tests::skip!("the installers virtualenv is unavailable: {e}"),
    };
    for (dist, prefix) in [("six", "six-"), ("PyYAML", "pyyaml-")] {
        assert!(
            !record_lines(&py, prefix).iter().any(|l| l.contains(".pyc")),
            "{dist}'s RECORD lists bytecode: the fixture is not what this test needs"
        );
    }
    let expected = metadata(&py, &["six", "PyYAML"]);
    for state in ["cold", "warm"] {
        let out = py
            .prog()
            .env("PYTHONDONTWRITEBYTECODE", "")
            .args(["-c", "import six, yaml\nprint(six.PY3, yaml.__name__)"])
            .run_traced(&t);
        out.assert_success();
        let r = t.record_of(out.pid);
        assert_has(&r, &expected);
        assert!(r.unmapped().is_empty(), "{state}: {r:?}");
        assert_eq!(r.by("six"), Some(None), "{state}: {r:?}");
    }
    assert!(
        walk_has_pyc(&site_packages(&py).join("yaml")),
        "no bytecode was written under yaml/"
    );
}

/// setuptools' editable finder is imported by its `.pth` file in every
/// process of the environment; the distribution counts only when imported.
#[test]
fn editable_finder_is_start_up_machinery() {
    let (py, t) = match installers() {
        Ok(v) => v,
        Err(e) => pyusage_tests::skip!("the installers virtualenv is unavailable: {e}"),
    };
    let finder_loaded = py
        .prog()
        .args([
            "-c",
            "import sys\nprint(any('__editable___' in m for m in sys.modules))",
        ])
        .run_plain();
    assert_eq!(
        finder_loaded.stdout_str(),
        "True\n",
        "the finder is not imported at start-up: the fixture is not what this test needs"
    );
    let out = py
        .prog()
        .args(["-c", "import json\nprint('ok')"])
        .run_both(&t);
    let r = t.record_of(out.pid);
    assert!(
        r.packages().is_empty(),
        "start-up machinery recorded: {r:?}"
    );
    assert!(r.unmapped().is_empty(), "{r:?}");

    let out = py
        .prog()
        .args([
            "-c",
            "import pyusage_finder_demo\nprint(pyusage_finder_demo.V)",
        ])
        .run_both(&t);
    assert_eq!(out.stdout_str(), "finder\n");
    let r = t.record_of(out.pid);
    let p = r
        .package("pyusage-finder-demo")
        .unwrap_or_else(|| r.fail("the imported editable install is missing"));
    assert_eq!(p.1.as_deref(), Some("0.2.0"));
    assert_eq!(r.by("pyusage-finder-demo"), Some(None));
}

/// pytest rewrites test modules and caches them as `*-pytest-*.pyc`: the
/// test module is recorded by its source path, cold and warm.
#[test]
fn pytest_rewritten_test_modules() {
    let (py, t) = match installers() {
        Ok(v) => v,
        Err(e) => pyusage_tests::skip!("the installers virtualenv is unavailable: {e}"),
    };
    let dir = t.scratch("pytest");
    let test = dir.join("test_pyusage_probe.py");
    std::fs::write(&test, "import six\n\ndef test_six():\n    assert six.PY3\n").unwrap();
    for state in ["cold", "warm"] {
        let out = py
            .prog()
            .env("PYTHONDONTWRITEBYTECODE", "")
            .args([
                "-m",
                "pytest",
                "-q",
                "-p",
                "no:cacheprovider",
                "test_pyusage_probe.py",
            ])
            .cwd(&dir)
            .run_traced(&t);
        out.assert_success();
        let r = t.record_of(out.pid);
        assert!(r.package("pytest").is_some(), "{state}: {r:?}");
        assert!(r.package("six").is_some(), "{state}: {r:?}");
        assert_eq!(
            r.by("six"),
            Some(None),
            "the test module imported six: {r:?}"
        );
        r.assert_unmapped_covers(&test);
        assert!(
            r.unmapped()
                .iter()
                .all(|u| !u.to_string_lossy().contains("-pytest-")),
            "{state}: a rewritten cache in unmapped: {r:?}"
        );
    }
    let cached: Vec<String> = std::fs::read_dir(dir.join("__pycache__"))
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        cached.iter().any(|n| n.contains("-pytest-")),
        "pytest wrote no rewritten cache: {cached:?}"
    );
}

/// A zipped egg (its file name says `oddname 9.9`, its `EGG-INFO/PKG-INFO`
/// says `pyusage-zipped-egg 1.4.2`), mapped by `--root` given the egg itself
/// or its directory: its modules, imported from the zip, are the
/// distribution that PKG-INFO names.
#[test]
fn zipped_egg_is_its_pkg_info_distribution() {
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let t = Tracer::new();
    let eggs = t.scratch("eggs");
    let egg = eggs.join("oddname-9.9-py3.11.egg");
    let make = format!(
        "import zipfile\n\
         with zipfile.ZipFile({:?}, 'w', zipfile.ZIP_DEFLATED) as z:\n\
         \x20   z.writestr('EGG-INFO/PKG-INFO', 'Metadata-Version: 1.1\\nName: pyusage-zipped-egg\\nVersion: 1.4.2\\n')\n\
         \x20   z.writestr('EGG-INFO/top_level.txt', 'pyusage_zegg\\n')\n\
         \x20   z.writestr('pyusage_zegg/__init__.py', 'V = 42\\n')\n",
        egg.to_str().unwrap()
    );
    py.prog().arg("-c").arg(make).run_plain().assert_success();
    let code = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport pyusage_zegg\nprint(pyusage_zegg.V)\n",
        egg.to_str().unwrap()
    );
    for root in [&egg, &eggs] {
        let map = t.scratch("map").join("egg-map.bin");
        let built = std::process::Command::new(pyusage_tests::artifacts::pyusage())
            .args(["map", "build", "--quiet", "--output"])
            .arg(&map)
            .arg("--root")
            .arg(root)
            .output()
            .unwrap();
        assert!(
            built.status.success(),
            "map build --root {}: {}",
            root.display(),
            String::from_utf8_lossy(&built.stderr)
        );
        let traced = Tracer::new().with_map(&map);
        let out = py.prog().arg("-c").arg(&code).run_both(&traced);
        assert_eq!(out.stdout_str(), "42\n");
        let r = traced.record_of(out.pid);
        let p = r
            .package("pyusage-zipped-egg")
            .unwrap_or_else(|| r.fail(&format!("zipped egg (root {}) missing", root.display())));
        assert_eq!(p.1.as_deref(), Some("1.4.2"), "{r:?}");
        assert_eq!(p.2, "import", "{r:?}");
        assert!(r.package("oddname").is_none(), "{r:?}");
        assert!(r.unmapped().is_empty(), "{r:?}");
    }
}

/// A namespace package (no `__init__.py`): its submodule counts. A module
/// behind `importlib.util.LazyLoader` counts once its code runs (the first
/// attribute access), not when it is merely set up.
#[test]
fn namespace_packages_and_lazy_loaders() {
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let t = Tracer::new();
    let ns = t.scratch("ns");
    std::fs::create_dir_all(ns.join("pyusage_nspkg")).unwrap();
    let sub = ns.join("pyusage_nspkg/sub.py");
    std::fs::write(&sub, "S = 1\n").unwrap();
    let lazy_dir = t.scratch("lazy");
    let lazy = lazy_dir.join("pyusage_lazy.py");
    std::fs::write(&lazy, "L = 2\n").unwrap();
    let program = |touch: bool| {
        format!(
            "import sys, importlib.util\n\
             sys.path[:0] = [{ns:?}, {lazy:?}]\n\
             import pyusage_nspkg.sub\n\
             spec = importlib.util.find_spec('pyusage_lazy')\n\
             spec.loader = importlib.util.LazyLoader(spec.loader)\n\
             m = importlib.util.module_from_spec(spec)\n\
             sys.modules['pyusage_lazy'] = m\n\
             spec.loader.exec_module(m)\n\
             {touch}\n\
             print(pyusage_nspkg.sub.S)\n",
            ns = ns.to_str().unwrap(),
            lazy = lazy_dir.to_str().unwrap(),
            touch = if touch { "print(m.L)" } else { "pass" },
        )
    };
    let out = py.prog().arg("-c").arg(program(false)).run_both(&t);
    assert_eq!(out.stdout_str(), "1\n");
    let r = t.record_of(out.pid);
    r.assert_unmapped_covers(&sub);
    r.assert_unmapped_avoids(&lazy_dir);

    let out = py.prog().arg("-c").arg(program(true)).run_both(&t);
    assert_eq!(out.stdout_str(), "2\n1\n");
    let r = t.record_of(out.pid);
    r.assert_unmapped_covers(&sub);
    r.assert_unmapped_covers(&lazy);
}
