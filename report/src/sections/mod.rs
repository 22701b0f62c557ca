//! The report's sections, one module per question, each SQL over the
//! working tables of [`crate::query::prepare`] turned into a
//! [`Section`](crate::model::Section).
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

use crate::model::{Fact, Kind, Report, Section, Value};
use crate::query::{self, Db, Filters};
use crate::time;
use anyhow::{bail, Result};
use std::collections::HashMap;
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
    /// `dists.id`.
    pub id: i64,
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
    /// The store.
    pub db: &'a mut Db,
    /// Rows per table (`usize::MAX` for all).
    pub limit: usize,
    /// Options as given.
    pub opts: &'a Options,
    /// Distribution names by id.
    pub names: HashMap<i64, String>,
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
    /// Name of a distribution id.
    pub fn name(&self, id: i64) -> String {
        self.names
            .get(&id)
            .cloned()
            .unwrap_or_else(|| format!("#{id}"))
    }

    /// Up to `n` distribution ids, most users first.
    pub fn top_ids(&self, n: usize) -> Vec<i64> {
        self.stats.iter().take(n).map(|s| s.id).collect()
    }

    /// Rows of a two-column `(dist, number)` query as a map.
    pub fn by_dist(&mut self, sql: &str) -> Result<HashMap<i64, f64>> {
        Ok(self
            .db
            .rows(sql)?
            .into_iter()
            .filter_map(|r| Some((r.first()?.num()? as i64, r.get(1)?.num().unwrap_or(0.0))))
            .collect())
    }

    /// Fill the temp table `r_top (dist, bit)` with the given ids (bit = 2^i).
    pub fn set_top(&mut self, ids: &[i64]) -> Result<()> {
        self.db.exec("DROP TABLE IF EXISTS r_top")?;
        self.db
            .exec("CREATE TEMP TABLE r_top (dist BIGINT, bit BIGINT, ord INTEGER)")?;
        for (i, id) in ids.iter().enumerate() {
            self.db.exec(&format!(
                "INSERT INTO r_top VALUES ({id}, {}, {i})",
                1i64 << i
            ))?;
        }
        Ok(())
    }

    /// The limit applied to a row count.
    pub fn cap(&self, n: usize) -> usize {
        n.min(self.limit)
    }
}

/// Totals of the current working tables.
pub fn totals(db: &mut Db) -> Result<Totals> {
    let r = db.rows(
        "SELECT CAST(SUM(w) AS DOUBLE PRECISION), COUNT(*), MIN(start_us), MAX(start_us) FROM r_p",
    )?;
    let r = &r[0];
    Ok(Totals {
        processes: r[0].num().unwrap_or(0.0),
        records: r[1].num().unwrap_or(0.0),
        first_us: r[2].num().map(|v| v as i64),
        last_us: r[3].num().map(|v| v as i64),
        users: db.num("SELECT CAST(SUM(w) AS DOUBLE PRECISION) FROM r_u")?,
        jobs: db.num("SELECT CAST(SUM(w) AS DOUBLE PRECISION) FROM r_j")?,
        node_hours: db.num("SELECT CAST(SUM(w * node_hours) AS DOUBLE PRECISION) FROM r_j")?,
    })
}

/// Per-distribution users, jobs, processes and node-hours.
pub fn dist_stats(db: &mut Db, names: &HashMap<i64, String>) -> Result<Vec<DistStats>> {
    let mut by: HashMap<i64, DistStats> = HashMap::new();
    let get = |id: i64| -> DistStats {
        DistStats {
            id,
            name: names.get(&id).cloned().unwrap_or_else(|| format!("#{id}")),
            users: 0.0,
            jobs: 0.0,
            processes: 0.0,
            node_hours: 0.0,
        }
    };
    for r in db.rows(
        "SELECT ud.dist, CAST(SUM(u.w) AS DOUBLE PRECISION)
         FROM r_ud ud JOIN r_u u ON u.uid = ud.uid GROUP BY ud.dist",
    )? {
        let id = r[0].num().unwrap_or(0.0) as i64;
        by.entry(id).or_insert_with(|| get(id)).users = r[1].num().unwrap_or(0.0);
    }
    for r in db.rows(
        "SELECT jd.dist, CAST(SUM(j.w) AS DOUBLE PRECISION),
                CAST(SUM(j.w * j.node_hours) AS DOUBLE PRECISION)
         FROM r_jd jd JOIN r_j j ON j.job = jd.job GROUP BY jd.dist",
    )? {
        let id = r[0].num().unwrap_or(0.0) as i64;
        let s = by.entry(id).or_insert_with(|| get(id));
        s.jobs = r[1].num().unwrap_or(0.0);
        s.node_hours = r[2].num().unwrap_or(0.0);
    }
    for r in db.rows(
        "SELECT sd.dist, CAST(SUM(ps.w) AS DOUBLE PRECISION)
         FROM r_sd sd JOIN r_ps ps ON ps.pset = sd.pset GROUP BY sd.dist",
    )? {
        let id = r[0].num().unwrap_or(0.0) as i64;
        by.entry(id).or_insert_with(|| get(id)).processes = r[1].num().unwrap_or(0.0);
    }
    let mut v: Vec<DistStats> = by.into_values().collect();
    v.sort_by(|a, b| {
        b.users
            .total_cmp(&a.users)
            .then(b.jobs.total_cmp(&a.jobs))
            .then(b.processes.total_cmp(&a.processes))
            .then(a.name.cmp(&b.name))
    });
    Ok(v)
}

/// Distribution names by id.
pub fn names(db: &mut Db) -> Result<HashMap<i64, String>> {
    Ok(db
        .rows("SELECT id, name FROM dists")?
        .into_iter()
        .filter_map(|r| Some((r[0].num()? as i64, r[1].text()?.to_string())))
        .collect())
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
    let names = names(db)?;
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
                .push(compare::section(db, opts, cmp, &names, limit)?);
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

    query::prepare(db, &opts.filters)?;
    let totals = totals(db)?;
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
    let stats = dist_stats(db, &names)?;
    report.facts = headline(&totals, stats.len());
    let mut ctx = Ctx {
        db,
        limit,
        opts,
        names,
        stats,
        totals,
    };
    type Build = fn(&mut Ctx) -> Result<Section>;
    let builders: [(&str, Build); 10] = [
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
    for (id, f) in builders {
        if wanted(opts, id) {
            report.sections.push(f(&mut ctx)?);
        }
    }
    Ok(report)
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
