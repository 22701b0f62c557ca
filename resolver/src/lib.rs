//! The pyusage package map: which distribution (and version) installed a file.
//!
//! The tracer sees file paths (`.../site-packages/numpy/core/_multiarray_umath.so`);
//! centres want "numpy 1.26.4 from the conda env `desi`". This crate holds
//! the writing side of that translation; the reading side is its own crate:
//!
//! * the **reader** ([`PackageMap`], re-exported from `pyusage-map-reader` in
//!   `map-reader/`): `#![no_std]`, allocation-free and panic-free, linked into
//!   the `LD_PRELOAD` library. It borrows the bytes of an `mmap`ed map file,
//!   validates the header in O(1) and answers [`PackageMap::lookup`] with a
//!   longest-directory-prefix search;
//! * the **writer** ([`MapWriter`], feature `std`) that serialises a map;
//! * the **scanner** (module `scan`, feature `scan`) that finds installations
//!   (`*.dist-info`, `*.egg-info`, eggs, `conda-meta`, Debian's dpkg lists,
//!   `.pth` files, the interpreter's standard library) and builds a map from
//!   them, plus `diff` of two maps (also feature `scan`).
//!
//! Features: `std` (default) adds the writer; `scan` adds the scanner and
//! `diff`, and the dependencies they need (rayon, rustix, memchr, serde,
//! serde_json, and zip with flate2 for zipped eggs). Without `std` the crate
//! is `no_std` and is only the reader's re-export.
//!
//! # File format (version 2)
//!
//! All integers are little-endian; offsets are absolute and fit in `u32`
//! because a map is at most [`MAX_MAP_BYTES`] (256 MiB).
//!
//! ```text
//! header (96 bytes)
//!   0  magic "PYUSGMAP"        8  format version (u32) = 2
//!   12 header length (u32)     16 checksum (u64): FNV-1a 64 of bytes[24..]
//!   24 file length (u64)
//!   32 strings offset, length  40 dists offset, count
//!   48 slots offset, count     56 max probe length, entry count
//!   64 roots offset, count     72 build time (u64, Unix seconds)  80.. reserved (0)
//! strings    raw bytes; everything else refers to them as (offset, length)
//!            pairs relative to the start of this section
//! dists      count x 32 bytes: name, version, env, installer (4 x (off, len))
//! roots      count x 16 bytes: path, label
//! slots      count (a power of two) x 16 bytes: tag, key offset, key length,
//!            target; an open-addressing hash table with linear probing,
//!            key length 0 = empty slot
//! ```
//!
//! A *key* is either a directory, written with a trailing `/`
//! (`/venv/lib/python3.11/site-packages/numpy/`), or an exact file
//! (`/venv/lib/python3.11/site-packages/six.py`). Its slot is chosen by
//! [`format::key_hash`] (8-byte little-endian words folded with
//! [`format::key_word`], the zero-padded tail and the length with
//! [`format::key_tail`]): the low bits pick the slot, the high 32 bits are
//! the tag. A *target* is a
//! distribution id, [`format::TARGET_STDLIB`] or [`format::TARGET_NONE`] (a
//! barrier that stops the search, used for `site-packages` inside the stdlib).
//!
//! A lookup hashes the path once, a word at a time, and gets the hash of
//! every prefix that ends with `/` on the way (the state before the word, plus
//! the partial word);
//! it probes the whole path (exact file), then each directory prefix from the
//! longest to the shortest. The first key found decides. This costs one hash
//! pass and a handful of probes, each normally a single cache line.
//!
//! The builder stores a directory key for every directory whose files all
//! belong to one distribution (the highest such directory below a site
//! directory), and exact file keys for files in shared directories
//! (`site-packages/six.py`, `bin/`). It stores every key under each alias of
//! its root (the path as given, its canonical form, a venv's `lib64`).
// The reader uses `core` only; without the `std` feature the crate is `no_std`.
#![cfg_attr(not(feature = "std"), no_std)]
#![deny(missing_docs)]

// The format and the reader live in their own feature-less crate so that the
// preloaded library can link them without ever inheriting `std` from the
// builder's features (Cargo unifies features across a workspace build).
pub use pyusage_map_reader::format;
#[cfg(feature = "std")]
mod writer;

#[cfg(feature = "scan")]
pub mod diff;
#[cfg(feature = "scan")]
pub mod scan;

pub use pyusage_map_reader::MAX_MAP_BYTES;
pub use pyusage_map_reader::{Dist, Entry, Lookup, MapError, PackageMap, Root, Target, MAX_DEPTH};
#[cfg(feature = "std")]
pub use writer::{DistFields, MapWriter, WriteError};
