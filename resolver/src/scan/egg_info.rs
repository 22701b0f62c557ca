//! `*.egg-info` (directory or single file), `.egg` directories and zip eggs.
//! See <https://setuptools.pypa.io/en/latest/deprecated/python_eggs.html>.

use std::fs;

use super::dist_info::{no_record, split_meta_name};
use super::dpkg::DpkgIndex;
use super::model::{Found, Scanned, Site};
use super::{paths, text, toplevel};

fn start(meta: &[u8], site: &Site, suffix: &[u8]) -> Found {
    let (name, version) = split_meta_name(paths::file_name(meta), suffix);
    let mut f = Found::default();
    f.fields.name = name;
    f.fields.version = version;
    f.fields.env = site.env.clone();
    f.fields.installer = b"setuptools".to_vec();
    f
}

fn read_pkg_info(p: &std::path::Path, found: &mut Found, out: &mut Scanned) {
    match fs::File::open(p).and_then(text::read_headers) {
        Ok(nv) => {
            if nv.name.is_none() || nv.version.is_none() {
                out.warn(
                    p,
                    "malformed PKG-INFO: no Name or Version header; using the file name",
                );
            }
            if let Some(n) = nv.name {
                found.fields.name = n;
            }
            if let Some(v) = nv.version {
                found.fields.version = v;
            }
        }
        Err(e) => out.warn(
            p,
            format!("cannot read PKG-INFO ({e}); using the file name"),
        ),
    }
}

/// Scans an `*.egg-info` directory or file.
pub(crate) fn scan_egg_info(meta: &[u8], site: &Site, dpkg: &DpkgIndex) -> Scanned {
    let mut out = Scanned::default();
    let mut found = start(meta, site, b".egg-info");
    let p = paths::path(meta);
    if p.is_dir() {
        read_pkg_info(&p.join("PKG-INFO"), &mut found, &mut out);
        found.dirs.push(meta.to_vec());
        if let Ok(data) = fs::read(p.join("installed-files.txt")) {
            // Paths relative to the egg-info directory.
            for l in text::lines(&data) {
                found.files.push_join(meta, l);
            }
        } else if dpkg.files_of(meta).is_some() || p.join("top_level.txt").exists() {
            no_record(meta, site, dpkg, &mut found, &mut out);
        } else if let Ok(data) = fs::read(p.join("SOURCES.txt")) {
            let mut names: Vec<Vec<u8>> = text::lines(&data)
                .filter_map(|l| {
                    let l = l.strip_prefix(b"src/").unwrap_or(l);
                    let first = l.split(|&b| b == b'/').next()?;
                    let stem = first.strip_suffix(b".py").unwrap_or(first);
                    Some(stem.to_vec())
                })
                .filter(|n| {
                    site.listing
                        .iter()
                        .any(|e| e == n || e.starts_with(&[&n[..], b"."].concat()))
                })
                .collect();
            names.sort();
            names.dedup();
            toplevel::claim(site, &names, &mut found);
        } else {
            no_record(meta, site, dpkg, &mut found, &mut out);
        }
    } else {
        // A single PKG-INFO file named `*.egg-info` (distutils, Debian).
        read_pkg_info(&p, &mut found, &mut out);
        found.files.push(meta);
        if let Some((pkg, files)) = dpkg.files_of(meta) {
            found.files.clear();
            for f in &files {
                found.files.push(f);
            }
            found.fields.installer = format!("dpkg:{pkg}").into_bytes();
        } else {
            let guess = toplevel::guess_from_name(&found.fields.name);
            toplevel::claim(site, &[guess], &mut found);
        }
    }
    if found.fields.name.is_empty() {
        out.warn(&p, "no distribution name; skipped");
        return out;
    }
    out.found = Some(found);
    out
}

/// Largest `PKG-INFO` read from a zipped egg (the headers come first).
const MAX_ZIPPED_PKG_INFO: u64 = 1 << 20;

/// Name and version from `EGG-INFO/PKG-INFO` inside a zipped egg: the file
/// name (`foo-1.0-py3.11.egg`) is only what the builder chose to call it.
fn read_zipped_pkg_info(p: &std::path::Path, found: &mut Found, out: &mut Scanned) {
    use std::io::Read;
    let member = fs::File::open(p)
        .map_err(|e| e.to_string())
        .and_then(|f| zip::ZipArchive::new(f).map_err(|e| format!("not a zip archive ({e})")))
        .and_then(|mut z| {
            let mut text = Vec::new();
            z.by_name("EGG-INFO/PKG-INFO")
                .map_err(|e| format!("no EGG-INFO/PKG-INFO ({e})"))?
                .take(MAX_ZIPPED_PKG_INFO)
                .read_to_end(&mut text)
                .map_err(|e| format!("cannot read EGG-INFO/PKG-INFO ({e})"))?;
            Ok(text)
        });
    match member.and_then(|bytes| text::read_headers(&bytes[..]).map_err(|e| e.to_string())) {
        Ok(nv) => {
            if let Some(n) = nv.name {
                found.fields.name = n;
            }
            if let Some(v) = nv.version {
                found.fields.version = v;
            }
        }
        Err(e) => out.warn(p, format!("zipped egg: {e}; using the file name")),
    }
}

/// Scans an `.egg` directory or zip file: the whole egg belongs to it.
pub(crate) fn scan_egg(meta: &[u8], site: &Site) -> Scanned {
    let mut out = Scanned::default();
    let mut found = start(meta, site, b".egg");
    let p = paths::path(meta);
    if p.is_dir() {
        let pkg_info = p.join("EGG-INFO").join("PKG-INFO");
        if pkg_info.exists() {
            read_pkg_info(&pkg_info, &mut found, &mut out);
        }
    } else {
        // Python sees modules of a zip egg as `/site/foo.egg/foo/__init__.py`.
        found.files.push(meta);
        read_zipped_pkg_info(&p, &mut found, &mut out);
    }
    found.dirs.push(meta.to_vec());
    if found.fields.name.is_empty() {
        out.warn(&p, "cannot tell the distribution name of this egg; skipped");
        return out;
    }
    out.found = Some(found);
    out
}
