//! `pyusage report` and `pyusage export` against stores filled by generated
//! records of known answers and by the real tracer; the HTML report opened in
//! headless Chromium.
//!
//! - `browser`: the Chromium harness itself can see a console error, a
//!   request that leaves the file, and an empty chart (so its passing checks
//!   mean something).
//! - `html`: a store filled by the real tracer, reported on; the HTML report
//!   opened in Chromium: every section drew a chart, no errors, no request
//!   left the file.
//! - `export`: its Parquet export read back by pyarrow, Dask and DuckDB, and
//!   `examples/usage.ipynb` executed on it by Papermill.
//!
//! Run one part with `cargo test --release -p pyusage-tests --test report html::`.

mod browser;
mod export;
mod html;
