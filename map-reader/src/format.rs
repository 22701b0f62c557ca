//! The on-disk layout of a package map, shared by the reader and the writer.
//!
//! Everything is little-endian. Offsets are absolute byte offsets into the
//! file and fit in `u32` because a map is never larger than [`MAX_MAP_BYTES`].
//! See `docs/package-map.md` for the prose version of this layout.

/// First eight bytes of every package map.
pub const MAGIC: [u8; 8] = *b"PYUSGMAP";
/// The only format version this reader understands.
pub const FORMAT_VERSION: u32 = 2;
/// Length of the fixed header.
pub const HEADER_LEN: usize = 96;
/// Largest map the builder writes and the reader accepts (256 MiB).
pub const MAX_MAP_BYTES: u64 = 256 << 20;
/// Bytes per distribution record.
pub const DIST_RECORD_LEN: usize = 32;
/// Bytes per hash-table slot.
pub const SLOT_LEN: usize = 16;
/// Bytes per root record.
pub const ROOT_RECORD_LEN: usize = 16;
/// The checksum covers `bytes[CHECKSUM_START..file_len]`.
pub const CHECKSUM_START: usize = 24;
/// Target of an entry that marks the interpreter's standard library.
pub const TARGET_STDLIB: u32 = 0xFFFF_FFFE;
/// Target of a barrier entry: the path is known to belong to nothing (a
/// `site-packages` inside the standard library). The prefix search stops there.
pub const TARGET_NONE: u32 = 0xFFFF_FFFF;

/// Byte offsets of the header fields (shared with the writer in `pyusage-resolver`).
#[allow(missing_docs)] // field names say it all; see the table above
pub mod off {
    pub const MAGIC: usize = 0;
    pub const VERSION: usize = 8;
    pub const HEADER_LEN: usize = 12;
    pub const CHECKSUM: usize = 16;
    pub const FILE_LEN: usize = 24;
    pub const STRINGS_OFF: usize = 32;
    pub const STRINGS_LEN: usize = 36;
    pub const DISTS_OFF: usize = 40;
    pub const DIST_COUNT: usize = 44;
    pub const SLOTS_OFF: usize = 48;
    pub const SLOT_COUNT: usize = 52;
    pub const MAX_PROBE: usize = 56;
    pub const ENTRY_COUNT: usize = 60;
    pub const ROOTS_OFF: usize = 64;
    pub const ROOT_COUNT: usize = 68;
    pub const BUILT_AT: usize = 72;
}

const FNV_OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
const FNV_PRIME: u64 = 0x0000_0100_0000_01b3;

/// Start state of the FNV-1a hash used for the checksum.
#[inline]
pub const fn fnv_start() -> u64 {
    FNV_OFFSET
}

/// Feeds one byte into an FNV-1a state.
#[inline]
pub const fn fnv_step(h: u64, b: u8) -> u64 {
    (h ^ b as u64).wrapping_mul(FNV_PRIME)
}

/// FNV-1a 64 of a whole byte string.
#[inline]
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut h = FNV_OFFSET;
    for &b in bytes {
        h = fnv_step(h, b);
    }
    h
}

/// Final mix of a key hash (a 64-bit avalanche).
#[inline]
pub const fn finish(h: u64) -> u64 {
    let mut x = h ^ (h >> 32);
    x = x.wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^= x >> 32;
    x = x.wrapping_mul(0xd6e8_feb8_6659_fd93);
    x ^ (x >> 32)
}

const KEY_SEED: u64 = 0x243f_6a88_85a3_08d3;
const KEY_MUL: u64 = 0x9e37_79b9_7f4a_7c15;

/// Key hashing, one 8-byte word at a time: the state after the full words
/// of a key, then [`key_tail`] with the remaining bytes.
#[inline]
pub const fn key_word(h: u64, word: u64) -> u64 {
    (h ^ word).wrapping_mul(KEY_MUL).rotate_left(29)
}

/// Start state of a key hash.
#[inline]
pub const fn key_start() -> u64 {
    KEY_SEED
}

/// Ends a key hash: `tail` holds the last `len % 8` bytes (little-endian,
/// zero-padded; 0 when `len` is a multiple of 8), `len` the key length.
/// The result's low bits pick the slot, its high 32 bits are the tag.
#[inline]
pub const fn key_tail(h: u64, tail: u64, len: usize) -> u64 {
    finish((h ^ tail).wrapping_mul(KEY_MUL) ^ len as u64)
}

/// Loads up to 8 bytes of `b` from `at`, little-endian, zero-padded.
#[inline]
pub fn load_word(b: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    if let Some(rest) = b.get(at..) {
        let n = rest.len().min(8);
        w[..n].copy_from_slice(&rest[..n]);
    }
    u64::from_le_bytes(w)
}

/// The hash of a whole key (what the writer stores and the reader probes).
pub fn key_hash(key: &[u8]) -> u64 {
    let mut h = KEY_SEED;
    let full = key.len() / 8 * 8;
    let mut i = 0;
    while i < full {
        h = key_word(h, load_word(key, i));
        i += 8;
    }
    key_tail(h, load_word(key, full), key.len())
}

/// Checksum of a map: FNV-1a 64 over `bytes[CHECKSUM_START..]`.
pub fn checksum(bytes: &[u8]) -> u64 {
    match bytes.get(CHECKSUM_START..) {
        Some(rest) => fnv1a(rest),
        None => 0,
    }
}

/// Reads a little-endian `u32` at `at`; `None` when out of bounds.
#[inline]
pub fn rd32(bytes: &[u8], at: usize) -> Option<u32> {
    let end = at.checked_add(4)?;
    let s = bytes.get(at..end)?;
    Some(u32::from_le_bytes([s[0], s[1], s[2], s[3]]))
}

/// Reads a little-endian `u64` at `at`; `None` when out of bounds.
#[inline]
pub fn rd64(bytes: &[u8], at: usize) -> Option<u64> {
    let end = at.checked_add(8)?;
    let s = bytes.get(at..end)?;
    let mut a = [0u8; 8];
    a.copy_from_slice(s);
    Some(u64::from_le_bytes(a))
}
