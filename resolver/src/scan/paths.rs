//! Byte-string path helpers: the builder keeps paths as raw bytes so that
//! non-UTF-8 names survive unchanged into the map.

use std::ffi::OsStr;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

/// The bytes of a path.
pub(crate) fn bytes(p: &Path) -> &[u8] {
    p.as_os_str().as_bytes()
}

/// A path from bytes.
pub(crate) fn path(b: &[u8]) -> PathBuf {
    PathBuf::from(OsStr::from_bytes(b))
}

/// Lexically normalises an absolute path: collapses `//`, `.` and `..`
/// (never above `/`) and drops a trailing `/`. The root is `/`.
pub(crate) fn normalize(p: &[u8]) -> Vec<u8> {
    let mut out: Vec<u8> = Vec::with_capacity(p.len());
    for comp in p.split(|&b| b == b'/') {
        match comp {
            b"" | b"." => {}
            b".." => {
                let cut = out.iter().rposition(|&b| b == b'/').unwrap_or(0);
                out.truncate(cut);
            }
            c => {
                out.push(b'/');
                out.extend_from_slice(c);
            }
        }
    }
    if out.is_empty() {
        out.push(b'/');
    }
    out
}

/// Joins `rel` onto the directory `base` (absolute `rel` replaces it), normalised.
pub(crate) fn join(base: &[u8], rel: &[u8]) -> Vec<u8> {
    if rel.first() == Some(&b'/') {
        return normalize(rel);
    }
    let mut v = Vec::with_capacity(base.len() + rel.len() + 1);
    v.extend_from_slice(base);
    v.push(b'/');
    v.extend_from_slice(rel);
    normalize(&v)
}

/// Whether joining `rel` onto a normalised directory needs no normalising:
/// relative, no empty, `.` or `..` components.
pub(crate) fn is_plain_relative(rel: &[u8]) -> bool {
    !rel.is_empty()
        && rel[0] != b'/'
        && rel
            .split(|&b| b == b'/')
            .all(|c| !c.is_empty() && c != b"." && c != b"..")
}

/// [`split_first`], faster when the first component is likely `prev`'s
/// (consecutive items mostly share it).
pub(crate) fn split_after<'a>(rel: &'a [u8], prev: &'a [u8]) -> (&'a [u8], Option<&'a [u8]>) {
    if !prev.is_empty() && rel.len() >= prev.len() && rel[..prev.len()] == *prev {
        match rel.get(prev.len()) {
            None => return (prev, None),
            Some(b'/') => return (prev, Some(&rel[prev.len() + 1..])),
            Some(_) => {}
        }
    }
    split_first(rel)
}

/// The first component of a relative path and the rest after its `/`.
pub(crate) fn split_first(rel: &[u8]) -> (&[u8], Option<&[u8]>) {
    match memchr::memchr(b'/', rel) {
        Some(i) => (&rel[..i], Some(&rel[i + 1..])),
        None => (rel, None),
    }
}

/// The parent directory of a normalised path (`/a/b` -> `/a`, `/a` -> ``).
pub(crate) fn parent(p: &[u8]) -> Option<&[u8]> {
    let cut = p.iter().rposition(|&b| b == b'/')?;
    Some(&p[..cut])
}

/// Whether `p` is `dir` or lies below it (both normalised).
pub(crate) fn is_within(p: &[u8], dir: &[u8]) -> bool {
    dir == b"/" || (p.starts_with(dir) && (p.len() == dir.len() || p[dir.len()] == b'/'))
}

/// Whether `p` lies strictly below `dir`.
pub(crate) fn is_below(p: &[u8], dir: &[u8]) -> bool {
    p.len() > dir.len() && is_within(p, dir)
}

/// The last component of a path.
pub(crate) fn file_name(p: &[u8]) -> &[u8] {
    match p.iter().rposition(|&b| b == b'/') {
        Some(i) => &p[i + 1..],
        None => p,
    }
}

/// Makes `p` absolute (against the current directory) and normalises it.
pub(crate) fn absolute(p: &Path) -> Vec<u8> {
    if p.is_absolute() {
        normalize(bytes(p))
    } else {
        let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/"));
        join(bytes(&cwd), bytes(p))
    }
}

/// Lossy text for messages.
pub(crate) fn show(p: &[u8]) -> String {
    String::from_utf8_lossy(p).into_owned()
}

/// Decodes `%XX` escapes of a `file://` URL path.
pub(crate) fn percent_decode(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' && i + 2 < b.len() {
            let hex = |c: u8| (c as char).to_digit(16);
            if let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2])) {
                out.push((h * 16 + l) as u8);
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalizes() {
        assert_eq!(normalize(b"/a//b/./c/../d/"), b"/a/b/d");
        assert_eq!(normalize(b"/../.."), b"/");
        assert_eq!(
            join(b"/v/lib/python3.11/site-packages", b"../../../bin/f2py"),
            b"/v/bin/f2py"
        );
        assert_eq!(join(b"/x", b"/abs/y"), b"/abs/y");
        assert_eq!(parent(b"/a/b"), Some(&b"/a"[..]));
        assert!(is_within(b"/a/b", b"/a"));
        assert!(!is_within(b"/ab", b"/a"));
        assert!(is_below(b"/a/b", b"/a"));
        assert!(!is_below(b"/a", b"/a"));
        assert_eq!(percent_decode("/a%20b/%zz%4"), b"/a b/%zz%4");
        for (p, plain) in [
            (&b"a/b.py"[..], true),
            (b".hidden/x", true),
            (b"a/..b/c", true),
            (b"a/b../c", true),
            (b"...", true),
            (b"a", true),
            (b"", false),
            (b"/a", false),
            (b"a/", false),
            (b"a//b", false),
            (b".", false),
            (b"..", false),
            (b"./a", false),
            (b"../a", false),
            (b"a/./b", false),
            (b"a/../b", false),
            (b"a/.", false),
            (b"a/..", false),
        ] {
            assert_eq!(is_plain_relative(p), plain, "{}", show(p));
        }
    }
}
