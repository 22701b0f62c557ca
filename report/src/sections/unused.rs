//! Section 10: Installed but never used: per environment of the current package
//! map, the distributions that no selected record imported.

use super::{title, Ctx};
use crate::data::NONE;
use crate::model::{Chart, Kind, Section, Table, Value};
use anyhow::{Context, Result};
use pyusage_map_reader::PackageMap;
use std::collections::{BTreeMap, HashSet};
use std::path::Path;

pub(super) fn section(ctx: &Ctx) -> Result<Section> {
    let mut s = Section::new(
        "never-used",
        title("never-used"),
        "Per environment of the package map, the distributions no record in the \
         period used (names compared as PEP 503 normalises them): candidates to \
         leave out of the next image or container.",
    );
    let Some(map_path) = ctx.opts.map.clone() else {
        s.notes
            .push("No package map: pass --map FILE (or set `map` in the configuration).".into());
        return Ok(s);
    };
    let installed = match read_map(&map_path) {
        Ok(v) => v,
        Err(e) => {
            s.notes.push(format!("{e:#}"));
            return Ok(s);
        }
    };
    let (d, sel) = (ctx.data, ctx.sel);
    let mut pairs: HashSet<(u32, u32)> = HashSet::new();
    for &set in &sel.sets {
        for m in d.members(set) {
            if m.env != NONE && m.dist != NONE {
                pairs.insert((m.dist, m.env));
            }
        }
    }
    let used: HashSet<(String, String)> = pairs
        .into_iter()
        .map(|(dist, env)| {
            (
                normalise(&d.dists[dist as usize]),
                d.envs[env as usize].clone(),
            )
        })
        .collect();
    // env -> [(name, version, used)]
    let mut envs: BTreeMap<String, Vec<(String, String, bool)>> = BTreeMap::new();
    for (name, version, env) in installed {
        let u = used.contains(&(normalise(&name), env.clone()));
        envs.entry(env).or_default().push((name, version, u));
    }
    let mut summary = Table::new(
        "environments",
        "Distributions installed and used, per environment",
        &[
            ("environment", Kind::Text),
            ("installed", Kind::Count),
            ("used", Kind::Count),
            ("never_used", Kind::Count),
            ("never_used_share", Kind::Share),
        ],
    );
    let mut list = Table::new(
        "never-used",
        "Never used in the period",
        &[
            ("environment", Kind::Text),
            ("package", Kind::Text),
            ("version", Kind::Text),
        ],
    );
    let mut groups = Vec::new();
    let (mut all, mut unused_all) = (0.0, 0.0);
    for (env, mut dists) in envs {
        dists.sort();
        let n = dists.len() as f64;
        let unused: Vec<_> = dists.iter().filter(|d| !d.2).collect();
        let un = unused.len() as f64;
        all += n;
        unused_all += un;
        summary.rows.push(vec![
            Value::from(env.as_str()),
            Value::Num(n),
            Value::Num(n - un),
            Value::Num(un),
            Value::Num(if n > 0.0 { un / n } else { 0.0 }),
        ]);
        groups.push((env.clone(), vec![n - un, un]));
        for d in unused.into_iter().take(ctx.limit) {
            list.rows.push(vec![
                Value::from(env.as_str()),
                Value::from(d.0.as_str()),
                Value::from(d.1.as_str()),
            ]);
        }
    }
    s.fact("installed", "installed distributions", all, Kind::Count);
    s.fact("never_used", "never used", unused_all, Kind::Count);
    s.fact(
        "never_used_share",
        "share never used",
        if all > 0.0 { unused_all / all } else { 0.0 },
        Kind::Share,
    );
    s.tables.push(summary);
    s.tables.push(list);
    groups.sort_by(|a, b| {
        (b.1[0] + b.1[1])
            .total_cmp(&(a.1[0] + a.1[1]))
            .then(a.0.cmp(&b.0))
    });
    groups.truncate(12);
    s.charts.push(Chart::GroupedBar {
        title: "Distributions per environment: used and never used".into(),
        unit: "distributions".into(),
        series: vec!["used".into(), "never used".into()],
        groups,
        kind: Kind::Count,
    });
    Ok(s)
}

/// `(name, version, env)` of every distribution in the map.
fn read_map(path: &Path) -> Result<Vec<(String, String, String)>> {
    let bytes = std::fs::read(path)
        .with_context(|| format!("cannot read package map {}", path.display()))?;
    let map = PackageMap::parse(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: not a package map: {e}", path.display()))?;
    map.verify_checksum()
        .map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    Ok((0..map.dist_count())
        .filter_map(|id| map.dist(id))
        .map(|d| (text(d.name), text(d.version), text(d.env)))
        .collect())
}

/// PEP 503 name normalisation: lowercase, runs of `-`, `_`, `.` become `-`.
pub(crate) fn normalise(name: &str) -> String {
    let mut out = String::with_capacity(name.len());
    let mut dash = false;
    for c in name.chars() {
        if matches!(c, '-' | '_' | '.') {
            dash = true;
        } else {
            if dash && !out.is_empty() {
                out.push('-');
            }
            dash = false;
            out.push(c.to_ascii_lowercase());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #[test]
    fn names_normalise_as_pep_503_says() {
        assert_eq!(super::normalise("Scikit_Learn"), "scikit-learn");
        assert_eq!(super::normalise("zope.interface"), "zope-interface");
        assert_eq!(super::normalise("a--_b"), "a-b");
    }
}
