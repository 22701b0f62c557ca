//! Checks of files and directories on this node: the configuration, the
//! runtime directory, the spool, and records waiting for the sweep.

use super::{Check, Ctx};
use crate::spool::{fan_out_names, trusted_fan_out};
use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, SystemTime};

/// Below this much free space on the runtime tmpfs, a few large records fill it.
const LOW_SPACE: u64 = 64 << 20;

/// Records younger than this may belong to a process still being set up
/// (as in the sweep's grace period).
const GRACE: Duration = Duration::from_secs(10);

/// The configuration parses, as the tracer and `config check` read it.
pub fn config(ctx: &Ctx) -> Check {
    const NAME: &str = "config";
    let e = match &ctx.effective {
        Ok(e) => e,
        Err(why) => return Check::fail(NAME, why.clone()),
    };
    let Some(file) = &e.source else {
        return Check::warn(
            NAME,
            "no configuration file; the tracer uses built-in defaults",
        );
    };
    match crate::config::check(file) {
        Err(why) => Check::fail(NAME, crate::msg::Chain(&why).to_string()),
        Ok(problems) if !problems.is_empty() => {
            let said: Vec<String> = problems
                .iter()
                .map(|p| crate::msg::Chain(p).to_string())
                .collect();
            Check::fail(NAME, format!("{}: {}", file.display(), said.join("; ")))
        }
        Ok(_) if !e.config.enabled => Check::warn(
            NAME,
            format!("{}: tracing is off (enabled = false)", file.display()),
        ),
        Ok(_) => Check::ok(NAME, format!("{}: parses; tracing on", file.display())),
    }
}

fn mode(m: &std::fs::Metadata) -> u32 {
    m.permissions().mode() & 0o7777
}

/// `statfs` type and `statvfs` free bytes of the filesystem holding `dir`.
fn fs_info(dir: &Path) -> Option<(i64, u64)> {
    let c = CString::new(dir.as_os_str().as_bytes()).ok()?;
    // SAFETY: c is NUL-terminated; both out-buffers are zeroed structs of the right type.
    unsafe {
        let mut fs: libc::statfs = std::mem::zeroed();
        let mut vfs: libc::statvfs = std::mem::zeroed();
        if libc::statfs(c.as_ptr(), &mut fs) != 0 || libc::statvfs(c.as_ptr(), &mut vfs) != 0 {
            return None;
        }
        Some((fs.f_type as i64, vfs.f_bavail as u64 * vfs.f_frsize as u64))
    }
}

const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

/// `runtime_dir`: on tmpfs with space, mode 1777, owned by root (a directory
/// a user created first could be emptied by that user).
pub fn runtime_dir(ctx: &Ctx) -> Check {
    const NAME: &str = "runtime_dir";
    let Ok(e) = &ctx.effective else {
        return Check::fail(NAME, "unknown (configuration not loaded)");
    };
    let dir = &e.runtime_dir;
    let m = match std::fs::symlink_metadata(dir) {
        Ok(m) => m,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
            return Check::warn(
                NAME,
                format!(
                    "{}: missing; the tracer creates it on first use",
                    dir.display()
                ),
            )
        }
        Err(err) => return Check::fail(NAME, format!("{}: {err}", dir.display())),
    };
    if !m.is_dir() {
        return Check::fail(NAME, format!("{}: not a directory", dir.display()));
    }
    if mode(&m) != 0o1777 {
        return Check::fail(
            NAME,
            format!(
                "{}: mode {:04o}, not 1777: users cannot keep records there, or can remove others'",
                dir.display(),
                mode(&m)
            ),
        );
    }
    if m.uid() != 0 {
        return Check::fail(
            NAME,
            format!(
                "{}: owned by uid {}, not root: its owner can remove other users' records",
                dir.display(),
                m.uid()
            ),
        );
    }
    let Some((kind, free)) = fs_info(dir) else {
        return Check::fail(
            NAME,
            format!("{}: cannot stat its filesystem", dir.display()),
        );
    };
    let mib = free >> 20;
    if kind != TMPFS_MAGIC && kind != RAMFS_MAGIC {
        Check::warn(
            NAME,
            format!(
                "{}: not on tmpfs (filesystem type {kind:#x}): records are written to disk \
                 and survive reboots; use node-local tmpfs such as /dev/shm",
                dir.display()
            ),
        )
    } else if free < LOW_SPACE {
        Check::warn(
            NAME,
            format!("{}: only {mib} MiB free on its tmpfs", dir.display()),
        )
    } else {
        Check::ok(
            NAME,
            format!(
                "{}: tmpfs, {mib} MiB free, mode 1777, owned by root",
                dir.display()
            ),
        )
    }
}

/// Creates and removes a file in `dir`: proves the directory is writable
/// (not read-only, not full) by this user.
fn try_write(dir: &Path) -> Result<(), String> {
    use std::io::Write;
    let probe = dir.join(format!(".doctor-{}.tmp", std::process::id()));
    let r = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .open(&probe)
        .and_then(|mut f| f.write_all(&[b' '; 4096]).and_then(|()| f.sync_all()));
    let _ = std::fs::remove_file(&probe);
    r.map_err(|e| format!("{}: cannot write: {e}", dir.display()))
}

/// The spool: exists, writable, mode 1733 (or 1777), fan-out complete or absent.
pub fn spool(ctx: &Ctx) -> Check {
    const NAME: &str = "spool";
    let Ok(e) = &ctx.effective else {
        return Check::fail(NAME, "unknown (configuration not loaded)");
    };
    let dir = &e.spool;
    let m = match std::fs::metadata(dir) {
        Ok(m) if m.is_dir() => m,
        Ok(_) => return Check::fail(NAME, format!("{}: not a directory", dir.display())),
        Err(err) => return Check::fail(NAME, format!("{}: {err}", dir.display())),
    };
    if let Err(why) = try_write(dir) {
        return Check::fail(NAME, why);
    }
    let md = mode(&m);
    if md & 0o1003 != 0o1003 {
        return Check::fail(
            NAME,
            format!(
                "{}: mode {md:04o}: {}",
                dir.display(),
                if md & 0o003 != 0o003 {
                    "users cannot ship records into it (want 1733)"
                } else {
                    "not sticky: users can remove each other's records (want 1733)"
                }
            ),
        );
    }
    let (mut trusted, mut planted) = (0, Vec::new());
    for name in fan_out_names() {
        let sub = dir.join(&name);
        if trusted_fan_out(m.uid(), &sub) {
            trusted += 1;
        } else if std::fs::symlink_metadata(&sub).is_ok() {
            planted.push(name);
        }
    }
    let layout = match trusted {
        0 => "flat".to_string(),
        256 => "fan-out 00..ff".to_string(),
        n => format!("fan-out incomplete ({n} of 256 subdirectories)"),
    };
    if !planted.is_empty() {
        return Check::warn(
            NAME,
            format!(
                "{}: {} not made by `pyusage spool init` (a symlink or another user's \
                 directory; writers ignore it): {}",
                dir.display(),
                planted.len(),
                planted.join(", ")
            ),
        );
    }
    if trusted != 0 && trusted != 256 {
        return Check::warn(
            NAME,
            format!(
                "{}: {layout}; run `pyusage spool init {}`",
                dir.display(),
                dir.display()
            ),
        );
    }
    Check::ok(
        NAME,
        format!("{}: writable, mode {md:04o}, {layout}", dir.display()),
    )
}

/// Raw records of processes that ended and are not shipped: the sweep is
/// not running (or cannot ship them).
pub fn sweep_backlog(ctx: &Ctx) -> Check {
    const NAME: &str = "sweep";
    let Ok(e) = &ctx.effective else {
        return Check::fail(NAME, "unknown (configuration not loaded)");
    };
    let Ok(rd) = std::fs::read_dir(&e.runtime_dir) else {
        return Check::ok(NAME, "no runtime directory, nothing waits");
    };
    let now = SystemTime::now();
    let (mut waiting, mut live, mut oldest) = (0, 0, Duration::ZERO);
    for entry in rd.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = name
            .strip_prefix("rec-")
            .and_then(|r| r.split('-').next())
            .and_then(|p| p.parse::<u32>().ok())
        else {
            continue;
        };
        let age = entry
            .metadata()
            .ok()
            .and_then(|m| m.modified().ok())
            .and_then(|t| now.duration_since(t).ok())
            .unwrap_or_default();
        if Path::new(&format!("/proc/{pid}")).exists() || age < GRACE {
            live += 1;
        } else {
            waiting += 1;
            oldest = oldest.max(age);
        }
    }
    if waiting == 0 {
        Check::ok(
            NAME,
            format!("no records wait for `pyusage sweep` ({live} of running processes)"),
        )
    } else {
        Check::warn(
            NAME,
            format!(
                "{waiting} record(s) of ended processes wait in {} for `pyusage sweep` \
                 (oldest {} min): is the Slurm epilog or the sweep timer set up?",
                e.runtime_dir.display(),
                oldest.as_secs() / 60
            ),
        )
    }
}
