//! Shipping a rendered record to every configured sink (`sinks` in the
//! configuration): the spool directory ([`crate::spool`]), syslog
//! ([`crate::syslog`]), or both. The record counts as shipped only when
//! every sink took it; otherwise the raw record stays on tmpfs and
//! `pyusage sweep` ships it again through all of them (the spool refuses a
//! second copy; ingest keeps one record per id).

use pyusage_record::config::Config;

/// Ships `json` to the configured sinks; true if all took it.
pub fn ship(config: &Config, pid: u32, id_hex: &[u8; 32], json: &[u8]) -> bool {
    let spool = !config.sink_spool || crate::spool::write(config.spool.as_bytes(), id_hex, json);
    let syslog = !config.sink_syslog || crate::syslog::send(config, pid, id_hex, json);
    spool && syslog
}
