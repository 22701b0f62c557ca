//! The report's sections, one module per question, each computed from the
//! store read into memory ([`crate::data::Data`]) and a selection of its
//! processes ([`Selection`]), turned into a [`Section`](crate::model::Section).
//!
//! Counting rules, shared by all (`docs/report.md`):
//! - a process counts `1/sample`; a user or a job counts the smallest weight
//!   among its selected processes (1 when sampling was off);
//! - a job is a distinct `(scheduler, cluster, job id)`; processes outside a
//!   job count for users and processes, not for jobs;
//! - a job's node-hours are the span of its records (first start to last
//!   end) times its nodes (1 when unknown).

mod compare;
mod endings;
mod fanout;
mod gpu;
mod interpreters;
mod jobsize;
mod together;
mod top;
mod trends;
mod unused;
mod versions;

pub use compare::Compare;

use crate::data::{Data, DistUser, JobAgg, Selection};
use crate::model::{Fact, Kind, Report, Section, Value};
use crate::query::{Db, Filters};
use crate::time;
use anyhow::{bail, Result};
use std::path::PathBuf;

/// Every section, in report order: `(id, title)`.
pub const SECTIONS: [(&str, &str); 11] = [
    ("top-packages", "Top packages"),
    ("versions", "Versions in use"),
    ("job-size", "Job size"),
    ("together", "Packages used together"),
    ("interpreters", "Interpreters and environments"),
    ("endings", "How processes end"),
    ("gpu", "GPU"),
    ("fan-out", "Fan-out: processes, forks, MPI"),
    ("trends", "Trends"),
    ("never-used", "Installed but never used"),
    ("compare", "Compare"),
];

/// What to report.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The selection.
    pub filters: Filters,
    /// Rows per table (0: all).
    pub limit: usize,
    /// Section ids to include (empty: all that apply).
    pub sections: Vec<String>,
    /// The package map for "installed but never used".
    pub map: Option<PathBuf>,
    /// Two sides to set against each other.
    pub compare: Option<Compare>,
    /// Shown as the store in the header.
    pub store_label: String,
}

/// Per-distribution totals over the selection, shared by several sections.
#[derive(Clone, Debug)]
pub struct DistStats {
    /// Distribution index ([`Data::dists`]).
    pub id: u32,
    /// Name.
    pub name: String,
    /// Users (weighted).
    pub users: f64,
    /// Jobs (weighted).
    pub jobs: f64,
    /// Processes (weighted).
    pub processes: f64,
    /// Node-hours of its jobs (weighted).
    pub node_hours: f64,
}

/// What the sections share while one report is built.
pub struct Ctx<'a> {
    /// The store, in memory.
    pub data: &'a Data,
    /// The selected processes.
    pub sel: &'a Selection,
    /// Rows per table (`usize::MAX` for all).
    pub limit: usize,
    /// Options as given.
    pub opts: &'a Options,
    /// Per-distribution totals, most users first.
    pub stats: Vec<DistStats>,
    /// Totals: processes, users, jobs (weighted).
    pub totals: Totals,
}

/// Headline totals of a selection.
#[derive(Clone, Copy, Debug, Default)]
pub struct Totals {
    /// Processes.
    pub processes: f64,
    /// Users.
    pub users: f64,
    /// Jobs.
    pub jobs: f64,
    /// Node-hours.
    pub node_hours: f64,
    /// Records (unweighted).
    pub records: f64,
    /// First start, µs.
    pub first_us: Option<i64>,
    /// Last start, µs.
    pub last_us: Option<i64>,
}

impl Ctx<'_> {
    /// Name of a distribution.
    pub fn name(&self, id: u32) -> String {
        self.data
            .dists
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    /// Up to `n` distributions, most users first.
    pub fn top_ids(&self, n: usize) -> Vec<u32> {
        self.stats.iter().take(n).map(|s| s.id).collect()
    }

    /// The totals of a distribution.
    pub fn stat(&self, id: u32) -> Option<&DistStats> {
        self.stats.iter().find(|d| d.id == id)
    }

    /// The limit applied to a row count.
    pub fn cap(&self, n: usize) -> usize {
        n.min(self.limit)
    }

    /// Weight of a distribution's selected jobs that satisfy `keep`;
    /// `None` when none does.
    pub fn jobs_where(&self, dist: u32, keep: impl Fn(&JobAgg) -> bool) -> Option<f64> {
        jobs_where(self.sel, dist, keep)
    }

    /// Weight of a distribution's users that satisfy `keep`.
    pub fn users_where(&self, dist: u32, keep: impl Fn(&DistUser) -> bool) -> f64 {
        self.sel.dist_users[dist as usize]
            .iter()
            .filter(|u| keep(u))
            .map(|u| self.sel.user_w[u.uid as usize])
            .sum()
    }
}

/// Weight of a distribution's selected jobs that satisfy `keep`; `None`
/// when none does.
fn jobs_where(sel: &Selection, dist: u32, keep: impl Fn(&JobAgg) -> bool) -> Option<f64> {
    let mut any = false;
    let mut w = 0.0;
    for &j in &sel.dist_jobs[dist as usize] {
        let j = sel.job(j);
        if keep(j) {
            any = true;
            w += j.w;
        }
    }
    any.then_some(w)
}

/// Totals of a selection.
pub fn totals(d: &Data, sel: &Selection) -> Totals {
    let mut t = Totals {
        records: sel.procs.len() as f64,
        ..Totals::default()
    };
    for &i in &sel.procs {
        let p = &d.procs[i as usize];
        t.processes += p.w();
        t.first_us = Some(t.first_us.map_or(p.start_us, |f| f.min(p.start_us)));
        t.last_us = Some(t.last_us.map_or(p.start_us, |l| l.max(p.start_us)));
    }
    t.users = sel.users.iter().map(|&u| sel.user_w[u as usize]).sum();
    for &j in &sel.job_list {
        let j = sel.job(j);
        t.jobs += j.w;
        t.node_hours += j.w * j.node_hours;
    }
    t
}

/// Per-distribution users, jobs, processes and node-hours, most users
/// first.
pub fn dist_stats(d: &Data, sel: &Selection) -> Vec<DistStats> {
    let mut v = Vec::new();
    for (id, name) in d.dists.iter().enumerate() {
        if sel.dist_sets[id].is_empty() {
            continue;
        }
        let (mut jobs, mut node_hours) = (0.0, 0.0);
        for &j in &sel.dist_jobs[id] {
            let j = sel.job(j);
            jobs += j.w;
            node_hours += j.w * j.node_hours;
        }
        v.push(DistStats {
            id: id as u32,
            name: name.clone(),
            users: sel.dist_users[id]
                .iter()
                .map(|u| sel.user_w[u.uid as usize])
                .sum(),
            jobs,
            processes: sel.dist_sets[id]
                .iter()
                .map(|&s| sel.set_w[s as usize])
                .sum(),
            node_hours,
        });
    }
    v.sort_by(|a, b| {
        b.users
            .total_cmp(&a.users)
            .then(b.jobs.total_cmp(&a.jobs))
            .then(b.processes.total_cmp(&a.processes))
            .then(a.name.cmp(&b.name))
    });
    v
}

/// Check `--section` names.
pub fn check_ids(ids: &[String]) -> Result<()> {
    for id in ids {
        if !SECTIONS.iter().any(|(s, _)| s == id) {
            let all: Vec<&str> = SECTIONS.iter().map(|(s, _)| *s).collect();
            bail!("unknown section `{id}` (sections: {})", all.join(", "));
        }
    }
    Ok(())
}

fn wanted(opts: &Options, id: &str) -> bool {
    if opts.sections.is_empty() {
        // With a comparison, the comparison is the report; without one,
        // everything else.
        return (id == "compare") == opts.compare.is_some();
    }
    opts.sections.iter().any(|s| s == id)
}

/// Describe the filters for the header.
fn filter_lines(opts: &Options) -> Vec<(String, String)> {
    let f = &opts.filters;
    let mut v = vec![("store".to_string(), opts.store_label.clone())];
    let period = match (f.since_us, f.until_us) {
        (None, None) => "all records".to_string(),
        (Some(a), None) => format!("from {}", time::timestamp(a)),
        (None, Some(b)) => format!("before {}", time::timestamp(b)),
        (Some(a), Some(b)) => format!("{} to {}", time::timestamp(a), time::timestamp(b)),
    };
    v.push(("period".into(), period));
    v.push((
        "cluster".into(),
        f.cluster.clone().unwrap_or_else(|| "all".into()),
    ));
    if !f.exclude_users.is_empty() {
        v.push(("excluded users".into(), f.exclude_users.len().to_string()));
    }
    v.push(("weights".into(), "1/sample".into()));
    v
}

/// Build the report.
pub fn build(db: &mut Db, opts: &Options) -> Result<Report> {
    check_ids(&opts.sections)?;
    let mut report = Report {
        title: "pyusage report".into(),
        generated: time::timestamp(time::now_us()),
        filters: filter_lines(opts),
        facts: Vec::new(),
        sections: Vec::new(),
        empty: None,
    };
    let any: f64 = db.num("SELECT COUNT(*) FROM (SELECT 1 FROM processes LIMIT 1) x")?;
    if any == 0.0 {
        report.empty = Some(format!(
            "The store {} holds no records yet: run `pyusage ingest` first.",
            opts.store_label
        ));
        return Ok(report);
    }
    let data = timed("the store read into memory", || Data::load(db))?;
    let limit = if opts.limit == 0 {
        usize::MAX
    } else {
        opts.limit
    };

    if let Some(cmp) = &opts.compare {
        report.filters.push(("compare".into(), cmp.describe()));
        if wanted(opts, "compare") {
            report
                .sections
                .push(compare::section(&data, opts, cmp, limit));
        }
        let others: Vec<&str> = SECTIONS
            .iter()
            .map(|(id, _)| *id)
            .filter(|id| *id != "compare" && opts.sections.iter().any(|s| s == id))
            .collect();
        if others.is_empty() {
            return Ok(report);
        }
    }

    let sel = timed("selection", || Selection::new(&data, &opts.filters));
    let totals = totals(&data, &sel);
    if totals.records == 0.0 {
        report.empty = Some(format!(
            "No records match ({}).",
            report
                .filters
                .iter()
                .skip(1)
                .map(|(k, v)| format!("{k}: {v}"))
                .collect::<Vec<_>>()
                .join(", ")
        ));
        return Ok(report);
    }
    let stats = timed("per-package totals", || dist_stats(&data, &sel));
    report.facts = headline(&totals, stats.len());
    let ctx = Ctx {
        data: &data,
        sel: &sel,
        limit,
        opts,
        stats,
        totals,
    };
    let builders: Vec<(&str, Build)> = BUILDERS
        .iter()
        .copied()
        .filter(|(id, _)| wanted(opts, id))
        .collect();
    for s in timed("all sections", || run_parallel(&ctx, &builders)) {
        report.sections.push(s?);
    }
    Ok(report)
}

/// Run `f`; with `PYUSAGE_REPORT_TIMING` set, say how long it took.
fn timed<T>(what: &str, f: impl FnOnce() -> T) -> T {
    let t = std::time::Instant::now();
    let v = f();
    if std::env::var_os("PYUSAGE_REPORT_TIMING").is_some() {
        eprintln!("{:8.1} ms  {what}", t.elapsed().as_secs_f64() * 1e3);
    }
    v
}

/// Builds one section.
type Build = fn(&Ctx) -> Result<Section>;

/// The section builders, in report order.
const BUILDERS: [(&str, Build); 10] = [
    ("top-packages", top::section),
    ("versions", versions::section),
    ("job-size", jobsize::section),
    ("together", together::section),
    ("interpreters", interpreters::section),
    ("endings", endings::section),
    ("gpu", gpu::section),
    ("fan-out", fanout::section),
    ("trends", trends::section),
    ("never-used", unused::section),
];

/// The sections that take longest first (measured over a million
/// processes), so that two threads finish at about the same time.
const LONGEST_FIRST: [&str; 5] = ["together", "interpreters", "trends", "versions", "fan-out"];

/// Build the sections on two threads (they only read `ctx`); the results
/// come back in the order of `builders`.
fn run_parallel(ctx: &Ctx, builders: &[(&str, Build)]) -> Vec<Result<Section>> {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Mutex;
    let rank = |id: &str| {
        LONGEST_FIRST
            .iter()
            .position(|x| *x == id)
            .unwrap_or(LONGEST_FIRST.len())
    };
    let mut order: Vec<usize> = (0..builders.len()).collect();
    order.sort_by_key(|&i| rank(builders[i].0));
    let next = AtomicUsize::new(0);
    let out: Mutex<Vec<Option<Result<Section>>>> =
        Mutex::new((0..builders.len()).map(|_| None).collect());
    let work = || loop {
        let Some(&i) = order.get(next.fetch_add(1, Ordering::Relaxed)) else {
            return;
        };
        let (id, f) = builders[i];
        let s = timed(&format!("section {id}"), || f(ctx));
        if let Ok(mut o) = out.lock() {
            o[i] = Some(s);
        }
    };
    std::thread::scope(|scope| {
        if builders.len() > 1 {
            scope.spawn(work);
        }
        work();
    });
    out.into_inner()
        .unwrap_or_default()
        .into_iter()
        .map(|s| s.unwrap_or_else(|| Err(anyhow::anyhow!("a section's thread panicked"))))
        .collect()
}

fn headline(t: &Totals, dists: usize) -> Vec<Fact> {
    let fact = |id: &str, label: &str, v: f64| Fact {
        id: id.into(),
        label: label.into(),
        value: Value::Num(v),
        kind: Kind::Count,
    };
    let mut v = vec![
        fact("processes", "processes", t.processes),
        fact("users", "users", t.users),
        fact("jobs", "jobs", t.jobs),
        fact("node_hours", "node-hours", t.node_hours),
        fact("packages", "packages", dists as f64),
    ];
    if let (Some(a), Some(b)) = (t.first_us, t.last_us) {
        v.push(Fact {
            id: "records_span".into(),
            label: "records".into(),
            value: Value::Text(format!("{} to {}", time::date(a), time::date(b))),
            kind: Kind::Text,
        });
    }
    v
}

/// The title of a section id.
pub fn title(id: &str) -> &'static str {
    SECTIONS
        .iter()
        .find(|(s, _)| *s == id)
        .map(|(_, t)| *t)
        .unwrap_or("")
}
