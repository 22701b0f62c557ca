//! The command-line reference cannot drift from the program:
//!
//! - every `pyusage` subcommand's `--help` is compared with its snapshot in
//!   `tests/snapshots/help/` (so a change to the interface shows up in review);
//! - README.md's Reference section has a heading for every subcommand, names
//!   every long option in that subcommand's section, and has a row for every
//!   configuration key the tracer's parser knows, with the default that
//!   `pyusage config show` prints for it;
//! - the annotated `packaging/config.toml` has a line for every key.
//!
//! After changing the interface on purpose, rewrite the snapshots and review
//! the diff:
//!
//! ```sh
//! PYUSAGE_WRITE_SNAPSHOTS=1 cargo test --release -p pyusage-tools --test help
//! ```

use pyusage_tests::cli::*;
use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

fn snapshot_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/snapshots/help")
}

fn readme() -> String {
    fs::read_to_string(pyusage_tests::artifacts::repo_root().join("README.md")).expect("README.md")
}

/// `pyusage <path> --help`, as a user sees it (no `$PYUSAGE_*` set).
fn help(path: &[String]) -> String {
    let out = run(pyusage(path).arg("--help"));
    out.assert_ok();
    out.stdout
}

/// The lines of a `--help` section (`Commands:`, `Options:`), up to the next
/// blank line.
fn section<'a>(help: &'a str, title: &str) -> Vec<&'a str> {
    help.lines()
        .skip_while(|l| *l != title)
        .skip(1)
        .take_while(|l| !l.trim().is_empty())
        .collect()
}

/// Every command, the program itself first, with its `--help`: found by
/// walking the `Commands:` sections, so a new subcommand is covered without
/// editing this test.
fn all_commands() -> BTreeMap<Vec<String>, String> {
    let mut found = BTreeMap::new();
    let mut todo = vec![Vec::<String>::new()];
    while let Some(path) = todo.pop() {
        let text = help(&path);
        for line in section(&text, "Commands:") {
            let name = line.split_whitespace().next().unwrap();
            if name != "help" {
                let mut sub = path.clone();
                sub.push(name.to_owned());
                todo.push(sub);
            }
        }
        found.insert(path, text);
    }
    found
}

/// `--long` options of a command, except `--help` and `--version`.
fn long_options(help: &str) -> Vec<String> {
    section(help, "Options:")
        .iter()
        .filter_map(|l| {
            l.split([' ', ','])
                .find(|w| w.starts_with("--"))
                .map(str::to_owned)
        })
        .filter(|o| o != "--help" && o != "--version")
        .collect()
}

fn snapshot_name(path: &[String]) -> String {
    let mut name = String::from("pyusage");
    for p in path {
        name.push('-');
        name.push_str(p);
    }
    name + ".txt"
}

#[test]
fn every_subcommand_s_help_matches_its_snapshot() {
    let commands = all_commands();
    assert!(commands.len() > 10, "{:?}", commands.keys());
    let dir = snapshot_dir();
    let write = std::env::var_os("PYUSAGE_WRITE_SNAPSHOTS").is_some_and(|v| v == "1");
    let mut wrong = Vec::new();
    let mut expected_names = Vec::new();
    for (path, text) in &commands {
        let name = snapshot_name(path);
        let file = dir.join(&name);
        expected_names.push(name);
        if write {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&file, text).unwrap();
            continue;
        }
        match fs::read_to_string(&file) {
            Ok(want) if want == *text => {}
            Ok(want) => {
                let (n, (w, g)) = want
                    .lines()
                    .chain(std::iter::repeat(""))
                    .zip(text.lines().chain(std::iter::repeat("")))
                    .enumerate()
                    .find(|(_, (w, g))| w != g)
                    .unwrap();
                wrong.push(format!(
                    "{}: line {}:\n  snapshot: {w}\n  now:      {g}",
                    file.display(),
                    n + 1
                ));
            }
            Err(e) => wrong.push(format!("{}: {e}", file.display())),
        }
    }
    // A snapshot of a command that is gone is a stale reference too.
    for entry in fs::read_dir(&dir).unwrap() {
        let name = entry.unwrap().file_name().to_string_lossy().into_owned();
        if !expected_names.contains(&name) {
            if write {
                fs::remove_file(dir.join(&name)).unwrap();
            } else {
                wrong.push(format!("{name}: no such command any more"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "--help differs from its snapshot (after a deliberate change: \
         PYUSAGE_WRITE_SNAPSHOTS=1 cargo test -p pyusage-tools --test help):\n{}",
        wrong.join("\n")
    );
}

/// README.md from `## Reference` to the next `## ` heading.
fn reference(readme: &str) -> &str {
    let start = readme
        .find("\n## Reference\n")
        .expect("README.md has a `## Reference` section");
    let rest = &readme[start + 1..];
    let end = rest[3..].find("\n## ").map_or(rest.len(), |e| e + 3);
    &rest[..end]
}

/// The `### ` subsections of the reference: heading and body.
fn subsections(reference: &str) -> Vec<(&str, &str)> {
    reference
        .split("\n### ")
        .skip(1)
        .map(|s| s.split_once('\n').unwrap_or((s, "")))
        .collect()
}

/// Whether a `### ` heading is about `pyusage <path>`: it names
/// `pyusage <first>`, and the further words as words of the heading
/// (`pyusage config show|check` covers both).
fn heading_covers(heading: &str, path: &[String]) -> bool {
    let words: Vec<&str> = heading
        .split(|c: char| !(c.is_alphanumeric() || c == '-' || c == '_'))
        .filter(|w| !w.is_empty())
        .collect();
    path.first().is_some_and(|first| {
        words.windows(2).any(|w| w == ["pyusage", first.as_str()])
            && path[1..].iter().all(|p| words.contains(&p.as_str()))
    })
}

#[test]
fn readme_reference_names_every_subcommand_and_option() {
    let readme = readme();
    let sections = subsections(reference(&readme));
    let mut missing = Vec::new();
    for (path, text) in all_commands() {
        if path.is_empty() || text.contains("\nCommands:\n") {
            continue; // the program, and groups (`map`): their leaves count
        }
        let cmd = format!("pyusage {}", path.join(" "));
        let covering: Vec<&(&str, &str)> = sections
            .iter()
            .filter(|(heading, _)| heading_covers(heading, &path))
            .collect();
        if covering.is_empty() {
            missing.push(format!("no `### {cmd} ...` heading"));
            continue;
        }
        for option in long_options(&text) {
            let named = covering
                .iter()
                .any(|(heading, body)| heading.contains(&option) || body.contains(&option));
            if !named {
                missing.push(format!("{cmd}: {option}"));
            }
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's Reference section is missing:\n  {}",
        missing.join("\n  ")
    );
}

/// The `[map_build]` keys `pyusage map build --config` reads.
const MAP_BUILD_KEYS: [&str; 2] = ["roots", "pythons"];

#[test]
fn readme_reference_has_a_row_for_every_config_key() {
    let readme = readme();
    let reference = reference(&readme);
    let rows: Vec<&str> = reference.lines().filter(|l| l.starts_with("| `")).collect();
    let mut missing = Vec::new();
    // Every key the tracer's parser knows (it applies no key outside KEYS).
    for key in pyusage_record::config::KEYS {
        if !rows.iter().any(|r| r.starts_with(&format!("| `{key}` |"))) {
            missing.push(key.to_owned());
        }
    }
    let map_build = rows.iter().find(|r| r.starts_with("| `[map_build]"));
    // The row's first cell names the keys: "| `[map_build] roots`, `pythons` |".
    let named = |row: &&&str, key: &str| {
        row.split('|')
            .nth(1)
            .unwrap_or("")
            .split(|c: char| !c.is_alphanumeric() && c != '_')
            .any(|w| w == key)
    };
    for key in MAP_BUILD_KEYS {
        if !map_build.is_some_and(|r| named(&r, key)) {
            missing.push(format!("[map_build] {key}"));
        }
    }
    assert!(
        missing.is_empty(),
        "README.md's configuration table has no row for: {missing:?}"
    );

    // MAP_BUILD_KEYS are the real ones: `config check` accepts exactly them.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("c.toml");
    let table: String = MAP_BUILD_KEYS
        .iter()
        .map(|k| format!("{k} = []\n"))
        .collect();
    fs::write(&file, format!("[map_build]\n{table}")).unwrap();
    run(pyusage(["config", "check", "--config"]).arg(&file)).assert_ok();
    fs::write(&file, format!("[map_build]\n{table}extra = []\n")).unwrap();
    let out = run(pyusage(["config", "check", "--config"]).arg(&file));
    assert_eq!(out.code, Some(1), "{out}");
}

/// The annotated example that `make install` ships
/// (`packaging/config.toml`, "every option explained") has a line for every
/// key, set or commented out.
#[test]
fn the_shipped_config_example_shows_every_key() {
    let path = pyusage_tests::artifacts::repo_root().join("packaging/config.toml");
    let text = fs::read_to_string(&path).unwrap();
    let mentioned = |key: &str| {
        text.lines().any(|l| {
            let l = l.trim_start_matches(['#', ' ']);
            l.strip_prefix(key)
                .is_some_and(|rest| rest.trim_start().starts_with('='))
        })
    };
    let missing: Vec<&str> = pyusage_record::config::KEYS
        .iter()
        .chain(MAP_BUILD_KEYS.iter())
        .copied()
        .filter(|k| !mentioned(k))
        .collect();
    assert!(
        missing.is_empty(),
        "{} has no `key = ...` line for {missing:?}",
        path.display()
    );
}

/// The defaults in README.md's configuration table are the ones in force:
/// `pyusage config show` of an empty file prints every key with its default.
#[test]
fn readme_defaults_are_the_defaults_in_force() {
    let readme = readme();
    let reference = reference(&readme);
    let dir = tempfile::tempdir().unwrap();
    let empty = dir.path().join("empty.toml");
    fs::write(&empty, "").unwrap();
    let out = run(pyusage(["config", "show", "--config"]).arg(&empty));
    out.assert_ok();
    let mut wrong = Vec::new();
    let mut shown = 0;
    for line in out.stdout.lines().filter(|l| !l.starts_with('#')) {
        let (key, value) = line.split_once(" = ").unwrap();
        shown += 1;
        let Some(row) = reference
            .lines()
            .find(|r| r.starts_with(&format!("| `{key}` |")))
        else {
            wrong.push(format!("{key}: no row"));
            continue;
        };
        let documented = row.split('|').nth(2).unwrap_or("").trim();
        let plain = |s: &str| s.trim_matches(['`', '"']).to_owned();
        let same = plain(documented) == plain(value)
            || matches!(
                (plain(documented).parse::<f64>(), plain(value).parse::<f64>()),
                (Ok(a), Ok(b)) if a == b
            );
        if !same {
            wrong.push(format!(
                "{key}: README says {documented}, in force: {value}"
            ));
        }
    }
    assert_eq!(shown, pyusage_record::config::KEYS.len(), "{out}");
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}
