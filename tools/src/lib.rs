//! Library side of the `pyusage` tools: the types that readers of shipped
//! records (the tools themselves, the tests, later ingest) share.
#![deny(missing_docs)]

pub mod shipped;
