//! The admin's tools for a node's pipeline, run as real processes on real
//! directories: `pyusage doctor` (every check passing, then each failing
//! setup) and `pyusage canary`.

mod canary;
mod doctor;
mod setup;
