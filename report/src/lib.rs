//! Answers from the pyusage store.
//!
//! `pyusage report` asks the store the questions a centre's staff ask of
//! their Python usage every month (which packages, how many users and jobs, which versions, at what
//! job size, used together, imported directly or pulled in, on GPUs or not,
//! how processes end) and shows the answers in four forms that cannot
//! disagree, because all four render one [`model::Report`]:
//!
//! - [`text`]: a terminal of 100 columns;
//! - [`csv`] and [`json`]: stable machine forms (`docs/report.md`);
//! - [`html`]: one self-contained page with inline SVG charts ([`svg`]).
//!
//! [`format`] holds the rules for how numbers read.
#![deny(missing_docs)]

pub mod csv;
pub mod data;
pub mod export;
pub mod format;
pub mod html;
pub mod json;
pub mod model;
pub mod query;
pub mod sections;
pub mod stats;
pub mod svg;
pub mod text;
pub mod time;
