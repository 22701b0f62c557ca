//! `pyusage ingest`, run as a real process on spools of real tracer records
//! and of generated ones, into SQLite and into a private PostgreSQL cluster.
//!
//! Stores are compared through [`dump`]: every row of every table with ids
//! replaced by the natural values they stand for, so two stores that hold the
//! same records compare equal whatever order they were written in, and an
//! SQLite store compares with a PostgreSQL one.

mod pg;

use pyusage_tests::cli::*;
use serde_json::{json, Value};
use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// The Debian interpreter (static libpython) the tools tests trace.
const PY: &str = "/usr/bin/python3.11";

// --------------------------------------------------------------- stores ----

/// A store as the tests see it.
pub enum Db {
    /// An SQLite file.
    Sqlite(PathBuf),
    /// A PostgreSQL URL.
    Pg(String),
}

impl Db {
    /// What `--db` gets.
    pub fn arg(&self) -> String {
        match self {
            Db::Sqlite(p) => p.display().to_string(),
            Db::Pg(u) => u.clone(),
        }
    }

    /// Rows of `sql` (every column cast to text by the query), as strings.
    pub fn rows(&self, sql: &str) -> Vec<String> {
        match self {
            Db::Sqlite(p) => {
                let c = rusqlite::Connection::open(p).unwrap();
                let mut s = c.prepare(sql).unwrap();
                let n = s.column_count();
                s.query_map([], |r| {
                    Ok((0..n)
                        .map(|i| {
                            r.get::<_, Option<String>>(i)
                                .unwrap()
                                .unwrap_or_else(|| "NULL".into())
                        })
                        .collect::<Vec<_>>()
                        .join("|"))
                })
                .unwrap()
                .map(Result::unwrap)
                .collect()
            }
            Db::Pg(u) => {
                let mut c = postgres::Client::connect(u, postgres::NoTls).unwrap();
                c.query(sql, &[])
                    .unwrap()
                    .iter()
                    .map(|r| {
                        (0..r.len())
                            .map(|i| {
                                r.get::<_, Option<String>>(i)
                                    .unwrap_or_else(|| "NULL".into())
                            })
                            .collect::<Vec<_>>()
                            .join("|")
                    })
                    .collect()
            }
        }
    }

    /// How many processes are stored; 0 when there is no store yet.
    pub fn stored(&self) -> i64 {
        let sql = "SELECT count(*) FROM processes";
        match self {
            Db::Sqlite(p) => rusqlite::Connection::open(p)
                .and_then(|c| c.query_row(sql, [], |r| r.get(0)))
                .unwrap_or(0),
            Db::Pg(u) => postgres::Client::connect(u, postgres::NoTls)
                .and_then(|mut c| c.query_one(sql, &[]))
                .map(|r| r.get(0))
                .unwrap_or(0),
        }
    }

    /// One number.
    pub fn count(&self, sql: &str) -> i64 {
        self.rows(&format!("SELECT CAST(({sql}) AS TEXT)"))[0]
            .parse()
            .unwrap()
    }
}

/// Every row of every table, ids resolved to what they stand for; the same
/// text on both backends for the same records.
pub fn dump(db: &Db) -> Vec<String> {
    let t = |e: &str| format!("CAST({e} AS TEXT)");
    let processes = format!(
        "SELECT p.record_id, {}, h.name, {}, u.name, {}, p.claimed_user, {}, j.scheduler, j.cluster, j.job_id, \
         j.partition, {}, {}, {}, {}, p.step, {}, {}, {}, p.exe, p.script, p.notebook, i.implementation, i.version, \
         p.prefix, {}, {}, p.ended_how, {}, {}, {}, pp.record_id, {}, {}, {}, p.cuda, p.mpi, p.blas, s.digest, \
         p.import_ms \
         FROM processes p JOIN hosts h ON h.id = p.host JOIN users u ON u.id = p.owner \
         LEFT JOIN jobs j ON j.id = p.job JOIN interpreters i ON i.id = p.interpreter \
         LEFT JOIN processes pp ON pp.id = p.parent JOIN package_sets s ON s.id = p.package_set \
         ORDER BY p.record_id",
        t("p.schema"),
        t("u.uid"),
        t("p.claimed_uid"),
        t("p.claim_differs"),
        t("j.nodes"),
        t("j.tasks"),
        t("j.gpus"),
        t("j.cpus_per_task"),
        t("p.rank"),
        t("p.pid"),
        t("p.ppid"),
        t("p.start_us"),
        t("p.end_us"),
        t("p.ended_status"),
        t("p.ended_signal"),
        t("p.forked_from"),
        t("p.forks"),
        t("CAST(p.sample * 1000000 AS BIGINT)"),
        t("p.truncated"),
    );
    let members = format!(
        "SELECT s.digest, {}, {}, d.name, r.version, e.label, m.via, b.name \
         FROM package_sets s JOIN package_set_members m ON m.package_set = s.id \
         JOIN releases r ON r.id = m.release JOIN dists d ON d.id = r.dist \
         LEFT JOIN envs e ON e.id = m.env LEFT JOIN dists b ON b.id = m.by_dist \
         ORDER BY s.digest, m.ord",
        t("s.size"),
        t("m.ord")
    );
    let unmapped = "SELECT p.record_id, u.path FROM process_unmapped x \
         JOIN processes p ON p.id = x.process JOIN unmapped_paths u ON u.id = x.path \
         ORDER BY p.record_id, u.path";
    let mut out = Vec::new();
    for table in [
        "hosts",
        "users",
        "jobs",
        "interpreters",
        "envs",
        "dists",
        "releases",
        "package_sets",
        "package_set_members",
        "processes",
        "unmapped_paths",
        "process_unmapped",
    ] {
        out.push(format!(
            "{table}: {}",
            db.count(&format!("SELECT count(*) FROM {table}"))
        ));
    }
    for q in [processes.as_str(), &members, unmapped] {
        out.extend(db.rows(q));
    }
    out
}

/// Asserts two dumps are equal, showing the first difference.
pub fn assert_same(a: &[String], b: &[String], what: &str) {
    if a != b {
        let first = a
            .iter()
            .zip(b)
            .position(|(x, y)| x != y)
            .unwrap_or(a.len().min(b.len()));
        panic!(
            "{what}: stores differ ({} vs {} rows); first difference at row {first}:\n  {:?}\n  {:?}",
            a.len(),
            b.len(),
            a.get(first),
            b.get(first)
        );
    }
}

// ---------------------------------------------------------------- ingest ----

/// `pyusage ingest` of `sources` into `db`, with this site's config.
pub fn ingest_cmd(site: &Site, db: &Db, extra: &[&str], sources: &[&Path]) -> Command {
    let mut c = pyusage(["ingest", "--config"]);
    c.arg(&site.config)
        .arg("--db")
        .arg(db.arg())
        .args(extra)
        .args(sources);
    c
}

/// Runs an ingest to completion.
pub fn ingest(site: &Site, db: &Db, extra: &[&str], sources: &[&Path]) -> Output {
    let out = run(&mut ingest_cmd(site, db, extra, sources));
    out.assert_no_crash();
    out
}

/// The numbers of the summary line: new, replaced, duplicates, quarantined, failed.
pub fn summary(out: &Output) -> [u64; 5] {
    let line = out
        .stdout
        .lines()
        .find(|l| l.starts_with("ingested into"))
        .unwrap_or_else(|| panic!("no summary line:\n{out}"));
    let mut n = [0u64; 5];
    for (i, word) in ["new", "replaced", "duplicates", "quarantined", "failed"]
        .iter()
        .enumerate()
    {
        let before = line
            .split(&format!(" {word}"))
            .next()
            .unwrap()
            .rsplit(' ')
            .next()
            .unwrap();
        n[i] = before
            .parse()
            .unwrap_or_else(|_| panic!("{word} in {line}"));
    }
    n
}

/// Files directly in `dir` and its subdirectories (not `quarantine/`).
pub fn spool_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            if e.file_name() != "quarantine" {
                out.extend(spool_files(&p));
            }
        } else {
            out.push(p);
        }
    }
    out.sort();
    out
}

/// Copies every file of `from` into `to` (flat), keeping names.
pub fn copy_spool(from: &Path, to: &Path) {
    fs::create_dir_all(to).unwrap();
    for f in spool_files(from) {
        fs::copy(&f, to.join(f.file_name().unwrap())).unwrap();
    }
}

// ------------------------------------------------------------- generated ----

/// A deterministic pseudo-random sequence (tests must be repeatable).
pub struct Lcg(pub u64);

impl Lcg {
    /// Next value below `n`.
    pub fn below(&mut self, n: u64) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 33) % n
    }
}

fn time(us: u64) -> String {
    let secs = us / 1_000_000;
    let days = secs / 86_400;
    let sod = secs % 86_400;
    // 2026-01-01 is day 20454 since the epoch; stay within January.
    let day = 1 + (days - 20_454) % 28;
    format!(
        "2026-01-{day:02}T{:02}:{:02}:{:02}.{:06}Z",
        sod / 3600,
        sod % 3600 / 60,
        sod % 60,
        us % 1_000_000
    )
}

/// `n` schema 2 records like a cluster's: jobs with ranks sharing package
/// sets, fork children of some of them, a few without a job, a few
/// vanished. Written as `<id>.json` into `spool`; returns their ids.
// `is_multiple_of` is newer than the workspace's rust-version.
#[allow(clippy::manual_is_multiple_of)]
pub fn generate(spool: &Path, n: usize, seed: u64) -> Vec<String> {
    fs::create_dir_all(spool).unwrap();
    let mut rng = Lcg(seed);
    let dists: Vec<String> = (0..40).map(|i| format!("dist{i}")).collect();
    let mut ids = Vec::new();
    let mut i = 0;
    while ids.len() < n {
        i += 1;
        let job = rng.below(50);
        let host = format!("nid{:03}", rng.below(8));
        let start =
            1_767_225_600_000_000 + rng.below(20 * 86_400) * 1_000_000 + rng.below(1_000_000);
        let mut packages = Vec::new();
        let mut seen = BTreeSet::new();
        for _ in 0..(job % 7 + 1) {
            let d = (rng.below(40) * rng.below(40) / 40) as usize;
            if seen.insert(d) {
                let via = ["import", "extension", "library"][d % 3];
                packages.push(json!({
                    "name": dists[d], "version": format!("1.{}", d % 3), "via": via,
                    "env": if d % 5 == 0 { Value::Null } else { json!(format!("env{}", d % 4)) },
                    "by": if d % 4 == 0 { json!(dists[(d + 1) % 40]) } else { Value::Null },
                    "at_ms": if d % 6 == 0 { Value::Null } else { json!(d * 10) },
                }));
            }
        }
        let pid = 1000 + (i as u64) * 3;
        let vanished = rng.below(20) == 0;
        let with_job = job % 10 != 0;
        let id = format!("{:016x}{:016x}", seed, i as u64 * 0x9e37_79b9 + 1);
        let rec = json!({
            "schema": 2, "id": id, "pid": pid, "ppid": 1, "uid": 1000 + job % 5,
            "user": format!("user{}", job % 5), "host": host, "exe": "/usr/bin/python3.11",
            "script": format!("job{job}.py"), "notebook": if job == 7 { json!("a.ipynb") } else { Value::Null },
            "python": {"version": "3.11.2", "implementation": "cpython", "prefix": "/usr"},
            "start": time(start), "end": time(start + 1_000_000 + rng.below(100_000_000)),
            "ended": if vanished { json!({"how": "vanished", "status": null, "signal": null}) }
                     else { json!({"how": "exit", "status": rng.below(3), "signal": null}) },
            "job": if with_job { json!({"scheduler": "slurm", "id": format!("{}", 5000 + job), "step": "0",
                     "cluster": "c1", "nodes": job % 4 + 1, "tasks": job % 8 + 1, "rank": rng.below(8),
                     "partition": if job % 2 == 0 { json!("gpu") } else { Value::Null },
                     "gpus": if job % 2 == 0 { json!(4) } else { Value::Null }, "cpus_per_task": job % 3 + 1}) }
                   else { Value::Null },
            "packages": packages,
            "unmapped": if job % 9 == 0 { json!([format!("/home/u/mod{}.py", job % 3)]) } else { json!([]) },
            "native": {"cuda": if job % 2 == 0 { json!(["libcudart.so.12"]) } else { json!([]) }, "mpi": [], "blas": ["libopenblas.so.0"]},
            "forked_from": null, "forks": if job % 6 == 0 { 1 } else { 0 }, "sample": 1.0, "truncated": job == 13,
        });
        fs::write(spool.join(format!("{id}.json")), format!("{rec}\n")).unwrap();
        ids.push(id);
        if job % 6 == 0 && ids.len() < n {
            // A fork child of the process above: same host, same job, imports more.
            let mut child = rec.clone();
            let cid = format!("{:016x}{:016x}", seed ^ 0xff, i as u64 * 0x9e37_79b9 + 1);
            child["id"] = json!(cid);
            child["pid"] = json!(pid + 1);
            child["ppid"] = json!(pid);
            child["forked_from"] = json!(pid);
            child["forks"] = json!(0);
            child["job"] = Value::Null; // tied to the parent's job by ingest
            child["packages"]
                .as_array_mut()
                .unwrap()
                .push(json!({"name": "forkonly", "version": "9", "via": "import", "env": null, "by": null, "at_ms": 5}));
            fs::write(spool.join(format!("{cid}.json")), format!("{child}\n")).unwrap();
            ids.push(cid);
        }
    }
    ids
}

// ---------------------------------------------------------- real records ----

/// A fake installation of two distributions, `alpha` (imports `beta`) and
/// `beta`, with a package map of it.
struct Installed {
    root: PathBuf,
}

fn dist(site: &Path, name: &str, version: &str, files: &[(&str, &str)]) {
    let di = site.join(format!("{name}-{version}.dist-info"));
    fs::create_dir_all(&di).unwrap();
    fs::write(
        di.join("METADATA"),
        format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"),
    )
    .unwrap();
    let mut record = String::new();
    for (f, text) in files {
        let p = site.join(f);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        fs::write(&p, text).unwrap();
        record.push_str(&format!("{f},sha256=AAAA,7\n"));
    }
    record.push_str(&format!("{name}-{version}.dist-info/METADATA,,\n"));
    fs::write(di.join("RECORD"), record).unwrap();
}

impl Installed {
    fn new(site: &Site) -> Installed {
        let root = site.tmp.path().join("site-packages");
        dist(
            &root,
            "alpha",
            "1.0",
            &[("alpha/__init__.py", "import beta\n")],
        );
        dist(&root, "beta", "2.0", &[("beta/__init__.py", "X = 1\n")]);
        run(pyusage(["map", "build", "--output"])
            .arg(&site.map)
            .arg("--root")
            .arg(format!("{}=testenv", root.display())))
        .assert_ok();
        Installed { root }
    }

    /// Runs `PY -c code` under the tracer; returns when it has ended.
    fn trace(&self, site: &Site, code: &str) -> Output {
        let mut c = pyusage(["run", "--config"]);
        c.arg(&site.config)
            .arg("--spool")
            .arg(&site.spool)
            .arg("--runtime-dir")
            .arg(&site.runtime)
            .arg("--map")
            .arg(&site.map)
            .arg("--lib")
            .arg(libpyusage())
            .args(["--", PY, "-c", code])
            .env("PYTHONPATH", &self.root);
        run(&mut c)
    }
}

/// Real records of every way a process ends: exit (0, non-zero, uncaught
/// exception), `os._exit`, `exec`, a fork child, killed by SIGTERM and by
/// SIGKILL (shipped by the sweep).
fn real_spool(site: &Site) -> Installed {
    let inst = Installed::new(site);
    let programs = [
        "import alpha",
        "import beta, sys; sys.exit(3)",
        "import alpha; raise ValueError('boom')",
        "import beta, os; os._exit(4)",
        "import alpha, os; os.execv('/bin/true', ['true'])",
        "import os\npid = os.fork()\nif pid == 0:\n    import alpha\n    os._exit(0)\nos.waitpid(pid, 0)\nimport beta",
        "import alpha, os, signal; os.kill(os.getpid(), signal.SIGTERM)",
        "import beta, os, signal; os.kill(os.getpid(), signal.SIGKILL)",
    ];
    for p in programs {
        inst.trace(site, p);
    }
    site.sweep(&[]).assert_ok();
    inst
}

fn skip_without_tracer() -> bool {
    if built_libpyusage().is_none() || !Path::new(PY).exists() {
        pyusage_tests::skip::skipped(&format!("needs the built libpyusage.so and {PY}"));
        return true;
    }
    false
}

#[test]
fn real_records_of_every_exit_kind_are_stored() {
    if skip_without_tracer() {
        return;
    }
    let site = Site::new();
    real_spool(&site);
    let files = spool_files(&site.spool);
    assert!(files.len() >= 8, "expected a record per program: {files:?}");
    let db = Db::Sqlite(site.tmp.path().join("usage.db"));
    let out = ingest(&site, &db, &[], &[&site.spool]);
    out.assert_ok();
    assert_eq!(summary(&out), [files.len() as u64, 0, 0, 0, 0], "{out}");
    assert!(
        spool_files(&site.spool).is_empty(),
        "spool files left after commit"
    );

    let hows: BTreeSet<String> = db
        .rows("SELECT DISTINCT ended_how FROM processes")
        .into_iter()
        .collect();
    for how in ["exit", "_exit", "exec", "vanished"] {
        assert!(hows.contains(how), "no `{how}` record stored: {hows:?}");
    }
    let statuses = db.rows(
        "SELECT CAST(ended_status AS TEXT) FROM processes WHERE ended_how IN ('exit', '_exit') ORDER BY 1",
    );
    for s in ["0", "1", "3", "4"] {
        assert!(
            statuses.iter().any(|x| x == s),
            "no exit status {s}: {statuses:?}"
        );
    }
    // alpha imports beta: a process that imported alpha used both, from the
    // map's environment label.
    let pairs = db.rows(
        "SELECT d.name || '=' || r.version || '@' || e.label || ':' || m.via FROM processes p \
         JOIN package_set_members m ON m.package_set = p.package_set JOIN releases r ON r.id = m.release \
         JOIN dists d ON d.id = r.dist JOIN envs e ON e.id = m.env WHERE p.ended_how = 'exec'",
    );
    assert_eq!(
        pairs,
        ["alpha=1.0@testenv:import", "beta=2.0@testenv:import"],
        "packages of the exec'd process"
    );
    // Who imported what (record schema 2): the program imported alpha, alpha imported beta.
    let by = db.rows(
        "SELECT d.name || '<' || COALESCE(b.name, 'program') FROM processes p \
         JOIN package_set_members m ON m.package_set = p.package_set JOIN releases r ON r.id = m.release \
         JOIN dists d ON d.id = r.dist LEFT JOIN dists b ON b.id = m.by_dist WHERE p.ended_how = 'exec' \
         ORDER BY 1",
    );
    assert_eq!(by, ["alpha<program", "beta<alpha"]);
    // The fork child is tied to its parent's row.
    let linked = db.rows(
        "SELECT CAST(c.forked_from AS TEXT) || '=' || CAST(p.pid AS TEXT) FROM processes c \
         JOIN processes p ON p.id = c.parent",
    );
    assert_eq!(linked.len(), 1, "fork child not linked: {linked:?}");
    let (a, b) = linked[0].split_once('=').unwrap();
    assert_eq!(a, b);
    // Owned by whoever ran the tests, and no record claims otherwise.
    assert_eq!(
        db.count("SELECT count(*) FROM processes p JOIN users u ON u.id = p.owner WHERE u.uid <> p.claimed_uid"),
        0
    );
    // Every package set member, and the sets are shared: fewer sets than processes.
    assert!(
        db.count("SELECT count(*) FROM package_sets") < db.count("SELECT count(*) FROM processes")
    );
}

#[test]
fn ingest_is_idempotent_and_keeps_files_when_asked() {
    if skip_without_tracer() {
        return;
    }
    let site = Site::new();
    real_spool(&site);
    let copy = site.tmp.path().join("copy");
    copy_spool(&site.spool, &copy);
    let n = spool_files(&copy).len() as u64;
    let db = Db::Sqlite(site.tmp.path().join("usage.db"));
    let keep = site.tmp.path().join("kept");
    ingest(
        &site,
        &db,
        &["--keep", keep.to_str().unwrap()],
        &[&site.spool],
    )
    .assert_ok();
    let first = dump(&db);
    // Kept under DIR/YYYY-MM-DD/ with their names.
    let days: Vec<_> = fs::read_dir(&keep).unwrap().flatten().collect();
    assert_eq!(days.len(), 1);
    let day = days[0].file_name().to_string_lossy().into_owned();
    assert!(day.len() == 10 && day.as_bytes()[4] == b'-', "{day}");
    let kept: BTreeSet<_> = spool_files(&days[0].path())
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    let orig: BTreeSet<_> = spool_files(&copy)
        .iter()
        .map(|p| p.file_name().unwrap().to_owned())
        .collect();
    assert_eq!(kept, orig);

    // The same records again (re-delivered): all duplicates, store unchanged.
    copy_spool(&copy, &site.spool);
    let out = ingest(&site, &db, &[], &[&site.spool]);
    out.assert_ok();
    assert_eq!(summary(&out), [0, 0, n, 0, 0], "{out}");
    assert_same(&first, &dump(&db), "after re-ingest");

    // And from an NDJSON file (the export form): still the same store.
    let nd = site.tmp.path().join("all.ndjson");
    let text: String = spool_files(&copy)
        .iter()
        .map(|f| fs::read_to_string(f).unwrap().trim_end().to_owned() + "\n")
        .collect();
    fs::write(&nd, text).unwrap();
    let out = ingest(&site, &db, &[], &[&nd]);
    assert_eq!(summary(&out), [0, 0, n, 0, 0], "{out}");
    assert!(nd.exists(), "an NDJSON source is never removed");
    assert_same(&first, &dump(&db), "after NDJSON");

    // --dry-run stores and moves nothing.
    copy_spool(&copy, &site.spool);
    let other = Db::Sqlite(site.tmp.path().join("dry.db"));
    let out = ingest(&site, &other, &["--dry-run"], &[&site.spool]);
    out.assert_ok();
    assert!(out.stdout.contains(&format!("{n} valid")), "{out}");
    assert!(!site.tmp.path().join("dry.db").exists());
    assert_eq!(spool_files(&site.spool).len() as u64, n);
}

#[test]
fn a_record_seen_twice_keeps_the_later_more_complete_copy() {
    let site = Site::new();
    let ids = generate(&site.spool, 3, 7);
    let path = site.spool.join(format!("{}.json", ids[0]));
    let full: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    // The copy shipped before a failed exec: earlier end, fewer packages.
    let mut early = full.clone();
    early["ended"] = json!({"how": "exec", "status": null, "signal": null});
    early["end"] = full["start"].clone();
    early["packages"] = json!([]);
    fs::write(&path, format!("{early}\n")).unwrap();
    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    let out = ingest(&site, &db, &[], &[&site.spool]);
    assert_eq!(summary(&out), [3, 0, 0, 0, 0], "{out}");
    // The final copy arrives: it replaces the early one.
    fs::write(&path, format!("{full}\n")).unwrap();
    let out = ingest(&site, &db, &[], &[&site.spool]);
    assert_eq!(summary(&out), [0, 1, 0, 0, 0], "{out}");
    let how = db.rows(&format!(
        "SELECT ended_how FROM processes WHERE record_id = '{}'",
        ids[0]
    ));
    assert_eq!(how, [full["ended"]["how"].as_str().unwrap()]);
    // The early copy delivered again later changes nothing.
    fs::write(&path, format!("{early}\n")).unwrap();
    let before = dump(&db);
    let out = ingest(&site, &db, &[], &[&site.spool]);
    assert_eq!(summary(&out), [0, 0, 1, 0, 0], "{out}");
    assert_same(&before, &dump(&db), "older copy");
    // Both copies in one run: the better one wins there too.
    let db2 = Db::Sqlite(site.tmp.path().join("u2.db"));
    let nd = site.tmp.path().join("both.ndjson");
    fs::write(&nd, format!("{full}\n{early}\n")).unwrap();
    let out = ingest(&site, &db2, &[], &[&nd]);
    assert_eq!(summary(&out), [1, 0, 1, 0, 0], "{out}");
    assert_eq!(
        db2.rows("SELECT ended_how FROM processes"),
        [full["ended"]["how"].as_str().unwrap()]
    );
}

#[test]
fn schema_1_and_schema_2_records_are_both_read() {
    let site = Site::new();
    let ids = generate(&site.spool, 1, 11);
    let path = site.spool.join(format!("{}.json", ids[0]));
    let two: Value = serde_json::from_str(&fs::read_to_string(&path).unwrap()).unwrap();
    let mut one = two.clone();
    one["schema"] = json!(1);
    one["id"] = json!("00000000000000000000000000000001");
    one.as_object_mut().unwrap().remove("notebook");
    for p in one["packages"].as_array_mut().unwrap() {
        let p = p.as_object_mut().unwrap();
        p.remove("by");
        p.remove("at_ms");
    }
    if let Some(j) = one["job"].as_object_mut() {
        j.remove("partition");
        j.remove("gpus");
        j.remove("cpus_per_task");
    }
    fs::write(
        site.spool.join("00000000000000000000000000000001.json"),
        format!("{one}\n"),
    )
    .unwrap();
    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    let out = ingest(&site, &db, &[], &[&site.spool]);
    assert_eq!(summary(&out), [2, 0, 0, 0, 0], "{out}");
    let rows = db.rows(
        "SELECT CAST(schema AS TEXT), COALESCE(import_ms, 'NULL') FROM processes ORDER BY schema",
    );
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[0], "1|NULL", "schema 1 has no import times");
    assert!(rows[1].starts_with("2|["), "{rows:?}");
}

#[test]
fn every_kind_of_bad_record_is_quarantined_with_its_reason() {
    let site = Site::new();
    let ids = generate(&site.spool, 2, 3);
    let good: Value = serde_json::from_str(
        &fs::read_to_string(site.spool.join(format!("{}.json", ids[0]))).unwrap(),
    )
    .unwrap();
    let mut n = 0u32;
    let mut bad = |reason: &str, bytes: Vec<u8>| {
        n += 1;
        let name = format!("{n:032x}.json");
        fs::write(site.spool.join(&name), bytes).unwrap();
        (name, reason.to_owned())
    };
    let with = |f: &dyn Fn(&mut Value)| {
        let mut v = good.clone();
        f(&mut v);
        v.to_string().into_bytes()
    };
    let mut expect = vec![
        bad("not-utf8", b"{\"schema\":2,\"host\":\"\xff\xfe\"}".to_vec()),
        bad(
            "too-deep",
            format!("{}{}", "[".repeat(50), "]".repeat(50)).into_bytes(),
        ),
        bad("not-json", b"{\"schema\":2,".to_vec()),
        bad(
            "duplicate-key",
            good.to_string()
                .replacen("\"pid\":", "\"pid\":1,\"pid\":", 1)
                .into_bytes(),
        ),
        bad("schema", with(&|v| v["surprise"] = json!(1))),
        bad("schema", with(&|v| v["pid"] = json!("12"))),
        bad(
            "schema",
            with(&|v| {
                v.as_object_mut().unwrap().remove("host");
            }),
        ),
        bad("value", with(&|v| v["id"] = json!("XYZ"))),
        bad("value", with(&|v| v["start"] = json!("yesterday"))),
        bad("value", with(&|v| v["sample"] = json!(1.5))),
        bad("value", with(&|v| v["ended"]["how"] = json!("exploded"))),
        bad("value", with(&|v| v["schema"] = json!(99))),
        bad("string", with(&|v| v["exe"] = json!("/bin/py\u{0}thon"))),
        bad("string", with(&|v| v["script"] = json!("x".repeat(5000)))),
        bad("too-large", {
            let mut v = good.to_string().into_bytes();
            v.resize(17 << 20, b' ');
            v
        }),
    ];
    // Not a record's name; a symlink; a FIFO.
    fs::write(site.spool.join("notes.json"), good.to_string()).unwrap();
    expect.push(("notes.json".into(), "file".into()));
    std::os::unix::fs::symlink("/etc/passwd", site.spool.join(format!("{:032x}.json", 900)))
        .unwrap();
    expect.push((format!("{:032x}.json", 900), "file".into()));
    mkfifo(&site.spool.join(format!("{:032x}.json", 901)));
    expect.push((format!("{:032x}.json", 901), "file".into()));

    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    let out = ingest(&site, &db, &[], &[&site.spool]);
    out.assert_code(1);
    assert_eq!(summary(&out), [2, 0, 0, expect.len() as u64, 0], "{out}");
    let q = site.spool.join("quarantine");
    for (name, reason) in &expect {
        let text = fs::read_to_string(q.join(format!("{name}.reason")))
            .unwrap_or_else(|e| panic!("{name}: no reason file ({e}):\n{out}"));
        assert!(
            text.starts_with(&format!("{reason}: ")),
            "{name}: reason {text:?}, expected {reason}"
        );
        assert!(
            fs::symlink_metadata(q.join(name)).is_ok(),
            "{name} not kept in quarantine"
        );
        assert!(
            out.stderr.contains(&format!("{name}: {reason}")),
            "{name} not named on stderr:\n{out}"
        );
    }
    // Moved as what they are, never followed.
    assert!(fs::symlink_metadata(q.join(format!("{:032x}.json", 900)))
        .unwrap()
        .file_type()
        .is_symlink());
    // Nothing left in the spool but the quarantine.
    assert!(
        spool_files(&site.spool).is_empty(),
        "{:?}",
        spool_files(&site.spool)
    );

    // A bad NDJSON line goes to quarantine/ beside the file, as its own file.
    let nd = site.tmp.path().join("x.ndjson");
    fs::write(&nd, format!("{good}\nnot json\n")).unwrap();
    let out = ingest(&site, &db, &[], &[&nd]);
    out.assert_code(1);
    let reason =
        fs::read_to_string(site.tmp.path().join("quarantine/x.ndjson.line-2.reason")).unwrap();
    assert!(reason.starts_with("not-json: "), "{reason}");
}

#[test]
fn a_record_is_stored_under_its_file_owner() {
    if !is_root() {
        pyusage_tests::skip!("needs root to give a record file to another user");
    }
    let site = Site::new();
    let ids = generate(&site.spool, 2, 5);
    // The record claims uid 1000+; its file belongs to `daemon` (uid 1).
    let claimed = site.spool.join(format!("{}.json", ids[0]));
    chown(&claimed, 1);
    // An owner without a passwd entry is kept as a number.
    let unknown = site.spool.join(format!("{}.json", ids[1]));
    chown(&unknown, 4_000_123);
    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    ingest(&site, &db, &[], &[&site.spool]).assert_ok();
    let rows = db.rows(&format!(
        "SELECT p.record_id || ' ' || CAST(u.uid AS TEXT) || ' ' || COALESCE(u.name, 'NULL') || ' ' || \
         CAST(p.claim_differs AS TEXT) FROM processes p JOIN users u ON u.id = p.owner \
         WHERE p.record_id IN ('{}', '{}') ORDER BY p.record_id",
        ids[0], ids[1]
    ));
    let daemon = passwd_name(1).unwrap_or_else(|| "NULL".into());
    let mut want = vec![
        format!("{} 1 {daemon} 1", ids[0]),
        format!("{} 4000123 NULL 1", ids[1]),
    ];
    want.sort();
    assert_eq!(rows, want);
}

fn passwd_name(uid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.get(2) == Some(&uid.to_string().as_str())).then(|| f[0].to_owned())
    })
}

/// Kills ingests of `spool` into `db` at random moments, `times` times,
/// then lets one finish; returns its output. Asserts that some kill came
/// between two commits (some records stored, not all), so that the test
/// tests what it says.
/// Kill moments are spread over `clean`, the time a whole ingest took. On a
/// loaded machine an ingest may take much longer to its first commit than
/// the clean one took in all (or a warm one be much faster), so every other
/// kill, the first included, instead waits until the store has grown since
/// the ingest started (a commit happened) and lands right after it:
/// mid-ingest unless that commit was the last.
pub fn ingest_killed(
    site: &Site,
    db: &Db,
    spool: &Path,
    times: u32,
    seed: u64,
    clean: Duration,
) -> Output {
    let mut rng = Lcg(seed);
    let total = spool_files(spool).len() as i64;
    let mut partial = false;
    let mut counts = Vec::new();
    let span = clean.as_millis().max(50) as u64;
    for i in 0..times {
        let before = db.stored();
        if before == total {
            break; // nothing left to interrupt
        }
        let mut c = ingest_cmd(site, db, &["--batch", "50"], &[spool]);
        c.stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        let mut child = c.spawn().unwrap();
        if i % 2 == 1 {
            std::thread::sleep(Duration::from_millis(5 + rng.below(span)));
        } else {
            let give_up = std::time::Instant::now() + Duration::from_secs(60);
            while db.stored() == before
                && std::time::Instant::now() < give_up
                && child.try_wait().ok().flatten().is_none()
            {
                std::thread::sleep(Duration::from_millis(1));
            }
        }
        let _ = child.kill();
        let _ = child.wait();
        let n = db.stored();
        counts.push(n);
        partial |= n > 0 && n < total;
    }
    assert!(
        partial,
        "no kill landed mid-ingest (stored after each: {counts:?} of {total})"
    );
    ingest(site, db, &["--batch", "50"], &[spool])
}

#[test]
fn an_ingest_killed_at_any_moment_loses_and_duplicates_nothing() {
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 3000, 21);
    copy_spool(&src, &site.spool);
    let clean = Db::Sqlite(site.tmp.path().join("clean.db"));
    let clean_spool = site.tmp.path().join("clean-spool");
    copy_spool(&src, &clean_spool);
    let took = std::time::Instant::now();
    ingest(&site, &clean, &["--batch", "50"], &[&clean_spool]).assert_ok();
    let took = took.elapsed();
    let killed = Db::Sqlite(site.tmp.path().join("killed.db"));
    let out = ingest_killed(&site, &killed, &site.spool, 12, 99, took);
    out.assert_ok();
    assert!(spool_files(&site.spool).is_empty(), "files left behind");
    assert_same(&dump(&clean), &dump(&killed), "killed vs clean");
    assert_eq!(killed.count("SELECT count(*) FROM processes"), 3000);
}

/// Starts `n` ingests of the same spool at once; returns their outputs.
pub fn concurrent(site: &Site, db: &Db, spool: &Path, n: usize) -> Vec<Output> {
    let children: Vec<_> = (0..n)
        .map(|_| {
            ingest_cmd(site, db, &["--batch", "200"], &[spool])
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    children
        .into_iter()
        .map(|c| wait(c, &"concurrent ingest"))
        .collect()
}

#[test]
fn concurrent_ingests_claim_each_record_once() {
    let site = Site::new();
    let src = site.tmp.path().join("src");
    generate(&src, 2000, 33);
    copy_spool(&src, &site.spool);
    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    let outs = concurrent(&site, &db, &site.spool, 3);
    let mut total = [0u64; 5];
    for o in &outs {
        o.assert_ok();
        for (t, v) in total.iter_mut().zip(summary(o)) {
            *t += v;
        }
    }
    assert_eq!(
        total,
        [2000, 0, 0, 0, 0],
        "each record stored by exactly one ingest"
    );
    let clean = Db::Sqlite(site.tmp.path().join("clean.db"));
    ingest(&site, &clean, &[], &[&src]).assert_ok();
    assert_same(&dump(&clean), &dump(&db), "concurrent vs one");
}

#[test]
fn fan_out_subdirectories_and_stale_claims_are_read() {
    let site = Site::new();
    let ids = generate(&site.spool, 4, 41);
    // One record in a fan-out directory, one claimed by an ingest that died.
    let sub = site.spool.join("a7");
    fs::create_dir(&sub).unwrap();
    fs::rename(
        site.spool.join(format!("{}.json", ids[0])),
        sub.join(format!("{}.json", ids[0])),
    )
    .unwrap();
    fs::rename(
        site.spool.join(format!("{}.json", ids[1])),
        site.spool
            .join(format!("{}.json.ingest-{}", ids[1], dead_pid())),
    )
    .unwrap();
    // A writer's temp file is left alone.
    fs::write(site.spool.join(".tmp-record"), "partial").unwrap();
    let db = Db::Sqlite(site.tmp.path().join("u.db"));
    let out = ingest(&site, &db, &[], &[&site.spool]);
    out.assert_ok();
    assert_eq!(summary(&out), [4, 0, 0, 0, 0], "{out}");
    assert!(site.spool.join(".tmp-record").exists());
    assert_eq!(
        fs::metadata(&sub).unwrap().nlink(),
        2,
        "fan-out dir emptied"
    );
}

#[test]
fn store_errors_exit_2_and_name_the_store() {
    let site = Site::new();
    generate(&site.spool, 1, 1);
    // A newer schema than this pyusage knows is refused, naming both versions.
    let path = site.tmp.path().join("new.db");
    let c = rusqlite::Connection::open(&path).unwrap();
    c.execute_batch(
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, applied_us BIGINT NOT NULL, tool TEXT NOT NULL);
         INSERT INTO schema_version VALUES (99, 0, 'future');",
    )
    .unwrap();
    drop(c);
    let out = ingest(&site, &Db::Sqlite(path.clone()), &[], &[&site.spool]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("99")
            && out
                .stderr
                .contains(&format!("version {}", pyusage_store::SCHEMA_VERSION)),
        "{out}"
    );
    assert!(out.stderr.contains(&path.display().to_string()), "{out}");
    assert_eq!(
        spool_files(&site.spool).len(),
        1,
        "nothing claimed or removed"
    );
    // Not a database at all.
    let junk = site.tmp.path().join("junk.db");
    fs::write(&junk, vec![7u8; 8192]).unwrap();
    let out = ingest(&site, &Db::Sqlite(junk.clone()), &[], &[&site.spool]);
    out.assert_code(2);
    assert!(out.stderr.contains(&junk.display().to_string()), "{out}");
    // An unknown kind of URL.
    let out = ingest(&site, &Db::Pg("mysql://x/y".into()), &[], &[&site.spool]);
    out.assert_code(2);
    assert!(out.stderr.contains("mysql"), "{out}");
}

#[test]
fn the_store_key_comes_from_the_config_and_is_checked() {
    let site = Site::new();
    generate(&site.spool, 2, 2);
    let db = site.tmp.path().join("from-config.db");
    fs::write(
        &site.config,
        format!("store = \"sqlite:{}\"\n", db.display()),
    )
    .unwrap();
    let out = run(pyusage(["ingest", "--config"])
        .arg(&site.config)
        .arg(&site.spool));
    out.assert_ok();
    assert_eq!(
        Db::Sqlite(db.clone()).count("SELECT count(*) FROM processes"),
        2
    );
    let out = run(pyusage(["config", "show", "--config"]).arg(&site.config));
    assert!(
        out.stdout
            .contains(&format!("store = \"sqlite:{}\"", db.display())),
        "{out}"
    );
    run(pyusage(["config", "check", "--config"]).arg(&site.config)).assert_ok();
    for bad in ["store = 3\n", "store = \"mysql://x/y\"\n"] {
        fs::write(&site.config, bad).unwrap();
        let out = run(pyusage(["config", "check", "--config"]).arg(&site.config));
        out.assert_code(1);
        assert!(out.stderr.contains("store"), "{bad}: {out}");
    }
}
