//! Asking the store: a thin connection over both backends, the filters of
//! the command line, and the working tables every section reads.
//!
//! The sections' SQL is written once for SQLite and PostgreSQL (window
//! functions, CTE-free temp tables, `CAST(... AS DOUBLE PRECISION)` on sums so
//! both return plain numbers). The filters are applied exactly once, when
//! [`prepare`] copies the selected processes into the temp table `r_p`; the
//! sections never see the rest of the store. Temp tables live only as long
//! as the connection, so the store itself is never written.

mod db;

pub use db::Db;

use crate::time::{MONDAY_US, WEEK_US};
use anyhow::Result;

/// What the command line selects.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Processes that started at or after this instant (µs).
    pub since_us: Option<i64>,
    /// Processes that started before this instant (µs).
    pub until_us: Option<i64>,
    /// Only processes in jobs of this cluster.
    pub cluster: Option<String>,
    /// Users left out: names, or numeric uids.
    pub exclude_users: Vec<String>,
}

/// Quote a string as an SQL literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}

/// The working tables, rebuilt for each side of a comparison:
///
/// - `r_jk`: every `jobs` row with the canonical job it belongs to (`job`,
///   the smallest row id of its `(scheduler, cluster, job_id)`) and the job's
///   nodes, GPUs and tasks (largest seen). Rows without a job id are left
///   out: they cannot be told apart as jobs.
/// - `r_p`: the selected processes with their weight `w = 1/sample`, uid,
///   job, week, outcome category and CUDA/MPI flags.
/// - `r_u`, `r_j`: users and jobs of `r_p` with their weights (the
///   smallest process weight: a job or user seen only through sampled
///   processes counts `1/sample`), and per job its span, node count,
///   processes and whether any of its processes loaded CUDA or MPI.
/// - `r_sd`: package set -> distribution (with whether any member entry was
///   a direct import); `r_ps`: process weight per package set;
///   `r_jd`, `r_ud`: which distributions each job and each user used
///   (`r_ud` also whether that user's processes with it loaded CUDA, and
///   whether the user imported it directly at least once).
pub fn prepare(db: &mut Db, f: &Filters) -> Result<()> {
    if let Db::Sqlite(_) = db {
        // Working tables in memory, and room to sort in it.
        db.exec("PRAGMA temp_store = MEMORY; PRAGMA cache_size = -262144")?;
    }
    for t in [
        "r_excl", "r_jk", "r_p", "r_u", "r_j", "r_sd", "r_ps", "r_jd", "r_ud",
    ] {
        db.exec(&format!("DROP TABLE IF EXISTS {t}"))?;
    }
    db.exec("CREATE TEMP TABLE r_excl (uid BIGINT, name TEXT)")?;
    for u in &f.exclude_users {
        let sql = match u.parse::<u64>() {
            Ok(uid) => format!("INSERT INTO r_excl VALUES ({uid}, NULL)"),
            Err(_) => format!("INSERT INTO r_excl VALUES (NULL, {})", lit(u)),
        };
        db.exec(&sql)?;
    }
    db.exec(
        "CREATE TEMP TABLE r_jk AS
         SELECT id, MIN(id) OVER w AS job, MAX(nodes) OVER w AS nodes,
                MAX(gpus) OVER w AS gpus, MAX(tasks) OVER w AS tasks
         FROM jobs WHERE job_id IS NOT NULL
         WINDOW w AS (PARTITION BY scheduler, cluster, job_id)",
    )?;
    let mut wh = vec!["p.sample > 0".to_string()];
    if let Some(s) = f.since_us {
        wh.push(format!("p.start_us >= {s}"));
    }
    if let Some(u) = f.until_us {
        wh.push(format!("p.start_us < {u}"));
    }
    if let Some(c) = &f.cluster {
        wh.push(format!("j0.cluster = {}", lit(c)));
    }
    if !f.exclude_users.is_empty() {
        wh.push(
            "NOT EXISTS (SELECT 1 FROM r_excl x WHERE x.uid = u.uid OR x.name = u.name)".into(),
        );
    }
    db.exec(&format!(
        "CREATE TEMP TABLE r_p AS
         SELECT p.id AS id, u.uid AS uid, p.package_set AS pset,
                1.0 / p.sample AS w, p.start_us AS start_us, p.end_us AS end_us,
                jk.job AS job, p.interpreter AS interpreter, p.prefix AS prefix,
                p.schema AS schema, p.forks AS forks, p.forked_from AS forked_from,
                (p.start_us - {MONDAY_US}) / {WEEK_US} AS week,
                CASE WHEN p.ended_how = 'vanished' THEN 'vanished'
                     WHEN p.ended_how = 'signal' OR p.ended_signal IS NOT NULL THEN 'signalled'
                     WHEN p.ended_how = 'exec' THEN 'exec'
                     WHEN COALESCE(p.ended_status, 0) <> 0 THEN 'non-zero exit'
                     ELSE 'exit 0' END AS outcome,
                CASE WHEN p.cuda IS NULL THEN 0 ELSE 1 END AS cuda,
                CASE WHEN p.mpi IS NULL THEN 0 ELSE 1 END AS mpi
         FROM processes p
         JOIN users u ON u.id = p.owner
         LEFT JOIN jobs j0 ON j0.id = p.job
         LEFT JOIN r_jk jk ON jk.id = p.job
         WHERE {}",
        wh.join(" AND ")
    ))?;
    db.exec(
        "CREATE TEMP TABLE r_u AS
         SELECT uid, MIN(w) AS w FROM r_p GROUP BY uid",
    )?;
    db.exec(
        "CREATE TEMP TABLE r_j AS
         SELECT x.job AS job, x.w AS w, x.s AS s, x.e AS e, x.n AS n, x.np AS np,
                x.cuda AS cuda, x.mpi AS mpi,
                COALESCE(k.nodes, 1) AS nodes, k.gpus AS gpus, k.tasks AS tasks,
                CAST(x.e - x.s AS DOUBLE PRECISION) / 3600000000.0 * COALESCE(k.nodes, 1)
                    AS node_hours
         FROM (SELECT job, MIN(w) AS w, MIN(start_us) AS s, MAX(end_us) AS e,
                      COUNT(*) AS n, SUM(w) AS np, MAX(cuda) AS cuda, MAX(mpi) AS mpi
               FROM r_p WHERE job IS NOT NULL GROUP BY job) x
         JOIN (SELECT DISTINCT job, nodes, gpus, tasks FROM r_jk) k ON k.job = x.job",
    )?;
    db.exec(
        "CREATE TEMP TABLE r_ps AS
         SELECT pset, SUM(w) AS w, COUNT(*) AS n FROM r_p GROUP BY pset",
    )?;
    db.exec(
        "CREATE TEMP TABLE r_sd AS
         SELECT m.package_set AS pset, r.dist AS dist,
                MAX(CASE WHEN m.by_dist IS NULL THEN 1 ELSE 0 END) AS direct
         FROM package_set_members m
         JOIN releases r ON r.id = m.release
         WHERE m.package_set IN (SELECT pset FROM r_ps)
         GROUP BY m.package_set, r.dist",
    )?;
    db.exec(
        "CREATE TEMP TABLE r_jd AS
         SELECT DISTINCT x.job AS job, sd.dist AS dist
         FROM (SELECT DISTINCT job, pset FROM r_p WHERE job IS NOT NULL) x
         JOIN r_sd sd ON sd.pset = x.pset",
    )?;
    db.exec(
        "CREATE TEMP TABLE r_ud AS
         SELECT x.uid AS uid, sd.dist AS dist, MAX(x.cuda) AS cuda, MAX(sd.direct) AS direct
         FROM (SELECT DISTINCT uid, pset, cuda FROM r_p) x
         JOIN r_sd sd ON sd.pset = x.pset
         GROUP BY x.uid, sd.dist",
    )?;
    for idx in [
        "CREATE INDEX r_jd_job ON r_jd (job)",
        "CREATE INDEX r_jd_dist ON r_jd (dist)",
        "CREATE INDEX r_ud_dist ON r_ud (dist)",
        "CREATE INDEX r_j_job ON r_j (job)",
        "CREATE INDEX r_sd_pset ON r_sd (pset)",
        "CREATE INDEX r_ps_pset ON r_ps (pset)",
        "CREATE INDEX r_u_uid ON r_u (uid)",
    ] {
        db.exec(idx)?;
    }
    Ok(())
}
