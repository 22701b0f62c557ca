//! Section 7: GPU: per package, the jobs and users whose processes loaded CUDA; and
//! the packages used in jobs that loaded no GPU library (on jobs that were
//! allocated GPUs, when the records say so).

use super::{title, Ctx};
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;

pub(super) fn section(ctx: &mut Ctx) -> Result<Section> {
    let mut s = Section::new(
        "gpu",
        title("gpu"),
        "Jobs count as using a GPU when any of their processes loaded a CUDA library; \
         users, when one of their processes with the package did. Jobs allocated GPUs \
         (records of schema 2) that loaded no GPU library show where GPU nodes ran \
         CPU-only Python.",
    );
    let row = ctx.db.rows(
        "SELECT CAST(SUM(w) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN cuda = 1 THEN w ELSE 0 END) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN gpus > 0 THEN w ELSE 0 END) AS DOUBLE PRECISION),
                CAST(SUM(CASE WHEN gpus > 0 AND cuda = 0 THEN w ELSE 0 END) AS DOUBLE PRECISION),
                COUNT(gpus)
         FROM r_j",
    )?;
    let r = &row[0];
    let (jobs, cuda_jobs, alloc, alloc_idle, known) = (
        r[0].num().unwrap_or(0.0),
        r[1].num().unwrap_or(0.0),
        r[2].num().unwrap_or(0.0),
        r[3].num().unwrap_or(0.0),
        r[4].num().unwrap_or(0.0),
    );
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

    let jobs_cuda = ctx.by_dist(
        "SELECT jd.dist, CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM r_jd jd JOIN r_j j ON j.job = jd.job WHERE j.cuda = 1 GROUP BY jd.dist",
    )?;
    let users_cuda = ctx.by_dist(
        "SELECT ud.dist, CAST(SUM(u.w) AS DOUBLE PRECISION)
         FROM r_ud ud JOIN r_u u ON u.uid = ud.uid WHERE ud.cuda = 1 GROUP BY ud.dist",
    )?;
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
        let cu = users_cuda.get(&d.id).copied().unwrap_or(0.0);
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

    let cond = if have_alloc {
        "j.gpus > 0 AND j.cuda = 0"
    } else {
        "j.cuda = 0"
    };
    let idle = ctx.by_dist(&format!(
        "SELECT jd.dist, CAST(SUM(j.w) AS DOUBLE PRECISION)
         FROM r_jd jd JOIN r_j j ON j.job = jd.job WHERE {cond} GROUP BY jd.dist"
    ))?;
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
