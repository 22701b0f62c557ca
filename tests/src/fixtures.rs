//! Fixtures: the shared virtualenv, its package map, RUNPATH libraries, and
//! small Python module trees.

use crate::artifacts::{pyusage, repo_root};
use std::fs;
use std::os::unix::io::AsRawFd;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

/// Hold an exclusive `flock` on `path` while `f` runs, so that test processes
/// running at once (nextest) build a shared fixture only once.
fn locked<T>(path: &Path, f: impl FnOnce() -> T) -> T {
    if let Some(d) = path.parent() {
        fs::create_dir_all(d).expect("create lock dir");
    }
    let file = fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .expect("open lock file");
    // SAFETY: flock on an fd we own; released when `file` is dropped.
    let rc = unsafe { libc::flock(file.as_raw_fd(), libc::LOCK_EX) };
    assert_eq!(rc, 0, "flock {}", path.display());
    let r = f();
    drop(file);
    r
}

fn output_text(o: &std::process::Output) -> String {
    format!(
        "{}\nstdout:\n{}\nstderr:\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// The shared virtualenv built by `tests/fixtures/venv.sh` (default dest
/// `build/venv`), built on first use. Returns its `bin/python`, or why it
/// could not be built (the caller skips).
pub fn venv_python() -> Result<PathBuf, String> {
    static V: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    V.get_or_init(|| {
        let root = repo_root();
        let dest = root.join("build/venv");
        locked(&root.join("build/.pyusage-tests-venv.lock"), || {
            let out = Command::new("bash")
                .arg(root.join("tests/fixtures/venv.sh"))
                .arg(&dest)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run tests/fixtures/venv.sh: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tests/fixtures/venv.sh failed: {}",
                    output_text(&out)
                ));
            }
            let py = dest.join("bin/python");
            if py.exists() {
                Ok(py)
            } else {
                Err(format!("{} missing after venv.sh", py.display()))
            }
        })
    })
    .clone()
}

/// Another virtualenv built by a script under `tests/fixtures` (`name` is
/// both the script's stem and the directory under `build/`, e.g.
/// `venv-jupyter`), built once, under a lock, on first use. Returns its
/// `bin/python`, or why it could not be built (the caller skips).
pub fn extra_venv(name: &str) -> Result<PathBuf, String> {
    let root = repo_root();
    let dest = root.join("build").join(name);
    locked(
        &root.join(format!("build/.pyusage-tests-{name}.lock")),
        || {
            let out = Command::new("bash")
                .arg(root.join(format!("tests/fixtures/{name}.sh")))
                .arg(&dest)
                .stdin(Stdio::null())
                .output()
                .map_err(|e| format!("cannot run tests/fixtures/{name}.sh: {e}"))?;
            if !out.status.success() {
                return Err(format!(
                    "tests/fixtures/{name}.sh failed: {}",
                    output_text(&out)
                ));
            }
            let py = dest.join("bin/python");
            if py.exists() {
                Ok(py)
            } else {
                Err(format!("{} missing after {name}.sh", py.display()))
            }
        },
    )
}

/// A package map of the shared virtualenv, built with
/// `pyusage map build --output M --python build/venv/bin/python`, once per
/// test process. `Err(skip reason)` when the venv is unavailable; panics
/// when the venv exists but the map cannot be built (that is a failure of
/// the resolver, not of the machine).
pub fn venv_map() -> Result<PathBuf, String> {
    let py = venv_python()?;
    static M: OnceLock<PathBuf> = OnceLock::new();
    Ok(M.get_or_init(|| {
        let dir = repo_root().join("target/pyusage-tests");
        let map = dir.join("venv.map");
        locked(&dir.join("venv.map.lock"), || {
            let out = Command::new(pyusage())
                .args(["map", "build", "--output"])
                .arg(&map)
                .arg("--python")
                .arg(&py)
                .stdin(Stdio::null())
                .output()
                .expect("run pyusage map build");
            assert!(
                out.status.success() && map.is_file(),
                "`pyusage map build --output {} --python {}` failed (resolver not ready?): {}",
                map.display(),
                py.display(),
                output_text(&out)
            );
        });
        map
    })
    .clone())
}

/// Libraries for the `$ORIGIN` RUNPATH test.
pub struct RunpathLibs {
    /// `lib/libloader.so`: RUNPATH `$ORIGIN`; `pyusage_load_sibling()`
    /// `dlopen`s `libsibling.so` by soname and returns its `sibling_value()`.
    pub loader: PathBuf,
    /// `bin/loadit LIB`: a C program that `dlopen`s LIB, calls
    /// `pyusage_load_sibling()` and prints the result.
    pub c_program: PathBuf,
    /// The value `sibling_value()` returns.
    pub value: i32,
}

/// Build the RUNPATH libraries with gcc in `dir`. `Err` if gcc is missing.
pub fn runpath_libs(dir: &Path) -> Result<RunpathLibs, String> {
    let have_gcc = Command::new("gcc")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map(|s| s.success())
        .unwrap_or(false);
    if !have_gcc {
        return Err("gcc is not installed".into());
    }
    let lib = dir.join("lib");
    let bin = dir.join("bin");
    let src = dir.join("src");
    for d in [&lib, &bin, &src] {
        fs::create_dir_all(d).unwrap();
    }
    let value = 4242;
    fs::write(
        src.join("sibling.c"),
        format!("int sibling_value(void) {{ return {value}; }}\n"),
    )
    .unwrap();
    fs::write(
        src.join("loader.c"),
        r#"#include <dlfcn.h>
#include <stdio.h>
int pyusage_load_sibling(void) {
    void *h = dlopen("libsibling.so", RTLD_NOW);
    if (!h) { fprintf(stderr, "loader: %s\n", dlerror()); return -1; }
    int (*f)(void) = (int (*)(void))dlsym(h, "sibling_value");
    if (!f) { fprintf(stderr, "loader: %s\n", dlerror()); return -2; }
    return f();
}
"#,
    )
    .unwrap();
    fs::write(
        src.join("loadit.c"),
        r#"#include <dlfcn.h>
#include <stdio.h>
int main(int argc, char **argv) {
    if (argc != 2) return 2;
    void *h = dlopen(argv[1], RTLD_NOW);
    if (!h) { fprintf(stderr, "loadit: %s\n", dlerror()); return 3; }
    int (*f)(void) = (int (*)(void))dlsym(h, "pyusage_load_sibling");
    if (!f) { fprintf(stderr, "loadit: %s\n", dlerror()); return 4; }
    printf("%d\n", f());
    return 0;
}
"#,
    )
    .unwrap();
    let gcc = |args: &[&std::ffi::OsStr]| {
        let out = Command::new("gcc").args(args).output().unwrap();
        assert!(out.status.success(), "gcc {args:?}: {}", output_text(&out));
    };
    let s = |p: &Path| p.as_os_str().to_owned();
    gcc(&[
        "-shared".as_ref(),
        "-fPIC".as_ref(),
        "-Wl,-soname,libsibling.so".as_ref(),
        "-o".as_ref(),
        &s(&lib.join("libsibling.so")),
        &s(&src.join("sibling.c")),
    ]);
    gcc(&[
        "-shared".as_ref(),
        "-fPIC".as_ref(),
        "-Wl,--enable-new-dtags".as_ref(),
        "-Wl,-rpath,$ORIGIN".as_ref(),
        "-o".as_ref(),
        &s(&lib.join("libloader.so")),
        &s(&src.join("loader.c")),
        "-ldl".as_ref(),
    ]);
    gcc(&[
        "-o".as_ref(),
        &s(&bin.join("loadit")),
        &s(&src.join("loadit.c")),
        "-ldl".as_ref(),
    ]);
    // Make sure the fixture is what it claims: RUNPATH, not RPATH.
    if let Ok(out) = Command::new("readelf")
        .arg("-d")
        .arg(lib.join("libloader.so"))
        .output()
    {
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(
            text.contains("(RUNPATH)") && text.contains("[$ORIGIN]"),
            "libloader.so lacks RUNPATH $ORIGIN:\n{text}"
        );
    }
    Ok(RunpathLibs {
        loader: lib.join("libloader.so"),
        c_program: bin.join("loadit"),
        value,
    })
}

/// Write a single-file module `dir/<name>.py` with `body`; returns its path.
pub fn module(dir: &Path, name: &str, body: &str) -> PathBuf {
    let p = dir.join(format!("{name}.py"));
    fs::write(&p, body).expect("write module");
    p
}

/// Write a package `dir/<name>/__init__.py` (with `body`) and a submodule
/// `dir/<name>/sub.py`; returns the two file paths.
pub fn package(dir: &Path, name: &str, body: &str) -> (PathBuf, PathBuf) {
    let d = dir.join(name);
    fs::create_dir_all(&d).expect("create package dir");
    let init = d.join("__init__.py");
    let sub = d.join("sub.py");
    fs::write(&init, body).expect("write __init__");
    fs::write(&sub, "SUB = 1\n").expect("write sub");
    (init, sub)
}
