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
    // A map must only ever be replaced (rename), never changed in place.
    // An immutable one is mapped by the tracer; any other is copied into
    // each Python process, which costs time in proportion to its size.
    use std::os::unix::fs::PermissionsExt;
    let writable = std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o222 != 0);
    let immutable = crate::map_cmd::attributes::is_immutable(path);
    if writable && !immutable {
        return Check::warn(
            NAME,
            format!(
                "{}: writable (mode allows writes): a map changed in place instead of replaced \
                 gives running processes nothing; build maps with `pyusage map build`, which writes them 0444",
                path.display()
            ),
        );
    }
    let loading = if immutable {
        "immutable, mapped by the tracer".to_owned()
    } else {
        format!(
            "copied into each Python process ({} KiB; `pyusage map build --immutable` lets the tracer map it)",
            bytes.len().div_ceil(1024)
        )
    };
    let age_h = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs().saturating_sub(built) / 3600);
    if stale.is_empty() {
        Check::ok(
            NAME,
            format!(
                "{}: valid, {} distributions, {} roots, built {age_h} h ago, none changed since; {loading}",
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
