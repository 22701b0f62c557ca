//! Section 6: How processes end: the share that vanished (walltime, OOM, killed),
//! were signalled or exited non-zero, overall and per package.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;
use std::collections::HashMap;

/// Outcomes, in display order (the `outcome` column of `r_p`).
pub(super) const OUTCOMES: [&str; 5] = ["exit 0", "non-zero exit", "signalled", "vanished", "exec"];

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "endings",
        title("endings"),
        "How processes ended: exit 0; a non-zero exit status; a signal; vanished \
         (killed without a chance to write: walltime, OOM, SIGKILL; shipped by the \
         sweep); or replaced by exec.",
    );
    let overall: HashMap<String, f64> = ctx
        .db
        .rows("SELECT outcome, CAST(SUM(w) AS DOUBLE PRECISION) FROM r_p GROUP BY outcome")?
        .into_iter()
        .map(|r| {
            (
                r[0].text().unwrap_or("").to_string(),
                r[1].num().unwrap_or(0.0),
            )
        })
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

    let mut per: HashMap<i64, HashMap<String, f64>> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT sd.dist, x.outcome, CAST(SUM(x.w) AS DOUBLE PRECISION)
         FROM (SELECT pset, outcome, SUM(w) AS w FROM r_p GROUP BY pset, outcome) x
         JOIN r_sd sd ON sd.pset = x.pset
         GROUP BY sd.dist, x.outcome",
    )? {
        per.entry(r[0].num().unwrap_or(0.0) as i64)
            .or_default()
            .insert(
                r[1].text().unwrap_or("").to_string(),
                r[2].num().unwrap_or(0.0),
            );
    }
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
        let m = per.remove(&d.id).unwrap_or_default();
        let n: f64 = m.values().sum();
        let sh = |k: &str| m.get(k).copied().unwrap_or(0.0) / n.max(f64::MIN_POSITIVE);
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
