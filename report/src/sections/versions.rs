//! Section 2: Versions in use: per package, users and jobs on each version.

use super::{title, Ctx};
use crate::data::{Data, NONE};
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
    let mut users = PerVersion::new(d.versions.len());
    for (uid, sets) in sel.sets_by_user() {
        let w = sel.user_w[uid as usize];
        users.add(d, &wanted, uid, w, sets.iter().map(|x| x.1));
    }
    let mut jobs = PerVersion::new(d.versions.len());
    for (job, sets) in sel.sets_by_job() {
        let w = sel.job(job).w;
        jobs.add(d, &wanted, job, w, sets.iter().map(|x| x.1));
    }
    (users.into_map(), jobs.into_map())
}

/// Per version, the weight of its users (or jobs), each counted once.
/// Users (jobs) are added one after the other in ascending order, so a
/// version's mark of the last one added tells a repeat.
struct PerVersion {
    sum: Vec<f64>,
    mark: Vec<u32>,
}

impl PerVersion {
    fn new(n: usize) -> PerVersion {
        PerVersion {
            sum: vec![0.0; n],
            mark: vec![NONE; n],
        }
    }

    /// One user (job) `who` of weight `w` and its package sets: every
    /// version of a wanted distribution in them.
    fn add(
        &mut self,
        d: &Data,
        wanted: &[bool],
        who: u32,
        w: f64,
        sets: impl Iterator<Item = u32>,
    ) {
        for set in sets {
            for m in d.members(set) {
                let v = m.version as usize;
                if m.dist != NONE
                    && wanted[m.dist as usize]
                    && v < self.mark.len()
                    && self.mark[v] != who
                {
                    self.mark[v] = who;
                    self.sum[v] += w;
                }
            }
        }
    }

    /// The versions seen, with their weights.
    fn into_map(self) -> HashMap<u32, f64> {
        (0..self.sum.len())
            .filter(|&v| self.mark[v] != NONE)
            .map(|v| (v as u32, self.sum[v]))
            .collect()
    }
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
