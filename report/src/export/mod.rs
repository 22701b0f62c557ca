//! The store's records, read back whole: for `pyusage export` (Parquet
//! here, NDJSON in the tools, which own the shipped record type).
//!
//! [`each_process`] streams the selected processes in start order with
//! everything a record carried, joined back from the store's dimension
//! tables; package sets are loaded once and shared.

pub mod parquet;

use crate::model::Value;
use crate::query::{lit, Db, Filters};
use anyhow::Result;
use std::collections::HashMap;
use std::rc::Rc;

/// One entry of a package set, as the record gave it.
#[derive(Clone, Debug)]
pub struct Member {
    /// Distribution name.
    pub name: String,
    /// Version, when known.
    pub version: Option<String>,
    /// Environment label or prefix, when known.
    pub env: Option<String>,
    /// `import`, `extension` or `library`.
    pub via: String,
    /// Importing distribution; `None` = the program's own code (or unknown).
    pub by: Option<String>,
}

/// The job context of a process.
#[derive(Clone, Debug)]
pub struct JobRow {
    /// `slurm` or `mpi`.
    pub scheduler: String,
    /// Job id.
    pub id: Option<String>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Partition.
    pub partition: Option<String>,
    /// Nodes.
    pub nodes: Option<i64>,
    /// Tasks.
    pub tasks: Option<i64>,
    /// GPUs allocated.
    pub gpus: Option<i64>,
    /// CPUs per task.
    pub cpus_per_task: Option<i64>,
}

/// One process with everything the store keeps of its record.
#[derive(Clone, Debug)]
pub struct ProcessRow {
    /// Record id.
    pub record_id: String,
    /// Record schema it was shipped with.
    pub schema: i64,
    /// Host.
    pub host: String,
    /// Owner's uid (who ran it).
    pub uid: i64,
    /// Owner's name.
    pub user: Option<String>,
    /// pid.
    pub pid: i64,
    /// ppid.
    pub ppid: i64,
    /// Executable.
    pub exe: String,
    /// Script.
    pub script: Option<String>,
    /// Notebook (schema 2).
    pub notebook: Option<String>,
    /// `cpython`, `pypy`.
    pub implementation: String,
    /// Interpreter version.
    pub python_version: Option<String>,
    /// `sys.prefix`.
    pub prefix: Option<String>,
    /// Start, µs.
    pub start_us: i64,
    /// End, µs.
    pub end_us: i64,
    /// How it ended.
    pub ended_how: String,
    /// Exit status.
    pub ended_status: Option<i64>,
    /// Signal.
    pub ended_signal: Option<i64>,
    /// Job context.
    pub job: Option<JobRow>,
    /// Job step.
    pub step: Option<String>,
    /// Task rank.
    pub rank: Option<i64>,
    /// Parent pid of a fork child's record.
    pub forked_from: Option<i64>,
    /// Fork children counted here.
    pub forks: i64,
    /// Sampling probability.
    pub sample: f64,
    /// The raw record filled up.
    pub truncated: bool,
    /// Native libraries (file names).
    pub cuda: Vec<String>,
    /// MPI libraries.
    pub mpi: Vec<String>,
    /// BLAS libraries.
    pub blas: Vec<String>,
    /// Packages, in the set's canonical order.
    pub packages: Rc<Vec<Member>>,
    /// Milliseconds to first import, per package (schema 2), same order.
    pub import_ms: Vec<Option<i64>>,
    /// Unmapped module files.
    pub unmapped: Vec<String>,
}

/// Package sets by id, members in canonical order.
fn package_sets(db: &mut Db) -> Result<HashMap<i64, Rc<Vec<Member>>>> {
    let mut sets: HashMap<i64, Vec<Member>> = HashMap::new();
    db.each(
        "SELECT m.package_set, d.name, r.version, e.label, m.via, b.name
         FROM package_set_members m
         JOIN releases r ON r.id = m.release
         JOIN dists d ON d.id = r.dist
         LEFT JOIN envs e ON e.id = m.env
         LEFT JOIN dists b ON b.id = m.by_dist
         ORDER BY m.package_set, m.ord",
        |r| {
            sets.entry(int(&r[0])).or_default().push(Member {
                name: text(&r[1]).unwrap_or_default(),
                version: text(&r[2]),
                env: text(&r[3]),
                via: text(&r[4]).unwrap_or_default(),
                by: text(&r[5]),
            });
            Ok(())
        },
    )?;
    Ok(sets.into_iter().map(|(k, v)| (k, Rc::new(v))).collect())
}

fn int(v: &Value) -> i64 {
    v.num().unwrap_or(0.0) as i64
}

fn opt_int(v: &Value) -> Option<i64> {
    v.num().map(|n| n as i64)
}

fn text(v: &Value) -> Option<String> {
    v.text().map(str::to_string)
}

fn json_list(v: &Value) -> Vec<String> {
    v.text()
        .and_then(|t| serde_json::from_str::<Vec<String>>(t).ok())
        .unwrap_or_default()
}

/// Stream the processes the filters select (time and cluster; users are
/// not filtered here), oldest first.
pub fn each_process(
    db: &mut Db,
    f: &Filters,
    mut each: impl FnMut(ProcessRow) -> Result<()>,
) -> Result<()> {
    let sets = package_sets(db)?;
    let mut unmapped: HashMap<i64, Vec<String>> = HashMap::new();
    db.each(
        "SELECT pu.process, u.path FROM process_unmapped pu
         JOIN unmapped_paths u ON u.id = pu.path ORDER BY pu.process, u.path",
        |r| {
            unmapped
                .entry(int(&r[0]))
                .or_default()
                .push(text(&r[1]).unwrap_or_default());
            Ok(())
        },
    )?;
    let mut wh = vec!["1 = 1".to_string()];
    if let Some(s) = f.since_us {
        wh.push(format!("p.start_us >= {s}"));
    }
    if let Some(u) = f.until_us {
        wh.push(format!("p.start_us < {u}"));
    }
    if let Some(c) = &f.cluster {
        wh.push(format!("j.cluster = {}", lit(c)));
    }
    let empty = Rc::new(Vec::new());
    db.each(
        &format!(
            "SELECT p.id, p.record_id, p.schema, h.name, u.uid, u.name, p.pid, p.ppid, p.exe,
                    p.script, p.notebook, i.implementation, i.version, p.prefix, p.start_us,
                    p.end_us, p.ended_how, p.ended_status, p.ended_signal,
                    j.scheduler, j.job_id, j.cluster, j.partition, j.nodes, j.tasks, j.gpus,
                    j.cpus_per_task, p.step, p.rank, p.forked_from, p.forks, p.sample,
                    p.truncated, p.cuda, p.mpi, p.blas, p.package_set, p.import_ms
             FROM processes p
             JOIN hosts h ON h.id = p.host
             JOIN users u ON u.id = p.owner
             JOIN interpreters i ON i.id = p.interpreter
             LEFT JOIN jobs j ON j.id = p.job
             WHERE {}
             ORDER BY p.start_us, p.id",
            wh.join(" AND ")
        ),
        |r| {
            let job = text(&r[19]).map(|scheduler| JobRow {
                scheduler,
                id: text(&r[20]),
                cluster: text(&r[21]),
                partition: text(&r[22]),
                nodes: opt_int(&r[23]),
                tasks: opt_int(&r[24]),
                gpus: opt_int(&r[25]),
                cpus_per_task: opt_int(&r[26]),
            });
            let import_ms = r[37]
                .text()
                .and_then(|t| serde_json::from_str::<Vec<Option<i64>>>(t).ok())
                .unwrap_or_default();
            each(ProcessRow {
                record_id: text(&r[1]).unwrap_or_default(),
                schema: int(&r[2]),
                host: text(&r[3]).unwrap_or_default(),
                uid: int(&r[4]),
                user: text(&r[5]),
                pid: int(&r[6]),
                ppid: int(&r[7]),
                exe: text(&r[8]).unwrap_or_default(),
                script: text(&r[9]),
                notebook: text(&r[10]),
                implementation: text(&r[11]).unwrap_or_default(),
                python_version: text(&r[12]),
                prefix: text(&r[13]),
                start_us: int(&r[14]),
                end_us: int(&r[15]),
                ended_how: text(&r[16]).unwrap_or_default(),
                ended_status: opt_int(&r[17]),
                ended_signal: opt_int(&r[18]),
                job,
                step: text(&r[27]),
                rank: opt_int(&r[28]),
                forked_from: opt_int(&r[29]),
                forks: int(&r[30]),
                sample: r[31].num().unwrap_or(1.0),
                truncated: int(&r[32]) != 0,
                cuda: json_list(&r[33]),
                mpi: json_list(&r[34]),
                blas: json_list(&r[35]),
                packages: sets
                    .get(&int(&r[36]))
                    .cloned()
                    .unwrap_or_else(|| empty.clone()),
                import_ms,
                unmapped: unmapped.remove(&int(&r[0])).unwrap_or_default(),
            })
        },
    )
}
