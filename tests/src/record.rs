//! Shipped records: load, validate against the schema, check fields.

use crate::artifacts;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

fn validator() -> &'static jsonschema::Validator {
    static V: OnceLock<jsonschema::Validator> = OnceLock::new();
    V.get_or_init(|| {
        let path = artifacts::schema();
        let text = fs::read_to_string(&path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let schema: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
        jsonschema::draft202012::new(&schema)
            .unwrap_or_else(|e| panic!("{} is not a valid schema: {e}", path.display()))
    })
}

/// Validate a value against `docs/record.schema.json`; every error, one a line.
pub fn validate(v: &Value) -> Result<(), String> {
    let errs: Vec<String> = validator()
        .iter_errors(v)
        .map(|e| format!("at {}: {}", e.instance_path(), e))
        .collect();
    if errs.is_empty() {
        Ok(())
    } else {
        Err(errs.join("\n"))
    }
}

/// One shipped record (already schema-valid).
#[derive(Clone, Debug)]
pub struct Record(pub Value);

impl Record {
    /// Read `<spool>/<id>.json`, validate it, and check its name matches `id`.
    pub fn load(path: &Path) -> Record {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let stem = name.strip_suffix(".json").unwrap_or_else(|| {
            panic!(
                "unexpected file in spool (not <id>.json): {}",
                path.display()
            )
        });
        assert!(
            stem.len() == 32 && stem.bytes().all(|b| b.is_ascii_hexdigit()),
            "unexpected file in spool (stem is not 32 hex digits): {}",
            path.display()
        );
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
        let v: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{} is not JSON ({e}):\n{text}", path.display()));
        if let Err(e) = validate(&v) {
            panic!(
                "{} does not match docs/record.schema.json:\n{e}\nrecord:\n{}",
                path.display(),
                serde_json::to_string_pretty(&v).unwrap()
            );
        }
        assert_eq!(
            v["id"].as_str(),
            Some(stem),
            "record id differs from its file name {}",
            path.display()
        );
        Record(v)
    }

    fn pretty(&self) -> String {
        serde_json::to_string_pretty(&self.0).unwrap()
    }

    /// `pid`.
    pub fn pid(&self) -> u32 {
        self.0["pid"].as_u64().unwrap() as u32
    }

    /// `ended.how`.
    pub fn how(&self) -> &str {
        self.0["ended"]["how"].as_str().unwrap()
    }

    /// `ended.status`.
    pub fn status(&self) -> Option<i64> {
        self.0["ended"]["status"].as_i64()
    }

    /// `ended.signal`.
    pub fn signal(&self) -> Option<i64> {
        self.0["ended"]["signal"].as_i64()
    }

    /// `forked_from`.
    pub fn forked_from(&self) -> Option<u32> {
        self.0["forked_from"].as_u64().map(|x| x as u32)
    }

    /// `forks`.
    pub fn forks(&self) -> u64 {
        self.0["forks"].as_u64().unwrap()
    }

    /// `packages`, as (name, version, via).
    pub fn packages(&self) -> Vec<(String, Option<String>, String)> {
        self.0["packages"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                (
                    p["name"].as_str().unwrap().to_owned(),
                    p["version"].as_str().map(str::to_owned),
                    p["via"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    }

    /// The package entry named `name`, if any.
    pub fn package(&self, name: &str) -> Option<(String, Option<String>, String)> {
        self.packages().into_iter().find(|p| p.0 == name)
    }

    /// `unmapped`.
    pub fn unmapped(&self) -> Vec<PathBuf> {
        self.0["unmapped"]
            .as_array()
            .unwrap()
            .iter()
            .map(|s| PathBuf::from(s.as_str().unwrap()))
            .collect()
    }

    /// Whether `unmapped` accounts for module file `file`. `unmapped` keeps
    /// one file per directory, so an entry accounts for `file` when it is
    /// the file, a directory above it, another file in the same directory,
    /// or a file in that directory's `__pycache__` (the bytecode the import
    /// system tries first).
    pub fn unmapped_covers(&self, file: &Path) -> bool {
        let dir = file.parent().expect("module file has a directory");
        let cache = dir.join("__pycache__");
        self.unmapped().iter().any(|u| {
            file.starts_with(u) || u.parent() == Some(dir) || u.parent() == Some(cache.as_path())
        })
    }

    /// Assert `unmapped` accounts for `file`.
    pub fn assert_unmapped_covers(&self, file: &Path) {
        assert!(
            self.unmapped_covers(file),
            "module file {} is not in `unmapped` (nor its directory):\n{}",
            file.display(),
            self.pretty()
        );
    }

    /// Schema 2's `by` of package `name`: `None` when there is no such
    /// package, `Some(None)` when the program's own code imported it.
    pub fn by(&self, name: &str) -> Option<Option<String>> {
        let p = self.package_json(name)?;
        Some(p["by"].as_str().map(str::to_owned))
    }

    /// Schema 2's `at_ms` of package `name`, when there is one.
    pub fn at_ms(&self, name: &str) -> Option<u64> {
        self.package_json(name)?["at_ms"].as_u64()
    }

    fn package_json(&self, name: &str) -> Option<&Value> {
        self.0["packages"]
            .as_array()?
            .iter()
            .find(|p| p["name"] == name)
    }

    /// Assert nothing in `unmapped` lies inside `dir`.
    pub fn assert_unmapped_avoids(&self, dir: &Path) {
        let bad: Vec<PathBuf> = self
            .unmapped()
            .into_iter()
            .filter(|u| u.starts_with(dir))
            .collect();
        assert!(
            bad.is_empty(),
            "`unmapped` has entries under {}: {bad:?}\n{}",
            dir.display(),
            self.pretty()
        );
    }

    /// Assert `ended` is exactly (how, status, signal).
    pub fn assert_ended(&self, how: &str, status: Option<i64>, signal: Option<i64>) {
        assert_eq!(
            (self.how(), self.status(), self.signal()),
            (how, status, signal),
            "unexpected `ended`:\n{}",
            self.pretty()
        );
    }

    /// Panic with the record attached.
    pub fn fail(&self, msg: &str) -> ! {
        panic!("{msg}\nrecord:\n{}", self.pretty())
    }
}

/// The passwd name of the current uid (what the sweep writes as `user`).
pub fn passwd_name() -> Option<String> {
    // SAFETY: getpwuid returns a pointer into static storage or null; we
    // copy the name out at once. Tests do not call getpw* concurrently in a
    // way that matters for a name read.
    unsafe {
        let pw = libc::getpwuid(libc::getuid());
        if pw.is_null() {
            return None;
        }
        Some(
            std::ffi::CStr::from_ptr((*pw).pw_name)
                .to_string_lossy()
                .into_owned(),
        )
    }
}

/// What every record of a test's process must say, checked field by field.
#[derive(Clone, Debug)]
pub struct Expect {
    /// `pid`.
    pub pid: u32,
    /// `ppid` (`None`: not checked).
    pub ppid: Option<u32>,
    /// `exe`: the canonical path of the interpreter binary.
    pub exe: PathBuf,
    /// `python.version`.
    pub version: String,
    /// `python.prefix` as the interpreter reports `sys.prefix`.
    pub prefix: Option<String>,
    /// `user` (the test's `$USER`; the owner's passwd name for swept records).
    pub user: Option<String>,
    /// Whether `python.prefix` must be non-null (3.8+).
    pub prefix_required: bool,
    /// `script` (`None`: not checked).
    pub script: Option<Option<String>>,
    /// Lower bound for `start` (taken just before the process started).
    pub not_before: String,
    /// Upper bound for `end` (taken after it ended).
    pub not_after: String,
    /// `job` must be null.
    pub no_job: bool,
    /// `forked_from` (`Some(None)`: must be null; `None`: not checked).
    pub forked_from: Option<Option<u32>>,
}

impl Expect {
    /// Expect a record shipped by `pyusage sweep` (the `user` is the raw
    /// file owner's passwd name, not `$USER`).
    pub fn swept(mut self) -> Self {
        self.user = passwd_name();
        self
    }

    /// Expect this `script`.
    pub fn script(mut self, s: Option<&str>) -> Self {
        self.script = Some(s.map(str::to_owned));
        self
    }

    /// Expect this `forked_from` (and this parent as `ppid`), for a fork child
    /// whose pid is `pid`.
    pub fn fork_child(mut self, pid: u32, parent: u32) -> Self {
        self.pid = pid;
        self.ppid = Some(parent);
        self.forked_from = Some(Some(parent));
        self
    }

    /// Check the common fields of `r`.
    pub fn check(&self, r: &Record) {
        let v = &r.0;
        let ctx = r.pretty();
        let eq = |field: &str, got: &Value, want: Value| {
            assert_eq!(*got, want, "field `{field}` is wrong in:\n{ctx}");
        };
        eq("schema", &v["schema"], 2.into());
        eq("pid", &v["pid"], self.pid.into());
        if let Some(pp) = self.ppid {
            eq("ppid", &v["ppid"], pp.into());
        }
        eq("uid", &v["uid"], crate::uid().into());
        eq(
            "user",
            &v["user"],
            self.user.as_deref().map(Value::from).unwrap_or(Value::Null),
        );
        eq("host", &v["host"], crate::hostname().into());
        eq("exe", &v["exe"], self.exe.to_str().unwrap().into());
        eq(
            "python.version",
            &v["python"]["version"],
            self.version.as_str().into(),
        );
        eq(
            "python.implementation",
            &v["python"]["implementation"],
            "cpython".into(),
        );
        match (&v["python"]["prefix"], &self.prefix) {
            (Value::Null, _) if !self.prefix_required => {}
            (got, Some(want)) => eq("python.prefix", got, want.as_str().into()),
            (got, None) => assert!(got.is_null() || got.is_string(), "{ctx}"),
        }
        if let Some(s) = &self.script {
            eq(
                "script",
                &v["script"],
                s.as_deref().map(Value::from).unwrap_or(Value::Null),
            );
        }
        let start = v["start"].as_str().unwrap();
        let end = v["end"].as_str().unwrap();
        assert!(
            self.not_before.as_str() <= start && start <= end && end <= self.not_after.as_str(),
            "times out of order: want {} <= start <= end <= {}:\n{ctx}",
            self.not_before,
            self.not_after
        );
        if self.no_job {
            eq("job", &v["job"], Value::Null);
        }
        if let Some(ff) = self.forked_from {
            eq(
                "forked_from",
                &v["forked_from"],
                ff.map(Value::from).unwrap_or(Value::Null),
            );
        }
        assert_eq!(v["sample"].as_f64(), Some(1.0), "field `sample`:\n{ctx}");
        eq("truncated", &v["truncated"], false.into());
    }
}
