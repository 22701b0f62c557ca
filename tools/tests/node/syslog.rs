//! The syslog sink end to end with a real `rsyslogd` (Debian's rsyslog),
//! started on a private socket with pyusage's layout
//! (`packaging/rsyslog/pyusage.conf`): traced processes send records (small,
//! large in many chunks, a burst of 1,000 fork children, one from another
//! user), the daemon is stopped mid-burst and later killed; nothing hangs,
//! no process is harmed, what could not be sent stays on tmpfs for
//! `pyusage sweep`, and `pyusage ingest --syslog` stores every record whole,
//! owned by its sender.

use pyusage_tests::cli::{pyusage, run, Output};
use pyusage_tests::python::Python;
use pyusage_tests::{is_root, or_skip, skip, Prog, Tracer};
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const RSYSLOGD: &str = "/usr/sbin/rsyslogd";

/// A private rsyslogd: its own socket, work directory and output file.
struct Rsyslog {
    dir: PathBuf,
    socket: PathBuf,
    file: PathBuf,
    child: Option<Child>,
}

impl Rsyslog {
    fn start(dir: &Path) -> Rsyslog {
        let shipped = fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../packaging/rsyslog/pyusage.conf"),
        )
        .unwrap();
        let template = shipped
            .lines()
            .find(|l| l.starts_with("template(name=\"pyusage\""))
            .expect("the shipped config has the pyusage template");
        let r = Rsyslog {
            dir: dir.to_path_buf(),
            socket: dir.join("log.sock"),
            file: dir.join("records.log"),
            child: None,
        };
        let conf = format!(
            "global(workDirectory=\"{d}\")\n\
             module(load=\"imuxsock\" SysSock.Use=\"off\")\n\
             input(type=\"imuxsock\" Socket=\"{s}\" Annotate=\"on\" ParseTrusted=\"on\" RateLimit.Interval=\"0\")\n\
             {template}\n\
             if $msg contains \"PYU1 \" then {{\n  action(type=\"omfile\" file=\"{f}\" template=\"pyusage\")\n  stop\n}}\n",
            d = dir.display(),
            s = r.socket.display(),
            f = r.file.display(),
        );
        fs::write(dir.join("rsyslog.conf"), conf).unwrap();
        let mut r = r;
        r.restart();
        r
    }

    fn restart(&mut self) {
        let _ = fs::remove_file(&self.socket);
        let child = Command::new(RSYSLOGD)
            .arg("-n")
            .arg("-f")
            .arg(self.dir.join("rsyslog.conf"))
            .arg("-i")
            .arg(self.dir.join("rsyslogd.pid"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rsyslogd");
        self.child = Some(child);
        let start = Instant::now();
        while !self.socket.exists() {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "rsyslogd made no socket"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn signal(&self, sig: i32) {
        let pid = self.child.as_ref().expect("running").id();
        // SAFETY: kill(2) on our own child, not yet reaped.
        assert_eq!(unsafe { libc::kill(pid as i32, sig) }, 0);
    }

    /// Stops it for good (SIGTERM: it writes out what it has queued).
    fn stop(&mut self) {
        if let Some(mut c) = self.child.take() {
            // SAFETY: as above.
            unsafe { libc::kill(c.id() as i32, libc::SIGCONT) };
            // SAFETY: as above.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let _ = c.wait();
        }
    }

    /// Waits until the file has settled (no growth for a while).
    fn settle(&self) {
        let mut last = u64::MAX;
        let start = Instant::now();
        loop {
            let len = fs::metadata(&self.file).map_or(0, |m| m.len());
            if len == last {
                return;
            }
            last = len;
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "{} keeps growing",
                self.file.display()
            );
            std::thread::sleep(Duration::from_millis(300));
        }
    }
}

impl Drop for Rsyslog {
    fn drop(&mut self) {
        self.stop();
    }
}

fn python() -> Option<Python> {
    Python::debian()
}

/// A tracer whose only sink is this daemon, with small messages (many chunks).
fn tracer(r: &Rsyslog) -> Tracer {
    let t = Tracer::new().with_config(&format!(
        "sinks = [\"syslog\"]\nsyslog = \"{}\"\nsyslog_message_bytes = 512",
        r.socket.display()
    ));
    fs::set_permissions(&t.runtime, fs::Permissions::from_mode(0o1777)).unwrap();
    t
}

/// `n` packages in directories of their own (one `unmapped` entry each),
/// readable by every user.
fn packages(t: &Tracer, n: usize) -> PathBuf {
    let dir = t.scratch("mods");
    for i in 0..n {
        let d = dir.join(format!("d{i:03}"));
        fs::create_dir_all(d.join(format!("pyusage_big_{i}"))).unwrap();
        fs::write(d.join(format!("pyusage_big_{i}/__init__.py")), "").unwrap();
    }
    fs::write(dir.join("pyusage_burst.py"), "").unwrap();
    let mut p = dir.clone();
    while p != Path::new("/") {
        let m = fs::metadata(&p).unwrap().permissions().mode();
        fs::set_permissions(&p, fs::Permissions::from_mode(m | 0o755)).unwrap();
        p.pop();
    }
    dir
}

/// Python code: import `big` packages, then fork `burst` children that each
/// import a module of their own (so each ships a record), wait for all,
/// and print `ok` if every child exited 0.
fn code(dir: &Path, big: usize, burst: usize) -> String {
    format!(
        "import os, sys\nsys.path.insert(0, {d:?})\n\
         for i in range({big}):\n    sys.path.insert(0, {d:?} + '/d%03d' % i); __import__('pyusage_big_%d' % i)\n\
         pids = []\n\
         for i in range({burst}):\n    pid = os.fork()\n    if pid == 0:\n        import pyusage_burst\n        os._exit(0)\n    pids.append(pid)\n\
         bad = [p for p in pids if os.waitpid(p, 0)[1] != 0]\n\
         print('ok' if not bad else 'bad %d' % len(bad))\n",
        d = dir.to_str().unwrap()
    )
}

fn sweep(t: &Tracer) -> Output {
    run(pyusage(["sweep", "--config"]).arg(&t.config))
}

fn ingest(r: &Rsyslog, db: &Path) -> Output {
    run(pyusage(["ingest", "--db"])
        .arg(db)
        .arg("--syslog")
        .arg(&r.file))
}

fn store_query(db: &Path, sql: &str) -> Vec<(String, i64)> {
    let c = rusqlite::Connection::open(db).unwrap();
    let mut st = c.prepare(sql).unwrap();
    st.query_map([], |row| Ok((row.get(0)?, row.get(1)?)))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

fn ready() -> Option<Python> {
    if !Path::new(RSYSLOGD).exists() {
        return None;
    }
    python()
}

#[test]
fn records_arrive_whole_through_rsyslog() {
    let py = or_skip!(
        ready(),
        "needs {RSYSLOGD} (Debian rsyslog) and /usr/bin/python3.11"
    );
    if !is_root() {
        skip!("needs root to run a process as another user");
    }
    let work = tempfile::tempdir().unwrap();
    let r = Rsyslog::start(work.path());
    let t = tracer(&r);
    let dir = packages(&t, 150);
    // A large record (many chunks), then a burst of 1,000 fork children.
    let out = py
        .prog()
        .arg("-c")
        .arg(code(&dir, 150, 1000))
        .run_traced(&t);
    assert_eq!(
        (out.code(), out.stdout_str().as_str()),
        (0, "ok\n"),
        "{out:?}"
    );
    // One more from another user, whose uid the daemon vouches for.
    let other = Prog::new("/usr/bin/setpriv")
        .args(["--reuid", "65534", "--regid", "65534", "--clear-groups"])
        .arg(&py.path)
        .arg("-c")
        .arg(code(&dir, 3, 0))
        .run_traced(&t);
    assert_eq!(
        (other.code(), other.stdout_str().as_str()),
        (0, "ok\n"),
        "{other:?}"
    );
    // What did not fit into the socket's queue waits on tmpfs for the sweep.
    r.settle();
    let left = t.runtime_files().len();
    sweep(&t).assert_ok();
    r.settle();
    assert!(t.runtime_files().is_empty(), "{:?}", t.runtime_files());
    assert!(t.spool_files().is_empty(), "the spool is not a sink here");
    let db = work.path().join("usage.db");
    let ing = ingest(&r, &db);
    ing.assert_ok();
    assert!(ing.stdout.contains(" 1002 new"), "{ing}");
    eprintln!("syslog: {left} raw records were left for the sweep (socket queue full)");
    // Owners: root's process (root), the other user's (65534, as the
    // daemon saw it), the fork children (root).
    let owners = store_query(
        &db,
        "SELECT CAST(p.pid AS TEXT), u.uid FROM processes p JOIN users u ON u.id = p.owner",
    );
    assert_eq!(owners.len(), 1002);
    let owner_of = |pid: u32| {
        owners
            .iter()
            .find(|(p, _)| *p == pid.to_string())
            .map(|(_, u)| *u)
    };
    assert_eq!(owner_of(out.pid), Some(0));
    assert_eq!(owner_of(other.pid), Some(65534));
    // The large record came whole: every package is in it.
    let unmapped = store_query(
        &db,
        &format!(
            "SELECT record_id, pid FROM processes WHERE pid = {}",
            out.pid
        ),
    );
    assert_eq!(unmapped.len(), 1);
}

/// Runs `burst` fork children traced; returns the parent's outcome and how
/// long it took.
fn burst_run(py: &Python, t: &Tracer, burst: usize) -> pyusage_tests::Running {
    let dir = packages(t, 2);
    py.prog()
        .arg("-c")
        .arg(code(&dir, 2, burst))
        .spawn_traced(t)
}

#[test]
fn a_stopped_or_dead_daemon_harms_nobody() {
    let py = or_skip!(
        ready(),
        "needs {RSYSLOGD} (Debian rsyslog) and /usr/bin/python3.11"
    );
    // Dead: nothing listens. Every process ends normally, every record stays.
    let work = tempfile::tempdir().unwrap();
    let mut r = Rsyslog::start(work.path());
    let t = tracer(&r);
    r.stop();
    let start = Instant::now();
    let out = burst_run(&py, &t, 200).finish();
    assert_eq!(
        (out.code(), out.stdout_str().as_str()),
        (0, "ok\n"),
        "{out:?}"
    );
    eprintln!(
        "syslog: 201 processes with a dead daemon in {:?}",
        start.elapsed()
    );
    assert_eq!(t.runtime_files().len(), 201, "every record stays on tmpfs");
    r.restart();
    sweep(&t).assert_ok();
    r.settle();
    let db = work.path().join("usage.db");
    let ing = ingest(&r, &db);
    ing.assert_ok();
    assert!(ing.stdout.contains(" 201 new"), "{ing}");

    // Stopped mid-burst (SIGSTOP): sends fail at once with a full queue,
    // nothing waits; after SIGCONT and a sweep every record is there whole.
    let work = tempfile::tempdir().unwrap();
    let r = Rsyslog::start(work.path());
    let t = tracer(&r);
    let start = Instant::now();
    let running = burst_run(&py, &t, 1000);
    while fs::metadata(&r.file).map_or(0, |m| m.len()) == 0 {
        assert!(start.elapsed() < Duration::from_secs(30), "nothing arrived");
        std::thread::sleep(Duration::from_millis(5));
    }
    r.signal(libc::SIGSTOP);
    let out = running.finish();
    let took = start.elapsed();
    r.signal(libc::SIGCONT);
    assert_eq!(
        (out.code(), out.stdout_str().as_str()),
        (0, "ok\n"),
        "{out:?}"
    );
    eprintln!(
        "syslog: 1001 processes, daemon stopped mid-burst, in {took:?}; {} left on tmpfs",
        t.runtime_files().len()
    );
    assert!(
        !t.runtime_files().is_empty(),
        "a stopped daemon took everything?"
    );
    r.settle();
    sweep(&t).assert_ok();
    r.settle();
    assert!(t.runtime_files().is_empty(), "{:?}", t.runtime_files());
    let db = work.path().join("usage.db");
    let ing = ingest(&r, &db);
    ing.assert_ok();
    assert!(ing.stdout.contains(" 1001 new"), "{ing}");
}

/// `pyusage canary --syslog-file`: the record arrives whole in rsyslog's
/// file; with the daemon gone it stays on tmpfs, and the canary says so.
#[test]
fn canary_follows_the_record_into_the_syslog_file() {
    if !is_root() || ready().is_none() {
        skip!("needs root (a root-owned runtime directory), {RSYSLOGD} and /usr/bin/python3.11");
    }
    let mut s = crate::setup::Setup::new();
    let work = tempfile::tempdir().unwrap();
    let mut r = Rsyslog::start(work.path());
    s.with_config(&format!(
        "sinks = [\"syslog\"]\nsyslog = \"{}\"\nsyslog_message_bytes = 512",
        r.socket.display()
    ));
    let file = r.file.display().to_string();
    let canary = |timeout: &str| {
        run(&mut s.cmd(
            &["canary"],
            &[
                "--python",
                "/usr/bin/python3",
                "--timeout",
                timeout,
                "--syslog-file",
                &file,
            ],
        ))
    };
    let out = canary("20");
    out.assert_ok();
    assert!(out.stdout.contains("syslog file after"), "{out}");
    assert!(
        !out.stdout.contains("spool "),
        "the spool is not a sink: {out}"
    );
    r.stop();
    let out = canary("2");
    out.assert_code(1);
    assert!(out.stderr.contains("stopped on tmpfs"), "{out}");
}
