//! The same store tests against a real PostgreSQL: a private cluster in a
//! temp dir (Debian's `postgresql`, which `make test` installs as root),
//! listening on a unix socket only, stopped when the test ends. PostgreSQL
//! refuses to run as root, so as root the server runs as `nobody`.

use super::*;
use std::process::Stdio;

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

    fn url(&self, db: &str) -> String {
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

/// Starts a cluster or skips the test, naming what is missing.
macro_rules! cluster_or_skip {
    () => {
        match Cluster::start() {
            Ok(c) => c,
            Err(why) => pyusage_tests::skip!("PostgreSQL: {why}"),
        }
    };
}

#[test]
fn postgres_store_equals_sqlite_store() {
    let pg = cluster_or_skip!();
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 1500, 77);
    if !skip_without_tracer() {
        // Real records too, when the tracer is built.
        let real = Site::new();
        real_spool(&real);
        copy_spool(&real.spool, &src);
    }
    let n = spool_files(&src).len() as u64;
    let lite = Db::Sqlite(site.tmp.path().join("u.db"));
    let post = Db::Pg(pg.database("same"));
    for db in [&lite, &post] {
        let spool = site
            .tmp
            .path()
            .join(format!("spool-{}", matches!(db, Db::Pg(_))));
        copy_spool(&src, &spool);
        let out = ingest(&site, db, &[], &[&spool]);
        out.assert_ok();
        assert_eq!(summary(&out), [n, 0, 0, 0, 0], "{out}");
        // Again: all duplicates.
        copy_spool(&src, &spool);
        let out = ingest(&site, db, &[], &[&spool]);
        assert_eq!(summary(&out), [0, 0, n, 0, 0], "{out}");
    }
    let a = dump(&lite);
    assert!(a.len() as u64 > n, "dump too small");
    assert_same(&a, &dump(&post), "SQLite vs PostgreSQL");
    // The same report query gives the same answer on both.
    let top = "SELECT d.name, CAST(SUM(c.n) AS TEXT) FROM (SELECT package_set, COUNT(*) AS n FROM processes \
               GROUP BY package_set) c JOIN package_set_members m ON m.package_set = c.package_set \
               JOIN releases r ON r.id = m.release JOIN dists d ON d.id = r.dist \
               GROUP BY d.name ORDER BY SUM(c.n) DESC, d.name LIMIT 10";
    assert_eq!(lite.rows(top), post.rows(top));
    assert!(!lite.rows(top).is_empty());
}

#[test]
fn postgres_ingests_survive_kills_and_run_concurrently() {
    let pg = cluster_or_skip!();
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 2000, 55);
    let clean = Db::Pg(pg.database("clean"));
    let spool = site.tmp.path().join("clean-spool");
    copy_spool(&src, &spool);
    let took = std::time::Instant::now();
    ingest(&site, &clean, &["--batch", "50"], &[&spool]).assert_ok();
    let took = took.elapsed();
    let want = dump(&clean);

    let killed = Db::Pg(pg.database("killed"));
    copy_spool(&src, &site.spool);
    ingest_killed(&site, &killed, &site.spool, 8, 5, took).assert_ok();
    assert!(spool_files(&site.spool).is_empty());
    assert_same(&want, &dump(&killed), "PostgreSQL killed vs clean");

    let conc = Db::Pg(pg.database("conc"));
    copy_spool(&src, &site.spool);
    let mut total = [0u64; 5];
    for o in concurrent(&site, &conc, &site.spool, 3) {
        o.assert_ok();
        for (t, v) in total.iter_mut().zip(summary(&o)) {
            *t += v;
        }
    }
    assert_eq!(total, [2000, 0, 0, 0, 0]);
    assert_same(&want, &dump(&conc), "PostgreSQL concurrent vs clean");
}
