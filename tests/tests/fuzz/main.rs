//! Bounded fuzzing of the readers of hostile input (issue 13), run by `make
//! test` in seconds: the raw-record parser and renderer (the sweep's input,
//! `record/src/raw.rs`, `record/src/render.rs`) and the package-map reader
//! (`map-reader/`).
//!
//! Each file of `fuzz/corpus/<target>/` is mutated thousands of times by a
//! seeded generator, so every run tries the same inputs and a failure names
//! the seed file and round to replay. Every mutant must be refused with an
//! error that says why, or read without a panic, a hang or invalid output.
//! (coverage-guided fuzzing with cargo-fuzz needs a nightly compiler and
//! libFuzzer, which `make test` does not install; `resolver/fuzz` holds such
//! a target for the map reader.) `PYUSAGE_WRITE_CORPUS=1 cargo test
//! --release -p pyusage-tests --test fuzz corpus_is_current` rewrites the
//! seed files after a format change.

use pyusage_record::json::Out;
use pyusage_record::raw::{self, tag, Ending, Identity, RawRecord, Writer, HEADER_LEN};
use pyusage_record::render::{render, Overrides};
use pyusage_resolver::{format, DistFields, Lookup, MapWriter, PackageMap};
use std::fs;
use std::path::{Path, PathBuf};

/// xorshift64*: seeded, dependency-free.
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

fn corpus(target: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../fuzz/corpus")
        .join(target)
}

/// The seed files of a target, sorted by name; at least `min` of them.
fn seeds(target: &str, min: usize) -> Vec<(String, Vec<u8>)> {
    let dir = corpus(target);
    let mut v: Vec<(String, Vec<u8>)> = fs::read_dir(&dir)
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()))
        .map(|e| {
            let e = e.unwrap();
            (
                e.file_name().to_string_lossy().into_owned(),
                fs::read(e.path()).unwrap(),
            )
        })
        .collect();
    v.sort();
    assert!(v.len() >= min, "{}: only {} seeds", dir.display(), v.len());
    v
}

/// One mutation of `b`: bit flips, interesting bytes and words (lengths,
/// offsets, limits), a header field, truncation, growth, a spliced chunk.
/// `header` is the length of the format's header, where a mutation is aimed
/// half the time.
fn mutate(b: &mut Vec<u8>, rng: &mut Rng, header: usize) {
    let len = b.len();
    let at = |rng: &mut Rng, b: &Vec<u8>| {
        if rng.below(2) == 0 {
            rng.below(header.min(b.len()))
        } else {
            rng.below(b.len())
        }
    };
    for _ in 0..1 + rng.below(3) {
        if b.is_empty() {
            b.push(0);
        }
        match rng.below(7) {
            0 => {
                let i = at(rng, b);
                b[i] ^= 1 << rng.below(8);
            }
            1 => {
                let i = at(rng, b);
                b[i] = [0, 0xff, 0x7f, 0x80, b'/', 0][rng.below(6)];
            }
            2 => {
                let i = at(rng, b) & !3;
                let v: u32 = match rng.below(8) {
                    0 => 0,
                    1 => 1,
                    2 => u32::MAX,
                    3 => len as u32,
                    4 => len as u32 + 1,
                    5 => raw::MAX_CAPACITY,
                    6 => (rng.below(len + 64) as u32) << 8 | u32::from(b'P'),
                    _ => rng.next() as u32,
                };
                if i + 4 <= b.len() {
                    b[i..i + 4].copy_from_slice(&v.to_ne_bytes());
                }
            }
            3 => b.truncate(rng.below(len + 1)),
            4 => {
                let n = rng.below(64);
                let fill = rng.next() as u8;
                b.extend(std::iter::repeat_n(fill, n));
            }
            5 => {
                let (from, to, n) = (rng.below(b.len()), rng.below(b.len()), rng.below(64));
                let n = n.min(b.len() - from).min(b.len() - to);
                b.copy_within(from..from + n, to);
            }
            _ => {
                let i = rng.below(b.len());
                for x in b.iter_mut().skip(i).take(16) {
                    *x = rng.next() as u8;
                }
            }
        }
    }
}

// ------------------------------------------------------------- raw records

/// Parses and renders one raw record the way the sweep does; panics on
/// anything but a clean refusal or a valid JSON object.
fn check_raw(b: &[u8], map: Option<&PackageMap<'_>>, what: &str) -> bool {
    let rec = match RawRecord::parse(b) {
        Ok(rec) => rec,
        Err(e) => {
            let why = e.to_string();
            assert!(why.len() > 10, "{what}: error without a cause: {e:?}");
            return false;
        }
    };
    for e in rec.entries() {
        let again = rec.entry_at(e.at).expect("entry at its own offset");
        assert_eq!((again.tag, again.payload), (e.tag, e.payload), "{what}");
        let _ = raw::split_package(e.payload);
        let _ = raw::split_unmapped(e.payload);
    }
    let _ = rec.latest_at_ms();
    let mut buf = vec![0u8; b.len() * 6 + 4096];
    let mut out = Out::new(&mut buf);
    render(&rec, map, &Overrides::default(), &mut out);
    assert!(!out.overflowed(), "{what}: render overflowed");
    let v: serde_json::Value = serde_json::from_slice(out.as_bytes())
        .unwrap_or_else(|e| panic!("{what}: invalid JSON ({e})"));
    assert!(
        v["truncated"].is_boolean() && v["packages"].is_array(),
        "{what}"
    );
    true
}

#[test]
fn raw_records_mutated_never_panic_and_render_valid_json() {
    let maps = seeds("map", 3);
    let venv = &maps
        .iter()
        .find(|(n, _)| n == "venv.map")
        .expect("venv.map")
        .1;
    let map = PackageMap::parse(venv).expect("venv.map is valid");
    let mut rng = Rng(0x13_5eed_0000_0001);
    let (mut parsed, mut refused) = (0, 0);
    for (name, seed) in seeds("raw", 5) {
        assert!(
            check_raw(&seed, Some(&map), &name),
            "seed {name} must parse"
        );
        for round in 0..10_000 {
            let mut b = seed.clone();
            mutate(&mut b, &mut rng, HEADER_LEN);
            let what = format!("raw seed {name}, round {round}");
            let m = (round % 2 == 0).then_some(&map);
            if check_raw(&b, m, &what) {
                parsed += 1;
            } else {
                refused += 1;
            }
        }
    }
    // Both sides must be exercised, or the mutator is useless.
    assert!(
        parsed > 2000 && refused > 2000,
        "{parsed} parsed, {refused} refused"
    );
}

// ------------------------------------------------------------ package maps

fn check_map(b: &[u8], what: &str) -> bool {
    let map = match PackageMap::parse(b) {
        Ok(m) => m,
        Err(e) => {
            assert!(
                e.to_string().len() > 10,
                "{what}: error without a cause: {e:?}"
            );
            return false;
        }
    };
    if let Err(e) = map.verify_checksum() {
        assert!(e.to_string().contains("checksum"), "{what}: {e}");
    }
    let keys: Vec<&[u8]> = map.entries().take(10_000).map(|e| e.key).collect();
    for k in keys.iter().take(200) {
        let mut p = k.to_vec();
        p.extend_from_slice(b"x/y.py");
        for path in [&k[..], &p] {
            if let Lookup::Dist(d) = map.lookup(path) {
                assert!(d.id < map.dist_count(), "{what}");
            }
        }
    }
    for p in [&b"/"[..], b"", b"////", b"relative", &[b'/'; 600]] {
        let _ = map.lookup(p);
    }
    for i in 0..map.dist_count().min(1000) + 1 {
        let _ = map.dist(i);
    }
    for i in 0..map.root_count().min(100) + 1 {
        let _ = map.root(i);
    }
    true
}

#[test]
fn package_maps_mutated_never_panic() {
    let mut rng = Rng(0x13_5eed_0000_0002);
    let (mut parsed, mut refused) = (0, 0);
    for (name, seed) in seeds("map", 3) {
        assert!(check_map(&seed, &name), "seed {name} must parse");
        for round in 0..10_000 {
            let mut b = seed.clone();
            mutate(&mut b, &mut rng, format::HEADER_LEN);
            if check_map(&b, &format!("map seed {name}, round {round}")) {
                parsed += 1;
            } else {
                refused += 1;
            }
        }
    }
    assert!(
        parsed > 1000 && refused > 1000,
        "{parsed} parsed, {refused} refused"
    );
}

// ------------------------------------------------------------------ seeds

fn raw_seed(entries: &[(u8, &[u8])], ending: Option<Ending>, fill: bool) -> Vec<u8> {
    let mut buf = vec![0u64; 4096 / 8];
    let who = Identity {
        pid: 4242,
        ppid: 1,
        uid: 1000,
        start_ns: 1_760_000_000_000_000_000,
        proc_start_ticks: 123_456,
        sample_ppm: 1_000_000,
        id: [0x42; 16],
        ..Identity::default()
    };
    // SAFETY: buf is zeroed, 8-byte aligned, 4096 bytes, and outlives the
    // writer, which is dropped at the end of this function.
    let w = unsafe { Writer::create(buf.as_mut_ptr() as *mut u8, 4096, &who) };
    for (t, p) in entries {
        w.append(*t, &[p]);
    }
    while fill && w.append(tag::PACKAGE, &[b"lfiller\x001\x00/v"]) {}
    if let Some(how) = ending {
        w.set_ending(how, 3, 0, who.start_ns + 2_000_000_000);
    }
    buf.iter().flat_map(|w| w.to_ne_bytes()).collect()
}

/// The seed files are what this code makes (the raw layout and the map
/// format are this build's); `PYUSAGE_WRITE_CORPUS=1` rewrites them after a
/// format change.
#[test]
fn corpus_is_current() {
    let write = std::env::var_os("PYUSAGE_WRITE_CORPUS").is_some_and(|v| v == "1");
    let mut stale = Vec::new();
    let mut put = |target: &str, name: &str, bytes: Vec<u8>| {
        let dir = corpus(target);
        let path = dir.join(name);
        if write {
            fs::create_dir_all(&dir).unwrap();
            fs::write(&path, &bytes).unwrap();
        } else if fs::read(&path).ok() != Some(bytes) {
            stale.push(path.display().to_string());
        }
    };
    let typical: &[(u8, &[u8])] = &[
        (tag::EXE, b"/usr/bin/python3.11"),
        (tag::SCRIPT, b"train.py"),
        (tag::PY_VERSION, b"3.11.7"),
        (tag::PY_IMPL, b"cpython"),
        (tag::PY_PREFIX, b"/env"),
        (tag::HOST, b"node001"),
        (tag::USER, b"alice"),
        (tag::JOB, b"scheduler=slurm"),
        (tag::JOB, b"id=42"),
        (tag::JOB, b"tasks=4"),
        (tag::PACKAGE, b"lnumpy\x001.26.4\x00/env"),
        (tag::PACKAGE, b"inumpy\x001.26.4\x00/env\x00pandas\x00153"),
        (tag::PACKAGE, b"epandas\x002.2.0\x00/env\x00\x0012"),
        (tag::UNMAPPED, b"i/env/site/dist3/x.py\x00\x00200"),
        (tag::UNMAPPED, b"i/home/alice/mymod.py\x00\x00\x00"),
        (tag::NATIVE, b"clibcudart.so.12"),
        (tag::NATIVE, b"mlibmpi.so.40"),
    ];
    let hostile: &[(u8, &[u8])] = &[
        (tag::EXE, b"/bin/\"py\\thon\"\n\x00\x01\x7f"),
        (tag::SCRIPT, b"\xff\xfe\xc3\x28"),
        (tag::JOB, b"rank=abc"),
        (tag::JOB, b"="),
        (tag::PACKAGE, b"zname\x00v\x00e"),
        (tag::PACKAGE, b"i\x00\x00"),
        (tag::PACKAGE, b"inumpy\x001.0\x00e\x00x\x00y\x00z"),
        (tag::UNMAPPED, b"i"),
        (tag::NATIVE, b"c"),
        (b'?', b"unknown tag"),
    ];
    for (name, bytes) in [
        ("typical-running.bin", raw_seed(typical, None, false)),
        (
            "typical-exited.bin",
            raw_seed(typical, Some(Ending::Exit), false),
        ),
        ("full-truncated.bin", raw_seed(typical, None, true)),
        (
            "hostile-entries.bin",
            raw_seed(hostile, Some(Ending::Signal), false),
        ),
        ("header-only.bin", raw_seed(&[], None, false)),
    ] {
        put("raw", name, bytes);
    }
    let mut w = MapWriter::new();
    for i in 0..20u32 {
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
    w.insert(b"/env/site/", format::TARGET_NONE).unwrap();
    w.add_root(b"/env", b"env");
    w.set_built_at(1_760_000_000);
    put("map", "venv.map", w.finish().unwrap());
    put("map", "empty.map", MapWriter::new().finish().unwrap());
    let mut w = MapWriter::new();
    let d = w.add_dist(&DistFields {
        name: b"deep".to_vec(),
        ..DistFields::default()
    });
    let deep: Vec<u8> = (0..40)
        .flat_map(|i| format!("/d{i}").into_bytes())
        .collect();
    w.insert(&[&deep[..], b"/"].concat(), d).unwrap();
    w.insert(b"/abcdef/ghijklm/", d).unwrap();
    put("map", "deep-keys.map", w.finish().unwrap());
    assert!(
        stale.is_empty(),
        "seed files differ from what this build writes (PYUSAGE_WRITE_CORPUS=1 rewrites them): {stale:?}"
    );
}
