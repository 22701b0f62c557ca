//! The shipped JSON record as typed data, for the tools that read spools.
//! Field by field it matches `docs/record.md` and `docs/record.schema.json`.

use serde::{Deserialize, Serialize};

/// One shipped record.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    /// Record schema version.
    pub schema: u32,
    /// Unique record id (32 hex digits).
    pub id: String,
    /// Process id.
    pub pid: u32,
    /// Parent process id.
    pub ppid: u32,
    /// User id.
    pub uid: u32,
    /// User name.
    pub user: Option<String>,
    /// Host name.
    pub host: String,
    /// Executable.
    pub exe: String,
    /// Script, `-c` or `-m module`.
    pub script: Option<String>,
    /// Interpreter.
    pub python: Python,
    /// Start, RFC 3339.
    pub start: String,
    /// End, RFC 3339.
    pub end: String,
    /// How it ended.
    pub ended: Ended,
    /// Job context.
    pub job: Option<Job>,
    /// Distributions used.
    pub packages: Vec<Package>,
    /// Module files no distribution claims.
    pub unmapped: Vec<String>,
    /// Native libraries of interest.
    pub native: Native,
    /// Parent pid for a fork child's record.
    pub forked_from: Option<u32>,
    /// Fork children counted here.
    pub forks: u32,
    /// Sampling probability.
    pub sample: f64,
    /// The raw record filled up.
    pub truncated: bool,
}

/// The `python` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Python {
    /// `3.11.7`.
    pub version: Option<String>,
    /// `cpython`.
    pub implementation: String,
    /// `sys.prefix`.
    pub prefix: Option<String>,
}

/// The `ended` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ended {
    /// `exit`, `_exit`, `exec`, `signal` or `vanished`.
    pub how: String,
    /// Exit status.
    pub status: Option<i32>,
    /// Signal number.
    pub signal: Option<i32>,
}

/// The `job` object.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Job {
    /// `slurm` or `mpi`.
    pub scheduler: String,
    /// Job id.
    pub id: Option<String>,
    /// Step id.
    pub step: Option<String>,
    /// Cluster.
    pub cluster: Option<String>,
    /// Nodes.
    pub nodes: Option<u32>,
    /// Tasks.
    pub tasks: Option<u32>,
    /// Rank.
    pub rank: Option<u32>,
}

/// One entry of `packages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Distribution name as in its metadata.
    pub name: String,
    /// Version.
    pub version: String,
    /// `import`, `extension` or `library`.
    pub via: String,
    /// Environment label or prefix.
    pub env: String,
}

/// The `native` object.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Native {
    /// CUDA libraries.
    pub cuda: Vec<String>,
    /// MPI libraries.
    pub mpi: Vec<String>,
    /// BLAS libraries.
    pub blas: Vec<String>,
}
