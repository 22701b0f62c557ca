//! Section 11: Compare: two clusters, or two periods, side by side (do users change
//! their workflow when they move to a GPU system?).

use super::jobsize::size_summary;
use super::{dist_stats, jobs_where, title, totals, DistStats, Options, Totals};
use crate::data::{Data, Selection};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::query::Filters;
use crate::time::{self, DAY_US};
use std::collections::HashMap;

/// Length of each period of `--compare-period` when `--since` is not given.
const DEFAULT_PERIOD_US: i64 = 28 * DAY_US;

/// What to set side by side.
#[derive(Clone, Debug)]
pub enum Compare {
    /// Two clusters, same period.
    Clusters(String, String),
    /// The period and the one of equal length just before it.
    Periods,
}

impl Compare {
    /// For the report header.
    pub fn describe(&self) -> String {
        match self {
            Compare::Clusters(a, b) => format!("cluster {a} vs cluster {b}"),
            Compare::Periods => "the period vs the one before it".into(),
        }
    }
}

/// One side's numbers.
struct Side {
    label: String,
    totals: Totals,
    stats: Vec<DistStats>,
    median_nodes: HashMap<u32, f64>,
    cuda_jobs: HashMap<u32, f64>,
}

fn side(d: &Data, f: &Filters, label: String) -> Side {
    let sel = Selection::new(d, f);
    let totals = totals(d, &sel);
    let stats = dist_stats(d, &sel);
    let median_nodes = stats
        .iter()
        .filter_map(|s| Some((s.id, size_summary(&sel, s.id).median?)))
        .collect();
    let cuda_jobs = stats
        .iter()
        .filter_map(|s| Some((s.id, jobs_where(&sel, s.id, |j| j.cuda)?)))
        .collect();
    Side {
        label,
        totals,
        stats,
        median_nodes,
        cuda_jobs,
    }
}

/// The two selections to compare, with their labels.
fn sides(d: &Data, opts: &Options, cmp: &Compare) -> [(Filters, String); 2] {
    let f = &opts.filters;
    match cmp {
        Compare::Clusters(a, b) => [
            (
                Filters {
                    cluster: Some(a.clone()),
                    ..f.clone()
                },
                a.clone(),
            ),
            (
                Filters {
                    cluster: Some(b.clone()),
                    ..f.clone()
                },
                b.clone(),
            ),
        ],
        Compare::Periods => {
            let until = match f.until_us {
                Some(u) => u,
                None => d.procs.iter().map(|p| p.start_us).max().unwrap_or(0) + 1,
            };
            let since = f.since_us.unwrap_or(until - DEFAULT_PERIOD_US);
            let len = until - since;
            let label = |a: i64, b: i64| format!("{} to {}", time::date(a), time::date(b - 1));
            [
                (
                    Filters {
                        since_us: Some(since - len),
                        until_us: Some(since),
                        ..f.clone()
                    },
                    label(since - len, since),
                ),
                (
                    Filters {
                        since_us: Some(since),
                        until_us: Some(until),
                        ..f.clone()
                    },
                    label(since, until),
                ),
            ]
        }
    }
}

pub(super) fn section(d: &Data, opts: &Options, cmp: &Compare, limit: usize) -> Section {
    let [(fa, la), (fb, lb)] = sides(d, opts, cmp);
    let a = side(d, &fa, la);
    let b = side(d, &fb, lb);
    let mut s = Section::new(
        "compare",
        title("compare"),
        &format!(
            "{} (A) and {} (B) side by side: each package's share of the side's users, \
             its jobs, median job size and share of jobs that loaded CUDA.",
            a.label, b.label
        ),
    );
    let mut totals = Table::new(
        "totals",
        "Totals",
        &[
            ("side", Kind::Text),
            ("selection", Kind::Text),
            ("processes", Kind::Count),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
            ("node_hours", Kind::Number),
            ("packages", Kind::Count),
        ],
    );
    for (tag, x) in [("A", &a), ("B", &b)] {
        totals.rows.push(vec![
            Value::from(tag),
            Value::from(x.label.as_str()),
            Value::Num(x.totals.processes),
            Value::Num(x.totals.users),
            Value::Num(x.totals.jobs),
            Value::Num(x.totals.node_hours),
            Value::Num(x.stats.len() as f64),
        ]);
    }
    s.tables.push(totals);
    let share = |x: &Side, v: f64| {
        if x.totals.users > 0.0 {
            v / x.totals.users
        } else {
            0.0
        }
    };
    // Union of packages, ranked by the larger of the two user shares.
    let mut ids: Vec<(u32, String, f64)> = Vec::new();
    let find = |x: &Side, id: u32| x.stats.iter().find(|d| d.id == id).cloned();
    for d in a.stats.iter().chain(&b.stats) {
        if ids.iter().any(|e| e.0 == d.id) {
            continue;
        }
        let sa = find(&a, d.id).map_or(0.0, |x| share(&a, x.users));
        let sb = find(&b, d.id).map_or(0.0, |x| share(&b, x.users));
        ids.push((d.id, d.name.clone(), sa.max(sb)));
    }
    ids.sort_by(|x, y| y.2.total_cmp(&x.2).then(x.1.cmp(&y.1)));
    let mut t = Table::new(
        "packages",
        "Packages side by side",
        &[
            ("package", Kind::Text),
            ("users_a", Kind::Count),
            ("users_b", Kind::Count),
            ("user_share_a", Kind::Share),
            ("user_share_b", Kind::Share),
            ("jobs_a", Kind::Count),
            ("jobs_b", Kind::Count),
            ("median_nodes_a", Kind::Number),
            ("median_nodes_b", Kind::Number),
            ("cuda_job_share_a", Kind::Share),
            ("cuda_job_share_b", Kind::Share),
        ],
    );
    let mut groups = Vec::new();
    for (id, name, _) in ids.iter().take(limit) {
        let (da, db_) = (find(&a, *id), find(&b, *id));
        let users = |d: &Option<DistStats>| d.as_ref().map_or(0.0, |d| d.users);
        let jobs = |d: &Option<DistStats>| d.as_ref().map_or(0.0, |d| d.jobs);
        let cuda = |x: &Side, d: &Option<DistStats>| {
            let j = jobs(d);
            if j > 0.0 {
                Value::Num(x.cuda_jobs.get(id).copied().unwrap_or(0.0) / j)
            } else {
                Value::Null
            }
        };
        t.rows.push(vec![
            Value::from(name.as_str()),
            Value::Num(users(&da)),
            Value::Num(users(&db_)),
            Value::Num(share(&a, users(&da))),
            Value::Num(share(&b, users(&db_))),
            Value::Num(jobs(&da)),
            Value::Num(jobs(&db_)),
            Value::from(a.median_nodes.get(id).copied()),
            Value::from(b.median_nodes.get(id).copied()),
            cuda(&a, &da),
            cuda(&b, &db_),
        ]);
        if groups.len() < 15 {
            groups.push((
                name.clone(),
                vec![share(&a, users(&da)), share(&b, users(&db_))],
            ));
        }
    }
    s.tables.push(t);
    s.charts.push(Chart::GroupedBar {
        title: "Share of each side's users per package".into(),
        unit: "share of users".into(),
        series: vec![format!("A: {}", a.label), format!("B: {}", b.label)],
        groups,
        kind: Kind::Share,
    });
    s
}
