//! `pyusage spool init DIR`: a spool with fan-out subdirectories.
//!
//! One flat directory holding a day of a centre's records (millions of
//! files on a shared filesystem) is too slow to list. `init` creates
//! `DIR/00` to `DIR/ff`, each mode 1733 like the spool itself (users can
//! drop records in, cannot list or remove others'), and the tracer and the
//! sweep then write each record into the subdirectory named by the first
//! two hex digits of its id. Re-running it is safe: it creates what is
//! missing and resets modes. An entry in the way that is not a directory
//! owned by the caller or root (a user's planted symlink or directory) is
//! reported and left alone: writers never trust it anyway.

use crate::spool::{fan_out_names, FAN_OUT_DIGITS};
use anyhow::{bail, Context, Result};
use clap::{Args, Subcommand};
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// `pyusage spool ...`.
#[derive(Args, Debug)]
pub struct SpoolArgs {
    #[command(subcommand)]
    command: SpoolCommand,
}

#[derive(Subcommand, Debug)]
enum SpoolCommand {
    /// Create a spool directory with fan-out subdirectories (00 to ff), each mode 1733.
    Init {
        /// The spool directory (created if missing).
        dir: PathBuf,
    },
}

/// Mode of the spool and of each fan-out directory: sticky, writable and
/// searchable by everyone, listable by the owner only.
pub const SPOOL_MODE: u32 = 0o1733;

/// Runs `pyusage spool`.
pub fn run(args: SpoolArgs) -> Result<ExitCode> {
    match args.command {
        SpoolCommand::Init { dir } => init(&dir),
    }
}

fn set_mode(p: &Path) -> Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(SPOOL_MODE))
        .with_context(|| format!("{}: cannot set mode 1733", p.display()))
}

fn init(dir: &Path) -> Result<ExitCode> {
    match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => {}
        Ok(_) => bail!("{}: exists and is not a directory", dir.display()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => std::fs::create_dir_all(dir)
            .with_context(|| format!("{}: cannot create", dir.display()))?,
        Err(e) => return Err(e).with_context(|| format!("{}: cannot read", dir.display())),
    }
    set_mode(dir)?;
    let owner = std::fs::metadata(dir)?.uid();
    // SAFETY: geteuid has no preconditions.
    let me = unsafe { libc::geteuid() };
    let (mut created, mut kept, mut bad) = (0, 0, 0);
    for name in fan_out_names() {
        let sub = dir.join(&name);
        match std::fs::symlink_metadata(&sub) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                std::fs::create_dir(&sub)
                    .with_context(|| format!("{}: cannot create", sub.display()))?;
                set_mode(&sub)?;
                created += 1;
            }
            Err(e) => return Err(e).with_context(|| format!("{}: cannot read", sub.display())),
            Ok(m) if m.file_type().is_dir() && [0, owner, me].contains(&m.uid()) => {
                set_mode(&sub)?;
                kept += 1;
            }
            Ok(m) => {
                let what = if m.file_type().is_symlink() {
                    "a symlink".to_string()
                } else if m.file_type().is_dir() {
                    format!("a directory owned by uid {}", m.uid())
                } else {
                    "not a directory".to_string()
                };
                crate::msg::error_at(
                    sub.display(),
                    format_args!(
                        "{what}, not made by `spool init`; writers ignore it \
                         (records go flat into the spool); remove it and run `spool init` again"
                    ),
                );
                bad += 1;
            }
        }
    }
    println!(
        "{}: spool with {} fan-out directories by the first {FAN_OUT_DIGITS} hex digits \
         ({created} created, {kept} already there), mode 1733",
        dir.display(),
        created + kept
    );
    Ok(ExitCode::from(u8::from(bad > 0)))
}
