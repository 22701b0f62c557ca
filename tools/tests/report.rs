//! `pyusage report` and `pyusage export` on a store filled (through `pyusage
//! ingest`) with a handful of generated records whose answers are known
//! exactly: every section's numbers, the filters, the formats, and the
//! exports read back.
//!
//! The records (times from Monday 2026-11-02 10:00 UTC):
//!
//! | rec | user | job (cluster, nodes, GPUs) | packages | ends | other |
//! |---|---|---|---|---|---|
//! | P1 | alice | J1 (c1, 1) | numpy 2.1.3, scipy | exit 0 | 10:00-11:00, forks 2, cpython 3.11 |
//! | P2 | alice | J1 | numpy 2.1.3 | exit 0 | 10:10-11:00, fork child of P1 |
//! | P3 | alice | J2 (c1, 4) | pandas, numpy 2.1.3 by pandas | vanished | 10:00-12:00 |
//! | P4 | bob | J3 (c2, 2, 4 GPUs, 8 tasks) | torch, numpy 1.26.4 by torch, typing-extensions by torch | exit 0 | 10:00-11:00, CUDA, MPI |
//! | P5 | bob | J4 (c2, 1, 4 GPUs) | numpy 1.26.4 | exit 1 | 10:00-10:30 |
//! | P6 | carol | none | numpy 2.1.3, scipy, xarray | signal 15 | a week later, cpython 3.12 |
//! | P7 | dave | J5 (c1, 1) | requests | exit 0 | 10:00-11:00, sample 0.5, pypy 3.10 |

use pyusage_tests::cli::{pyusage, run};
use serde_json::{json, Value};
use std::fs;
use std::path::{Path, PathBuf};

const T: &str = "2026-11-02T10:00:00";

fn at(day: u32, h: u32, m: u32) -> String {
    format!("2026-11-{:02}T{h:02}:{m:02}:00.000000Z", 2 + day)
}

fn pkg(name: &str, version: &str, by: Option<&str>) -> Value {
    json!({"name": name, "version": version, "via": "import", "env": "base", "by": by, "at_ms": 5})
}

#[allow(clippy::too_many_arguments)]
fn rec(
    n: u32,
    uid: u32,
    user: &str,
    job: Option<Value>,
    packages: Vec<Value>,
    start: String,
    end: String,
    ended: Value,
) -> Value {
    json!({
        "schema": 2, "id": format!("{n:032x}"), "pid": 1000 + n, "ppid": 1,
        "uid": uid, "user": user, "host": "nid001", "exe": "/usr/bin/python3",
        "script": "run.py", "notebook": null,
        "python": {"version": "3.11.7", "implementation": "cpython", "prefix": "/sw/py"},
        "start": start, "end": end, "ended": ended, "job": job,
        "packages": packages, "unmapped": [],
        "native": {"cuda": [], "mpi": [], "blas": []},
        "forked_from": null, "forks": 0, "sample": 1.0, "truncated": false
    })
}

fn job(id: &str, cluster: &str, nodes: u32, gpus: Option<u32>) -> Value {
    json!({"scheduler": "slurm", "id": id, "step": "0", "cluster": cluster, "nodes": nodes,
           "tasks": 1, "rank": 0, "partition": "p", "gpus": gpus, "cpus_per_task": 1})
}

fn exit(status: i32) -> Value {
    json!({"how": "exit", "status": status, "signal": null})
}

/// The seven records of the module documentation.
fn records() -> Vec<Value> {
    let (a, b, c, d) = (1001, 1002, 1003, 1004);
    let mut p1 = rec(
        1,
        a,
        "alice",
        Some(job("1", "c1", 1, None)),
        vec![pkg("numpy", "2.1.3", None), pkg("scipy", "1.14.1", None)],
        at(0, 10, 0),
        at(0, 11, 0),
        exit(0),
    );
    p1["forks"] = json!(2);
    let mut p2 = rec(
        2,
        a,
        "alice",
        Some(job("1", "c1", 1, None)),
        vec![pkg("numpy", "2.1.3", None)],
        at(0, 10, 10),
        at(0, 11, 0),
        exit(0),
    );
    p2["forked_from"] = json!(1001);
    let p3 = rec(
        3,
        a,
        "alice",
        Some(job("2", "c1", 4, None)),
        vec![
            pkg("pandas", "2.2.3", None),
            pkg("numpy", "2.1.3", Some("pandas")),
        ],
        at(0, 10, 0),
        at(0, 12, 0),
        json!({"how": "vanished", "status": null, "signal": null}),
    );
    let mut p4 = rec(
        4,
        b,
        "bob",
        Some(job("3", "c2", 2, Some(4))),
        vec![
            pkg("torch", "2.5.1", None),
            pkg("numpy", "1.26.4", Some("torch")),
            pkg("typing-extensions", "4.12.2", Some("torch")),
        ],
        at(0, 10, 0),
        at(0, 11, 0),
        exit(0),
    );
    p4["job"]["tasks"] = json!(8);
    p4["native"] = json!({"cuda": ["libcudart.so.12"], "mpi": ["libmpi.so.40"], "blas": []});
    let p5 = rec(
        5,
        b,
        "bob",
        Some(job("4", "c2", 1, Some(4))),
        vec![pkg("numpy", "1.26.4", None)],
        at(0, 10, 0),
        at(0, 10, 30),
        exit(1),
    );
    let mut p6 = rec(
        6,
        c,
        "carol",
        None,
        vec![
            pkg("numpy", "2.1.3", None),
            pkg("scipy", "1.14.1", None),
            pkg("xarray", "2024.11.0", None),
        ],
        at(7, 11, 0),
        at(7, 11, 5),
        json!({"how": "signal", "status": null, "signal": 15}),
    );
    p6["python"]["version"] = json!("3.12.1");
    let mut p7 = rec(
        7,
        d,
        "dave",
        Some(job("5", "c1", 1, None)),
        vec![pkg("requests", "2.32.3", None)],
        at(0, 10, 0),
        at(0, 11, 0),
        exit(0),
    );
    p7["sample"] = json!(0.5);
    p7["python"] = json!({"version": "3.10.14", "implementation": "pypy", "prefix": "/sw/pypy"});
    vec![p1, p2, p3, p4, p5, p6, p7]
}

/// A store with the seven records, through `pyusage ingest` of an NDJSON
/// file (which keeps the users the records name).
struct Fixture {
    dir: tempfile::TempDir,
    db: PathBuf,
}

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let nd = dir.path().join("records.ndjson");
        let lines: Vec<String> = records().iter().map(|r| r.to_string()).collect();
        fs::write(&nd, lines.join("\n") + "\n").unwrap();
        let db = dir.path().join("usage.db");
        run(pyusage(["ingest", "--db"]).arg(&db).arg(&nd)).assert_ok();
        // No system configuration, and a map that does not exist.
        fs::write(
            dir.path().join("config.toml"),
            format!("map = \"{}\"\n", dir.path().join("no-map.bin").display()),
        )
        .unwrap();
        Fixture { dir, db }
    }

    fn report(&self, args: &[&str]) -> pyusage_tests::cli::Output {
        let mut c = pyusage(["report", "--db"]);
        c.arg(&self.db).args(args);
        c.env("PYUSAGE_CONFIG", self.dir.path().join("config.toml"));
        run(&mut c)
    }

    fn json(&self, args: &[&str]) -> Value {
        let mut a = vec!["--format", "json"];
        a.extend_from_slice(args);
        let out = self.report(&a);
        out.assert_ok();
        serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.stdout))
    }
}

/// A table of a JSON report.
fn table<'a>(r: &'a Value, section: &str, table: &str) -> &'a Value {
    r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == section)
        .unwrap_or_else(|| panic!("no section {section}"))["tables"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["id"] == table)
        .unwrap_or_else(|| panic!("no table {section}/{table}"))
}

/// Row of `t` whose first cell is `key`, as a column-name -> value map.
fn row(t: &Value, key: &str) -> serde_json::Map<String, Value> {
    let cols: Vec<&str> = t["columns"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    let r = t["rows"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r[0] == key)
        .unwrap_or_else(|| panic!("no row {key} in {}", t["id"]));
    cols.iter()
        .map(|c| c.to_string())
        .zip(r.as_array().unwrap().iter().cloned())
        .collect()
}

fn fact(s: &Value, id: &str) -> Value {
    s["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == id)
        .unwrap_or_else(|| panic!("no fact {id}"))["value"]
        .clone()
}

fn section<'a>(r: &'a Value, id: &str) -> &'a Value {
    r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == id)
        .unwrap()
}

fn close(v: &Value, want: f64) -> bool {
    v.as_f64().is_some_and(|x| (x - want).abs() < 1e-9)
}

macro_rules! assert_close {
    ($v:expr, $want:expr) => {
        assert!(
            close(&$v, $want),
            "{} = {}, want {}",
            stringify!($v),
            $v,
            $want
        )
    };
}

#[test]
fn every_section_gives_the_known_answers() {
    let f = Fixture::new();
    let r = f.json(&["--limit", "0"]);
    assert_eq!(r["format"], "pyusage-report");
    // Totals: P7 weighs 2 (sample 0.5), and so do dave and J5.
    assert_close!(fact(&r, "processes"), 8.0);
    assert_close!(fact(&r, "users"), 5.0);
    assert_close!(fact(&r, "jobs"), 6.0);
    // J1 1 h x 1, J2 2 h x 4, J3 1 h x 2, J4 0.5 h x 1, J5 1 h x 1 x 2.
    assert_close!(fact(&r, "node_hours"), 13.5);

    let top = table(&r, "top-packages", "packages");
    let order: Vec<&str> = top["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[0].as_str().unwrap())
        .collect();
    assert_eq!(
        order,
        [
            "numpy",
            "requests",
            "scipy",
            "pandas",
            "torch",
            "typing-extensions",
            "xarray"
        ]
    );
    let numpy = row(top, "numpy");
    assert_eq!(
        (&numpy["users"], &numpy["jobs"], &numpy["processes"]),
        (&json!(3), &json!(4), &json!(6))
    );
    assert_close!(numpy["node_hours"], 11.5);
    assert_close!(numpy["user_share"], 3.0 / 5.0);
    let requests = row(top, "requests");
    assert_eq!(
        (&requests["users"], &requests["jobs"]),
        (&json!(2), &json!(2))
    );

    let v = table(&r, "versions", "versions");
    let rows: Vec<(String, String, i64, i64)> = v["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[0] == "numpy")
        .map(|r| {
            (
                r[0].as_str().unwrap().into(),
                r[1].as_str().unwrap().into(),
                r[2].as_i64().unwrap(),
                r[3].as_i64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        rows,
        [
            ("numpy".into(), "2.1.3".into(), 2, 2),
            ("numpy".into(), "1.26.4".into(), 1, 2)
        ]
    );

    let js = section(&r, "job-size");
    assert_close!(fact(js, "single_node_share"), 4.0 / 6.0);
    assert_close!(fact(js, "mean_nodes"), 10.0 / 6.0);
    assert_close!(fact(js, "median_nodes"), 1.0);
    let n = row(table(&r, "job-size", "by-package"), "numpy");
    assert_eq!(
        (&n["jobs"], &n["median"], &n["p90"], &n["max"]),
        (&json!(4), &json!(1), &json!(4), &json!(4))
    );

    // numpy and scipy share J1 only; numpy is in 4 of 6 jobs, scipy in 1:
    // r = (6*1 - 4*1) / sqrt(4*2*1*5).
    let corr = table(&r, "together", "matrix");
    let np = row(corr, "numpy");
    assert_close!(np["scipy"], 2.0 / 40f64.sqrt());
    let direct = table(&r, "together", "direct");
    let te = row(direct, "typing-extensions");
    assert_eq!(
        (
            &te["direct_users"],
            &te["only_through_others"],
            &te["pulled_in_by"]
        ),
        (&json!(0), &json!(1), &json!("torch"))
    );
    assert_close!(row(direct, "numpy")["direct_share"], 1.0);
    assert_close!(
        fact(section(&r, "together"), "only_transitive_packages"),
        1.0
    );

    let py = table(&r, "interpreters", "pythons");
    let c311 = row(py, "cpython 3.11");
    assert_eq!(
        (&c311["users"], &c311["jobs"], &c311["processes"]),
        (&json!(2), &json!(4), &json!(5))
    );
    let pypy = row(py, "pypy 3.10");
    assert_eq!((&pypy["users"], &pypy["processes"]), (&json!(2), &json!(2)));
    let envs = table(&r, "interpreters", "environments");
    assert_eq!(row(envs, "base")["processes"], json!(8));

    let end = section(&r, "endings");
    assert_close!(fact(end, "vanished_share"), 0.125);
    assert_close!(fact(end, "signalled_share"), 0.125);
    assert_close!(fact(end, "nonzero_share"), 0.125);
    assert_close!(
        row(table(&r, "endings", "overall"), "exit 0")["share"],
        0.625
    );
    let np_end = row(table(&r, "endings", "by-package"), "numpy");
    assert_close!(np_end["vanished"], 1.0 / 6.0);

    let gpu = section(&r, "gpu");
    assert_close!(fact(gpu, "cuda_jobs"), 1.0);
    assert_close!(fact(gpu, "gpu_jobs"), 2.0);
    assert_close!(fact(gpu, "gpu_jobs_without_gpu_library"), 0.5);
    let torch = row(table(&r, "gpu", "cuda"), "torch");
    assert_eq!(
        (&torch["cuda_jobs"], &torch["cuda_users"]),
        (&json!(1), &json!(1))
    );
    let idle = table(&r, "gpu", "no-gpu-library");
    assert_eq!(idle["rows"], json!([["numpy", 1, 0.25]]));

    let fan = section(&r, "fan-out");
    assert_close!(fact(fan, "fork_child_share"), 1.0 / 8.0);
    assert_close!(fact(fan, "forking_share"), 1.0 / 8.0);
    let t = row(table(&r, "fan-out", "by-package"), "torch");
    assert_eq!((&t["mpi_jobs"], &t["tasks_p50"]), (&json!(1), &json!(8)));
    assert_eq!(
        row(table(&r, "fan-out", "by-package"), "scipy")["procs_max"],
        json!(2)
    );

    let weekly = table(&r, "trends", "weekly");
    let numpy_weeks: Vec<(String, i64)> = weekly["rows"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r[1] == "numpy")
        .map(|r| (r[0].as_str().unwrap().into(), r[2].as_i64().unwrap()))
        .collect();
    assert_eq!(
        numpy_weeks,
        [("2026-11-02".into(), 2), ("2026-11-09".into(), 1)]
    );
    let new = table(&r, "trends", "new");
    assert_eq!(new["rows"], json!([["xarray", "2026-11-09", 1, 0]]));

    // No map given (the configuration names none that exists): a note.
    let nu = section(&r, "never-used");
    assert!(nu["notes"][0].as_str().unwrap().contains("--map"), "{nu}");
}

#[test]
fn filters_select_what_they_say() {
    let f = Fixture::new();
    let list = f.dir.path().join("staff.txt");
    fs::write(&list, "# staff\ndave\n\n").unwrap();
    let r = f.json(&["--exclude-users", list.to_str().unwrap()]);
    assert_close!(fact(&r, "processes"), 6.0);
    assert_close!(fact(&r, "users"), 3.0);
    let uid_list = f.dir.path().join("uids.txt");
    fs::write(&uid_list, "1004\n1002 # bob\n").unwrap();
    let r = f.json(&["--exclude-users", uid_list.to_str().unwrap()]);
    assert_close!(fact(&r, "users"), 2.0);

    let r = f.json(&["--cluster", "c2"]);
    assert_close!(fact(&r, "processes"), 2.0);
    assert_close!(fact(&r, "users"), 1.0);
    assert_close!(fact(&r, "jobs"), 2.0);

    let r = f.json(&["--since", "2026-11-09"]);
    assert_close!(fact(&r, "processes"), 1.0);
    assert_close!(fact(&r, "jobs"), 0.0);
    let r = f.json(&["--until", "2026-11-02"]);
    assert_close!(fact(&r, "processes"), 7.0);
    // P2 started at 10:10.
    let r = f.json(&[
        "--since",
        &format!("{T}Z"),
        "--until",
        "2026-11-02T10:05:00Z",
    ]);
    assert_close!(fact(&r, "processes"), 6.0);

    let r = f.json(&["--section", "gpu", "--section", "endings"]);
    let ids: Vec<&str> = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["endings", "gpu"]);
}

#[test]
fn two_clusters_and_two_periods_side_by_side() {
    let f = Fixture::new();
    let r = f.json(&["--compare-cluster", "c1", "c2"]);
    let ids: Vec<&Value> = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| &s["id"])
        .collect();
    assert_eq!(ids, [&json!("compare")]);
    let totals = table(&r, "compare", "totals");
    assert_eq!(totals["rows"][0][1], "c1");
    assert_close!(totals["rows"][0][3], 3.0); // alice + dave (weight 2)
    assert_close!(totals["rows"][1][3], 1.0); // bob
    let numpy = row(table(&r, "compare", "packages"), "numpy");
    assert_close!(numpy["user_share_a"], 1.0 / 3.0);
    assert_close!(numpy["user_share_b"], 1.0);
    assert_close!(numpy["cuda_job_share_b"], 0.5);

    // The week of P6 against the week before it.
    let r = f.json(&[
        "--compare-period",
        "--since",
        "2026-11-09",
        "--until",
        "2026-11-15",
    ]);
    let totals = table(&r, "compare", "totals");
    assert_eq!(totals["rows"][0][1], "2026-11-02 to 2026-11-08");
    assert_close!(totals["rows"][0][2], 7.0);
    assert_close!(totals["rows"][1][2], 1.0);
}

#[test]
fn text_fits_100_columns_and_csv_carries_raw_numbers() {
    let f = Fixture::new();
    let out = f.report(&["--limit", "0"]);
    out.assert_ok();
    for l in out.stdout.lines() {
        assert!(l.chars().count() <= 100, "too wide: {l:?}");
    }
    assert!(out.stdout.contains("Top packages"), "{}", out.stdout);
    let out = f.report(&["--format", "csv", "--section", "top-packages"]);
    out.assert_ok();
    let mut lines = out.stdout.lines();
    assert_eq!(lines.next(), Some("# section=top-packages table=packages"));
    assert_eq!(
        lines.next(),
        Some("package,users,jobs,processes,node_hours,user_share")
    );
    assert_eq!(lines.next(), Some("numpy,3,4,6,11.5,0.6"));
}

#[test]
fn an_empty_store_or_period_says_so_and_succeeds() {
    let f = Fixture::new();
    let out = f.report(&["--since", "2030-01-01"]);
    out.assert_ok();
    assert!(out.stdout.contains("No records match"), "{}", out.stdout);
    let r = f.json(&["--since", "2030-01-01"]);
    assert!(r["empty"].as_str().unwrap().contains("No records"), "{r}");
    assert_eq!(r["sections"], json!([]));

    let dir = tempfile::tempdir().unwrap();
    let empty_nd = dir.path().join("none.ndjson");
    fs::write(&empty_nd, "").unwrap();
    let db = dir.path().join("empty.db");
    run(pyusage(["ingest", "--db"]).arg(&db).arg(&empty_nd)).assert_ok();
    let out = run(pyusage(["report", "--db"]).arg(&db));
    out.assert_ok();
    assert!(out.stdout.contains("holds no records"), "{}", out.stdout);

    let out = run(pyusage(["report", "--db"]).arg(dir.path().join("missing.db")));
    out.assert_code(2);
    assert!(out.stderr.contains("missing.db"), "{}", out.stderr);
    let out = f.report(&["--since", "yesterday"]);
    out.assert_code(2);
    assert!(out.stderr.contains("yesterday"), "{}", out.stderr);
    let out = f.report(&["--section", "nonsense"]);
    out.assert_code(2);
    assert!(
        out.stderr.contains("unknown section `nonsense`"),
        "{}",
        out.stderr
    );
}

/// A package map with numpy and scipy (used) and leftpad (never used), all
/// labelled `base` like the records' packages.
fn map(dir: &Path) -> PathBuf {
    let site = dir.join("site");
    for (name, version) in [("numpy", "2.1.3"), ("scipy", "1.14.1"), ("leftpad", "0.1")] {
        let di = site.join(format!("{name}-{version}.dist-info"));
        fs::create_dir_all(&di).unwrap();
        fs::write(
            di.join("METADATA"),
            format!("Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\n"),
        )
        .unwrap();
        fs::create_dir_all(site.join(name)).unwrap();
        fs::write(site.join(name).join("__init__.py"), "").unwrap();
        fs::write(
            di.join("RECORD"),
            format!("{name}/__init__.py,,\n{name}-{version}.dist-info/METADATA,,\n"),
        )
        .unwrap();
    }
    let out = dir.join("map.bin");
    run(pyusage(["map", "build", "--output"])
        .arg(&out)
        .arg("--root")
        .arg(format!("{}=base", site.display())))
    .assert_ok();
    out
}

#[test]
fn installed_but_never_used_per_environment() {
    let f = Fixture::new();
    let m = map(f.dir.path());
    let r = f.json(&["--section", "never-used", "--map", m.to_str().unwrap()]);
    let env = row(table(&r, "never-used", "environments"), "base");
    assert_eq!(
        (&env["installed"], &env["used"], &env["never_used"]),
        (&json!(3), &json!(2), &json!(1))
    );
    assert_eq!(
        table(&r, "never-used", "never-used")["rows"],
        json!([["base", "leftpad", "0.1"]])
    );
}

#[test]
fn html_is_one_file_without_urls_with_a_chart_per_section() {
    let f = Fixture::new();
    let html = f.dir.path().join("report.html");
    let out = f.report(&["--html", html.to_str().unwrap()]);
    out.assert_ok();
    assert!(out.stderr.contains("report.html"), "{}", out.stderr);
    let page = fs::read_to_string(&html).unwrap();
    assert!(!page.contains("http:") && !page.contains("https:"));
    assert!(!page.contains("<script"));
    assert!(page.contains("default-src 'none'"));
    for s in [
        "top-packages",
        "versions",
        "job-size",
        "together",
        "interpreters",
        "endings",
        "gpu",
        "fan-out",
        "trends",
    ] {
        let start = page.find(&format!("data-section=\"{s}\"")).unwrap();
        let end = page[start..].find("</section>").unwrap() + start;
        assert!(
            page[start..end].contains("class=\"mark\""),
            "section {s} draws no chart marks"
        );
    }
}

#[test]
fn exports_hold_the_store_and_ndjson_ingests_back_to_the_same_report() {
    let f = Fixture::new();
    let nd = f.dir.path().join("out.ndjson");
    let mut c = pyusage(["export", "--db"]);
    c.arg(&f.db).arg("--ndjson").arg(&nd);
    run(&mut c).assert_ok();
    let text = fs::read_to_string(&nd).unwrap();
    assert_eq!(text.lines().count(), 7);
    // Read back into a second store: the same report.
    let db2 = f.dir.path().join("again.db");
    run(pyusage(["ingest", "--db"]).arg(&db2).arg(&nd)).assert_ok();
    let a = f.json(&["--section", "top-packages"]);
    let out = run(pyusage([
        "report",
        "--format",
        "json",
        "--section",
        "top-packages",
        "--db",
    ])
    .arg(&db2));
    out.assert_ok();
    let b: Value = serde_json::from_str(&out.stdout).unwrap();
    assert_eq!(a["sections"], b["sections"]);
    assert_eq!(a["facts"], b["facts"]);

    let bulk = f.dir.path().join("bulk.ndjson");
    let mut c = pyusage(["export", "--db"]);
    c.arg(&f.db)
        .args(["--ndjson"])
        .arg(&bulk)
        .args(["--bulk", "--index", "usage"]);
    run(&mut c).assert_ok();
    let lines: Vec<Value> = fs::read_to_string(&bulk)
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 14);
    for pair in lines.chunks(2) {
        assert_eq!(pair[0]["index"]["_index"], "usage");
        assert_eq!(pair[0]["index"]["_id"], pair[1]["id"]);
    }

    let pq = f.dir.path().join("pq");
    let mut c = pyusage(["export", "--db"]);
    c.arg(&f.db).arg("--parquet").arg(&pq);
    let out = run(&mut c);
    out.assert_ok();
    assert!(
        out.stderr.contains("7 processes, 13 package rows, 2 days"),
        "{}",
        out.stderr
    );
    for d in [
        "processes/date=2026-11-02",
        "processes/date=2026-11-09",
        "packages/date=2026-11-02",
    ] {
        assert!(pq.join(d).join("part-0.parquet").is_file(), "{d}");
    }
}

/// Numbers equal to 1e-9 relative (sums may add in another order).
fn same(a: &Value, b: &Value) -> bool {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            (x - y).abs() <= 1e-9 * x.abs().max(1.0)
        }
        (Value::Array(x), Value::Array(y)) => {
            x.len() == y.len() && x.iter().zip(y).all(|(a, b)| same(a, b))
        }
        (Value::Object(x), Value::Object(y)) => {
            x.len() == y.len() && x.iter().all(|(k, v)| y.get(k).is_some_and(|w| same(v, w)))
        }
        _ => a == b,
    }
}

#[test]
fn postgresql_store_reports_as_sqlite_does() {
    let pg = match pyusage_tests::postgres::Cluster::start() {
        Ok(c) => c,
        Err(why) => pyusage_tests::skip!("PostgreSQL: {why}"),
    };
    let f = Fixture::new();
    let nd = f.dir.path().join("records.ndjson");
    run(pyusage(["ingest", "--db", &pg.url("postgres")]).arg(&nd)).assert_ok();
    for args in [
        vec!["--limit", "0"],
        vec!["--compare-cluster", "c1", "c2"],
        vec!["--cluster", "c2", "--since", "2026-11-02"],
    ] {
        let a = f.json(&args);
        let mut c = pyusage(["report", "--format", "json", "--db", &pg.url("postgres")]);
        c.args(&args)
            .env("PYUSAGE_CONFIG", f.dir.path().join("config.toml"));
        let out = run(&mut c);
        out.assert_ok();
        let b: Value = serde_json::from_str(&out.stdout).unwrap();
        assert!(same(&a["sections"], &b["sections"]), "{args:?}:\n{a}\n{b}");
        assert!(same(&a["facts"], &b["facts"]), "{args:?}");
    }
}
