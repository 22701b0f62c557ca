//! Every interpreter on the machine, run plain and traced: what the user sees
//! is identical, and the record says what ran.
//!
//! - 3.8+ (pyenv and Debian's static python3.11): module files land in the
//!   record (as `unmapped`, there is no package map here), also under `-I`,
//!   `-S` and `-E`; `script` says how the program was given.
//! - 2.7, 3.6, 3.7: no crash, identical output, a record with the version.
//! - Debug allocators (`PYTHONMALLOC=debug`, `-X dev`, `PYTHONDEVMODE=1`,
//!   each also with `-E`): the process ends exactly as without the tracer.
//! - Non-Python programs: no record, no file anywhere.

use pyusage_tests::fixtures::{module, package};
use pyusage_tests::python::{Python, MODERN, OLD};
use pyusage_tests::{or_skip, rfc3339_now, Prog, Tracer};
use std::path::PathBuf;

/// Module files for a probe: a single-file module and a package with a
/// submodule, in a scratch dir of the tracer.
struct Mods {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

fn mods(t: &Tracer) -> Mods {
    let dir = t.scratch("mods");
    let single = module(&dir, "pyusage_probe_single", "V = 'single'\n");
    let (init, sub) = package(&dir, "pyusage_probe_pkg", "V = 'pkg'\n");
    Mods {
        dir,
        files: vec![single, init, sub],
    }
}

fn probe_code(m: &Mods) -> String {
    format!(
        "import sys\n\
         sys.path.insert(0, {:?})\n\
         import pyusage_probe_single, pyusage_probe_pkg.sub\n\
         print(pyusage_probe_single.V, pyusage_probe_pkg.V, pyusage_probe_pkg.sub.SUB)\n",
        m.dir.to_str().unwrap()
    )
}

/// Run the probe with `flags` and check the record field by field.
fn modern_probe(py: &Python, flags: &[&str]) {
    let t = Tracer::new();
    let m = mods(&t);
    let prog = py.prog().args(flags).arg("-c").arg(probe_code(&m));
    let before = rfc3339_now();
    let out = prog.run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "single pkg 1\n");
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exit", Some(0), None);
    for f in &m.files {
        r.assert_unmapped_covers(f);
    }
    assert!(
        r.packages().is_empty(),
        "no package map, yet packages: {:?}",
        r.packages()
    );
    assert_eq!(r.forks(), 0);
    assert_eq!(t.records().len(), 1, "one process, one record");
}

per_python!(modern_probe(&[]);
    module_files_3_8 => Python::pyenv("3.8.18"),
    module_files_3_9 => Python::pyenv("3.9.18"),
    module_files_3_10 => Python::pyenv("3.10.13"),
    module_files_3_11 => Python::pyenv("3.11.7"),
    module_files_3_12 => Python::pyenv("3.12.1"),
    module_files_3_13 => Python::pyenv("3.13.0"),
    module_files_debian_static => Python::debian(),
);

per_python!(modern_probe(&["-I"]);
    isolated_3_8 => Python::pyenv("3.8.18"),
    isolated_3_11 => Python::pyenv("3.11.7"),
    isolated_3_13 => Python::pyenv("3.13.0"),
    isolated_debian_static => Python::debian(),
);

per_python!(modern_probe(&["-S"]);
    no_site_3_8 => Python::pyenv("3.8.18"),
    no_site_3_11 => Python::pyenv("3.11.7"),
    no_site_3_13 => Python::pyenv("3.13.0"),
    no_site_debian_static => Python::debian(),
);

per_python!(modern_probe(&["-E"]);
    ignore_env_3_8 => Python::pyenv("3.8.18"),
    ignore_env_3_11 => Python::pyenv("3.11.7"),
    ignore_env_3_13 => Python::pyenv("3.13.0"),
    ignore_env_debian_static => Python::debian(),
);

per_python!(modern_probe(&["-I", "-S"]);
    isolated_no_site_3_12 => Python::pyenv("3.12.1"),
);

/// `script`: a file path as given, `-m module`, or null for stdin.
fn script_field(py: &Python) {
    let t = Tracer::new();
    let m = mods(&t);
    std::fs::write(m.dir.join("prog.py"), probe_code(&m)).unwrap();
    let cases: Vec<(Prog, Option<&str>)> = vec![
        (py.prog().arg("prog.py").cwd(&m.dir), Some("prog.py")),
        (
            py.prog().args(["-m", "pyusage_probe_pkg.sub"]).cwd(&m.dir),
            Some("-m pyusage_probe_pkg.sub"),
        ),
        (py.prog().stdin(probe_code(&m)).cwd(&m.dir), None),
    ];
    for (prog, script) in cases {
        let before = rfc3339_now();
        let out = prog.run_both(&t);
        out.assert_success();
        let r = t.record_of(out.pid);
        py.expect(&out, &before).script(script).check(&r);
        r.assert_ended("exit", Some(0), None);
        r.assert_unmapped_covers(&m.files[2]);
    }
}

per_python!(script_field();
    script_field_3_8 => Python::pyenv("3.8.18"),
    script_field_3_11 => Python::pyenv("3.11.7"),
    script_field_3_13 => Python::pyenv("3.13.0"),
    script_field_debian_static => Python::debian(),
);

/// No audit hooks before 3.8: identical behaviour and a record with the
/// version (compiled modules are seen through `dlopen`).
fn old_python(py: &Python) {
    let t = Tracer::new();
    let m = mods(&t);
    let code = format!(
        "{}import math, json, ctypes, zlib\nprint(json.dumps([math.sqrt(16), zlib.crc32(b'x') & 0xffffffff]))\n",
        probe_code(&m)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    py.expect(&out, &before).check(&r);
    r.assert_ended("exit", Some(0), None);
    for kind in ["cuda", "mpi", "blas"] {
        assert!(r.0["native"][kind].is_array());
    }
    assert_eq!(t.records().len(), 1);

    // Other endings: same behaviour, and whatever is shipped is valid and
    // says how the process ended.
    for (code, status, how) in [
        ("import json, sys\nsys.exit(3)\n", 3, "exit"),
        (
            "import json, os, sys\nsys.stdout.write('x\\n')\nsys.stdout.flush()\nos._exit(7)\n",
            7,
            "_exit",
        ),
        ("import json\nraise ValueError('boom')\n", 1, "exit"),
    ] {
        let t = Tracer::new();
        let out = py.prog().arg("-c").arg(code).run_both(&t);
        assert_eq!(out.code(), status);
        for r in t.records() {
            assert_eq!(r.pid(), out.pid);
            r.assert_ended(how, Some(status as i64), None);
        }
    }
}

per_python!(old_python();
    old_2_7 => Python::pyenv(OLD[0]),
    old_3_6 => Python::pyenv(OLD[1]),
    old_3_7 => Python::pyenv(OLD[2]),
);

/// Debug allocators free what the tracer allocated before `Py_Initialize`
/// with the debug `free` (a naive tracer aborts, exit 134, at finalisation).
fn debug_allocator_runs(py: &Python, check_modules: bool) {
    type Variant<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let variants: &[Variant] = &[
        (&[], &[("PYTHONMALLOC", "debug")]),
        (&[], &[("PYTHONMALLOC", "malloc_debug")]),
        (&[], &[("PYTHONMALLOC", "pymalloc_debug")]),
        (&["-X", "dev"], &[]),
        (&["-Xdev"], &[]),
        (&[], &[("PYTHONDEVMODE", "1")]),
        (&["-E"], &[("PYTHONMALLOC", "debug")]),
        (&["-E", "-X", "dev"], &[]),
        (&["-E"], &[("PYTHONDEVMODE", "1")]),
        (&["-I", "-X", "dev"], &[("PYTHONMALLOC", "debug")]),
        // An explicit allocator overrides development mode's debug hooks.
        (&["-X", "dev"], &[("PYTHONMALLOC", "malloc")]),
        (&["-X", "dev"], &[("PYTHONMALLOC", "pymalloc")]),
        (&[], &[("PYTHONDEVMODE", "1"), ("PYTHONMALLOC", "malloc")]),
        // ... unless -E hides it.
        (&["-E", "-X", "dev"], &[("PYTHONMALLOC", "malloc")]),
        (&["-X", "dev", "-X", "tracemalloc=2"], &[]),
    ];
    for (flags, env) in variants {
        let t = Tracer::new();
        let m = mods(&t);
        let mut prog = py.prog().args(*flags).arg("-c").arg(probe_code(&m));
        for (k, v) in *env {
            prog = prog.env(k, v);
        }
        let before = rfc3339_now();
        let out = prog.run_both(&t);
        assert_eq!(
            out.status.code(),
            Some(0),
            "{flags:?} {env:?} under the tracer: {out:?}"
        );
        let r = t.record_of(out.pid);
        let mut e = py.expect(&out, &before);
        e.prefix_required = false;
        e.check(&r);
        r.assert_ended("exit", Some(0), None);
        if check_modules {
            r.assert_unmapped_covers(&m.files[0]);
            py.expect(&out, &before).check(&r);
        }
    }
}

/// Same behaviour and a record, whatever the tracer records.
fn debug_allocators(py: &Python) {
    debug_allocator_runs(py, false);
}

/// Nothing is lost under a debug allocator either: module files and
/// `python.prefix` are still recorded.
fn debug_allocators_record_modules(py: &Python) {
    debug_allocator_runs(py, true);
}

per_python!(debug_allocators_record_modules();
    debug_alloc_modules_3_8 => Python::pyenv(MODERN[0]),
    debug_alloc_modules_3_11 => Python::pyenv(MODERN[3]),
    debug_alloc_modules_3_13 => Python::pyenv(MODERN[5]),
    debug_alloc_modules_debian_static => Python::debian(),
);

per_python!(debug_allocators();
    debug_alloc_3_8 => Python::pyenv(MODERN[0]),
    debug_alloc_3_9 => Python::pyenv(MODERN[1]),
    debug_alloc_3_10 => Python::pyenv(MODERN[2]),
    debug_alloc_3_11 => Python::pyenv(MODERN[3]),
    debug_alloc_3_12 => Python::pyenv(MODERN[4]),
    debug_alloc_3_13 => Python::pyenv(MODERN[5]),
    debug_alloc_debian_static => Python::debian(),
);

/// Non-Python processes: identical behaviour, nothing written anywhere.
#[test]
fn non_python_programs_leave_nothing() {
    let cases = [
        Prog::new("/bin/true"),
        Prog::new("/bin/sh").args(["-c", "echo out; echo err >&2; exit 3"]),
        Prog::new("/bin/ls").args(["-1", "/"]),
        Prog::new("/bin/sh").args(["-c", "/bin/true && ls /nonexistent-pyusage; exit $?"]),
    ];
    for prog in cases {
        let t = Tracer::new();
        prog.run_both(&t);
        t.assert_nothing_written(&prog.to_string());
        t.sweep();
        t.assert_nothing_written(&format!("{prog}, after a sweep"));
    }
}

/// A shell that runs python: only the python process leaves a record.
#[test]
fn shell_running_python_one_record() {
    let py = or_skip!(Python::pyenv("3.11.7"), "python 3.11.7 is not installed");
    let t = Tracer::new();
    let m = mods(&t);
    let script = m.dir.join("prog.py");
    std::fs::write(&script, probe_code(&m)).unwrap();
    let out = Prog::new("/bin/sh")
        .arg("-c")
        .arg(format!(
            "echo start; {} {}; echo end",
            py.path.display(),
            script.display()
        ))
        .run_both(&t);
    out.assert_success();
    let recs = t.records();
    assert_eq!(recs.len(), 1, "{}", pyusage_tests::dump(&recs));
    let r = &recs[0];
    assert_ne!(r.pid(), out.pid, "the shell must not have the record");
    assert_eq!(r.0["ppid"], serde_json::json!(out.pid));
    assert_eq!(r.0["script"], serde_json::json!(script.to_str().unwrap()));
    r.assert_unmapped_covers(&m.files[0]);
}

/// Python sees no difference: the same modules loaded, the same threads,
/// signal handlers, sys.path, flags and environment (less the tracer's own
/// variables), the same open file descriptors.
fn python_sees_no_difference(py: &Python) {
    let t = Tracer::new();
    let code = "import os, sys, signal, threading\n\
        print(sorted(sys.modules))\n\
        print(sys.path)\n\
        print(sys.flags)\n\
        print(threading.active_count())\n\
        print([(s, repr(signal.getsignal(s))) for s in range(1, signal.NSIG) if s not in (signal.SIGKILL, signal.SIGSTOP)])\n\
        print(sorted((k, v) for k, v in os.environ.items() if k != 'LD_PRELOAD' and not k.startswith('PYUSAGE_')))\n\
        print(sorted(os.listdir('/proc/self/fd')))\n\
        print(sys.getrecursionlimit(), getattr(sys, 'getswitchinterval', lambda: None)())\n";
    let out = py.prog().arg("-c").arg(code).run_both(&t);
    out.assert_success();
}

per_python!(python_sees_no_difference();
    no_difference_3_8 => Python::pyenv("3.8.18"),
    no_difference_3_11 => Python::pyenv("3.11.7"),
    no_difference_3_12 => Python::pyenv("3.12.1"),
    no_difference_3_13 => Python::pyenv("3.13.0"),
    no_difference_debian_static => Python::debian(),
    no_difference_2_7 => Python::pyenv("2.7.18"),
);

/// A shell sees the same environment (less the tracer's variables), traps
/// and open file descriptors.
#[test]
fn shell_sees_no_difference() {
    let t = Tracer::new();
    Prog::new("/bin/sh")
        .args([
            "-c",
            "env | grep -v -e '^LD_PRELOAD=' -e '^PYUSAGE_' | sort; trap; ls /proc/$$/fd",
        ])
        .run_both(&t)
        .assert_success();
    t.assert_nothing_written("sh");
}

/// The same debug-allocator runs with an `argv[0]` that does not say
/// "python" (`exec -a`, a renamed copy): the tracer cannot rely on its
/// reading of the command line there.
fn debug_allocators_other_argv0(py: &Python) {
    type Variant<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)]);
    let variants: &[Variant] = &[
        (&["-X", "dev"], &[]),
        (&[], &[("PYTHONMALLOC", "debug")]),
        (&[], &[("PYTHONDEVMODE", "1")]),
        (&["-E"], &[("PYTHONMALLOC", "debug")]),
        (&["-X", "dev"], &[("PYTHONMALLOC", "malloc")]),
    ];
    for (flags, env) in variants {
        let t = Tracer::new();
        let m = mods(&t);
        let mut prog = py
            .prog()
            .arg0("renamed-interpreter")
            .args(*flags)
            .arg("-c")
            .arg(probe_code(&m));
        for (k, v) in *env {
            prog = prog.env(k, v);
        }
        let out = prog.run_both(&t);
        assert_eq!(
            out.status.code(),
            Some(0),
            "argv[0] renamed-interpreter, {flags:?} {env:?} under the tracer: {out:?}"
        );
        // No hook (the allocator cannot be predicted under another name),
        // and nothing else shows that Python ran: no record, no leftovers.
        let recs = t.records();
        assert!(
            recs.is_empty(),
            "{flags:?} {env:?}: {}",
            pyusage_tests::dump(&recs)
        );
    }
}

per_python!(debug_allocators_other_argv0();
    debug_alloc_argv0_3_8 => Python::pyenv(MODERN[0]),
    debug_alloc_argv0_3_11 => Python::pyenv(MODERN[3]),
    debug_alloc_argv0_3_13 => Python::pyenv(MODERN[5]),
    debug_alloc_argv0_debian_static => Python::debian(),
);

/// PyPy has no audit hooks: identical behaviour, and a record of the
/// interpreter and its exit, made when the process ends.
#[test]
fn pypy_recorded_without_a_hook() {
    let py = pyusage_tests::or_skip!(
        Python::at("/usr/bin/pypy3"),
        "/usr/bin/pypy3 missing (tests/fixtures/system-deps.sh installs it as root)"
    );
    let t = Tracer::new();
    let out = py
        .prog()
        .arg("-c")
        .arg("import json, os\nprint(json.dumps([os.getpid() > 0]))\n")
        .run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "[true]\n");
    let r = t.record_of(out.pid);
    assert_eq!(r.0["python"]["implementation"], "pypy");
    assert_eq!(r.0["python"]["version"], py.version.as_str());
    assert_eq!(r.0["script"], "-c");
    r.assert_ended("exit", Some(0), None);
    assert_eq!(t.records().len(), 1);

    let t = Tracer::new();
    let out = py
        .prog()
        .arg("-c")
        .arg("import os\nos._exit(5)\n")
        .run_both(&t);
    assert_eq!(out.code(), 5);
    t.record_of(out.pid).assert_ended("_exit", Some(5), None);
}
