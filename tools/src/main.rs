//! `pyusage`: the on-demand side of pyusage.
//!
//! The tracer (`libpyusage.so`) runs in every process; this command does
//! everything else, when asked:
//!
//! - `run`: run a command under the tracer, as a user under the module would;
//! - `sweep`: ship the records that killed processes left on tmpfs;
//! - `map`: build, query, inspect and compare package maps;
//! - `config`: show and check the configuration the tracer would use;
//! - `ingest`: store shipped records in SQLite or PostgreSQL;
//! - `report`: answers from the store (text, CSV, JSON, HTML with charts);
//! - `export`: the store as Parquet partitioned by day, or as NDJSON;
//! - `spool`: set up a spool directory with fan-out subdirectories;
//! - `doctor`: check an installation, one line per check;
//! - `canary`: follow one traced process's record through the pipeline.

mod canary;
mod config;
mod doctor;
mod export_cmd;
mod ingest;
mod map_cmd;
mod msg;
mod report_cmd;
mod run;
mod sinks;
mod spool;
mod spool_cmd;
mod sweep;

use clap::{Parser, Subcommand};

/// Ingest allocates and frees many small strings per record; glibc's
/// allocator spent 40% of a record's parse time on them, mimalloc a fraction.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;
use std::process::ExitCode;

/// Which Python packages do users really run? Tools around the pyusage tracer.
#[derive(Parser)]
#[command(name = "pyusage", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a command under the tracer (sets LD_PRELOAD and the tracer's settings).
    Run(run::RunArgs),
    /// Ship records left on tmpfs by processes that are gone (killed, OOM, walltime).
    Sweep(sweep::SweepArgs),
    /// Build, query and compare package maps (path -> distribution and version).
    Map(map_cmd::MapArgs),
    /// Show or check the configuration the tracer would use.
    Config(config::ConfigArgs),
    /// Answers from the store: top packages, versions, job size, packages used together, ...
    Report(report_cmd::ReportArgs),
    /// Write the store as Parquet (partitioned by day) or as NDJSON records.
    Export(export_cmd::ExportArgs),
    /// Store shipped records (spool directories, NDJSON files) in SQLite or PostgreSQL.
    Ingest(ingest::IngestArgs),
    /// Set up a spool directory (fan-out subdirectories for large sites).
    Spool(spool_cmd::SpoolArgs),
    /// Check an installation: config, map, directories, syslog, library, store (OK/WARN/FAIL).
    Doctor(doctor::DoctorArgs),
    /// Run a traced Python process and wait until its record arrives (spool, syslog file, store).
    Canary(canary::CanaryArgs),
}

/// Variables that name settings; an empty one means "not set", as in the tracer.
const SETTING_VARS: [&str; 5] = [
    "PYUSAGE_CONFIG",
    "PYUSAGE_SPOOL",
    "PYUSAGE_RUNTIME_DIR",
    "PYUSAGE_MAP",
    "PYUSAGE_LIB",
];

fn main() -> ExitCode {
    for var in SETTING_VARS {
        if std::env::var_os(var).is_some_and(|v| v.is_empty()) {
            // Single-threaded here, before anything reads the environment.
            std::env::remove_var(var);
        }
    }
    // A closed pipe (`pyusage map diff A B | head`) ends the program quietly,
    // as it does `cat`, instead of a "Broken pipe" error from println!.
    // SAFETY: single-threaded, before any output; SIG_DFL is always valid.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_DFL);
    }
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            let code = match e.kind() {
                clap::error::ErrorKind::DisplayHelp | clap::error::ErrorKind::DisplayVersion => 0,
                // `pyusage run`'s own failures never look like the command's.
                _ if std::env::args_os().nth(1).is_some_and(|a| a == "run") => {
                    run::EXIT_SETUP_FAILED
                }
                _ => 2,
            };
            return ExitCode::from(code);
        }
    };
    let result = match cli.command {
        Command::Run(args) => run::run(args),
        Command::Sweep(args) => sweep::run(args),
        Command::Map(args) => map_cmd::run(args),
        Command::Config(args) => config::run(args),
        Command::Report(args) => report_cmd::run(args),
        Command::Export(args) => export_cmd::run(args),
        Command::Ingest(args) => ingest::run(args),
        Command::Spool(args) => spool_cmd::run(args),
        Command::Doctor(args) => doctor::run(args),
        Command::Canary(args) => canary::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            msg::error(&e);
            ExitCode::from(2)
        }
    }
}
