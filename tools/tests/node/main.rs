//! The admin's tools for a node's pipeline, run as real processes on real
//! directories: `pyusage doctor` (every check passing, then each failing
//! setup), `pyusage canary`, and the syslog sink through a real rsyslogd.

mod canary;
mod doctor;
mod setup;
mod syslog;
