//! The installed library loads on compute-node images older than the build
//! host: its glibc symbol versions stay at or below 2.17, and it needs no
//! library but libc.

use crate::common::{ok, Install};
use crate::need_dist_lib;
use pyusage_tests::or_skip;
use std::path::Path;
use std::process::Command;

/// `GLIBC_2.14` -> (2, 14).
fn version(v: &str) -> Option<(u32, u32)> {
    let rest = v.strip_prefix("GLIBC_")?;
    let mut it = rest.split('.').map(|n| n.parse::<u32>().ok());
    Some((it.next()??, it.next().flatten().unwrap_or(0)))
}

#[test]
fn installed_library_needs_glibc_2_17_at_most() {
    need_dist_lib!();
    or_skip!(
        Path::new("/usr/bin/objdump").is_file().then_some(()),
        "objdump missing (Debian's binutils; tests/fixtures/system-deps.sh installs it)"
    );
    let i = Install::staged();
    let dynsyms = ok(Command::new("objdump").arg("-T").arg(i.lib()));
    let text = String::from_utf8_lossy(&dynsyms.stdout);
    let mut versions: Vec<(u32, u32)> = text
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|w| w.starts_with("GLIBC_"))
        .map(|w| version(w).unwrap_or_else(|| panic!("unparsable version {w}")))
        .collect();
    versions.sort();
    versions.dedup();
    // The zig build binds every libc symbol to a version; none at all would
    // mean the check below saw nothing.
    assert!(!versions.is_empty(), "no GLIBC_ versions in:\n{text}");
    let newest = *versions.last().unwrap();
    assert!(
        newest <= (2, 17),
        "{} needs GLIBC_{}.{} (versions {versions:?}); a compute node with glibc 2.17 \
         could not start any program with it preloaded",
        i.lib().display(),
        newest.0,
        newest.1
    );

    let headers = ok(Command::new("objdump").arg("-p").arg(i.lib()));
    let needed: Vec<String> = String::from_utf8_lossy(&headers.stdout)
        .lines()
        .filter_map(|l| l.trim().strip_prefix("NEEDED"))
        .map(|s| s.trim().to_string())
        .collect();
    assert!(
        needed.iter().all(|n| n == "libc.so.6"),
        "the tracer must need nothing but libc: {needed:?}"
    );
}

#[test]
fn version_parsing() {
    assert_eq!(version("GLIBC_2.2.5"), Some((2, 2)));
    assert_eq!(version("GLIBC_2.34"), Some((2, 34)));
    assert_eq!(version("GLIBC_PRIVATE"), None);
}
