//! `pyusage run`: run a command under the tracer.
//!
//! Like `env` and `timeout`, `run` keeps its own failures apart from the
//! command's exit status: 125 when `pyusage run` itself fails (no library,
//! a directory it cannot create), 126 when the command was found but could
//! not be run, 127 when it was not found. Everything else is the command's.

use crate::config::Settings;
use anyhow::{bail, Context, Result};
use clap::Args;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Args)]
pub struct RunArgs {
    #[command(flatten)]
    settings: Settings,
    /// The tracer library (default: libpyusage.so next to this program, or in ../lib/pyusage/).
    #[arg(long, value_name = "FILE", env = "PYUSAGE_LIB")]
    lib: Option<PathBuf>,
    /// The command and its arguments.
    #[arg(
        required = true,
        trailing_var_arg = true,
        allow_hyphen_values = true,
        value_name = "CMD"
    )]
    command: Vec<std::ffi::OsString>,
}

/// Where the tracer library is installed relative to this program.
pub fn find_library(explicit: Option<PathBuf>) -> Result<PathBuf> {
    if let Some(lib) = explicit {
        return std::fs::canonicalize(&lib)
            .with_context(|| format!("tracer library {}", lib.display()));
    }
    let exe = std::env::current_exe().context("cannot locate the pyusage program")?;
    let dir = exe.parent().map(PathBuf::from).unwrap_or_default();
    for candidate in [
        dir.join("libpyusage.so"),
        dir.join("../lib/pyusage/libpyusage.so"),
        dir.join("../lib/libpyusage.so"),
    ] {
        if candidate.exists() {
            return Ok(std::fs::canonicalize(candidate)?);
        }
    }
    bail!(
        "libpyusage.so not found next to {} (use --lib)",
        exe.display()
    )
}

/// `pyusage run` could not set up the tracer (cf. `env`, `timeout`).
pub const EXIT_SETUP_FAILED: u8 = 125;
/// The command exists but could not be run.
pub const EXIT_CANNOT_RUN: u8 = 126;
/// The command was not found.
pub const EXIT_NOT_FOUND: u8 = 127;

/// Sets up and `exec`s; returns only if that failed, with the exit status
/// that says which step did.
pub fn run(args: RunArgs) -> Result<ExitCode> {
    let name = args.command[0].clone();
    let mut cmd = match prepare(args) {
        Ok(cmd) => cmd,
        Err(e) => {
            crate::msg::error(&e);
            return Ok(ExitCode::from(EXIT_SETUP_FAILED));
        }
    };
    // exec: the command keeps our pid, its exit status and its signals are its own.
    let err = cmd.exec();
    let code = match err.kind() {
        std::io::ErrorKind::NotFound => EXIT_NOT_FOUND,
        _ => EXIT_CANNOT_RUN,
    };
    crate::msg::error_at(
        name.to_string_lossy(),
        format_args!("cannot run the command: {err}"),
    );
    Ok(ExitCode::from(code))
}

/// The command to `exec`, with the tracer's environment set.
fn prepare(args: RunArgs) -> Result<std::process::Command> {
    let mut cmd = traced_command(&args.command[0], args.lib, &args.settings, true)?;
    cmd.args(&args.command[1..]);
    Ok(cmd)
}

/// `program` under the tracer as a user under the module would run it:
/// the library prepended to `LD_PRELOAD`, the settings passed through
/// `PYUSAGE_*`. With `create_dirs`, the spool and runtime directory in
/// force are created (the tracer never creates the spool).
pub fn traced_command(
    program: &std::ffi::OsStr,
    lib: Option<PathBuf>,
    s: &crate::config::Settings,
    create_dirs: bool,
) -> Result<std::process::Command> {
    let lib = find_library(lib)?;
    let mut cmd = std::process::Command::new(program);
    let preload = match std::env::var_os("LD_PRELOAD").filter(|v| !v.is_empty()) {
        Some(old) => {
            let mut v = lib.clone().into_os_string();
            v.push(" ");
            v.push(old);
            v
        }
        None => lib.into_os_string(),
    };
    cmd.env("LD_PRELOAD", preload);
    if let Some(config) = &s.config {
        cmd.env(
            "PYUSAGE_CONFIG",
            std::fs::canonicalize(config).with_context(|| config.display().to_string())?,
        );
    }
    if create_dirs {
        // The tracer never creates the spool; make sure the one in force exists.
        let effective = s.load()?;
        std::fs::create_dir_all(&effective.spool)
            .with_context(|| format!("cannot create {}", effective.spool.display()))?;
        make_runtime_dir(&effective.runtime_dir)
            .with_context(|| format!("cannot create {}", effective.runtime_dir.display()))?;
    }
    for (var, path) in [
        ("PYUSAGE_SPOOL", &s.spool),
        ("PYUSAGE_RUNTIME_DIR", &s.runtime_dir),
        ("PYUSAGE_MAP", &s.map),
    ] {
        if let Some(path) = path {
            cmd.env(var, std::path::absolute(path)?);
        }
    }
    Ok(cmd)
}

/// Makes the runtime directory as the tracer does: world-writable and
/// sticky (1777, like /tmp) whatever the umask, so that every user's
/// processes can use it. One that exists is left as it is (the tracer
/// decides whether to trust it).
fn make_runtime_dir(dir: &std::path::Path) -> std::io::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    if let Some(parent) = dir.parent() {
        std::fs::create_dir_all(parent)?;
    }
    match std::fs::create_dir(dir) {
        Ok(()) => std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o1777)),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(()),
        Err(e) => Err(e),
    }
}
