//! Section 8: Fan-out: processes per job, multiprocessing and forks (`forks`,
//! `forked_from`), and MPI task counts per package.

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use crate::stats::{group, Summary};
use anyhow::Result;

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

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "fan-out",
        title("fan-out"),
        "Python processes per job (weighted by 1/sample), fork children that imported \
         something new (forked_from) and processes that forked (forks > 0), and the \
         MPI task count of jobs whose processes loaded an MPI library.",
    );
    let (d, sel) = (ctx.data, ctx.sel);
    // Processes per job, rounded to whole processes (at least 1).
    let per_job = group(
        sel.job_list
            .iter()
            .map(|&j| (sel.job(j).np.round().max(1.0), sel.job(j).w)),
    );
    let spread = Summary::of(per_job.iter().copied());
    s.fact(
        "mean_processes_per_job",
        "mean processes per job",
        Value::from(spread.mean),
        Kind::Number,
    );
    s.fact(
        "median_processes_per_job",
        "median",
        Value::from(spread.median),
        Kind::Number,
    );
    // Per package set: weight of all processes, fork children, forking
    // processes, and either; and the same overall.
    let mut per_set: Vec<[f64; 4]> = vec![[0.0; 4]; d.set_count()];
    let (mut all, mut children, mut forking, mut mpi) = (0.0, 0.0, 0.0, 0.0);
    for &i in &sel.procs {
        let p = &d.procs[i as usize];
        let w = p.w();
        let f = &mut per_set[p.set as usize];
        f[0] += w;
        all += w;
        if p.fork_child {
            f[1] += w;
            children += w;
        }
        if p.forked {
            f[2] += w;
            forking += w;
        }
        if p.fork_child || p.forked {
            f[3] += w;
        }
        if p.mpi {
            mpi += w;
        }
    }
    let total = all.max(f64::MIN_POSITIVE);
    s.fact(
        "fork_child_share",
        "fork children",
        children / total,
        Kind::Share,
    );
    s.fact(
        "forking_share",
        "processes that forked",
        forking / total,
        Kind::Share,
    );
    s.fact("mpi_share", "processes with MPI", mpi / total, Kind::Share);
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
        let jobs = &sel.dist_jobs[d.id as usize];
        let procs = Summary::of(jobs.iter().map(|&j| (sel.job(j).np.round(), sel.job(j).w)));
        let tasks = Summary::of(jobs.iter().filter_map(|&j| {
            let j = sel.job(j);
            Some((j.tasks.filter(|_| j.mpi)? as f64, j.w))
        }));
        let mut f = [0.0; 4];
        for &set in &sel.dist_sets[d.id as usize] {
            for (a, b) in f.iter_mut().zip(per_set[set as usize]) {
                *a += b;
            }
        }
        let [w, wc, wf, wa] = f;
        let w = w.max(f64::MIN_POSITIVE);
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(d.jobs),
            Value::from(procs.median),
            Value::from(procs.max),
            Value::Num(wc / w),
            Value::Num(wf / w),
            Value::Num(tasks.total),
            Value::from(tasks.median),
            Value::from(tasks.max),
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
