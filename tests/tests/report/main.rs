//! `pyusage report` and `pyusage export` against stores filled by generated
//! records of known answers and by the real tracer; the HTML report opened in
//! headless Chromium.
//!
//! - `browser`: the Chromium harness itself can see a console error, a
//!   request that leaves the file, and an empty chart (so its passing checks
//!   mean something).
//! - `html`: the HTML report, opened in Chromium: every section drew a chart,
//!   no errors, no request left the file.
//!
//! Run one part with `cargo test --release -p pyusage-tests --test report html::`.

mod browser;
mod html;
