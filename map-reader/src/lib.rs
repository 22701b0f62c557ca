//! The package map's file format and its reader: `no_std`, allocation-free,
//! panic-free. This is the part of `pyusage-resolver` that the preloaded
//! library links; see `pyusage-resolver` (and `docs/package-map.md`) for the
//! format description and the builder.
#![no_std]
#![deny(missing_docs)]

pub mod format;
mod reader;

pub use format::MAX_MAP_BYTES;
pub use reader::{Dist, Entry, Lookup, MapError, PackageMap, Root, Target, MAX_DEPTH};
