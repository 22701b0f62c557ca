//! Section 9: Trends: weekly users and jobs for the top packages, and packages
//! appearing for the first time.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::time;
use anyhow::Result;
use std::collections::{BTreeSet, HashMap};

/// Packages drawn in the weekly chart.
const LINES: usize = 8;

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "trends",
        title("trends"),
        "Weekly distinct users and jobs (weeks start on Monday, UTC) of the packages \
         with most users, and packages whose first record in the store falls in the \
         period.",
    );
    let top = ctx.top_ids(LINES);
    ctx.set_top(&top)?;
    let mut users: HashMap<(i64, i64), f64> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT y.dist, y.week, CAST(SUM(u.w) AS DOUBLE PRECISION)
         FROM (SELECT DISTINCT x.uid, x.week, sd.dist
               FROM (SELECT DISTINCT uid, week, pset FROM r_p) x
               JOIN r_sd sd ON sd.pset = x.pset
               WHERE sd.dist IN (SELECT dist FROM r_top)) y
         JOIN r_u u ON u.uid = y.uid
         GROUP BY y.dist, y.week",
    )? {
        let g = |i: usize| r[i].num().unwrap_or(0.0);
        users.insert((g(0) as i64, g(1) as i64), g(2));
    }
    let mut jobs: HashMap<(i64, i64), f64> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT y.dist, y.week, CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM (SELECT DISTINCT x.job, x.week, sd.dist
               FROM (SELECT DISTINCT job, week, pset FROM r_p WHERE job IS NOT NULL) x
               JOIN r_sd sd ON sd.pset = x.pset
               WHERE sd.dist IN (SELECT dist FROM r_top)) y
         JOIN r_j j ON j.job = y.job
         GROUP BY y.dist, y.week",
    )? {
        let g = |i: usize| r[i].num().unwrap_or(0.0);
        jobs.insert((g(0) as i64, g(1) as i64), g(2));
    }
    let weeks: BTreeSet<i64> = users.keys().map(|k| k.1).collect();
    let (Some(&w0), Some(&w1)) = (weeks.first(), weeks.last()) else {
        return Ok(s);
    };
    let all_weeks: Vec<i64> = (w0..=w1).collect();
    s.fact("weeks", "weeks", all_weeks.len() as f64, Kind::Count);
    let mut t = Table::new(
        "weekly",
        "Weekly users and jobs of the top packages",
        &[
            ("week", Kind::Text),
            ("package", Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
        ],
    );
    for w in &all_weeks {
        for id in &top {
            let u = users.get(&(*id, *w)).copied().unwrap_or(0.0);
            let j = jobs.get(&(*id, *w)).copied().unwrap_or(0.0);
            t.rows.push(vec![
                Value::from(time::week_start(*w)),
                Value::from(ctx.name(*id)),
                Value::Num(u),
                Value::Num(j),
            ]);
        }
    }
    // The latest weeks matter most when the table is cut.
    if t.rows.len() > ctx.limit.saturating_mul(top.len().max(1)) {
        let keep = ctx.limit * top.len().max(1);
        t.rows.drain(..t.rows.len() - keep);
    }
    s.tables.push(t);
    s.charts.push(Chart::Line {
        title: "Weekly users of the top packages".into(),
        unit: "users per week".into(),
        x: all_weeks.iter().map(|w| time::week_start(*w)).collect(),
        series: top
            .iter()
            .map(|id| {
                (
                    ctx.name(*id),
                    all_weeks
                        .iter()
                        .map(|w| users.get(&(*id, *w)).copied().unwrap_or(0.0))
                        .collect(),
                )
            })
            .collect(),
    });
    new_packages(ctx, &mut s)?;
    Ok(s)
}

/// Packages first seen (anywhere in the store) inside the period. Without
/// `--since`, the store's first week is the baseline and is not "new".
fn new_packages(ctx: &mut Ctx, s: &mut Section) -> Result<()> {
    let first = ctx.by_dist(
        "SELECT r.dist, CAST(MIN(f.s) AS DOUBLE PRECISION)
         FROM (SELECT package_set, MIN(start_us) AS s FROM processes GROUP BY package_set) f
         JOIN package_set_members m ON m.package_set = f.package_set
         JOIN releases r ON r.id = m.release
         GROUP BY r.dist",
    )?;
    let store_first = first.values().copied().fold(f64::INFINITY, f64::min);
    let from = match ctx.opts.filters.since_us {
        Some(s) => s as f64,
        None => store_first + time::WEEK_US as f64,
    };
    let mut rows: Vec<_> = ctx
        .stats
        .iter()
        .filter_map(|d| {
            let f = *first.get(&d.id)?;
            (f >= from).then(|| (d.name.clone(), f as i64, d.users, d.jobs))
        })
        .collect();
    rows.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    s.fact(
        "new_packages",
        "new packages",
        rows.len() as f64,
        Kind::Count,
    );
    let mut t = Table::new(
        "new",
        "New packages (first seen in the period)",
        &[
            ("package", Kind::Text),
            ("first_seen", Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
        ],
    );
    for r in rows.into_iter().take(ctx.limit) {
        t.rows.push(vec![
            Value::from(r.0),
            Value::from(time::date(r.1)),
            Value::Num(r.2),
            Value::Num(r.3),
        ]);
    }
    s.tables.push(t);
    Ok(())
}
