//! `*.dist-info` directories: `METADATA`, `RECORD`, `INSTALLER`,
//! `top_level.txt` and `direct_url.json` (editable installs).
//! See <https://packaging.python.org/en/latest/specifications/recording-installed-packages/>.

use std::fs;
use std::io::ErrorKind;

use super::dpkg::DpkgIndex;
use super::model::{Found, Scanned, Site};
use super::{paths, text, toplevel};

/// Scans one `*.dist-info` directory (`meta`, absolute) of `site`.
pub(crate) fn scan(meta: &[u8], site: &Site, dpkg: &DpkgIndex) -> Scanned {
    let mut out = Scanned::default();
    let dir = paths::path(meta);
    let mut found = Found::default();
    found.fields.env = site.env.clone();

    let (fname, fversion) = split_meta_name(paths::file_name(meta), b".dist-info");
    let md = dir.join("METADATA");
    match fs::File::open(&md).and_then(text::read_headers) {
        Ok(nv) => {
            if nv.name.is_none() || nv.version.is_none() {
                out.warn(
                    &md,
                    "malformed METADATA: no Name or Version header; using the directory name",
                );
            }
            found.fields.name = nv.name.unwrap_or(fname);
            found.fields.version = nv.version.unwrap_or(fversion);
        }
        Err(e) => {
            out.warn(
                &md,
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
    found.fields.installer = read_installer(&dir);

    let record = dir.join("RECORD");
    // Without a RECORD, look for direct_url.json anyway; with one, only if listed.
    let mut has_direct_url = true;
    match fs::read(&record) {
        Ok(data) => {
            let mut bad = 0usize;
            has_direct_url = false;
            for line in data.split(|&b| b == b'\n') {
                match text::record_path(line) {
                    Some(p) => {
                        if p.ends_with(b".dist-info/direct_url.json") {
                            has_direct_url = true;
                        }
                        found.files.push_join(&site.dir, &p)
                    }
                    None if text::trim(line).is_empty() => {}
                    None => bad += 1,
                }
            }
            if bad > 0 {
                out.warn(
                    &record,
                    format!("malformed RECORD: {bad} unreadable line(s) skipped"),
                );
            }
        }
        Err(e) if e.kind() == ErrorKind::NotFound => {
            no_record(meta, site, dpkg, &mut found, &mut out);
        }
        Err(e) => {
            out.warn(&record, format!("cannot read RECORD ({e})"));
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

fn read_installer(dir: &std::path::Path) -> Vec<u8> {
    match fs::read(dir.join("INSTALLER")) {
        Ok(d) => {
            let first = text::lines(&d).next().unwrap_or(b"");
            if first.is_empty() {
                b"unknown".to_vec()
            } else {
                first.to_vec()
            }
        }
        Err(_) => b"unknown".to_vec(),
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
