//! `pyusage export`: the store as Parquet partitioned by day (for Dask,
//! Spark, DuckDB, pandas) and as NDJSON records (plain, which `pyusage
//! ingest` reads back, or in the `_bulk` form of Elasticsearch/OpenSearch).

use crate::config::Settings;
use anyhow::{bail, Context, Result};
use clap::Args;
use pyusage_report::export::{self, ProcessRow};
use pyusage_report::query::{Db, Filters};
use pyusage_report::time;
use pyusage_store::{Store, StoreUrl};
use pyusage_tools::shipped::{Ended, Job, Native, Package, Python, Record};
use std::io::{BufWriter, Write};
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct ExportArgs {
    /// The store: a path, sqlite:PATH or postgresql://... (default: `store` in the configuration).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Write Parquet under DIR: DIR/processes/date=YYYY-MM-DD/ and DIR/packages/date=YYYY-MM-DD/
    /// (both replaced).
    #[arg(long, value_name = "DIR")]
    parquet: Option<PathBuf>,
    /// Write one record per line to FILE (`-`: standard output), as `pyusage ingest` reads them.
    #[arg(long, value_name = "FILE")]
    ndjson: Option<PathBuf>,
    /// With --ndjson: Elasticsearch/OpenSearch `_bulk` form (an action line before each record).
    #[arg(long, requires = "ndjson")]
    bulk: bool,
    /// With --bulk: the index named in the action lines.
    #[arg(
        long,
        value_name = "NAME",
        default_value = "pyusage",
        requires = "bulk"
    )]
    index: String,
    /// Processes that started on or after DATE (YYYY-MM-DD or RFC 3339, UTC).
    #[arg(long, value_name = "DATE")]
    since: Option<String>,
    /// Processes that started before DATE; a bare date includes that whole day.
    #[arg(long, value_name = "DATE")]
    until: Option<String>,
    /// Only processes in jobs of this cluster.
    #[arg(long, value_name = "NAME")]
    cluster: Option<String>,
    #[command(flatten)]
    settings: Settings,
}

pub fn run(a: ExportArgs) -> Result<ExitCode> {
    if a.parquet.is_none() && a.ndjson.is_none() {
        bail!("nothing to write: give --parquet DIR and/or --ndjson FILE");
    }
    let eff = a.settings.load()?;
    let url = StoreUrl::parse(&a.db.clone().unwrap_or_else(|| eff.store.clone()))?;
    let since = a.since.as_deref().map(time::parse).transpose()?;
    let until = a.until.as_deref().map(time::parse).transpose()?;
    let filters = Filters {
        since_us: since.map(|s| s.us),
        until_us: until.map(|u| {
            if u.date_only {
                u.us + time::DAY_US
            } else {
                u.us
            }
        }),
        cluster: a.cluster.clone(),
        exclude_users: Vec::new(),
    };
    time::check_order(filters.since_us, filters.until_us)?;
    let mut db = Db::from(Store::open_existing(&url)?);
    if let Some(dir) = &a.parquet {
        let w = export::parquet::export(&mut db, &filters, dir)
            .with_context(|| format!("{}", dir.display()))?;
        eprintln!(
            "pyusage: {}: {} processes, {} package rows, {} days",
            dir.display(),
            w.processes,
            w.packages,
            w.days
        );
    }
    if let Some(path) = &a.ndjson {
        let n = if path.as_os_str() == "-" {
            let out = std::io::stdout().lock();
            ndjson(
                &mut db,
                &filters,
                BufWriter::new(out),
                a.bulk.then_some(&a.index),
            )?
        } else {
            let tmp = path.with_extension(format!("tmp{}", std::process::id()));
            let file = std::fs::File::create(&tmp)
                .with_context(|| format!("cannot create {}", tmp.display()))?;
            let n = ndjson(
                &mut db,
                &filters,
                BufWriter::new(file),
                a.bulk.then_some(&a.index),
            )
            .inspect_err(|_| {
                let _ = std::fs::remove_file(&tmp);
            })?;
            std::fs::rename(&tmp, path)
                .with_context(|| format!("cannot write {}", path.display()))?;
            n
        };
        eprintln!("pyusage: {}: {n} records", path.display());
    }
    Ok(ExitCode::SUCCESS)
}

fn ndjson(db: &mut Db, f: &Filters, mut out: impl Write, bulk: Option<&String>) -> Result<u64> {
    let mut n = 0;
    export::each_process(db, f, |p| {
        let rec = serde_json::to_value(record(&p))?;
        let rec = if p.schema < 2 { schema1(rec) } else { rec };
        if let Some(index) = bulk {
            serde_json::to_writer(
                &mut out,
                &serde_json::json!({"index": {"_index": index, "_id": p.record_id}}),
            )?;
            out.write_all(b"\n")?;
        }
        serde_json::to_writer(&mut out, &rec)?;
        out.write_all(b"\n")?;
        n += 1;
        Ok(())
    })?;
    out.flush()?;
    Ok(n)
}

/// The shipped record a store row came from, with the owner the store
/// attributed as `uid`/`user`.
fn record(p: &ProcessRow) -> Record {
    let rfc = |us: i64| {
        let secs = us.div_euclid(1_000_000);
        format!(
            "{}.{:06}Z",
            time::timestamp(secs * 1_000_000).trim_end_matches('Z'),
            us.rem_euclid(1_000_000)
        )
    };
    let small = |v: Option<i64>| v.and_then(|v| u32::try_from(v).ok());
    Record {
        schema: p.schema as u32,
        id: p.record_id.clone(),
        pid: p.pid as u32,
        ppid: p.ppid as u32,
        uid: p.uid as u32,
        user: p.user.clone(),
        host: p.host.clone(),
        exe: p.exe.clone(),
        script: p.script.clone(),
        notebook: p.notebook.clone(),
        python: Python {
            version: p.python_version.clone(),
            implementation: p.implementation.clone(),
            prefix: p.prefix.clone(),
        },
        start: rfc(p.start_us),
        end: rfc(p.end_us),
        ended: Ended {
            how: p.ended_how.clone(),
            status: p.ended_status.map(|v| v as i32),
            signal: p.ended_signal.map(|v| v as i32),
        },
        job: p.job.as_ref().map(|j| Job {
            scheduler: j.scheduler.clone(),
            id: j.id.clone(),
            step: p.step.clone(),
            cluster: j.cluster.clone(),
            nodes: small(j.nodes),
            tasks: small(j.tasks),
            rank: small(p.rank),
            partition: j.partition.clone(),
            gpus: small(j.gpus),
            cpus_per_task: small(j.cpus_per_task),
        }),
        packages: p
            .packages
            .iter()
            .enumerate()
            .map(|(i, m)| Package {
                name: m.name.clone(),
                version: m.version.clone(),
                via: m.via.clone(),
                env: m.env.clone(),
                by: m.by.clone(),
                at_ms: p
                    .import_ms
                    .get(i)
                    .copied()
                    .flatten()
                    .and_then(|v| u64::try_from(v).ok()),
            })
            .collect(),
        unmapped: p.unmapped.clone(),
        native: Native {
            cuda: p.cuda.clone(),
            mpi: p.mpi.clone(),
            blas: p.blas.clone(),
        },
        forked_from: p.forked_from.map(|v| v as u32),
        forks: p.forks as u32,
        sample: p.sample,
        truncated: p.truncated,
    }
}

/// A schema-1 record has none of schema 2's fields.
fn schema1(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(o) = v.as_object_mut() {
        o.remove("notebook");
    }
    if let Some(j) = v.get_mut("job").and_then(|j| j.as_object_mut()) {
        for k in ["partition", "gpus", "cpus_per_task"] {
            j.remove(k);
        }
    }
    if let Some(pk) = v.get_mut("packages").and_then(|p| p.as_array_mut()) {
        for p in pk.iter_mut().filter_map(|p| p.as_object_mut()) {
            p.remove("by");
            p.remove("at_ms");
        }
    }
    v
}
