//! The shipped JSON record as typed data, for the tools that read spools.
//! Field by field it matches `docs/record.md` and `docs/record.schema.json`.
//!
//! One type reads both record schemas: the fields schema 2 added
//! (`notebook`, `packages[].by`, `packages[].at_ms`, `job.partition`,
//! `job.gpus`, `job.cpus_per_task`) are `None` when a schema 1 record lacks
//! them. [`Record::check_schema`] rejects a schema this crate does not know.

use serde::{Deserialize, Serialize};

/// The newest record schema (what the tracer writes).
pub const SCHEMA: u32 = pyusage_record::SCHEMA_VERSION;

/// Every record schema the tools read.
pub const SCHEMAS: [u32; 2] = [1, 2];

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
    /// Schema 2: the notebook a Jupyter kernel runs, when the server says.
    #[serde(default)]
    pub notebook: Option<String>,
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

impl Record {
    /// Errors when `schema` is not one of [`SCHEMAS`], naming the number.
    pub fn check_schema(&self) -> Result<(), String> {
        if SCHEMAS.contains(&self.schema) {
            Ok(())
        } else {
            Err(format!(
                "record schema {} is not one this pyusage reads (1 or 2)",
                self.schema
            ))
        }
    }
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
    /// Schema 2: `SLURM_JOB_PARTITION`.
    #[serde(default)]
    pub partition: Option<String>,
    /// Schema 2: GPUs allocated to the job or step.
    #[serde(default)]
    pub gpus: Option<u32>,
    /// Schema 2: `SLURM_CPUS_PER_TASK`.
    #[serde(default)]
    pub cpus_per_task: Option<u32>,
}

/// One entry of `packages`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Package {
    /// Distribution name as in its metadata.
    pub name: String,
    /// Version (null when the map does not know it).
    pub version: Option<String>,
    /// `import`, `extension` or `library`.
    pub via: String,
    /// Environment label or prefix.
    pub env: Option<String>,
    /// Schema 2: `None` when the program's own code imported it first, else
    /// the distribution whose code did. Always `None` in schema 1.
    #[serde(default)]
    pub by: Option<String>,
    /// Schema 2: milliseconds from process start to the first import.
    #[serde(default)]
    pub at_ms: Option<u64>,
}

impl Package {
    /// True when the program's own code imported it (schema 2), or when the
    /// record does not say (schema 1, or an entry seen only as a native library).
    pub fn is_direct(&self) -> bool {
        self.by.is_none()
    }
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

#[cfg(test)]
mod tests {
    use super::*;

    const V1: &str = r#"{"schema":1,"id":"0123456789abcdef0123456789abcdef","pid":7,"ppid":1,
      "uid":1000,"user":"alice","host":"n1","exe":"/usr/bin/python3","script":"-c",
      "python":{"version":"3.11.2","implementation":"cpython","prefix":"/usr"},
      "start":"2026-11-26T06:30:00.000000Z","end":"2026-11-26T06:30:01.000000Z",
      "ended":{"how":"exit","status":0,"signal":null},
      "job":{"scheduler":"slurm","id":"42","step":"0","cluster":null,"nodes":1,"tasks":4,"rank":0},
      "packages":[{"name":"six","version":null,"via":"import","env":null}],
      "unmapped":[],"native":{"cuda":[],"mpi":[],"blas":[]},
      "forked_from":null,"forks":0,"sample":1.0,"truncated":false}"#;

    #[test]
    fn schema_1_reads_with_new_fields_null() {
        let r: Record = serde_json::from_str(V1).unwrap();
        r.check_schema().unwrap();
        assert_eq!(r.notebook, None);
        let job = r.job.unwrap();
        assert_eq!(
            (job.partition, job.gpus, job.cpus_per_task),
            (None, None, None)
        );
        let p = &r.packages[0];
        assert_eq!((p.version.as_deref(), p.env.as_deref()), (None, None));
        assert_eq!((p.by.as_deref(), p.at_ms), (None, None));
        assert!(p.is_direct());
    }

    #[test]
    fn schema_2_reads_new_fields() {
        let v2 = V1
            .replace(r#""schema":1"#, r#""schema":2"#)
            .replace(
                r#""script":"-c","#,
                r#""script":"-m ipykernel_launcher","notebook":"a.ipynb","#,
            )
            .replace(
                r#""rank":0}"#,
                r#""rank":0,"partition":"gpu","gpus":4,"cpus_per_task":8}"#,
            )
            .replace(r#""env":null}"#, r#""env":null,"by":"pandas","at_ms":153}"#);
        let r: Record = serde_json::from_str(&v2).unwrap();
        r.check_schema().unwrap();
        assert_eq!(r.notebook.as_deref(), Some("a.ipynb"));
        let job = r.job.as_ref().unwrap();
        assert_eq!(
            (job.partition.as_deref(), job.gpus, job.cpus_per_task),
            (Some("gpu"), Some(4), Some(8))
        );
        let p = &r.packages[0];
        assert_eq!((p.by.as_deref(), p.at_ms), (Some("pandas"), Some(153)));
        assert!(!p.is_direct());
        let back: Record = serde_json::from_str(&serde_json::to_string(&r).unwrap()).unwrap();
        assert_eq!(back, r);
    }

    #[test]
    fn unknown_schema_and_fields_are_refused() {
        let r: Record =
            serde_json::from_str(&V1.replace(r#""schema":1"#, r#""schema":3"#)).unwrap();
        let e = r.check_schema().unwrap_err();
        assert!(e.contains("schema 3"), "{e}");
        let extra = V1.replace(r#""forks":0"#, r#""forks":0,"extra":1"#);
        assert!(serde_json::from_str::<Record>(&extra).is_err());
    }
}
