//! Writing shipped records into a spool directory, flat or fanned out.
//!
//! Same protocol and layout as the tracer (`preload/src/spool.rs`): the
//! record goes into `<spool>/<hh>/` (the first [`FAN_OUT_DIGITS`] hex digits
//! of its id) when that subdirectory exists as a real directory owned by root
//! or by the spool's owner, else flat into `<spool>`. It is written to
//! `.<id>.sweep-<pid>.tmp`, then `link`ed to `<id>.json`: `link` refuses to
//! replace an existing name, so a record that its own process (or another
//! sweep) already shipped is never duplicated.
//!
//! The sweep runs as root, so a symlink planted in a 1733 spool must never
//! be followed: the subdirectory is checked with `lstat`, and a root-owned
//! directory in a sticky spool cannot be renamed or removed by anyone else
//! between the check and the write.

use anyhow::{Context, Result};
use std::io::Write;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

/// Fan-out subdirectories are named by this many leading hex digits of the id.
pub const FAN_OUT_DIGITS: usize = 2;

/// What happened to a record offered to the spool.
#[derive(Debug, PartialEq, Eq)]
pub enum Shipped {
    /// Written now.
    New,
    /// A record with this id was already there.
    AlreadyThere,
    /// Another user's file (or a non-file) holds the record's name.
    Planted {
        /// The file in the way.
        path: PathBuf,
        /// Its owner.
        uid: u32,
    },
}

/// Every fan-out subdirectory name, `00` to `ff`.
pub fn fan_out_names() -> impl Iterator<Item = String> {
    (0..16usize.pow(FAN_OUT_DIGITS as u32)).map(|i| format!("{i:0width$x}", width = FAN_OUT_DIGITS))
}

/// Whether `sub` is a fan-out directory the tools and the tracer write into:
/// a real directory (not a symlink) owned by root or by the spool's owner.
pub fn trusted_fan_out(spool_owner: u32, sub: &Path) -> bool {
    std::fs::symlink_metadata(sub)
        .is_ok_and(|m| m.file_type().is_dir() && (m.uid() == 0 || m.uid() == spool_owner))
}

/// The directory a record with this id goes to.
pub fn dir_for(spool: &Path, id_hex: &str) -> PathBuf {
    let owner = std::fs::metadata(spool).map_or(0, |m| m.uid());
    match id_hex.get(..FAN_OUT_DIGITS) {
        Some(prefix) if prefix.bytes().all(|c| c.is_ascii_hexdigit()) => {
            let sub = spool.join(prefix.to_ascii_lowercase());
            if trusted_fan_out(owner, &sub) {
                sub
            } else {
                spool.to_path_buf()
            }
        }
        _ => spool.to_path_buf(),
    }
}

/// Puts `json` into `spool` as `<id_hex>.json` (in its fan-out subdirectory
/// when there is one). `owner` is the uid whose record it is: a file already
/// under that name owned by anyone else (or not a regular file) was planted
/// to stand in for the record, and is reported as [`Shipped::Planted`].
pub fn ship(spool: &Path, id_hex: &str, json: &[u8], owner: u32) -> Result<Shipped> {
    let dir = dir_for(spool, id_hex);
    let tmp = dir.join(format!(".{id_hex}.sweep-{}.tmp", std::process::id()));
    let fin = dir.join(format!("{id_hex}.json"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot write into spool {}", dir.display()))?;
        f.write_all(json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, &fin) {
            Ok(()) => Ok(Shipped::New),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                match std::fs::symlink_metadata(&fin) {
                    Ok(m) if m.file_type().is_file() && (m.uid() == 0 || m.uid() == owner) => {
                        Ok(Shipped::AlreadyThere)
                    }
                    Ok(m) => Ok(Shipped::Planted {
                        path: fin.clone(),
                        uid: m.uid(),
                    }),
                    // Gone again in between: try once more on the next sweep.
                    Err(e) => Err(e).with_context(|| format!("cannot stat {}", fin.display())),
                }
            }
            Err(e) => Err(e).with_context(|| format!("cannot link {}", fin.display())),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
