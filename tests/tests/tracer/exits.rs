//! Every way a traced Python process ends, run plain and traced (what the
//! user sees is identical), with the shipped record checked field by field:
//! normal exit, `sys.exit`, `os._exit`, uncaught exception, `exec`, `fork`
//! without exec, multiprocessing (fork, forkserver, spawn), `subprocess`
//! (vfork), and deaths the process cannot report (SIGTERM, SIGINT, SIGKILL,
//! `os.abort()`), which `pyusage sweep` finishes.

use pyusage_tests::fixtures::package;
use pyusage_tests::python::Python;
use pyusage_tests::{dump, or_skip, rfc3339_now, Outcome, Prog, Record, Tracer};
use serde_json::json;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// A scratch dir with a package `pyusage_<name>` for each name, each in a
/// directory of its own (`unmapped` keeps one file per directory); returns
/// the dir and each package's `__init__.py`.
fn mods(t: &Tracer, names: &[&str]) -> (PathBuf, Vec<PathBuf>) {
    let dir = t.scratch("mods");
    let files = names
        .iter()
        .map(|n| package(&dir, &format!("pyusage_{n}"), &format!("NAME = {n:?}\n")).0)
        .collect();
    (dir, files)
}

fn path_line(dir: &Path) -> String {
    format!(
        "import sys\nsys.path.insert(0, {:?})\n",
        dir.to_str().unwrap()
    )
}

fn py311() -> Option<Python> {
    Python::pyenv("3.11.7")
}

// ---------------------------------------------------------------- exit paths

fn exit_path(py: &Python, body: &str, status: i32, how: &str) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let code = format!(
        "{}import pyusage_main\nprint('before')\n{body}",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    assert_eq!(out.code(), status, "{out:?}");
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended(how, Some(status as i64), None);
    r.assert_unmapped_covers(&files[0]);
    assert_eq!(r.forks(), 0);
    assert_eq!(t.records().len(), 1, "{}", dump(&t.records()));
}

/// Each way out on each interpreter, named `exit_paths::<way>::<interpreter>`.
mod exit_paths {
    use super::*;

    mod normal {
        use super::*;
        per_python!(exit_path("", 0, "exit");
            py3_8 => Python::pyenv("3.8.18"),
            py3_11 => Python::pyenv("3.11.7"),
            py3_13 => Python::pyenv("3.13.0"),
            debian_static => Python::debian(),
        );
    }

    mod sys_exit_3 {
        use super::*;
        per_python!(exit_path("sys.exit(3)\n", 3, "exit");
            py3_8 => Python::pyenv("3.8.18"),
            py3_11 => Python::pyenv("3.11.7"),
            py3_13 => Python::pyenv("3.13.0"),
            debian_static => Python::debian(),
        );
    }

    mod os_exit_7 {
        use super::*;
        per_python!(exit_path("import os\nsys.stdout.flush()\nos._exit(7)\n", 7, "_exit");
            py3_8 => Python::pyenv("3.8.18"),
            py3_11 => Python::pyenv("3.11.7"),
            py3_13 => Python::pyenv("3.13.0"),
            debian_static => Python::debian(),
        );
    }

    mod uncaught_exception {
        use super::*;
        per_python!(exit_path("raise ValueError('boom')\n", 1, "exit");
            py3_8 => Python::pyenv("3.8.18"),
            py3_11 => Python::pyenv("3.11.7"),
            py3_13 => Python::pyenv("3.13.0"),
            debian_static => Python::debian(),
        );
    }

    mod exit_in_atexit {
        use super::*;
        per_python!(exit_path("import atexit\natexit.register(lambda: print('atexit ran'))\n", 0, "exit");
            py3_8 => Python::pyenv("3.8.18"),
            py3_11 => Python::pyenv("3.11.7"),
            py3_13 => Python::pyenv("3.13.0"),
            debian_static => Python::debian(),
        );
    }
}

// ---------------------------------------------------------------------- exec

fn exec_other(py: &Python) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let code = format!(
        "{}import os, pyusage_main\nprint('before', flush=True)\nos.execv('/bin/echo', ['echo', 'replaced'])\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "before\nreplaced\n");
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exec", None, None);
    r.assert_unmapped_covers(&files[0]);
    assert_eq!(t.records().len(), 1, "echo is not Python: one record");
}

fn exec_python(py: &Python) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["first", "second"]);
    let second = format!(
        "{}import pyusage_second\nprint('second')\n",
        path_line(&dir)
    );
    let code = format!(
        "{}import os, pyusage_first\nprint('first', flush=True)\nos.execv(sys.executable, [sys.executable, '-c', {second:?}])\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "first\nsecond\n");
    let recs = t.records();
    assert_eq!(
        recs.len(),
        2,
        "exec of python: two records\n{}",
        dump(&recs)
    );
    let (a, b): (Vec<&Record>, Vec<&Record>) = recs.iter().partition(|r| r.how() == "exec");
    assert_eq!((a.len(), b.len()), (1, 1), "{}", dump(&recs));
    let (first, second) = (a[0], b[0]);
    let e = py.expect(&out, &before).script(Some("-c"));
    e.check(first);
    e.check(second);
    first.assert_ended("exec", None, None);
    second.assert_ended("exit", Some(0), None);
    first.assert_unmapped_covers(&files[0]);
    second.assert_unmapped_covers(&files[1]);
    assert!(
        !first.unmapped_covers(&files[1]),
        "the exec'd program's import is in the first record"
    );
    assert!(first.0["end"].as_str() <= second.0["end"].as_str());
}

per_python!(exec_other();
    exec_other_program_3_11 => Python::pyenv("3.11.7"),
    exec_other_program_3_13 => Python::pyenv("3.13.0"),
    exec_other_program_debian_static => Python::debian(),
);
per_python!(exec_python();
    exec_python_3_11 => Python::pyenv("3.11.7"),
    exec_python_3_8 => Python::pyenv("3.8.18"),
    exec_python_debian_static => Python::debian(),
);

// ---------------------------------------------------------------------- fork

/// Parent imports `parent`, forks; the child imports `child` (or nothing)
/// and `_exit`s; the child's pid goes to a file, not to the compared output.
fn fork_case(py: &Python, child_imports: bool) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["parent", "child"]);
    let pidfile = dir.join("child.pid");
    let child_body = if child_imports {
        "    import pyusage_child\n"
    } else {
        ""
    };
    let code = format!(
        "{}import os, pyusage_parent\n\
         print('parent', flush=True)\n\
         pid = os.fork()\n\
         if pid == 0:\n\
         {child_body}\
         \x20   open({:?}, 'w').write(str(os.getpid()))\n\
         \x20   os._exit(0)\n\
         _, st = os.waitpid(pid, 0)\n\
         print('child status', st)\n",
        path_line(&dir),
        pidfile.to_str().unwrap()
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "parent\nchild status 0\n");
    let child_pid: u32 = std::fs::read_to_string(&pidfile)
        .unwrap()
        .trim()
        .parse()
        .unwrap();
    let recs = t.records();
    let parent = t.record_of(out.pid);
    let e = py.expect(&out, &before).script(Some("-c"));
    e.check(&parent);
    parent.assert_ended("exit", Some(0), None);
    parent.assert_unmapped_covers(&files[0]);
    assert!(
        !parent.unmapped_covers(&files[1]),
        "the child's import leaked into the parent's record:\n{}",
        dump(&recs)
    );
    if child_imports {
        assert_eq!(recs.len(), 2, "{}", dump(&recs));
        let child = t.record_of(child_pid);
        e.clone().fork_child(child_pid, out.pid).check(&child);
        child.assert_ended("_exit", Some(0), None);
        child.assert_unmapped_covers(&files[1]);
        assert!(
            !child.unmapped_covers(&files[0]),
            "the fork child's record must hold only what it imported itself:\n{}",
            dump(&recs)
        );
        assert_eq!(child.forks(), 0);
    } else {
        assert_eq!(
            recs.len(),
            1,
            "a fork child that imports nothing leaves no record:\n{}",
            dump(&recs)
        );
        assert_eq!(parent.forks(), 1, "the child is counted in `forks`");
    }
}

per_python!(fork_case(true);
    fork_child_imports_3_11 => Python::pyenv("3.11.7"),
    fork_child_imports_3_12 => Python::pyenv("3.12.1"),
    fork_child_imports_debian_static => Python::debian(),
);
per_python!(fork_case(false);
    fork_child_imports_nothing_3_11 => Python::pyenv("3.11.7"),
    fork_child_imports_nothing_3_12 => Python::pyenv("3.12.1"),
    fork_child_imports_nothing_3_8 => Python::pyenv("3.8.18"),
);

/// Old interpreters (no audit hook): fork and exit paths behave the same.
#[test]
fn fork_old_pythons_identical() {
    for v in ["2.7.18", "3.6.15", "3.7.16"] {
        let Some(py) = Python::pyenv(v) else {
            pyusage_tests::skip::skipped(&format!("{v} missing"));
            continue;
        };
        let t = Tracer::new();
        let code = "import os, sys, json\n\
                    sys.stdout.write('parent\\n'); sys.stdout.flush()\n\
                    pid = os.fork()\n\
                    if pid == 0:\n    import math, zlib\n    os._exit(3)\n\
                    _, st = os.waitpid(pid, 0)\n\
                    print(os.WEXITSTATUS(st))\n";
        let out = py.prog().arg("-c").arg(code).run_both(&t);
        out.assert_success();
        assert_eq!(out.stdout_str(), "parent\n3\n");
        for r in t.records() {
            assert_eq!(r.0["python"]["version"], json!(py.version));
        }
    }
}

// ----------------------------------------------------------- multiprocessing

fn multiprocessing_case(py: &Python, method: &str) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["mpmain", "worker"]);
    let script = dir.join("mpprog.py");
    std::fs::write(
        &script,
        "import multiprocessing as mp, sys\n\
         def work(q):\n\
         \x20   import pyusage_worker\n\
         \x20   q.put(pyusage_worker.NAME)\n\
         if __name__ == '__main__':\n\
         \x20   import pyusage_mpmain\n\
         \x20   ctx = mp.get_context(sys.argv[1])\n\
         \x20   q = ctx.Queue()\n\
         \x20   p = ctx.Process(target=work, args=(q,))\n\
         \x20   p.start()\n\
         \x20   got = q.get()\n\
         \x20   p.join()\n\
         \x20   print(sys.argv[1], got, p.exitcode)\n",
    )
    .unwrap();
    let before = rfc3339_now();
    let out = py.prog().arg(&script).arg(method).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), format!("{method} worker 0\n"));
    let recs = t.records();
    let main = t.record_of(out.pid);
    py.expect(&out, &before)
        .script(Some(script.to_str().unwrap()))
        .check(&main);
    main.assert_ended("exit", Some(0), None);
    main.assert_unmapped_covers(&files[0]);
    assert!(!main.unmapped_covers(&files[1]), "{}", dump(&recs));

    let pids: HashSet<u32> = recs.iter().map(|r| r.pid()).collect();
    assert_eq!(
        pids.len(),
        recs.len(),
        "two records for one pid:\n{}",
        dump(&recs)
    );
    for r in &recs {
        assert!(
            matches!(r.how(), "exit" | "_exit") && r.status() == Some(0),
            "every process here ends cleanly:\n{}",
            dump(&recs)
        );
    }
    let workers: Vec<&Record> = recs
        .iter()
        .filter(|r| r.unmapped_covers(&files[1]))
        .collect();
    assert_eq!(
        workers.len(),
        1,
        "one worker imported pyusage_worker:\n{}",
        dump(&recs)
    );
    let w = workers[0];
    assert_ne!(w.pid(), out.pid);
    match method {
        "fork" => {
            assert_eq!(w.forked_from(), Some(out.pid), "{}", dump(&recs));
            assert_eq!(w.0["ppid"], json!(out.pid));
            w.assert_ended("_exit", Some(0), None);
            assert!(!w.unmapped_covers(&files[0]), "{}", dump(&recs));
        }
        "spawn" => {
            assert_eq!(w.forked_from(), None, "a spawned worker is a new process");
            assert_eq!(w.0["ppid"], json!(out.pid));
            assert_eq!(w.0["script"], json!("-c"));
        }
        "forkserver" => {
            let server = w
                .forked_from()
                .unwrap_or_else(|| panic!("a forkserver worker is a fork child:\n{}", dump(&recs)));
            let s = recs
                .iter()
                .find(|r| r.pid() == server)
                .unwrap_or_else(|| panic!("no record of the fork server:\n{}", dump(&recs)));
            assert_eq!(s.0["ppid"], json!(out.pid));
            assert_eq!(s.forked_from(), None);
        }
        _ => unreachable!(),
    }
}

per_python!(multiprocessing_case("fork");
    mp_fork_3_11 => Python::pyenv("3.11.7"),
    mp_fork_3_12 => Python::pyenv("3.12.1"),
);
per_python!(multiprocessing_case("forkserver");
    mp_forkserver_3_11 => Python::pyenv("3.11.7"),
    mp_forkserver_3_13 => Python::pyenv("3.13.0"),
);
per_python!(multiprocessing_case("spawn");
    mp_spawn_3_11 => Python::pyenv("3.11.7"),
    mp_spawn_3_13 => Python::pyenv("3.13.0"),
);

// ---------------------------------------------------------------- subprocess

fn subprocess_case(py: &Python) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let code = format!(
        "{}import subprocess, pyusage_main\n\
         r = subprocess.run(['true'])\n\
         print('true ->', r.returncode)\n\
         r = subprocess.run(['sh', '-c', 'echo from sh; exit 4'], capture_output=True)\n\
         print(r.returncode, r.stdout)\n\
         r = subprocess.run(['false'])\n\
         print('false ->', r.returncode)\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "true -> 0\n4 b'from sh\\n'\nfalse -> 1\n");
    let recs = t.records();
    assert_eq!(
        recs.len(),
        1,
        "exactly one record, the python's:\n{}",
        dump(&recs)
    );
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exit", Some(0), None);
    r.assert_unmapped_covers(&files[0]);
    assert!(t.runtime_files().len() <= 1);
}

per_python!(subprocess_case();
    subprocess_vfork_3_10 => Python::pyenv("3.10.13"),
    subprocess_vfork_3_11 => Python::pyenv("3.11.7"),
    subprocess_vfork_3_12 => Python::pyenv("3.12.1"),
    subprocess_vfork_3_13 => Python::pyenv("3.13.0"),
    subprocess_vfork_debian_static => Python::debian(),
    subprocess_fork_exec_3_8 => Python::pyenv("3.8.18"),
);

/// A python child of a python: its own record, `ppid` = the parent.
#[test]
fn subprocess_python_child() {
    let py = or_skip!(py311(), "3.11.7 missing");
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main", "kid"]);
    let kid = format!("{}import pyusage_kid\nprint('kid')\n", path_line(&dir));
    let code = format!(
        "{}import subprocess, pyusage_main\n\
         subprocess.run([sys.executable, '-c', {kid:?}], check=True)\n\
         print('done')\n",
        path_line(&dir)
    );
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    let recs = t.records();
    assert_eq!(recs.len(), 2, "{}", dump(&recs));
    let main = t.record_of(out.pid);
    let kid = recs.iter().find(|r| r.pid() != out.pid).unwrap();
    main.assert_unmapped_covers(&files[0]);
    assert!(!main.unmapped_covers(&files[1]));
    kid.assert_unmapped_covers(&files[1]);
    assert!(!kid.unmapped_covers(&files[0]));
    assert_eq!(kid.0["ppid"], json!(out.pid));
    assert_eq!(kid.forked_from(), None);
    kid.assert_ended("exit", Some(0), None);
}

// ------------------------------------------------- deaths, finished by sweep

const SLEEPER: &str = "import os, sys, signal, time\n\
    signal.signal(signal.SIGINT, signal.default_int_handler)\n\
    signal.signal(signal.SIGTERM, signal.SIG_DFL)\n\
    import pyusage_main\n\
    print('ready', flush=True)\n\
    time.sleep(600)\n";

/// Start the sleeper, wait for "ready", send `sig`, collect the outcome.
fn kill_run(prog: &Prog, t: Option<&Tracer>, sig: i32) -> Outcome {
    let mut run = match t {
        Some(t) => prog.spawn_traced(t),
        None => prog.spawn_plain(),
    };
    run.wait_for_line("ready");
    run.wait_sleeping();
    run.kill(sig);
    run.finish()
}

/// The process died without shipping; the sweep ships its raw record once.
fn swept_death(py: &Python, sig: i32) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let code = format!("{}{SLEEPER}", path_line(&dir));
    let prog = py.prog().arg("-c").arg(&code);
    let plain = kill_run(&prog, None, sig);
    let before = rfc3339_now();
    let out = kill_run(&prog, Some(&t), sig);
    out.assert_same_as(&plain, &format!("signal {sig}"));
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(sig), "{out:?}");
    settle_and_sweep(py, &t, &out, &before, sig, &files[0]);
}

fn settle_and_sweep(py: &Python, t: &Tracer, out: &Outcome, before: &str, sig: i32, file: &Path) {
    if sig == libc::SIGINT && !t.spool_files().is_empty() {
        // Python handles SIGINT (KeyboardInterrupt), finalises, then kills
        // itself with SIGINT: a tracer may ship during that itself, but only
        // as a signal death.
        let r = t.record_of(out.pid);
        assert_eq!((r.how(), r.signal()), ("signal", Some(sig as i64)), "{r:?}");
    } else {
        assert!(
            t.spool_files().is_empty(),
            "a process killed by signal {sig} cannot ship its own record, yet: {:?}",
            t.spool_files()
        );
        assert!(
            !t.runtime_files().is_empty(),
            "the raw record must stay in the runtime dir after signal {sig}"
        );
        t.sweep();
    }
    let r = t.record_of(out.pid);
    py.expect(out, before).swept().script(Some("-c")).check(&r);
    match r.how() {
        "vanished" => assert_eq!(r.signal(), None, "{r:?}"),
        "signal" => assert_eq!(r.signal(), Some(sig as i64), "{r:?}"),
        other => r.fail(&format!("ended.how {other:?}: want vanished or signal")),
    }
    assert_eq!(r.status(), None, "{r:?}");
    r.assert_unmapped_covers(file);
    // A second sweep ships nothing again.
    let spool = t.spool_files();
    t.sweep();
    assert_eq!(t.spool_files(), spool, "the second sweep shipped again");
    assert_eq!(t.records().len(), 1);
}

per_python!(swept_death(libc::SIGTERM);
    sigterm_3_11 => Python::pyenv("3.11.7"),
    sigterm_debian_static => Python::debian(),
);
per_python!(swept_death(libc::SIGINT);
    sigint_3_11 => Python::pyenv("3.11.7"),
    sigint_3_13 => Python::pyenv("3.13.0"),
);
per_python!(swept_death(libc::SIGKILL);
    sigkill_3_11 => Python::pyenv("3.11.7"),
    sigkill_3_8 => Python::pyenv("3.8.18"),
);

/// Seconds since the epoch of a record timestamp (`2026-11-26T06:30:00.123456Z`).
fn unix_secs(v: &serde_json::Value) -> f64 {
    let t = v.as_str().expect("timestamp string");
    let num = |r: std::ops::Range<usize>| t[r].parse::<i64>().expect("digits");
    let (y, m, d) = (num(0..4), num(5..7), num(8..10));
    // Days from civil (proleptic Gregorian).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + d - 1;
    let days = era * 146_097 + yoe * 365 + yoe / 4 - yoe / 100 + doy - 719_468;
    let secs = days * 86_400 + num(11..13) * 3600 + num(14..16) * 60;
    secs as f64 + t[17..t.len() - 1].parse::<f64>().expect("seconds")
}

/// Issue 13: a process killed after running a while must not read as if it
/// ended when it started. A SIGKILLed process cannot say when it died; the
/// sweep dates its end by the latest evidence the record holds (docs/record.md,
/// "Duration of a vanished process"): here an import 1.5 s after the start.
fn killed_after_a_while(py: &Python) {
    // On tmpfs, as in production: there a page of the record that has been
    // written once no longer moves the file's mtime (on disk it does), so
    // the mtime alone would date this end ~1.5 s early.
    let shm = or_skip!(
        tempfile::Builder::new()
            .prefix("pyusage-test-")
            .tempdir_in("/dev/shm")
            .ok(),
        "no /dev/shm"
    );
    let t = Tracer::new().with_runtime_dir(shm.path());
    let (dir, files) = mods(&t, &["main", "late"]);
    let code = format!(
        "{}import time\nimport pyusage_main\ntime.sleep(1.5)\nimport pyusage_late\n\
         print('ready', flush=True)\ntime.sleep(600)\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = kill_run(&py.prog().arg("-c").arg(&code), Some(&t), libc::SIGKILL);
    assert!(t.spool_files().is_empty(), "a SIGKILLed process shipped");
    t.sweep();
    let after = rfc3339_now();
    let r = t.record_of(out.pid);
    assert_eq!(r.how(), "vanished", "{r:?}");
    r.assert_unmapped_covers(&files[1]);
    let (start, end) = (unix_secs(&r.0["start"]), unix_secs(&r.0["end"]));
    assert!(
        end - start >= 1.5,
        "ran 1.5 s before its last import, yet start {} end {}",
        r.0["start"],
        r.0["end"]
    );
    assert!(r.0["start"].as_str().unwrap() >= before.as_str(), "{r:?}");
    assert!(r.0["end"].as_str().unwrap() <= after.as_str(), "{r:?}");
}

per_python!(killed_after_a_while();
    killed_after_a_while_3_11 => Python::pyenv("3.11.7"),
    killed_after_a_while_debian_static => Python::debian(),
);

fn abort_case(py: &Python) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let code = format!(
        "{}import os, resource\n\
         resource.setrlimit(resource.RLIMIT_CORE, (0, 0))\n\
         import pyusage_main\n\
         print('aborting', flush=True)\n\
         os.abort()\n",
        path_line(&dir)
    );
    let prog = py.prog().arg("-c").arg(&code).cwd(&dir);
    let before = rfc3339_now();
    let out = prog.run_both(&t);
    use std::os::unix::process::ExitStatusExt;
    assert_eq!(out.status.signal(), Some(libc::SIGABRT), "{out:?}");
    settle_and_sweep(py, &t, &out, &before, libc::SIGABRT, &files[0]);
}

per_python!(abort_case();
    abort_3_11 => Python::pyenv("3.11.7"),
    abort_debian_static => Python::debian(),
);

/// The sweep leaves a live process's raw record alone; that process then
/// ships its own record, and a later sweep does not ship it again.
#[test]
fn sweep_spares_live_process() {
    let py = or_skip!(py311(), "3.11.7 missing");
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main"]);
    let go = dir.join("go");
    let code = format!(
        "{}import os, time, pyusage_main\n\
         print('ready', flush=True)\n\
         while not os.path.exists({:?}):\n    time.sleep(0.01)\n\
         print('done')\n",
        path_line(&dir),
        go.to_str().unwrap()
    );
    let prog = py.prog().arg("-c").arg(&code);
    std::fs::write(&go, "").unwrap();
    let plain = prog.run_plain();
    std::fs::remove_file(&go).unwrap();

    let before = rfc3339_now();
    let mut run = prog.spawn_traced(&t);
    run.wait_for_line("ready");
    let raw_before: Vec<(PathBuf, Vec<u8>)> = t
        .runtime_files()
        .into_iter()
        .map(|p| {
            let b = std::fs::read(&p).unwrap();
            (p, b)
        })
        .collect();
    assert!(
        !raw_before.is_empty(),
        "no raw record while the process runs"
    );
    t.sweep();
    assert!(
        t.spool_files().is_empty(),
        "the sweep shipped a live process's record: {:?}",
        t.spool_files()
    );
    for (p, b) in &raw_before {
        let now = std::fs::read(p).unwrap_or_else(|e| {
            panic!("the sweep removed the live raw record {}: {e}", p.display())
        });
        assert!(
            now == *b,
            "the sweep changed the live raw record {}",
            p.display()
        );
    }
    std::fs::write(&go, "").unwrap();
    let out = run.finish();
    out.assert_same_as(&plain, "sleeping python");
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exit", Some(0), None);
    r.assert_unmapped_covers(&files[0]);
    t.sweep();
    assert_eq!(t.records().len(), 1, "{}", dump(&t.records()));
}

// ------------------------------------------------------ exec edge cases

/// A failed `exec` (the `os.exec` audit event fires before the call) must
/// not end the record: the process goes on and exits normally.
fn failed_exec(py: &Python) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main", "after"]);
    let code = format!(
        "{}import os, pyusage_main\n\
         try:\n    os.execv('/nonexistent/pyusage-no-such-program', ['x'])\n\
         except OSError as e:\n    print('exec failed', e.errno)\n\
         import pyusage_after\n\
         print('still here')\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "exec failed 2\nstill here\n");
    let recs = t.records();
    assert_eq!(recs.len(), 1, "{}", dump(&recs));
    let r = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&r);
    r.assert_ended("exit", Some(0), None);
    r.assert_unmapped_covers(&files[0]);
    r.assert_unmapped_covers(&files[1]);
}

per_python!(failed_exec();
    failed_exec_3_11 => Python::pyenv("3.11.7"),
    failed_exec_debian_static => Python::debian(),
);

/// fork, then exec in the child (what `subprocess` did before vfork): the
/// child that imported nothing must not ship the parent's record; an exec'd
/// python gets a record of its own.
fn fork_then_exec(py: &Python, exec_python: bool) {
    let t = Tracer::new();
    let (dir, files) = mods(&t, &["main", "kid"]);
    let kid = format!("{}import pyusage_kid\nprint('kid')\n", path_line(&dir));
    let exec = if exec_python {
        format!("os.execv(sys.executable, [sys.executable, '-c', {kid:?}])")
    } else {
        "os.execv('/bin/echo', ['echo', 'kid'])".to_owned()
    };
    let code = format!(
        "{}import os, pyusage_main\n\
         print('parent', flush=True)\n\
         pid = os.fork()\n\
         if pid == 0:\n    {exec}\n\
         _, st = os.waitpid(pid, 0)\n\
         print('status', st)\n",
        path_line(&dir)
    );
    let before = rfc3339_now();
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "parent\nkid\nstatus 0\n");
    let recs = t.records();
    assert_eq!(
        recs.len(),
        if exec_python { 2 } else { 1 },
        "{}",
        dump(&recs)
    );
    let parent = t.record_of(out.pid);
    py.expect(&out, &before).script(Some("-c")).check(&parent);
    parent.assert_ended("exit", Some(0), None);
    parent.assert_unmapped_covers(&files[0]);
    assert!(!parent.unmapped_covers(&files[1]), "{}", dump(&recs));
    assert_eq!(parent.forks(), 1, "{}", dump(&recs));
    if exec_python {
        let k = recs.iter().find(|r| r.pid() != out.pid).unwrap();
        assert_eq!(k.0["ppid"], json!(out.pid));
        assert_eq!(k.forked_from(), None, "an exec'd python starts afresh");
        k.assert_ended("exit", Some(0), None);
        k.assert_unmapped_covers(&files[1]);
        assert!(!k.unmapped_covers(&files[0]), "{}", dump(&recs));
    }
}

per_python!(fork_then_exec(false);
    fork_then_exec_other_3_11 => Python::pyenv("3.11.7"),
);
per_python!(fork_then_exec(true);
    fork_then_exec_python_3_11 => Python::pyenv("3.11.7"),
    fork_then_exec_python_3_8 => Python::pyenv("3.8.18"),
);

// ------------------------------------------------------------------ threads

/// Threads importing at once: every module is recorded, nothing breaks.
fn threads_import(py: &Python) {
    let t = Tracer::new();
    let dir = t.scratch("threads");
    let mut files = Vec::new();
    for i in 0..48 {
        files.push(package(&dir, &format!("pyusage_thr_{i:02}"), &format!("N = {i}\n")).0);
    }
    let code = format!(
        "{}import threading, importlib\n\
         out = [0] * 8\n\
         def run(k):\n    out[k] = sum(importlib.import_module('pyusage_thr_%02d' % i).N for i in range(k, 48, 8))\n\
         ts = [threading.Thread(target=run, args=(k,)) for k in range(8)]\n\
         [x.start() for x in ts]\n[x.join() for x in ts]\n\
         print(sum(out))\n",
        path_line(&dir)
    );
    let out = py.prog().arg("-c").arg(&code).run_both(&t);
    out.assert_success();
    assert_eq!(out.stdout_str(), "1128\n");
    let r = t.record_of(out.pid);
    r.assert_ended("exit", Some(0), None);
    assert_eq!(r.0["truncated"], json!(false), "{r:?}");
    for f in &files {
        r.assert_unmapped_covers(f);
    }
}

per_python!(threads_import();
    threads_import_3_12 => Python::pyenv("3.12.1"),
    threads_import_3_13 => Python::pyenv("3.13.0"),
);

// ------------------------------------------------- hostile raw records

/// Raw records are written by users' processes: the sweep treats them as
/// hostile. Garbage, empty, truncated and bit-flipped files of a dead pid:
/// no panic, valid JSON only in the spool, and every bad file either
/// shipped or quarantined (never silently dropped), with a message naming it.
#[test]
fn sweep_survives_hostile_raw_records() {
    let py = or_skip!(py311(), "3.11.7 missing");
    // A genuine raw record, left by a SIGKILLed process.
    let donor = Tracer::new();
    let (dir, _) = mods(&donor, &["main"]);
    let prog = py
        .prog()
        .arg("-c")
        .arg(format!("{}{SLEEPER}", path_line(&dir)));
    let out = kill_run(&prog, Some(&donor), libc::SIGKILL);
    let raw_files = donor.runtime_files();
    assert_eq!(raw_files.len(), 1, "{raw_files:?}");
    let genuine = std::fs::read(&raw_files[0]).unwrap();
    let dead = out.pid;

    let mut lcg: u64 = 0x2545_f491_4f6c_dd1d;
    let mut noise = |n: usize| -> Vec<u8> {
        (0..n)
            .map(|_| {
                lcg = lcg.wrapping_mul(6_364_136_223_846_793_005).wrapping_add(1);
                (lcg >> 33) as u8
            })
            .collect()
    };
    let mut flipped = genuine.clone();
    for i in (300..flipped.len().min(4000)).step_by(7) {
        flipped[i] ^= 0x5a;
    }
    let mut huge_len = genuine.clone();
    for b in &mut huge_len[8..64] {
        *b = 0xff;
    }
    let cases: Vec<(&str, Vec<u8>)> = vec![
        ("garbage", noise(65536)),
        ("empty", Vec::new()),
        ("header-only", genuine[..256.min(genuine.len())].to_vec()),
        ("short", genuine[..100.min(genuine.len())].to_vec()),
        ("flipped", flipped),
        ("huge-lengths", huge_len),
    ];
    let t = Tracer::new();
    let mut names = Vec::new();
    for (i, (what, bytes)) in cases.iter().enumerate() {
        let id = format!("{:032x}", 0xbad0_0000u64 + i as u64);
        let name = format!("rec-{dead}-{id}.bin");
        let path = t.runtime.join(&name);
        std::fs::write(&path, bytes).unwrap();
        // Old enough that the sweep does not take it for a record its
        // writer is still setting up.
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(3600);
        std::fs::File::options()
            .write(true)
            .open(&path)
            .unwrap()
            .set_modified(old)
            .unwrap();
        names.push((*what, name, id));
    }
    // Several files share the genuine header (and its id): at most one of
    // them is shipped, the others are "already shipped" or quarantined.
    let out = std::process::Command::new(pyusage_tests::artifacts::pyusage())
        .arg("sweep")
        .arg("--runtime-dir")
        .arg(&t.runtime)
        .arg("--spool")
        .arg(&t.spool)
        .env("PYUSAGE_CONFIG", &t.config)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.code().is_some() && out.status.code() != Some(101),
        "pyusage sweep crashed on hostile input: {:?}\n{stderr}",
        out.status
    );
    let recs = t.records(); // each one schema-valid
    let quarantine = t.runtime.join("quarantine");
    for (what, name, _) in &names {
        let quarantined = quarantine.join(name).exists();
        let shipped = !t.runtime.join(name).exists() && !recs.is_empty();
        assert!(
            shipped || quarantined,
            "{what} raw record {name}: neither shipped nor quarantined (spool {:?}, runtime {:?})\n{stderr}",
            t.spool_files(),
            t.runtime_files()
        );
        if quarantined {
            assert!(
                stderr.contains(name.as_str()),
                "no message names {name}:\n{stderr}"
            );
        }
    }
}
