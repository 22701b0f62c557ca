//! Scheduler and MPI context, read from the environment the job was given.
//!
//! Slurm exports `SLURM_JOB_ID`, `SLURM_STEP_ID`, `SLURM_JOB_NUM_NODES`,
//! `SLURM_NTASKS`, `SLURM_PROCID`, `SLURM_CLUSTER_NAME`, `SLURM_JOB_PARTITION`,
//! `SLURM_CPUS_PER_TASK` and its GPU variables to every task. MPI launchers
//! export their own rank and size (Open MPI, PMIx, PMI/Hydra, MVAPICH).
//!
//! The launcher's rank and size win over Slurm's: `mpirun` inside a batch
//! script is the common pattern, and there every rank inherits the batch
//! step's `SLURM_PROCID=0` and `SLURM_NTASKS`, so Slurm's numbers would make
//! every rank rank 0. Under `srun` both agree.

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
    /// Slurm partition.
    pub partition: Option<&'a [u8]>,
    /// GPUs allocated to the step or job on this node.
    pub gpus: Option<u32>,
    /// CPUs per task.
    pub cpus_per_task: Option<u32>,
}

/// Names of the record's `j` entries and of the shipped `job` fields.
pub const KEYS: [&str; 10] = [
    "scheduler",
    "id",
    "step",
    "cluster",
    "nodes",
    "tasks",
    "rank",
    "partition",
    "gpus",
    "cpus_per_task",
];

/// Rank variables, launchers' first (see the module comment).
const RANK_VARS: [&[u8]; 5] = [
    b"OMPI_COMM_WORLD_RANK",
    b"PMIX_RANK",
    b"PMI_RANK",
    b"MV2_COMM_WORLD_RANK",
    b"SLURM_PROCID",
];

/// World size variables, launchers' first.
const SIZE_VARS: [&[u8]; 4] = [
    b"OMPI_COMM_WORLD_SIZE",
    b"PMI_SIZE",
    b"MV2_COMM_WORLD_SIZE",
    b"SLURM_NTASKS",
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

/// Counts the entries of a comma list (`0,1,3` -> 3); `None` unless every
/// entry is non-empty. Slurm's `SLURM_*_GPUS` and `CUDA_VISIBLE_DEVICES` are
/// such lists (of indices or UUIDs).
fn count_list(v: &[u8]) -> Option<u32> {
    if v.split(|&c| c == b',')
        .any(|e| e.is_empty() || e.len() > 64)
    {
        return None;
    }
    Some(v.iter().filter(|&&c| c == b',').count() as u32 + 1)
}

/// Reads a GPU count such as `4`, `a100:4` or `a100:2,v100:1` (summed).
fn parse_gpu_count(v: &[u8]) -> Option<u32> {
    v.split(|&c| c == b',').try_fold(0u32, |sum, part| {
        let n = part.rsplit(|&c| c == b':').next()?;
        sum.checked_add(parse_u32(n)?)
    })
}

/// GPUs allocated to this step or job on this node: the step's list, then
/// the node count, the job's list, the job's total, and without any Slurm
/// GPU variable the devices `CUDA_VISIBLE_DEVICES` lists (empty = 0).
fn gpus<'a>(env: &impl Fn(&[u8]) -> Option<&'a [u8]>) -> Option<u32> {
    let set = |n: &[u8]| env(n).filter(|v| !v.is_empty());
    set(b"SLURM_STEP_GPUS")
        .and_then(count_list)
        .or_else(|| set(b"SLURM_GPUS_ON_NODE").and_then(parse_u32))
        .or_else(|| set(b"SLURM_JOB_GPUS").and_then(count_list))
        .or_else(|| set(b"SLURM_GPUS").and_then(parse_gpu_count))
        .or_else(|| {
            let cvd = env(b"CUDA_VISIBLE_DEVICES")?;
            if cvd.is_empty() || cvd == b"NoDevFiles" || cvd.starts_with(b"-1") {
                Some(0)
            } else {
                count_list(cvd)
            }
        })
}

impl<'a> Job<'a> {
    /// Reads the context through `env` (a variable lookup); `None` outside any job.
    pub fn from_env(env: impl Fn(&[u8]) -> Option<&'a [u8]>) -> Option<Job<'a>> {
        let id = first_of(&env, &[b"SLURM_JOB_ID", b"SLURM_JOBID"]);
        // The first variable that parses wins, so a launcher's rank is never
        // replaced by Slurm's inherited one.
        let number = |names: &[&[u8]]| {
            names
                .iter()
                .find_map(|n| env(n).filter(|v| !v.is_empty()).and_then(parse_u32))
        };
        let rank = number(&RANK_VARS);
        let tasks = number(&SIZE_VARS);
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
            partition: first_of(&env, &[b"SLURM_JOB_PARTITION"]),
            gpus: gpus(&env),
            cpus_per_task: first_of(&env, &[b"SLURM_CPUS_PER_TASK"]).and_then(parse_u32),
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

    #[test]
    fn launcher_rank_wins_over_inherited_slurm_rank() {
        // mpirun -np 4 inside a batch script: every rank inherits the batch
        // step's SLURM_PROCID=0 and SLURM_NTASKS=1.
        for (launcher, rank, size) in [
            ("OMPI", "OMPI_COMM_WORLD_RANK", "OMPI_COMM_WORLD_SIZE"),
            ("Hydra", "PMI_RANK", "PMI_SIZE"),
            ("MVAPICH", "MV2_COMM_WORLD_RANK", "MV2_COMM_WORLD_SIZE"),
        ] {
            let vars = [
                ("SLURM_JOB_ID", "42"),
                ("SLURM_PROCID", "0"),
                ("SLURM_NTASKS", "1"),
                (rank, "3"),
                (size, "4"),
            ];
            let j = Job::from_env(env(&vars)).unwrap();
            assert_eq!((j.rank, j.tasks), (Some(3), Some(4)), "{launcher}");
            assert_eq!(j.scheduler, "slurm");
            assert!(j.is_secondary_rank(), "{launcher}");
        }
        let pmix = [
            ("SLURM_JOB_ID", "42"),
            ("SLURM_PROCID", "0"),
            ("PMIX_RANK", "2"),
        ];
        assert_eq!(Job::from_env(env(&pmix)).unwrap().rank, Some(2));
        // A launcher variable that does not parse does not hide Slurm's.
        let junk = [("SLURM_PROCID", "1"), ("PMI_RANK", "x")];
        assert_eq!(Job::from_env(env(&junk)).unwrap().rank, Some(1));
    }

    #[test]
    fn partition_gpus_and_cpus_per_task() {
        let vars = [
            ("SLURM_JOB_ID", "42"),
            ("SLURM_JOB_PARTITION", "gpu"),
            ("SLURM_CPUS_PER_TASK", "8"),
            ("SLURM_JOB_GPUS", "0,1,2,3"),
            ("SLURM_STEP_GPUS", "2,3"),
            ("CUDA_VISIBLE_DEVICES", "0"),
        ];
        let j = Job::from_env(env(&vars)).unwrap();
        assert_eq!(j.partition, Some(&b"gpu"[..]));
        assert_eq!((j.gpus, j.cpus_per_task), (Some(2), Some(8)));
        let gpus_of = |vars: &[(&str, &str)]| {
            let mut all = vec![("SLURM_JOB_ID", "1")];
            all.extend_from_slice(vars);
            Job::from_env(env(&all)).unwrap().gpus
        };
        assert_eq!(gpus_of(&[("SLURM_JOB_GPUS", "0,1,2,3")]), Some(4));
        assert_eq!(
            gpus_of(&[("SLURM_GPUS_ON_NODE", "2"), ("SLURM_JOB_GPUS", "0,1,2,3")]),
            Some(2)
        );
        assert_eq!(gpus_of(&[("SLURM_GPUS", "a100:2,v100:1")]), Some(3));
        assert_eq!(
            gpus_of(&[("CUDA_VISIBLE_DEVICES", "GPU-1a,GPU-2b")]),
            Some(2)
        );
        assert_eq!(gpus_of(&[("CUDA_VISIBLE_DEVICES", "")]), Some(0));
        assert_eq!(gpus_of(&[("CUDA_VISIBLE_DEVICES", "-1")]), Some(0));
        assert_eq!(gpus_of(&[("CUDA_VISIBLE_DEVICES", "0,,1")]), None);
        assert_eq!(gpus_of(&[]), None);
        // GPUs alone do not make a job.
        assert!(Job::from_env(env(&[("CUDA_VISIBLE_DEVICES", "0")])).is_none());
    }
}
