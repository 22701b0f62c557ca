//! From checked records to rows, the same way for both backends.
//!
//! The writer keeps every dimension table (hosts, users, jobs, ...) in memory
//! as natural key -> id and assigns ids to new rows itself, so a batch becomes
//! a handful of bulk inserts (prepared statements in SQLite, `COPY` in
//! PostgreSQL) with no round trip per row. That is safe because writers are
//! serialised (SQLite's write lock; a PostgreSQL advisory lock held for the
//! whole ingest) and dimension rows are never changed or deleted; when another
//! writer committed in between (SQLite), the maps are reloaded.
//!
//! A record id already in the store (or twice in one batch) is stored once:
//! the copy with the later `end` wins, then the one with more packages;
//! anything else is a duplicate and changes nothing.

use super::record::{JobKey, MemberKey, Rec, Text};
use anyhow::Result;
use std::collections::HashMap;

/// A map from a natural key to an id. The writer looks up a few keys per
/// package of every record, so the hash is foldhash (a few times faster
/// than the standard SipHash here); it is seeded at random per process as
/// well, so record authors cannot choose keys that collide.
pub type IdMap<K> = HashMap<K, i64, foldhash::fast::RandomState>;

/// Dimension maps and the next free ids.
#[derive(Default)]
pub struct Dims {
    /// Host name -> id.
    pub hosts: IdMap<Text>,
    /// (uid, name) -> id.
    pub users: IdMap<(i64, Option<Text>)>,
    /// Job context -> id.
    pub jobs: IdMap<JobKey>,
    /// (implementation, version) -> id.
    pub interpreters: IdMap<(Text, Option<Text>)>,
    /// Env label -> id.
    pub envs: IdMap<Text>,
    /// Distribution name -> id.
    pub dists: IdMap<Text>,
    /// (dist id, version) -> id.
    pub releases: IdMap<(i64, Option<Text>)>,
    /// Package set digest -> id.
    pub sets: IdMap<Text>,
    /// Unmapped path -> id.
    pub paths: IdMap<Text>,
    /// Largest id in use per table, in [`TABLES`] order.
    pub max: [i64; TABLES.len()],
}

/// Tables whose ids the writer assigns, in the order of [`Dims::max`].
pub const TABLES: [&str; 10] = [
    "hosts",
    "users",
    "jobs",
    "interpreters",
    "envs",
    "dists",
    "releases",
    "package_sets",
    "unmapped_paths",
    "processes",
];

const HOSTS: usize = 0;
const USERS: usize = 1;
const JOBS: usize = 2;
const INTERPRETERS: usize = 3;
const ENVS: usize = 4;
const DISTS: usize = 5;
const RELEASES: usize = 6;
const SETS: usize = 7;
const PATHS: usize = 8;
const PROCESSES: usize = 9;

/// A record with who ran it, ready to be stored.
pub struct Owned {
    /// The checked record.
    pub rec: Rec,
    /// Owner uid (the file's, or the record's for NDJSON).
    pub uid: i64,
    /// Owner's passwd name.
    pub user: Option<Text>,
}

/// One `processes` row: the record and the ids it points at.
pub struct ProcRow<'a> {
    /// Row id.
    pub id: i64,
    /// The record.
    pub rec: &'a Rec,
    /// -> hosts.
    pub host: i64,
    /// -> users.
    pub owner: i64,
    /// Record claims another uid.
    pub claim_differs: bool,
    /// -> jobs.
    pub job: Option<i64>,
    /// -> interpreters.
    pub interpreter: i64,
    /// -> package_sets.
    pub package_set: i64,
}

/// One `package_set_members` row.
pub struct MemberRow {
    /// -> package_sets.
    pub set: i64,
    /// Position.
    pub ord: i32,
    /// -> releases.
    pub release: i64,
    /// -> envs.
    pub env: Option<i64>,
    /// `import`, `extension`, `library`.
    pub via: &'static str,
    /// -> dists.
    pub by: Option<i64>,
}

/// Everything one transaction writes.
#[derive(Default)]
pub struct Rows<'a> {
    /// New hosts.
    pub hosts: Vec<(i64, Text)>,
    /// New users.
    pub users: Vec<(i64, i64, Option<Text>)>,
    /// New jobs.
    pub jobs: Vec<(i64, JobKey)>,
    /// New interpreters.
    pub interpreters: Vec<(i64, Text, Option<Text>)>,
    /// New envs.
    pub envs: Vec<(i64, Text)>,
    /// New dists.
    pub dists: Vec<(i64, Text)>,
    /// New releases.
    pub releases: Vec<(i64, i64, Option<Text>)>,
    /// New package sets: (id, digest, size).
    pub sets: Vec<(i64, Text, i32)>,
    /// Their members.
    pub members: Vec<MemberRow>,
    /// New unmapped paths.
    pub paths: Vec<(i64, Text)>,
    /// New processes.
    pub new: Vec<ProcRow<'a>>,
    /// Processes replaced by a better copy (same id as before).
    pub replaced: Vec<ProcRow<'a>>,
    /// (process, path) links of new and replaced processes.
    pub unmapped: Vec<(i64, i64)>,
}

/// What the store already has for a record id: (row id, end_us, package count).
pub type Existing = HashMap<String, (i64, i64, i32)>;

/// What became of each record of a batch.
#[derive(Default, Debug, Clone, Copy)]
pub struct Counts {
    /// Stored for the first time.
    pub new: u64,
    /// Replaced an earlier, less complete copy.
    pub replaced: u64,
    /// Already stored (same or better copy).
    pub duplicates: u64,
}

fn next(max: &mut i64) -> i64 {
    *max += 1;
    *max
}

fn intern<K: std::hash::Hash + Eq + Clone>(
    map: &mut IdMap<K>,
    max: &mut i64,
    key: &K,
    mut on_new: impl FnMut(i64),
) -> i64 {
    if let Some(&id) = map.get(key) {
        return id;
    }
    let id = next(max);
    map.insert(key.clone(), id);
    on_new(id);
    id
}

impl Dims {
    fn dist(&mut self, rows: &mut Rows<'_>, name: &str) -> i64 {
        if let Some(&id) = self.dists.get(name) {
            return id;
        }
        let id = next(&mut self.max[DISTS]);
        self.dists.insert(Text::from(name), id);
        rows.dists.push((id, Text::from(name)));
        id
    }

    fn member(&mut self, rows: &mut Rows<'_>, set: i64, ord: i32, m: &MemberKey) -> MemberRow {
        let dist = self.dist(rows, &m.name);
        let rkey = (dist, m.version.clone());
        let release = intern(&mut self.releases, &mut self.max[RELEASES], &rkey, |id| {
            rows.releases.push((id, dist, m.version.clone()))
        });
        let env = m.env.as_ref().map(|label| {
            intern(&mut self.envs, &mut self.max[ENVS], label, |id| {
                rows.envs.push((id, label.clone()))
            })
        });
        let by = m.by.as_ref().map(|b| self.dist(rows, b));
        MemberRow {
            set,
            ord,
            release,
            env,
            via: m.via,
            by,
        }
    }

    /// Turns a batch into rows: drops duplicates, picks the better copy,
    /// assigns ids to new dimension rows.
    pub fn plan<'a>(&mut self, batch: &[&'a Owned], existing: &Existing) -> (Rows<'a>, Counts) {
        let mut rows = Rows {
            new: Vec::with_capacity(batch.len()),
            unmapped: Vec::with_capacity(batch.len()),
            ..Rows::default()
        };
        let mut counts = Counts::default();
        // The best copy of each id within the batch.
        let mut best: HashMap<&str, usize, foldhash::fast::RandomState> =
            HashMap::with_capacity_and_hasher(batch.len(), Default::default());
        for (i, o) in batch.iter().enumerate() {
            match best.get(o.rec.id.as_str()) {
                Some(&j) if !better(&o.rec, &batch[j].rec) => counts.duplicates += 1,
                Some(_) => {
                    counts.duplicates += 1;
                    best.insert(&o.rec.id, i);
                }
                None => {
                    best.insert(&o.rec.id, i);
                }
            }
        }
        let mut chosen: Vec<usize> = best.into_values().collect();
        chosen.sort_unstable();
        for i in chosen {
            let o = batch[i];
            let r = &o.rec;
            let replace = match existing.get(r.id.as_str()) {
                Some(&(id, end_us, size)) => {
                    if (r.end_us, r.members.len() as i32) > (end_us, size) {
                        Some(id)
                    } else {
                        counts.duplicates += 1;
                        continue;
                    }
                }
                None => None,
            };
            let host = intern(&mut self.hosts, &mut self.max[HOSTS], &r.host, |id| {
                rows.hosts.push((id, r.host.clone()))
            });
            let ukey = (o.uid, o.user.clone());
            let owner = intern(&mut self.users, &mut self.max[USERS], &ukey, |id| {
                rows.users.push((id, o.uid, o.user.clone()))
            });
            let job = r.job.as_ref().map(|j| {
                intern(&mut self.jobs, &mut self.max[JOBS], j, |id| {
                    rows.jobs.push((id, j.clone()))
                })
            });
            let ikey = (r.implementation.clone(), r.py_version.clone());
            let interpreter = intern(
                &mut self.interpreters,
                &mut self.max[INTERPRETERS],
                &ikey,
                |id| rows.interpreters.push((id, ikey.0.clone(), ikey.1.clone())),
            );
            let package_set = match self.sets.get(r.digest.as_str()) {
                Some(&id) => id,
                None => {
                    let id = next(&mut self.max[SETS]);
                    let digest = Text::from(r.digest.as_str());
                    self.sets.insert(digest.clone(), id);
                    rows.sets.push((id, digest, r.members.len() as i32));
                    for (ord, m) in r.members.iter().enumerate() {
                        let row = self.member(&mut rows, id, ord as i32, m);
                        rows.members.push(row);
                    }
                    id
                }
            };
            let id = replace.unwrap_or_else(|| next(&mut self.max[PROCESSES]));
            for p in &r.unmapped {
                let path = intern(&mut self.paths, &mut self.max[PATHS], p, |pid| {
                    rows.paths.push((pid, p.clone()))
                });
                rows.unmapped.push((id, path));
            }
            let row = ProcRow {
                id,
                rec: r,
                host,
                owner,
                claim_differs: o.uid != r.claimed_uid,
                job,
                interpreter,
                package_set,
            };
            if replace.is_some() {
                counts.replaced += 1;
                rows.replaced.push(row);
            } else {
                counts.new += 1;
                rows.new.push(row);
            }
        }
        (rows, counts)
    }
}

/// The later copy wins; at the same end, the one with more packages.
fn better(a: &Rec, b: &Rec) -> bool {
    (a.end_us, a.members.len()) > (b.end_us, b.members.len())
}

/// What a backend does for the writer.
pub trait Backend {
    /// Starts a write transaction; true when the dimension maps must be
    /// reloaded (another writer committed since this one last did).
    fn begin(&mut self) -> Result<bool>;
    /// Reads every dimension table into maps.
    fn load(&mut self) -> Result<Dims>;
    /// What the store has for these record ids.
    fn existing(&mut self, ids: &[&str]) -> Result<Existing>;
    /// Writes the rows.
    fn write(&mut self, rows: &Rows<'_>, now_us: i64) -> Result<()>;
    /// Links fork children to their parents (and their parents' jobs).
    fn link_parents(&mut self) -> Result<u64>;
    /// Commits.
    fn commit(&mut self) -> Result<()>;
    /// Rolls back (after an error).
    fn rollback(&mut self);
}

/// The column list of `processes`, in the order backends write it.
pub const PROCESS_COLUMNS: &str = "id, record_id, schema, host, owner, claimed_uid, claimed_user, \
    claim_differs, job, step, rank, pid, ppid, exe, script, notebook, interpreter, prefix, start_us, end_us, \
    ended_how, ended_status, ended_signal, forked_from, parent, forks, sample, truncated, cuda, mpi, \
    blas, package_set, import_ms, ingested_us";

/// Sets each orphan fork child's `parent` (same host, pid = `forked_from`,
/// the latest start not after the child's) and, when it has no job, its
/// parent's job. The same SQL on both backends.
pub const LINK_PARENTS: &str = "UPDATE processes SET
    parent = (SELECT p.id FROM processes p WHERE p.host = processes.host AND p.pid = processes.forked_from
              AND p.start_us <= processes.start_us AND p.id <> processes.id
              ORDER BY p.start_us DESC, p.id DESC LIMIT 1),
    job = COALESCE(job, (SELECT p.job FROM processes p WHERE p.host = processes.host AND p.pid = processes.forked_from
              AND p.start_us <= processes.start_us AND p.id <> processes.id
              ORDER BY p.start_us DESC, p.id DESC LIMIT 1))
  WHERE forked_from IS NOT NULL AND parent IS NULL
    AND EXISTS (SELECT 1 FROM processes p WHERE p.host = processes.host AND p.pid = processes.forked_from
              AND p.start_us <= processes.start_us AND p.id <> processes.id)";
