//! The reader against random and mutated maps: never a panic, never a hang.
//! (A coverage-guided fuzz target is in `resolver/fuzz`.)

use pyusage_resolver::{format, DistFields, Lookup, MapWriter, PackageMap};

/// xorshift64*: a seeded, dependency-free generator.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

fn sample_map() -> Vec<u8> {
    let mut w = MapWriter::new();
    for i in 0..20 {
        w.add_dist(&DistFields {
            name: format!("dist{i}").into_bytes(),
            version: b"1.0".to_vec(),
            env: b"/env".to_vec(),
            installer: b"pip".to_vec(),
        });
        w.insert(format!("/env/site/dist{i}/").as_bytes(), i)
            .unwrap();
        w.insert(format!("/env/site/mod{i}.py").as_bytes(), i)
            .unwrap();
    }
    w.insert(b"/py/lib/python3.11/", format::TARGET_STDLIB)
        .unwrap();
    w.add_root(b"/env", b"env");
    w.finish().unwrap()
}

const PATHS: &[&[u8]] = &[
    b"/env/site/dist3/x.py",
    b"/env/site/mod7.py",
    b"/py/lib/python3.11/os.py",
    b"/",
    b"",
    b"////",
    b"/env/site/dist1/",
    b"relative/path",
];

/// Uses every accessor; returns something so the work is not optimised away.
fn exercise(bytes: &[u8]) -> usize {
    let Ok(map) = PackageMap::parse(bytes) else {
        return 0;
    };
    let mut acc = map.verify_checksum().is_ok() as usize;
    for p in PATHS {
        acc += match map.lookup(p) {
            Lookup::Dist(d) => d.name.len() + d.version.len() + d.env.len() + d.installer.len(),
            Lookup::Stdlib => 1,
            Lookup::Unmapped => 2,
        };
    }
    for i in 0..map.dist_count().min(64) + 2 {
        acc += map.dist(i).map_or(0, |d| d.name.len());
    }
    acc += map.entries().take(1000).count();
    for i in 0..map.root_count().min(8) + 1 {
        acc += map.root(i).map_or(0, |r| r.path.len());
    }
    acc
}

#[test]
fn sample_map_is_valid() {
    let bytes = sample_map();
    let map = PackageMap::parse(&bytes).unwrap();
    map.verify_checksum().unwrap();
    assert!(matches!(map.lookup(b"/env/site/dist3/x.py"), Lookup::Dist(d) if d.name == b"dist3"));
}

#[test]
fn mutated_maps_never_crash() {
    let good = sample_map();
    let mut rng = Rng(0x5eed_1234_abcd_0001);
    let mut detected = 0;
    for round in 0..20_000 {
        let mut b = good.clone();
        match round % 4 {
            // Flip a few bytes anywhere.
            0 => {
                for _ in 0..1 + rng.below(4) {
                    let i = rng.below(b.len());
                    b[i] ^= 1 << rng.below(8);
                }
            }
            // Write random u32s into the header (keeping magic and version).
            1 => {
                let at = 12 + 4 * rng.below((format::HEADER_LEN - 12) / 4);
                let v = rng.next() as u32;
                let v = if rng.below(2) == 0 {
                    v % (b.len() as u32 + 64)
                } else {
                    v
                };
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            // Truncate or extend.
            2 => {
                let n = rng.below(b.len() + 64);
                b.resize(n, rng.next() as u8);
            }
            // Corrupt the slot table or the distribution records.
            _ => {
                let start = b.len() / 2 + rng.below(b.len() / 2);
                for i in start..(start + 16).min(b.len()) {
                    b[i] = rng.next() as u8;
                }
            }
        }
        exercise(&b);
        if b != good {
            let ok = PackageMap::parse(&b)
                .and_then(|m| m.verify_checksum())
                .is_ok();
            detected += (!ok) as usize;
        }
    }
    assert!(
        detected > 15_000,
        "checksum or parse caught only {detected} corruptions"
    );
}

#[test]
fn random_bytes_never_crash() {
    let mut rng = Rng(42);
    for _ in 0..20_000 {
        let n = rng.below(512);
        let mut b: Vec<u8> = (0..n).map(|_| rng.next() as u8).collect();
        if rng.below(2) == 0 && b.len() >= format::HEADER_LEN {
            // A plausible header, random everything else.
            b[..8].copy_from_slice(&format::MAGIC);
            b[8..12].copy_from_slice(&format::FORMAT_VERSION.to_le_bytes());
            b[12..16].copy_from_slice(&(format::HEADER_LEN as u32).to_le_bytes());
            b[24..32].copy_from_slice(&(n as u64).to_le_bytes());
            for at in (32..72).step_by(4) {
                let v = (rng.next() % (n as u64 + 8)) as u32;
                b[at..at + 4].copy_from_slice(&v.to_le_bytes());
            }
            let sc = 1u32 << rng.below(5);
            b[52..56].copy_from_slice(&sc.to_le_bytes());
        }
        exercise(&b);
    }
}

#[test]
fn foreign_and_truncated_files_are_refused() {
    let good = sample_map();
    assert!(PackageMap::parse(b"").is_err());
    assert!(PackageMap::parse(b"\x7fELF\x02\x01\x01\0").is_err());
    assert!(PackageMap::parse(&good[..good.len() - 1]).is_err());
    let mut v2 = good.clone();
    let next = format::FORMAT_VERSION + 1;
    v2[8..12].copy_from_slice(&next.to_le_bytes());
    assert_eq!(
        PackageMap::parse(&v2).unwrap_err(),
        pyusage_resolver::MapError::UnsupportedVersion(next)
    );
    let mut flipped = good.clone();
    let last = flipped.len() - 1;
    flipped[last - 20] ^= 0x40;
    let m = PackageMap::parse(&flipped).unwrap();
    assert!(matches!(
        m.verify_checksum(),
        Err(pyusage_resolver::MapError::ChecksumMismatch { .. })
    ));
    // Every error has a message.
    assert!(!PackageMap::parse(&v2).unwrap_err().to_string().is_empty());
}

#[test]
fn lookup_semantics() {
    let mut w = MapWriter::new();
    let d = |n: &str| DistFields {
        name: n.as_bytes().to_vec(),
        ..DistFields::default()
    };
    let a = w.add_dist(&d("a"));
    let b = w.add_dist(&d("b"));
    w.insert(b"/s/pkg/", a).unwrap();
    w.insert(b"/s/pkg/sub/", b).unwrap();
    w.insert(b"/s/pkg/sub/special.py", a).unwrap();
    w.insert(b"/s/six.py", b).unwrap();
    // Prefix lengths that are multiples of the 8-byte hashing word.
    w.insert(b"/abcdef/", a).unwrap();
    w.insert(b"/abcdef/ghijklm/", b).unwrap();
    w.insert(b"/py/lib/", format::TARGET_STDLIB).unwrap();
    w.insert(b"/py/lib/site-packages/", format::TARGET_NONE)
        .unwrap();
    w.insert(b"/py/lib/site-packages/x/", a).unwrap();
    let bytes = w.finish().unwrap();
    let m = PackageMap::parse(&bytes).unwrap();
    let name = |p: &[u8]| match m.lookup(p) {
        Lookup::Dist(d) => String::from_utf8_lossy(d.name).into_owned(),
        Lookup::Stdlib => "stdlib".into(),
        Lookup::Unmapped => "unmapped".into(),
    };
    assert_eq!(name(b"/s/pkg/x.py"), "a");
    assert_eq!(name(b"/s/pkg/sub/x.py"), "b", "longest directory wins");
    assert_eq!(name(b"/s/pkg/sub/special.py"), "a", "exact file wins");
    assert_eq!(name(b"/s/pkg/sub/special.pyc"), "b");
    assert_eq!(
        name(b"/s/pkg"),
        "unmapped",
        "a directory key needs the slash"
    );
    assert_eq!(name(b"/s/pkg/"), "a");
    assert_eq!(name(b"/s/pkgx/y.py"), "unmapped", "prefixes stop at /");
    assert_eq!(name(b"/s/six.py"), "b");
    assert_eq!(name(b"/abcdef/x"), "a");
    assert_eq!(name(b"/abcdef/ghijklm/x.py"), "b");
    assert_eq!(name(b"/abcdef/ghijklm/"), "b");
    assert_eq!(name(b"/abcdef/ghijklmn/x"), "a");
    assert_eq!(name(b"/s/six.pyc"), "unmapped");
    assert_eq!(name(b"/py/lib/os.py"), "stdlib");
    assert_eq!(
        name(b"/py/lib/site-packages/y.py"),
        "unmapped",
        "barrier stops the search"
    );
    assert_eq!(name(b"/py/lib/site-packages/x/y.py"), "a");
    // Deep paths: only the deepest MAX_DEPTH directories are considered.
    let mut deep = b"/s/pkg".to_vec();
    for _ in 0..(pyusage_resolver::MAX_DEPTH - 3) {
        deep.extend_from_slice(b"/d");
    }
    deep.extend_from_slice(b"/f.py");
    assert_eq!(name(&deep), "a");
    let ids: Vec<u32> = (0..m.dist_count()).map(|i| m.dist(i).unwrap().id).collect();
    assert_eq!(ids, [0, 1]);
    assert!(m.dist(2).is_none());
}
