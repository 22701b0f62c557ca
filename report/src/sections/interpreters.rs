//! Section 5: Interpreters and environments: Python versions and implementations,
//! environments (map labels or prefixes) and `sys.prefix`, by users and jobs.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::query::lit;
use anyhow::Result;

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "interpreters",
        title("interpreters"),
        "Python implementations and versions (major.minor), the environments \
         packages came from (the package map's labels, or prefixes), and the \
         interpreters' sys.prefix, by users, jobs and processes.",
    );
    // Interpreter rows -> "cpython 3.11".
    ctx.db.exec("DROP TABLE IF EXISTS r_lab")?;
    ctx.db
        .exec("CREATE TEMP TABLE r_lab (id BIGINT, label TEXT)")?;
    for r in ctx
        .db
        .rows("SELECT id, implementation, version FROM interpreters")?
    {
        let minor = r[2]
            .text()
            .map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."))
            .unwrap_or_else(|| "unknown version".into());
        let label = format!("{} {minor}", r[1].text().unwrap_or("?"));
        ctx.db.exec(&format!(
            "INSERT INTO r_lab VALUES ({}, {})",
            r[0].num().unwrap_or(0.0) as i64,
            lit(&label)
        ))?;
    }
    let pythons = three_counts(
        ctx,
        "SELECT l.label AS k, p.uid AS uid, p.job AS job, p.w AS w FROM r_p p \
         JOIN r_lab l ON l.id = p.interpreter",
    )?;
    s.fact(
        "pythons",
        "interpreter versions",
        pythons.len() as f64,
        Kind::Count,
    );
    push(
        ctx,
        &mut s,
        "pythons",
        "Python versions",
        "python",
        &pythons,
    );
    s.charts.push(Chart::Bar {
        title: "Users per Python version".into(),
        unit: "users".into(),
        bars: pythons
            .iter()
            .take(15)
            .map(|r| (r.0.clone(), r.1))
            .collect(),
        kind: Kind::Count,
    });

    let envs = three_counts(
        ctx,
        "SELECT e.label AS k, p.uid AS uid, p.job AS job, p.w AS w \
         FROM (SELECT uid, job, pset, SUM(w) AS w FROM r_p GROUP BY uid, job, pset) p \
         JOIN (SELECT DISTINCT package_set, env FROM package_set_members \
               WHERE env IS NOT NULL) m ON m.package_set = p.pset \
         JOIN envs e ON e.id = m.env",
    )?;
    s.fact(
        "environments",
        "environments",
        envs.len() as f64,
        Kind::Count,
    );
    push(
        ctx,
        &mut s,
        "environments",
        "Environments packages came from",
        "environment",
        &envs,
    );
    if !envs.is_empty() {
        s.charts.push(Chart::Bar {
            title: "Users per environment".into(),
            unit: "users".into(),
            bars: envs.iter().take(15).map(|r| (r.0.clone(), r.1)).collect(),
            kind: Kind::Count,
        });
    }
    let prefixes = three_counts(
        ctx,
        "SELECT COALESCE(p.prefix, '(unknown)') AS k, p.uid AS uid, p.job AS job, p.w AS w \
         FROM r_p p",
    )?;
    push(
        ctx,
        &mut s,
        "prefixes",
        "Interpreter prefixes (sys.prefix)",
        "prefix",
        &prefixes,
    );
    Ok(s)
}

/// `(key, users, jobs, processes)` for a query yielding `k, uid, job, w` per
/// process (possibly several rows per process, one per key).
fn three_counts(ctx: &mut Ctx, base: &str) -> Result<Vec<(String, f64, f64, f64)>> {
    let sql = format!(
        "SELECT a.k, a.users, COALESCE(b.jobs, 0), a.processes
         FROM (SELECT x.k AS k, CAST(SUM(x.w) AS DOUBLE PRECISION) AS processes,
                      CAST(SUM(u.w) AS DOUBLE PRECISION) AS users
               FROM (SELECT k, uid, SUM(w) AS w FROM ({base}) q GROUP BY k, uid) x
               JOIN r_u u ON u.uid = x.uid
               GROUP BY x.k) a
         LEFT JOIN (SELECT y.k AS k, CAST(SUM(j.w) AS DOUBLE PRECISION) AS jobs
                    FROM (SELECT DISTINCT k, job FROM ({base}) q WHERE job IS NOT NULL) y
                    JOIN r_j j ON j.job = y.job GROUP BY y.k) b ON b.k = a.k
         ORDER BY a.users DESC, a.processes DESC, a.k"
    );
    Ok(ctx
        .db
        .rows(&sql)?
        .into_iter()
        .map(|r| {
            (
                r[0].text().unwrap_or("").to_string(),
                r[1].num().unwrap_or(0.0),
                r[2].num().unwrap_or(0.0),
                r[3].num().unwrap_or(0.0),
            )
        })
        .collect())
}

fn push(
    ctx: &Ctx,
    s: &mut Section,
    id: &str,
    title: &str,
    key: &str,
    rows: &[(String, f64, f64, f64)],
) {
    let mut t = Table::new(
        id,
        title,
        &[
            (key, Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
            ("processes", Kind::Count),
        ],
    );
    for r in rows.iter().take(ctx.limit) {
        t.rows.push(vec![
            Value::from(r.0.as_str()),
            Value::Num(r.1),
            Value::Num(r.2),
            Value::Num(r.3),
        ]);
    }
    s.tables.push(t);
}
