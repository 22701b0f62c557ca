//! Lock-free "have we recorded this already?" sets, in static memory.
//!
//! Audit hooks may run concurrently (free-threaded 3.13t, per-interpreter
//! GILs), and a fork child inherits these sets, so it records only what its
//! parent had not. Both sets are fixed-size; when full they answer "new", and
//! the renderer merges duplicates.

use core::sync::atomic::{AtomicU64, Ordering};
use pyusage_record::raw::Via;

/// Distributions tracked per `via` in the bitmap; ids beyond are always "new".
const MAX_DISTS: usize = 32 * 1024;
static DISTS: [AtomicU64; 3 * MAX_DISTS / 64] = [const { AtomicU64::new(0) }; 3 * MAX_DISTS / 64];

/// Marks distribution `id` as seen via `via`; true if it was not before.
pub fn first_dist(id: u32, via: Via) -> bool {
    let bit = via.strength() as usize * MAX_DISTS + id as usize;
    if id as usize >= MAX_DISTS {
        return true;
    }
    let mask = 1u64 << (bit % 64);
    DISTS[bit / 64].fetch_or(mask, Ordering::Relaxed) & mask == 0
}

/// Hashes of paths (unmapped directories, native libraries) already recorded.
const SLOTS: usize = 2048;
static HASHES: [AtomicU64; SLOTS] = [const { AtomicU64::new(0) }; SLOTS];

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
        let slot = &HASHES[(start + i) % SLOTS];
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
        assert!(first_dist(5, Via::Import));
        assert!(!first_dist(5, Via::Import));
        assert!(first_dist(5, Via::Library));
        assert!(first_dist(u32::MAX, Via::Import));
        let h = hash(b'u', b"/home/u/x");
        assert!(first_hash(h));
        assert!(!first_hash(h));
        assert_ne!(hash(b'u', b"/a"), hash(b'n', b"/a"));
    }
}
