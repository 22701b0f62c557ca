//! Putting a rendered record into the spool directory.
//!
//! A spool made by `pyusage spool init` has fan-out subdirectories named by
//! the first [`FAN_OUT_DIGITS`] hex digits of the record id
//! (`<spool>/9c/9c90...json`), so that no directory grows past what a shared
//! filesystem lists quickly. The tracer writes into the record's
//! subdirectory when it exists and flat into the spool otherwise; ingest and
//! sweep read both.
//!
//! Users can create entries in a 1733 spool, so a subdirectory is trusted
//! only if it is a real directory (opened with `O_NOFOLLOW`, never a
//! symlink) owned by root or by the spool's own owner. Everything after that
//! is relative to the opened directory descriptors (`openat`, `linkat`), so
//! nothing can be swapped underneath between the check and the write.

use crate::diag;
use crate::sys::{self, CPath, Dir};
use crate::syscall;

/// Fan-out subdirectories are named by this many leading hex digits of the id.
pub const FAN_OUT_DIGITS: usize = 2;

const DIR_FLAGS: i32 = libc::O_RDONLY | libc::O_DIRECTORY | libc::O_CLOEXEC;

/// Opens the directory a record with this id belongs in: its fan-out
/// subdirectory if that is trustworthy, else the spool itself.
fn open_dir(spool: &[u8], id_hex: &[u8; 32]) -> Option<Dir> {
    let mut path = CPath::new();
    let p = path.push(spool).as_ptr()?;
    // SAFETY: p is NUL-terminated. The spool path is the admin's (or the
    // user's own) setting, so following a symlink there is intended.
    let fd = unsafe { syscall::open(p, DIR_FLAGS, 0) };
    if fd < 0 {
        return None;
    }
    let spool_dir = Dir(fd);
    let (spool_owner, _) = syscall::owner_and_mode(spool_dir.0).ok()?;
    let mut name = CPath::new();
    let name = name.push(&id_hex[..FAN_OUT_DIGITS]).as_ptr()?;
    // SAFETY: name is NUL-terminated; O_NOFOLLOW refuses a planted symlink.
    let sub = unsafe { syscall::openat(spool_dir.0, name, DIR_FLAGS | libc::O_NOFOLLOW, 0) };
    if sub < 0 {
        return Some(spool_dir);
    }
    let sub = Dir(sub);
    match syscall::owner_and_mode(sub.0) {
        Ok((uid, _)) if uid == 0 || uid == spool_owner => Some(sub),
        _ => {
            diag::debug(&[
                b"ignoring a fan-out directory not owned by the spool's owner in ",
                spool,
            ]);
            Some(spool_dir)
        }
    }
}

/// Writes `json` as `<id>.json` into the spool (fan-out or flat): to a temp
/// file first, then `link`ed to its final name, so a file already under that
/// name is never replaced. False if the spool is unusable or the name is
/// taken; the raw record then stays for `pyusage sweep`.
pub fn write(spool: &[u8], id_hex: &[u8; 32], json: &[u8]) -> bool {
    let Some(dir) = open_dir(spool, id_hex) else {
        diag::debug(&[b"cannot open spool ", spool]);
        return false;
    };
    let mut tmp = CPath::new();
    let mut fin = CPath::new();
    let (Some(tmp), Some(fin)) = (
        tmp.push(b".").push(id_hex).push(b".tmp").as_ptr(),
        fin.push(id_hex).push(b".json").as_ptr(),
    ) else {
        return false;
    };
    let flags = libc::O_WRONLY | libc::O_CREAT | libc::O_TRUNC | libc::O_NOFOLLOW | libc::O_CLOEXEC;
    // SAFETY: tmp is NUL-terminated; dir.0 is an open directory.
    let fd = unsafe { syscall::openat(dir.0, tmp, flags, 0o644) };
    if fd < 0 {
        diag::debug(&[b"cannot write to spool ", spool]);
        return false;
    }
    let written = sys::write_all(fd, json);
    let closed = syscall::close(fd) == 0;
    // SAFETY: both names are NUL-terminated. A filesystem without hard links
    // gets a rename (which may replace; ids are unique anyway). EEXIST is
    // not "already shipped": this process never shipped this record, so the
    // name was taken by someone else to stand in for it. Not shipped: the
    // raw record stays for the sweep, which quarantines the impostor.
    let linked = written
        && closed
        && unsafe {
            let r = syscall::linkat(dir.0, tmp, fin);
            r == 0 || (r != -libc::EEXIST && syscall::renameat(dir.0, tmp, fin) == 0)
        };
    // SAFETY: tmp is ours (gone already if rename ran).
    unsafe { syscall::unlinkat(dir.0, tmp) };
    linked
}

/// Removes the copy of this record that this process shipped moments ago
/// (the `exec` that failed), from wherever [`write`] put it.
pub fn withdraw(spool: &[u8], id_hex: &[u8; 32]) {
    let Some(dir) = open_dir(spool, id_hex) else {
        return;
    };
    let mut fin = CPath::new();
    if let Some(fin) = fin.push(id_hex).push(b".json").as_ptr() {
        // SAFETY: fin is NUL-terminated; dir.0 is an open directory.
        unsafe { syscall::unlinkat(dir.0, fin) };
    }
}
