//! Section 8: Fan-out: processes per job, multiprocessing and forks (`forks`,
//! `forked_from`), and MPI task counts per package.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::stats::{mean, quantile};
use anyhow::Result;
use std::collections::HashMap;

const BINS: [(f64, &str); 10] = [
    (1.0, "1"),
    (2.0, "2"),
    (4.0, "3-4"),
    (8.0, "5-8"),
    (16.0, "9-16"),
    (64.0, "17-64"),
    (256.0, "65-256"),
    (1024.0, "257-1k"),
    (8192.0, "1k-8k"),
    (f64::INFINITY, ">8k"),
];

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "fan-out",
        title("fan-out"),
        "Python processes per job (weighted by 1/sample), fork children that imported \
         something new (forked_from) and processes that forked (forks > 0), and the \
         MPI task count of jobs whose processes loaded an MPI library.",
    );
    let mut per_job: Vec<(f64, f64)> = ctx
        .db
        .rows(
            "SELECT CAST(ROUND(np) AS INTEGER), CAST(SUM(w) AS DOUBLE PRECISION)
             FROM r_j GROUP BY CAST(ROUND(np) AS INTEGER)",
        )?
        .into_iter()
        .map(|r| {
            (
                r[0].num().unwrap_or(1.0).max(1.0),
                r[1].num().unwrap_or(0.0),
            )
        })
        .collect();
    s.fact(
        "mean_processes_per_job",
        "mean processes per job",
        Value::from(mean(&per_job)),
        Kind::Number,
    );
    s.fact(
        "median_processes_per_job",
        "median",
        Value::from(quantile(&mut per_job, 0.5)),
        Kind::Number,
    );
    let fr = ctx.db.rows(
        "SELECT CAST(SUM(w) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN forked_from IS NOT NULL THEN w ELSE 0 END) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN forks > 0 THEN w ELSE 0 END) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN mpi = 1 THEN w ELSE 0 END) AS DOUBLE PRECISION)
         FROM r_p",
    )?;
    let n = |i: usize| fr[0][i].num().unwrap_or(0.0);
    let total = n(0).max(f64::MIN_POSITIVE);
    s.fact(
        "fork_child_share",
        "fork children",
        n(1) / total,
        Kind::Share,
    );
    s.fact(
        "forking_share",
        "processes that forked",
        n(2) / total,
        Kind::Share,
    );
    s.fact("mpi_share", "processes with MPI", n(3) / total, Kind::Share);
    let mut bins = vec![0.0; BINS.len()];
    for (k, w) in &per_job {
        let i = BINS
            .iter()
            .position(|(hi, _)| k <= hi)
            .unwrap_or(BINS.len() - 1);
        bins[i] += w;
    }
    let last = bins.iter().rposition(|b| *b > 0.0).unwrap_or(0);
    s.charts.push(Chart::Histogram {
        title: "Jobs by Python processes per job".into(),
        unit: "jobs".into(),
        x_label: "processes per job".into(),
        bins: BINS[..=last]
            .iter()
            .zip(&bins)
            .map(|((_, l), v)| (l.to_string(), *v))
            .collect(),
    });

    let mut procs: HashMap<i64, Vec<(f64, f64)>> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT jd.dist, CAST(ROUND(j.np) AS INTEGER), CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM r_jd jd JOIN r_j j ON j.job = jd.job
         GROUP BY jd.dist, CAST(ROUND(j.np) AS INTEGER)",
    )? {
        procs
            .entry(r[0].num().unwrap_or(0.0) as i64)
            .or_default()
            .push((r[1].num().unwrap_or(1.0), r[2].num().unwrap_or(0.0)));
    }
    let mut tasks: HashMap<i64, Vec<(f64, f64)>> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT jd.dist, j.tasks, CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM r_jd jd JOIN r_j j ON j.job = jd.job
         WHERE j.mpi = 1 AND j.tasks IS NOT NULL
         GROUP BY jd.dist, j.tasks",
    )? {
        tasks
            .entry(r[0].num().unwrap_or(0.0) as i64)
            .or_default()
            .push((r[1].num().unwrap_or(1.0), r[2].num().unwrap_or(0.0)));
    }
    let mut forks: HashMap<i64, (f64, f64, f64, f64)> = HashMap::new();
    for r in ctx.db.rows(
        "SELECT sd.dist, CAST(SUM(x.w) AS DOUBLE PRECISION), CAST(SUM(x.wc) AS DOUBLE PRECISION),
                CAST(SUM(x.wf) AS DOUBLE PRECISION), CAST(SUM(x.wa) AS DOUBLE PRECISION)
         FROM (SELECT pset, SUM(w) AS w,
                      SUM(CASE WHEN forked_from IS NOT NULL OR forks > 0 THEN w ELSE 0 END) AS wa,
                      SUM(CASE WHEN forked_from IS NOT NULL THEN w ELSE 0 END) AS wc,
                      SUM(CASE WHEN forks > 0 THEN w ELSE 0 END) AS wf
               FROM r_p GROUP BY pset) x
         JOIN r_sd sd ON sd.pset = x.pset GROUP BY sd.dist",
    )? {
        let g = |i: usize| r[i].num().unwrap_or(0.0);
        forks.insert(g(0) as i64, (g(1), g(2), g(3), g(4)));
    }
    let mut t = Table::new(
        "by-package",
        "Fan-out per package",
        &[
            ("package", Kind::Text),
            ("jobs", Kind::Count),
            ("procs_p50", Kind::Number),
            ("procs_max", Kind::Number),
            ("fork_child", Kind::Share),
            ("forking", Kind::Share),
            ("mpi_jobs", Kind::Count),
            ("tasks_p50", Kind::Number),
            ("tasks_max", Kind::Number),
        ],
    );
    let mut bars = Vec::new();
    let mut ranked: Vec<_> = ctx.stats.iter().collect();
    ranked.sort_by(|a, b| b.jobs.total_cmp(&a.jobs).then(a.name.cmp(&b.name)));
    for d in ranked.into_iter().take(ctx.limit) {
        let mut p = procs.remove(&d.id).unwrap_or_default();
        let mut tk = tasks.remove(&d.id).unwrap_or_default();
        let (w, wc, wf, wa) = forks.get(&d.id).copied().unwrap_or((0.0, 0.0, 0.0, 0.0));
        let w = w.max(f64::MIN_POSITIVE);
        let med = quantile(&mut p, 0.5);
        let maxp = p.iter().map(|o| o.0).fold(f64::NAN, f64::max);
        let mpi_jobs: f64 = tk.iter().map(|o| o.1).sum();
        let med_t = quantile(&mut tk, 0.5);
        let max_t = tk.iter().map(|o| o.0).fold(f64::NAN, f64::max);
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(d.jobs),
            Value::from(med),
            if maxp.is_nan() {
                Value::Null
            } else {
                Value::Num(maxp)
            },
            Value::Num(wc / w),
            Value::Num(wf / w),
            Value::Num(mpi_jobs),
            Value::from(med_t),
            if max_t.is_nan() {
                Value::Null
            } else {
                Value::Num(max_t)
            },
        ]);
        if bars.len() < 15 {
            bars.push((d.name.clone(), wa / w));
        }
    }
    s.tables.push(t);
    bars.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    s.charts.push(Chart::Bar {
        title: "Share of each package's processes in fork families".into(),
        unit: "share of processes (forked or fork child)".into(),
        bars,
        kind: Kind::Share,
    });
    Ok(s)
}
