//! A store filled by the real tracer (the shared virtualenv's packages,
//! Slurm jobs on two clusters, exit 0, non-zero, killed by a signal and
//! shipped by the sweep), reported on, and the
//! HTML report opened in headless Chromium: every section drew a chart, the
//! console logged no error, and no request left the file.

use pyusage_tests::chromium;
use pyusage_tests::fixtures::{venv_map, venv_python};
use pyusage_tests::{artifacts, or_skip, Prog, Tracer};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One traced run: code, Slurm job id, cluster, nodes, GPUs.
type Run = (
    &'static str,
    Option<&'static str>,
    &'static str,
    &'static str,
    Option<&'static str>,
);

/// Python programs run under the tracer.
const RUNS: &[Run] = &[
    ("import numpy, scipy", Some("101"), "cpu", "1", None),
    ("import numpy, scipy", Some("101"), "cpu", "1", None),
    ("import pandas", Some("102"), "cpu", "4", None),
    ("import sklearn", Some("103"), "gpu", "2", Some("4")),
    (
        "import yaml, os; os._exit(3)",
        Some("104"),
        "gpu",
        "1",
        Some("2"),
    ),
    ("import PIL, six", None, "", "", None),
    (
        "import numpy, os, signal; os.kill(os.getpid(), signal.SIGTERM)",
        Some("105"),
        "cpu",
        "8",
        None,
    ),
];

/// Run [`RUNS`] traced, ingest the spool, return the tracer (owning the temp
/// dir), the store and the package map.
pub(crate) fn traced_store() -> Option<(Tracer, PathBuf, PathBuf)> {
    let py = match venv_python() {
        Ok(p) => p,
        Err(e) => pyusage_tests::skip!("the test virtualenv is unavailable: {e}"),
    };
    let map = venv_map().expect("venv exists, so the map is built");
    let t = Tracer::new().with_map(&map);
    for (code, job, cluster, nodes, gpus) in RUNS {
        let mut p = Prog::new(&py).arg("-c").arg(code);
        if let Some(id) = job {
            p = p
                .env("SLURM_JOB_ID", id)
                .env("SLURM_CLUSTER_NAME", cluster)
                .env("SLURM_JOB_NUM_NODES", nodes)
                .env("SLURM_NTASKS", "1")
                .env("SLURM_PROCID", "0")
                .env("SLURM_STEP_ID", "0");
            if let Some(g) = gpus {
                p = p.env("SLURM_GPUS_ON_NODE", g);
            }
        }
        p.run_traced(&t);
    }
    // The SIGTERM'd run left its record on tmpfs: the sweep ships it.
    t.sweep();
    let db = t.scratch("store").join("usage.db");
    let out = Command::new(artifacts::pyusage())
        .arg("ingest")
        .arg("--db")
        .arg(&db)
        .arg(&t.spool)
        .env_remove("PYUSAGE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "ingest: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some((t, db, map))
}

pub(crate) fn report(db: &Path, map: &Path, args: &[&str]) -> (String, String) {
    let out = Command::new(artifacts::pyusage())
        .arg("report")
        .arg("--db")
        .arg(db)
        .arg("--map")
        .arg(map)
        .args(args)
        .env_remove("PYUSAGE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "report {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

fn top_row<'a>(r: &'a Value, name: &str) -> Option<&'a Value> {
    r["sections"][0]["tables"][0]["rows"]
        .as_array()?
        .iter()
        .find(|row| row[0] == name)
}

#[test]
fn the_report_of_traced_processes_counts_what_ran() {
    let (_t, db, map) = or_skip!(traced_store(), "no virtualenv");
    let (out, _) = report(&db, &map, &["--format", "json", "--limit", "0"]);
    let r: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(r["sections"][0]["id"], "top-packages");
    // numpy: the two numpy+scipy runs, pandas, scikit-learn and the
    // SIGTERM run import it; jobs 101, 102, 103, 105.
    let numpy = top_row(&r, "numpy").unwrap_or_else(|| panic!("{out}"));
    assert_eq!((&numpy[2], &numpy[3]), (&Value::from(4), &Value::from(5)));
    let scipy = top_row(&r, "scipy").unwrap();
    assert_eq!(scipy[3], 3, "two runs and scikit-learn's import: {scipy}");
    assert!(top_row(&r, "pandas").is_some() && top_row(&r, "PyYAML").is_some());
    let endings = &r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "endings")
        .unwrap()["tables"][0]["rows"];
    let n = |k: &str| {
        endings
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r[0] == k)
            .unwrap()[1]
            .clone()
    };
    assert_eq!((n("non-zero exit"), n("vanished")), (1.into(), 1.into()));
    // Never used: the venv has distributions no run imported (pip at least).
    let nu = r["sections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "never-used")
        .unwrap();
    let unused: Vec<&str> = nu["tables"][1]["rows"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r[1].as_str().unwrap())
        .collect();
    assert!(unused.contains(&"pip"), "{unused:?}");
    assert!(!unused.contains(&"numpy"), "{unused:?}");
}

#[test]
fn the_html_report_draws_every_section_offline_without_errors() {
    or_skip!(
        chromium::chromium(),
        "chromium is not installed (tests/fixtures/system-deps.sh)"
    );
    let (t, db, map) = or_skip!(traced_store(), "no virtualenv");
    let page = t.scratch("out").join("report.html");
    let (text, err) = report(&db, &map, &["--html", page.to_str().unwrap()]);
    assert!(text.contains("Top packages"), "{text}");
    assert!(err.contains("report.html"), "{err}");
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "the page names no URL"
    );
    let got = chromium::open(&page).unwrap();
    // Keep the screenshot where a person can look at it.
    let shot = artifacts::repo_root().join("target/report-screenshot.png");
    let _ = std::fs::write(&shot, &got.screenshot);
    assert!(got.errors.is_empty(), "console errors: {:?}", got.errors);
    assert!(
        got.requests.is_empty(),
        "requests left the file: {:?}",
        got.requests
    );
    assert!(
        got.blocked.is_empty(),
        "the page asked for: {:?}",
        got.blocked
    );
    let ids: Vec<&str> = got.sections.iter().map(|s| s.id.as_str()).collect();
    assert_eq!(
        ids,
        [
            "top-packages",
            "versions",
            "job-size",
            "together",
            "interpreters",
            "endings",
            "gpu",
            "fan-out",
            "trends",
            "never-used"
        ]
    );
    for s in &got.sections {
        let drawn = s
            .charts
            .iter()
            .filter(|c| c.marks > 0 && c.coloured_pixels > 50)
            .count();
        assert!(drawn > 0, "section {} drew no chart: {:?}", s.id, s.charts);
    }
}

#[test]
fn the_compare_report_draws_too() {
    or_skip!(
        chromium::chromium(),
        "chromium is not installed (tests/fixtures/system-deps.sh)"
    );
    let (t, db, map) = or_skip!(traced_store(), "no virtualenv");
    let page = t.scratch("out").join("compare.html");
    report(
        &db,
        &map,
        &[
            "--compare-cluster",
            "cpu",
            "gpu",
            "--html",
            page.to_str().unwrap(),
        ],
    );
    let got = chromium::open(&page).unwrap();
    assert!(got.errors.is_empty() && got.requests.is_empty(), "{got:?}");
    assert_eq!(got.sections.len(), 1);
    assert!(got.sections[0]
        .charts
        .iter()
        .any(|c| c.marks >= 2 && c.coloured_pixels > 50));
}
