//! Small readers of the metadata text formats: RFC 822 style headers
//! (`METADATA`, `PKG-INFO`) and the CSV of `RECORD`.

use std::borrow::Cow;
use std::io::{BufRead, BufReader, Read};

/// `Name` and `Version` of a core-metadata header block.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub(crate) struct NameVersion {
    pub name: Option<Vec<u8>>,
    pub version: Option<Vec<u8>>,
}

/// Reads header lines up to the first blank line (the body, often a long
/// description, is never read).
/// See <https://packaging.python.org/en/latest/specifications/core-metadata/>.
pub(crate) fn read_headers<R: Read>(r: R) -> std::io::Result<NameVersion> {
    let mut r = BufReader::with_capacity(4096, r);
    let mut line = Vec::with_capacity(128);
    let mut nv = NameVersion::default();
    loop {
        line.clear();
        if r.read_until(b'\n', &mut line)? == 0 {
            break;
        }
        let l = trim(&line);
        if l.is_empty() {
            break;
        }
        if let Some(v) = header_value(l, b"name") {
            if nv.name.is_none() {
                nv.name = Some(v.to_vec());
            }
        } else if let Some(v) = header_value(l, b"version") {
            if nv.version.is_none() {
                nv.version = Some(v.to_vec());
            }
        }
        if nv.name.is_some() && nv.version.is_some() {
            break;
        }
    }
    Ok(nv)
}

fn header_value<'a>(line: &'a [u8], key: &[u8]) -> Option<&'a [u8]> {
    let colon = line.iter().position(|&b| b == b':')?;
    let (k, rest) = line.split_at(colon);
    if k.eq_ignore_ascii_case(key) {
        let v = trim(&rest[1..]);
        (!v.is_empty()).then_some(v)
    } else {
        None
    }
}

/// Strips ASCII whitespace (including `\r`) at both ends.
pub(crate) fn trim(b: &[u8]) -> &[u8] {
    let start = b
        .iter()
        .position(|c| !c.is_ascii_whitespace())
        .unwrap_or(b.len());
    let end = b
        .iter()
        .rposition(|c| !c.is_ascii_whitespace())
        .map_or(start, |e| e + 1);
    &b[start..end.max(start)]
}

/// The path (first field) of one `RECORD` line: CSV, the path quoted when it
/// holds a comma or quote, e.g. `numpy/__init__.py,sha256=...,1234`.
/// See <https://packaging.python.org/en/latest/specifications/recording-installed-packages/>.
/// Returns `None` for a blank line or an unterminated quote.
pub(crate) fn record_path(line: &[u8]) -> Option<Cow<'_, [u8]>> {
    let line = trim(line);
    if line.is_empty() {
        return None;
    }
    if line[0] != b'"' {
        let end = line.iter().position(|&b| b == b',').unwrap_or(line.len());
        let p = &line[..end];
        return (!p.is_empty()).then_some(Cow::Borrowed(p));
    }
    let mut out = Vec::new();
    let mut i = 1;
    while i < line.len() {
        if line[i] == b'"' {
            if line.get(i + 1) == Some(&b'"') {
                out.push(b'"');
                i += 2;
                continue;
            }
            return (!out.is_empty()).then_some(Cow::Owned(out));
        }
        out.push(line[i]);
        i += 1;
    }
    None
}

/// Non-blank, non-comment lines of a text file (`top_level.txt`,
/// `installed-files.txt`, `.pth`).
pub(crate) fn lines(data: &[u8]) -> impl Iterator<Item = &[u8]> {
    data.split(|&b| b == b'\n')
        .map(trim)
        .filter(|l| !l.is_empty() && l[0] != b'#')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let m = b"Metadata-Version: 2.1\r\nName: scikit-learn\nVersion: 1.4.0\n\nName: body\n";
        let nv = read_headers(&m[..]).unwrap();
        assert_eq!(nv.name.as_deref(), Some(&b"scikit-learn"[..]));
        assert_eq!(nv.version.as_deref(), Some(&b"1.4.0"[..]));
        let nv = read_headers(&b"Summary: x\n\nName: late\n"[..]).unwrap();
        assert_eq!(nv.name, None);
    }

    #[test]
    fn record_lines() {
        assert_eq!(
            record_path(b"numpy/__init__.py,sha256=abc,12\n").as_deref(),
            Some(&b"numpy/__init__.py"[..])
        );
        assert_eq!(
            record_path(b"\"a,\"\"b\"\".py\",,").as_deref(),
            Some(&b"a,\"b\".py"[..])
        );
        assert_eq!(record_path(b"\"unterminated,,"), None);
        assert_eq!(record_path(b"  \r\n"), None);
        assert_eq!(record_path(b",sha,1"), None);
    }
}
