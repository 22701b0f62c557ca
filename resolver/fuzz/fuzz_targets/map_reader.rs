//! Fuzz the package-map reader: any bytes, parsed and looked up, must never
//! panic or hang. Run with `cargo +nightly fuzz run map_reader` in `resolver/`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use pyusage_map_reader::{Lookup, PackageMap};

fuzz_target!(|data: &[u8]| {
    // The first bytes double as a path to look up; the rest is the map.
    let split = data
        .first()
        .map_or(0, |&n| (n as usize).min(data.len().saturating_sub(1)));
    let (path, map) = data
        .get(1..)
        .unwrap_or(&[])
        .split_at(split.min(data.len().saturating_sub(1)));
    let Ok(m) = PackageMap::parse(map) else {
        return;
    };
    let _ = m.verify_checksum();
    for p in [
        path,
        b"/usr/lib/python3/dist-packages/numpy/__init__.py".as_slice(),
        b"/",
    ] {
        if let Lookup::Dist(d) = m.lookup(p) {
            let _ = (d.name, d.version, d.env, d.installer);
        }
    }
    for i in 0..m.dist_count().min(256) {
        let _ = m.dist(i);
    }
    for e in m.entries().take(4096) {
        let _ = e.key;
    }
});
