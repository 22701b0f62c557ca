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

pub use select::{DistUser, Grouped, JobAgg, Selection};

use crate::query::{Db, Helper};
use anyhow::Result;
// A fast hasher: the loader hashes a string or two per row.
use foldhash::HashMap;

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

/// A job id within its scheduler and cluster: a decimal number (Slurm's,
/// PBS's) as a number, so that the loader allocates and hashes no string
/// for most jobs.
#[derive(Hash, PartialEq, Eq)]
enum JobId {
    Num(u64),
    Text(Box<str>),
}

impl JobId {
    fn new(id: &str) -> JobId {
        let canonical = !id.is_empty()
            && id.len() <= 19
            && id.bytes().all(|b| b.is_ascii_digit())
            && (id.len() == 1 || !id.starts_with('0'));
        match id.parse() {
            Ok(n) if canonical => JobId::Num(n),
            _ => JobId::Text(id.into()),
        }
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

    /// Read the store. SQLite files are read on three connections at once
    /// (the members on one, the processes in two halves on the others),
    /// all in one snapshot of the store.
    pub fn load(db: &mut Db) -> Result<Data> {
        db.map_file();
        // The helpers are opened, and their data versions noted, before the
        // snapshot begins; each then starts its own read transaction after
        // it and keeps only if nothing was committed in between (then it
        // reads the same state as `db`).
        let helpers = [db.helper(), db.helper()];
        db.begin_snapshot()?;
        let d = Data::load_in(db, helpers);
        db.end_snapshot();
        d
    }

    fn load_in(db: &mut Db, helpers: [Option<Helper>; 2]) -> Result<Data> {
        let mut d = Data::default();
        // The first read takes the snapshot.
        let (sets, total_members) = load_sets(db)?;
        let [h1, h2] = helpers;
        // Sets and members are never deleted, so a member reader whose
        // snapshot is newer than `db`'s still sees every set `db` has (and
        // skips the others); the processes must come from the same state.
        let members_db = h1.and_then(|h| h.join().ok()).map(|(db, _)| db);
        let procs_db = h2
            .and_then(|h| h.join().ok())
            .and_then(|(db, same)| same.then_some(db));
        let ids = d.load_dists(db)?;
        let range = db.id_range("processes")?;
        let mut rest_slot = None;
        let rest_slot = &mut rest_slot;
        std::thread::scope(|scope| -> Result<()> {
            let (sets, ids) = (&sets, &ids);
            let n_dists = d.dists.len();
            let members = members_db.map(|mut db2| {
                scope.spawn(move || {
                    let r = load_members(&mut db2, sets, ids, total_members, n_dists);
                    db2.end_snapshot();
                    r
                })
            });
            let rest: &Rest = rest_slot.insert(d.load_people(db)?);
            // The processes in two halves of their ids when a second
            // reader shares the snapshot, else at once.
            let (lo, hi) = range.unwrap_or((0, -1));
            let mid = lo + (hi - lo) / 2;
            let (low_range, high) = match procs_db {
                Some(mut db3) if hi > lo => {
                    let h = scope.spawn(move || {
                        let r = read_processes(&mut db3, Some((mid + 1, hi)), 0, sets, rest);
                        db3.end_snapshot();
                        r
                    });
                    (Some((lo, mid)), Some(h))
                }
                _ => (None, None),
            };
            let capacity = (hi - lo + 1).clamp(0, 1 << 31) as usize;
            let mut procs = read_processes(db, low_range, capacity, sets, rest)?;
            if let Some(h) = high {
                procs.append(join(h, "process")?);
            }
            d.procs = procs.procs;
            d.prefixes = procs.prefixes;
            let m = match members {
                Some(h) => join(h, "member")?,
                None => load_members(db, sets, ids, total_members, d.dists.len())?,
            };
            (d.members, d.member_at) = (m.members, m.member_at);
            (d.set_dists, d.set_dist_at) = (m.set_dists, m.set_dist_at);
            Ok(())
        })?;
        d.versions = ids.version_names;
        Ok(d)
    }

    /// The distributions, their releases and the environments (what the
    /// members need).
    fn load_dists(&mut self, db: &mut Db) -> Result<Ids> {
        let mut ids = Vec::new();
        db.scan("SELECT id, name FROM dists ORDER BY id", |r| {
            ids.push(r.int(0)?.unwrap_or(0));
            self.dists.push(r.text(1)?.unwrap_or("").to_string());
            Ok(())
        })?;
        let dist = dense(&ids);
        // Releases -> interned (dist, version).
        let mut versions: Vec<(i64, u32)> = Vec::new();
        let mut seen: HashMap<(u32, Option<String>), u32> = HashMap::default();
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
        Ok(Ids {
            dist,
            versions: IdMap::new(versions),
            envs: dense(&env_ids),
            version_names,
        })
    }

    /// Interpreters, users and jobs (what the processes need).
    fn load_people(&mut self, db: &mut Db) -> Result<Rest> {
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
        let mut uid_ix: HashMap<i64, u32> = HashMap::default();
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
        let mut canon: HashMap<(u32, u32, JobId), u32> = HashMap::default();
        let mut clusters = Interner::default();
        let (mut schedulers, mut scheduler_names) = (Interner::default(), Vec::new());
        db.scan(
            "SELECT id, scheduler, cluster, job_id, nodes, gpus, tasks FROM jobs",
            |r| {
                let cluster = match r.text(2)? {
                    Some(c) => clusters.get(c, &mut self.clusters),
                    None => NONE,
                };
                let job = match r.text(3)? {
                    Some(id) => {
                        let scheduler =
                            schedulers.get(r.text(1)?.unwrap_or(""), &mut scheduler_names);
                        let key = (scheduler, cluster, JobId::new(id));
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
        Ok(Rest {
            pythons: IdMap::new(pythons),
            users: IdMap::new(users),
            user_uid,
            jobs: IdMap::new(job_ids),
            job_rows,
        })
    }
}

/// Per set, its distinct distributions and whether any entry of each was a
/// direct import: `(list, start of each set)`. Built by the member reader,
/// while the processes are still being read.
fn index_sets(members: &[Member], member_at: &[u32], dists: usize) -> (Vec<(u32, bool)>, Vec<u32>) {
    let n = member_at.len().saturating_sub(1);
    let mut at = Vec::with_capacity(n + 1);
    at.push(0);
    let mut list: Vec<(u32, bool)> = Vec::with_capacity(members.len());
    // Per distribution: where it is in the current set's list, valid when
    // `pos_set` names the current set.
    let mut pos = vec![0u32; dists];
    let mut pos_set = vec![NONE; dists];
    for s in 0..n {
        let start = list.len();
        let (a, b) = (member_at[s] as usize, member_at[s + 1] as usize);
        for m in &members[a..b] {
            let k = m.dist as usize;
            if m.dist == NONE || k >= dists {
                continue;
            }
            let direct = m.by == NONE;
            if pos_set[k] == s as u32 {
                list[pos[k] as usize].1 |= direct;
            } else {
                pos_set[k] = s as u32;
                pos[k] = list.len() as u32;
                list.push((m.dist, direct));
            }
        }
        list[start..].sort_unstable_by_key(|x| x.0);
        at.push(list.len() as u32);
    }
    (list, at)
}

/// The members of every set and each set's distinct distributions.
#[derive(Default)]
struct SetMembers {
    members: Vec<Member>,
    member_at: Vec<u32>,
    set_dists: Vec<(u32, bool)>,
    set_dist_at: Vec<u32>,
}

/// Store ids -> dense indices of what the members point at.
struct Ids {
    dist: IdMap,
    versions: IdMap,
    envs: IdMap,
    version_names: Vec<(u32, Option<String>)>,
}

/// Store ids -> dense indices of what the processes point at.
#[derive(Default)]
struct Rest {
    pythons: IdMap,
    users: IdMap,
    user_uid: Vec<u32>,
    jobs: IdMap,
    job_rows: Vec<JobRow>,
}

/// Processes read from one range of ids, with the `sys.prefix` values they
/// name (index 0 is `(unknown)`).
struct Procs {
    procs: Vec<Process>,
    prefixes: Vec<String>,
}

impl Procs {
    /// Add the processes of the next range, renumbering their prefixes.
    fn append(&mut self, other: Procs) {
        let mut index: HashMap<&str, u32> = self
            .prefixes
            .iter()
            .enumerate()
            .map(|(i, p)| (p.as_str(), i as u32))
            .collect();
        let mut new = Vec::new();
        let map: Vec<u32> = other
            .prefixes
            .iter()
            .map(|p| match index.get(p.as_str()) {
                Some(&i) => i,
                None => {
                    let i = (self.prefixes.len() + new.len()) as u32;
                    index.insert(p.as_str(), i);
                    new.push(p.clone());
                    i
                }
            })
            .collect();
        drop(index);
        self.prefixes.extend(new);
        self.procs.reserve(other.procs.len());
        self.procs.extend(other.procs.into_iter().map(|mut p| {
            p.prefix = map[p.prefix as usize];
            p
        }));
    }
}

/// The result of a reader thread.
fn join<T>(h: std::thread::ScopedJoinHandle<'_, Result<T>>, what: &str) -> Result<T> {
    h.join()
        .map_err(|_| anyhow::anyhow!("the {what} reader panicked"))?
}

/// The processes with ids in `range` (inclusive; all without one), in id
/// order (SQLite's table order).
fn read_processes(
    db: &mut Db,
    range: Option<(i64, i64)>,
    capacity: usize,
    sets: &IdMap,
    rest: &Rest,
) -> Result<Procs> {
    let mut procs = Vec::with_capacity(capacity);
    let mut prefix_names = Vec::new();
    let mut prefixes = Interner::default();
    let unknown = prefixes.get("(unknown)", &mut prefix_names);
    let sql = format!(
        "SELECT owner, package_set, sample, start_us, end_us, job, interpreter, prefix,
                CASE WHEN schema < 0 THEN 0 WHEN schema > 255 THEN 255 ELSE schema END
                + 256 * CASE WHEN ended_how = 'vanished' THEN 3
                             WHEN ended_how = 'signal' OR ended_signal IS NOT NULL THEN 2
                             WHEN ended_how = 'exec' THEN 4
                             WHEN COALESCE(ended_status, 0) <> 0 THEN 1
                             ELSE 0 END
                + CASE WHEN forks > 0 THEN 2048 ELSE 0 END
                + CASE WHEN forked_from IS NULL THEN 0 ELSE 4096 END
                + CASE WHEN cuda IS NULL THEN 0 ELSE 8192 END
                + CASE WHEN mpi IS NULL THEN 0 ELSE 16384 END
         FROM processes{}",
        match range {
            Some((a, b)) => format!(" WHERE id BETWEEN {a} AND {b}"),
            None => String::new(),
        }
    );
    db.scan(&sql, |r| {
        let owner = rest.users.get(r.int(0)?);
        let set = sets.get(r.int(1)?);
        // Every id a process points at exists in the same snapshot;
        // skip, rather than fail on, a store that breaks that.
        let (Some(owner), Some(set)) = (owner, set) else {
            return Ok(());
        };
        let job = rest
            .jobs
            .get(r.int(5)?)
            .map(|i| rest.job_rows[i as usize])
            .unwrap_or(JobRow {
                job: NONE,
                cluster: NONE,
            });
        // Schema, ending and yes/no columns in one number (fewer columns
        // to hand over per row): bits 0-7 schema, 8-10 outcome, then forked,
        // fork child, CUDA, MPI.
        let flags = r.int(8)?.unwrap_or(0);
        procs.push(Process {
            owner,
            uid: rest.user_uid[owner as usize],
            set,
            sample: r.real(2)?.unwrap_or(0.0),
            start_us: r.int(3)?.unwrap_or(0),
            end_us: r.int(4)?.unwrap_or(0),
            job: job.job,
            cluster: job.cluster,
            python: rest.pythons.get(r.int(6)?).unwrap_or(NONE),
            prefix: match r.text(7)? {
                Some(p) => prefixes.get(p, &mut prefix_names),
                None => unknown,
            },
            schema: (flags & 0xff) as u8,
            outcome: ((flags >> 8) & 7).min(4) as u8,
            forked: flags & (1 << 11) != 0,
            fork_child: flags & (1 << 12) != 0,
            cuda: flags & (1 << 13) != 0,
            mpi: flags & (1 << 14) != 0,
        });
        Ok(())
    })?;
    Ok(Procs {
        procs,
        prefixes: prefix_names,
    })
}

/// Package set ids -> dense indices, and their members in all.
fn load_sets(db: &mut Db) -> Result<(IdMap, usize)> {
    let mut ids = Vec::new();
    let mut total: i64 = 0;
    db.scan("SELECT id, size FROM package_sets ORDER BY id", |r| {
        ids.push(r.int(0)?.unwrap_or(0));
        total = total.saturating_add(r.int(1)?.unwrap_or(0).max(0));
        Ok(())
    })?;
    Ok((dense(&ids), total.clamp(0, 1 << 32) as usize))
}

/// Members of every set, grouped by set, and each set's distributions.
fn load_members(
    db: &mut Db,
    sets: &IdMap,
    ids: &Ids,
    total: usize,
    dists: usize,
) -> Result<SetMembers> {
    let (members, member_at) = read_all_members(db, sets, ids, total)?;
    let (set_dists, set_dist_at) = index_sets(&members, &member_at, dists);
    Ok(SetMembers {
        members,
        member_at,
        set_dists,
        set_dist_at,
    })
}

/// Members of every set, grouped by set: `(members, start of each set)`.
fn read_all_members(
    db: &mut Db,
    sets: &IdMap,
    ids: &Ids,
    total: usize,
) -> Result<(Vec<Member>, Vec<u32>)> {
    // In table order first: ingest writes a set's members together, and an
    // ORDER BY would walk the primary key's index and look every row up.
    // Only if the sets do not come one after the other, read it again
    // sorted. The order of members within a set does not matter to any
    // section (they count distinct distributions, versions, environments
    // and importers), so `ord` is not read.
    match read_members(
        db,
        sets,
        ids,
        total,
        "SELECT package_set, release, env, by_dist FROM package_set_members",
    )? {
        Some(m) => Ok(m),
        None => Ok(read_members(
            db,
            sets,
            ids,
            total,
            "SELECT package_set, release, env, by_dist FROM package_set_members \
             ORDER BY package_set",
        )?
        .unwrap_or_default()),
    }
}

/// Members in set order, with where each set starts; `None` when the rows
/// do not come grouped by set, in set order.
fn read_members(
    db: &mut Db,
    sets: &IdMap,
    ids: &Ids,
    total: usize,
    sql: &str,
) -> Result<Option<(Vec<Member>, Vec<u32>)>> {
    let mut members = Vec::with_capacity(total);
    let mut at: Vec<u32> = Vec::with_capacity(sets.len + 1);
    let mut last = 0u32;
    let mut in_order = true;
    db.scan(sql, |r| {
        if !in_order {
            return Ok(());
        }
        let Some(set) = sets.get(r.int(0)?) else {
            return Ok(());
        };
        if set < last {
            in_order = false;
            return Ok(());
        }
        last = set;
        while at.len() <= set as usize {
            at.push(members.len() as u32);
        }
        let version = ids.versions.get(r.int(1)?).unwrap_or(NONE);
        members.push(Member {
            dist: ids
                .version_names
                .get(version as usize)
                .map_or(NONE, |v| v.0),
            version,
            env: ids.envs.get(r.int(2)?).unwrap_or(NONE),
            by: ids.dist.get(r.int(3)?).unwrap_or(NONE),
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

#[cfg(test)]
mod tests {
    use super::JobId;

    #[test]
    fn job_ids_are_numbers_only_when_their_text_is_the_number() {
        assert!(JobId::new("123") == JobId::new("123"));
        assert!(matches!(JobId::new("123"), JobId::Num(123)));
        assert!(matches!(JobId::new("0"), JobId::Num(0)));
        // Distinct texts stay distinct jobs.
        assert!(JobId::new("0123") != JobId::new("123"));
        assert!(JobId::new("+123") != JobId::new("123"));
        assert!(matches!(JobId::new("123_4"), JobId::Text(_)));
        assert!(matches!(JobId::new(""), JobId::Text(_)));
        assert!(matches!(JobId::new("99999999999999999999"), JobId::Text(_)));
    }
}
