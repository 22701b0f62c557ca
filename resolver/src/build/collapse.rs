//! From claimed files to map keys.
//!
//! Every claimed file below a site directory is covered by the highest
//! directory (still below the site directory) whose claimed files all belong
//! to the same distribution: `numpy/` rather than 1,800 files of numpy, and
//! `__pycache__` files written after the install resolve as well. Files in
//! shared directories (`site-packages/six.py`, `bin/`, everything outside a
//! site directory) become exact keys.

use std::collections::{HashMap, HashSet};

use super::model::Found;
use super::paths;
use crate::format::{TARGET_NONE, TARGET_STDLIB};

const MIXED: u32 = u32::MAX;
/// Conflicts kept for the report (all are counted).
const MAX_CONFLICTS_KEPT: usize = 200;

/// Two distributions claim one path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Conflict {
    /// The path (a directory ends with `/`).
    pub path: String,
    /// The distribution the map keeps (`name version (env)`).
    pub kept: String,
    /// The other claimant.
    pub other: String,
}

/// Keys and what it took to find them.
#[derive(Debug, Default)]
pub(crate) struct Keys {
    pub keys: Vec<(Vec<u8>, u32)>,
    pub conflicts: Vec<Conflict>,
    pub conflict_count: usize,
    pub files: usize,
}

fn describe(f: &Found) -> String {
    format!(
        "{} {} ({})",
        paths::show(&f.fields.name),
        paths::show(&f.fields.version),
        paths::show(&f.fields.env)
    )
}

fn dir_key(d: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(d.len() + 1);
    k.extend_from_slice(d);
    if k.last() != Some(&b'/') {
        k.push(b'/');
    }
    k
}

/// Computes the keys for `founds` (ids are indices) given the site
/// directories and standard-library directories (all normalised).
pub(crate) fn compute(
    founds: &[Found],
    sites: &[Vec<u8>],
    stdlib: &[Vec<u8>],
    barriers: &[Vec<u8>],
) -> Keys {
    let mut out = Keys::default();
    let mut sites_by_len: Vec<&[u8]> = sites.iter().map(|s| &s[..]).collect();
    sites_by_len.sort_by_key(|s| std::cmp::Reverse(s.len()));
    let in_stdlib = |p: &[u8]| {
        stdlib.iter().any(|d| paths::is_within(p, d))
            && !sites.iter().chain(barriers).any(|s| paths::is_within(p, s))
    };
    let floor_of = |p: &[u8]| sites_by_len.iter().find(|s| paths::is_below(p, s)).map(|s| s.len());
    let mut protected: HashSet<&[u8]> = HashSet::new();
    for s in sites {
        let mut d: &[u8] = s;
        loop {
            protected.insert(d);
            match paths::parent(d) {
                Some(p) if !p.is_empty() => d = p,
                _ => break,
            }
        }
    }
    let conflict = |out: &mut Keys, path: &[u8], kept: u32, other: u32| {
        out.conflict_count += 1;
        if out.conflicts.len() < MAX_CONFLICTS_KEPT {
            out.conflicts.push(Conflict {
                path: paths::show(path),
                kept: describe(&founds[kept as usize]),
                other: describe(&founds[other as usize]),
            });
        }
    };

    // 1. Who owns each file (the first claimant, in id order).
    let total: usize = founds.iter().map(|f| f.files.len()).sum();
    let mut owner: HashMap<&[u8], u32> = HashMap::with_capacity(total);
    let mut order: Vec<(&[u8], u32)> = Vec::with_capacity(total);
    for (id, f) in founds.iter().enumerate() {
        let id = id as u32;
        for file in &f.files {
            if in_stdlib(file) {
                continue;
            }
            match owner.entry(&file[..]) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                    order.push((file, id));
                }
                std::collections::hash_map::Entry::Occupied(o) => {
                    if *o.get() != id {
                        let kept = *o.get();
                        conflict(&mut out, file, kept, id);
                    }
                }
            }
        }
    }
    out.files = order.len();

    // 2. Which directories below a site directory hold one owner only.
    let mut state: HashMap<&[u8], u32> = HashMap::new();
    let mut floors: Vec<Option<usize>> = Vec::with_capacity(order.len());
    for &(file, id) in &order {
        let floor = floor_of(file);
        floors.push(floor);
        let Some(fl) = floor else { continue };
        let mut d = paths::parent(file).unwrap_or(b"");
        while d.len() > fl {
            match state.entry(d) {
                std::collections::hash_map::Entry::Vacant(v) => {
                    v.insert(id);
                }
                std::collections::hash_map::Entry::Occupied(mut o) => {
                    let cur = *o.get();
                    if cur == id || cur == MIXED {
                        break;
                    }
                    o.insert(MIXED);
                }
            }
            d = paths::parent(d).unwrap_or(b"");
        }
    }

    // 3. Emit the highest uniform directory, else the file itself.
    let mut keys: HashMap<Vec<u8>, u32> = HashMap::new();
    let mut top_of: HashMap<&[u8], Option<&[u8]>> = HashMap::new();
    for (&(file, id), floor) in order.iter().zip(&floors) {
        let parent = paths::parent(file).unwrap_or(b"");
        let top = match floor {
            None => None,
            Some(fl) => *top_of.entry(parent).or_insert_with(|| {
                let mut top = None;
                let mut d = parent;
                while d.len() > *fl && state.get(d) == Some(&id) && !protected.contains(d) {
                    top = Some(d);
                    d = paths::parent(d).unwrap_or(b"");
                }
                top
            }),
        };
        match top {
            Some(t) => {
                keys.entry(dir_key(t)).or_insert(id);
            }
            None => {
                keys.insert(file.to_vec(), id);
            }
        }
    }

    // 4. Whole directories claimed without a file list.
    for (id, f) in founds.iter().enumerate() {
        let id = id as u32;
        for d in &f.dirs {
            if in_stdlib(d) || protected.contains(&d[..]) {
                continue;
            }
            let k = dir_key(d);
            match keys.get(&k) {
                Some(&cur) if cur != id => conflict(&mut out, &k, cur, id),
                Some(_) => {}
                None => {
                    keys.insert(k, id);
                }
            }
        }
    }

    // 5. The standard library, and barriers for site directories inside it.
    for d in stdlib {
        keys.insert(dir_key(d), TARGET_STDLIB);
    }
    for s in sites.iter().chain(barriers) {
        if stdlib.iter().any(|d| paths::is_below(s, d)) {
            keys.insert(dir_key(s), TARGET_NONE);
        }
    }
    let mut keys: Vec<(Vec<u8>, u32)> = keys.into_iter().collect();
    keys.sort_unstable();
    out.keys = keys;
    out
}
