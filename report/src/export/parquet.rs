//! `pyusage export --parquet DIR`: the store as Parquet, partitioned by day
//! of process start, in the layout Dask, Spark, DuckDB, pyarrow and pandas
//! read directly (hive partitioning):
//!
//! ```text
//! DIR/processes/date=2026-11-26/part-0.parquet   one row per process
//! DIR/packages/date=2026-11-26/part-0.parquet    one row per process x package
//! ```
//!
//! Column names avoid SQL keywords (`user`, `end`, `by`) so that queries
//! need no quoting. The schemas are [`PROCESSES`] and [`PACKAGES`] and are
//! documented in `docs/report.md`. Written with the low-level column API of
//! the `parquet` crate (no Arrow: it keeps the build small), Snappy-compressed.

use super::{each_process, ProcessRow};
use crate::query::{Db, Filters};
use crate::time;
use anyhow::{bail, Context, Result};
use parquet::basic::Compression;
use parquet::data_type::{BoolType, ByteArray, ByteArrayType, DoubleType, Int64Type};
use parquet::file::properties::WriterProperties;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::parser::parse_message_type;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Schema of `processes/`.
pub const PROCESSES: &str = "message process {
  REQUIRED BYTE_ARRAY record_id (STRING);
  REQUIRED INT64 start_time (TIMESTAMP(MICROS,true));
  REQUIRED INT64 end_time (TIMESTAMP(MICROS,true));
  REQUIRED INT64 uid;
  OPTIONAL BYTE_ARRAY user_name (STRING);
  REQUIRED BYTE_ARRAY host (STRING);
  OPTIONAL BYTE_ARRAY scheduler (STRING);
  OPTIONAL BYTE_ARRAY cluster (STRING);
  OPTIONAL BYTE_ARRAY job_id (STRING);
  OPTIONAL BYTE_ARRAY partition (STRING);
  OPTIONAL BYTE_ARRAY step (STRING);
  OPTIONAL INT64 rank;
  OPTIONAL INT64 nodes;
  OPTIONAL INT64 tasks;
  OPTIONAL INT64 gpus;
  OPTIONAL INT64 cpus_per_task;
  REQUIRED BYTE_ARRAY implementation (STRING);
  OPTIONAL BYTE_ARRAY python_version (STRING);
  OPTIONAL BYTE_ARRAY prefix (STRING);
  REQUIRED BYTE_ARRAY exe (STRING);
  OPTIONAL BYTE_ARRAY script (STRING);
  REQUIRED BYTE_ARRAY ended_how (STRING);
  OPTIONAL INT64 ended_status;
  OPTIONAL INT64 ended_signal;
  REQUIRED INT64 pid;
  REQUIRED INT64 ppid;
  OPTIONAL INT64 forked_from;
  REQUIRED INT64 forks;
  REQUIRED DOUBLE sample;
  REQUIRED DOUBLE weight;
  REQUIRED BOOLEAN cuda;
  REQUIRED BOOLEAN mpi;
  REQUIRED BOOLEAN truncated;
  REQUIRED INT64 packages;
}";

/// Schema of `packages/`.
pub const PACKAGES: &str = "message package {
  REQUIRED BYTE_ARRAY record_id (STRING);
  REQUIRED INT64 start_time (TIMESTAMP(MICROS,true));
  REQUIRED INT64 uid;
  OPTIONAL BYTE_ARRAY user_name (STRING);
  OPTIONAL BYTE_ARRAY cluster (STRING);
  OPTIONAL BYTE_ARRAY job_id (STRING);
  OPTIONAL INT64 nodes;
  REQUIRED BYTE_ARRAY package (STRING);
  OPTIONAL BYTE_ARRAY version (STRING);
  OPTIONAL BYTE_ARRAY env (STRING);
  REQUIRED BYTE_ARRAY via (STRING);
  OPTIONAL BYTE_ARRAY imported_by (STRING);
  OPTIONAL INT64 at_ms;
  REQUIRED BOOLEAN cuda;
  REQUIRED DOUBLE weight;
}";

/// What an export wrote.
#[derive(Debug, Default)]
pub struct Written {
    /// Process rows.
    pub processes: u64,
    /// Process x package rows.
    pub packages: u64,
    /// Day partitions.
    pub days: u64,
}

/// One column being filled.
enum Col {
    Str(Vec<ByteArray>, Vec<i16>),
    Int(Vec<i64>, Vec<i16>),
    Dbl(Vec<f64>),
    Bool(Vec<bool>),
}

/// A row group being filled, column by column in schema order.
struct Buf {
    cols: Vec<Col>,
    rows: u64,
    at: usize,
}

impl Buf {
    fn new(kinds: &str) -> Buf {
        Buf {
            cols: kinds
                .chars()
                .map(|k| match k {
                    's' => Col::Str(Vec::new(), Vec::new()),
                    'i' => Col::Int(Vec::new(), Vec::new()),
                    'd' => Col::Dbl(Vec::new()),
                    _ => Col::Bool(Vec::new()),
                })
                .collect(),
            rows: 0,
            at: 0,
        }
    }

    fn s(&mut self, v: Option<&str>) -> &mut Self {
        if let Col::Str(vals, defs) = &mut self.cols[self.at] {
            defs.push(i16::from(v.is_some()));
            if let Some(v) = v {
                vals.push(ByteArray::from(v));
            }
        }
        self.at += 1;
        self
    }

    fn i(&mut self, v: Option<i64>) -> &mut Self {
        if let Col::Int(vals, defs) = &mut self.cols[self.at] {
            defs.push(i16::from(v.is_some()));
            if let Some(v) = v {
                vals.push(v);
            }
        }
        self.at += 1;
        self
    }

    fn d(&mut self, v: f64) -> &mut Self {
        if let Col::Dbl(vals) = &mut self.cols[self.at] {
            vals.push(v);
        }
        self.at += 1;
        self
    }

    fn b(&mut self, v: bool) -> &mut Self {
        if let Col::Bool(vals) = &mut self.cols[self.at] {
            vals.push(v);
        }
        self.at += 1;
        self
    }

    fn end_row(&mut self) {
        assert_eq!(self.at, self.cols.len(), "a row fills every column");
        self.at = 0;
        self.rows += 1;
    }

    /// Write the buffered rows as one file; empty the buffer.
    fn write(&mut self, schema: &str, path: &Path) -> Result<()> {
        let schema = Arc::new(parse_message_type(schema)?);
        let props = Arc::new(
            WriterProperties::builder()
                .set_compression(Compression::SNAPPY)
                .set_created_by(format!("pyusage {}", env!("CARGO_PKG_VERSION")))
                .build(),
        );
        let file = std::fs::File::create(path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        let mut w = SerializedFileWriter::new(file, schema, props)?;
        let mut rg = w.next_row_group()?;
        let mut i = 0;
        while let Some(mut col) = rg.next_column()? {
            match &mut self.cols[i] {
                Col::Str(v, d) => {
                    col.typed::<ByteArrayType>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
                Col::Int(v, d) => {
                    col.typed::<Int64Type>().write_batch(v, Some(d), None)?;
                    v.clear();
                    d.clear();
                }
                Col::Dbl(v) => {
                    col.typed::<DoubleType>().write_batch(v, None, None)?;
                    v.clear();
                }
                Col::Bool(v) => {
                    col.typed::<BoolType>().write_batch(v, None, None)?;
                    v.clear();
                }
            }
            col.close()?;
            i += 1;
        }
        rg.close()?;
        w.close()?;
        self.rows = 0;
        Ok(())
    }
}

/// Column kinds of a schema, in order: `s`tring, `i`nt64, `d`ouble,
/// `b`oolean.
fn kinds(schema: &str) -> String {
    schema
        .lines()
        .filter_map(|l| match l.split_whitespace().nth(1)? {
            "BYTE_ARRAY" => Some('s'),
            "INT64" => Some('i'),
            "DOUBLE" => Some('d'),
            "BOOLEAN" => Some('b'),
            _ => None,
        })
        .collect()
}

fn push_process(b: &mut Buf, p: &ProcessRow) {
    let j = p.job.as_ref();
    b.s(Some(&p.record_id))
        .i(Some(p.start_us))
        .i(Some(p.end_us))
        .i(Some(p.uid))
        .s(p.user.as_deref())
        .s(Some(&p.host))
        .s(j.map(|j| j.scheduler.as_str()))
        .s(j.and_then(|j| j.cluster.as_deref()))
        .s(j.and_then(|j| j.id.as_deref()))
        .s(j.and_then(|j| j.partition.as_deref()))
        .s(p.step.as_deref())
        .i(p.rank)
        .i(j.and_then(|j| j.nodes))
        .i(j.and_then(|j| j.tasks))
        .i(j.and_then(|j| j.gpus))
        .i(j.and_then(|j| j.cpus_per_task))
        .s(Some(&p.implementation))
        .s(p.python_version.as_deref())
        .s(p.prefix.as_deref())
        .s(Some(&p.exe))
        .s(p.script.as_deref())
        .s(Some(&p.ended_how))
        .i(p.ended_status)
        .i(p.ended_signal)
        .i(Some(p.pid))
        .i(Some(p.ppid))
        .i(p.forked_from)
        .i(Some(p.forks))
        .d(p.sample)
        .d(weight(p.sample))
        .b(!p.cuda.is_empty())
        .b(!p.mpi.is_empty())
        .b(p.truncated)
        .i(Some(p.packages.len() as i64))
        .end_row();
}

fn push_packages(b: &mut Buf, p: &ProcessRow) {
    let j = p.job.as_ref();
    for (k, m) in p.packages.iter().enumerate() {
        b.s(Some(&p.record_id))
            .i(Some(p.start_us))
            .i(Some(p.uid))
            .s(p.user.as_deref())
            .s(j.and_then(|j| j.cluster.as_deref()))
            .s(j.and_then(|j| j.id.as_deref()))
            .i(j.and_then(|j| j.nodes))
            .s(Some(&m.name))
            .s(m.version.as_deref())
            .s(m.env.as_deref())
            .s(Some(&m.via))
            .s(m.by.as_deref())
            .i(p.import_ms.get(k).copied().flatten())
            .b(!p.cuda.is_empty())
            .d(weight(p.sample))
            .end_row();
    }
}

/// `1/sample`, 0 for a nonsensical sample.
fn weight(sample: f64) -> f64 {
    if sample > 0.0 {
        1.0 / sample
    } else {
        0.0
    }
}

/// Write the export under `dir`, replacing `dir/processes` and
/// `dir/packages` (built beside them, then renamed into place).
pub fn export(db: &mut Db, filters: &Filters, dir: &Path) -> Result<Written> {
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let tmp = dir.join(format!(".pyusage-export-{}", std::process::id()));
    if tmp.exists() {
        std::fs::remove_dir_all(&tmp)?;
    }
    let mut written = Written::default();
    let mut procs = Buf::new(&kinds(PROCESSES));
    let mut pkgs = Buf::new(&kinds(PACKAGES));
    let mut day: Option<i64> = None;
    let flush = |day: i64, procs: &mut Buf, pkgs: &mut Buf, w: &mut Written| -> Result<()> {
        let date = time::date(day * time::DAY_US);
        for (table, buf, schema) in [
            ("processes", procs, PROCESSES),
            ("packages", pkgs, PACKAGES),
        ] {
            let rows = buf.rows;
            let d: PathBuf = tmp.join(table).join(format!("date={date}"));
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            buf.write(schema, &d.join("part-0.parquet"))?;
            if table == "processes" {
                w.processes += rows;
            } else {
                w.packages += rows;
            }
        }
        w.days += 1;
        Ok(())
    };
    let result = each_process(db, filters, |p| {
        let d = p.start_us.div_euclid(time::DAY_US);
        if let Some(cur) = day.filter(|c| *c != d) {
            flush(cur, &mut procs, &mut pkgs, &mut written)?;
        }
        day = Some(d);
        push_process(&mut procs, &p);
        push_packages(&mut pkgs, &p);
        Ok(())
    })
    .and_then(|_| match day {
        Some(cur) => flush(cur, &mut procs, &mut pkgs, &mut written),
        None => Ok(()),
    });
    if let Err(e) = result {
        let _ = std::fs::remove_dir_all(&tmp);
        return Err(e);
    }
    if written.processes == 0 {
        let _ = std::fs::remove_dir_all(&tmp);
        bail!("no records to export");
    }
    for table in ["processes", "packages"] {
        let dest = dir.join(table);
        if dest.exists() {
            std::fs::remove_dir_all(&dest)
                .with_context(|| format!("cannot replace {}", dest.display()))?;
        }
        std::fs::rename(tmp.join(table), &dest)
            .with_context(|| format!("cannot write {}", dest.display()))?;
    }
    std::fs::remove_dir_all(&tmp)?;
    Ok(written)
}
