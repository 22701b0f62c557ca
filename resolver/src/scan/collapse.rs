//! From claimed files to map keys.
//!
//! Every claimed file below a site directory is covered by the highest
//! directory (still below the site directory) whose claimed files all belong
//! to the same distribution: `numpy/` rather than 1,800 files of numpy, and
//! `__pycache__` files written after the install resolve as well. Files in
//! shared directories (`site-packages/six.py`, `bin/`, everything outside a
//! site directory) become exact keys.

use std::collections::{HashMap, HashSet};

use super::model::{Found, SiteFiles};
use super::paths;
use crate::format::{TARGET_NONE, TARGET_STDLIB};
use crate::writer::FastBuild;

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

type FastMap<K, V> = HashMap<K, V, FastBuild>;

/// Per first-component statistics in [`Partition::run`].
struct Group {
    owner: u32,
    other: u32,
    mixed: bool,
    dir: bool,
    file: bool,
    split: bool,
}

/// Counts `id`'s claim on `comp` (below it or the component itself).
fn add_to<'a>(groups: &mut FastMap<&'a [u8], Group>, comp: &'a [u8], id: u32, below: bool) {
    let g = groups.entry(comp).or_insert(Group {
        owner: id,
        other: id,
        mixed: false,
        dir: false,
        file: false,
        split: false,
    });
    if g.owner != id {
        g.mixed = true;
        g.other = g.owner.max(id);
        g.owner = g.owner.min(id);
    }
    if below {
        g.dir = true;
    } else {
        g.file = true;
    }
}

/// Whether group `comp` is split; `last` remembers the previous answer.
fn is_split<'a>(
    groups: &FastMap<&'a [u8], Group>,
    last: &mut (&'a [u8], bool),
    comp: &'a [u8],
) -> bool {
    match *last {
        (c, split) if c == comp && !c.is_empty() => split,
        _ => {
            let split = groups.get(comp).is_some_and(|g| g.split);
            *last = (comp, split);
            split
        }
    }
}

/// What a partition is made of: a path with its distribution, or all the
/// paths of a [`SiteFiles`] (below the partition's directory), by runs.
#[derive(Clone, Copy)]
enum Src<'a> {
    Path(&'a [u8], u32),
    Runs(&'a SiteFiles, u32),
}

struct Partition<'f, 'p> {
    founds: &'f [Found],
    protected: &'p HashSet<&'p [u8]>,
    keys: FastMap<Vec<u8>, u32>,
    out: Keys,
}

impl Partition<'_, '_> {
    fn conflict(&mut self, path: &[u8], kept: u32, other: u32) {
        self.out.conflict_count += 1;
        if self.out.conflicts.len() < MAX_CONFLICTS_KEPT {
            self.out.conflicts.push(Conflict {
                path: paths::show(path),
                kept: describe(&self.founds[kept as usize]),
                other: describe(&self.founds[other as usize]),
            });
        }
    }

    /// Keys for `items` (paths relative to the directory `base`, which ends
    /// with `/`): a uniform first component becomes one key; a shared one
    /// is split further.
    fn run<'a>(&mut self, base: &[u8], items: Vec<Src<'a>>) {
        let mut groups: FastMap<&'a [u8], Group> = FastMap::default();
        // A distribution's files come together, mostly many in a row below
        // one first component: such a run counts once.
        let mut last: (&[u8], u32, bool) = (b"", u32::MAX, false);
        for src in &items {
            match *src {
                Src::Path(rel, id) => {
                    let (comp, rest) = paths::split_after(rel, last.0);
                    if comp.is_empty() {
                        continue;
                    }
                    let below = matches!(rest, Some(r) if !r.is_empty());
                    if (comp, id, below) != last {
                        last = (comp, id, below);
                        add_to(&mut groups, comp, id, below);
                    }
                }
                Src::Runs(sf, id) => {
                    for r in &sf.runs {
                        let comp = sf.comp(r);
                        if (comp, id, r.below) != last {
                            last = (comp, id, r.below);
                            add_to(&mut groups, comp, id, r.below);
                        }
                    }
                }
            }
        }
        let mut path = base.to_vec();
        let mut any_split = false;
        for (comp, g) in groups.iter_mut() {
            path.truncate(base.len());
            path.extend_from_slice(comp);
            g.split = g.dir && (g.mixed || self.protected.contains(&path[..]));
            any_split |= g.split;
        }
        let mut sub: FastMap<&'a [u8], Vec<Src<'a>>> = FastMap::default();
        if any_split {
            let mut last: (&[u8], bool) = (b"", false);
            for src in &items {
                match *src {
                    Src::Path(rel, id) => {
                        let (comp, rest) = paths::split_after(rel, last.0);
                        if let (true, Some(r)) = (is_split(&groups, &mut last, comp), rest) {
                            if !r.is_empty() {
                                sub.entry(comp).or_default().push(Src::Path(r, id));
                            }
                        }
                    }
                    Src::Runs(sf, id) => {
                        for r in sf.runs.iter().filter(|r| r.below) {
                            let comp = sf.comp(r);
                            if is_split(&groups, &mut last, comp) {
                                let cut = comp.len() + 1;
                                sub.entry(comp)
                                    .or_default()
                                    .extend(sf.run_paths(r).map(|p| Src::Path(&p[cut..], id)));
                            }
                        }
                    }
                }
            }
        }
        drop(items);
        let mut comps: Vec<(&[u8], Group)> = groups.into_iter().collect();
        comps.sort_unstable_by(|a, b| a.0.cmp(b.0));
        for (comp, g) in comps {
            path.truncate(base.len());
            path.extend_from_slice(comp);
            if g.file {
                if g.mixed && !g.dir {
                    self.conflict(&path, g.owner, g.other);
                }
                if !g.dir || g.split {
                    self.keys.entry(path.clone()).or_insert(g.owner);
                }
            }
            if g.dir && !g.split {
                self.keys.entry(dir_key(&path)).or_insert(g.owner);
            } else if g.split {
                let items = sub.remove(comp).unwrap_or_default();
                let mut b = path.clone();
                b.push(b'/');
                self.run(&b, items);
            }
        }
    }
}

/// Computes the keys for `founds` (ids are indices) given the site
/// directories, standard-library directories and barriers (all normalised).
pub(crate) fn compute(
    founds: &[Found],
    sites: &[Vec<u8>],
    stdlib: &[Vec<u8>],
    barriers: &[Vec<u8>],
) -> Keys {
    let mut by_len: Vec<usize> = (0..sites.len()).collect();
    by_len.sort_by_key(|&i| std::cmp::Reverse(sites[i].len()));
    let in_stdlib = |p: &[u8]| {
        stdlib.iter().any(|d| paths::is_within(p, d))
            && !sites.iter().chain(barriers).any(|s| paths::is_within(p, s))
    };
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
    let mut part = Partition {
        founds,
        protected: &protected,
        keys: FastMap::default(),
        out: Keys::default(),
    };

    // 1. Files below a site directory go to that site's partition; others
    //    (scripts in `bin/`, conda's and dpkg's files elsewhere) are exact keys.
    //    Paths kept relative to site `i` go to the deepest site directory
    //    that holds them: one of `within[i]` (site numbers, deepest first,
    //    with the rest of the path below site `i` they stand for).
    let within: Vec<Vec<(usize, &[u8])>> = (0..sites.len())
        .map(|i| {
            by_len
                .iter()
                .filter(|&&j| paths::is_within(&sites[j], &sites[i]))
                .map(|&j| {
                    let cut = match sites[i].len() {
                        _ if sites[j].len() == sites[i].len() => sites[j].len(),
                        _ if sites[i] == b"/" => 1,
                        n => n + 1,
                    };
                    (j, &sites[j][cut..])
                })
                .collect()
        })
        .collect();
    let mut per_site: Vec<Vec<Src>> = vec![Vec::new(); sites.len()];
    let mut outside: FastMap<&[u8], u32> = FastMap::default();
    for (id, f) in founds.iter().enumerate() {
        let id = id as u32;
        for sf in &f.site_files {
            match within[sf.site].as_slice() {
                // Nothing else below the site: the path is the item.
                [(j, _)] if *j == sf.site => {
                    part.out.files += sf.spans.len();
                    per_site[sf.site].push(Src::Runs(sf, id));
                }
                cands => {
                    for rel in sf.iter() {
                        part.out.files += 1;
                        for &(j, sub) in cands {
                            if sub.is_empty() {
                                per_site[j].push(Src::Path(rel, id));
                                break;
                            }
                            if rel.len() > sub.len() + 1
                                && rel.starts_with(sub)
                                && rel[sub.len()] == b'/'
                            {
                                per_site[j].push(Src::Path(&rel[sub.len() + 1..], id));
                                break;
                            }
                        }
                    }
                }
            }
        }
        for file in f.files.iter() {
            if in_stdlib(file) {
                continue;
            }
            part.out.files += 1;
            match by_len.iter().find(|&&i| paths::is_below(file, &sites[i])) {
                Some(&i) => {
                    let cut = if sites[i] == b"/" {
                        1
                    } else {
                        sites[i].len() + 1
                    };
                    per_site[i].push(Src::Path(&file[cut..], id));
                }
                None => match outside.get(file) {
                    Some(&cur) if cur != id => part.conflict(file, cur, id),
                    Some(_) => {}
                    None => {
                        outside.insert(file, id);
                    }
                },
            }
        }
    }
    for (file, id) in outside {
        part.keys.insert(file.to_vec(), id);
    }
    // 2. Each site directory, split where distributions share a directory.
    for (i, items) in per_site.into_iter().enumerate() {
        let mut base = sites[i].clone();
        if base.last() != Some(&b'/') {
            base.push(b'/');
        }
        part.run(&base, items);
    }
    let Partition {
        mut keys, mut out, ..
    } = part;
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

    // 3. Whole directories claimed without a file list.
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

    // 4. The standard library, and barriers for site directories inside it.
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
