//! `pyusage canary`.
