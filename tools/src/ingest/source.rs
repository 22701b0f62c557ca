//! Where records come from, and what happens to their files.
//!
//! A spool directory holds `<id>.json` files, flat or in fan-out
//! subdirectories named by hex digits (`<spool>/<hex>/<id>.json`). A file is
//! claimed before it is read by renaming it to `<id>.json.ingest-<pid>`:
//! exactly one of several concurrent ingests wins that rename. A claimed file
//! is removed (or moved to `--keep DIR/YYYY-MM-DD/`) only after the
//! transaction that stored its record has committed; a claim left by an
//! ingest that died (its pid is gone) is taken over by the next one, so a
//! killed ingest loses nothing.
//!
//! An NDJSON file (one record per line, as `pyusage export --ndjson` writes)
//! is read as it is and never removed.

use super::record::{Reason, Refused};
use anyhow::{Context, Result};
use std::io::Read;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

/// Suffix of a file claimed by ingest `<pid>`.
const CLAIM: &str = ".ingest-";

/// A spool file that may be ingested: a record's final name, or the claim
/// of an ingest that is gone.
pub fn spool_candidates(spool: &Path) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    let entries = std::fs::read_dir(spool)
        .with_context(|| format!("cannot list spool {}", spool.display()))?;
    for entry in entries.flatten() {
        let name = entry.file_name();
        let name = name.to_string_lossy();
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if is_dir {
            if is_fan_out(&name) {
                if let Ok(sub) = std::fs::read_dir(entry.path()) {
                    out.extend(
                        sub.flatten()
                            .filter(|e| is_candidate(&e.file_name().to_string_lossy()))
                            .map(|e| e.path()),
                    );
                }
            }
        } else if is_candidate(&name) {
            out.push(entry.path());
        }
    }
    Ok(out)
}

/// `<spool>/<hex>/`: fan-out subdirectories are named by 1 to 8 hex digits.
fn is_fan_out(name: &str) -> bool {
    (1..=8).contains(&name.len()) && name.bytes().all(|c| c.is_ascii_hexdigit())
}

/// Temp files (`.name`) belong to a writer; claims of live ingests to them.
fn is_candidate(name: &str) -> bool {
    if name.starts_with('.') {
        return false;
    }
    match name.rsplit_once(CLAIM) {
        Some((_, pid)) => pid
            .parse::<u32>()
            .is_ok_and(|pid| pid != my_pid() && !pid_alive(pid)),
        None => name.ends_with(".json"),
    }
}

fn pid_alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// The name a file had before any claim.
pub fn original_name(path: &Path) -> String {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    name.split(CLAIM).next().unwrap_or(&name).to_owned()
}

/// This process's id, asked once (`getpid` is a system call per file otherwise).
fn my_pid() -> u32 {
    static PID: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
    *PID.get_or_init(std::process::id)
}

/// Claims `path` for this process; `None` if another ingest was faster.
pub fn claim(path: &Path) -> Option<PathBuf> {
    let claimed = path.with_file_name(format!("{}{CLAIM}{}", original_name(path), my_pid()));
    std::fs::rename(path, &claimed).ok().map(|()| claimed)
}

/// Reads a record file without following a symlink or blocking on a FIFO,
/// and not past the size limit. Returns the bytes and the file's owner.
pub fn read_file(path: &Path, limit: usize) -> Result<(Vec<u8>, u32), Refused> {
    let refused = |reason, detail: String| Refused { reason, detail };
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(|e| refused(Reason::File, format!("cannot open: {e}")))?;
    let meta = file
        .metadata()
        .map_err(|e| refused(Reason::File, format!("cannot stat: {e}")))?;
    if !meta.file_type().is_file() {
        return Err(refused(Reason::File, "not a regular file".into()));
    }
    if meta.len() > limit as u64 {
        return Err(refused(
            Reason::TooLarge,
            format!("{} bytes, more than {limit}", meta.len()),
        ));
    }
    // A shipped record is complete once it has its name (written, then
    // linked), so its size is known: one read, no probe for more.
    let mut bytes = vec![0; meta.len() as usize];
    let mut file = file;
    file.read_exact(&mut bytes)
        .map_err(|e| refused(Reason::File, format!("cannot read: {e}")))?;
    Ok((bytes, meta.uid()))
}

/// A file name that cannot be a record's: `<32 hex digits>.json`.
pub fn check_name(path: &Path) -> Result<(), Refused> {
    let name = original_name(path);
    let ok = name
        .strip_suffix(".json")
        .is_some_and(|id| id.len() == 32 && id.bytes().all(|c| c.is_ascii_hexdigit()));
    if ok {
        Ok(())
    } else {
        Err(Refused {
            reason: Reason::File,
            detail: format!("{name:?} is not a record's name (<32 hex digits>.json)"),
        })
    }
}

/// Moves a bad spool file into `quarantine` under its original name (never
/// replacing an earlier one) and writes `<name>.reason` beside it.
pub fn quarantine_file(path: &Path, quarantine: &Path, why: &Refused) -> Result<PathBuf> {
    ensure_dir(quarantine)?;
    let name = original_name(path);
    let target = free_name(quarantine, &name)?;
    match std::fs::rename(path, &target) {
        Ok(()) => {}
        Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
            crate::sweep::move_across(path, &target)?
        }
        Err(e) => return Err(e).with_context(|| format!("cannot move to {}", target.display())),
    }
    write_reason(&target, why)?;
    Ok(target)
}

/// Writes a bad NDJSON line into `quarantine` as its own file, with a reason.
pub fn quarantine_bytes(
    bytes: &[u8],
    quarantine: &Path,
    name: &str,
    why: &Refused,
) -> Result<PathBuf> {
    ensure_dir(quarantine)?;
    let target = free_name(quarantine, name)?;
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&target)
        .and_then(|mut f| std::io::Write::write_all(&mut f, bytes))
        .with_context(|| format!("cannot write {}", target.display()))?;
    write_reason(&target, why)?;
    Ok(target)
}

fn write_reason(target: &Path, why: &Refused) -> Result<()> {
    let mut reason = target.as_os_str().to_owned();
    reason.push(".reason");
    std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&reason)
        .and_then(|mut f| std::io::Write::write_all(&mut f, format!("{why}\n").as_bytes()))
        .with_context(|| format!("cannot write {}", Path::new(&reason).display()))
}

/// A directory to move files into; a symlink or a file in its place is an error.
pub fn ensure_dir(dir: &Path) -> Result<()> {
    match std::fs::symlink_metadata(dir) {
        Ok(m) if m.file_type().is_dir() => Ok(()),
        Ok(_) => anyhow::bail!("{} is not a directory (a symlink?)", dir.display()),
        Err(_) => {
            std::fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))
        }
    }
}

/// `dir/name`, or `dir/name.N` for the first N not taken by a file or its reason.
fn free_name(dir: &Path, name: &str) -> Result<PathBuf> {
    for n in 0..10_000 {
        let target = if n == 0 {
            dir.join(name)
        } else {
            dir.join(format!("{name}.{n}"))
        };
        let mut reason = target.as_os_str().to_owned();
        reason.push(".reason");
        if std::fs::symlink_metadata(&target).is_err()
            && std::fs::symlink_metadata(&reason).is_err()
        {
            return Ok(target);
        }
    }
    anyhow::bail!("{}: too many files named {name}", dir.display())
}

/// What to do with a spool file once its record is committed.
#[derive(Clone, Debug)]
pub enum Done {
    /// Remove it.
    Remove,
    /// Move it to this directory (already the day's subdirectory).
    Keep(PathBuf),
}

impl Done {
    /// `--keep DIR` -> `DIR/YYYY-MM-DD` (UTC, today), created.
    pub fn keep_in(dir: &Path) -> Result<Done> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos() as u64)
            .unwrap_or(0);
        let stamp = pyusage_record::time::rfc3339_utc(now);
        let day = dir.join(String::from_utf8_lossy(&stamp[..10]).as_ref());
        ensure_dir(&day)?;
        Ok(Done::Keep(day))
    }

    /// Finishes one committed file.
    pub fn finish(&self, path: &Path) -> Result<()> {
        match self {
            Done::Remove => std::fs::remove_file(path)
                .with_context(|| format!("cannot remove {}", path.display())),
            Done::Keep(day) => {
                let target = free_name(day, &original_name(path))?;
                match std::fs::rename(path, &target) {
                    Ok(()) => Ok(()),
                    Err(e) if e.raw_os_error() == Some(libc::EXDEV) => {
                        crate::sweep::move_across(path, &target)
                    }
                    Err(e) => {
                        Err(e).with_context(|| format!("cannot move to {}", target.display()))
                    }
                }
            }
        }
    }
}
