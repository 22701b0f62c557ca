//! Section 7: GPU: per package, the jobs and users whose processes loaded CUDA; and
//! the packages used in jobs that loaded no GPU library (on jobs that were
//! allocated GPUs, when the records say so).

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;
use std::collections::HashMap;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "gpu",
        title("gpu"),
        "Jobs count as using a GPU when any of their processes loaded a CUDA library; \
         users, when one of their processes with the package did. Jobs allocated GPUs \
         (records of schema 2) that loaded no GPU library show where GPU nodes ran \
         CPU-only Python.",
    );
    let sel = ctx.sel;
    let (mut jobs, mut cuda_jobs, mut alloc, mut alloc_idle, mut known) = (0.0, 0.0, 0.0, 0.0, 0.0);
    for &j in &sel.job_list {
        let j = sel.job(j);
        jobs += j.w;
        if j.cuda {
            cuda_jobs += j.w;
        }
        if j.gpus.is_some_and(|g| g > 0) {
            alloc += j.w;
            if !j.cuda {
                alloc_idle += j.w;
            }
        }
        if j.gpus.is_some() {
            known += 1.0;
        }
    }
    let share = |a: f64, b: f64| if b > 0.0 { a / b } else { 0.0 };
    s.fact("cuda_jobs", "jobs that loaded CUDA", cuda_jobs, Kind::Count);
    s.fact(
        "cuda_job_share",
        "of all jobs",
        share(cuda_jobs, jobs),
        Kind::Share,
    );
    let have_alloc = known > 0.0;
    if have_alloc {
        s.fact("gpu_jobs", "jobs allocated GPUs", alloc, Kind::Count);
        s.fact(
            "gpu_jobs_without_gpu_library",
            "of those, loaded no GPU library",
            share(alloc_idle, alloc),
            Kind::Share,
        );
    } else {
        s.notes.push(
            "The records do not carry GPU allocations (record schema 1); the second \
             table lists packages of all jobs that loaded no GPU library."
                .into(),
        );
    }

    let jobs_cuda: HashMap<u32, f64> = ctx
        .stats
        .iter()
        .filter_map(|d| Some((d.id, ctx.jobs_where(d.id, |j| j.cuda)?)))
        .collect();
    let mut t = Table::new(
        "cuda",
        "Jobs and users that loaded CUDA, per package",
        &[
            ("package", Kind::Text),
            ("jobs", Kind::Count),
            ("cuda_jobs", Kind::Count),
            ("cuda_job_share", Kind::Share),
            ("users", Kind::Count),
            ("cuda_users", Kind::Count),
        ],
    );
    let mut ranked: Vec<_> = ctx.stats.iter().collect();
    ranked.sort_by(|a, b| {
        let ca = jobs_cuda.get(&a.id).copied().unwrap_or(0.0);
        let cb = jobs_cuda.get(&b.id).copied().unwrap_or(0.0);
        cb.total_cmp(&ca)
            .then(b.jobs.total_cmp(&a.jobs))
            .then(a.name.cmp(&b.name))
    });
    let mut groups = Vec::new();
    for d in ranked.iter().take(ctx.limit) {
        let cj = jobs_cuda.get(&d.id).copied().unwrap_or(0.0);
        let cu = ctx.users_where(d.id, |u| u.cuda);
        t.rows.push(vec![
            Value::from(d.name.as_str()),
            Value::Num(d.jobs),
            Value::Num(cj),
            Value::Num(share(cj, d.jobs)),
            Value::Num(d.users),
            Value::Num(cu),
        ]);
        if groups.len() < 12 && d.jobs > 0.0 {
            groups.push((d.name.clone(), vec![cj, (d.jobs - cj).max(0.0)]));
        }
    }
    s.tables.push(t);
    s.charts.push(Chart::GroupedBar {
        title: "Jobs per package, with and without CUDA".into(),
        unit: "jobs".into(),
        series: vec!["loaded CUDA".into(), "no GPU library".into()],
        groups,
        kind: Kind::Count,
    });

    let idle: HashMap<u32, f64> = ctx
        .stats
        .iter()
        .filter_map(|d| {
            let w = ctx.jobs_where(d.id, |j| {
                !j.cuda && (!have_alloc || j.gpus.is_some_and(|g| g > 0))
            })?;
            Some((d.id, w))
        })
        .collect();
    let mut rows: Vec<(String, f64, f64)> = idle
        .iter()
        .map(|(id, w)| {
            let all = ctx
                .stats
                .iter()
                .find(|d| d.id == *id)
                .map_or(0.0, |d| d.jobs);
            (ctx.name(*id), *w, share(*w, all))
        })
        .collect();
    rows.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
    let title = if have_alloc {
        "Packages in jobs allocated GPUs that loaded no GPU library"
    } else {
        "Packages in jobs that loaded no GPU library"
    };
    let mut t = Table::new(
        "no-gpu-library",
        title,
        &[
            ("package", Kind::Text),
            ("jobs", Kind::Count),
            ("share_of_its_jobs", Kind::Share),
        ],
    );
    for r in rows.iter().take(ctx.limit) {
        t.rows.push(vec![
            Value::from(r.0.as_str()),
            Value::Num(r.1),
            Value::Num(r.2),
        ]);
    }
    s.tables.push(t);
    Ok(s)
}
