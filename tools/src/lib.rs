//! Library side of the `pyusage` tools: the shipped record as typed (serde)
//! data, shared by `pyusage export` and the tests. (Ingest has its own
//! bounded parser for hostile input, `tools/src/ingest/record.rs`.)
#![deny(missing_docs)]

pub mod shipped;
