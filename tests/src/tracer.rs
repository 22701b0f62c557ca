//! One tracer setup per test: temp spool, runtime dir and config file.

use crate::artifacts;
use crate::record::Record;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// A fresh, private tracer configuration.
///
/// The config file (`PYUSAGE_CONFIG`) names the spool, runtime dir and map,
/// plus any extra `key = value` lines a test adds, so the system config in
/// `/etc` is never read.
pub struct Tracer {
    dir: tempfile::TempDir,
    /// Where shipped JSON records land.
    pub spool: PathBuf,
    /// Where raw (mmap) records live while their process runs.
    pub runtime: PathBuf,
    /// The per-test config file.
    pub config: PathBuf,
    /// The package map, if any.
    pub map: Option<PathBuf>,
    extra_config: String,
    extra_env: Vec<(OsString, OsString)>,
    use_env_overrides: bool,
}

impl Default for Tracer {
    fn default() -> Self {
        Self::new()
    }
}

impl Tracer {
    /// Empty spool and runtime dir in a new temp dir; no map.
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("pyusage-test-")
            .tempdir()
            .expect("create temp dir");
        let root = fs::canonicalize(dir.path()).expect("canonicalize temp dir");
        let spool = root.join("spool");
        let runtime = root.join("runtime");
        fs::create_dir(&spool).expect("create spool");
        fs::create_dir(&runtime).expect("create runtime dir");
        let t = Tracer {
            config: root.join("pyusage.toml"),
            dir,
            spool,
            runtime,
            map: None,
            extra_config: String::new(),
            extra_env: Vec::new(),
            use_env_overrides: false,
        };
        t.write_config();
        t
    }

    /// Use this package map.
    pub fn with_map(mut self, map: &Path) -> Self {
        self.map = Some(map.to_path_buf());
        self.write_config();
        self
    }

    /// Add raw TOML lines (e.g. `all_ranks = true`) to the config file.
    pub fn with_config(mut self, lines: &str) -> Self {
        self.extra_config.push_str(lines);
        self.extra_config.push('\n');
        self.write_config();
        self
    }

    /// Leave the config file empty and pass spool, runtime dir and map through
    /// `PYUSAGE_SPOOL`, `PYUSAGE_RUNTIME_DIR` and `PYUSAGE_MAP` instead.
    pub fn with_env_overrides(mut self) -> Self {
        self.use_env_overrides = true;
        self.write_config();
        self
    }

    /// Put raw records in `dir` instead (e.g. on tmpfs, where production
    /// keeps them: file times behave differently there than on disk).
    pub fn with_runtime_dir(mut self, dir: &Path) -> Self {
        self.runtime = dir.to_path_buf();
        self.write_config();
        self
    }

    /// An extra environment variable for traced runs only.
    pub fn with_env(mut self, k: &str, v: &str) -> Self {
        self.extra_env.push((k.into(), v.into()));
        self
    }

    /// A scratch directory inside this tracer's temp dir (created).
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = fs::canonicalize(self.dir.path()).unwrap().join(name);
        fs::create_dir_all(&p).expect("create scratch dir");
        p
    }

    fn write_config(&self) {
        let mut s = String::new();
        if !self.use_env_overrides {
            writeln!(s, "spool = {}", toml_str(&self.spool)).unwrap();
            writeln!(s, "runtime_dir = {}", toml_str(&self.runtime)).unwrap();
            if let Some(m) = &self.map {
                writeln!(s, "map = {}", toml_str(m)).unwrap();
            }
        }
        s.push_str(&self.extra_config);
        fs::write(&self.config, s).expect("write config");
    }

    /// The variables a traced run adds to the environment.
    pub fn env(&self) -> Vec<(OsString, OsString)> {
        let mut v: Vec<(OsString, OsString)> = vec![
            ("LD_PRELOAD".into(), artifacts::libpyusage().into()),
            ("PYUSAGE_CONFIG".into(), self.config.clone().into()),
        ];
        if self.use_env_overrides {
            v.push(("PYUSAGE_SPOOL".into(), self.spool.clone().into()));
            v.push(("PYUSAGE_RUNTIME_DIR".into(), self.runtime.clone().into()));
            if let Some(m) = &self.map {
                v.push(("PYUSAGE_MAP".into(), m.clone().into()));
            }
        }
        v.extend(self.extra_env.iter().cloned());
        v
    }

    /// Every file in the spool, sorted.
    pub fn spool_files(&self) -> Vec<PathBuf> {
        list(&self.spool)
    }

    /// Every file in the runtime dir (recursively), sorted.
    pub fn runtime_files(&self) -> Vec<PathBuf> {
        list(&self.runtime)
    }

    /// Every shipped record, each validated against the schema. Panics on a
    /// file in the spool that is not `<32 hex>.json`, on bad JSON, on a
    /// schema violation, or on an `id` that differs from the file's stem.
    pub fn records(&self) -> Vec<Record> {
        self.spool_files().iter().map(|p| Record::load(p)).collect()
    }

    /// The one record of `pid`; panics (listing what is there) otherwise.
    pub fn record_of(&self, pid: u32) -> Record {
        let recs = self.records();
        let mine: Vec<&Record> = recs.iter().filter(|r| r.pid() == pid).collect();
        assert_eq!(
            mine.len(),
            1,
            "expected exactly one record for pid {pid}, spool has {} record(s):\n{}",
            recs.len(),
            dump(&recs)
        );
        mine[0].clone()
    }

    /// Assert the spool and runtime dir are both empty.
    pub fn assert_nothing_written(&self, what: &str) {
        let s = self.spool_files();
        let r = self.runtime_files();
        assert!(
            s.is_empty() && r.is_empty(),
            "{what}: expected no files, found spool {s:?}, runtime dir {r:?}"
        );
    }

    /// `pyusage sweep --runtime-dir R --spool S [--map M]`, which must
    /// succeed.
    pub fn sweep(&self) -> Output {
        let mut c = Command::new(artifacts::pyusage());
        c.arg("sweep")
            .arg("--runtime-dir")
            .arg(&self.runtime)
            .arg("--spool")
            .arg(&self.spool);
        if let Some(m) = &self.map {
            c.arg("--map").arg(m);
        }
        let out = c.stdin(Stdio::null()).output().expect("run pyusage sweep");
        assert!(
            out.status.success(),
            "pyusage sweep failed: {}\nstdout: {}\nstderr: {}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        out
    }
}

/// Pretty-print records for failure messages.
pub fn dump(recs: &[Record]) -> String {
    recs.iter()
        .map(|r| serde_json::to_string_pretty(&r.0).unwrap())
        .collect::<Vec<_>>()
        .join("\n")
}

fn list(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if e.file_type().map(|t| t.is_dir()).unwrap_or(false) {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

fn toml_str(p: &Path) -> String {
    let s = p.to_str().expect("temp paths are UTF-8");
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}
