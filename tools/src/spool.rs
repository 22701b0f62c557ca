//! Writing shipped records into a spool directory.
//!
//! Same protocol as the tracer: write `.<id>.tmp`, then `link` it to
//! `<id>.json`. `link` refuses to replace an existing name, so a record that
//! its own process (or another sweep) already shipped is never duplicated.

use anyhow::{Context, Result};
use std::io::Write;
use std::path::Path;

/// What happened to a record offered to the spool.
#[derive(Debug, PartialEq, Eq)]
pub enum Shipped {
    /// Written now.
    New,
    /// A record with this id was already there.
    AlreadyThere,
}

/// Puts `json` into `spool` as `<id_hex>.json`.
pub fn ship(spool: &Path, id_hex: &str, json: &[u8]) -> Result<Shipped> {
    let tmp = spool.join(format!(".{id_hex}.sweep-{}.tmp", std::process::id()));
    let fin = spool.join(format!("{id_hex}.json"));
    let result = (|| {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)
            .with_context(|| format!("cannot write into spool {}", spool.display()))?;
        f.write_all(json)?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        match std::fs::hard_link(&tmp, &fin) {
            Ok(()) => Ok(Shipped::New),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Ok(Shipped::AlreadyThere),
            Err(e) => Err(e).with_context(|| format!("cannot link {}", fin.display())),
        }
    })();
    let _ = std::fs::remove_file(&tmp);
    result
}
