//! What every deployment test needs: an installation made by `make install`
//! into a temp dir, shell scripts run against it, and root-only helpers.

use pyusage_tests::artifacts::repo_root;
use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

/// The library `make install` lays down: the cargo-zigbuild one linked
/// against glibc 2.17 (`make dist-lib`, which `make test` runs first).
pub fn dist_lib() -> Option<PathBuf> {
    let p = repo_root().join("target/x86_64-unknown-linux-gnu/release/libpyusage.so");
    p.is_file().then_some(p)
}

/// Skip the test unless `make dist-lib` has built the release library.
#[macro_export]
macro_rules! need_dist_lib {
    () => {
        pyusage_tests::or_skip!(
            $crate::common::dist_lib(),
            "target/x86_64-unknown-linux-gnu/release/libpyusage.so missing: run `make dist-lib`"
        )
    };
}

/// Text of a command's output, for failure messages.
pub fn show(o: &Output) -> String {
    format!(
        "{}\n--- stdout ---\n{}--- stderr ---\n{}",
        o.status,
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

/// Run and require success.
pub fn ok(c: &mut Command) -> Output {
    let o = c
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {c:?}: {e}"));
    assert!(o.status.success(), "{c:?} failed: {}", show(&o));
    o
}

/// `bash -c SCRIPT` in a clean environment (PATH, HOME, LANG and `env`).
pub fn bash(script: &str, env: &[(&str, &str)]) -> Output {
    let mut c = Command::new("bash");
    c.arg("-c").arg(script).env_clear();
    c.env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
        .env("HOME", std::env::var_os("HOME").unwrap_or("/".into()))
        .env("LANG", "C.UTF-8")
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for (k, v) in env {
        c.env(k, v);
    }
    c.stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run bash: {e}"))
}

/// An installation made by `make install NO_BUILD=1` in a fresh temp dir.
///
/// Without a DESTDIR the paths are real (`<tmp>/opt/pyusage`, `<tmp>/etc`,
/// `<tmp>/var`), so the modulefile, the epilog and the units work as installed.
pub struct Install {
    /// Owns the temp dir.
    pub _tmp: tempfile::TempDir,
    /// `PREFIX`.
    pub prefix: PathBuf,
    /// `SYSCONFDIR`.
    pub sysconf: PathBuf,
    /// `LOCALSTATEDIR`.
    pub localstate: PathBuf,
    /// `DESTDIR`, if staged.
    pub destdir: Option<PathBuf>,
    /// The node-local runtime dir the tests write into the config (not the
    /// machine-wide `/dev/shm/pyusage`).
    pub runtime: PathBuf,
}

impl Install {
    /// Install into a temp dir with real paths, and point the config's
    /// `runtime_dir` at a private directory (as an admin edits the config).
    pub fn new() -> Install {
        let i = Install::layout(false);
        let out = i.make("install", &[]);
        assert!(out.status.success(), "make install failed: {}", show(&out));
        let cfg = i.config();
        let text = fs::read_to_string(&cfg).expect("installed config");
        let text = text.replace(
            "runtime_dir = \"/dev/shm/pyusage\"",
            &format!("runtime_dir = \"{}\"", i.runtime.display()),
        );
        assert!(text.contains(&i.runtime.display().to_string()), "{text}");
        fs::write(&cfg, text).unwrap();
        i
    }

    /// Install staged under `DESTDIR=<tmp>/stage` with `PREFIX=/opt/pyusage`,
    /// `SYSCONFDIR=/etc`, `LOCALSTATEDIR=/var`, as a package build does.
    pub fn staged() -> Install {
        let i = Install::layout(true);
        let out = i.make("install", &[]);
        assert!(out.status.success(), "make install failed: {}", show(&out));
        i
    }

    fn layout(staged: bool) -> Install {
        let tmp = tempfile::Builder::new()
            .prefix("pyusage-deploy-")
            .tempdir()
            .unwrap();
        let root = fs::canonicalize(tmp.path()).unwrap();
        let runtime = root.join("shm");
        fs::create_dir(&runtime).unwrap();
        if staged {
            Install {
                prefix: "/opt/pyusage".into(),
                sysconf: "/etc".into(),
                localstate: "/var".into(),
                destdir: Some(root.join("stage")),
                runtime,
                _tmp: tmp,
            }
        } else {
            Install {
                prefix: root.join("opt/pyusage"),
                sysconf: root.join("etc"),
                localstate: root.join("var"),
                destdir: None,
                runtime,
                _tmp: tmp,
            }
        }
    }

    /// `make -s TARGET NO_BUILD=1 PREFIX=.. [DESTDIR=..] SYSCONFDIR=.. LOCALSTATEDIR=.. EXTRA..`
    pub fn make(&self, target: &str, extra: &[&str]) -> Output {
        let mut c = Command::new("make");
        c.arg("-s")
            .arg("-C")
            .arg(repo_root())
            .arg(target)
            .arg("NO_BUILD=1")
            .arg(format!("PREFIX={}", self.prefix.display()))
            .arg(format!("SYSCONFDIR={}", self.sysconf.display()))
            .arg(format!("LOCALSTATEDIR={}", self.localstate.display()));
        if let Some(d) = &self.destdir {
            c.arg(format!("DESTDIR={}", d.display()));
        }
        c.args(extra);
        // make passes MAKEFLAGS from a parent make (`make test`) down; -s and
        // the variables here must win over it.
        c.env_remove("MAKEFLAGS").env_remove("MAKELEVEL");
        c.stdin(Stdio::null()).output().expect("run make")
    }

    /// Where `path` (an installed absolute path) is on this machine.
    pub fn on_disk(&self, path: impl AsRef<Path>) -> PathBuf {
        let p = path.as_ref();
        match &self.destdir {
            Some(d) => d.join(p.strip_prefix("/").unwrap_or(p)),
            None => p.to_path_buf(),
        }
    }

    /// The installed system config.
    pub fn config(&self) -> PathBuf {
        self.on_disk(self.sysconf.join("pyusage/config.toml"))
    }

    /// The installed command.
    pub fn pyusage(&self) -> PathBuf {
        self.on_disk(self.prefix.join("bin/pyusage"))
    }

    /// The installed library.
    pub fn lib(&self) -> PathBuf {
        self.on_disk(self.prefix.join("lib/pyusage/libpyusage.so"))
    }

    /// The directory to `module use`.
    pub fn modulefiles(&self) -> PathBuf {
        self.on_disk(self.prefix.join("share/modulefiles"))
    }

    /// The spool the installed config names.
    pub fn spool(&self) -> PathBuf {
        self.on_disk(self.localstate.join("spool/pyusage"))
    }

    /// The package map path the installed config names.
    pub fn map(&self) -> PathBuf {
        self.on_disk(self.localstate.join("lib/pyusage/map.bin"))
    }

    /// Shipped records in the spool, parsed.
    pub fn records(&self) -> Vec<serde_json::Value> {
        spool_records(&self.spool())
    }
}

/// Every `*.json` record in `spool` (recursively), parsed and schema-checked.
pub fn spool_records(spool: &Path) -> Vec<serde_json::Value> {
    let mut out = Vec::new();
    let mut stack = vec![spool.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(rd) = fs::read_dir(&d) else { continue };
        for e in rd.flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "json") {
                out.push(pyusage_tests::Record::load(&p).0);
            }
        }
    }
    out
}

/// Run `script` with the real system config path (`/etc/pyusage`) replaced,
/// for this script and its children only, by `etc_pyusage` (a private mount
/// namespace with a bind mount). The production library reads
/// `/etc/pyusage/config.toml`; this is how a test gives it a system file
/// without touching the one every other process on the machine reads.
/// `None` when not root or when mount namespaces are unavailable.
pub fn with_system_config(etc_pyusage: &Path, script: &str) -> Option<String> {
    if !pyusage_tests::is_root() {
        return None;
    }
    // An empty directory to mount over; it has no config in it, so every
    // process outside the namespace still reads no system file.
    fs::create_dir_all("/etc/pyusage").ok()?;
    let probe = Command::new("unshare")
        .args(["--mount", "--propagation", "private", "true"])
        .stdin(Stdio::null())
        .output()
        .ok()?;
    if !probe.status.success() {
        return None;
    }
    Some(format!(
        "exec unshare --mount --propagation private bash -c {}",
        shell_quote(&format!(
            "set -e; mount --bind {} /etc/pyusage; set +e\n{script}",
            shell_quote(etc_pyusage.to_str().unwrap())
        ))
    ))
}

/// Single-quote for bash.
pub fn shell_quote(s: &str) -> String {
    format!("'{}'", s.replace('\'', r"'\''"))
}
