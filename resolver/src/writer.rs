//! Serialises distributions, roots and keys into the package-map format.
//!
//! The writer is deterministic: the same distributions, roots and keys give
//! the same bytes (keys are laid out in sorted order), whatever order they
//! were added in.

use std::collections::HashMap;
use std::vec;
use std::vec::Vec;

use crate::format::{self, off};

/// Why a map could not be serialised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum WriteError {
    /// The map would be larger than [`format::MAX_MAP_BYTES`].
    TooLarge(u64),
    /// An empty key was added.
    EmptyKey,
}

impl core::fmt::Display for WriteError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            WriteError::TooLarge(n) => write!(
                f,
                "the package map would be {n} bytes, over the limit of {} bytes that the tracer maps",
                format::MAX_MAP_BYTES
            ),
            WriteError::EmptyKey => f.write_str("empty key in package map"),
        }
    }
}

impl std::error::Error for WriteError {}

/// The fields of one distribution to write.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct DistFields {
    /// Name as in the metadata.
    pub name: Vec<u8>,
    /// Version as in the metadata.
    pub version: Vec<u8>,
    /// Environment (root label or prefix).
    pub env: Vec<u8>,
    /// Installer.
    pub installer: Vec<u8>,
}

/// A fast, non-cryptographic hasher for path keys (inputs are metadata of
/// installations the admin asked to scan, not network input).
#[derive(Default, Clone, Copy)]
pub(crate) struct FastBuild;

/// The hasher of [`FastBuild`].
pub(crate) struct Fast(u64);

impl std::hash::BuildHasher for FastBuild {
    type Hasher = Fast;
    fn build_hasher(&self) -> Fast {
        Fast(0)
    }
}

impl std::hash::Hasher for Fast {
    fn write(&mut self, bytes: &[u8]) {
        let mut h = self.0;
        let mut chunks = bytes.chunks_exact(8);
        for c in &mut chunks {
            let mut w = [0u8; 8];
            w.copy_from_slice(c);
            h = (h.rotate_left(5) ^ u64::from_le_bytes(w)).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        for &b in chunks.remainder() {
            h = (h.rotate_left(5) ^ b as u64).wrapping_mul(0x517c_c1b7_2722_0a95);
        }
        self.0 = h;
    }
    fn finish(&self) -> u64 {
        crate::format::finish(self.0)
    }
}

/// Accumulates a package map in memory.
#[derive(Debug, Default)]
pub struct MapWriter {
    strings: Vec<u8>,
    interned: HashMap<Vec<u8>, (u32, u32), FastBuild>,
    dists: Vec<[(u32, u32); 4]>,
    roots: Vec<[(u32, u32); 2]>,
    entries: HashMap<Vec<u8>, u32, FastBuild>,
    built_at: u64,
}

impl MapWriter {
    /// An empty writer.
    pub fn new() -> Self {
        Self::default()
    }

    fn intern(&mut self, s: &[u8]) -> (u32, u32) {
        if let Some(&r) = self.interned.get(s) {
            return r;
        }
        // Offsets are checked against the size limit in `finish`; saturate here.
        let r = (
            u32::try_from(self.strings.len()).unwrap_or(u32::MAX),
            u32::try_from(s.len()).unwrap_or(u32::MAX),
        );
        self.strings.extend_from_slice(s);
        self.interned.insert(s.to_vec(), r);
        r
    }

    /// Adds a distribution and returns its id (ids are given in order).
    pub fn add_dist(&mut self, d: &DistFields) -> u32 {
        let rec = [
            self.intern(&d.name),
            self.intern(&d.version),
            self.intern(&d.env),
            self.intern(&d.installer),
        ];
        self.dists.push(rec);
        (self.dists.len() - 1) as u32
    }

    /// Records a root and its label.
    pub fn add_root(&mut self, path: &[u8], label: &[u8]) {
        let rec = [self.intern(path), self.intern(label)];
        self.roots.push(rec);
    }

    /// Sets the build time (seconds since the epoch).
    pub fn set_built_at(&mut self, secs: u64) {
        self.built_at = secs;
    }

    /// Number of distributions added.
    pub fn dist_count(&self) -> u32 {
        self.dists.len() as u32
    }

    /// Number of keys added.
    pub fn entry_count(&self) -> usize {
        self.entries.len()
    }

    /// The target already stored for `key`, if any.
    pub fn get(&self, key: &[u8]) -> Option<u32> {
        self.entries.get(key).copied()
    }

    /// Adds a key (a directory ending with `/`, or an exact file path) that
    /// maps to `target` (a dist id, [`format::TARGET_STDLIB`] or
    /// [`format::TARGET_NONE`]). The first target added for a key stays;
    /// returns `false` if the key was already present.
    pub fn insert(&mut self, key: &[u8], target: u32) -> Result<bool, WriteError> {
        if key.is_empty() {
            return Err(WriteError::EmptyKey);
        }
        if self.entries.contains_key(key) {
            return Ok(false);
        }
        self.entries.insert(key.to_vec(), target);
        Ok(true)
    }

    /// Replaces (or adds) the target of a key.
    pub fn replace(&mut self, key: &[u8], target: u32) -> Result<(), WriteError> {
        if key.is_empty() {
            return Err(WriteError::EmptyKey);
        }
        self.entries.insert(key.to_vec(), target);
        Ok(())
    }

    /// Serialises the map.
    pub fn finish(self) -> Result<Vec<u8>, WriteError> {
        let MapWriter {
            mut strings,
            dists,
            roots,
            entries,
            built_at,
            ..
        } = self;
        let mut keys: Vec<(Vec<u8>, u32)> = entries.into_iter().collect();
        keys.sort_unstable();
        let n = keys.len();
        let slot_count = (n.saturating_mul(2)).next_power_of_two().max(8);

        // Size check before allocating the table.
        let keys_bytes: u64 = keys.iter().map(|(k, _)| k.len() as u64).sum();
        let strings_len = strings.len() as u64 + keys_bytes;
        let pad = (4 - (strings_len % 4)) % 4;
        let total = format::HEADER_LEN as u64
            + strings_len
            + pad
            + (dists.len() * format::DIST_RECORD_LEN) as u64
            + (roots.len() * format::ROOT_RECORD_LEN) as u64
            + (slot_count as u64) * format::SLOT_LEN as u64;
        if total > format::MAX_MAP_BYTES {
            return Err(WriteError::TooLarge(total));
        }

        // Key strings, then the hash table.
        let mut slots = vec![(0u32, 0u32, 0u32, 0u32); slot_count];
        let mask = slot_count - 1;
        let mut max_probe = 0u32;
        for (key, target) in &keys {
            let koff = strings.len() as u32;
            strings.extend_from_slice(key);
            let f = format::key_hash(key);
            let tag = (f >> 32) as u32;
            let mut i = f as usize & mask;
            let mut dist = 0u32;
            while slots[i].2 != 0 {
                i = (i + 1) & mask;
                dist += 1;
            }
            max_probe = max_probe.max(dist);
            slots[i] = (tag, koff, key.len() as u32, *target);
        }
        strings.resize(strings.len() + pad as usize, 0);

        let strings_off = format::HEADER_LEN;
        let dists_off = strings_off + strings.len();
        let roots_off = dists_off + dists.len() * format::DIST_RECORD_LEN;
        let slots_off = roots_off + roots.len() * format::ROOT_RECORD_LEN;
        let file_len = slots_off + slot_count * format::SLOT_LEN;
        debug_assert_eq!(file_len as u64, total);

        let mut out = Vec::with_capacity(file_len);
        out.resize(format::HEADER_LEN, 0);
        out.extend_from_slice(&strings);
        for rec in &dists {
            for (o, l) in rec {
                out.extend_from_slice(&o.to_le_bytes());
                out.extend_from_slice(&l.to_le_bytes());
            }
        }
        for rec in &roots {
            for (o, l) in rec {
                out.extend_from_slice(&o.to_le_bytes());
                out.extend_from_slice(&l.to_le_bytes());
            }
        }
        for (t, o, l, d) in &slots {
            for v in [t, o, l, d] {
                out.extend_from_slice(&v.to_le_bytes());
            }
        }
        let put32 = |out: &mut Vec<u8>, at: usize, v: u32| {
            out[at..at + 4].copy_from_slice(&v.to_le_bytes());
        };
        out[off::MAGIC..off::MAGIC + 8].copy_from_slice(&format::MAGIC);
        put32(&mut out, off::VERSION, format::FORMAT_VERSION);
        put32(&mut out, off::HEADER_LEN, format::HEADER_LEN as u32);
        out[off::FILE_LEN..off::FILE_LEN + 8].copy_from_slice(&(file_len as u64).to_le_bytes());
        put32(&mut out, off::STRINGS_OFF, strings_off as u32);
        put32(&mut out, off::STRINGS_LEN, strings.len() as u32);
        put32(&mut out, off::DISTS_OFF, dists_off as u32);
        put32(&mut out, off::DIST_COUNT, dists.len() as u32);
        put32(&mut out, off::SLOTS_OFF, slots_off as u32);
        put32(&mut out, off::SLOT_COUNT, slot_count as u32);
        put32(&mut out, off::MAX_PROBE, max_probe);
        put32(&mut out, off::ENTRY_COUNT, n as u32);
        put32(&mut out, off::ROOTS_OFF, roots_off as u32);
        put32(&mut out, off::ROOT_COUNT, roots.len() as u32);
        out[off::BUILT_AT..off::BUILT_AT + 8].copy_from_slice(&built_at.to_le_bytes());
        let sum = format::checksum(&out);
        out[off::CHECKSUM..off::CHECKSUM + 8].copy_from_slice(&sum.to_le_bytes());
        Ok(out)
    }
}
