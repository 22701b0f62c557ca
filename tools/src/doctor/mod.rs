//! `pyusage doctor`: check an installation as an admin would, before and
//! after enabling it.
//!
//! Each check is a small function from the [`Ctx`] (the settings in force,
//! the library, the store) to one [`Check`] line: OK, WARN or FAIL with the
//! reason. [`CHECKS`] lists them in the order they print; adding a check is
//! adding a function to that list. The command exits 1 if any check failed.
//!
//! - [`files`]: the configuration, the runtime directory, the spool, records
//!   waiting for the sweep;
//! - [`map`]: the package map (valid, not older than what it covers);
//! - [`glibc`]: the tracer library's glibc symbol versions against this system's;
//! - [`pipeline`]: syslog, the store, `LD_PRELOAD` in a login shell.

mod files;
mod glibc;
mod map;
mod pipeline;

use crate::config::{Effective, Settings};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use std::process::ExitCode;

/// `pyusage doctor` options.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    #[command(flatten)]
    settings: Settings,
    /// Tracer library to check (default: as `pyusage run` finds it; also $PYUSAGE_LIB).
    #[arg(long, value_name = "FILE", env = "PYUSAGE_LIB")]
    lib: Option<PathBuf>,
    /// Store to check (default: `store` in the config).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Print the checks as one JSON object (for monitoring).
    #[arg(long)]
    json: bool,
}

/// How a check came out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Fine.
    Ok,
    /// Works, but an admin should look.
    Warn,
    /// Records will not arrive (or the check could not tell).
    Fail,
}

impl Status {
    fn word(self) -> &'static str {
        match self {
            Status::Ok => "OK",
            Status::Warn => "WARN",
            Status::Fail => "FAIL",
        }
    }
}

/// One line of the report.
#[derive(Debug)]
pub struct Check {
    /// What was checked (`config`, `runtime_dir`, ...).
    pub name: &'static str,
    /// The verdict.
    pub status: Status,
    /// Why, naming the file or setting.
    pub detail: String,
}

impl Check {
    /// An OK line.
    pub fn ok(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Ok,
            detail: detail.into(),
        }
    }
    /// A WARN line.
    pub fn warn(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Warn,
            detail: detail.into(),
        }
    }
    /// A FAIL line.
    pub fn fail(name: &'static str, detail: impl Into<String>) -> Check {
        Check {
            name,
            status: Status::Fail,
            detail: detail.into(),
        }
    }
}

/// What the checks look at.
pub struct Ctx {
    /// The settings in force; `Err` when the configuration cannot be loaded.
    pub effective: Result<Effective, String>,
    /// `--lib`.
    pub lib: Option<PathBuf>,
    /// `--db`.
    pub db: Option<String>,
}

/// Every check, in the order they print.
pub const CHECKS: &[fn(&Ctx) -> Check] = &[
    files::config,
    map::map,
    files::runtime_dir,
    files::spool,
    pipeline::syslog,
    glibc::library,
    pipeline::login_shell,
    files::sweep_backlog,
    pipeline::store,
];

/// Runs `pyusage doctor`.
pub fn run(args: DoctorArgs) -> Result<ExitCode> {
    let effective = args
        .settings
        .load()
        .map_err(|e| crate::msg::Chain(&e).to_string());
    let ctx = Ctx {
        effective,
        lib: args.lib,
        db: args.db,
    };
    let checks: Vec<Check> = CHECKS.iter().map(|check| check(&ctx)).collect();
    let failed = checks.iter().any(|c| c.status == Status::Fail);
    if args.json {
        let list: Vec<serde_json::Value> = checks
            .iter()
            .map(|c| {
                serde_json::json!({
                    "check": c.name,
                    "status": c.status.word().to_ascii_lowercase(),
                    "detail": c.detail,
                })
            })
            .collect();
        println!("{}", serde_json::json!({ "ok": !failed, "checks": list }));
    } else {
        for c in &checks {
            println!("{:<4} {}: {}", c.status.word(), c.name, c.detail);
        }
    }
    Ok(ExitCode::from(u8::from(failed)))
}
