//! Fallback when a distribution has no file list: claim its top-level
//! modules (`top_level.txt`) in the site directory.

use super::model::{Found, Site};
use super::paths;

/// Claims, in `site`, the package directory `name/` and the single-file
/// modules `name.py`, `name.cpython-311-x86_64-linux-gnu.so`, ... of each
/// top-level module name. Returns how many were found.
pub(crate) fn claim(site: &Site, names: &[Vec<u8>], found: &mut Found) -> usize {
    let mut n = 0;
    for name in names {
        // `top_level.txt` may hold nested names (`google/protobuf`).
        if name.is_empty() || name.contains(&0) {
            continue;
        }
        let first = name.split(|&b| b == b'/').next().unwrap_or(name);
        for entry in &site.listing {
            let full = paths::join(&site.dir, entry);
            if entry == first {
                let target = paths::join(&site.dir, name);
                if paths::path(&target).is_dir() {
                    found.dirs.push(target);
                    n += 1;
                }
            } else if entry.len() > first.len()
                && entry.starts_with(first)
                && entry[first.len()] == b'.'
                && name.len() == first.len()
                && !entry.ends_with(b"-info")
                && !entry.ends_with(b".pth")
            {
                found.files.push(&full);
                n += 1;
            }
        }
    }
    n
}

/// A guess at the import name of a distribution without `top_level.txt`.
pub(crate) fn guess_from_name(name: &[u8]) -> Vec<u8> {
    name.iter()
        .map(|&b| match b {
            b'-' | b'.' => b'_',
            b => b.to_ascii_lowercase(),
        })
        .collect()
}
