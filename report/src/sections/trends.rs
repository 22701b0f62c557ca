//! Section 9: Trends: weekly users and jobs for the top packages, and packages
//! appearing for the first time.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::time;
use anyhow::Result;
use foldhash::HashMap;
use std::collections::BTreeSet;

/// Packages drawn in the weekly chart.
const LINES: usize = 8;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "trends",
        title("trends"),
        "Weekly distinct users and jobs (weeks start on Monday, UTC) of the packages \
         with most users, and packages whose first record in the store falls in the \
         period.",
    );
    let top = ctx.top_ids(LINES);
    let (d, sel) = (ctx.data, ctx.sel);
    // Per package set, which of the top packages it has (bit i = top[i]).
    let mut bits = vec![0u8; d.dists.len()];
    for (i, id) in top.iter().enumerate() {
        bits[*id as usize] = 1 << i;
    }
    let set_mask: Vec<u8> = (0..d.set_count() as u32)
        .map(|s| {
            d.set_dists(s)
                .iter()
                .fold(0, |m, (id, _)| m | bits[*id as usize])
        })
        .collect();
    // The top packages each user (job) used in each week: per user (job),
    // in ascending order, its processes' `(week, mask)` sorted and merged.
    let week_of = |p: &crate::data::Process| (p.start_us - time::MONDAY_US) / time::WEEK_US;
    let mut weeks_of: Vec<(i64, u8)> = Vec::new();
    let mut spread = |groups: &crate::data::Grouped, w: &dyn Fn(u32) -> f64| {
        let mut out: HashMap<(u32, i64), f64> = HashMap::default();
        for (who, procs) in groups.groups() {
            weeks_of.clear();
            weeks_of.extend(procs.iter().filter_map(|&i| {
                let p = &d.procs[i as usize];
                let m = set_mask[p.set as usize];
                (m != 0).then(|| (week_of(p), m))
            }));
            weeks_of.sort_unstable();
            for g in weeks_of.chunk_by(|a, b| a.0 == b.0) {
                let m = g.iter().fold(0, |m, x| m | x.1);
                for (i, id) in top.iter().enumerate() {
                    if m & (1 << i) != 0 {
                        *out.entry((*id, g[0].0)).or_default() += w(who);
                    }
                }
            }
        }
        out
    };
    let users = spread(&sel.by_user, &|u| sel.user_w[u as usize]);
    let jobs = spread(&sel.by_job, &|j| sel.job(j).w);
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
fn new_packages(ctx: &Ctx, s: &mut Section) -> Result<()> {
    // First start of any process in the store (selected or not) per set,
    // then per distribution.
    let d = ctx.data;
    let mut set_first = vec![i64::MAX; d.set_count()];
    for p in &d.procs {
        let f = &mut set_first[p.set as usize];
        *f = (*f).min(p.start_us);
    }
    let mut first: HashMap<u32, f64> = HashMap::default();
    for (set, f) in set_first.iter().enumerate() {
        if *f == i64::MAX {
            continue;
        }
        for (id, _) in d.set_dists(set as u32) {
            let e = first.entry(*id).or_insert(f64::INFINITY);
            *e = e.min(*f as f64);
        }
    }
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
