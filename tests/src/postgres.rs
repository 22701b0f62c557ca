//! A private PostgreSQL server for the store tests: Debian's `postgresql`
//! (which `make test` installs as root), in a temp dir, on a unix socket
//! only, stopped on drop. PostgreSQL refuses to run as root, so as root the
//! server runs as `nobody`.

use crate::cli::run;
use crate::is_root;
use std::fs;
use std::path::PathBuf;
use std::process::{Command, Stdio};

/// A private PostgreSQL cluster, stopped on drop.
pub struct Cluster {
    dir: tempfile::TempDir,
    bin: PathBuf,
    as_nobody: bool,
}

/// Where Debian puts the server programs (`initdb`, `pg_ctl`).
fn server_bin() -> Option<PathBuf> {
    let mut found: Vec<PathBuf> = fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .flatten()
        .map(|e| e.path().join("bin"))
        .filter(|b| b.join("initdb").exists() && b.join("pg_ctl").exists())
        .collect();
    found.sort();
    found.pop()
}

impl Cluster {
    /// Starts one, or says why it cannot.
    pub fn start() -> Result<Cluster, String> {
        let bin = server_bin()
            .ok_or("PostgreSQL server programs (Debian package postgresql) are not installed")?;
        let as_nobody = is_root();
        let dir = tempfile::Builder::new()
            .prefix("pyusage-pg-")
            .tempdir()
            .map_err(|e| e.to_string())?;
        if as_nobody {
            std::os::unix::fs::chown(dir.path(), Some(65534), Some(65534))
                .map_err(|e| e.to_string())?;
        }
        let c = Cluster {
            dir,
            bin,
            as_nobody,
        };
        let data = c.dir.path().join("data");
        let out = run(c.cmd("initdb").arg("-D").arg(&data).args([
            "-U",
            "pyusage",
            "--auth=trust",
            "--no-sync",
            "--locale=C",
            "-E",
            "UTF8",
        ]));
        if out.code != Some(0) {
            return Err(format!("initdb failed:\n{out}"));
        }
        let out = run(c
            .cmd("pg_ctl")
            .arg("-D")
            .arg(&data)
            .arg("-o")
            .arg(format!(
                "-k {} -c listen_addresses= -c fsync=off -c synchronous_commit=off -c full_page_writes=off",
                c.dir.path().display()
            ))
            .arg("-l")
            .arg(c.dir.path().join("log"))
            .args(["-w", "-t", "60", "start"]));
        if out.code != Some(0) {
            let log = fs::read_to_string(c.dir.path().join("log")).unwrap_or_default();
            return Err(format!("pg_ctl start failed:\n{out}\n{log}"));
        }
        Ok(c)
    }

    fn cmd(&self, prog: &str) -> Command {
        let exe = self.bin.join(prog);
        let mut c = if self.as_nobody {
            let mut c = Command::new("setpriv");
            c.args(["--reuid=65534", "--regid=65534", "--clear-groups", "--"])
                .arg(exe);
            c
        } else {
            Command::new(exe)
        };
        c.stdin(Stdio::null()).current_dir("/");
        c
    }

    /// A fresh database; its URL.
    pub fn database(&self, name: &str) -> String {
        let admin = self.url("postgres");
        let mut c = postgres::Client::connect(&admin, postgres::NoTls).unwrap();
        c.batch_execute(&format!("CREATE DATABASE {name}")).unwrap();
        self.url(name)
    }

    /// The URL of database `db` (`postgres` always exists).
    pub fn url(&self, db: &str) -> String {
        format!(
            "postgresql:///{db}?host={}&user=pyusage",
            self.dir.path().display()
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let _ = self
            .cmd("pg_ctl")
            .arg("-D")
            .arg(self.dir.path().join("data"))
            .args(["-m", "immediate", "-w", "stop"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status();
    }
}
