//! The Parquet export of a store filled by the real tracer, read back by
//! pyarrow, Dask and DuckDB (counts equal the store's, top packages equal the
//! report's), and `examples/usage.ipynb` executed on it by Papermill.

use crate::html::{report, traced_store};
use pyusage_tests::{artifacts, or_skip};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Command;

/// `build/report-venv/bin/python` (pyarrow, dask, duckdb, papermill,
/// matplotlib), built by `tests/fixtures/report-venv.sh` if needed.
fn report_venv() -> Option<PathBuf> {
    let root = artifacts::repo_root();
    let out = Command::new("bash")
        .arg(root.join("tests/fixtures/report-venv.sh"))
        .output()
        .ok()?;
    if !out.status.success() {
        pyusage_tests::skip!(
            "tests/fixtures/report-venv.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Some(root.join("build/report-venv/bin/python"))
}

fn export(db: &Path, dir: &Path) {
    let out = Command::new(artifacts::pyusage())
        .args(["export", "--db"])
        .arg(db)
        .arg("--parquet")
        .arg(dir)
        .env_remove("PYUSAGE_CONFIG")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Counts and top packages of the export as three readers see them.
const READ_BACK: &str = r#"
import json, sys
import pyarrow.dataset as ds, dask.dataframe as dd, duckdb
d = sys.argv[1]
out = {}
for t in ("processes", "packages"):
    out["arrow_" + t] = ds.dataset(f"{d}/{t}", format="parquet", partitioning="hive").count_rows()
    out["dask_" + t] = int(len(dd.read_parquet(f"{d}/{t}")))
    out["duckdb_" + t] = duckdb.sql(
        f"SELECT count(*) FROM read_parquet('{d}/{t}/*/*.parquet', hive_partitioning=true)").fetchall()[0][0]
out["duckdb_top"] = [r[0] for r in duckdb.sql(f"""
    SELECT package, count(DISTINCT uid) AS u,
           count(DISTINCT CASE WHEN job_id IS NOT NULL THEN coalesce(cluster, '') || '/' || job_id END) AS j,
           sum(weight) AS p
    FROM read_parquet('{d}/packages/*/*.parquet', hive_partitioning=true)
    GROUP BY package ORDER BY u DESC, j DESC, p DESC, package LIMIT 10""").fetchall()]
print(json.dumps(out))
"#;

/// The report's top packages (names, in order) and its process and
/// process x package totals.
fn report_top(db: &Path, map: &Path) -> (Vec<String>, u64, u64) {
    let (out, _) = report(
        db,
        map,
        &[
            "--format",
            "json",
            "--section",
            "top-packages",
            "--limit",
            "0",
        ],
    );
    let r: Value = serde_json::from_str(&out).unwrap();
    let rows = r["sections"][0]["tables"][0]["rows"].as_array().unwrap();
    let names = rows
        .iter()
        .take(10)
        .map(|r| r[0].as_str().unwrap().to_string())
        .collect();
    let pairs = rows.iter().map(|r| r[3].as_u64().unwrap()).sum();
    let procs = r["facts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["id"] == "processes")
        .unwrap()["value"]
        .as_u64()
        .unwrap();
    (names, procs, pairs)
}

#[test]
fn pyarrow_dask_and_duckdb_read_the_export_as_the_store_holds_it() {
    let (t, db, map) = or_skip!(traced_store(), "no virtualenv");
    let py = or_skip!(report_venv(), "no report virtualenv");
    let dir = t.scratch("export");
    export(&db, &dir);
    let out = Command::new(&py)
        .args(["-c", READ_BACK])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let got: Value = serde_json::from_slice(&out.stdout).unwrap();
    let (top, procs, pairs) = report_top(&db, &map);
    for reader in ["arrow", "dask", "duckdb"] {
        assert_eq!(got[format!("{reader}_processes")], procs, "{got}");
        assert_eq!(got[format!("{reader}_packages")], pairs, "{got}");
    }
    assert_eq!(got["duckdb_top"], serde_json::json!(top), "{got}");
}

#[test]
fn the_notebook_runs_on_the_export_and_shows_the_reports_top_packages() {
    let (t, db, map) = or_skip!(traced_store(), "no virtualenv");
    let py = or_skip!(report_venv(), "no report virtualenv");
    let dir = t.scratch("export");
    export(&db, &dir);
    let executed = t.scratch("nb").join("usage.out.ipynb");
    let out = Command::new(py.with_file_name("papermill"))
        .arg(artifacts::repo_root().join("examples/usage.ipynb"))
        .arg(&executed)
        .args(["-p", "export_dir"])
        .arg(&dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "papermill: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let nb: Value = serde_json::from_str(&std::fs::read_to_string(&executed).unwrap()).unwrap();
    let mut text = String::new();
    let mut images = 0;
    for cell in nb["cells"].as_array().unwrap() {
        for o in cell["outputs"].as_array().into_iter().flatten() {
            match &o["text"] {
                Value::String(s) => text.push_str(s),
                Value::Array(parts) => parts
                    .iter()
                    .for_each(|p| text.push_str(p.as_str().unwrap_or(""))),
                _ => {}
            }
            if o["data"]["image/png"].is_string() {
                images += 1;
            }
            assert_ne!(o["output_type"], "error", "a cell failed: {o}");
        }
    }
    let (top, _, _) = report_top(&db, &map);
    let line = text
        .lines()
        .find_map(|l| l.strip_prefix("TOP "))
        .unwrap_or_else(|| panic!("no TOP line in {text}"));
    let nb_top: Vec<String> = serde_json::from_str(line).unwrap();
    assert_eq!(nb_top, top);
    let size = text.lines().find_map(|l| l.strip_prefix("SIZE ")).unwrap();
    let size: Value = serde_json::from_str(size).unwrap();
    let numpy = size
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["package"] == "numpy")
        .unwrap();
    // Jobs 101 (1 node), 102 (4), 103 (2), 105 (8).
    assert_eq!(
        (numpy["jobs"].as_u64(), numpy["max"].as_f64()),
        (Some(4), Some(8.0))
    );
    assert_eq!(images, 1, "the correlation heat map");
}
