//! What the pyusage tracer writes, and how it is configured.
//!
//! This crate is shared by the preloaded library (`preload/`, built without
//! `std`) and the on-demand tools (`tools/`). Keeping one copy of each format
//! here means the tracer and the tools can never disagree about it:
//!
//! - [`raw`]: the crash-safe per-process record on tmpfs (a `MAP_SHARED` file that
//!   is consistent at every instant, so a killed process still leaves it readable);
//! - [`render`]: turning a raw record into the shipped JSON object, used both by a
//!   process that ends normally and by `pyusage sweep` for one that vanished
//!   ([`merge`] keeps it linear on hostile records);
//! - [`config`]: the system configuration file, parsed without allocation;
//! - [`job`]: scheduler and MPI context taken from the environment;
//! - [`sample`]: the sampling decision, per job;
//! - [`syslog`]: the record as RFC 5424 messages, in chunks, and their parser;
//! - [`proc_stat`]: a process's start time, which with its pid identifies it;
//! - [`json`] and [`time`]: the JSON writer into a fixed buffer and the
//!   RFC 3339 timestamps the renderer uses.
//!
//! The crate is `no_std` and has no features: nothing in it allocates, panics
//! on input, or blocks. The shipped record as typed (serde) data, for the
//! tools that read spools, is `pyusage_tools::shipped`.
#![cfg_attr(not(test), no_std)]
#![deny(missing_docs)]

pub mod config;
pub mod job;
pub mod json;
pub mod merge;
pub mod proc_stat;
pub mod raw;
pub mod render;
pub mod sample;
pub mod syslog;
pub mod time;

/// Version of the shipped JSON record (`schema` field).
pub const SCHEMA_VERSION: u32 = 2;
