//! Section 5: Interpreters and environments: Python versions and implementations,
//! environments (map labels or prefixes) and `sys.prefix`, by users and jobs.

use super::{title, Ctx};
use crate::data::{Selection, NONE};
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
    let mut py = KeyCounts::default();
    let mut prefixes = KeyCounts::default();
    for &i in &sel.procs {
        let p = &d.procs[i as usize];
        py.add(p.python, p.uid, p.job, p.w());
        prefixes.add(p.prefix, p.uid, p.job, p.w());
    }
    let label = |names: &[String], k: u32| names.get(k as usize).cloned().unwrap_or_default();
    let pythons = py.finish(sel, |k| label(&d.pythons, k));
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
    let mut set_envs: Vec<Vec<u32>> = vec![Vec::new(); d.set_count()];
    for &set in &sel.sets {
        let e = &mut set_envs[set as usize];
        e.extend(d.members(set).iter().map(|m| m.env).filter(|e| *e != NONE));
        e.sort_unstable();
        e.dedup();
    }
    // Per set rather than per process: the sets' weights, and the
    // distinct (user, set) and (job, set) pairs of the selection.
    let mut env = KeyCounts::default();
    for &set in &sel.sets {
        for &e in &set_envs[set as usize] {
            env.add_processes(e, sel.set_w[set as usize]);
        }
    }
    for &(uid, set, _) in &sel.user_sets {
        for &e in &set_envs[set as usize] {
            env.add_user(e, uid);
        }
    }
    for &(job, set) in &sel.job_sets {
        for &e in &set_envs[set as usize] {
            env.add_job(e, job);
        }
    }
    let envs = env.finish(sel, |k| label(&d.envs, k));
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
    let prefixes = prefixes.finish(sel, |k| label(&d.prefixes, k));
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
/// prefix), each user and job counted once per key.
#[derive(Default)]
struct KeyCounts {
    processes: Vec<f64>,
    /// `key << 32 | uid`, deduplicated in `finish`.
    users: Vec<u64>,
    /// `key << 32 | job`.
    jobs: Vec<u64>,
}

impl KeyCounts {
    /// One process with this key.
    fn add(&mut self, key: u32, uid: u32, job: u32, w: f64) {
        self.add_processes(key, w);
        self.add_user(key, uid);
        if job != NONE {
            self.add_job(key, job);
        }
    }

    /// Processes of weight `w` with this key.
    fn add_processes(&mut self, key: u32, w: f64) {
        let k = key as usize;
        if self.processes.len() <= k {
            self.processes.resize(k + 1, f64::NAN);
        }
        let p = &mut self.processes[k];
        *p = if p.is_nan() { w } else { *p + w };
    }

    /// A user with this key (repeats are counted once).
    fn add_user(&mut self, key: u32, uid: u32) {
        push_new(&mut self.users, (u64::from(key) << 32) | u64::from(uid));
    }

    /// A job with this key (repeats are counted once).
    fn add_job(&mut self, key: u32, job: u32) {
        push_new(&mut self.jobs, (u64::from(key) << 32) | u64::from(job));
    }

    /// `(label, users, jobs, processes)`, most users first.
    fn finish(
        mut self,
        sel: &Selection,
        label: impl Fn(u32) -> String,
    ) -> Vec<(String, f64, f64, f64)> {
        let n = self.processes.len();
        let sum = |pairs: &mut Vec<u64>, w: &dyn Fn(u32) -> f64| {
            pairs.sort_unstable();
            pairs.dedup();
            let mut out = vec![0.0; n];
            for v in pairs.iter() {
                out[(v >> 32) as usize] += w(*v as u32);
            }
            out
        };
        let users = sum(&mut self.users, &|u| sel.user_w[u as usize]);
        let jobs = sum(&mut self.jobs, &|j| sel.job(j).w);
        // Keys are distinct labels (the loader interned them).
        let mut v: Vec<(String, f64, f64, f64)> = self
            .processes
            .iter()
            .enumerate()
            .filter(|(_, p)| !p.is_nan())
            .map(|(k, p)| (label(k as u32), users[k], jobs[k], *p))
            .collect();
        v.sort_by(|a, b| {
            b.1.total_cmp(&a.1)
                .then(b.3.total_cmp(&a.3))
                .then(a.0.cmp(&b.0))
        });
        v
    }
}

/// Push unless it repeats the last one (processes of a job come together,
/// so this keeps the list short; `finish` removes the other repeats).
fn push_new(v: &mut Vec<u64>, x: u64) {
    if v.last() != Some(&x) {
        v.push(x);
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
