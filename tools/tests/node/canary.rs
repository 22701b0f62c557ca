//! `pyusage canary` on a real installation (the tracer, Debian's python3):
//! the record arrives in the spool, or in the store after an ingest; each
//! broken stage makes it exit 1 saying where the record stopped.

use crate::setup::Setup;
use pyusage_tests::cli::*;
use pyusage_tests::{is_root, skip};
use std::fs;
use std::path::Path;
use std::time::{Duration, Instant};

const PYTHON: &str = "/usr/bin/python3";

fn canary(s: &Setup, extra: &[&str]) -> Output {
    let mut args = vec!["--python", PYTHON];
    args.extend(extra);
    run(&mut s.cmd(&["canary"], &args))
}

fn ready() -> bool {
    is_root() && Path::new(PYTHON).exists()
}

#[test]
fn the_record_arrives_in_the_fan_out_spool() {
    if !ready() {
        skip!("needs root (a root-owned runtime directory) and {PYTHON}");
    }
    let s = Setup::new();
    let out = canary(&s, &["--timeout", "20"]);
    out.assert_ok();
    let line = out.stdout.trim();
    let id = line
        .split("record ")
        .nth(1)
        .and_then(|r| r.split(' ').next())
        .unwrap_or_else(|| panic!("{out}"));
    assert_eq!(id.len(), 32, "{out}");
    let file = s.spool.join(&id[..2]).join(format!("{id}.json"));
    assert!(
        line.contains(&format!("spool {} after", file.display())),
        "{out}"
    );
    let rec: serde_json::Value = serde_json::from_slice(&fs::read(&file).unwrap()).unwrap();
    assert_eq!(rec["ended"]["how"], "exit", "{rec}");
    let unmapped = rec["unmapped"].to_string();
    assert!(unmapped.contains("pyusage-canary-"), "{rec}");
}

#[test]
fn the_record_arrives_in_the_store_once_ingested() {
    if !ready() {
        skip!("needs root (a root-owned runtime directory) and {PYTHON}");
    }
    let s = Setup::new();
    let db = s.db.display().to_string();
    let mut c = s.cmd(
        &["canary"],
        &["--python", PYTHON, "--timeout", "30", "--db", &db],
    );
    c.stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    let child = c.spawn().unwrap();
    // The collector's ingest, once the record is in the spool.
    let start = Instant::now();
    while find_json(&s.spool).is_none() {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "no record in the spool"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    run(pyusage(["ingest", "--db"]).arg(&s.db).arg(&s.spool)).assert_ok();
    let out = wait(child, &"canary --db");
    out.assert_ok();
    assert!(out.stdout.contains(&format!("store {db} after")), "{out}");
    assert!(out.stdout.contains("spool "), "{out}");
}

fn find_json(dir: &Path) -> Option<std::path::PathBuf> {
    for e in fs::read_dir(dir).ok()?.flatten() {
        let p = e.path();
        if p.is_dir() {
            if let Some(f) = find_json(&p) {
                return Some(f);
            }
        } else if p.extension().is_some_and(|x| x == "json") {
            return Some(p);
        }
    }
    None
}

#[test]
fn each_broken_stage_is_named() {
    if !ready() {
        skip!("needs root (a root-owned runtime directory) and {PYTHON}");
    }
    // Tracing off: no raw record at all.
    let mut s = Setup::new();
    s.with_config("enabled = false");
    let out = canary(&s, &["--timeout", "2"]);
    out.assert_code(1);
    assert!(out.stderr.contains("left no raw record"), "{out}");

    // The spool is gone: the record stays on tmpfs.
    let s = Setup::new();
    fs::remove_dir_all(&s.spool).unwrap();
    let out = canary(&s, &["--timeout", "2"]);
    out.assert_code(1);
    assert!(out.stderr.contains("stopped on tmpfs"), "{out}");
    assert!(
        out.stderr.contains(&s.runtime.display().to_string()),
        "{out}"
    );

    // Nothing ingests: the record waits in the spool.
    let s = Setup::new();
    let db = s.db.display().to_string();
    let out = canary(&s, &["--timeout", "2", "--db", &db]);
    out.assert_code(1);
    assert!(out.stderr.contains("reached the spool"), "{out}");
    assert!(out.stderr.contains("is `pyusage ingest` running?"), "{out}");

    // No interpreter.
    let out = run(&mut s.cmd(&["canary"], &["--python", "/nonexistent/python3"]));
    out.assert_code(2);
    assert!(out.stderr.contains("/nonexistent/python3"), "{out}");
}
