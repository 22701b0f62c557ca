//! `*.dist-info` directories: `METADATA`, `RECORD`, `INSTALLER`,
//! `top_level.txt` and `direct_url.json` (editable installs).
//! See <https://packaging.python.org/en/latest/specifications/recording-installed-packages/>.

use std::fs;
use std::io::ErrorKind;

use super::dpkg::DpkgIndex;
use super::model::{Found, Scanned, Site, SiteFiles};
use super::{fsio, paths, text, toplevel};

/// Scans one `*.dist-info` directory (`meta`, absolute) of `site` (the
/// plan's site number `site_no`).
pub(crate) fn scan(meta: &[u8], site_no: usize, site: &Site, dpkg: &DpkgIndex) -> Scanned {
    let mut out = Scanned::default();
    let dir = paths::path(meta);
    let mut found = Found::default();
    found.fields.env = site.env.clone();

    let dir_name = paths::file_name(meta);
    let (fname, fversion) = split_meta_name(dir_name, b".dist-info");
    // `name.dist-info/FILE`, opened relative to the site directory.
    let mut rel = Vec::with_capacity(dir_name.len() + 20);
    let rel_of = |rel: &mut Vec<u8>, file: &str| {
        rel.clear();
        rel.extend_from_slice(dir_name);
        rel.push(b'/');
        rel.extend_from_slice(file.as_bytes());
    };
    rel_of(&mut rel, "METADATA");
    match fsio::open_in(site, &rel).and_then(text::read_headers) {
        Ok(nv) => {
            if nv.name.is_none() || nv.version.is_none() {
                out.warn(
                    dir.join("METADATA"),
                    "malformed METADATA: no Name or Version header; using the directory name",
                );
            }
            found.fields.name = nv.name.unwrap_or(fname);
            found.fields.version = nv.version.unwrap_or(fversion);
        }
        Err(e) => {
            out.warn(
                dir.join("METADATA"),
                format!("cannot read METADATA ({e}); using the directory name"),
            );
            found.fields.name = fname;
            found.fields.version = fversion;
        }
    }
    if found.fields.name.is_empty() {
        out.warn(&dir, "no distribution name; skipped");
        return out;
    }
    rel_of(&mut rel, "INSTALLER");
    found.fields.installer = match fsio::open_in(site, &rel).and_then(fsio::first_line) {
        Ok(Some(l)) => l,
        _ => b"unknown".to_vec(),
    };

    rel_of(&mut rel, "RECORD");
    // Without a RECORD, look for direct_url.json anyway; with one, only if listed.
    let mut has_direct_url = true;
    match fsio::open_in(site, &rel).and_then(fsio::read_all) {
        Ok(data) => {
            has_direct_url = false;
            let (mut files, bad) =
                read_record(data, site_no, site, &mut found, &mut has_direct_url);
            if !files.spans.is_empty() {
                files.set_runs();
                found.site_files.push(files);
            }
            if bad > 0 {
                out.warn(
                    dir.join("RECORD"),
                    format!("malformed RECORD: {bad} unreadable line(s) skipped"),
                );
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            no_record(meta, site, dpkg, &mut found, &mut out);
        }
        Err(e) => {
            out.warn(dir.join("RECORD"), format!("cannot read RECORD ({e})"));
            no_record(meta, site, dpkg, &mut found, &mut out);
        }
    }
    // The metadata directory itself always belongs to the distribution.
    found.dirs.push(meta.to_vec());

    let direct_url = match has_direct_url {
        true => fs::read(dir.join("direct_url.json")),
        false => Err(ErrorKind::NotFound.into()),
    };
    if let Ok(data) = direct_url {
        match serde_json::from_slice::<DirectUrl>(&data) {
            Ok(du) => {
                if du.dir_info.is_some_and(|d| d.editable) {
                    if let Some(p) = du.url.strip_prefix("file://") {
                        let src = paths::normalize(&paths::percent_decode(p));
                        found.dirs.push(src);
                    }
                }
            }
            Err(e) => out.warn(
                dir.join("direct_url.json"),
                format!("malformed direct_url.json ({e})"),
            ),
        }
    }
    out.found = Some(found);
    out
}

/// The paths of a `RECORD` text: plain relative ones as spans of `data`
/// (returned), others (`../../../bin/x`, absolute, quoted) joined onto the
/// site directory into `found.files`. Also the number of unreadable lines.
fn read_record(
    data: Vec<u8>,
    site_no: usize,
    site: &Site,
    found: &mut Found,
    has_direct_url: &mut bool,
) -> (SiteFiles, usize) {
    let mut bad = 0usize;
    // Spans are `u32`; a RECORD of 4 GiB is read the slow way.
    let spans_ok = data.len() < u32::MAX as usize;
    let mut spans = Vec::with_capacity(data.len() / 64);
    // Where a path may be other than plain (a component that is empty or
    // starts with `.`), found in one pass over the whole text; the lines
    // without one need no closer look.
    let mut odd: Vec<usize> = memchr::memmem::find_iter(&data, b"/.").collect();
    odd.extend(memchr::memmem::find_iter(&data, b"//"));
    odd.sort_unstable();
    let mut odd = odd.into_iter().peekable();
    let mut at = 0usize;
    // Line ends in one pass; the first comma of each (short) line.
    for i in memchr::memchr_iter(b'\n', &data).chain(std::iter::once(data.len())) {
        let line = &data[at..i];
        let start = at;
        at = i + 1;
        let comma = memchr::memchr(b',', line).map(|c| start + c);
        // The common line: `path,hash,size`, unquoted, nothing to trim.
        if let (Some(&b0), Some(c)) = (line.first(), comma) {
            if b0 != b'"' && !b0.is_ascii_whitespace() && c > start {
                let p = &data[start..c];
                if p.last() == Some(&b'n') && p.ends_with(b".dist-info/direct_url.json") {
                    *has_direct_url = true;
                }
                while odd.next_if(|&o| o < start).is_some() {}
                let plain = match odd.peek() {
                    _ if b0 == b'.' || b0 == b'/' || p.last() == Some(&b'/') => false,
                    Some(&o) if o + 1 < c => paths::is_plain_relative(p),
                    _ => true,
                };
                if spans_ok && plain {
                    spans.push((start as u32, c as u32));
                } else {
                    found.files.push_join(&site.dir, p);
                }
                continue;
            }
        }
        match text::record_path(line) {
            Some(p) => {
                if p.ends_with(b".dist-info/direct_url.json") {
                    *has_direct_url = true;
                }
                found.files.push_join(&site.dir, &p)
            }
            None if text::trim(line).is_empty() => {}
            None => bad += 1,
        }
    }
    (
        SiteFiles {
            site: site_no,
            data,
            spans,
            runs: Vec::new(),
        },
        bad,
    )
}

/// Without `RECORD`: dpkg's list, else `top_level.txt`, else a guess from the name.
pub(crate) fn no_record(
    meta: &[u8],
    site: &Site,
    dpkg: &DpkgIndex,
    found: &mut Found,
    out: &mut Scanned,
) {
    if let Some((pkg, files)) = dpkg.files_of(meta) {
        found.files.clear();
        found.site_files.clear();
        for f in &files {
            found.files.push(f);
        }
        found.fields.installer = format!("dpkg:{pkg}").into_bytes();
        return;
    }
    let dir = paths::path(meta);
    let names: Vec<Vec<u8>> = match fs::read(dir.join("top_level.txt")) {
        Ok(d) => text::lines(&d).map(<[u8]>::to_vec).collect(),
        Err(_) => vec![toplevel::guess_from_name(&found.fields.name)],
    };
    if toplevel::claim(site, &names, found) == 0 {
        out.warn(
            &dir,
            "no RECORD, no dpkg list and no top-level module found; only the metadata is mapped",
        );
    }
}

/// `scikit_learn-1.4.0.dist-info` -> (`scikit_learn`, `1.4.0`).
pub(crate) fn split_meta_name(name: &[u8], suffix: &[u8]) -> (Vec<u8>, Vec<u8>) {
    let stem = name.strip_suffix(suffix).unwrap_or(name);
    match stem.iter().position(|&b| b == b'-') {
        Some(i) => {
            let rest = &stem[i + 1..];
            let v_end = rest.iter().position(|&b| b == b'-').unwrap_or(rest.len());
            (stem[..i].to_vec(), rest[..v_end].to_vec())
        }
        None => (stem.to_vec(), Vec::new()),
    }
}

#[derive(serde::Deserialize)]
struct DirectUrl {
    url: String,
    #[serde(default)]
    dir_info: Option<DirInfo>,
}

#[derive(serde::Deserialize)]
struct DirInfo {
    #[serde(default)]
    editable: bool,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn meta_names() {
        assert_eq!(
            split_meta_name(b"scikit_learn-1.4.0.dist-info", b".dist-info"),
            (b"scikit_learn".to_vec(), b"1.4.0".to_vec())
        );
        assert_eq!(
            split_meta_name(b"foo-1.0-py3.11.egg", b".egg"),
            (b"foo".to_vec(), b"1.0".to_vec())
        );
        assert_eq!(
            split_meta_name(b"odd.dist-info", b".dist-info"),
            (b"odd".to_vec(), vec![])
        );
    }
}
