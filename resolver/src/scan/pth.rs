//! `.pth` files and `.egg-link` files: directories they add to `sys.path`
//! are scanned as further site directories (legacy `setup.py develop`,
//! `easy-install.pth`, hand-made path extensions).
//! See <https://docs.python.org/3/library/site.html>.

use super::{paths, text};

/// Directories added by a `.pth` file in `site` (lines that are not comments
/// or `import` statements), normalised against `site`.
pub(crate) fn dirs(site: &[u8], data: &[u8]) -> Vec<Vec<u8>> {
    text::lines(data)
        .filter(|l| !l.starts_with(b"import ") && !l.starts_with(b"import\t"))
        .map(|l| paths::join(site, l))
        .collect()
}

/// The source directory named by an `.egg-link` file (its first line).
pub(crate) fn egg_link(site: &[u8], data: &[u8]) -> Option<Vec<u8>> {
    text::lines(data).next().map(|l| paths::join(site, l))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pth_lines() {
        let d = dirs(
            b"/s",
            b"# comment\nimport foo; foo.x()\n/abs/dir\nrel/dir\n\n",
        );
        assert_eq!(d, vec![b"/abs/dir".to_vec(), b"/s/rel/dir".to_vec()]);
    }
}
