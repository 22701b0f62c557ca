//! No user can harm another user's records: each attack on the shared
//! runtime directory and spool, reproduced with two real unprivileged uids
//! (`setpriv`), and shown to fail. Also a full runtime tmpfs (a real tmpfs
//! mounted for the test), which must not cost the record.
//!
//! The victim runs Debian's `/usr/bin/python3.11`: pyenv's interpreters live
//! under `/root`, which other uids cannot enter.

use pyusage_tests::python::Python;
use pyusage_tests::{dump, is_root, or_skip, skip, Prog, Running, Tracer};
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The attacker and the victim: two uids with no passwd entries, no groups.
const MALLORY: u32 = 4242;
const VICTIM: u32 = 4343;

/// A tracer whose directories other uids can use: the temp root and the
/// spool world-writable and sticky, as a site's spool is (1733 or 1777).
fn shared_tracer() -> Tracer {
    let t = Tracer::new();
    let root = t.spool.parent().unwrap().to_path_buf();
    for dir in [&root, &t.spool] {
        fs::set_permissions(dir, fs::Permissions::from_mode(0o1777)).unwrap();
    }
    t
}

const SETPRIV: &str = "/usr/bin/setpriv";

/// `setpriv`'s arguments to become `uid` (and gid), with no supplementary
/// groups, up to the program.
fn setpriv_to(uid: u32) -> [String; 4] {
    [
        format!("--reuid={uid}"),
        format!("--regid={uid}"),
        "--clear-groups".to_owned(),
        "--".to_owned(),
    ]
}

/// `program` run as `uid`.
fn as_uid(uid: u32, program: &Path) -> Prog {
    Prog::new(SETPRIV).args(setpriv_to(uid)).arg(program)
}

/// Runs a shell command as `uid`, untraced; panics if it fails.
fn sh_as(uid: u32, script: &str) {
    let st = Command::new(SETPRIV)
        .args(setpriv_to(uid))
        .args(["/bin/sh", "-c", script])
        .status()
        .unwrap();
    assert!(st.success(), "as uid {uid}: {script}");
}

/// `go`, the file a waiting program waits for, in a scratch directory every
/// uid can look into.
fn go_file(t: &Tracer) -> PathBuf {
    let sync = t.scratch("sync");
    fs::set_permissions(&sync, fs::Permissions::from_mode(0o755)).unwrap();
    sync.join("go")
}

/// Python code that prints `ready` once its record exists (it imports),
/// waits until `go` exists, then runs `then`.
fn wait_code(go: &Path, then: &str) -> String {
    format!(
        "import json, os, time\nprint('ready', flush=True)\n\
         while not os.path.exists({:?}):\n    time.sleep(0.01)\n{then}",
        go.to_str().unwrap()
    )
}

/// A victim program (as `uid`) that waits for `go` and exits normally.
fn waiter(py: &Python, uid: u32, go: &Path) -> Prog {
    as_uid(uid, &py.path).arg("-c").arg(wait_code(go, ""))
}

/// Lets a waiting victim finish; returns its outcome.
fn release(run: Running, go: &Path) -> pyusage_tests::Outcome {
    fs::write(go, "").unwrap();
    let out = run.finish();
    out.assert_success();
    out
}

/// The files in `dir` (not recursive), as names.
fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = fs::read_dir(dir)
        .map(|rd| {
            rd.flatten()
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

fn victim_python() -> Option<Python> {
    Python::debian()
}

/// Mallory makes the runtime directory before anyone else, with her umask
/// (0755): nobody else can create raw records in it. The victim's process
/// still records (built in memory, shipped at exit), and puts nothing into
/// Mallory's directory.
#[test]
fn runtime_dir_made_first_by_another_user_does_not_stop_records() {
    if !is_root() {
        skip!("needs root to switch uids");
    }
    let py = or_skip!(victim_python(), "Debian's python3.11 missing");
    let t = shared_tracer();
    fs::remove_dir(&t.runtime).unwrap();
    sh_as(
        MALLORY,
        &format!("umask 022 && mkdir {:?}", t.runtime.to_str().unwrap()),
    );
    let out = as_uid(VICTIM, &py.path)
        .arg("-c")
        .arg("import json")
        .run_traced(&t);
    out.assert_success();
    let r = t.record_of(out.pid);
    assert_eq!(r.0["uid"], VICTIM, "{}", dump(&t.records()));
    assert_eq!(names(&t.runtime), Vec::<String>::new());
}

/// Mallory's runtime directory is world-writable and sticky, but hers: as
/// its owner she could delete the victim's raw record. The victim's running
/// process keeps its record out of it (so a kill would lose it, but Mallory
/// cannot), and its normal exit ships it.
#[test]
fn runtime_dir_owned_by_another_user_is_not_trusted() {
    if !is_root() {
        skip!("needs root to switch uids");
    }
    let py = or_skip!(victim_python(), "Debian's python3.11 missing");
    let t = shared_tracer();
    fs::remove_dir(&t.runtime).unwrap();
    sh_as(
        MALLORY,
        &format!(
            "mkdir {0:?} && chmod 1777 {0:?}",
            t.runtime.to_str().unwrap()
        ),
    );
    let go = go_file(&t);
    let mut run = waiter(&py, VICTIM, &go).spawn_traced(&t);
    run.wait_for_line("ready");
    assert_eq!(
        names(&t.runtime),
        Vec::<String>::new(),
        "the victim's raw record is in a directory another user owns"
    );
    let out = release(run, &go);
    assert_eq!(t.record_of(out.pid).0["uid"], VICTIM);
}

/// The runtime directory is listable by everyone, so a raw record's file
/// name must not tell its record id (which names the shipped file).
#[test]
fn raw_record_names_do_not_reveal_record_ids() {
    let py = or_skip!(victim_python(), "Debian's python3.11 missing");
    let t = Tracer::new();
    let go = go_file(&t);
    let code = wait_code(&go, "");
    let mut run = py.prog().arg("-c").arg(code).spawn_traced(&t);
    run.wait_for_line("ready");
    let raw = names(&t.runtime);
    assert_eq!(raw.len(), 1, "{raw:?}");
    let out = release(run, &go);
    let id = t.record_of(out.pid).0["id"].as_str().unwrap().to_owned();
    assert!(
        !raw[0].contains(&id) && !raw[0].contains(&id[..16]) && !raw[0].contains(&id[16..]),
        "raw record {} reveals id {id}",
        raw[0]
    );
}

/// Mallory knows the victim's record id (here, root reads it for her: the
/// raw file is 0600 and its name no longer says) and plants
/// `<spool>/<id>.json` first. The victim's process must not take the taken
/// name for "already shipped": its raw record stays, and the root sweep
/// quarantines the impostor and ships the real record.
#[test]
fn planted_spool_name_does_not_suppress_a_record() {
    if !is_root() {
        skip!("needs root to switch uids");
    }
    let py = or_skip!(victim_python(), "Debian's python3.11 missing");
    let t = shared_tracer();
    fs::set_permissions(&t.runtime, fs::Permissions::from_mode(0o1777)).unwrap();
    let go = go_file(&t);
    let mut run = waiter(&py, VICTIM, &go).spawn_traced(&t);
    run.wait_for_line("ready");
    let raw: Vec<PathBuf> = t.runtime_files();
    assert_eq!(raw.len(), 1, "{raw:?}");
    let id = raw_id(&raw[0]);
    let planted = t.spool.join(format!("{id}.json"));
    sh_as(
        MALLORY,
        &format!(
            "echo '{{\"fake\": true}}' > {:?}",
            planted.to_str().unwrap()
        ),
    );
    let out = release(run, &go);
    assert_eq!(
        fs::read_to_string(&planted).unwrap(),
        "{\"fake\": true}\n",
        "the impostor was replaced by the tracer?"
    );
    assert!(
        raw[0].exists(),
        "the victim's raw record was deleted as if shipped"
    );

    let swept = t.sweep();
    let quarantine = t.runtime.join("quarantine");
    let held = names(&quarantine);
    assert!(
        held.iter().any(|n| n.starts_with(&format!("{id}.json"))),
        "impostor not quarantined: {held:?}\n{}",
        String::from_utf8_lossy(&swept.stderr)
    );
    let r = t.record_of(out.pid);
    assert_eq!(
        (r.0["id"].as_str(), &r.0["uid"]),
        (Some(&*id), &VICTIM.into())
    );
    assert_eq!(
        fs::metadata(t.spool.join(format!("{id}.json")))
            .unwrap()
            .uid(),
        0
    );
    assert!(t.runtime_files().iter().all(|p| p.starts_with(&quarantine)));
}

/// The record id from a raw record's header (bytes 40..56, see
/// record/src/raw.rs), as 32 hex digits.
fn raw_id(path: &Path) -> String {
    let bytes = fs::read(path).unwrap();
    let rec = pyusage_record::raw::RawRecord::parse(&bytes).expect("a raw record");
    String::from_utf8(rec.id_hex().to_vec()).unwrap()
}

/// A full runtime tmpfs (DataLoader and MPI shared memory fill /dev/shm):
/// the record is built in memory and shipped at exit, not lost.
#[test]
fn full_runtime_tmpfs_still_records() {
    if !is_root() {
        skip!("needs root to mount a tmpfs");
    }
    let py = or_skip!(Python::pyenv("3.11.7"), "3.11.7 missing");
    let t = Tracer::new();
    let mount = TmpfsMount::new(&t.runtime, "size=64k");
    // Fill it: nothing more can be allocated there.
    let _ = fs::write(t.runtime.join("filler"), vec![0u8; 128 * 1024]);
    assert!(
        fs::write(t.runtime.join("more"), vec![0u8; 8192]).is_err(),
        "the tmpfs is not full"
    );
    let out = py.prog().arg("-c").arg("import json").run_traced(&t);
    out.assert_success();
    t.record_of(out.pid).assert_ended("exit", Some(0), None);
    let left: Vec<String> = names(&t.runtime)
        .into_iter()
        .filter(|n| n.starts_with("rec-"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    drop(mount);
}

/// A tmpfs mounted on a test directory, unmounted on drop.
struct TmpfsMount(PathBuf);

impl TmpfsMount {
    fn new(at: &Path, options: &str) -> TmpfsMount {
        let st = Command::new("mount")
            .args(["-t", "tmpfs", "-o", options, "tmpfs"])
            .arg(at)
            .status()
            .unwrap();
        assert!(st.success(), "mount tmpfs on {}", at.display());
        fs::set_permissions(at, fs::Permissions::from_mode(0o1777)).unwrap();
        TmpfsMount(at.to_path_buf())
    }
}

impl Drop for TmpfsMount {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg(&self.0).status();
    }
}

/// The venv's interpreter and a private copy of its package map (the shared
/// one must stay intact for the other tests).
fn venv_with_own_map(t_dir: &Path) -> Option<(Python, PathBuf)> {
    let py = match pyusage_tests::fixtures::venv_python() {
        Ok(p) => p,
        Err(e) => skip!("the test virtualenv is unavailable: {e}"),
    };
    let shared = pyusage_tests::fixtures::venv_map().expect("venv exists, so the map is built");
    let map = t_dir.join("map.bin");
    fs::copy(shared, &map).unwrap();
    Some((Python::at(&py)?, map))
}

/// An admin copies a new map over the one in use (`cp new.map map.bin`:
/// truncate, then write) while Python processes run. They must neither die
/// (a read past a truncated mapping is SIGBUS) nor resolve through the
/// half-written file: the map they loaded is theirs.
#[test]
fn map_changed_in_place_harms_no_running_process() {
    let t = Tracer::new();
    let dir = t.scratch("maps");
    let (py, map) = or_skip!(venv_with_own_map(&dir), "venv python missing");
    let t = t.with_map(&map);
    let go = go_file(&t);
    let code = wait_code(&go, "import six, yaml\nprint(six.PY3)\n");
    let mut run = py.prog().arg("-c").arg(code).spawn_traced(&t);
    run.wait_for_line("ready");
    // cp's way: truncate in place, then write something else, shorter.
    let mut perms = fs::metadata(&map).unwrap().permissions();
    perms.set_mode(0o644);
    fs::set_permissions(&map, perms).unwrap();
    fs::write(&map, vec![0x5au8; 100]).unwrap();
    let out = release(run, &go);
    assert_eq!(out.stdout_str(), "ready\nTrue\n");
    let r = t.record_of(out.pid);
    r.assert_ended("exit", Some(0), None);
    for name in ["six", "PyYAML"] {
        assert!(
            r.package(name).is_some(),
            "{name} not resolved through the map loaded at start:\n{}",
            dump(&t.records())
        );
    }
}

/// `pyusage map build` writes maps read-only; with `--immutable` nobody,
/// root included, can change the map in place (so the tracer may map it
/// instead of copying it), and the next build still replaces it.
#[test]
fn immutable_map_cannot_be_changed_in_place_but_is_replaced_by_a_build() {
    if !is_root() {
        skip!("needs root to set the immutable attribute");
    }
    let py = match pyusage_tests::fixtures::venv_python() {
        Ok(p) => p,
        Err(e) => skip!("the test virtualenv is unavailable: {e}"),
    };
    let t = Tracer::new();
    let map = t.scratch("maps").join("map.bin");
    let _cleanup = LiftImmutable(map.clone());
    let build = |extra: &[&str]| {
        let out = Command::new(pyusage_tests::artifacts::pyusage())
            .args(["map", "build", "--quiet", "--output"])
            .arg(&map)
            .arg("--python")
            .arg(&py)
            .args(extra)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        fs::metadata(&map).unwrap()
    };
    let first = build(&["--immutable"]);
    assert_eq!(first.permissions().mode() & 0o777, 0o444);
    assert!(
        fs::OpenOptions::new().write(true).open(&map).is_err(),
        "root could open an immutable map for writing"
    );
    let second = build(&[]);
    assert_ne!(first.ino(), second.ino(), "not replaced by rename");
    assert_eq!(second.permissions().mode() & 0o777, 0o444);
    let third = build(&["--immutable"]);
    assert_ne!(second.ino(), third.ino());
    // The tracer resolves through it.
    let t = t.with_map(&map);
    let out = Python::at(&py)
        .unwrap()
        .prog()
        .args(["-c", "import six"])
        .run_traced(&t);
    out.assert_success();
    assert!(t.record_of(out.pid).package("six").is_some());
}

/// Lifts the immutable attribute on drop, so the temp dir can be removed.
struct LiftImmutable(PathBuf);

impl Drop for LiftImmutable {
    fn drop(&mut self) {
        let _ = Command::new("chattr").arg("-i").arg(&self.0).status();
    }
}
