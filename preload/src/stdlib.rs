//! Recognises the interpreter's own standard library without the package map.
//!
//! The map marks the standard library of every interpreter it was built for.
//! For any other interpreter, `sys.base_prefix` tells where its standard
//! library is (`<base_prefix>/lib/pythonX.Y/`), so its modules are still kept
//! out of `unmapped`; anything under a `site-packages` or `dist-packages`
//! directory there is not standard library.

use core::cell::UnsafeCell;
use core::sync::atomic::{AtomicBool, Ordering};

const CAP: usize = 512;

struct Prefix(UnsafeCell<([u8; CAP], usize)>);
// SAFETY: written once, before KNOWN is published with release ordering;
// read only after KNOWN is observed with acquire ordering.
unsafe impl Sync for Prefix {}

static PREFIX: Prefix = Prefix(UnsafeCell::new(([0; CAP], 0)));
static KNOWN: AtomicBool = AtomicBool::new(false);
static CLAIMED: AtomicBool = AtomicBool::new(false);

pub fn known() -> bool {
    KNOWN.load(Ordering::Acquire)
}

/// Records `sys.base_prefix` (once; later calls are ignored).
pub fn set_base_prefix(base: &[u8]) {
    const LIB: &[u8] = b"/lib/python";
    if base.is_empty() || base.len() + LIB.len() > CAP || CLAIMED.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: CLAIMED makes this the only writer, and readers wait for KNOWN.
    let slot = unsafe { &mut *PREFIX.0.get() };
    slot.0[..base.len()].copy_from_slice(base);
    slot.0[base.len()..base.len() + LIB.len()].copy_from_slice(LIB);
    slot.1 = base.len() + LIB.len();
    KNOWN.store(true, Ordering::Release);
}

/// In a fork child: a thread that had claimed the slot but not finished
/// writing it does not exist there; let the next import claim it again.
pub fn reset_after_fork() {
    if !KNOWN.load(Ordering::Acquire) {
        CLAIMED.store(false, Ordering::Release);
    }
}

/// True if `path` is in the standard library of this process's interpreter.
pub fn contains(path: &[u8]) -> bool {
    if !known() {
        return false;
    }
    // SAFETY: KNOWN was observed, so the prefix is fully written and frozen.
    let (buf, len) = unsafe { &*PREFIX.0.get() };
    let Some(rest) = path.strip_prefix(&buf[..*len]) else {
        return false;
    };
    !rest.windows(10).any(|w| w == b"-packages/")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_claim_cut_off_by_fork_is_released() {
        CLAIMED.store(true, Ordering::Release); // claimed by a thread gone in the child
        set_base_prefix(b"/usr");
        assert!(!known());
        reset_after_fork();
        set_base_prefix(b"/usr");
        assert!(known());
        assert!(contains(b"/usr/lib/python3.11/json/__init__.py"));
        assert!(!contains(b"/usr/lib/python3.11/site-packages/x.py"));
        reset_after_fork(); // once known, it stays
        assert!(known());
    }
}
