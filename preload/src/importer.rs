//! Who made an import: the program's own code, another distribution, or the
//! interpreter's start-up machinery.
//!
//! Asked once per new distribution (and per new unmapped directory), from the
//! audit event of the module's first code run. The frames of the running
//! thread are walked from the innermost: importlib's bootstrap and the rest of
//! the standard library are passed over (`importlib.import_module`, `pickle`,
//! `runpy` import on someone's behalf), and the first other frame says who:
//!
//! - a file the package map places in a distribution: that distribution;
//! - anywhere further out, a line of a `.pth` file, which `site` runs with
//!   `exec` (code named `<string>` called from `site`, possibly through more
//!   `exec`s of its own): start-up machinery, not use, including what the
//!   modules it imports import in turn. This is how
//!   setuptools' editable finders (`__editable___*_finder`) and
//!   `distutils-precedence.pth` (`_distutils_hack`) are imported in every
//!   process of an environment;
//! - anything else (the script, `-c`, `-m`, the interactive prompt, a
//!   notebook cell, a file no distribution claims): the program itself.

use crate::globals;
use pyusage_map_reader::Lookup;

/// The deepest a walk goes: the innermost frames decide who imports, the
/// whole stack whether `site` is running a `.pth` line.
const MAX_FRAMES: usize = 96;

/// The answer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Importer {
    /// The program's own code.
    Program,
    /// A module of this distribution (its name, from the package map).
    Dist(&'static [u8]),
    /// `site` running a `.pth` line at start-up.
    Startup,
}

/// What one frame's `co_filename` says.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Frame {
    /// importlib or another standard-library module: look further out.
    PassOver,
    /// Code compiled from a string (`exec`, `-c`): the program, unless `site`
    /// runs it (a `.pth` line).
    String,
    /// `site` itself.
    Site,
    /// Code the map places in a distribution.
    Dist(&'static [u8]),
    /// Anything else.
    Program,
}

fn classify(file: &[u8]) -> Frame {
    if file == b"<frozen site>" || file.ends_with(b"/site.py") {
        return Frame::Site;
    }
    if file.starts_with(b"<frozen ") {
        return Frame::PassOver; // importlib's bootstrap, runpy, ... (3.11+)
    }
    if file == b"<string>" {
        return Frame::String;
    }
    if file.first() == Some(&b'<') {
        return Frame::Program; // <stdin>, <console>, <ipython-input-...>
    }
    match globals::get().map.as_ref().map(|m| m.lookup(file)) {
        Some(Lookup::Stdlib) => Frame::PassOver,
        Some(Lookup::Dist(d)) => Frame::Dist(d.name),
        _ if crate::stdlib::contains(file) => Frame::PassOver,
        _ => Frame::Program,
    }
}

/// Folds the frames' kinds, innermost first, into the answer. Start-up
/// machinery wins wherever it is on the stack: a module a `.pth` line
/// imported may import more (`certifi` importing `certifi.core`), and those
/// imports are start-up too.
fn decide(frames: &[Frame]) -> Importer {
    let startup = frames.iter().enumerate().any(|(i, f)| {
        *f == Frame::String
            && frames[i + 1..]
                .iter()
                .find(|g| **g != Frame::String)
                .is_some_and(|g| *g == Frame::Site)
    });
    if startup {
        return Importer::Startup;
    }
    frames
        .iter()
        .find_map(|f| match f {
            Frame::Dist(name) => Some(Importer::Dist(name)),
            Frame::Program | Frame::String => Some(Importer::Program),
            Frame::PassOver | Frame::Site => None,
        })
        .unwrap_or(Importer::Program)
}

/// Who is importing, seen from inside an audit hook.
pub fn current() -> Importer {
    let Some(api) = globals::get().api else {
        return Importer::Program;
    };
    let mut frames = [Frame::PassOver; MAX_FRAMES];
    let mut n = 0;
    // SAFETY: called from the audit hook, with a thread state.
    unsafe {
        api.walk_frames(MAX_FRAMES, |file| {
            frames[n] = classify(file);
            n += 1;
            n < MAX_FRAMES
        });
    }
    decide(&frames[..n])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_decide() {
        use Frame::*;
        let d = |v: &[Frame]| decide(v);
        assert_eq!(d(&[PassOver, PassOver, Program]), Importer::Program);
        assert_eq!(
            d(&[PassOver, Dist(b"pandas"), Program]),
            Importer::Dist(b"pandas")
        );
        assert_eq!(d(&[PassOver, String, Site, PassOver]), Importer::Startup);
        assert_eq!(d(&[PassOver, String, String, Site]), Importer::Startup);
        assert_eq!(d(&[PassOver, String]), Importer::Program);
        assert_eq!(d(&[PassOver, String, Program]), Importer::Program);
        assert_eq!(d(&[PassOver, Site, Program]), Importer::Program);
        // certifi, imported by a .pth line, imports certifi.core.
        assert_eq!(
            d(&[PassOver, Program, PassOver, String, String, Site]),
            Importer::Startup
        );
        assert_eq!(
            d(&[PassOver, Dist(b"x"), String, Program, Site]),
            Importer::Dist(b"x")
        );
        assert_eq!(d(&[]), Importer::Program);
    }

    #[test]
    fn files_classify() {
        assert_eq!(classify(b"<frozen importlib._bootstrap>"), Frame::PassOver);
        assert_eq!(classify(b"<frozen site>"), Frame::Site);
        assert_eq!(classify(b"/usr/lib/python3.11/site.py"), Frame::Site);
        assert_eq!(classify(b"<string>"), Frame::String);
        assert_eq!(classify(b"<stdin>"), Frame::Program);
        assert_eq!(classify(b"/home/u/train.py"), Frame::Program);
    }
}
