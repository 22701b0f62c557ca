//! Section 3: Job size: overall share of single-node jobs, mean and median size,
//! then per package the median, 90th percentile and largest job in nodes.

use super::{title, Ctx};
use crate::data::Selection;
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::stats::{group, Summary};
use anyhow::Result;

/// Upper bounds of the node-count bins of the histogram.
const BINS: [(f64, &str); 10] = [
    (1.0, "1"),
    (2.0, "2"),
    (4.0, "3-4"),
    (8.0, "5-8"),
    (16.0, "9-16"),
    (32.0, "17-32"),
    (64.0, "33-64"),
    (128.0, "65-128"),
    (512.0, "129-512"),
    (f64::INFINITY, ">512"),
];

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "job-size",
        title("job-size"),
        "Jobs by nodes allocated (1 when the record does not say), overall and for \
         the jobs using each package. Percentiles are the smallest size that covers \
         that share of the jobs.",
    );
    let sel = ctx.sel;
    let all = group(
        sel.job_list
            .iter()
            .map(|&j| (sel.job(j).nodes, sel.job(j).w)),
    );
    let overall = Summary::of(all.iter().copied());
    let total = overall.total;
    s.fact("jobs", "jobs", total, Kind::Count);
    s.fact(
        "single_node_share",
        "single-node jobs",
        if total > 0.0 {
            overall.ones / total
        } else {
            0.0
        },
        Kind::Share,
    );
    s.fact(
        "mean_nodes",
        "mean nodes",
        Value::from(overall.mean),
        Kind::Number,
    );
    s.fact(
        "median_nodes",
        "median nodes",
        Value::from(overall.median),
        Kind::Number,
    );
    let mut bins = vec![0.0; BINS.len()];
    for (n, w) in &all {
        let i = BINS
            .iter()
            .position(|(hi, _)| n <= hi)
            .unwrap_or(BINS.len() - 1);
        bins[i] += w;
    }
    let last = bins.iter().rposition(|b| *b > 0.0).unwrap_or(0);
    s.charts.push(Chart::Histogram {
        title: "Jobs by size".into(),
        unit: "jobs".into(),
        x_label: "nodes".into(),
        bins: BINS[..=last]
            .iter()
            .zip(&bins)
            .map(|((_, l), v)| (l.to_string(), *v))
            .collect(),
    });

    let mut t = Table::new(
        "by-package",
        "Job size per package (nodes)",
        &[
            ("package", Kind::Text),
            ("jobs", Kind::Count),
            ("single_node_share", Kind::Share),
            ("median", Kind::Number),
            ("p90", Kind::Number),
            ("max", Kind::Number),
        ],
    );
    let mut groups = Vec::new();
    let mut ranked: Vec<_> = ctx.stats.iter().filter(|d| d.jobs > 0.0).collect();
    ranked.sort_by(|a, b| b.jobs.total_cmp(&a.jobs).then(a.name.cmp(&b.name)));
    for d in ranked.into_iter().take(ctx.limit) {
        let sizes = size_summary(sel, d.id);
        let (jobs, med, p90) = (sizes.total, sizes.median, sizes.p90);
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(jobs),
            Value::Num(if jobs > 0.0 { sizes.ones / jobs } else { 0.0 }),
            Value::from(med),
            Value::from(p90),
            Value::from(sizes.max),
        ]);
        if groups.len() < 12 {
            groups.push((d.name.clone(), vec![med.unwrap_or(0.0), p90.unwrap_or(0.0)]));
        }
    }
    s.tables.push(t);
    s.charts.push(Chart::GroupedBar {
        title: "Job size per package: median and 90th percentile".into(),
        unit: "nodes".into(),
        series: vec!["median".into(), "90th percentile".into()],
        groups,
        kind: Kind::Number,
    });
    Ok(s)
}

/// Sizes (nodes) of the selected jobs that used a distribution.
pub(super) fn size_summary(sel: &Selection, dist: u32) -> Summary {
    Summary::of(
        sel.dist_jobs[dist as usize]
            .iter()
            .map(|&j| (sel.job(j).nodes, sel.job(j).w)),
    )
}
