//! Planning: from roots and interpreters to site directories, conda
//! environments, standard-library directories and path aliases.

use std::collections::HashSet;
use std::fs;
use std::path::Path;
use std::sync::Arc;

use rustix::fs::{Mode, OFlags};

use super::model::{Site, Warning};
use super::{interp, paths, pth, BuildOptions, RootSummary};

/// How deep `.pth` / `.egg-link` indirections are followed.
const MAX_PTH_DEPTH: usize = 3;

#[derive(Debug, Default)]
pub(crate) struct Plan {
    pub sites: Vec<Site>,
    /// (prefix, env) of conda environments.
    pub conda: Vec<(Vec<u8>, Vec<u8>)>,
    pub stdlib: Vec<Vec<u8>>,
    /// `site-packages` / `dist-packages` inside a standard library that are
    /// not scanned: they belong to nothing rather than to the stdlib.
    pub barriers: Vec<Vec<u8>>,
    /// (from, to): a key below `from` is also stored below `to`.
    pub aliases: Vec<(Vec<u8>, Vec<u8>)>,
    pub map_roots: Vec<(Vec<u8>, Vec<u8>)>,
    pub summaries: Vec<RootSummary>,
    pub warnings: Vec<Warning>,
    seen_sites: HashSet<Vec<u8>>,
    seen_prefixes: HashSet<Vec<u8>>,
}

impl Plan {
    fn warn(&mut self, p: &[u8], msg: impl Into<String>) {
        self.warnings.push(Warning {
            path: paths::path(p),
            message: msg.into(),
        });
    }

    fn add_alias(&mut self, from: Vec<u8>, to: Vec<u8>) {
        if from != to && !self.aliases.iter().any(|(f, t)| *f == from && *t == to) {
            self.aliases.push((from, to));
        }
    }

    /// Aliases of an environment prefix: its canonical form, and `lib64`
    /// when it is a symlink to `lib` (venvs).
    fn prefix_aliases(&mut self, prefix: &[u8]) {
        if !self.seen_prefixes.insert(prefix.to_vec()) {
            return;
        }
        if let Ok(c) = fs::canonicalize(paths::path(prefix)) {
            let c = paths::normalize(paths::bytes(&c));
            self.add_alias(prefix.to_vec(), c.clone());
            self.add_alias(c, prefix.to_vec());
        }
        let lib = paths::join(prefix, b"lib");
        let lib64 = paths::join(prefix, b"lib64");
        let l64 = paths::path(&lib64);
        if fs::symlink_metadata(&l64).is_ok_and(|m| m.file_type().is_symlink()) {
            let (a, b) = (fs::canonicalize(&l64), fs::canonicalize(paths::path(&lib)));
            if let (Ok(a), Ok(b)) = (a, b) {
                if a == b {
                    self.add_alias(lib.clone(), lib64.clone());
                    self.add_alias(lib64, lib);
                }
            }
        }
    }

    /// Adds a site directory (and what its `.pth` files point at).
    fn add_site(&mut self, dir: &[u8], env: &[u8], depth: usize, quiet_missing: bool) {
        let p = paths::path(dir);
        let canon = match fs::canonicalize(&p) {
            Ok(c) => paths::normalize(paths::bytes(&c)),
            Err(e) => {
                if !(quiet_missing && e.kind() == std::io::ErrorKind::NotFound) {
                    self.warn(dir, format!("cannot resolve directory ({e}); skipped"));
                }
                return;
            }
        };
        if !self.seen_sites.insert(canon.clone()) {
            return;
        }
        let rd = match fs::read_dir(&p) {
            Ok(rd) => rd,
            Err(e) => {
                self.warn(dir, format!("cannot read directory ({e}); skipped"));
                return;
            }
        };
        let mut listing: Vec<Vec<u8>> = Vec::new();
        for e in rd {
            match e {
                Ok(e) => {
                    let name = e.file_name();
                    let name = paths::bytes(Path::new(&name)).to_vec();
                    if std::str::from_utf8(&name).is_err()
                        && (name.ends_with(b"-info") || name.ends_with(b".egg"))
                    {
                        self.warn(
                            &paths::join(dir, &name),
                            "metadata name is not UTF-8; mapped as raw bytes",
                        );
                    }
                    listing.push(name);
                }
                Err(e) => self.warn(dir, format!("error while listing ({e})")),
            }
        }
        listing.sort();
        self.add_alias(dir.to_vec(), canon);
        let mut more = Vec::new();
        for name in &listing {
            let is_pth = name.ends_with(b".pth");
            let is_link = name.ends_with(b".egg-link");
            if !(is_pth || is_link) {
                continue;
            }
            let f = paths::join(dir, name);
            match fs::read(paths::path(&f)) {
                Ok(data) => {
                    if is_pth {
                        more.extend(pth::dirs(dir, &data));
                    } else if let Some(d) = pth::egg_link(dir, &data) {
                        more.push(d);
                    }
                }
                Err(e) => self.warn(&f, format!("cannot read ({e})")),
            }
        }
        let fd = rustix::fs::open(
            &p,
            OFlags::PATH | OFlags::DIRECTORY | OFlags::CLOEXEC,
            Mode::empty(),
        )
        .ok()
        .map(Arc::new);
        self.sites.push(Site {
            dir: dir.to_vec(),
            env: env.to_vec(),
            listing,
            fd,
        });
        if depth < MAX_PTH_DEPTH {
            for d in more {
                if paths::path(&d).is_dir() {
                    self.add_site(&d, env, depth + 1, true);
                }
            }
        }
    }
}

/// `<prefix>/lib/pythonX.Y/site-packages` (or `dist-packages`, `lib64`) -> `<prefix>`.
pub(crate) fn prefix_of_site(site: &[u8]) -> Option<Vec<u8>> {
    let name = paths::file_name(site);
    if name != b"site-packages" && name != b"dist-packages" {
        return None;
    }
    let pydir = paths::parent(site)?;
    if !paths::file_name(pydir).starts_with(b"python") {
        return None;
    }
    let lib = paths::parent(pydir)?;
    let l = paths::file_name(lib);
    if l != b"lib" && l != b"lib64" {
        return None;
    }
    let prefix = paths::parent(lib)?;
    Some(if prefix.is_empty() {
        b"/".to_vec()
    } else {
        prefix.to_vec()
    })
}

fn list_dir(dir: &[u8]) -> Vec<Vec<u8>> {
    let mut v: Vec<Vec<u8>> = fs::read_dir(paths::path(dir))
        .map(|rd| {
            rd.filter_map(|e| e.ok())
                .map(|e| paths::bytes(Path::new(&e.file_name())).to_vec())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// Site directories and standard library under an environment prefix.
fn prefix_layout(prefix: &[u8]) -> (Vec<Vec<u8>>, Vec<Vec<u8>>) {
    let mut sites = Vec::new();
    let mut stdlib = Vec::new();
    for base in [&b"lib"[..], b"lib64", b"local/lib"] {
        let lib = paths::join(prefix, base);
        for name in list_dir(&lib) {
            if !name.starts_with(b"python") {
                continue;
            }
            let pydir = paths::join(&lib, &name);
            for sub in [&b"site-packages"[..], b"dist-packages"] {
                let s = paths::join(&pydir, sub);
                if paths::path(&s).is_dir() {
                    sites.push(s);
                }
            }
            if paths::path(&paths::join(&pydir, b"os.py")).is_file() {
                stdlib.push(pydir);
            }
        }
    }
    (sites, stdlib)
}

fn has_metadata(dir: &[u8]) -> bool {
    list_dir(dir)
        .iter()
        .any(|n| n.ends_with(b".dist-info") || n.ends_with(b".egg-info") || n.ends_with(b".egg"))
}

/// Plans the scan of `opts`.
pub(crate) fn plan(opts: &BuildOptions) -> Plan {
    let mut plan = Plan::default();
    for py in &opts.pythons {
        let exe = paths::absolute(&py.path);
        match interp::query(&py.path) {
            Ok(info) => {
                let prefix = paths::normalize(info.prefix.as_bytes());
                let env = py
                    .label
                    .clone()
                    .map_or_else(|| prefix.clone(), String::into_bytes);
                plan.prefix_aliases(&prefix);
                plan.prefix_aliases(&paths::normalize(info.base_prefix.as_bytes()));
                for s in &info.sites {
                    plan.add_site(&paths::normalize(s.as_bytes()), &env, 0, true);
                }
                for s in info.stdlib.iter().chain(&info.dynload) {
                    let d = paths::normalize(s.as_bytes());
                    if !plan.stdlib.contains(&d) {
                        plan.stdlib.push(d);
                    }
                }
                plan.map_roots.push((exe.clone(), env.clone()));
                plan.summaries.push(RootSummary {
                    path: paths::show(&exe),
                    env: paths::show(&env),
                    kind: format!("python {} interpreter", info.version),
                });
            }
            Err(e) => plan.warn(&exe, e),
        }
    }
    for root in &opts.roots {
        let dir = paths::absolute(&root.path);
        let label = root.label.clone().map(String::into_bytes);
        if dir.ends_with(b".egg") && paths::path(&dir).is_file() {
            // A zipped egg: the egg alone, listed in its directory as a site
            // of one entry (the rest of that directory is not this root).
            let parent = paths::parent(&dir).unwrap_or(b"/").to_vec();
            let env =
                label.unwrap_or_else(|| prefix_of_site(&parent).unwrap_or_else(|| parent.clone()));
            plan.sites.push(Site {
                dir: parent,
                env: env.clone(),
                listing: vec![paths::file_name(&dir).to_vec()],
                fd: None,
            });
            plan.map_roots.push((dir.clone(), env.clone()));
            plan.summaries.push(RootSummary {
                path: paths::show(&dir),
                env: paths::show(&env),
                kind: "zipped egg".to_string(),
            });
            continue;
        }
        if !paths::path(&dir).is_dir() {
            match fs::metadata(paths::path(&dir)) {
                Err(e) => plan.warn(&dir, format!("root is not readable ({e}); skipped")),
                Ok(_) => plan.warn(&dir, "root is not a directory; skipped"),
            }
            continue;
        }
        let kind;
        let env;
        if paths::path(&paths::join(&dir, b"conda-meta")).is_dir() {
            env = label.unwrap_or_else(|| dir.clone());
            plan.prefix_aliases(&dir);
            plan.conda.push((dir.clone(), env.clone()));
            let (sites, stdlib) = prefix_layout(&dir);
            for s in sites {
                plan.add_site(&s, &env, 0, true);
            }
            plan.stdlib.extend(stdlib);
            kind = "conda environment";
        } else if has_metadata(&dir) {
            let prefix = prefix_of_site(&dir);
            env = label.unwrap_or_else(|| prefix.clone().unwrap_or_else(|| dir.clone()));
            if let Some(p) = &prefix {
                plan.prefix_aliases(p);
            }
            plan.add_site(&dir, &env, 0, false);
            kind = "site directory";
        } else {
            let (sites, stdlib) = prefix_layout(&dir);
            env = label.unwrap_or_else(|| prefix_of_site(&dir).unwrap_or_else(|| dir.clone()));
            if sites.is_empty() {
                plan.add_site(&dir, &env, 0, false);
                kind = "site directory";
            } else {
                plan.prefix_aliases(&dir);
                for s in sites {
                    plan.add_site(&s, &env, 0, true);
                }
                plan.stdlib.extend(stdlib);
                kind = "environment prefix";
            }
        }
        plan.map_roots.push((dir.clone(), env.clone()));
        plan.summaries.push(RootSummary {
            path: paths::show(&dir),
            env: paths::show(&env),
            kind: kind.to_string(),
        });
    }
    plan.stdlib.sort();
    plan.stdlib.dedup();
    for d in plan.stdlib.clone() {
        for sub in [&b"site-packages"[..], b"dist-packages"] {
            let b = paths::join(&d, sub);
            if paths::path(&b).is_dir() {
                plan.barriers.push(b);
            }
        }
    }
    // Canonical forms of the standard library too.
    for d in plan.stdlib.clone() {
        if let Ok(c) = fs::canonicalize(paths::path(&d)) {
            let c = paths::normalize(paths::bytes(&c));
            if !plan.stdlib.contains(&c) {
                plan.stdlib.push(c);
            }
        }
    }
    plan
}

/// Every other spelling of `key` under the aliases (transitively, a few).
pub(crate) fn aliases_of(key: &[u8], aliases: &[(Vec<u8>, Vec<u8>)]) -> Vec<Vec<u8>> {
    let mut out: Vec<Vec<u8>> = Vec::new();
    let mut queue: Vec<Vec<u8>> = vec![key.to_vec()];
    while let Some(k) = queue.pop() {
        let bare = k.strip_suffix(b"/").unwrap_or(&k);
        for (from, to) in aliases {
            if paths::is_below(bare, from) {
                let mut v = to.clone();
                v.extend_from_slice(&k[from.len()..]);
                if v != key && !out.contains(&v) && out.len() < 8 {
                    out.push(v.clone());
                    queue.push(v);
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prefixes() {
        assert_eq!(
            prefix_of_site(b"/v/lib/python3.11/site-packages"),
            Some(b"/v".to_vec())
        );
        assert_eq!(
            prefix_of_site(b"/usr/lib/python3/dist-packages"),
            Some(b"/usr".to_vec())
        );
        assert_eq!(
            prefix_of_site(b"/lib/python3/dist-packages"),
            Some(b"/".to_vec())
        );
        assert_eq!(prefix_of_site(b"/opt/site-packages"), None);
    }

    #[test]
    fn alias_closure() {
        let al = vec![
            (b"/v/lib".to_vec(), b"/v/lib64".to_vec()),
            (b"/v".to_vec(), b"/real/v".to_vec()),
        ];
        let mut a = aliases_of(b"/v/lib/x/", &al);
        a.sort();
        assert_eq!(
            a,
            vec![
                b"/real/v/lib/x/".to_vec(),
                b"/real/v/lib64/x/".to_vec(),
                b"/v/lib64/x/".to_vec()
            ]
        );
        assert!(aliases_of(b"/other/x", &al).is_empty());
    }
}
