//! A real single-node Slurm (Debian's slurmctld, slurmd and munge, configured
//! and started by `tests/fixtures/slurm-cluster.sh` in a temp dir) running
//! Python under the installed tracer, with the installed epilog.

use crate::common::{bash, shell_quote, show, Install};
use crate::need_dist_lib;
use pyusage_tests::artifacts::repo_root;
use pyusage_tests::python::Python;
use pyusage_tests::{hostname, is_root, or_skip};
use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

/// A running private cluster; stopped on drop.
struct Cluster {
    dir: tempfile::TempDir,
}

impl Cluster {
    /// Starts munged, slurmctld and slurmd with `epilog`; `None` (a skip)
    /// without root or without the Debian packages.
    fn start(epilog: &Path) -> Option<Cluster> {
        let have = [
            "/usr/sbin/slurmctld",
            "/usr/sbin/slurmd",
            "/usr/sbin/munged",
        ]
        .iter()
        .all(|p| Path::new(p).is_file());
        if !is_root() || !have {
            return None;
        }
        let dir = tempfile::Builder::new()
            .prefix("pyusage-slurm-")
            .tempdir()
            .unwrap();
        let c = Cluster { dir };
        let script = repo_root().join("tests/fixtures/slurm-cluster.sh");
        let out = bash(
            &format!(
                "{} start {} {}",
                shell_quote(script.to_str().unwrap()),
                shell_quote(c.dir.path().to_str().unwrap()),
                shell_quote(epilog.to_str().unwrap())
            ),
            &[],
        );
        assert!(
            out.status.success(),
            "starting Slurm failed: {}",
            show(&out)
        );
        Some(c)
    }

    fn conf(&self) -> PathBuf {
        self.dir.path().join("slurm.conf")
    }

    /// Runs `script` as a user with the module loaded would: the tracer in
    /// `LD_PRELOAD` of the submitting shell (sbatch and srun pass it on).
    fn user(&self, i: &Install, py: &Python, script: &str) -> Output {
        let script = format!(
            "cd {dir}; py={py}\n{script}",
            dir = shell_quote(self.dir.path().to_str().unwrap()),
            py = shell_quote(py.path.to_str().unwrap())
        );
        let conf = self.conf();
        let lib = i.lib();
        let config = i.config();
        bash(
            &script,
            &[
                ("SLURM_CONF", conf.to_str().unwrap()),
                ("LD_PRELOAD", lib.to_str().unwrap()),
                ("PYUSAGE_CONFIG", config.to_str().unwrap()),
            ],
        )
    }

    fn logs(&self) -> String {
        let mut s = String::new();
        for f in ["slurmctld.log", "slurmd.log"] {
            let text =
                std::fs::read_to_string(self.dir.path().join("log").join(f)).unwrap_or_default();
            let tail: Vec<&str> = text.lines().rev().take(30).collect();
            s += &format!("--- {f} ---\n");
            for l in tail.into_iter().rev() {
                s += l;
                s += "\n";
            }
        }
        s
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        let script = repo_root().join("tests/fixtures/slurm-cluster.sh");
        let _ = bash(
            &format!(
                "{} stop {}",
                shell_quote(script.to_str().unwrap()),
                shell_quote(self.dir.path().to_str().unwrap())
            ),
            &[],
        );
    }
}

fn setup() -> Option<(Install, Python, Cluster)> {
    let py = Python::pyenv("3.11.7")?;
    let i = Install::new();
    let epilog = i.prefix.join("share/pyusage/slurm-epilog.sh");
    let c = Cluster::start(&epilog)?;
    Some((i, py, c))
}

const SKIP: &str = "needs root, Python 3.11.7 and Debian's slurmctld, slurmd and munge \
                    (tests/fixtures/system-deps.sh installs them)";

fn job(r: &Value) -> &Value {
    &r["job"]
}

/// The node and partition fields every record of this cluster has.
fn assert_cluster_fields(r: &Value, tasks: u64) {
    let j = job(r);
    assert_eq!(j["scheduler"], "slurm", "{r}");
    assert_eq!(j["cluster"], "pyusagetest", "{r}");
    assert_eq!(j["nodes"], 1, "{r}");
    assert_eq!(j["tasks"], tasks, "{r}");
    assert_eq!(r["host"], hostname().as_str(), "{r}");
    // Schema 2 records carry the partition and the GPUs (none here).
    if let Some(p) = j.get("partition") {
        assert_eq!(p, "debug", "{r}");
    }
    if let Some(g) = j.get("gpus") {
        assert!(g.is_null() || g == 0, "{r}");
    }
}

/// `sbatch -n 4` running Python in the batch step and in `srun -n 4`, and a
/// bare `srun -n 4`: one record per step, from rank 0 only, with the job id,
/// step, node and task counts and the partition.
#[test]
fn sbatch_and_srun_give_rank_zero_records_with_the_job() {
    need_dist_lib!();
    let (i, py, c) = or_skip!(setup(), "{SKIP}");
    let out = c.user(
        &i,
        &py,
        "cat > job.sh <<'JOB'\n#!/bin/bash\n\"$py\" -c 'import json'\n\
         srun -n 4 \"$py\" -c 'import json, os; print(os.environ[\"SLURM_PROCID\"])'\nJOB\n\
         export py\n\
         sbatch --wait -n 4 -o batch.out --parsable job.sh\n\
         srun -n 4 \"$py\" -c 'import csv'",
    );
    assert!(out.status.success(), "{}\n{}", show(&out), c.logs());
    let stdout = String::from_utf8_lossy(&out.stdout);
    let batch_job = stdout.lines().next().unwrap().trim().to_string();
    let mut ranks: Vec<String> = std::fs::read_to_string(c.dir.path().join("batch.out"))
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect();
    ranks.sort();
    assert_eq!(ranks, ["0", "1", "2", "3"], "all four tasks ran");

    let recs = i.records();
    assert_eq!(
        recs.len(),
        3,
        "batch step, srun in the job, bare srun: {recs:#?}"
    );
    for r in &recs {
        assert_eq!(job(r)["rank"], 0, "only rank 0 records: {r}");
    }
    let of_job: Vec<&Value> = recs
        .iter()
        .filter(|r| job(r)["id"] == batch_job.as_str())
        .collect();
    assert_eq!(of_job.len(), 2, "{recs:#?}");
    let step0 = of_job
        .iter()
        .find(|r| job(r)["step"] == "0")
        .unwrap_or_else(|| panic!("no step 0 record: {of_job:#?}"));
    assert_cluster_fields(step0, 4);
    let batch = of_job
        .iter()
        .find(|r| job(r)["step"] != "0")
        .expect("batch step record");
    assert_cluster_fields(batch, 4);
    let bare: Vec<&Value> = recs
        .iter()
        .filter(|r| job(r)["id"] != batch_job.as_str())
        .collect();
    assert_eq!(bare.len(), 1);
    assert_cluster_fields(bare[0], 4);
    assert_eq!(job(bare[0])["step"], "0");
    for r in &recs {
        assert_eq!(r["ended"]["how"], "exit", "{r}");
    }
}

/// A job killed by its time limit: its Python process dies by Slurm's signal
/// without shipping, and the installed epilog's sweep ships the record as
/// `vanished`, with the job's fields.
#[test]
fn time_limit_kill_is_shipped_by_the_epilog() {
    need_dist_lib!();
    let (i, py, c) = or_skip!(setup(), "{SKIP}");
    let out = c.user(
        &i,
        &py,
        "sbatch --parsable -n 1 -o limit.out --wrap \"$py -c 'import json, time; time.sleep(600)'\"",
    );
    assert!(out.status.success(), "{}\n{}", show(&out), c.logs());
    let id = String::from_utf8_lossy(&out.stdout).trim().to_string();

    // Wait for the process's raw record, then end the time limit.
    let deadline = Instant::now() + Duration::from_secs(60);
    while std::fs::read_dir(&i.runtime).unwrap().next().is_none() {
        assert!(
            Instant::now() < deadline,
            "the job's Python never started\n{}",
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let upd = c.user(&i, &py, &format!("scontrol update JobId={id} TimeLimit=0"));
    assert!(upd.status.success(), "{}", show(&upd));

    // slurmctld checks time limits every 30 s; the epilog runs after the kill.
    let deadline = Instant::now() + Duration::from_secs(120);
    while i.records().is_empty() {
        assert!(
            Instant::now() < deadline,
            "no record after the time limit; runtime dir {:?}; sweep log:\n{}\n{}",
            std::fs::read_dir(&i.runtime)
                .unwrap()
                .flatten()
                .map(|e| e.path())
                .collect::<Vec<_>>(),
            std::fs::read_to_string(i.localstate.join("log/pyusage-sweep.log")).unwrap_or_default(),
            c.logs()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let state = c.user(&i, &py, &format!("scontrol show job {id}"));
    let state = String::from_utf8_lossy(&state.stdout);
    assert!(state.contains("JobState=TIMEOUT"), "{state}");
    let recs = i.records();
    assert_eq!(recs.len(), 1, "{recs:#?}");
    let r = &recs[0];
    assert_eq!(r["ended"]["how"], "vanished", "{r}");
    assert_eq!(job(r)["id"], id.as_str(), "{r}");
    assert_cluster_fields(r, 1);
    assert!(
        std::fs::read_dir(&i.runtime)
            .unwrap()
            .filter_map(|e| e.ok())
            .all(|e| e.path().is_dir()),
        "raw record left behind"
    );
}
