//! Section 4: Packages used together: Pearson correlation of per-job presence among
//! the packages in most jobs, the strongest pairs and anticorrelations; then
//! dependency patterns: who imports a package directly and what pulls it in.

use super::{title, Ctx};
use crate::data::NONE;
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::stats::phi;
use anyhow::Result;
use foldhash::HashMap;

/// Packages in the correlation matrix.
const MATRIX: usize = 12;

/// Pairs listed in each of the strongest / anticorrelated tables.
const PAIRS: usize = 10;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "together",
        title("together"),
        "Pearson correlation of per-job presence (1 if a job used the package) among \
         the packages in most jobs; then, per package, the share of its users who \
         import it from their own code, and the packages that pull it in.",
    );
    let mut ranked: Vec<_> = ctx.stats.iter().filter(|d| d.jobs > 0.0).collect();
    ranked.sort_by(|a, b| b.jobs.total_cmp(&a.jobs).then(a.name.cmp(&b.name)));
    let ids: Vec<u32> = ranked.iter().take(MATRIX).map(|d| d.id).collect();
    let labels: Vec<String> = ids.iter().map(|id| ctx.name(*id)).collect();
    let sel = ctx.sel;
    let n: f64 = sel.job_list.iter().map(|&j| sel.job(j).w).sum();
    // Weight of jobs per presence pattern (bit i = package i).
    let mut mask_of = vec![0u64; sel.jobs.len()];
    for (i, id) in ids.iter().enumerate() {
        for &j in &sel.dist_jobs[*id as usize] {
            mask_of[j as usize] |= 1 << i;
        }
    }
    let mut by_mask: HashMap<u64, f64> = HashMap::default();
    for &j in &sel.job_list {
        let m = mask_of[j as usize];
        if m != 0 {
            *by_mask.entry(m).or_default() += sel.job(j).w;
        }
    }
    // In mask order, so that the sums do not depend on the hash map's order.
    let mut masks: Vec<(u64, f64)> = by_mask.into_iter().collect();
    masks.sort_unstable_by_key(|m| m.0);
    let k = ids.len();
    let mut one = vec![0.0; k];
    let mut both = vec![vec![0.0; k]; k];
    for (mask, w) in &masks {
        for i in 0..k {
            if mask & (1 << i) != 0 {
                one[i] += w;
                for (j, cell) in both[i].iter_mut().enumerate() {
                    if mask & (1 << j) != 0 {
                        *cell += w;
                    }
                }
            }
        }
    }
    let cells: Vec<Vec<Option<f64>>> = (0..k)
        .map(|i| (0..k).map(|j| phi(n, one[i], one[j], both[i][j])).collect())
        .collect();
    let mut pairs = Vec::new();
    for i in 0..k {
        for j in i + 1..k {
            if let Some(r) = cells[i][j] {
                pairs.push((labels[i].clone(), labels[j].clone(), r, both[i][j]));
            }
        }
    }
    let mean_r = if pairs.is_empty() {
        None
    } else {
        Some(pairs.iter().map(|p| p.2).sum::<f64>() / pairs.len() as f64)
    };
    s.fact("jobs", "jobs", n, Kind::Count);
    s.fact(
        "mean_correlation",
        "mean correlation among them",
        Value::from(mean_r),
        Kind::Number,
    );
    s.charts.push(Chart::HeatMap {
        title: "Correlation of per-job presence".into(),
        labels: labels.clone(),
        cells: cells.clone(),
    });
    let mut matrix = Table::new("matrix", "Correlation matrix", &[("package", Kind::Text)]);
    for l in &labels {
        matrix.columns.push(crate::model::Column {
            name: l.clone(),
            kind: Kind::Number,
        });
    }
    for (i, l) in labels.iter().enumerate() {
        let mut row = vec![Value::from(l.as_str())];
        row.extend(cells[i].iter().map(|c| Value::from(*c)));
        matrix.rows.push(row);
    }
    pairs.sort_by(|a, b| b.2.total_cmp(&a.2).then(a.0.cmp(&b.0)).then(a.1.cmp(&b.1)));
    let pair_table = |id: &str, title: &str, rows: Vec<&(String, String, f64, f64)>| {
        let mut t = Table::new(
            id,
            title,
            &[
                ("package_a", Kind::Text),
                ("package_b", Kind::Text),
                ("correlation", Kind::Number),
                ("jobs_with_both", Kind::Count),
            ],
        );
        for p in rows {
            t.rows.push(vec![
                Value::from(p.0.as_str()),
                Value::from(p.1.as_str()),
                Value::Num(p.2),
                Value::Num(p.3),
            ]);
        }
        t
    };
    let strongest: Vec<_> = pairs.iter().filter(|p| p.2 > 0.0).take(PAIRS).collect();
    let anti: Vec<_> = pairs
        .iter()
        .rev()
        .filter(|p| p.2 < 0.0)
        .take(PAIRS)
        .collect();
    s.tables
        .push(pair_table("strongest", "Strongest pairs", strongest));
    s.tables
        .push(pair_table("anticorrelated", "Anticorrelated pairs", anti));
    s.tables.push(matrix);

    dependencies(ctx, &mut s)?;
    Ok(s)
}

/// Direct and transitive use: per package, users who import it from their
/// own code at least once, and the distributions that import it otherwise.
fn dependencies(ctx: &Ctx, s: &mut Section) -> Result<()> {
    let (d, sel) = (ctx.data, ctx.sel);
    let with_by = sel
        .procs
        .iter()
        .filter(|&&i| d.procs[i as usize].schema >= 2)
        .count();
    if with_by == 0 {
        s.notes.push(
            "These records (schema 1) do not say who imported what: every import \
             counts as direct. Records of schema 2 carry the importing distribution."
                .into(),
        );
    }
    // (distribution, importer) pairs, each with the weight of its users,
    // each user counted once per pair: users come in ascending order, so a
    // pair's mark of the last user added tells a repeat.
    let mut index: HashMap<(u32, u32), u32> = HashMap::default();
    let mut pairs: Vec<((u32, u32), f64, u32)> = Vec::new();
    for (uid, sets) in sel.sets_by_user() {
        let w = sel.user_w[uid as usize];
        for &(_, set, _) in sets {
            for m in d.members(set) {
                if m.by != NONE && m.dist != NONE {
                    let n = pairs.len() as u32;
                    let i = *index.entry((m.dist, m.by)).or_insert_with(|| {
                        pairs.push(((m.dist, m.by), 0.0, NONE));
                        n
                    });
                    let p = &mut pairs[i as usize];
                    if p.2 != uid {
                        p.2 = uid;
                        p.1 += w;
                    }
                }
            }
        }
    }
    let mut pullers: HashMap<u32, Vec<(u32, f64)>> = HashMap::default();
    for ((dist, by), w, _) in pairs {
        pullers.entry(dist).or_default().push((by, w));
    }
    let mut t = Table::new(
        "direct",
        "Direct and transitive use",
        &[
            ("package", Kind::Text),
            ("users", Kind::Count),
            ("direct_users", Kind::Count),
            ("direct_share", Kind::Share),
            ("only_through_others", Kind::Count),
            ("pulled_in_by", Kind::Text),
        ],
    );
    let mut rows: Vec<(String, f64, f64, String)> = Vec::new();
    for d in &ctx.stats {
        let dir = ctx.users_where(d.id, |u| u.direct);
        let mut by = pullers.remove(&d.id).unwrap_or_default();
        by.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let names: Vec<String> = by.iter().take(3).map(|(id, _)| ctx.name(*id)).collect();
        rows.push((d.name.clone(), d.users, dir, names.join(", ")));
    }
    let transitive: f64 = rows.iter().filter(|r| r.2 <= 0.0 && r.1 > 0.0).count() as f64;
    s.fact(
        "only_transitive_packages",
        "packages no user imports directly",
        transitive,
        Kind::Count,
    );
    let mut groups = Vec::new();
    for (name, users, dir, by) in rows.iter().take(ctx.limit) {
        t.rows.push(vec![
            Value::from(name.as_str()),
            Value::Num(*users),
            Value::Num(*dir),
            Value::Num(if *users > 0.0 { dir / users } else { 0.0 }),
            Value::Num((users - dir).max(0.0)),
            Value::from(by.as_str()),
        ]);
        if groups.len() < 12 {
            groups.push((name.clone(), vec![*dir, (users - dir).max(0.0)]));
        }
    }
    s.tables.push(t);
    s.charts.push(Chart::GroupedBar {
        title: "Users who import each package directly, and who get it only through others".into(),
        unit: "users".into(),
        series: vec!["direct".into(), "only through other packages".into()],
        groups,
        kind: Kind::Count,
    });
    Ok(())
}
