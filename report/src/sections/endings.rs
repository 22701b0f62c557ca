//! Section 6: How processes end: the share that vanished (walltime, OOM, killed),
//! were signalled or exited non-zero, overall and per package.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;
use std::collections::HashMap;

use crate::data::OUTCOMES;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "endings",
        title("endings"),
        "How processes ended: exit 0; a non-zero exit status; a signal; vanished \
         (killed without a chance to write: walltime, OOM, SIGKILL; shipped by the \
         sweep); or replaced by exec.",
    );
    let (d, sel) = (ctx.data, ctx.sel);
    // Weight per outcome, overall and per package set.
    let mut per_set: Vec<[f64; 5]> = vec![[0.0; 5]; d.set_count()];
    let mut all = [0.0; 5];
    for &i in &sel.procs {
        let p = &d.procs[i as usize];
        all[p.outcome as usize] += p.w();
        per_set[p.set as usize][p.outcome as usize] += p.w();
    }
    let overall: HashMap<&str, f64> = OUTCOMES
        .iter()
        .zip(all)
        .filter(|(_, w)| *w > 0.0)
        .map(|(o, w)| (*o, w))
        .collect();
    let total: f64 = overall.values().sum();
    let share = |k: &str| overall.get(k).copied().unwrap_or(0.0) / total.max(f64::MIN_POSITIVE);
    s.fact("vanished_share", "vanished", share("vanished"), Kind::Share);
    s.fact(
        "signalled_share",
        "signalled",
        share("signalled"),
        Kind::Share,
    );
    s.fact(
        "nonzero_share",
        "non-zero exit",
        share("non-zero exit"),
        Kind::Share,
    );
    let mut t = Table::new(
        "overall",
        "How processes ended",
        &[
            ("outcome", Kind::Text),
            ("processes", Kind::Count),
            ("share", Kind::Share),
        ],
    );
    for o in OUTCOMES {
        let v = overall.get(o).copied().unwrap_or(0.0);
        t.rows
            .push(vec![Value::from(o), Value::Num(v), Value::Num(share(o))]);
    }
    s.tables.push(t);
    s.charts.push(Chart::Bar {
        title: "Share of processes by outcome".into(),
        unit: "share of processes".into(),
        bars: OUTCOMES.iter().map(|o| (o.to_string(), share(o))).collect(),
        kind: Kind::Share,
    });

    let mut t = Table::new(
        "by-package",
        "How processes ended, per package",
        &[
            ("package", Kind::Text),
            ("processes", Kind::Count),
            ("vanished", Kind::Share),
            ("signalled", Kind::Share),
            ("non_zero_exit", Kind::Share),
        ],
    );
    let mut groups = Vec::new();
    let mut ranked: Vec<_> = ctx.stats.iter().collect();
    ranked.sort_by(|a, b| {
        b.processes
            .total_cmp(&a.processes)
            .then(a.name.cmp(&b.name))
    });
    for d in ranked.into_iter().take(ctx.limit) {
        let mut m = [0.0; 5];
        for &set in &sel.dist_sets[d.id as usize] {
            for (a, b) in m.iter_mut().zip(per_set[set as usize]) {
                *a += b;
            }
        }
        let n: f64 = m.iter().sum();
        let sh = |k: &str| {
            let i = OUTCOMES.iter().position(|o| *o == k).unwrap_or(0);
            m[i] / n.max(f64::MIN_POSITIVE)
        };
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(n),
            Value::Num(sh("vanished")),
            Value::Num(sh("signalled")),
            Value::Num(sh("non-zero exit")),
        ]);
        if groups.len() < 12 {
            groups.push((
                d.name.clone(),
                vec![sh("vanished"), sh("signalled"), sh("non-zero exit")],
            ));
        }
    }
    s.tables.push(t);
    s.charts.push(Chart::GroupedBar {
        title: "Processes that did not end well, per package".into(),
        unit: "share of the package's processes".into(),
        series: vec![
            "vanished".into(),
            "signalled".into(),
            "non-zero exit".into(),
        ],
        groups,
        kind: Kind::Share,
    });
    Ok(s)
}
