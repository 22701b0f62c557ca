//! The store, read once into compact in-memory tables, from which every
//! section is computed in Rust.
//!
//! Joining package-set members to the selected processes once per question
//! is what made SQL reports slow on large stores (18 M process x package
//! pairs for a million processes). Instead, [`Data::load`] reads each table
//! once, the same way on SQLite and PostgreSQL:
//!
//! - the dimension tables (distributions, releases, environments,
//!   interpreters, users, jobs), with every id turned into a dense index;
//! - every package set's members once, and per set its distinct
//!   distributions (whether any member was a direct import);
//! - every process as a few numbers (owner, set, weight, times, job, ...).
//!
//! A [`Selection`] (the filters of the command line) is then a list of
//! process indices with its users, jobs and per-distribution lists built
//! in one pass ([`select`]); the sections read those.

mod select;

pub use select::{DistUser, JobAgg, Selection};

use crate::query::Db;
use anyhow::Result;
use std::collections::HashMap;

/// "No such row" in a dense index column.
pub const NONE: u32 = u32::MAX;

/// The outcome categories, in display order; [`Process::outcome`] indexes
/// this array.
pub const OUTCOMES: [&str; 5] = ["exit 0", "non-zero exit", "signalled", "vanished", "exec"];

/// A canonical job: one `(scheduler, cluster, job id)`.
#[derive(Clone, Debug, Default)]
pub struct Job {
    /// Largest node count of its rows.
    pub nodes: Option<i64>,
    /// Largest GPU allocation of its rows.
    pub gpus: Option<i64>,
    /// Largest task count of its rows.
    pub tasks: Option<i64>,
}

/// One `jobs` row.
#[derive(Clone, Copy, Debug)]
struct JobRow {
    /// The canonical job, or [`NONE`] for rows without a job id (MPI
    /// launches outside a scheduler cannot be told apart as jobs).
    job: u32,
    /// Interned cluster name, or [`NONE`].
    cluster: u32,
}

/// One process, as the report needs it.
#[derive(Clone, Copy, Debug)]
pub struct Process {
    /// Row of [`Data::users`] (the owner).
    pub owner: u32,
    /// Dense uid index ([`Data::uids`]).
    pub uid: u32,
    /// Package set index.
    pub set: u32,
    /// Sampling probability.
    pub sample: f64,
    /// Start and end, µs.
    pub start_us: i64,
    /// End, µs.
    pub end_us: i64,
    /// Canonical job, or [`NONE`].
    pub job: u32,
    /// Cluster of its own `jobs` row (interned), or [`NONE`].
    pub cluster: u32,
    /// Interpreter label index ([`Data::pythons`]).
    pub python: u32,
    /// `sys.prefix` index ([`Data::prefixes`]; NULL is `(unknown)`).
    pub prefix: u32,
    /// Record schema.
    pub schema: u8,
    /// Index into [`OUTCOMES`].
    pub outcome: u8,
    /// A fork child (`forked_from` set).
    pub fork_child: bool,
    /// Forked (`forks > 0`).
    pub forked: bool,
    /// Loaded a CUDA library.
    pub cuda: bool,
    /// Loaded an MPI library.
    pub mpi: bool,
}

impl Process {
    /// Its weight, `1/sample`.
    pub fn w(&self) -> f64 {
        1.0 / self.sample
    }
}

/// One member of a package set.
#[derive(Clone, Copy, Debug)]
pub struct Member {
    /// Distribution index.
    pub dist: u32,
    /// Interned `(distribution, version)` index ([`Data::versions`]).
    pub version: u32,
    /// Environment index, or [`NONE`].
    pub env: u32,
    /// Importing distribution, or [`NONE`] (direct).
    pub by: u32,
}

/// The store in memory.
#[derive(Debug, Default)]
pub struct Data {
    /// Distribution names, by index (in `dists.id` order, so ties broken
    /// by index are broken as by id).
    pub dists: Vec<String>,
    /// `(distribution, version)` pairs.
    pub versions: Vec<(u32, Option<String>)>,
    /// Environment labels.
    pub envs: Vec<String>,
    /// Interpreter labels, `cpython 3.11`.
    pub pythons: Vec<String>,
    /// `sys.prefix` values (`(unknown)` for none).
    pub prefixes: Vec<String>,
    /// Distinct uids.
    pub uids: Vec<i64>,
    /// `users` rows: uid and passwd name.
    pub users: Vec<(i64, Option<String>)>,
    /// Canonical jobs.
    pub jobs: Vec<Job>,
    /// Interned cluster names.
    pub clusters: Vec<String>,
    /// Every process.
    pub procs: Vec<Process>,
    /// Members of every set, set after set ([`Data::members`]).
    members: Vec<Member>,
    member_at: Vec<u32>,
    /// Distinct distributions of every set, with whether any member entry of
    /// it was a direct import ([`Data::set_dists`]).
    set_dists: Vec<(u32, bool)>,
    set_dist_at: Vec<u32>,
}

/// Interns strings into dense indices.
#[derive(Default)]
struct Interner {
    index: HashMap<String, u32>,
}

impl Interner {
    fn get(&mut self, s: &str, into: &mut Vec<String>) -> u32 {
        if let Some(i) = self.index.get(s) {
            return *i;
        }
        let i = into.len() as u32;
        into.push(s.to_string());
        self.index.insert(s.to_string(), i);
        i
    }
}

/// Store id -> dense index. Ids are assigned by the ingest, so they are
/// usually `1..=n`: then a vector indexed by id, else a hash map.
#[derive(Debug, Default)]
struct IdMap {
    len: usize,
    by_id: Vec<u32>,
    other: HashMap<i64, u32>,
}

impl IdMap {
    fn new(ids: impl IntoIterator<Item = (i64, u32)>) -> IdMap {
        let ids: Vec<(i64, u32)> = ids.into_iter().collect();
        let max = ids.iter().map(|x| x.0).max().unwrap_or(0);
        let mut m = IdMap {
            len: ids.len(),
            ..IdMap::default()
        };
        if ids.iter().all(|x| x.0 >= 0) && max <= 2 * ids.len() as i64 + 1024 {
            m.by_id = vec![NONE; max as usize + 1];
            for (id, i) in ids {
                m.by_id[id as usize] = i;
            }
        } else {
            m.other = ids.into_iter().collect();
        }
        m
    }

    fn get(&self, id: Option<i64>) -> Option<u32> {
        let id = id?;
        if self.by_id.is_empty() {
            return self.other.get(&id).copied();
        }
        let i = *self.by_id.get(usize::try_from(id).ok()?)?;
        (i != NONE).then_some(i)
    }
}

/// Id -> dense index, for ids read from one table in this order.
fn dense(ids: &[i64]) -> IdMap {
    IdMap::new(ids.iter().enumerate().map(|(i, id)| (*id, i as u32)))
}

impl Data {
    /// The members of set `s`.
    pub fn members(&self, s: u32) -> &[Member] {
        let s = s as usize;
        &self.members[self.member_at[s] as usize..self.member_at[s + 1] as usize]
    }

    /// The distinct distributions of set `s`, with "imported directly".
    pub fn set_dists(&self, s: u32) -> &[(u32, bool)] {
        let s = s as usize;
        &self.set_dists[self.set_dist_at[s] as usize..self.set_dist_at[s + 1] as usize]
    }

    /// Number of package sets.
    pub fn set_count(&self) -> usize {
        self.member_at.len().saturating_sub(1)
    }

    /// Read the store. SQLite files are read on two connections at once
    /// (members on one, everything else on the other).
    pub fn load(db: &mut Db) -> Result<Data> {
        db.map_file();
        // One snapshot for everything read on this connection. The members
        // are read on a second connection opened after this snapshot began,
        // so they see at least the sets it has (sets and members are never
        // deleted), and sets it does not have are skipped.
        db.begin_snapshot()?;
        let d = Data::load_in(db);
        db.end_snapshot();
        d
    }

    fn load_in(db: &mut Db) -> Result<Data> {
        let mut d = Data::default();
        let sets = load_set_ids(db)?;
        let dists = d.load_dims(db)?;
        let second = db.second_reader();
        let members = std::thread::scope(|scope| -> Result<_> {
            let other = second.map(|mut db2| {
                let (sets, dists) = (&sets, &dists);
                scope.spawn(move || load_members(&mut db2, sets, dists))
            });
            let mine = if other.is_none() {
                Some(load_members(db, &sets, &dists)?)
            } else {
                None
            };
            d.load_processes(db, &sets, &dists)?;
            match (mine, other) {
                (Some(m), _) => Ok(m),
                (None, Some(h)) => h
                    .join()
                    .map_err(|_| anyhow::anyhow!("the member reader panicked"))?,
                (None, None) => unreachable!(),
            }
        })?;
        d.versions = dists.version_names;
        d.members = members.0;
        d.member_at = members.1;
        d.index_sets();
        Ok(d)
    }

    /// Dimension tables; returns the id maps the other loaders need.
    fn load_dims(&mut self, db: &mut Db) -> Result<Ids> {
        let mut ids = Vec::new();
        db.scan("SELECT id, name FROM dists ORDER BY id", |r| {
            ids.push(r.int(0)?.unwrap_or(0));
            self.dists.push(r.text(1)?.unwrap_or("").to_string());
            Ok(())
        })?;
        let dist = dense(&ids);
        // Releases -> interned (dist, version).
        let mut versions: Vec<(i64, u32)> = Vec::new();
        let mut seen: HashMap<(u32, Option<String>), u32> = HashMap::new();
        let mut version_names = Vec::new();
        db.scan("SELECT id, dist, version FROM releases", |r| {
            let d = dist.get(r.int(1)?).unwrap_or(NONE);
            let key = (d, r.text(2)?.map(str::to_string));
            let n = seen.len() as u32;
            let v = *seen.entry(key.clone()).or_insert_with(|| {
                version_names.push(key);
                n
            });
            versions.push((r.int(0)?.unwrap_or(0), v));
            Ok(())
        })?;
        let mut env_ids = Vec::new();
        db.scan("SELECT id, label FROM envs", |r| {
            env_ids.push(r.int(0)?.unwrap_or(0));
            self.envs.push(r.text(1)?.unwrap_or("").to_string());
            Ok(())
        })?;
        let mut pythons = Vec::new();
        let mut labels = Interner::default();
        db.scan(
            "SELECT id, implementation, version FROM interpreters",
            |r| {
                let minor = r
                    .text(2)?
                    .map(|v| v.split('.').take(2).collect::<Vec<_>>().join("."))
                    .unwrap_or_else(|| "unknown version".into());
                let label = format!("{} {minor}", r.text(1)?.unwrap_or("?"));
                pythons.push((
                    r.int(0)?.unwrap_or(0),
                    labels.get(&label, &mut self.pythons),
                ));
                Ok(())
            },
        )?;
        let mut users = Vec::new();
        let mut uid_ix: HashMap<i64, u32> = HashMap::new();
        let mut user_uid = Vec::new();
        db.scan("SELECT id, uid, name FROM users", |r| {
            let uid = r.int(1)?.unwrap_or(0);
            let n = self.uids.len() as u32;
            let u = *uid_ix.entry(uid).or_insert_with(|| {
                self.uids.push(uid);
                n
            });
            users.push((r.int(0)?.unwrap_or(0), self.users.len() as u32));
            self.users.push((uid, r.text(2)?.map(str::to_string)));
            user_uid.push(u);
            Ok(())
        })?;
        // Jobs: canonical by (scheduler, cluster, job id), the largest
        // nodes, GPUs and tasks of its rows.
        let mut job_ids = Vec::new();
        let mut job_rows = Vec::new();
        let mut canon: HashMap<(String, Option<String>, String), u32> = HashMap::new();
        let mut clusters = Interner::default();
        db.scan(
            "SELECT id, scheduler, cluster, job_id, nodes, gpus, tasks FROM jobs",
            |r| {
                let cluster = match r.text(2)? {
                    Some(c) => clusters.get(c, &mut self.clusters),
                    None => NONE,
                };
                let job = match r.text(3)? {
                    Some(id) => {
                        let key = (
                            r.text(1)?.unwrap_or("").to_string(),
                            r.text(2)?.map(str::to_string),
                            id.to_string(),
                        );
                        let n = self.jobs.len() as u32;
                        let j = *canon.entry(key).or_insert_with(|| {
                            self.jobs.push(Job::default());
                            n
                        });
                        let k = &mut self.jobs[j as usize];
                        let max = |a: Option<i64>, b: Option<i64>| a.max(b);
                        k.nodes = max(k.nodes, r.int(4)?);
                        k.gpus = max(k.gpus, r.int(5)?);
                        k.tasks = max(k.tasks, r.int(6)?);
                        j
                    }
                    None => NONE,
                };
                job_ids.push((r.int(0)?.unwrap_or(0), job_rows.len() as u32));
                job_rows.push(JobRow { job, cluster });
                Ok(())
            },
        )?;
        Ok(Ids {
            dist,
            versions: IdMap::new(versions),
            envs: dense(&env_ids),
            pythons: IdMap::new(pythons),
            users: IdMap::new(users),
            user_uid,
            jobs: IdMap::new(job_ids),
            job_rows,
            version_names,
        })
    }

    /// Every process.
    fn load_processes(&mut self, db: &mut Db, sets: &IdMap, ids: &Ids) -> Result<()> {
        let n = db.num("SELECT MAX(id) FROM processes")?;
        self.procs.reserve(n.clamp(0.0, 1e9) as usize);
        let mut prefixes = Interner::default();
        let unknown = prefixes.get("(unknown)", &mut self.prefixes);
        db.scan(
            "SELECT owner, package_set, sample, start_us, end_us, job, interpreter, prefix,
                    schema, forks,
                    CASE WHEN forked_from IS NULL THEN 0 ELSE 1 END,
                    CASE WHEN ended_how = 'vanished' THEN 3
                         WHEN ended_how = 'signal' OR ended_signal IS NOT NULL THEN 2
                         WHEN ended_how = 'exec' THEN 4
                         WHEN COALESCE(ended_status, 0) <> 0 THEN 1
                         ELSE 0 END,
                    CASE WHEN cuda IS NULL THEN 0 ELSE 1 END,
                    CASE WHEN mpi IS NULL THEN 0 ELSE 1 END
             FROM processes",
            |r| {
                let owner = ids.users.get(r.int(0)?);
                let set = sets.get(r.int(1)?);
                // Every id a process points at exists in the same snapshot;
                // skip, rather than fail on, a store that breaks that.
                let (Some(owner), Some(set)) = (owner, set) else {
                    return Ok(());
                };
                let job = ids
                    .jobs
                    .get(r.int(5)?)
                    .map(|i| ids.job_rows[i as usize])
                    .unwrap_or(JobRow {
                        job: NONE,
                        cluster: NONE,
                    });
                self.procs.push(Process {
                    owner,
                    uid: ids.user_uid[owner as usize],
                    set,
                    sample: r.real(2)?.unwrap_or(0.0),
                    start_us: r.int(3)?.unwrap_or(0),
                    end_us: r.int(4)?.unwrap_or(0),
                    job: job.job,
                    cluster: job.cluster,
                    python: ids.pythons.get(r.int(6)?).unwrap_or(NONE),
                    prefix: match r.text(7)? {
                        Some(p) => prefixes.get(p, &mut self.prefixes),
                        None => unknown,
                    },
                    schema: r.int(8)?.unwrap_or(0).clamp(0, 255) as u8,
                    forked: r.int(9)?.unwrap_or(0) > 0,
                    fork_child: r.int(10)? == Some(1),
                    outcome: r.int(11)?.unwrap_or(0).clamp(0, 4) as u8,
                    cuda: r.int(12)? == Some(1),
                    mpi: r.int(13)? == Some(1),
                });
                Ok(())
            },
        )?;
        Ok(())
    }

    /// Per set, its distinct distributions and whether any entry of each
    /// was a direct import.
    fn index_sets(&mut self) {
        let n = self.set_count();
        self.set_dist_at = Vec::with_capacity(n + 1);
        self.set_dist_at.push(0);
        let mut at: HashMap<u32, usize> = HashMap::new();
        for s in 0..n {
            at.clear();
            let start = self.set_dists.len();
            let (a, b) = (self.member_at[s] as usize, self.member_at[s + 1] as usize);
            for m in &self.members[a..b] {
                if m.dist == NONE {
                    continue;
                }
                let direct = m.by == NONE;
                match at.get(&m.dist) {
                    Some(&i) => self.set_dists[i].1 |= direct,
                    None => {
                        at.insert(m.dist, self.set_dists.len());
                        self.set_dists.push((m.dist, direct));
                    }
                }
            }
            self.set_dists[start..].sort_unstable_by_key(|x| x.0);
            self.set_dist_at.push(self.set_dists.len() as u32);
        }
    }
}

/// Store ids -> dense indices, while loading.
struct Ids {
    dist: IdMap,
    versions: IdMap,
    envs: IdMap,
    pythons: IdMap,
    users: IdMap,
    user_uid: Vec<u32>,
    jobs: IdMap,
    job_rows: Vec<JobRow>,
    version_names: Vec<(u32, Option<String>)>,
}

/// Package set ids -> dense indices.
fn load_set_ids(db: &mut Db) -> Result<IdMap> {
    let mut ids = Vec::new();
    db.scan("SELECT id FROM package_sets ORDER BY id", |r| {
        ids.push(r.int(0)?.unwrap_or(0));
        Ok(())
    })?;
    Ok(dense(&ids))
}

/// Members of every set, grouped by set: `(members, start of each set)`.
fn load_members(db: &mut Db, sets: &IdMap, ids: &Ids) -> Result<(Vec<Member>, Vec<u32>)> {
    // In table order first: ingest writes a set's members together and in
    // order, and an ORDER BY would walk the primary key's index and look
    // every row up. Only if the table is not in that order, read it again
    // sorted.
    match read_members(
        db,
        sets,
        ids,
        "SELECT package_set, ord, release, env, by_dist FROM package_set_members",
    )? {
        Some(m) => Ok(m),
        None => Ok(read_members(
            db,
            sets,
            ids,
            "SELECT package_set, ord, release, env, by_dist FROM package_set_members \
             ORDER BY package_set, ord",
        )?
        .unwrap_or_default()),
    }
}

/// Members in set order, with where each set starts; `None` when the rows
/// do not come in `(set, ord)` order.
fn read_members(
    db: &mut Db,
    sets: &IdMap,
    ids: &Ids,
    sql: &str,
) -> Result<Option<(Vec<Member>, Vec<u32>)>> {
    let total = db.num("SELECT SUM(size) FROM package_sets")?;
    let mut members = Vec::with_capacity(total.clamp(0.0, 1e9) as usize);
    let mut at: Vec<u32> = Vec::with_capacity(sets.len + 1);
    let mut last = (0u32, i64::MIN);
    let mut in_order = true;
    db.scan(sql, |r| {
        if !in_order {
            return Ok(());
        }
        let Some(set) = sets.get(r.int(0)?) else {
            return Ok(());
        };
        let ord = r.int(1)?.unwrap_or(0);
        if (set, ord) < last {
            in_order = false;
            return Ok(());
        }
        last = (set, ord);
        while at.len() <= set as usize {
            at.push(members.len() as u32);
        }
        let version = ids.versions.get(r.int(2)?).unwrap_or(NONE);
        members.push(Member {
            dist: ids
                .version_names
                .get(version as usize)
                .map_or(NONE, |v| v.0),
            version,
            env: ids.envs.get(r.int(3)?).unwrap_or(NONE),
            by: ids.dist.get(r.int(4)?).unwrap_or(NONE),
        });
        Ok(())
    })?;
    if !in_order {
        return Ok(None);
    }
    while at.len() <= sets.len {
        at.push(members.len() as u32);
    }
    Ok(Some((members, at)))
}
