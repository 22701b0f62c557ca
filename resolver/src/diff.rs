//! Differences between two package maps: what was installed, removed,
//! upgraded or downgraded between two builds.

use std::collections::BTreeMap;
use std::string::String;
use std::vec::Vec;

use crate::PackageMap;

/// One change between two maps.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// Present only in the new map.
    Installed {
        /// Environment.
        env: String,
        /// Name.
        name: String,
        /// Version.
        version: String,
    },
    /// Present only in the old map.
    Removed {
        /// Environment.
        env: String,
        /// Name.
        name: String,
        /// Version.
        version: String,
    },
    /// Version changed.
    Changed {
        /// Environment.
        env: String,
        /// Name.
        name: String,
        /// Old version.
        old: String,
        /// New version.
        new: String,
        /// Whether the new version sorts higher.
        upgrade: bool,
    },
}

/// PEP 503 normalised name: lower case, runs of `-_.` as `-`.
pub fn normalize_name(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut sep = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            sep = true;
        } else {
            if sep && !out.is_empty() {
                out.push('-');
            }
            sep = false;
            out.extend(c.to_lowercase());
        }
    }
    out
}

/// Compares versions by their dot-separated parts, numerically where both
/// parts are numbers (`1.10` > `1.9`), else as text. Good enough to tell an
/// upgrade from a downgrade.
pub fn version_cmp(a: &str, b: &str) -> std::cmp::Ordering {
    let mut pa = a.split(['.', '-', '+']);
    let mut pb = b.split(['.', '-', '+']);
    loop {
        match (pa.next(), pb.next()) {
            (None, None) => return std::cmp::Ordering::Equal,
            (Some(_), None) => return std::cmp::Ordering::Greater,
            (None, Some(_)) => return std::cmp::Ordering::Less,
            (Some(x), Some(y)) => {
                let o = match (x.parse::<u64>(), y.parse::<u64>()) {
                    (Ok(x), Ok(y)) => x.cmp(&y),
                    _ => x.cmp(y),
                };
                if o != std::cmp::Ordering::Equal {
                    return o;
                }
            }
        }
    }
}

fn index(m: &PackageMap<'_>) -> BTreeMap<(String, String), (String, String)> {
    let mut out = BTreeMap::new();
    for id in 0..m.dist_count() {
        if let Some(d) = m.dist(id) {
            let env = String::from_utf8_lossy(d.env).into_owned();
            let name = String::from_utf8_lossy(d.name).into_owned();
            let version = String::from_utf8_lossy(d.version).into_owned();
            out.entry((env, normalize_name(&name)))
                .or_insert((name, version));
        }
    }
    out
}

/// The changes from `old` to `new`, sorted by environment and name.
pub fn diff(old: &PackageMap<'_>, new: &PackageMap<'_>) -> Vec<Change> {
    let a = index(old);
    let b = index(new);
    let mut out = Vec::new();
    for ((env, key), (name, version)) in &a {
        match b.get(&(env.clone(), key.clone())) {
            None => out.push(Change::Removed {
                env: env.clone(),
                name: name.clone(),
                version: version.clone(),
            }),
            Some((_, nv)) if nv != version => out.push(Change::Changed {
                env: env.clone(),
                name: name.clone(),
                old: version.clone(),
                new: nv.clone(),
                upgrade: version_cmp(nv, version) == std::cmp::Ordering::Greater,
            }),
            Some(_) => {}
        }
    }
    for ((env, key), (name, version)) in &b {
        if !a.contains_key(&(env.clone(), key.clone())) {
            out.push(Change::Installed {
                env: env.clone(),
                name: name.clone(),
                version: version.clone(),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cmp::Ordering;

    #[test]
    fn names_and_versions() {
        assert_eq!(normalize_name("Scikit_Learn"), "scikit-learn");
        assert_eq!(normalize_name("zope.interface"), "zope-interface");
        assert_eq!(version_cmp("1.10.0", "1.9.3"), Ordering::Greater);
        assert_eq!(version_cmp("2.0", "2.0.1"), Ordering::Less);
        assert_eq!(version_cmp("1.0", "1.0"), Ordering::Equal);
    }
}
