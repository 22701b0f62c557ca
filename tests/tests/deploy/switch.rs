//! The admin's controls, with the installed library and a real system config
//! file (`/etc/pyusage/config.toml`, given to the test's processes through a
//! private mount namespace): the system switch, opt-out, and per-job sampling.

use crate::common::{bash, shell_quote, show, spool_records, with_system_config, Install};
use crate::need_dist_lib;
use pyusage_record::sample;
use pyusage_tests::python::Python;
use pyusage_tests::{or_skip, Tracer};
use std::collections::BTreeMap;
use std::fs;
use std::process::Output;

fn py() -> Option<Python> {
    Python::pyenv("3.11.7")
}

/// Run `script` where `/etc/pyusage` is this installation's config dir, with
/// `$lib` and `$py` set. `None` without root or mount namespaces.
fn in_system(i: &Install, py: &Python, env: &[(&str, &str)], script: &str) -> Option<Output> {
    let script = format!(
        "lib={}; py={}\n{script}",
        shell_quote(i.lib().to_str().unwrap()),
        shell_quote(py.path.to_str().unwrap())
    );
    let wrapped = with_system_config(&i.sysconf.join("pyusage"), &script)?;
    Some(bash(&wrapped, env))
}

fn set_key(i: &Install, key: &str, value: &str) {
    let text = fs::read_to_string(i.config()).unwrap();
    let mut found = false;
    let new: Vec<String> = text
        .lines()
        .map(|l| {
            if l.starts_with(&format!("{key} =")) {
                found = true;
                format!("{key} = {value}")
            } else {
                l.to_string()
            }
        })
        .collect();
    assert!(found, "installed config has no `{key} =` line");
    fs::write(i.config(), new.join("\n") + "\n").unwrap();
}

const RUN: &str = "LD_PRELOAD=$lib \"$py\" -c 'import json'";

/// `enabled = false` in the system file stops recording from the next process
/// start on; a process already running keeps its record; `enabled = true`
/// brings tracing back. Nothing else is edited.
#[test]
fn system_switch_takes_effect_at_the_next_process_start() {
    need_dist_lib!();
    let py = or_skip!(py(), "3.11.7 missing");
    let i = Install::new();
    let count = || i.records().len();

    let o = or_skip!(
        in_system(&i, &py, &[], RUN),
        "needs root and mount namespaces to give the tracer a system config"
    );
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(count(), 1, "enabled = true records");

    // A process that starts while enabled and ends after the switch.
    let config = i.config();
    // It holds until told on a FIFO; the switch is flipped once its raw
    // record exists (so it has started, whatever the machine's load).
    let script = format!(
        "go=$(mktemp -u); mkfifo \"$go\"\n\
         LD_PRELOAD=$lib \"$py\" -c 'import sys; sys.stdin.read(1)' < \"$go\" &\n\
         exec 3>\"$go\"\n\
         for _ in $(seq 600); do [ -n \"$(ls -A {rt})\" ] && break; sleep 0.05; done\n\
         sed -i 's/^enabled = true/enabled = false/' /etc/pyusage/config.toml\n\
         {RUN}; echo >&3; exec 3>&-; wait; rm -f \"$go\"; grep -q '^enabled = false' {cfg}",
        rt = shell_quote(i.runtime.to_str().unwrap()),
        cfg = shell_quote(config.to_str().unwrap())
    );
    let o = in_system(&i, &py, &[], &script).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        count(),
        2,
        "only the process started before the switch records"
    );

    let o = in_system(&i, &py, &[], &format!("{RUN}; {RUN}")).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(count(), 2, "enabled = false records nothing");
    assert!(
        fs::read_dir(&i.runtime).unwrap().next().is_none(),
        "enabled = false left raw records"
    );

    set_key(&i, "enabled", "true");
    let o = in_system(&i, &py, &[], RUN).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(count(), 3, "enabled = true again records");
}

/// `PYUSAGE_DISABLE=1` opts out while the system file allows it
/// (`allow_opt_out = true`), and is ignored once it says `false`.
#[test]
fn opt_out_unless_the_system_file_forbids_it() {
    need_dist_lib!();
    let py = or_skip!(py(), "3.11.7 missing");
    let i = Install::new();
    set_key(&i, "allow_opt_out", "true");
    let off = [("PYUSAGE_DISABLE", "1")];
    let o = or_skip!(
        in_system(&i, &py, &off, RUN),
        "needs root and mount namespaces to give the tracer a system config"
    );
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        i.records().len(),
        0,
        "PYUSAGE_DISABLE=1 with allow_opt_out = true"
    );

    let o = in_system(&i, &py, &[("PYUSAGE_DISABLE", "0")], RUN).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(i.records().len(), 1, "PYUSAGE_DISABLE=0 is not an opt-out");

    set_key(&i, "allow_opt_out", "false");
    let o = in_system(&i, &py, &off, RUN).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(
        i.records().len(),
        2,
        "PYUSAGE_DISABLE=1 with allow_opt_out = false"
    );
}

/// With `sample = 0.5`, every process of a job is recorded or none is, as the
/// hash of cluster and job id says; both kinds of job occur.
#[test]
fn sampling_takes_or_skips_whole_jobs() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("sample = 0.5");
    let jobs: Vec<String> = (7001..7025).map(|n| n.to_string()).collect();
    let per_job = 3;
    for id in &jobs {
        for step in 0..per_job {
            py.prog()
                .args(["-S", "-c", "pass"])
                .env("SLURM_JOB_ID", id)
                .env("SLURM_STEP_ID", step.to_string())
                .env("SLURM_CLUSTER_NAME", "c1")
                .env("SLURM_NTASKS", "1")
                .env("SLURM_PROCID", "0")
                .run_traced(&t)
                .assert_success();
        }
    }
    let mut got: BTreeMap<String, usize> = BTreeMap::new();
    for r in t.records() {
        let id = r.0["job"]["id"].as_str().expect("job id").to_string();
        assert_eq!(r.0["sample"], 0.5, "{}", r.0);
        *got.entry(id).or_default() += 1;
    }
    let mut taken = 0;
    for id in &jobs {
        let want = sample::job_sampled(b"c1", id.as_bytes(), 500_000);
        let n = got.get(id).copied().unwrap_or(0);
        assert_eq!(n, if want { per_job } else { 0 }, "job {id}: {got:?}");
        taken += usize::from(want);
    }
    assert!(
        taken > 0 && taken < jobs.len(),
        "{taken} of {} jobs sampled",
        jobs.len()
    );
    assert!(t.runtime_files().is_empty(), "{:?}", t.runtime_files());
}

/// Outside any job each process draws for itself: with `sample = 0.5`, some
/// of 40 processes are recorded and some are not.
#[test]
fn sampling_outside_jobs_is_per_process() {
    let py = or_skip!(py(), "3.11.7 missing");
    let t = Tracer::new().with_config("sample = 0.5");
    for _ in 0..40 {
        py.prog()
            .args(["-S", "-c", "pass"])
            .run_traced(&t)
            .assert_success();
    }
    let n = spool_records(&t.spool).len();
    // Each of 40 is in with probability 1/2: all or none is 2 in 2^40.
    assert!(
        n > 0 && n < 40,
        "{n} of 40 processes recorded at sample = 0.5"
    );
}

/// A system file with a line the tracer cannot use switches tracing off,
/// silently for the user's process; `pyusage config check` names the line. A
/// key only the tools know (or nobody does) does not.
#[test]
fn broken_system_config_switches_tracing_off_silently() {
    need_dist_lib!();
    let py = or_skip!(py(), "3.11.7 missing");
    let i = Install::new();
    let good = fs::read_to_string(i.config()).unwrap();
    let print = "LD_PRELOAD=$lib \"$py\" -c 'import json; print(\"hello\")'";

    let text = format!("store_of_the_future = \"/x\"\n{good}");
    fs::write(i.config(), &text).unwrap();
    let o = or_skip!(
        in_system(&i, &py, &[], print),
        "needs root and mount namespaces to give the tracer a system config"
    );
    assert!(o.status.success(), "{}", show(&o));
    assert_eq!(i.records().len(), 1, "an unknown key must not stop tracing");

    fs::write(i.config(), &good).unwrap();
    set_key(&i, "record_bytes", "12");
    let bad_line = 1 + fs::read_to_string(i.config())
        .unwrap()
        .lines()
        .position(|l| l == "record_bytes = 12")
        .unwrap();
    let o = in_system(&i, &py, &[], print).unwrap();
    assert_eq!(o.status.code(), Some(0), "{}", show(&o));
    assert_eq!(String::from_utf8_lossy(&o.stdout), "hello\n");
    assert!(o.stderr.is_empty(), "{}", show(&o));
    assert_eq!(
        i.records().len(),
        1,
        "a bad system config must switch tracing off"
    );
    assert!(fs::read_dir(&i.runtime).unwrap().next().is_none());

    // `config show` of the system file says what the tracer does: off.
    let script = format!("{} config show", shell_quote(i.pyusage().to_str().unwrap()));
    let o = in_system(&i, &py, &[], &script).unwrap();
    assert!(o.status.success(), "{}", show(&o));
    assert!(
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .any(|l| l == "enabled = false"),
        "{}",
        show(&o)
    );
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("tracing is off"),
        "{}",
        show(&o)
    );

    let check = std::process::Command::new(i.pyusage())
        .args(["config", "check", "--config"])
        .arg(i.config())
        .output()
        .unwrap();
    assert_eq!(check.status.code(), Some(1), "{}", show(&check));
    let said = format!("line {bad_line}");
    assert!(
        String::from_utf8_lossy(&check.stdout).contains(&said)
            || String::from_utf8_lossy(&check.stderr).contains(&said),
        "config check must name {said}: {}",
        show(&check)
    );
}
