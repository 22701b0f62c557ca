//! The package map: readable, valid, and not older than the installations
//! it covers (a package installed after the map was built is recorded as
//! raw paths until the map is rebuilt).

use super::{Check, Ctx};
use pyusage_resolver::PackageMap;
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::time::{SystemTime, UNIX_EPOCH};

fn mtime_secs(p: &Path) -> Option<u64> {
    let t = std::fs::symlink_metadata(p).ok()?.modified().ok()?;
    t.duration_since(UNIX_EPOCH).ok().map(|d| d.as_secs())
}

/// The newest change in a root: the directory itself and its entries (an
/// install or removal adds or removes a `*.dist-info` directory there).
fn newest_change(root: &Path) -> Option<u64> {
    let mut newest = mtime_secs(root)?;
    if let Ok(rd) = std::fs::read_dir(root) {
        for e in rd.flatten() {
            newest = newest.max(mtime_secs(&e.path()).unwrap_or(0));
        }
    }
    Some(newest)
}

/// The map check.
pub fn map(ctx: &Ctx) -> Check {
    const NAME: &str = "map";
    let Ok(e) = &ctx.effective else {
        return Check::fail(NAME, "unknown (configuration not loaded)");
    };
    let path = &e.map;
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(err) => {
            return Check::fail(
                NAME,
                format!(
                    "{}: {err}; records carry raw paths (run `pyusage map build`)",
                    path.display()
                ),
            )
        }
    };
    let map = match PackageMap::parse(&bytes).and_then(|m| m.verify_checksum().map(|()| m)) {
        Ok(m) => m,
        Err(err) => {
            return Check::fail(
                NAME,
                format!("{}: not a valid package map: {err}", path.display()),
            )
        }
    };
    let built = map.built_at();
    let mut stale = Vec::new();
    for i in 0..map.root_count() {
        let Some(root) = map.root(i) else { continue };
        let dir = Path::new(std::ffi::OsStr::from_bytes(root.path));
        match newest_change(dir) {
            Some(t) if t > built => stale.push(format!("{} changed", dir.display())),
            Some(_) => {}
            None => stale.push(format!("{} is gone", dir.display())),
        }
    }
    let age_h = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().saturating_sub(built) / 3600);
    if stale.is_empty() {
        Check::ok(
            NAME,
            format!(
                "{}: valid, {} distributions, {} roots, built {age_h} h ago, none changed since",
                path.display(),
                map.dist_count(),
                map.root_count()
            ),
        )
    } else {
        Check::warn(
            NAME,
            format!(
                "{}: older than what it covers ({}): rebuild it with `pyusage map build`",
                path.display(),
                stale.join("; ")
            ),
        )
    }
}
