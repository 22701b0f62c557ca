//! Section 2: Versions in use: per package, users and jobs on each version.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;
use std::collections::HashMap;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "versions",
        title("versions"),
        "For the top packages, the users and jobs on each version (a user on two \
         versions counts for both).",
    );
    let top = ctx.top_ids(ctx.limit.min(20));
    let (users, jobs) = version_counts(ctx, &top);
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
        let mut vs: Vec<(u32, &Option<String>, f64)> = users
            .iter()
            .filter(|(v, _)| ctx.data.versions[**v as usize].0 == d.id)
            .map(|(v, u)| (*v, &ctx.data.versions[*v as usize].1, *u))
            .collect();
        vs.sort_by(|a, b| b.2.total_cmp(&a.2).then(version_order(b.1, a.1)));
        if vs.len() > 1 {
            multi += 1.0;
        }
        for (id, v, u) in &vs {
            let j = jobs.get(id).copied().unwrap_or(0.0);
            let label = v.as_deref().unwrap_or("unknown");
            t.rows.push(vec![
                Value::from(d.name.as_str()),
                Value::from(label),
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

/// Users and jobs per version (an index of `Data::versions`) of the given
/// distributions: each user or job counts once per version it used.
fn version_counts(ctx: &Ctx, top: &[u32]) -> (HashMap<u32, f64>, HashMap<u32, f64>) {
    let (d, sel) = (ctx.data, ctx.sel);
    let mut wanted = vec![false; d.dists.len()];
    for &t in top {
        wanted[t as usize] = true;
    }
    // Versions of wanted distributions seen by one user (job), then added
    // with its weight.
    let mut seen: Vec<u32> = Vec::new();
    let mut gather = |sets: &mut dyn Iterator<Item = u32>, w: f64, out: &mut HashMap<u32, f64>| {
        seen.clear();
        for set in sets {
            for m in d.members(set) {
                if m.dist != crate::data::NONE && wanted[m.dist as usize] {
                    seen.push(m.version);
                }
            }
        }
        seen.sort_unstable();
        seen.dedup();
        for v in &seen {
            *out.entry(*v).or_default() += w;
        }
    };
    let mut users = HashMap::new();
    for (uid, sets) in sel.sets_by_user() {
        let w = sel.user_w[uid as usize];
        gather(&mut sets.iter().map(|x| x.1), w, &mut users);
    }
    let mut jobs = HashMap::new();
    for (job, sets) in sel.sets_by_job() {
        let w = sel.job(job).w;
        gather(&mut sets.iter().map(|x| x.1), w, &mut jobs);
    }
    (users, jobs)
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
