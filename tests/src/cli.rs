//! Running the `pyusage` command in tests, and making its inputs.
//!
//! Every test runs the real release `pyusage` binary as a child process, in
//! a temporary directory of its own ([`Site`]), with the tracer's settings
//! pinned to that directory so that nothing on the machine
//! (`/etc/pyusage/config.toml`, `$PYUSAGE_*`) leaks in. [`RawSpec`] writes
//! raw records with the tracer's own writer, for the sweep to find.

use pyusage_record::raw::{Ending, Identity, Writer, HEADER_LEN};
use pyusage_tools::shipped::Record;
use serde_json::Value;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::os::unix::process::ExitStatusExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

/// The `pyusage` program under test (the release build).
pub fn exe() -> PathBuf {
    crate::artifacts::pyusage()
}

/// Variables the tools read; removed from every child so the host's settings
/// never leak into a test.
pub const SETTING_VARS: [&str; 6] = [
    "PYUSAGE_CONFIG",
    "PYUSAGE_SPOOL",
    "PYUSAGE_RUNTIME_DIR",
    "PYUSAGE_MAP",
    "PYUSAGE_LIB",
    "PYUSAGE_DEBUG",
];

/// `pyusage ARGS...` with a clean environment (no `PYUSAGE_*`, no `LD_PRELOAD`).
pub fn pyusage<I, S>(args: I) -> Command
where
    I: IntoIterator<Item = S>,
    S: AsRef<std::ffi::OsStr>,
{
    let mut c = Command::new(exe());
    c.args(args);
    for v in SETTING_VARS {
        c.env_remove(v);
    }
    c.env_remove("LD_PRELOAD");
    c.stdin(Stdio::null());
    c
}

/// What a finished child left behind.
#[derive(Debug)]
pub struct Output {
    /// Exit code; `None` if killed by a signal.
    pub code: Option<i32>,
    /// Signal that ended it, if any.
    pub signal: Option<i32>,
    /// Standard output.
    pub stdout: String,
    /// Standard error.
    pub stderr: String,
}

impl Output {
    /// Panics with the whole output if the program panicked, aborted or was killed.
    pub fn assert_no_crash(&self) -> &Self {
        assert!(
            self.signal.is_none() && self.code != Some(101) && self.code != Some(134),
            "pyusage crashed (code {:?}, signal {:?}):\n{self}",
            self.code,
            self.signal
        );
        assert!(
            !self.stderr.contains("panicked"),
            "pyusage panicked:\n{self}"
        );
        self
    }

    /// Asserts the exit code (after [`Output::assert_no_crash`]).
    pub fn assert_code(&self, code: i32) -> &Self {
        self.assert_no_crash();
        assert_eq!(
            self.code,
            Some(code),
            "expected exit status {code}:\n{self}"
        );
        self
    }

    /// Asserts success.
    pub fn assert_ok(&self) -> &Self {
        self.assert_code(0)
    }
}

impl std::fmt::Display for Output {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "--- exit {:?} signal {:?}\n--- stdout:\n{}--- stderr:\n{}---",
            self.code, self.signal, self.stdout, self.stderr
        )
    }
}

/// Longest any single `pyusage` invocation may take before the test calls it hung.
pub const HANG: Duration = Duration::from_secs(30);

/// Runs `cmd` to completion, killing it (and failing the test) if it hangs.
pub fn run(cmd: &mut Command) -> Output {
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut tries = 0;
    let child = loop {
        match cmd.spawn() {
            Ok(c) => break c,
            // A program this test just copied can be briefly "busy": another
            // test thread forked while the copy's write descriptor was open.
            Err(e) if e.raw_os_error() == Some(libc::ETXTBSY) && tries < 100 => {
                tries += 1;
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(e) => panic!("cannot start {cmd:?}: {e}"),
        }
    };
    wait(child, cmd)
}

/// Waits for a spawned child with piped stdout/stderr, with the [`HANG`] limit.
pub fn wait(mut child: std::process::Child, what: &dyn std::fmt::Debug) -> Output {
    let start = Instant::now();
    // Drain the pipes on threads so a chatty child cannot block on a full pipe.
    let mut so = child.stdout.take().expect("stdout piped");
    let mut se = child.stderr.take().expect("stderr piped");
    let t_out = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut so, &mut s);
        s
    });
    let t_err = std::thread::spawn(move || {
        let mut s = Vec::new();
        let _ = std::io::Read::read_to_end(&mut se, &mut s);
        s
    });
    let status = loop {
        if let Some(st) = child.try_wait().expect("try_wait") {
            break st;
        }
        if start.elapsed() > HANG {
            let _ = child.kill();
            let _ = child.wait();
            let stderr = String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned();
            panic!(
                "{what:?} still running after {HANG:?}: it hangs (killed)\nstderr so far:\n{stderr}"
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Output {
        code: status.code(),
        signal: status.signal(),
        stdout: String::from_utf8_lossy(&t_out.join().unwrap_or_default()).into_owned(),
        stderr: String::from_utf8_lossy(&t_err.join().unwrap_or_default()).into_owned(),
    }
}

/// A scratch area: `runtime/` (raw records), `spool/`, an empty `config.toml`
/// (so the system file is never read) and a path for a map that does not exist.
pub struct Site {
    /// Keeps the directory alive.
    pub tmp: tempfile::TempDir,
    /// Raw record directory.
    pub runtime: PathBuf,
    /// Spool directory.
    pub spool: PathBuf,
    /// Configuration file (empty).
    pub config: PathBuf,
    /// Package map (absent).
    pub map: PathBuf,
}

impl Default for Site {
    fn default() -> Site {
        Site::new()
    }
}

impl Site {
    /// A fresh site under the system temp directory.
    pub fn new() -> Site {
        Site::new_in(&std::env::temp_dir())
    }

    /// A fresh site under `dir`.
    pub fn new_in(dir: &Path) -> Site {
        let tmp = tempfile::Builder::new()
            .prefix("pyusage-tools-test-")
            .tempdir_in(dir)
            .expect("tempdir");
        let runtime = tmp.path().join("runtime");
        let spool = tmp.path().join("spool");
        fs::create_dir(&runtime).unwrap();
        fs::create_dir(&spool).unwrap();
        let config = tmp.path().join("config.toml");
        fs::write(&config, "").unwrap();
        let map = tmp.path().join("absent-map.bin");
        Site {
            tmp,
            runtime,
            spool,
            config,
            map,
        }
    }

    /// Default quarantine directory.
    pub fn quarantine(&self) -> PathBuf {
        self.runtime.join("quarantine")
    }

    /// `pyusage sweep` on this site, plus `extra` arguments.
    pub fn sweep_cmd(&self, extra: &[&str]) -> Command {
        let mut c = pyusage(["sweep"]);
        c.arg("--config")
            .arg(&self.config)
            .arg("--spool")
            .arg(&self.spool)
            .arg("--runtime-dir")
            .arg(&self.runtime)
            .arg("--map")
            .arg(&self.map)
            .args(extra);
        c
    }

    /// Runs `pyusage sweep` to completion.
    pub fn sweep(&self, extra: &[&str]) -> Output {
        run(&mut self.sweep_cmd(extra))
    }

    /// The JSON records in the spool, by file name, parsed and checked
    /// against the schema and the type.
    pub fn shipped(&self) -> Vec<(String, Record)> {
        self.shipped_with(load_record)
    }

    /// The JSON records in the spool, parsed as [`Record`] only (no schema).
    pub fn shipped_typed(&self) -> Vec<(String, Record)> {
        self.shipped_with(load_typed)
    }

    fn shipped_with(&self, load: fn(&Path) -> Record) -> Vec<(String, Record)> {
        let mut v: Vec<(String, Record)> = fs::read_dir(&self.spool)
            .unwrap()
            .map(|e| e.unwrap())
            .map(|e| {
                let name = e.file_name().to_string_lossy().into_owned();
                assert!(
                    name.ends_with(".json") && !name.starts_with('.'),
                    "stray file in spool: {name}"
                );
                let rec = load(&e.path());
                (name, rec)
            })
            .collect();
        v.sort_by(|a, b| a.0.cmp(&b.0));
        v
    }

    /// Names in the runtime directory (sorted), `quarantine` excluded.
    pub fn runtime_names(&self) -> Vec<String> {
        names(&self.runtime)
            .into_iter()
            .filter(|n| n != "quarantine")
            .collect()
    }
}

/// Sorted file names in `dir` (empty if it does not exist).
pub fn names(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = match fs::read_dir(dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => panic!("cannot list {}: {e}", dir.display()),
    };
    v.sort();
    v
}

/// Reads a shipped record: JSON, valid against `docs/record.schema.json`,
/// typed as [`Record`], named after its id.
pub fn load_record(path: &Path) -> Record {
    let (text, v) = load_json(path);
    if let Err(errs) = crate::validate(&v) {
        panic!(
            "{} does not match docs/record.schema.json:\n{errs}\n{text}",
            path.display()
        );
    }
    load_typed(path)
}

fn load_json(path: &Path) -> (String, Value) {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    let v: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()));
    (text, v)
}

/// Reads a shipped record: JSON typed as [`Record`], named after its id.
pub fn load_typed(path: &Path) -> Record {
    let (text, v) = load_json(path);
    let rec: Record = serde_json::from_value(v)
        .unwrap_or_else(|e| panic!("{} is not a shipped::Record ({e}):\n{text}", path.display()));
    let stem = path.file_stem().unwrap().to_string_lossy();
    assert_eq!(rec.id, stem, "record id differs from its file name");
    rec
}

/// A pid that belonged to a process which has exited (and been reaped).
pub fn dead_pid() -> u32 {
    let mut c = Command::new("true").spawn().expect("spawn true");
    let pid = c.id();
    c.wait().unwrap();
    pid
}

/// Start time of `pid` in clock ticks since boot (`/proc/PID/stat` field 22).
pub fn start_ticks(pid: u32) -> u64 {
    let stat = fs::read(format!("/proc/{pid}/stat")).unwrap();
    pyusage_record::proc_stat::start_ticks(&stat).expect("a /proc/PID/stat line")
}

/// What to put in a raw record made by [`RawSpec::write`].
#[derive(Clone, Debug)]
pub struct RawSpec {
    /// Header identity.
    pub who: Identity,
    /// Record size.
    pub capacity: u32,
    /// Entries `(tag, payload)`.
    pub entries: Vec<(u8, Vec<u8>)>,
    /// How it ended, if it says.
    pub ending: Option<(Ending, i32, i32)>,
    /// Header `shipped` flag.
    pub shipped: bool,
}

static NEXT_ID: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A fresh record id, unique within this test process and across runs.
pub fn fresh_id() -> [u8; 16] {
    let n = NEXT_ID.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let t = SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .unwrap()
        .as_nanos() as u64;
    let mut id = [0u8; 16];
    id[..8].copy_from_slice(&(t ^ u64::from(std::process::id()) << 40).to_le_bytes());
    id[8..].copy_from_slice(&n.to_le_bytes());
    id
}

/// 32 hex digits of an id.
pub fn hex(id: &[u8; 16]) -> String {
    id.iter().map(|b| format!("{b:02x}")).collect()
}

impl RawSpec {
    /// A plausible record of a process that has exited: a dead pid, start ticks
    /// that cannot match anything, a few entries.
    pub fn dead() -> RawSpec {
        RawSpec::for_pid(dead_pid(), u64::MAX - 7)
    }

    /// A plausible record of `pid` started at `ticks`.
    pub fn for_pid(pid: u32, ticks: u64) -> RawSpec {
        let now = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            .as_nanos() as u64;
        RawSpec {
            who: Identity {
                pid,
                ppid: 1,
                uid: 31337, // never the file owner in these tests
                forked_from: 0,
                start_ns: now - 5_000_000_000,
                proc_start_ticks: ticks,
                sample_ppm: 1_000_000,
                id: fresh_id(),
            },
            capacity: 4096,
            entries: vec![
                (b'x', b"/usr/bin/python3.11".to_vec()),
                (b's', b"train.py".to_vec()),
                (b'v', b"3.11.7".to_vec()),
                (b'i', b"cpython".to_vec()),
                (b'p', b"/home/alice/venv".to_vec()),
                (b'h', b"node001".to_vec()),
                (b'u', b"alice".to_vec()),
                (b'P', b"inumpy\x001.26.4\x00/home/alice/venv".to_vec()),
            ],
            ending: None,
            shipped: false,
        }
    }

    /// The id as 32 hex digits (the spool file stem).
    pub fn id_hex(&self) -> String {
        hex(&self.who.id)
    }

    /// The record's bytes, made by the tracer's own writer.
    pub fn bytes(&self) -> Vec<u8> {
        let mut buf = vec![0u64; self.capacity as usize / 8];
        // SAFETY: `buf` is zeroed, 8-byte aligned, `capacity` bytes long, and
        // outlives the writer, which is dropped at the end of this block.
        let w = unsafe { Writer::create(buf.as_mut_ptr() as *mut u8, self.capacity, &self.who) };
        for (tag, payload) in &self.entries {
            assert!(
                w.append(*tag, &[payload]),
                "record too small for its entries"
            );
        }
        if let Some((how, status, signal)) = self.ending {
            w.set_ending(how, status, signal, self.who.start_ns + 1_000_000_000);
        }
        if self.shipped {
            w.mark_shipped();
        }
        let bytes: Vec<u8> = buf.iter().flat_map(|w| w.to_ne_bytes()).collect();
        assert!(bytes.len() >= HEADER_LEN);
        bytes
    }

    /// Writes the record to `dir/rec-<pid>-<id>.bin` (mode 0600, as the tracer
    /// does) and returns its path.
    pub fn write(&self, dir: &Path) -> PathBuf {
        let path = dir.join(format!("rec-{}-{}.bin", self.who.pid, self.id_hex()));
        write_file(&path, &self.bytes());
        path
    }
}

/// Writes `bytes` to `path`, mode 0600.
pub fn write_file(path: &Path, bytes: &[u8]) {
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)
        .unwrap_or_else(|e| panic!("cannot create {}: {e}", path.display()));
    std::io::Write::write_all(&mut f, bytes).unwrap();
}

/// Sets the modification time of `path` (a regular file or a directory)
/// `secs` seconds into the past, so the sweep's grace period is over.
pub fn age(path: &Path, secs: u64) {
    let f = fs::File::open(path).unwrap_or_else(|e| panic!("open {}: {e}", path.display()));
    f.set_modified(SystemTime::now() - Duration::from_secs(secs))
        .unwrap_or_else(|e| panic!("set mtime of {}: {e}", path.display()));
}

/// Makes a FIFO at `path`.
pub fn mkfifo(path: &Path) {
    use std::os::unix::ffi::OsStrExt;
    let c = std::ffi::CString::new(path.as_os_str().as_bytes()).unwrap();
    // SAFETY: `c` is a valid NUL-terminated path.
    let rc = unsafe { libc::mkfifo(c.as_ptr(), 0o600) };
    assert_eq!(rc, 0, "mkfifo {}", path.display());
}

pub use crate::is_root;

/// Gives `path` to `uid` (root only).
pub fn chown(path: &Path, uid: u32) {
    std::os::unix::fs::chown(path, Some(uid), None)
        .unwrap_or_else(|e| panic!("chown {} {uid}: {e}", path.display()));
}

/// Owner uid of `path` (not following symlinks).
pub fn owner(path: &Path) -> u32 {
    fs::symlink_metadata(path).unwrap().uid()
}

/// The tracer library the release build made, if it was built (`cargo build
/// --release`, as `make test` does before the tests).
pub fn built_libpyusage() -> Option<PathBuf> {
    let release = crate::artifacts::repo_root().join("target/release/libpyusage.so");
    release.is_file().then_some(release)
}

/// The tracer library, where a command really runs under it.
pub fn libpyusage() -> PathBuf {
    built_libpyusage()
        .expect("libpyusage.so not built: run `cargo build --release` first (`make test` does)")
}

/// A file to pass as `--lib` where `pyusage run` must fail before it execs
/// anything (the library is only looked up, never loaded): the real library
/// if built, else an empty file in `dir`.
pub fn lib_for_failures(dir: &Path) -> PathBuf {
    built_libpyusage().unwrap_or_else(|| {
        let p = dir.join("placeholder-libpyusage.so");
        fs::write(&p, b"").unwrap();
        p
    })
}
