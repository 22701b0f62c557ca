//! `pyusage doctor`: a healthy installation passes (exit 0), and each broken
//! part makes its own check WARN or FAIL, naming the file and the reason.

use crate::setup::{chmod, Setup};
use pyusage_tests::cli::*;
use pyusage_tests::{is_root, skip};
use std::fs;
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Runs `doctor --json` (plus `args`); returns the exit code and
/// `(check, status, detail)` for each line.
fn doctor(s: &Setup, args: &[&str]) -> (i32, Vec<(String, String, String)>) {
    let mut a = vec!["--json"];
    a.extend(args);
    let out = run(&mut s.cmd(&["doctor"], &a));
    out.assert_no_crash();
    let v: serde_json::Value = serde_json::from_str(&out.stdout)
        .unwrap_or_else(|e| panic!("doctor --json printed no JSON ({e}):\n{out}"));
    let checks = v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            let f = |k: &str| c[k].as_str().unwrap().to_string();
            (f("check"), f("status"), f("detail"))
        })
        .collect::<Vec<_>>();
    let code = out.code.unwrap();
    assert_eq!(v["ok"], serde_json::json!(code == 0), "{out}");
    (code, checks)
}

fn status_of<'a>(checks: &'a [(String, String, String)], name: &str) -> (&'a str, &'a str) {
    let c = checks
        .iter()
        .find(|c| c.0 == name)
        .unwrap_or_else(|| panic!("no {name} check in {checks:?}"));
    (&c.1, &c.2)
}

const ALL: [&str; 9] = [
    "config",
    "map",
    "runtime_dir",
    "spool",
    "syslog",
    "library",
    "login",
    "sweep",
    "store",
];

#[test]
fn a_healthy_installation_passes() {
    if !is_root() {
        skip!("needs root: the runtime directory must be owned by root");
    }
    let s = Setup::new();
    let (code, checks) = doctor(&s, &[]);
    let names: Vec<&str> = checks.iter().map(|c| c.0.as_str()).collect();
    assert_eq!(names, ALL);
    for (name, status, detail) in &checks {
        // No login shell here loads the module; that is a warning, not a failure.
        let want = if name == "login" { "warn" } else { "ok" };
        assert_eq!(status, want, "{name}: {detail}\n{checks:?}");
    }
    assert_eq!(code, 0);
    assert!(status_of(&checks, "spool").1.contains("fan-out 00..ff"));
    assert!(status_of(&checks, "runtime_dir").1.contains("tmpfs"));
    // The plain text form: one line per check.
    let out = run(&mut s.cmd(&["doctor"], &[]));
    out.assert_ok();
    let lines: Vec<&str> = out.stdout.lines().collect();
    assert_eq!(lines.len(), ALL.len(), "{out}");
    for (line, name) in lines.iter().zip(ALL) {
        let (status, rest) = line.split_once(' ').unwrap();
        assert!(["OK", "WARN"].contains(&status), "{line}");
        assert!(
            rest.trim_start().starts_with(&format!("{name}: ")),
            "{line}"
        );
    }
}

/// One broken part: the check it breaks, the status and words expected.
struct Case {
    what: &'static str,
    check: &'static str,
    status: &'static str,
    says: &'static str,
    args: Vec<String>,
}

fn case(what: &'static str, check: &'static str, status: &'static str, says: &'static str) -> Case {
    Case {
        what,
        check,
        status,
        says,
        args: Vec::new(),
    }
}

fn set_mtime_future(p: &Path) {
    let f = fs::File::open(p).unwrap();
    f.set_modified(SystemTime::now() + Duration::from_secs(600))
        .unwrap();
}

/// Breaks `s` as `what` says.
fn breaks(s: &mut Setup, c: &mut Case) {
    let root = s.tmp.path().to_path_buf();
    match c.what {
        "config with a bad line" => s.with_config("sample = \"lots\""),
        "config with an unknown key" => s.with_config("spooool = \"/x\""),
        "map missing" => fs::remove_file(&s.map).unwrap(),
        "map corrupt" => fs::write(&s.map, b"PYUMAP\0\0 not really").unwrap(),
        "map writable" => chmod(&s.map, 0o644),
        "map older than a root" => {
            let newer = s.site.join("beta-2.0.dist-info");
            fs::create_dir(&newer).unwrap();
            set_mtime_future(&newer);
        }
        "runtime_dir not sticky" => chmod(&s.runtime, 0o777),
        "runtime_dir not writable by users" => chmod(&s.runtime, 0o755),
        "runtime_dir owned by a user" => chown(&s.runtime, 65534),
        "runtime_dir on disk" => {
            let disk = Path::new(env!("CARGO_TARGET_TMPDIR"))
                .join(format!("doctor-runtime-{}", std::process::id()));
            let _ = fs::remove_dir_all(&disk);
            fs::create_dir_all(&disk).unwrap();
            chmod(&disk, 0o1777);
            s.runtime = disk;
            s.write_config();
        }
        "spool missing" => fs::remove_dir_all(&s.spool).unwrap(),
        "spool not writable by users" => chmod(&s.spool, 0o755),
        "spool not sticky" => chmod(&s.spool, 0o777),
        "spool with a planted symlink" => {
            fs::remove_dir(s.spool.join("7f")).unwrap();
            std::os::unix::fs::symlink(&root, s.spool.join("7f")).unwrap();
        }
        "spool with an incomplete fan-out" => fs::remove_dir(s.spool.join("00")).unwrap(),
        "library missing" => {
            c.args = vec!["--lib".into(), root.join("nope.so").display().to_string()]
        }
        "library not ELF" => {
            let lib = root.join("libpyusage.so");
            fs::write(&lib, "not a library").unwrap();
            c.args = vec!["--lib".into(), lib.display().to_string()];
        }
        "records wait for the sweep" => {
            let p = s.runtime.join(format!(
                "rec-{}-0123456789abcdef0123456789abcdef.bin",
                dead_pid()
            ));
            write_file(&p, b"raw");
            age(&p, 3600);
        }
        "store unreachable" => {
            c.args = vec![
                "--db".into(),
                "postgresql://pyusage@127.0.0.1:1/none".into(),
            ]
        }
        "store not a pyusage store" => {
            let other = root.join("other.db");
            fs::write(&other, b"").unwrap();
            c.args = vec!["--db".into(), other.display().to_string()];
        }
        "store not created yet" => fs::remove_file(&s.db).unwrap(),
        other => panic!("unknown case {other}"),
    }
}

#[test]
fn each_broken_part_is_reported() {
    if !is_root() {
        skip!("needs root: the runtime directory must be owned by root");
    }
    let cases = vec![
        case("config with a bad line", "config", "fail", "line"),
        case(
            "config with an unknown key",
            "config",
            "fail",
            "unknown key `spooool`",
        ),
        case("map missing", "map", "fail", "map build"),
        case("map corrupt", "map", "fail", "not a valid package map"),
        case("map writable", "map", "warn", "changed in place"),
        case(
            "map older than a root",
            "map",
            "warn",
            "older than what it covers",
        ),
        case("runtime_dir not sticky", "runtime_dir", "fail", "mode 0777"),
        case(
            "runtime_dir not writable by users",
            "runtime_dir",
            "fail",
            "mode 0755",
        ),
        case(
            "runtime_dir owned by a user",
            "runtime_dir",
            "fail",
            "owned by uid 65534",
        ),
        case("runtime_dir on disk", "runtime_dir", "warn", "not on tmpfs"),
        case("spool missing", "spool", "fail", "No such file"),
        case(
            "spool not writable by users",
            "spool",
            "fail",
            "users cannot ship",
        ),
        case("spool not sticky", "spool", "fail", "not sticky"),
        case("spool with a planted symlink", "spool", "warn", "7f"),
        case(
            "spool with an incomplete fan-out",
            "spool",
            "warn",
            "255 of 256",
        ),
        case("library missing", "library", "fail", "nope.so"),
        case("library not ELF", "library", "fail", "not a 64-bit ELF"),
        case("records wait for the sweep", "sweep", "warn", "1 record(s)"),
        case("store unreachable", "store", "fail", "cannot connect"),
        case(
            "store not a pyusage store",
            "store",
            "fail",
            "no pyusage tables",
        ),
        case(
            "store not created yet",
            "store",
            "warn",
            "does not exist yet",
        ),
    ];
    for mut c in cases {
        let mut s = Setup::new();
        breaks(&mut s, &mut c);
        let args: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let (code, checks) = doctor(&s, &args);
        let (status, detail) = status_of(&checks, c.check);
        assert_eq!(status, c.status, "{}: {detail}", c.what);
        assert!(detail.contains(c.says), "{}: {detail}", c.what);
        assert_eq!(
            code,
            i32::from(c.status == "fail"),
            "{}: {checks:?}",
            c.what
        );
        // Only the broken part is reported (the spool check also reads the
        // config; a broken config breaks nothing else here).
        for (name, st, d) in &checks {
            if name != c.check && name != "login" {
                assert_eq!(st, "ok", "{}: {name} also reported: {d}", c.what);
            }
        }
    }
}

#[test]
fn syslog_is_checked_when_it_is_a_sink() {
    if !is_root() {
        skip!("needs root: the runtime directory must be owned by root");
    }
    let mut s = Setup::new();
    let sock = s.tmp.path().join("log.sock");
    s.with_config(&format!(
        "sinks = [\"spool\", \"syslog\"]\nsyslog = \"{}\"",
        sock.display()
    ));
    // Nothing listens.
    let (code, checks) = doctor(&s, &[]);
    let (status, detail) = status_of(&checks, "syslog");
    assert_eq!((status, code), ("fail", 1), "{detail}");
    assert!(detail.contains("cannot connect"), "{detail}");
    assert!(detail.contains("records still go to the spool"), "{detail}");
    // A daemon's socket.
    let _listener = std::os::unix::net::UnixDatagram::bind(&sock).unwrap();
    let (code, checks) = doctor(&s, &[]);
    let (status, detail) = status_of(&checks, "syslog");
    assert_eq!((status, code), ("ok", 0), "{detail}");
    assert!(detail.contains("socket accepts datagrams"), "{detail}");
}
