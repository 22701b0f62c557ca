//! The allocation-free, `core`-only reader of a package map.
//!
//! [`PackageMap::parse`] checks the header and that every section lies
//! inside the buffer, in constant time. Every later read goes through
//! `slice::get`, so a map whose sections are consistent but whose contents
//! are garbage still yields [`Lookup::Unmapped`] or `None`, never a panic.

use core::fmt;

use crate::format::{self, off, rd32, rd64};

/// Why a byte buffer is not a usable package map.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MapError {
    /// Shorter than the fixed header.
    TooShort(usize),
    /// The first eight bytes are not the package-map magic.
    BadMagic,
    /// A map written by a newer (or older) pyusage.
    UnsupportedVersion(u32),
    /// The header's own length field is not the one this version uses.
    BadHeaderLength(u32),
    /// The header's file length disagrees with the buffer (truncated or
    /// grown file).
    LengthMismatch {
        /// Length recorded in the header.
        header: u64,
        /// Length of the buffer.
        actual: u64,
    },
    /// Larger than [`format::MAX_MAP_BYTES`].
    TooLarge(u64),
    /// A section (named) does not lie within the file, or is malformed.
    BadSection(&'static str),
    /// The stored checksum does not match the contents.
    ChecksumMismatch {
        /// Checksum recorded in the header.
        stored: u64,
        /// Checksum computed from the contents.
        computed: u64,
    },
}

impl fmt::Display for MapError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            MapError::TooShort(n) => write!(
                f,
                "not a package map: {n} bytes, shorter than the {}-byte header",
                format::HEADER_LEN
            ),
            MapError::BadMagic => f.write_str("not a package map: bad magic"),
            MapError::UnsupportedVersion(v) => write!(
                f,
                "package map format version {v} is not supported (this build reads version {})",
                format::FORMAT_VERSION
            ),
            MapError::BadHeaderLength(n) => write!(f, "package map header length {n} is invalid"),
            MapError::LengthMismatch { header, actual } => write!(
                f,
                "package map is {actual} bytes but its header says {header} (truncated or corrupt)"
            ),
            MapError::TooLarge(n) => write!(
                f,
                "package map is {n} bytes, over the limit of {} bytes",
                format::MAX_MAP_BYTES
            ),
            MapError::BadSection(s) => write!(f, "package map section `{s}` is out of bounds"),
            MapError::ChecksumMismatch { stored, computed } => write!(
                f,
                "package map checksum mismatch (stored {stored:016x}, computed {computed:016x})"
            ),
        }
    }
}

impl core::error::Error for MapError {}

/// One distribution of the map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Dist<'a> {
    /// Dense index in `0..dist_count`.
    pub id: u32,
    /// Name as written in the distribution's metadata (`scikit-learn`, `PyYAML`).
    pub name: &'a [u8],
    /// Version as written in its metadata.
    pub version: &'a [u8],
    /// The root's label, or the environment prefix the distribution lives in.
    pub env: &'a [u8],
    /// Who installed it: `pip`, `uv`, `conda:<channel>:<build>`, `dpkg:<package>`, ...
    pub installer: &'a [u8],
}

/// Result of looking a path up.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Lookup<'a> {
    /// The interpreter's standard library (including `lib-dynload`).
    Stdlib,
    /// No distribution claims the path.
    Unmapped,
    /// The distribution that installed the path.
    Dist(Dist<'a>),
}

/// What a map entry points at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The standard library.
    Stdlib,
    /// A barrier: known to belong to nothing.
    None,
    /// A distribution id (possibly out of range in a corrupt map).
    Dist(u32),
}

impl Target {
    fn from_raw(raw: u32) -> Target {
        match raw {
            format::TARGET_STDLIB => Target::Stdlib,
            format::TARGET_NONE => Target::None,
            id => Target::Dist(id),
        }
    }
}

/// One key of the map: a directory (ends with `/`) or an exact file path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Entry<'a> {
    /// The key bytes.
    pub key: &'a [u8],
    /// What it maps to.
    pub target: Target,
}

/// A root the map was built from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Root<'a> {
    /// The directory.
    pub path: &'a [u8],
    /// Its label (may be empty).
    pub label: &'a [u8],
}

/// Most directory levels of a path considered by [`PackageMap::lookup`];
/// deeper paths are matched on their deepest `MAX_DEPTH` directories.
pub const MAX_DEPTH: usize = 128;

/// A borrowed, validated view of a package map.
#[derive(Clone, Copy, Debug)]
pub struct PackageMap<'a> {
    bytes: &'a [u8],
    strings: &'a [u8],
    dists: &'a [u8],
    slots: &'a [u8],
    roots: &'a [u8],
    dist_count: u32,
    slot_mask: usize,
    max_probe: u32,
    entry_count: u32,
    root_count: u32,
    built_at: u64,
}

fn section<'a>(
    bytes: &'a [u8],
    start: u32,
    count: u32,
    elem: usize,
    name: &'static str,
) -> Result<&'a [u8], MapError> {
    let start = start as u64;
    let len = (count as u64)
        .checked_mul(elem as u64)
        .ok_or(MapError::BadSection(name))?;
    let end = start.checked_add(len).ok_or(MapError::BadSection(name))?;
    if start < format::HEADER_LEN as u64 || end > bytes.len() as u64 {
        return Err(MapError::BadSection(name));
    }
    bytes
        .get(start as usize..end as usize)
        .ok_or(MapError::BadSection(name))
}

impl<'a> PackageMap<'a> {
    /// O(1) validation: magic, format version, header fields, every section
    /// within bounds. Does not verify the checksum.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, MapError> {
        let hdr = |at: usize| rd32(bytes, at).ok_or(MapError::TooShort(bytes.len()));
        if bytes.len() < format::HEADER_LEN {
            return Err(MapError::TooShort(bytes.len()));
        }
        if bytes.get(off::MAGIC..off::MAGIC + 8) != Some(&format::MAGIC[..]) {
            return Err(MapError::BadMagic);
        }
        let version = hdr(off::VERSION)?;
        if version != format::FORMAT_VERSION {
            return Err(MapError::UnsupportedVersion(version));
        }
        let header_len = hdr(off::HEADER_LEN)?;
        if header_len as usize != format::HEADER_LEN {
            return Err(MapError::BadHeaderLength(header_len));
        }
        let actual = bytes.len() as u64;
        if actual > format::MAX_MAP_BYTES {
            return Err(MapError::TooLarge(actual));
        }
        let file_len = rd64(bytes, off::FILE_LEN).ok_or(MapError::TooShort(bytes.len()))?;
        if file_len != actual {
            return Err(MapError::LengthMismatch {
                header: file_len,
                actual,
            });
        }
        let strings = section(
            bytes,
            hdr(off::STRINGS_OFF)?,
            hdr(off::STRINGS_LEN)?,
            1,
            "strings",
        )?;
        let dist_count = hdr(off::DIST_COUNT)?;
        let dists = section(
            bytes,
            hdr(off::DISTS_OFF)?,
            dist_count,
            format::DIST_RECORD_LEN,
            "distributions",
        )?;
        let slot_count = hdr(off::SLOT_COUNT)?;
        if slot_count == 0 || !slot_count.is_power_of_two() {
            return Err(MapError::BadSection("slots"));
        }
        let slots = section(
            bytes,
            hdr(off::SLOTS_OFF)?,
            slot_count,
            format::SLOT_LEN,
            "slots",
        )?;
        let max_probe = hdr(off::MAX_PROBE)?;
        let entry_count = hdr(off::ENTRY_COUNT)?;
        if max_probe > slot_count || entry_count > slot_count {
            return Err(MapError::BadSection("slots"));
        }
        let root_count = hdr(off::ROOT_COUNT)?;
        let roots = section(
            bytes,
            hdr(off::ROOTS_OFF)?,
            root_count,
            format::ROOT_RECORD_LEN,
            "roots",
        )?;
        let built_at = rd64(bytes, off::BUILT_AT).ok_or(MapError::TooShort(bytes.len()))?;
        Ok(PackageMap {
            bytes,
            strings,
            dists,
            slots,
            roots,
            dist_count,
            slot_mask: slot_count as usize - 1,
            max_probe,
            entry_count,
            root_count,
            built_at,
        })
    }

    /// Full checksum over the file.
    pub fn verify_checksum(&self) -> Result<(), MapError> {
        let stored = rd64(self.bytes, off::CHECKSUM).unwrap_or(0);
        let computed = format::checksum(self.bytes);
        if stored == computed {
            Ok(())
        } else {
            Err(MapError::ChecksumMismatch { stored, computed })
        }
    }

    /// Number of distributions; ids are dense in `0..dist_count()`.
    pub fn dist_count(&self) -> u32 {
        self.dist_count
    }

    /// Number of keys (directories and files) in the map.
    pub fn entry_count(&self) -> u32 {
        self.entry_count
    }

    /// Number of roots the map was built from.
    pub fn root_count(&self) -> u32 {
        self.root_count
    }

    /// Build time, seconds since the Unix epoch.
    pub fn built_at(&self) -> u64 {
        self.built_at
    }

    /// Size of the whole map in bytes.
    pub fn len_bytes(&self) -> usize {
        self.bytes.len()
    }

    fn str_ref(&self, rec: &'a [u8], at: usize) -> Option<&'a [u8]> {
        let off = rd32(rec, at)? as usize;
        let len = rd32(rec, at + 4)? as usize;
        self.strings.get(off..off.checked_add(len)?)
    }

    /// The distribution with this id, or `None` if out of range or corrupt.
    pub fn dist(&self, id: u32) -> Option<Dist<'a>> {
        if id >= self.dist_count {
            return None;
        }
        let start = (id as usize).checked_mul(format::DIST_RECORD_LEN)?;
        let rec = self
            .dists
            .get(start..start.checked_add(format::DIST_RECORD_LEN)?)?;
        Some(Dist {
            id,
            name: self.str_ref(rec, 0)?,
            version: self.str_ref(rec, 8)?,
            env: self.str_ref(rec, 16)?,
            installer: self.str_ref(rec, 24)?,
        })
    }

    /// The root with this index.
    pub fn root(&self, index: u32) -> Option<Root<'a>> {
        if index >= self.root_count {
            return None;
        }
        let start = (index as usize).checked_mul(format::ROOT_RECORD_LEN)?;
        let rec = self
            .roots
            .get(start..start.checked_add(format::ROOT_RECORD_LEN)?)?;
        Some(Root {
            path: self.str_ref(rec, 0)?,
            label: self.str_ref(rec, 8)?,
        })
    }

    /// Every key of the map, in slot order.
    pub fn entries(&self) -> impl Iterator<Item = Entry<'a>> + 'a {
        let this = *self;
        (0..=this.slot_mask).filter_map(move |i| {
            let slot = this.slot(i)?;
            if slot.2 == 0 {
                return None;
            }
            let key = this
                .strings
                .get(slot.1 as usize..(slot.1 as usize).checked_add(slot.2 as usize)?)?;
            Some(Entry {
                key,
                target: Target::from_raw(slot.3),
            })
        })
    }

    /// (tag, key_off, key_len, target) of slot `i`.
    #[inline]
    fn slot(&self, i: usize) -> Option<(u32, u32, u32, u32)> {
        let at = i.checked_mul(format::SLOT_LEN)?;
        let s = self.slots.get(at..at.checked_add(format::SLOT_LEN)?)?;
        Some((rd32(s, 0)?, rd32(s, 4)?, rd32(s, 8)?, rd32(s, 12)?))
    }

    /// Finds `key`, whose [`format::key_hash`] is `f`, in the hash table.
    #[inline]
    fn probe(&self, f: u64, key: &[u8]) -> Option<(&'a [u8], u32)> {
        let tag = (f >> 32) as u32;
        let mut i = f as usize & self.slot_mask;
        for _ in 0..=self.max_probe {
            let (t, koff, klen, target) = self.slot(i)?;
            if klen == 0 {
                return None;
            }
            if t == tag && klen as usize == key.len() {
                let koff = koff as usize;
                let stored = self.strings.get(koff..koff.checked_add(key.len())?)?;
                if stored == key {
                    return Some((stored, target));
                }
            }
            i = (i + 1) & self.slot_mask;
        }
        None
    }

    /// The longest key matching `path` and its raw target.
    ///
    /// One pass over the path, a word at a time, yields the hash of the whole
    /// path and of every prefix that ends with `/` (see [`format::key_hash`]).
    fn resolve(&self, path: &[u8]) -> Option<(&'a [u8], u32)> {
        const ONES: u64 = 0x0101_0101_0101_0101;
        const LOW7: u64 = 0x7f7f_7f7f_7f7f_7f7f;
        let mut hashes = [0u64; MAX_DEPTH];
        let mut ends = [0u32; MAX_DEPTH];
        let mut seen = 0usize;
        let mut record = |hash: u64, end: usize| {
            let k = seen % MAX_DEPTH;
            hashes[k] = hash;
            ends[k] = end as u32;
            seen += 1;
        };
        if path.len() > u32::MAX as usize {
            return None;
        }
        let n = path.len();
        let full = n / 8 * 8;
        let mut h = format::key_start();
        let mut i = 0;
        while i < full {
            let w = format::load_word(path, i);
            // High bit of each byte of `w` that is '/', exactly.
            let x = w ^ (ONES * b'/' as u64);
            let mut m = !(((x & LOW7).wrapping_add(LOW7)) | x | LOW7);
            while m != 0 {
                let j = (m.trailing_zeros() / 8) as usize;
                let end = i + j + 1;
                let hash = if j == 7 {
                    format::key_tail(format::key_word(h, w), 0, end)
                } else {
                    format::key_tail(h, w & ((1u64 << (8 * (j + 1))) - 1), end)
                };
                record(hash, end);
                m &= m - 1;
            }
            h = format::key_word(h, w);
            i += 8;
        }
        let w = format::load_word(path, full);
        for (j, &b) in path.get(full..).unwrap_or(&[]).iter().enumerate() {
            if b == b'/' {
                let end = full + j + 1;
                record(
                    format::key_tail(h, w & ((1u64 << (8 * (j + 1))) - 1), end),
                    end,
                );
            }
        }
        if path.last() != Some(&b'/') && !path.is_empty() {
            if let Some(hit) = self.probe(format::key_tail(h, w, n), path) {
                return Some(hit);
            }
        }
        let count = seen.min(MAX_DEPTH);
        for j in 0..count {
            let k = (seen - 1 - j) % MAX_DEPTH;
            let prefix = path.get(..ends[k] as usize)?;
            if let Some(hit) = self.probe(hashes[k], prefix) {
                return Some(hit);
            }
        }
        None
    }

    /// Longest-directory-prefix lookup of an absolute path. Exact file
    /// entries win over directories.
    pub fn lookup(&self, path: &[u8]) -> Lookup<'a> {
        match self.resolve(path) {
            Some((_, raw)) => self.target_lookup(raw),
            None => Lookup::Unmapped,
        }
    }

    /// Like [`lookup`](Self::lookup), but also returns the key that matched.
    pub fn lookup_entry(&self, path: &[u8]) -> Option<(&'a [u8], Lookup<'a>)> {
        let (key, raw) = self.resolve(path)?;
        Some((key, self.target_lookup(raw)))
    }

    fn target_lookup(&self, raw: u32) -> Lookup<'a> {
        match Target::from_raw(raw) {
            Target::Stdlib => Lookup::Stdlib,
            Target::None => Lookup::Unmapped,
            Target::Dist(id) => match self.dist(id) {
                Some(d) => Lookup::Dist(d),
                None => Lookup::Unmapped,
            },
        }
    }
}
