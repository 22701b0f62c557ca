//! A selection of processes (the command line's filters) and what every
//! section counts over it, built in one pass over the processes.

use super::{Data, NONE};
use crate::query::Filters;

/// A selected job's aggregates (`nodes` etc. from its rows).
#[derive(Clone, Copy, Debug, Default)]
pub struct JobAgg {
    /// Weight: the smallest weight of its selected processes.
    pub w: f64,
    /// First start, µs.
    pub start_us: i64,
    /// Last end, µs.
    pub end_us: i64,
    /// Selected processes (unweighted).
    pub n: u32,
    /// Selected processes, weighted.
    pub np: f64,
    /// Any of them loaded CUDA.
    pub cuda: bool,
    /// Any of them loaded MPI.
    pub mpi: bool,
    /// Nodes (1 when no row says).
    pub nodes: f64,
    /// GPUs allocated, when known.
    pub gpus: Option<i64>,
    /// MPI tasks, when known.
    pub tasks: Option<i64>,
    /// Span of its records times its nodes.
    pub node_hours: f64,
}

/// A user (uid) of a distribution, with what the user's processes with it
/// did.
#[derive(Clone, Copy, Debug)]
pub struct DistUser {
    /// Dense uid.
    pub uid: u32,
    /// One of the user's processes with it loaded CUDA.
    pub cuda: bool,
    /// The user imported it directly at least once.
    pub direct: bool,
}

/// The selected processes and what the sections count over them.
#[derive(Debug, Default)]
pub struct Selection {
    /// Indices into [`Data::procs`].
    pub procs: Vec<u32>,
    /// Per uid: its weight (the smallest of its processes; 0 when not selected).
    pub user_w: Vec<f64>,
    /// Selected uids.
    pub users: Vec<u32>,
    /// Per canonical job (`n == 0` when not selected).
    pub jobs: Vec<JobAgg>,
    /// Selected jobs.
    pub job_list: Vec<u32>,
    /// Per package set: weight of its selected processes.
    pub set_w: Vec<f64>,
    /// Sets with selected processes, in index order.
    pub sets: Vec<u32>,
    /// Distinct `(uid, set, cuda)` of the selected processes, sorted.
    pub user_sets: Vec<(u32, u32, bool)>,
    /// Distinct `(job, set)` of the selected processes in jobs, sorted.
    pub job_sets: Vec<(u32, u32)>,
    /// Per distribution: the selected sets that have it.
    pub dist_sets: Vec<Vec<u32>>,
    /// Per distribution: the selected jobs that used it.
    pub dist_jobs: Vec<Vec<u32>>,
    /// Per distribution: the users who used it.
    pub dist_users: Vec<Vec<DistUser>>,
    /// The selected processes grouped by uid, in uid order.
    pub by_user: Grouped,
    /// The selected processes in jobs grouped by job, in job order.
    pub by_job: Grouped,
}

/// Process indices grouped by a key (a uid, a job), keys in ascending
/// order and each group in process order: what a section needs to count
/// each user or job once per thing it used, by marking, without sorting
/// pairs.
#[derive(Debug, Default)]
pub struct Grouped {
    items: Vec<u32>,
    at: Vec<u32>,
}

impl Grouped {
    /// Group `items` by `key` (keys below `keys`; [`NONE`] leaves an item
    /// out), by counting.
    fn new(keys: usize, items: &[u32], key: impl Fn(u32) -> u32) -> Grouped {
        let mut at = vec![0u32; keys + 1];
        for &i in items {
            let k = key(i);
            if k != NONE {
                at[k as usize + 1] += 1;
            }
        }
        for k in 0..keys {
            at[k + 1] += at[k];
        }
        let mut next = at.clone();
        let mut out = vec![0u32; at[keys] as usize];
        for &i in items {
            let k = key(i);
            if k != NONE {
                let n = &mut next[k as usize];
                out[*n as usize] = i;
                *n += 1;
            }
        }
        Grouped { items: out, at }
    }

    /// The non-empty groups: `(key, items)`, keys ascending.
    pub fn groups(&self) -> impl Iterator<Item = (u32, &[u32])> {
        self.at
            .windows(2)
            .enumerate()
            .filter(|(_, w)| w[1] > w[0])
            .map(|(k, w)| (k as u32, &self.items[w[0] as usize..w[1] as usize]))
    }
}

impl Selection {
    /// Select and count.
    pub fn new(d: &Data, f: &Filters) -> Selection {
        let mut s = Selection {
            procs: Vec::with_capacity(d.procs.len()),
            user_w: vec![0.0; d.uids.len()],
            jobs: vec![JobAgg::default(); d.jobs.len()],
            set_w: vec![0.0; d.set_count()],
            ..Selection::default()
        };
        let excluded = excluded(d, f);
        // A cluster no job row names selects nothing.
        let cluster = f.cluster.as_ref().map(|c| {
            d.clusters
                .iter()
                .position(|x| x == c)
                .map_or(NONE - 1, |i| i as u32)
        });
        for (i, p) in d.procs.iter().enumerate() {
            // `sample > 0`, as SQL would compare (NaN is not selected).
            if p.sample.partial_cmp(&0.0) != Some(std::cmp::Ordering::Greater)
                || f.since_us.is_some_and(|t| p.start_us < t)
                || f.until_us.is_some_and(|t| p.start_us >= t)
                || cluster.is_some_and(|c| p.cluster != c)
                || excluded.get(p.owner as usize).copied().unwrap_or(false)
            {
                continue;
            }
            let w = p.w();
            s.procs.push(i as u32);
            let uw = &mut s.user_w[p.uid as usize];
            if *uw == 0.0 {
                s.users.push(p.uid);
                *uw = w;
            } else {
                *uw = uw.min(w);
            }
            if p.job != NONE {
                let j = &mut s.jobs[p.job as usize];
                if j.n == 0 {
                    s.job_list.push(p.job);
                    *j = JobAgg {
                        w,
                        start_us: p.start_us,
                        end_us: p.end_us,
                        ..JobAgg::default()
                    };
                }
                j.w = j.w.min(w);
                j.start_us = j.start_us.min(p.start_us);
                j.end_us = j.end_us.max(p.end_us);
                j.n += 1;
                j.np += w;
                j.cuda |= p.cuda;
                j.mpi |= p.mpi;
            }
            s.set_w[p.set as usize] += w;
        }
        for &j in &s.job_list {
            let k = &d.jobs[j as usize];
            let a = &mut s.jobs[j as usize];
            a.nodes = k.nodes.map_or(1.0, |n| n as f64);
            a.gpus = k.gpus;
            a.tasks = k.tasks;
            a.node_hours = (a.end_us - a.start_us) as f64 / 3_600_000_000.0 * a.nodes;
        }
        s.sets = (0..d.set_count() as u32)
            .filter(|&i| s.set_w[i as usize] > 0.0)
            .collect();
        // What follows per user, per job and per set is independent: the
        // users' part on a second thread.
        let (users, (jobs, dist_sets)) = std::thread::scope(|scope| {
            let users = scope.spawn(|| by_user(d, &s.procs));
            let jobs = by_job(d, &s.procs);
            let dist_sets = dist_sets(d, &s.sets);
            let users = users
                .join()
                .unwrap_or_else(|e| std::panic::resume_unwind(e));
            (users, (jobs, dist_sets))
        });
        (s.by_user, s.user_sets, s.dist_users) = users;
        (s.by_job, s.job_sets, s.dist_jobs) = jobs;
        s.dist_sets = dist_sets;
        s
    }

    /// A selected job's aggregates.
    pub fn job(&self, j: u32) -> &JobAgg {
        &self.jobs[j as usize]
    }

    /// The selected `user_sets` grouped by uid: `(uid, [(set, cuda)])`.
    pub fn sets_by_user(&self) -> impl Iterator<Item = (u32, &[(u32, u32, bool)])> {
        self.user_sets
            .chunk_by(|a, b| a.0 == b.0)
            .map(|c| (c[0].0, c))
    }

    /// The selected `job_sets` grouped by job.
    pub fn sets_by_job(&self) -> impl Iterator<Item = (u32, &[(u32, u32)])> {
        self.job_sets
            .chunk_by(|a, b| a.0 == b.0)
            .map(|c| (c[0].0, c))
    }
}

/// The selected processes grouped by uid; the distinct `(uid, set, cuda)`
/// sorted; per distribution, its users.
type UserPart = (Grouped, Vec<(u32, u32, bool)>, Vec<Vec<DistUser>>);

fn by_user(d: &Data, procs: &[u32]) -> UserPart {
    let grouped = Grouped::new(d.uids.len(), procs, |i| d.procs[i as usize].uid);
    // Per user, in ascending order, its processes' sets sorted and merged.
    let mut user_sets = Vec::new();
    let mut one: Vec<u64> = Vec::new();
    for (uid, procs) in grouped.groups() {
        one.clear();
        one.extend(procs.iter().map(|&i| {
            let p = &d.procs[i as usize];
            (u64::from(p.set) << 1) | u64::from(p.cuda)
        }));
        one.sort_unstable();
        one.dedup();
        user_sets.extend(one.iter().map(|v| (uid, (v >> 1) as u32, v & 1 == 1)));
    }
    let n = d.dists.len();
    let mut dist_users: Vec<Vec<DistUser>> = vec![Vec::new(); n];
    let mut mark = vec![NONE; n];
    for &(uid, set, cuda) in &user_sets {
        for &(dist, direct) in d.set_dists(set) {
            let list = &mut dist_users[dist as usize];
            if mark[dist as usize] != uid {
                mark[dist as usize] = uid;
                list.push(DistUser { uid, cuda, direct });
            } else if let Some(u) = list.last_mut() {
                u.cuda |= cuda;
                u.direct |= direct;
            }
        }
    }
    (grouped, user_sets, dist_users)
}

/// The selected processes in jobs grouped by job; the distinct `(job,
/// set)` sorted; per distribution, its jobs.
fn by_job(d: &Data, procs: &[u32]) -> (Grouped, Vec<(u32, u32)>, Vec<Vec<u32>>) {
    let grouped = Grouped::new(d.jobs.len(), procs, |i| d.procs[i as usize].job);
    let mut job_sets = Vec::new();
    let mut one: Vec<u32> = Vec::new();
    for (job, procs) in grouped.groups() {
        one.clear();
        one.extend(procs.iter().map(|&i| d.procs[i as usize].set));
        one.sort_unstable();
        one.dedup();
        job_sets.extend(one.iter().map(|v| (job, *v)));
    }
    let n = d.dists.len();
    let mut dist_jobs: Vec<Vec<u32>> = vec![Vec::new(); n];
    let mut mark = vec![NONE; n];
    for &(job, set) in &job_sets {
        for &(dist, _) in d.set_dists(set) {
            if mark[dist as usize] != job {
                mark[dist as usize] = job;
                dist_jobs[dist as usize].push(job);
            }
        }
    }
    (grouped, job_sets, dist_jobs)
}

/// Per distribution, the selected sets that have it (each list sized
/// exactly first, so that none grows by copying).
fn dist_sets(d: &Data, sets: &[u32]) -> Vec<Vec<u32>> {
    let mut count = vec![0usize; d.dists.len()];
    for &set in sets {
        for &(dist, _) in d.set_dists(set) {
            count[dist as usize] += 1;
        }
    }
    let mut out: Vec<Vec<u32>> = count.iter().map(|&c| Vec::with_capacity(c)).collect();
    for &set in sets {
        for &(dist, _) in d.set_dists(set) {
            out[dist as usize].push(set);
        }
    }
    out
}

/// Per `users` row: left out by `--exclude-users` (a uid, or a name).
fn excluded(d: &Data, f: &Filters) -> Vec<bool> {
    if f.exclude_users.is_empty() {
        return Vec::new();
    }
    let uids: Vec<i64> = f
        .exclude_users
        .iter()
        .filter_map(|u| u.parse::<u64>().ok().map(|v| v as i64))
        .collect();
    let names: Vec<&str> = f
        .exclude_users
        .iter()
        .filter(|u| u.parse::<u64>().is_err())
        .map(String::as_str)
        .collect();
    d.users
        .iter()
        .map(|(uid, name)| {
            uids.contains(uid) || name.as_deref().is_some_and(|n| names.contains(&n))
        })
        .collect()
}
