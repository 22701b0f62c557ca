//! The module file the import system opened last.
//!
//! What ran is known from the code object the `exec` audit event carries:
//! its `co_filename` is the module's source path, fixed up by the import
//! system whatever file the code came from (a `.py`, or a cached
//! `mod.cpython-312.pyc` in `__pycache__` or under a pycache prefix). Only a
//! sourceless module (a bare `mod.pyc` with no `.py` beside it) keeps the
//! path it was compiled at instead, which may be a build directory. For that
//! case the bare `.pyc` the import system opened just before, in the same
//! thread, is kept here, and used when it is the same module. Opening alone
//! records nothing: `linecache`, `shutil.copy` and `compileall` open module
//! files of packages that never run.
//!
//! The slot remembers which thread opened the file: another thread's import
//! may open its own module files between this thread's open and exec.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

/// Longest path kept; longer ones are not kept at all.
pub const CAP: usize = 1024;

struct Slot {
    busy: AtomicBool,
    /// The path and the thread (`gettid`) that opened it.
    text: UnsafeCell<([u8; CAP], usize, usize)>,
}
// SAFETY: `text` is only touched by whoever holds `busy`.
unsafe impl Sync for Slot {}

static SLOT: Slot = Slot {
    busy: AtomicBool::new(false),
    text: UnsafeCell::new(([0; CAP], 0, 0)),
};

/// The calling thread, as a number.
/// The calling thread. A system call, not `pthread_self`: built against
/// glibc 2.17, that would make the library need `libpthread.so.0`, which
/// every process on the machine would then load.
fn this_thread() -> usize {
    crate::syscall::gettid() as usize
}

/// True for a sourceless module file: `mod.pyc`, one dot in its name. The
/// import system's caches are named `mod.<cache tag>.pyc` (two dots or more).
pub fn is_sourceless(path: &[u8]) -> bool {
    let file = path.rsplit(|&c| c == b'/').next().unwrap_or(b"");
    file.ends_with(b".pyc") && file.iter().filter(|&&c| c == b'.').count() == 1
}

/// Remembers `path` if it is a sourceless module file (forgets it when it
/// does not fit). A concurrent caller holding the slot wins; this one is
/// dropped.
pub fn set(path: &[u8]) {
    if !is_sourceless(path) || SLOT.busy.swap(true, Ordering::Acquire) {
        return;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &mut *SLOT.text.get() };
    if path.len() <= CAP {
        text.0[..path.len()].copy_from_slice(path);
        text.1 = path.len();
        text.2 = this_thread();
    } else {
        text.1 = 0;
    }
    SLOT.busy.store(false, Ordering::Release);
}

/// Moves the remembered path into `out` and forgets it, if this thread
/// opened it.
pub fn take(out: &mut [u8; CAP]) -> Option<&[u8]> {
    if SLOT.busy.swap(true, Ordering::Acquire) {
        return None;
    }
    // SAFETY: we hold `busy`.
    let text = unsafe { &mut *SLOT.text.get() };
    let n = if text.1 > 0 && text.2 == this_thread() {
        text.1
    } else {
        0
    };
    out[..n].copy_from_slice(&text.0[..n]);
    text.1 = 0;
    SLOT.busy.store(false, Ordering::Release);
    (n > 0).then(|| &out[..n])
}

/// The file name cut at its first dot (`mod.pyc` and `mod.py` both give
/// `mod`).
fn module_name(path: &[u8]) -> &[u8] {
    let file = path.rsplit(|&c| c == b'/').next().unwrap_or(b"");
    file.split(|&c| c == b'.').next().unwrap_or(file)
}

/// True when `opened` (a sourceless `.pyc`) may hold the module whose code
/// says it came from `source`: the same module name (the directory may
/// differ: a top-level module compiled in a build directory).
pub fn same_module(source: &[u8], opened: &[u8]) -> bool {
    let a = module_name(source);
    !a.is_empty() && a == module_name(opened)
}

/// In a fork child: a thread that held the slot at the fork does not exist
/// there; free the slot and forget its contents.
pub fn reset_after_fork() {
    // SAFETY: the fork child has one thread, this one; nobody else can hold
    // the slot.
    unsafe { (*SLOT.text.get()).1 = 0 };
    SLOT.busy.store(false, Ordering::Release);
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
        let mut long = vec![b'x'; CAP];
        long.extend_from_slice(b".pyc");
        set(&long);
        assert_eq!(take(&mut out), None);
        // Sources and the import system's caches are never kept.
        for f in [
            &b"/sw/site/PIL/Image.py"[..],
            b"/src/pkg/__pycache__/mod.cpython-311.pyc",
            b"/cache/src/pkg/mod.cpython-312.opt-1.pyc",
        ] {
            set(f);
            assert_eq!(take(&mut out), None, "{}", String::from_utf8_lossy(f));
        }
        assert!(same_module(b"/build/pkg/mod.py", b"/sw/site/pkg/mod.pyc"));
        assert!(!same_module(
            b"/build/pkg/mod.py",
            b"/sw/site/PIL/Image.pyc"
        ));
        assert!(same_module(b"/build/elsewhere/mod.py", b"/sw/site/mod.pyc"));
        set(b"/sw/site/PIL/Image.pyc");
        clear();
        assert_eq!(take(&mut out), None);
        // Another thread's open is not this thread's.
        set(b"/sw/site/PIL/Image.pyc");
        std::thread::spawn(|| {
            let mut out = [0u8; CAP];
            assert_eq!(take(&mut out), None);
        })
        .join()
        .unwrap();
        assert_eq!(
            take(&mut out),
            None,
            "taken (and forgotten) by the other thread"
        );
        // A fork taken while another thread held the slot: the child frees it.
        SLOT.busy.store(true, Ordering::Release);
        set(b"/sw/site/PIL/Image.pyc");
        assert_eq!(take(&mut out), None, "held");
        reset_after_fork();
        set(b"/sw/site/PIL/Image.pyc");
        assert_eq!(take(&mut out), Some(&b"/sw/site/PIL/Image.pyc"[..]));
    }
}
