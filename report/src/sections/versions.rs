//! Section 2: Versions in use: per package, users and jobs on each version.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;
use std::collections::HashMap;

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "versions",
        title("versions"),
        "For the top packages, the users and jobs on each version (a user on two \
         versions counts for both).",
    );
    let top = ctx.top_ids(ctx.limit.min(20));
    ctx.set_top(&top)?;
    // (dist, version) -> users / jobs / processes
    let key = |r: &[Value]| {
        (
            r[0].num().unwrap_or(0.0) as i64,
            r[1].text().map(str::to_string),
        )
    };
    let mut users: HashMap<(i64, Option<String>), f64> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT y.dist, y.version, CAST(SUM(u.w) AS DOUBLE PRECISION)
         FROM (SELECT DISTINCT x.uid, r.dist, r.version
               FROM (SELECT DISTINCT uid, pset FROM r_p) x
               JOIN package_set_members m ON m.package_set = x.pset
               JOIN releases r ON r.id = m.release
               WHERE r.dist IN (SELECT dist FROM r_top)) y
         JOIN r_u u ON u.uid = y.uid
         GROUP BY y.dist, y.version",
    )? {
        users.insert(key(&r), r[2].num().unwrap_or(0.0));
    }
    let mut jobs: HashMap<(i64, Option<String>), f64> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT y.dist, y.version, CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM (SELECT DISTINCT x.job, r.dist, r.version
               FROM (SELECT DISTINCT job, pset FROM r_p WHERE job IS NOT NULL) x
               JOIN package_set_members m ON m.package_set = x.pset
               JOIN releases r ON r.id = m.release
               WHERE r.dist IN (SELECT dist FROM r_top)) y
         JOIN r_j j ON j.job = y.job
         GROUP BY y.dist, y.version",
    )? {
        jobs.insert(key(&r), r[2].num().unwrap_or(0.0));
    }
    let mut t = Table::new(
        "versions",
        "Versions of the top packages",
        &[
            ("package", Kind::Text),
            ("version", Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
            ("share_of_users", Kind::Share),
        ],
    );
    let mut bars = Vec::new();
    let mut multi = 0.0;
    for d in ctx.stats.iter().filter(|d| top.contains(&d.id)) {
        let mut vs: Vec<(Option<String>, f64)> = users
            .iter()
            .filter(|((id, _), _)| *id == d.id)
            .map(|((_, v), u)| (v.clone(), *u))
            .collect();
        vs.sort_by(|a, b| b.1.total_cmp(&a.1).then(version_order(&b.0, &a.0)));
        if vs.len() > 1 {
            multi += 1.0;
        }
        for (v, u) in &vs {
            let j = jobs.get(&(d.id, v.clone())).copied().unwrap_or(0.0);
            let label = v.clone().unwrap_or_else(|| "unknown".into());
            t.rows.push(vec![
                Value::from(d.name.as_str()),
                Value::from(label.as_str()),
                Value::Num(*u),
                Value::Num(j),
                Value::Num(if d.users > 0.0 { u / d.users } else { 0.0 }),
            ]);
            bars.push((format!("{} {label}", d.name), *u));
        }
    }
    s.fact(
        "multi_version",
        "top packages with more than one version in use",
        multi,
        Kind::Count,
    );
    let cap = ctx.limit.saturating_mul(3).max(ctx.limit);
    t.rows.truncate(cap);
    s.tables.push(t);
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    bars.truncate(15);
    s.charts.push(Chart::Bar {
        title: "Users per package version".into(),
        unit: "users".into(),
        bars,
        kind: Kind::Count,
    });
    Ok(s)
}

/// Newer version first: compare dotted numbers numerically where they are
/// numbers.
fn version_order(a: &Option<String>, b: &Option<String>) -> std::cmp::Ordering {
    let parts = |v: &Option<String>| -> Vec<(u64, String)> {
        v.as_deref()
            .unwrap_or("")
            .split(['.', '-', '+'])
            .map(|p| {
                let digits: String = p.chars().take_while(char::is_ascii_digit).collect();
                (digits.parse().unwrap_or(0), p.to_string())
            })
            .collect()
    };
    parts(a).cmp(&parts(b))
}
