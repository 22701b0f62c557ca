//! The spool sink with the real tracer: flat and fan-out layouts
//! (`pyusage spool init`), a user's symlink and directory planted in the
//! spool, and a read-only or full spool (the process is unharmed and the raw
//! record stays for `pyusage sweep`).

use pyusage_tests::cli::{chown, names};
use pyusage_tests::fixtures::package;
use pyusage_tests::python::Python;
use pyusage_tests::{artifacts, is_root, or_skip, skip, Outcome, Prog, Record, Tracer};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

fn python() -> Option<Python> {
    Python::debian().or_else(|| Python::pyenv("3.11.7"))
}

/// A program that imports a package of its own (so a raw record is made),
/// prints `ready`, then sleeps `sleep` seconds.
fn prog(py: &Python, t: &Tracer, sleep: u32) -> (Prog, PathBuf) {
    let dir = t.scratch("mods");
    let (init, _) = package(&dir, "pyusage_spooltest", "X = 1\n");
    let code = format!(
        "import sys, time\nsys.path.insert(0, {:?})\nimport pyusage_spooltest\n\
         print('ready', flush=True)\ntime.sleep({sleep})\n",
        dir.to_str().unwrap()
    );
    (py.prog().arg("-c").arg(code), init)
}

fn spool_init(dir: &Path) -> std::process::Output {
    std::process::Command::new(artifacts::pyusage())
        .arg("spool")
        .arg("init")
        .arg(dir)
        .output()
        .expect("run pyusage spool init")
}

/// Every `.json` file under `dir`, through real directories only (a
/// planted symlink is not followed, as writers must not follow it).
fn json_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let t = e.file_type().unwrap();
        if t.is_dir() {
            out.extend(json_files(&e.path()));
        } else if t.is_file() && e.path().extension().is_some_and(|x| x == "json") {
            out.push(e.path());
        }
    }
    out
}

/// Where the record of `pid` landed, relative to the spool, and its id.
fn landed(t: &Tracer, pid: u32) -> (PathBuf, String) {
    let found: Vec<(PathBuf, Record)> = json_files(&t.spool)
        .into_iter()
        .map(|p| (p.clone(), Record::load(&p)))
        .filter(|(_, r)| r.pid() == pid)
        .collect();
    assert_eq!(found.len(), 1, "record of pid {pid}: {found:?}");
    let id = found[0].1 .0["id"].as_str().unwrap().to_string();
    (found[0].0.strip_prefix(&t.spool).unwrap().to_path_buf(), id)
}

/// A process that exits, and one killed and swept, both land in `where_`.
fn exit_and_sweep(py: &Python, t: &Tracer, fan_out: bool) {
    let (p, _) = prog(py, t, 0);
    let out = p.run_traced(t);
    assert_eq!(out.code(), 0, "{out:?}");
    let (p, _) = prog(py, t, 60);
    let mut running = p.spawn_traced(t);
    running.wait_for_line("ready");
    running.kill(libc::SIGKILL);
    let killed = running.finish();
    t.sweep();
    for (pid, how) in [(out.pid, "exit"), (killed.pid, "vanished")] {
        assert_eq!(t.record_of(pid).how(), how);
        let (path, id) = landed(t, pid);
        let want = if fan_out {
            Path::new(&id[..2]).join(format!("{id}.json"))
        } else {
            PathBuf::from(format!("{id}.json"))
        };
        assert_eq!(path, want, "pid {pid} ({how})");
    }
    assert!(t.runtime_files().is_empty(), "{:?}", t.runtime_files());
}

#[test]
fn flat_spool_gets_flat_records() {
    let py = or_skip!(python(), "no Python 3.11");
    let t = Tracer::new();
    exit_and_sweep(&py, &t, false);
}

#[test]
fn spool_init_makes_the_fan_out_and_records_go_there() {
    let py = or_skip!(python(), "no Python 3.11");
    let t = Tracer::new();
    let out = spool_init(&t.spool);
    assert!(out.status.success(), "{out:?}");
    let subs = names(&t.spool);
    assert_eq!(subs.len(), 256, "{subs:?}");
    for name in ["00", "9c", "ff"] {
        let m = fs::metadata(t.spool.join(name)).unwrap();
        assert!(m.is_dir());
        assert_eq!(m.permissions().mode() & 0o7777, 0o1733, "{name}");
    }
    assert_eq!(
        fs::metadata(&t.spool).unwrap().permissions().mode() & 0o7777,
        0o1733
    );
    // Idempotent: a second run creates nothing and resets a changed mode.
    fs::set_permissions(t.spool.join("ab"), fs::Permissions::from_mode(0o755)).unwrap();
    let again = spool_init(&t.spool);
    assert!(again.status.success(), "{again:?}");
    let text = String::from_utf8_lossy(&again.stdout);
    assert!(text.contains("0 created, 256 already there"), "{text}");
    let mode = fs::metadata(t.spool.join("ab"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o7777, 0o1733);
    exit_and_sweep(&py, &t, true);
    // Ingest reads the fan-out.
    let db = t.scratch("db").join("usage.db");
    let ing = std::process::Command::new(artifacts::pyusage())
        .arg("ingest")
        .arg("--db")
        .arg(&db)
        .arg(&t.spool)
        .output()
        .unwrap();
    assert!(ing.status.success(), "{ing:?}");
    assert!(
        String::from_utf8_lossy(&ing.stdout).contains("2 new"),
        "{}",
        String::from_utf8_lossy(&ing.stdout)
    );
}

/// A user who can write into a flat 1733 spool plants `00`..`ff` before the
/// admin runs `spool init`: symlinks to a directory of theirs, or real
/// directories they own. Neither the tracer nor the (root) sweep may write
/// into them; records go flat into the spool, and `spool init` names them.
#[test]
fn planted_fan_out_entries_are_not_followed() {
    let py = or_skip!(python(), "no Python 3.11");
    if !is_root() {
        skip!("needs root to plant directories owned by another user");
    }
    for planted in ["symlink", "foreign dir"] {
        let t = Tracer::new();
        let evil = t.scratch("evil");
        for i in 0..256 {
            let sub = t.spool.join(format!("{i:02x}"));
            if planted == "symlink" {
                std::os::unix::fs::symlink(&evil, &sub).unwrap();
            } else {
                fs::create_dir(&sub).unwrap();
                fs::set_permissions(&sub, fs::Permissions::from_mode(0o777)).unwrap();
                chown(&sub, 65534);
            }
        }
        let (p, _) = prog(&py, &t, 0);
        let out = p.run_traced(&t);
        assert_eq!(out.code(), 0, "{out:?}");
        let (p, _) = prog(&py, &t, 60);
        let mut running = p.spawn_traced(&t);
        running.wait_for_line("ready");
        running.kill(libc::SIGKILL);
        let killed = running.finish();
        t.sweep();
        for pid in [out.pid, killed.pid] {
            let (path, id) = landed(&t, pid);
            assert_eq!(path, PathBuf::from(format!("{id}.json")), "{planted}");
        }
        assert!(names(&evil).is_empty(), "{planted}: {:?}", names(&evil));
        let init = spool_init(&t.spool);
        assert_eq!(init.status.code(), Some(1), "{planted}: {init:?}");
        let err = String::from_utf8_lossy(&init.stderr);
        let want = if planted == "symlink" {
            "a symlink"
        } else {
            "a directory owned by uid 65534"
        };
        assert!(err.contains(want), "{planted}: {err}");
        assert!(err.contains("/ab: "), "{planted}: {err}");
        let kept = fs::symlink_metadata(t.spool.join("ab")).unwrap();
        assert_eq!(
            kept.file_type().is_symlink(),
            planted == "symlink",
            "left alone"
        );
    }
}

/// Runs the program with the spool replaced (in a private mount namespace)
/// by a read-only bind mount, or by a tiny tmpfs filled up.
fn in_broken_spool(py: &Python, t: &Tracer, how: &str) -> Outcome {
    let (p, _) = prog(py, t, 0);
    let dir = t.scratch("mods");
    let spool = t.spool.to_str().unwrap();
    let setup = match how {
        "read-only" => format!("mount --bind {spool} {spool} && mount -o remount,ro,bind {spool}"),
        _ => format!(
            "mount -t tmpfs -o size=16k tmpfs {spool} && \
             (dd if=/dev/zero of={spool}/fill bs=4096 count=64 2>/dev/null; true)"
        ),
    };
    let mut argv = vec![p.program().to_str().unwrap().to_string()];
    let code = format!(
        "import sys, time\nsys.path.insert(0, {:?})\nimport pyusage_spooltest\nprint('ready')\n",
        dir.to_str().unwrap()
    );
    argv.extend(["-c".to_string(), code]);
    let quoted: Vec<String> = argv
        .iter()
        .map(|a| format!("'{}'", a.replace('\'', r"'\''")))
        .collect();
    Prog::new("/usr/bin/unshare")
        .args(["-m", "--propagation", "private", "sh", "-c"])
        .arg(format!("{setup} && exec {}", quoted.join(" ")))
        .run_traced(t)
}

#[test]
fn read_only_or_full_spool_leaves_the_record_for_the_sweep() {
    let py = or_skip!(python(), "no Python 3.11");
    if !is_root() {
        skip!("needs root for a private mount namespace");
    }
    for how in ["read-only", "full"] {
        let t = Tracer::new();
        let out = in_broken_spool(&py, &t, how);
        assert_eq!(out.code(), 0, "{how}: {out:?}");
        assert_eq!(out.stdout_str(), "ready\n", "{how}");
        assert!(out.stderr.is_empty(), "{how}: {out:?}");
        assert!(t.spool_files().is_empty(), "{how}: {:?}", t.spool_files());
        let raw = t.runtime_files();
        assert_eq!(raw.len(), 1, "{how}: raw record stays: {raw:?}");
        t.sweep();
        let r = t.record_of(out.pid);
        r.assert_ended("exit", Some(0), None);
        assert!(t.runtime_files().is_empty(), "{how}");
    }
}
