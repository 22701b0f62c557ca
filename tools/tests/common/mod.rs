//! Transitional: the harness is `pyusage_tests::cli` (tests/src/cli.rs).
//! New tests `use pyusage_tests::cli::*;` directly; delete this file once
//! nothing declares `mod common;`.
#![allow(unused_imports)]
pub use pyusage_tests::cli::*;
