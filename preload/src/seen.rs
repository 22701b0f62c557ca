//! Lock-free "have we recorded this already?" sets.
//!
//! Audit hooks may run concurrently (free-threaded 3.13t, per-interpreter
//! GILs), and a fork child inherits these sets, so it records only what its
//! parent had not. Both sets are fixed-size; when full they answer "new", and
//! the renderer merges duplicates.
//!
//! They live in an anonymous mapping made when CPython is found, not in the
//! library's `.bss`: every process on the machine would otherwise pay for the
//! loader zeroing and mapping 28 KiB it never uses.

use core::sync::atomic::{AtomicPtr, AtomicU64, Ordering};
use pyusage_record::raw::Via;

/// Distributions tracked per `via` in the bitmap; ids beyond are always "new".
const MAX_DISTS: usize = 32 * 1024;
const DIST_WORDS: usize = 3 * MAX_DISTS / 64;
/// Hashes of paths (unmapped directories, native libraries) already recorded.
const SLOTS: usize = 2048;

/// `DIST_WORDS` bitmap words followed by `SLOTS` hash slots, or null.
static SETS: AtomicPtr<AtomicU64> = AtomicPtr::new(core::ptr::null_mut());

/// Maps the sets (zero-filled); false if the memory cannot be had.
pub fn init() -> bool {
    let len = (DIST_WORDS + SLOTS) * 8;
    let flags = libc::MAP_PRIVATE | libc::MAP_ANONYMOUS;
    // SAFETY: an anonymous private mapping, never unmapped.
    match unsafe { crate::syscall::mmap(len, libc::PROT_READ | libc::PROT_WRITE, flags, -1) } {
        Ok(p) => {
            SETS.store(p.cast(), Ordering::Release);
            true
        }
        Err(_) => false,
    }
}

/// Word `i` of the sets; `None` before [`init`].
fn word(i: usize) -> Option<&'static AtomicU64> {
    let base = SETS.load(Ordering::Acquire);
    // SAFETY: the mapping holds DIST_WORDS + SLOTS zero-initialised u64s, which
    // are valid AtomicU64s, and lives for the rest of the process.
    (!base.is_null() && i < DIST_WORDS + SLOTS).then(|| unsafe { &*base.add(i) })
}

/// Marks distribution `id` as seen via `via`; true if it was not before.
pub fn first_dist(id: u32, via: Via) -> bool {
    if id as usize >= MAX_DISTS {
        return true;
    }
    let bit = via.strength() as usize * MAX_DISTS + id as usize;
    let mask = 1u64 << (bit % 64);
    word(bit / 64).is_none_or(|w| w.fetch_or(mask, Ordering::Relaxed) & mask == 0)
}

/// True if distribution `id` was marked seen via `via` (ids beyond the
/// bitmap never are).
pub fn has_dist(id: u32, via: Via) -> bool {
    if id as usize >= MAX_DISTS {
        return false;
    }
    let bit = via.strength() as usize * MAX_DISTS + id as usize;
    word(bit / 64).is_some_and(|w| w.load(Ordering::Relaxed) & (1u64 << (bit % 64)) != 0)
}

/// True if `h` was inserted before.
pub fn has_hash(h: u64) -> bool {
    let start = (h as usize) % SLOTS;
    for i in 0..64 {
        match word(DIST_WORDS + (start + i) % SLOTS).map(|s| s.load(Ordering::Relaxed)) {
            Some(0) | None => return false,
            Some(existing) if existing == h => return true,
            Some(_) => {}
        }
    }
    false
}

/// FNV-1a, salted by a kind so different uses never collide.
pub fn hash(kind: u8, bytes: &[u8]) -> u64 {
    let mut h = 0xcbf2_9ce4_8422_2325u64 ^ u64::from(kind);
    for &b in bytes {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h | 1 // 0 marks an empty slot
}

/// Inserts `h`; true if it was not there.
pub fn first_hash(h: u64) -> bool {
    let start = (h as usize) % SLOTS;
    for i in 0..64 {
        let Some(slot) = word(DIST_WORDS + (start + i) % SLOTS) else {
            return true;
        };
        match slot.compare_exchange(0, h, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return true,
            Err(existing) if existing == h => return false,
            Err(_) => {}
        }
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sets_remember() {
        assert!(init());
        assert!(!has_dist(5, Via::Import));
        assert!(first_dist(5, Via::Import));
        assert!(has_dist(5, Via::Import));
        assert!(!first_dist(5, Via::Import));
        assert!(first_dist(5, Via::Library));
        assert!(first_dist(u32::MAX, Via::Import));
        let h = hash(b'u', b"/home/u/x");
        assert!(!has_hash(h));
        assert!(first_hash(h));
        assert!(has_hash(h));
        assert!(!first_hash(h));
        assert_ne!(hash(b'u', b"/a"), hash(b'n', b"/a"));
    }
}
