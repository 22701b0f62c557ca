//! Scheduler and MPI context, read from the environment the job was given.
//!
//! Slurm exports `SLURM_JOB_ID`, `SLURM_STEP_ID`, `SLURM_JOB_NUM_NODES`,
//! `SLURM_NTASKS`, `SLURM_PROCID` and `SLURM_CLUSTER_NAME` to every task. MPI
//! launchers outside Slurm export their own rank and size variables (PMI,
//! PMIx, Open MPI), which are used when Slurm's are absent.

/// Job context; every field is optional because launchers export different sets.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Job<'a> {
    /// `slurm` or `mpi`.
    pub scheduler: &'static str,
    /// Job id.
    pub id: Option<&'a [u8]>,
    /// Step id.
    pub step: Option<&'a [u8]>,
    /// Cluster name.
    pub cluster: Option<&'a [u8]>,
    /// Number of nodes.
    pub nodes: Option<u32>,
    /// Number of tasks (MPI world size).
    pub tasks: Option<u32>,
    /// This task's rank.
    pub rank: Option<u32>,
}

/// Names of the record's `j` entries and of the shipped `job` fields.
pub const KEYS: [&str; 7] = [
    "scheduler",
    "id",
    "step",
    "cluster",
    "nodes",
    "tasks",
    "rank",
];

fn first_of<'a>(env: &impl Fn(&[u8]) -> Option<&'a [u8]>, names: &[&[u8]]) -> Option<&'a [u8]> {
    names.iter().find_map(|n| env(n)).filter(|v| !v.is_empty())
}

/// Parses a small decimal number; `None` for anything else.
pub fn parse_u32(v: &[u8]) -> Option<u32> {
    if v.is_empty() || v.len() > 9 || !v.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(v.iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0')))
}

impl<'a> Job<'a> {
    /// Reads the context through `env` (a variable lookup); `None` outside any job.
    pub fn from_env(env: impl Fn(&[u8]) -> Option<&'a [u8]>) -> Option<Job<'a>> {
        let rank_vars: [&[u8]; 4] = [
            b"SLURM_PROCID",
            b"PMIX_RANK",
            b"OMPI_COMM_WORLD_RANK",
            b"PMI_RANK",
        ];
        let size_vars: [&[u8]; 4] = [
            b"SLURM_NTASKS",
            b"OMPI_COMM_WORLD_SIZE",
            b"PMI_SIZE",
            b"PMIX_SIZE",
        ];
        let id = first_of(&env, &[b"SLURM_JOB_ID", b"SLURM_JOBID"]);
        let rank = first_of(&env, &rank_vars).and_then(parse_u32);
        let tasks = first_of(&env, &size_vars).and_then(parse_u32);
        if id.is_none() && rank.is_none() && tasks.is_none() {
            return None;
        }
        Some(Job {
            scheduler: if id.is_some() { "slurm" } else { "mpi" },
            id,
            step: first_of(&env, &[b"SLURM_STEP_ID", b"SLURM_STEPID"]),
            cluster: first_of(&env, &[b"SLURM_CLUSTER_NAME"]),
            nodes: first_of(&env, &[b"SLURM_JOB_NUM_NODES", b"SLURM_NNODES"]).and_then(parse_u32),
            tasks,
            rank,
        })
    }

    /// True for rank 1 and up of a multi-task step: by default only rank 0 records.
    pub fn is_secondary_rank(&self) -> bool {
        self.tasks.unwrap_or(1) > 1 && self.rank.unwrap_or(0) > 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&[u8]) -> Option<&'a [u8]> {
        move |k| {
            vars.iter()
                .find(|(n, _)| n.as_bytes() == k)
                .map(|(_, v)| v.as_bytes())
        }
    }

    #[test]
    fn slurm_step() {
        let vars = [
            ("SLURM_JOB_ID", "42"),
            ("SLURM_STEP_ID", "0"),
            ("SLURM_JOB_NUM_NODES", "2"),
            ("SLURM_NTASKS", "4"),
            ("SLURM_PROCID", "1"),
            ("SLURM_CLUSTER_NAME", "c1"),
        ];
        let j = Job::from_env(env(&vars)).unwrap();
        assert_eq!(j.scheduler, "slurm");
        assert_eq!(j.id, Some(&b"42"[..]));
        assert_eq!((j.nodes, j.tasks, j.rank), (Some(2), Some(4), Some(1)));
        assert!(j.is_secondary_rank());
    }

    #[test]
    fn mpi_without_slurm_and_nothing_outside_jobs() {
        let vars = [("OMPI_COMM_WORLD_RANK", "0"), ("OMPI_COMM_WORLD_SIZE", "8")];
        let j = Job::from_env(env(&vars)).unwrap();
        assert_eq!((j.scheduler, j.tasks, j.rank), ("mpi", Some(8), Some(0)));
        assert!(!j.is_secondary_rank());
        assert!(Job::from_env(env(&[("HOME", "/root")])).is_none());
        assert_eq!(parse_u32(b"12x"), None);
    }
}
