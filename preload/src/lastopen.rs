//! The module file the import system opened last.
//!
//! What ran is known from the code object the `exec` audit event carries:
//! its `co_filename` is the module's source path, fixed up by the import
//! system whatever file the code came from. A sourceless module (a `.pyc`
//! with no `.py` beside it) keeps the path it was compiled at instead, which
//! may be a build directory. For that case the `.py`/`.pyc` the import system
//! opened just before is kept here, and used when it is the same module.
//! Opening alone records nothing: `linecache`, `shutil.copy` and
//! `compileall` open module files of packages that never run.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Longest path kept; longer ones are not kept at all.
pub const CAP: usize = 1024;

struct Slot {
    busy: AtomicBool,
    text: UnsafeCell<([u8; CAP], usize)>,
}
// SAFETY: `text` is only touched by whoever holds `busy`.
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot {
    busy: AtomicBool::new(false),
    text: UnsafeCell::new(([0; CAP], 0)),
};

/// Remembers `path` (forgets it when it does not fit). A concurrent caller
/// holding the slot wins; this one is dropped.
pub fn set(path: &[u8]) {
    if SLOT.busy.swap(true, Ordering::Acquire) {
        return;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &mut *SLOT.text.get() };
    if path.len() <= CAP {
        text.0[..path.len()].copy_from_slice(path);
        text.1 = path.len();
    } else {
        text.1 = 0;
    }
    SLOT.busy.store(false, Ordering::Release);
}

/// Moves the remembered path into `out` and forgets it.
pub fn take(out: &mut [u8; CAP]) -> Option<&[u8]> {
    if SLOT.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &mut *SLOT.text.get() };
    let n = text.1;
    out[..n].copy_from_slice(&text.0[..n]);
    text.1 = 0;
    SLOT.busy.store(false, Ordering::Release);
    (n > 0).then(|| &out[..n])
}

/// The file name cut at its first dot (`mod.cpython-311.pyc` and `mod.py`
/// both give `mod`).
fn module_name(path: &[u8]) -> &[u8] {
    let file = path.rsplit(|&c| c == b'/').next().unwrap_or(b"");
    file.split(|&c| c == b'.').next().unwrap_or(file)
}

/// True when `opened` (a `.py`/`.pyc` file) may hold the module whose code
/// says it came from `source`: the same module name (the directory may
/// differ: a top-level module compiled in a build directory).
pub fn same_module(source: &[u8], opened: &[u8]) -> bool {
    let a = module_name(source);
    !a.is_empty() && a == module_name(opened)
}

/// Forgets the remembered path: a new import starts (its `import` event
/// comes before the import system opens anything).
pub fn clear() {
    if !SLOT.busy.swap(true, Ordering::Acquire) {
        // SAFETY: we hold `busy`.
        unsafe { (*SLOT.text.get()).1 = 0 };
        SLOT.busy.store(false, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_one_path_and_matches_modules() {
        let mut out = [0u8; CAP];
        set(b"/sw/site/pkg/mod.pyc");
        assert_eq!(take(&mut out), Some(&b"/sw/site/pkg/mod.pyc"[..]));
        assert_eq!(take(&mut out), None);
        set(&[b'x'; CAP + 1]);
        assert_eq!(take(&mut out), None);
        assert!(same_module(b"/build/pkg/mod.py", b"/sw/site/pkg/mod.pyc"));
        assert!(same_module(
            b"/src/pkg/mod.py",
            b"/src/pkg/__pycache__/mod.cpython-311.pyc"
        ));
        assert!(!same_module(b"/build/pkg/mod.py", b"/sw/site/PIL/Image.py"));
        assert!(same_module(b"/build/elsewhere/mod.py", b"/sw/site/mod.pyc"));
        set(b"/sw/site/PIL/Image.py");
        clear();
        assert_eq!(take(&mut out), None);
    }
}
