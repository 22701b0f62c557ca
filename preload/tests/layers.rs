//! The modules of `preload/src` are layered as the crate doc's "Layers" list
//! says (`src/lib.rs`): a module may refer (`crate::name`) only to modules
//! on lines above its own. Checked on the sources, so a new circle of imports
//! fails here with the file and the reference that makes it.

use std::collections::BTreeMap;
use std::path::Path;

/// Module name -> its layer (1 = bottom), from the crate doc of `lib.rs`.
fn layers(lib: &str) -> BTreeMap<String, usize> {
    let mut out = BTreeMap::new();
    let section = lib
        .split_once("//! # Layers")
        .expect("src/lib.rs: no \"# Layers\" section in the crate doc")
        .1;
    // The heading's own line ends first; the section ends with the crate doc.
    for line in section.lines().skip(1).take_while(|l| l.starts_with("//!")) {
        let item = line.trim_start_matches("//!").trim_start();
        let Some((number, rest)) = item.split_once(". ") else {
            continue;
        };
        let Ok(layer) = number.parse::<usize>() else {
            continue;
        };
        let names = rest.split_once(':').map_or(rest, |(names, _)| names);
        for name in names.split(',') {
            let name = name.trim().trim_matches('`');
            let before = out.insert(name.to_string(), layer);
            assert!(
                before.is_none(),
                "src/lib.rs: `{name}` is listed in two layers"
            );
        }
    }
    out
}

/// The modules each `crate::` reference names, outside comments:
/// `crate::sys::cstr`, `use crate::{sys, elf::find}`.
fn references(source: &str) -> Vec<(usize, String)> {
    let mut out = Vec::new();
    for (n, line) in source.lines().enumerate() {
        let code = line.trim_start();
        if code.starts_with("//") {
            continue;
        }
        for (at, _) in code.match_indices("crate::") {
            let rest = &code[at + "crate::".len()..];
            let names: Vec<&str> = match rest.strip_prefix('{') {
                Some(group) => group
                    .split('}')
                    .next()
                    .unwrap_or("")
                    .split(',')
                    .map(|item| item.trim().split("::").next().unwrap_or(""))
                    .collect(),
                None => vec![rest],
            };
            for name in names {
                let end = name
                    .find(|c: char| !(c.is_alphanumeric() || c == '_'))
                    .unwrap_or(name.len());
                if end > 0 {
                    out.push((n + 1, name[..end].to_string()));
                }
            }
        }
    }
    out
}

#[test]
fn modules_refer_only_to_lower_layers() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let lib = std::fs::read_to_string(src.join("lib.rs")).expect("read src/lib.rs");
    let layers = layers(&lib);
    assert!(layers.len() > 1, "src/lib.rs: the Layers list is empty");

    let declared: Vec<&str> = lib
        .lines()
        .filter_map(|l| l.strip_prefix("mod ")?.strip_suffix(';'))
        .collect();
    let mut problems = Vec::new();
    for module in &declared {
        if !layers.contains_key(*module) {
            problems.push(format!(
                "src/lib.rs: module `{module}` is in no layer of the crate doc's Layers list"
            ));
        }
    }
    for listed in layers.keys() {
        if !declared.contains(&listed.as_str()) {
            problems.push(format!(
                "src/lib.rs: the Layers list names `{listed}`, which is not a module"
            ));
        }
    }
    for module in &declared {
        let file = format!("src/{module}.rs");
        let source = std::fs::read_to_string(src.join(format!("{module}.rs")))
            .unwrap_or_else(|e| panic!("{file}: {e}"));
        let Some(&own) = layers.get(*module) else {
            continue;
        };
        for (line, target) in references(&source) {
            match layers.get(&target) {
                Some(&theirs) if theirs < own => {}
                Some(&theirs) => problems.push(format!(
                    "{file}:{line}: `{module}` (layer {own}) refers to `crate::{target}` \
                     (layer {theirs}); a module may use only layers below its own"
                )),
                None => problems.push(format!(
                    "{file}:{line}: `crate::{target}` is no module of the Layers list"
                )),
            }
        }
    }
    assert!(problems.is_empty(), "\n{}\n", problems.join("\n"));
}

/// The checker itself sees plain, grouped and nested references, and skips
/// comments (doc links to higher layers are fine).
#[test]
fn references_are_found() {
    let source = "use crate::sys::{self, CPath};\n\
                  // see crate::hook\n\
                  use crate::{elf, seen::hash};\n\
                  let x = crate::tracker::ensure(); crate::native::scan_new(f);\n";
    let found: Vec<(usize, String)> = references(source);
    let names: Vec<(usize, &str)> = found.iter().map(|(n, s)| (*n, s.as_str())).collect();
    assert_eq!(
        names,
        [
            (1, "sys"),
            (3, "elf"),
            (3, "seen"),
            (4, "tracker"),
            (4, "native")
        ]
    );
}
