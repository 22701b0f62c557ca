//! conda environments: every package of `conda-meta/*.json` (`name`,
//! `version`, `build`, `channel`, `files` relative to the prefix), Python or
//! not, so that shared libraries loaded from the env resolve too.

use std::collections::HashSet;
use std::fs;

use super::model::{Found, Scanned};
use super::{paths, text};

#[derive(serde::Deserialize)]
struct CondaMeta {
    name: String,
    version: String,
    #[serde(default)]
    build: String,
    #[serde(default)]
    channel: String,
    #[serde(default)]
    files: Vec<String>,
}

/// The `conda-meta/*.json` files of the env at `prefix`.
pub(crate) fn records(prefix: &[u8]) -> Vec<Vec<u8>> {
    let dir = paths::path(&paths::join(prefix, b"conda-meta"));
    let Ok(rd) = fs::read_dir(&dir) else {
        return Vec::new();
    };
    let mut v: Vec<Vec<u8>> = rd
        .filter_map(|e| e.ok())
        .map(|e| paths::bytes(&e.path()).to_vec())
        .filter(|p| p.ends_with(b".json"))
        .collect();
    v.sort();
    v
}

/// `https://host/conda-forge/linux-64` -> `conda-forge`; `pkgs/main` stays.
fn short_channel(ch: &str) -> &str {
    let ch = ch.trim_end_matches('/');
    let ch = ch
        .strip_suffix("/noarch")
        .or_else(|| {
            ch.rsplit_once('/')
                .filter(|(_, sub)| sub.contains('-'))
                .map(|(c, _)| c)
        })
        .unwrap_or(ch);
    match ch.split_once("://") {
        Some((_, rest)) => rest.split_once('/').map_or(rest, |(_, path)| path),
        None => ch,
    }
}

/// Scans one conda-meta record of the env at `prefix`, labelled `env`.
/// `dist_infos` receives the `*.dist-info` directories the package contains,
/// which the site scan then skips (the conda record describes them).
pub(crate) fn scan(
    json: &[u8],
    prefix: &[u8],
    env: &[u8],
    dist_infos: &mut HashSet<Vec<u8>>,
) -> Scanned {
    let mut out = Scanned::default();
    let p = paths::path(json);
    let data = match fs::read(&p) {
        Ok(d) => d,
        Err(e) => {
            out.warn(&p, format!("cannot read conda record ({e})"));
            return out;
        }
    };
    let meta: CondaMeta = match serde_json::from_slice(&data) {
        Ok(m) => m,
        Err(e) => {
            out.warn(&p, format!("malformed conda record ({e})"));
            return out;
        }
    };
    if meta.name.is_empty() {
        out.warn(&p, "conda record without a name; skipped");
        return out;
    }
    let mut found = Found::default();
    found.fields.name = meta.name.clone().into_bytes();
    found.fields.version = meta.version.into_bytes();
    found.fields.env = env.to_vec();
    let channel = short_channel(&meta.channel);
    found.fields.installer = format!("conda:{channel}:{}", meta.build).into_bytes();
    for f in &meta.files {
        let abs = paths::join(prefix, f.as_bytes());
        if let Some(i) = find_dist_info(&abs) {
            let di = abs[..i].to_vec();
            // Prefer the Python distribution name (`PyYAML`, not `pyyaml`).
            if dist_infos.insert(di.clone()) {
                let md = paths::path(&paths::join(&di, b"METADATA"));
                if let Ok(nv) = fs::File::open(md).and_then(text::read_headers) {
                    if let Some(n) = nv.name {
                        found.fields.name = n;
                    }
                }
            }
        }
        found.files.push(&abs);
    }
    out.found = Some(found);
    out
}

/// End of the `*.dist-info` component of `p`, if any.
fn find_dist_info(p: &[u8]) -> Option<usize> {
    let needle = b".dist-info/";
    p.windows(needle.len())
        .position(|w| w == needle)
        .map(|i| i + needle.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn channels() {
        assert_eq!(
            short_channel("https://example.org/conda-forge/linux-64"),
            "conda-forge"
        );
        assert_eq!(
            short_channel("https://example.org/conda-forge/noarch/"),
            "conda-forge"
        );
        assert_eq!(short_channel("pkgs/main"), "pkgs/main");
        assert_eq!(short_channel("conda-forge"), "conda-forge");
        assert_eq!(short_channel(""), "");
    }
}
