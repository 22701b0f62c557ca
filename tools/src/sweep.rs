//! `pyusage sweep`: finish the records of processes that are gone.
//!
//! A process killed by a signal, the OOM killer or the walltime leaves its raw
//! record on tmpfs. The sweep finds those whose process no longer exists —
//! judged by pid *and* start time, so a reused pid is never mistaken for the
//! writer and a live process's record is never touched — and ships them.
//!
//! Safe to run at any time and concurrently with itself: a record is claimed
//! by renaming it, which exactly one sweeper wins. Raw records are hostile
//! input: a file that is not a valid record is moved to `quarantine/` with a
//! message naming it, never deleted.

use crate::config::Settings;
use crate::spool::{self, Shipped};
use anyhow::{Context, Result};
use clap::Args;
use pyusage_record::json::Out;
use pyusage_record::raw::{RawRecord, MAX_CAPACITY};
use pyusage_record::render::{render, Overrides};
use pyusage_resolver::PackageMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, SystemTime};

#[derive(Args)]
pub struct SweepArgs {
    #[command(flatten)]
    settings: Settings,
    /// Where bad files go (default: <runtime_dir>/quarantine).
    #[arg(long, value_name = "DIR")]
    quarantine: Option<PathBuf>,
    /// Only report what would be shipped.
    #[arg(long)]
    dry_run: bool,
}

/// Files younger than this may still be being created; leave them be.
const GRACE: Duration = Duration::from_secs(10);

#[derive(Default, Debug)]
struct Tally {
    shipped: usize,
    already: usize,
    live: usize,
    quarantined: usize,
    failed: usize,
}

pub fn run(args: SweepArgs) -> Result<ExitCode> {
    let e = args.settings.load()?;
    let sinks = crate::sinks::Sinks::of(&e);
    let quarantine = args
        .quarantine
        .clone()
        .unwrap_or_else(|| e.runtime_dir.join("quarantine"));
    let map_bytes = std::fs::read(&e.map).ok();
    let map = match map_bytes.as_deref().map(PackageMap::parse) {
        Some(Ok(m)) => match m.verify_checksum() {
            Ok(()) => Some(m),
            Err(err) => {
                crate::msg::warning_at(e.map.display(), format_args!("{err}; keeping raw paths"));
                None
            }
        },
        Some(Err(err)) => {
            crate::msg::warning_at(e.map.display(), format_args!("{err}; keeping raw paths"));
            None
        }
        None => None,
    };
    let entries = match std::fs::read_dir(&e.runtime_dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            println!(
                "nothing to sweep: {} does not exist",
                e.runtime_dir.display()
            );
            return Ok(ExitCode::SUCCESS);
        }
        Err(err) => {
            return Err(err).with_context(|| format!("cannot list {}", e.runtime_dir.display()))
        }
    };
    if !args.dry_run {
        std::fs::create_dir_all(&e.spool)
            .with_context(|| format!("cannot create spool {}", e.spool.display()))?;
    }
    let mut tally = Tally::default();
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        if !name.starts_with("rec-") {
            continue;
        }
        let sweeper = claimed_by(&name);
        if sweeper.is_some_and(pid_exists) {
            continue; // another sweep is on it
        }
        match sweep_one(
            &entry.path(),
            map.as_ref(),
            &e.spool,
            &sinks,
            &quarantine,
            args.dry_run,
        ) {
            Ok(Outcome::Shipped) => tally.shipped += 1,
            Ok(Outcome::AlreadyShipped) => tally.already += 1,
            Ok(Outcome::Live) => tally.live += 1,
            Ok(Outcome::Quarantined) => tally.quarantined += 1,
            Ok(Outcome::LostRace) => {}
            Err(err) => {
                tally.failed += 1;
                crate::msg::error_at(entry.path().display(), format_args!("{err:#}"));
            }
        }
    }
    println!(
        "swept {}: {} shipped, {} already shipped, {} still running, {} quarantined, {} failed",
        e.runtime_dir.display(),
        tally.shipped,
        tally.already,
        tally.live,
        tally.quarantined,
        tally.failed
    );
    Ok(if tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `rec-...bin.sweep-<pid>` names a record claimed by sweeper `pid`.
fn claimed_by(name: &str) -> Option<u32> {
    name.rsplit_once(".sweep-")
        .and_then(|(_, pid)| pid.parse().ok())
}

fn pid_exists(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Start time of `pid` in clock ticks since boot, if it is running.
fn start_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read(format!("/proc/{pid}/stat")).ok()?;
    pyusage_record::proc_stat::start_ticks(&stat)
}

/// Why a file in the runtime directory goes to quarantine; printed after
/// the file's path (`<path>: <why>: <cause>; quarantined`).
#[derive(Debug, thiserror::Error)]
enum Quarantine {
    /// A symlink, FIFO, directory, ...: never opened.
    #[error("not a regular file")]
    NotAFile,
    /// Larger than any record a tracer writes: never read.
    #[error(
        "{len} bytes, larger than the largest raw record a tracer writes \
         ({MAX_CAPACITY} bytes, the most `record_bytes` allows)"
    )]
    TooLarge {
        /// Its size.
        len: u64,
    },
    /// It could not be read.
    #[error("cannot read")]
    Unreadable(#[source] std::io::Error),
    /// Not a raw record this build understands.
    #[error("bad raw record")]
    Invalid(#[source] pyusage_record::raw::RawError),
    /// Another user's file under the name of a record being shipped.
    #[error("uid {by} planted this under the name of uid {owner}'s record")]
    Planted {
        /// Who owns the planted file.
        by: u32,
        /// Whose record it stood in for.
        owner: u32,
    },
}

enum Outcome {
    Shipped,
    AlreadyShipped,
    Live,
    Quarantined,
    LostRace,
}

fn sweep_one(
    path: &Path,
    map: Option<&PackageMap<'_>>,
    spool: &Path,
    sinks: &crate::sinks::Sinks,
    quarantine: &Path,
    dry_run: bool,
) -> Result<Outcome> {
    let meta = match std::fs::symlink_metadata(path) {
        Ok(meta) => meta,
        // Another sweep shipped (or the process removed) it since we listed it.
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Outcome::LostRace),
        Err(e) => return Err(e.into()),
    };
    let young = meta
        .modified()
        .ok()
        .and_then(|m| SystemTime::now().duration_since(m).ok())
        .is_none_or(|age| age < GRACE);
    if !meta.file_type().is_file() {
        return quarantine_file(path, quarantine, &Quarantine::NotAFile, dry_run);
    }
    // The sweep's input is bounded: no tracer writes a record larger than
    // the largest `record_bytes`, so a larger file is not read at all.
    if meta.len() > u64::from(MAX_CAPACITY) {
        let why = Quarantine::TooLarge { len: meta.len() };
        return quarantine_file(path, quarantine, &why, dry_run);
    }
    let bytes = match read_record_file(path) {
        Ok(bytes) => bytes,
        Err(Quarantine::Unreadable(e)) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(Outcome::LostRace)
        }
        Err(why) => return quarantine_file(path, quarantine, &why, dry_run),
    };
    let rec = match RawRecord::parse(&bytes) {
        Ok(rec) => rec,
        Err(_) if young => return Ok(Outcome::Live), // its writer may still be setting it up
        Err(err) => return quarantine_file(path, quarantine, &Quarantine::Invalid(err), dry_run),
    };
    let alive = match start_ticks(rec.pid) {
        Some(ticks) => rec.proc_start_ticks == 0 || ticks == rec.proc_start_ticks,
        None => false,
    };
    if alive && claimed_by(&path.file_name().unwrap_or_default().to_string_lossy()).is_none() {
        return Ok(Outcome::Live);
    }
    if dry_run {
        println!("would ship {} (pid {}, gone)", path.display(), rec.pid);
        return Ok(Outcome::Shipped);
    }
    // Claim it: exactly one concurrent sweeper's rename succeeds.
    let claimed = claim_path(path);
    if std::fs::rename(path, &claimed).is_err() {
        return Ok(Outcome::LostRace);
    }
    let bytes = match read_record_file(&claimed) {
        Ok(bytes) => bytes,
        Err(why) => return quarantine_file(&claimed, quarantine, &why, false),
    };
    let rec = match RawRecord::parse(&bytes) {
        Ok(rec) => rec,
        Err(err) => return quarantine_file(&claimed, quarantine, &Quarantine::Invalid(err), false),
    };
    if rec.shipped {
        std::fs::remove_file(&claimed)?;
        return Ok(Outcome::AlreadyShipped);
    }
    let user = user_name(meta.uid());
    let ov = Overrides {
        uid: Some(meta.uid()),
        user: user.as_deref().map(str::as_bytes),
        ending: None,
        end_ns: Some(vanished_end_ns(&rec, &meta)),
    };
    let mut buf = vec![0u8; bytes.len() * 6 + 4096];
    let mut out = Out::new(&mut buf);
    render(&rec, map, &ov, &mut out);
    let id = String::from_utf8_lossy(&rec.id_hex()).into_owned();
    // Every configured sink takes it, as in the tracer; a failure leaves
    // the claimed file for the next sweep.
    if sinks.syslog {
        sinks
            .send_syslog(rec.pid, &id, out.as_bytes())
            .map_err(|why| anyhow::anyhow!("{}: cannot send to syslog: {why}", path.display()))?;
    }
    if !sinks.spool {
        std::fs::remove_file(&claimed)?;
        return Ok(Outcome::Shipped);
    }
    let mut outcome = spool::ship(spool, &id, out.as_bytes(), meta.uid())?;
    if let Shipped::Planted { path, uid } = &outcome {
        // Someone else put a file under this record's name to suppress it:
        // theirs goes to quarantine, the record is shipped.
        let why = Quarantine::Planted {
            by: *uid,
            owner: meta.uid(),
        };
        quarantine_file(path, quarantine, &why, false)?;
        outcome = spool::ship(spool, &id, out.as_bytes(), meta.uid())?;
    }
    let outcome = match outcome {
        Shipped::New => Outcome::Shipped,
        Shipped::AlreadyThere => Outcome::AlreadyShipped,
        Shipped::Planted { path, .. } => {
            anyhow::bail!("{} was planted again; the raw record stays", path.display())
        }
    };
    std::fs::remove_file(&claimed)?;
    Ok(outcome)
}

/// When a process that left no word of its end (`vanished`) ended, as well
/// as the evidence tells (docs/record.md, "Duration of a vanished process"):
/// the latest moment it was seen alive, which is the later of
/// - the raw file's last modification: tmpfs updates it when the process
///   first writes to a page of its record (not on later writes to a page it
///   has written already), so it marks the growth of the record;
/// - the record's start plus its latest import's `at_ms`;
///
/// never later than now (both are the user's to forge), never before start.
fn vanished_end_ns(rec: &RawRecord<'_>, meta: &std::fs::Metadata) -> u64 {
    let ns = |t: SystemTime| {
        t.duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| u64::try_from(d.as_nanos()).unwrap_or(u64::MAX))
    };
    let modified = meta.modified().map_or(0, ns);
    let last_import = rec.latest_at_ms().map_or(0, |ms| {
        rec.start_ns.saturating_add(ms.saturating_mul(1_000_000))
    });
    modified
        .max(last_import)
        .min(ns(SystemTime::now()))
        .max(rec.start_ns)
}

fn claim_path(path: &Path) -> PathBuf {
    let name = path.file_name().unwrap_or_default().to_string_lossy();
    let base = name.split(".sweep-").next().unwrap_or(&name);
    path.with_file_name(format!("{base}.sweep-{}", std::process::id()))
}

/// Reads a raw record without following a symlink or blocking on a FIFO
/// that a user may have put in its place, and without reading more than a
/// record can hold.
fn read_record_file(path: &Path) -> Result<Vec<u8>, Quarantine> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
        .open(path)
        .map_err(Quarantine::Unreadable)?;
    let meta = file.metadata().map_err(Quarantine::Unreadable)?;
    if !meta.file_type().is_file() {
        return Err(Quarantine::NotAFile);
    }
    if meta.len() > u64::from(MAX_CAPACITY) {
        return Err(Quarantine::TooLarge { len: meta.len() });
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(u64::from(MAX_CAPACITY))
        .read_to_end(&mut bytes)
        .map_err(Quarantine::Unreadable)?;
    Ok(bytes)
}

/// Moves `path` to another file system as what it is: a symlink stays a
/// symlink (never followed), a FIFO a FIFO (never opened), a regular file is
/// copied byte for byte. Anything else stays where it is.
pub(crate) fn move_across(path: &Path, target: &Path) -> Result<()> {
    use std::os::unix::fs::{FileTypeExt, OpenOptionsExt};
    let kind = std::fs::symlink_metadata(path)?.file_type();
    if kind.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(path)?, target)?;
    } else if kind.is_fifo() {
        let c = std::ffi::CString::new(target.as_os_str().as_encoded_bytes())?;
        // SAFETY: c is a NUL-terminated path.
        if unsafe { libc::mkfifo(c.as_ptr(), 0o600) } != 0 {
            return Err(std::io::Error::last_os_error()).context("mkfifo in quarantine");
        }
    } else if kind.is_file() {
        let mut from = std::fs::OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
            .open(path)?;
        let mut to = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(target)?;
        std::io::copy(&mut from, &mut to)?;
        to.sync_all()?;
    } else {
        anyhow::bail!("cannot move {} to another file system", path.display());
    }
    std::fs::remove_file(path)
        .with_context(|| format!("quarantined a copy but cannot remove {}", path.display()))
}

/// `<path>: <why>: <cause>; quarantined`.
fn quarantine_message(path: &Path, why: &Quarantine) -> String {
    format!(
        "{}: {}; quarantined",
        path.display(),
        crate::msg::Chain(why)
    )
}

/// Moves a bad file into the quarantine directory, never replacing an earlier
/// one there and never following or opening it (it may be a symlink or a FIFO).
fn quarantine_file(
    path: &Path,
    quarantine: &Path,
    why: &Quarantine,
    dry_run: bool,
) -> Result<Outcome> {
    crate::msg::warning(quarantine_message(path, why));
    if dry_run {
        return Ok(Outcome::Quarantined);
    }
    match std::fs::symlink_metadata(quarantine) {
        Ok(m) if m.file_type().is_dir() => {}
        Ok(_) => anyhow::bail!(
            "quarantine {} is not a directory (a symlink?)",
            quarantine.display()
        ),
        Err(_) => std::fs::create_dir(quarantine)
            .with_context(|| format!("cannot create {}", quarantine.display()))?,
    }
    let name = path
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let name = name.split(".sweep-").next().unwrap_or(&name).to_owned();
    for n in 0..1000 {
        let target = if n == 0 {
            quarantine.join(&name)
        } else {
            quarantine.join(format!("{name}.{n}"))
        };
        if std::fs::symlink_metadata(&target).is_ok() {
            continue;
        }
        match std::fs::rename(path, &target) {
            Ok(()) => {}
            Err(e) if e.raw_os_error() == Some(libc::EXDEV) => move_across(path, &target)?,
            Err(e) => {
                return Err(e).with_context(|| format!("cannot move to {}", target.display()))
            }
        }
        return Ok(Outcome::Quarantined);
    }
    anyhow::bail!(
        "{}: too many quarantined files named {name}",
        quarantine.display()
    )
}

/// The passwd name of `uid`, if it has one.
pub(crate) fn user_name(uid: u32) -> Option<String> {
    // SAFETY: passwd is plain data (integers and pointers); all-zero is valid.
    let mut pwd: libc::passwd = unsafe { std::mem::zeroed() };
    let mut buf = vec![0 as libc::c_char; 4096];
    let mut result: *mut libc::passwd = std::ptr::null_mut();
    // SAFETY: all pointers are valid for the call; buf outlives the use of pwd's strings.
    let rc = unsafe { libc::getpwuid_r(uid, &mut pwd, buf.as_mut_ptr(), buf.len(), &mut result) };
    if rc != 0 || result.is_null() {
        return None;
    }
    // SAFETY: pw_name points into buf, NUL-terminated.
    Some(
        unsafe { std::ffi::CStr::from_ptr(pwd.pw_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use pyusage_record::raw::RawError;

    #[test]
    fn each_bad_file_gets_its_own_reason_naming_the_file_and_the_cause() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("rec-1-fifo.bin");
        let c = std::ffi::CString::new(fifo.as_os_str().as_encoded_bytes()).unwrap();
        // SAFETY: c is a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0);
        assert!(matches!(read_record_file(&fifo), Err(Quarantine::NotAFile)));

        let huge = dir.path().join("rec-2-huge.bin");
        std::fs::File::create(&huge)
            .unwrap()
            .set_len(u64::from(MAX_CAPACITY) + 1)
            .unwrap();
        let len = u64::from(MAX_CAPACITY) + 1;
        assert!(
            matches!(read_record_file(&huge), Err(Quarantine::TooLarge { len: l }) if l == len)
        );

        let missing = dir.path().join("rec-3-gone.bin");
        let why = read_record_file(&missing).unwrap_err();
        assert!(
            matches!(&why, Quarantine::Unreadable(e) if e.kind() == std::io::ErrorKind::NotFound)
        );

        let short = dir.path().join("rec-4-short.bin");
        std::fs::write(&short, b"junk").unwrap();
        let bytes = read_record_file(&short).unwrap();
        let why = Quarantine::Invalid(RawRecord::parse(&bytes).unwrap_err());
        assert!(
            matches!(why, Quarantine::Invalid(RawError::TooShort)),
            "{why:?}"
        );
        assert_eq!(
            quarantine_message(&short, &why),
            format!(
                "{}: bad raw record: file is shorter than a record header; quarantined",
                short.display()
            )
        );
        let q = dir.path().join("quarantine");
        assert!(matches!(
            quarantine_file(&short, &q, &why, false),
            Ok(Outcome::Quarantined)
        ));
        assert!(q.join("rec-4-short.bin").is_file() && !short.exists());
    }
}
