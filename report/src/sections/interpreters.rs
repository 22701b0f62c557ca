//! Section 5: Interpreters and environments: Python versions and implementations,
//! environments (map labels or prefixes) and `sys.prefix`, by users and jobs.

use super::{title, Ctx};
use crate::data::NONE;
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::Result;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "interpreters",
        title("interpreters"),
        "Python implementations and versions (major.minor), the environments \
         packages came from (the package map's labels, or prefixes), and the \
         interpreters' sys.prefix, by users, jobs and processes.",
    );
    let (d, sel) = (ctx.data, ctx.sel);
    let mut py = KeyCounts::new(d.pythons.len());
    let mut prefixes = KeyCounts::new(d.prefixes.len());
    for &i in &sel.procs {
        let p = &d.procs[i as usize];
        py.add_processes(p.python, p.w());
        prefixes.add_processes(p.prefix, p.w());
    }
    for (uid, procs) in sel.by_user.groups() {
        let w = sel.user_w[uid as usize];
        for &i in procs {
            let p = &d.procs[i as usize];
            py.add_user(p.python, uid, w);
            prefixes.add_user(p.prefix, uid, w);
        }
    }
    for (job, procs) in sel.by_job.groups() {
        let w = sel.job(job).w;
        for &i in procs {
            let p = &d.procs[i as usize];
            py.add_job(p.python, job, w);
            prefixes.add_job(p.prefix, job, w);
        }
    }
    let label = |names: &[String], k: u32| names.get(k as usize).cloned().unwrap_or_default();
    let pythons = py.finish(|k| label(&d.pythons, k));
    s.fact(
        "pythons",
        "interpreter versions",
        pythons.len() as f64,
        Kind::Count,
    );
    push(
        ctx,
        &mut s,
        "pythons",
        "Python versions",
        "python",
        &pythons,
    );
    s.charts.push(Chart::Bar {
        title: "Users per Python version".into(),
        unit: "users".into(),
        bars: pythons
            .iter()
            .take(15)
            .map(|r| (r.0.clone(), r.1))
            .collect(),
        kind: Kind::Count,
    });

    // Environments: a process counts for every environment its set has.
    // Each selected set's distinct environments, one list after another.
    let mut env_at = Vec::with_capacity(d.set_count() + 1);
    env_at.push(0u32);
    let mut set_envs: Vec<u32> = Vec::new();
    let mut one: Vec<u32> = Vec::new();
    for set in 0..d.set_count() as u32 {
        if sel.set_w[set as usize] > 0.0 {
            one.clear();
            one.extend(d.members(set).iter().map(|m| m.env).filter(|e| *e != NONE));
            one.sort_unstable();
            one.dedup();
            set_envs.extend_from_slice(&one);
        }
        env_at.push(set_envs.len() as u32);
    }
    let envs_of = |s: u32| &set_envs[env_at[s as usize] as usize..env_at[s as usize + 1] as usize];
    // Per set rather than per process: the sets' weights, and the
    // distinct (user, set) and (job, set) pairs of the selection.
    let mut env = KeyCounts::new(d.envs.len());
    for &set in &sel.sets {
        for &e in envs_of(set) {
            env.add_processes(e, sel.set_w[set as usize]);
        }
    }
    for (uid, sets) in sel.sets_by_user() {
        let w = sel.user_w[uid as usize];
        for &(_, set, _) in sets {
            for &e in envs_of(set) {
                env.add_user(e, uid, w);
            }
        }
    }
    for (job, sets) in sel.sets_by_job() {
        let w = sel.job(job).w;
        for &(_, set) in sets {
            for &e in envs_of(set) {
                env.add_job(e, job, w);
            }
        }
    }
    let envs = env.finish(|k| label(&d.envs, k));
    s.fact(
        "environments",
        "environments",
        envs.len() as f64,
        Kind::Count,
    );
    push(
        ctx,
        &mut s,
        "environments",
        "Environments packages came from",
        "environment",
        &envs,
    );
    if !envs.is_empty() {
        s.charts.push(Chart::Bar {
            title: "Users per environment".into(),
            unit: "users".into(),
            bars: envs.iter().take(15).map(|r| (r.0.clone(), r.1)).collect(),
            kind: Kind::Count,
        });
    }
    let prefixes = prefixes.finish(|k| label(&d.prefixes, k));
    push(
        ctx,
        &mut s,
        "prefixes",
        "Interpreter prefixes (sys.prefix)",
        "prefix",
        &prefixes,
    );
    Ok(s)
}

/// Users, jobs and processes per key (an interpreter, an environment, a
/// prefix), each user and job counted once per key. Users (jobs) are added
/// one after the other, in ascending order, so a key's mark of the last
/// user (job) counted tells a repeat.
struct KeyCounts {
    /// Weight of processes per key; NaN for a key no process has.
    processes: Vec<f64>,
    users: Vec<f64>,
    user_mark: Vec<u32>,
    jobs: Vec<f64>,
    job_mark: Vec<u32>,
}

impl KeyCounts {
    fn new(keys: usize) -> KeyCounts {
        KeyCounts {
            processes: vec![f64::NAN; keys],
            users: vec![0.0; keys],
            user_mark: vec![NONE; keys],
            jobs: vec![0.0; keys],
            job_mark: vec![NONE; keys],
        }
    }

    /// Processes of weight `w` with this key (a key out of range, from a
    /// store whose rows point at nothing, is left out).
    fn add_processes(&mut self, key: u32, w: f64) {
        if let Some(p) = self.processes.get_mut(key as usize) {
            *p = if p.is_nan() { w } else { *p + w };
        }
    }

    /// A user of weight `w` with this key (repeats are counted once).
    fn add_user(&mut self, key: u32, uid: u32, w: f64) {
        let k = key as usize;
        if self.user_mark.get(k).is_some_and(|m| *m != uid) {
            self.user_mark[k] = uid;
            self.users[k] += w;
        }
    }

    /// A job of weight `w` with this key (repeats are counted once).
    fn add_job(&mut self, key: u32, job: u32, w: f64) {
        let k = key as usize;
        if self.job_mark.get(k).is_some_and(|m| *m != job) {
            self.job_mark[k] = job;
            self.jobs[k] += w;
        }
    }

    /// `(label, users, jobs, processes)`, most users first.
    fn finish(self, label: impl Fn(u32) -> String) -> Vec<(String, f64, f64, f64)> {
        // Keys are distinct labels (the loader interned them).
        let mut v: Vec<(String, f64, f64, f64)> = self
            .processes
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_nan())
            .map(|(k, p)| (label(k as u32), self.users[k], self.jobs[k], *p))
            .collect();
        v.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(b.3.total_cmp(&a.3))
                .then(a.0.cmp(&b.0))
        });
        v
    }
}

fn push(
    ctx: &Ctx,
    s: &mut Section,
    id: &str,
    title: &str,
    key: &str,
    rows: &[(String, f64, f64, f64)],
) {
    let mut t = Table::new(
        id,
        title,
        &[
            (key, Kind::Text),
            ("users", Kind::Count),
            ("jobs", Kind::Count),
            ("processes", Kind::Count),
        ],
    );
    for r in rows.iter().take(ctx.limit) {
        t.rows.push(vec![
            Value::from(r.0.as_str()),
            Value::Num(r.1),
            Value::Num(r.2),
            Value::Num(r.3),
        ]);
    }
    s.tables.push(t);
}
