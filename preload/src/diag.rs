//! Diagnostics on stderr, for an admin chasing why a process has no record.
//!
//! Silent unless the constructor switched them on (`PYUSAGE_DEBUG`): the
//! library never prints in its host otherwise. The switch lives here, not in
//! [`crate::sys`], so the system-call layer knows nothing of settings.

use core::sync::atomic::{AtomicBool, Ordering};

/// Set when `PYUSAGE_DEBUG` asks for diagnostics on stderr.
static ENABLED: AtomicBool = AtomicBool::new(false);

/// Switches diagnostics on or off (constructor only).
pub fn set_enabled(on: bool) {
    ENABLED.store(on, Ordering::Relaxed);
}

/// Prints `pyusage: <parts>` as one line on stderr when diagnostics are on.
pub fn debug(parts: &[&[u8]]) {
    if !ENABLED.load(Ordering::Relaxed) {
        return;
    }
    let mut line = [0u8; 512];
    let mut len = 0;
    for p in [&b"pyusage: "[..]]
        .iter()
        .chain(parts)
        .chain([&b"\n"[..]].iter())
    {
        let n = p.len().min(line.len() - len);
        line[len..len + n].copy_from_slice(&p[..n]);
        len += n;
    }
    crate::sys::write_all(2, &line[..len]);
}
