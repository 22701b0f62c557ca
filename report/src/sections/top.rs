//! Section 1: Top packages: distinct users, jobs, processes and node-hours per
//! distribution.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "top-packages",
        title("top-packages"),
        "Distributions by distinct users, jobs, processes and node-hours (a job's \
         node-hours: the span of its records times its nodes), most users first.",
    );
    s.fact(
        "packages",
        "packages seen",
        ctx.stats.len() as f64,
        Kind::Count,
    );
    let mut t = Table::new(
        "packages",
        "Top packages",
        &[
            ("package", Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
            ("processes", Kind::Count),
            ("node_hours", Kind::Number),
            ("user_share", Kind::Share),
        ],
    );
    let n = ctx.cap(ctx.stats.len());
    for d in &ctx.stats[..n] {
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(d.users),
            Value::Num(d.jobs),
            Value::Num(d.processes),
            Value::Num(d.node_hours),
            Value::Num(if ctx.totals.users > 0.0 {
                d.users / ctx.totals.users
            } else {
                0.0
            }),
        ]);
    }
    s.tables.push(t);
    let chart_n = n.min(15);
    s.charts.push(Chart::Bar {
        title: "Distinct users per package".into(),
        unit: "users".into(),
        bars: ctx.stats[..chart_n]
            .iter()
            .map(|d| (d.name.clone(), d.users))
            .collect(),
        kind: Kind::Count,
    });
    let mut by_nh: Vec<_> = ctx.stats.iter().filter(|d| d.node_hours > 0.0).collect();
    by_nh.sort_by(|a, b| {
        b.node_hours
            .total_cmp(&a.node_hours)
            .then(a.name.cmp(&b.name))
    });
    if !by_nh.is_empty() {
        s.charts.push(Chart::Bar {
            title: "Node-hours of the jobs using each package".into(),
            unit: "node-hours".into(),
            bars: by_nh
                .iter()
                .take(chart_n)
                .map(|d| (d.name.clone(), d.node_hours))
                .collect(),
            kind: Kind::Number,
        });
    }
    Ok(s)
}
