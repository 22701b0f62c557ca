//! Turning a raw record into the shipped JSON object (see `docs/record.md`).
//!
//! One renderer serves both the traced process (at `exit`, `_exit` or `exec`)
//! and `pyusage sweep` (for processes that vanished), so a record looks the
//! same whoever finished it. It writes into a caller-provided buffer and never
//! allocates.

use crate::json::Out;
use crate::merge;
use crate::raw::{self, tag, Ending, Origin, RawRecord, Via};
use pyusage_map_reader::{Lookup, PackageMap};

/// What the finisher knows better than the record.
#[derive(Clone, Copy, Debug, Default)]
pub struct Overrides<'a> {
    /// The uid that owns the raw file (the sweep trusts this, not the record).
    pub uid: Option<u32>,
    /// The user name for that uid. When `uid` is overridden, this is the only
    /// source of `user`: a name written inside the record is not trusted.
    pub user: Option<&'a [u8]>,
    /// How the process ended, if the record does not say.
    pub ending: Option<Ending>,
    /// When it ended (ns since the epoch), if the record does not say.
    pub end_ns: Option<u64>,
}

/// A distribution seen in the record, from a `PACKAGE` entry or an `UNMAPPED`
/// path that `map` resolves.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Seen<'a> {
    via: Via,
    name: &'a [u8],
    version: &'a [u8],
    env: &'a [u8],
    origin: Option<Origin<'a>>,
}

impl<'a> Seen<'a> {
    fn key(&self) -> [&'a [u8]; 3] {
        [self.name, self.version, self.env]
    }
}

/// [`merge::aux`] of a sighting from a `PACKAGE` entry (else: the map's id).
const NO_DIST: u32 = u32::MAX;

/// The distribution an entry shows, and the map's id for it when the map
/// resolved it (`UNMAPPED` entries, in the sweep).
fn sighting<'a>(
    e: raw::Entry<'a>,
    map: Option<&PackageMap<'a>>,
    dist: Option<u32>,
) -> Option<(Seen<'a>, u32)> {
    match e.tag {
        tag::PACKAGE => raw::split_package(e.payload).map(|p| {
            (
                Seen {
                    via: p.via,
                    name: p.name,
                    version: p.version,
                    env: p.env,
                    origin: p.origin,
                },
                NO_DIST,
            )
        }),
        tag::UNMAPPED => {
            let u = raw::split_unmapped(e.payload)?;
            let map = map?;
            // A known id is looked up directly: the sort compares sightings
            // many times and must not resolve a path each time.
            let d = match dist {
                Some(id) => map.dist(id)?,
                None => match map.lookup(u.path) {
                    Lookup::Dist(d) => d,
                    _ => return None,
                },
            };
            Some((
                Seen {
                    via: u.via,
                    name: d.name,
                    version: d.version,
                    env: d.env,
                    origin: u.origin,
                },
                d.id,
            ))
        }
        _ => None,
    }
}

/// Room kept free while listing, so that the record can always be closed
/// (`],"unmapped":[],"native":{...},...,"truncated":true}`) when a list is
/// cut short for lack of space.
const TAIL_ROOM: usize = 256;

/// Renders `rec` as one JSON object (no trailing newline) into `out`.
///
/// `map` re-resolves `UNMAPPED` paths (the sweep passes the current map; the
/// tracer passes `None`, having tried its map already).
///
/// Linear in the record's size (O(n log n) in its entries), whatever the
/// record holds: duplicates are merged by sorting (see [`crate::merge`]) in
/// scratch space taken from the end of `out`'s buffer, 12 bytes per
/// `PACKAGE`, `UNMAPPED` or `NATIVE` entry, so at most 1.5 times the record's
/// size. Callers size `out` at six times the record's capacity plus 4096
/// bytes (escaping can grow text six-fold). The output is always one valid
/// JSON object when the fixed fields fit: a list that would not fit is cut
/// short and the record marked `truncated`.
pub fn render(
    rec: &RawRecord<'_>,
    map: Option<&PackageMap<'_>>,
    ov: &Overrides<'_>,
    out: &mut Out<'_>,
) {
    let text = |t: u8| rec.first(t);
    let listed = rec
        .entries()
        .filter(|e| matches!(e.tag, tag::PACKAGE | tag::UNMAPPED | tag::NATIVE))
        .count();
    let scratch = out.take_tail(listed.saturating_mul(merge::SLOT_BYTES).min(out.room() / 2));
    let (scratch, _) = scratch.as_chunks_mut::<{ merge::SLOT_BYTES }>();
    let mut cut = false;
    out.raw(b"{");
    out.key(true, "schema");
    out.int(i64::from(crate::SCHEMA_VERSION));
    out.key(false, "id");
    out.string(&rec.id_hex());
    out.key(false, "pid");
    out.int(i64::from(rec.pid));
    out.key(false, "ppid");
    out.int(i64::from(rec.ppid));
    out.key(false, "uid");
    out.int(i64::from(ov.uid.unwrap_or(rec.uid)));
    out.key(false, "user");
    out.opt_string(if ov.uid.is_some() {
        ov.user
    } else {
        ov.user.or(text(tag::USER))
    });
    out.key(false, "host");
    out.string(text(tag::HOST).unwrap_or(b""));
    out.key(false, "exe");
    out.string(text(tag::EXE).unwrap_or(b""));
    out.key(false, "script");
    out.opt_string(text(tag::SCRIPT));
    if crate::SCHEMA_VERSION >= 2 {
        out.key(false, "notebook");
        out.opt_string(text(tag::NOTEBOOK));
    }

    out.key(false, "python");
    out.raw(b"{");
    out.key(true, "version");
    out.opt_string(text(tag::PY_VERSION));
    out.key(false, "implementation");
    out.string(text(tag::PY_IMPL).unwrap_or(b"cpython"));
    out.key(false, "prefix");
    out.opt_string(rec.last(tag::PY_PREFIX));
    out.raw(b"}");

    let ending = match rec.ending {
        Ending::Running => ov.ending.unwrap_or(Ending::Vanished),
        e => e,
    };
    let end_ns = if rec.end_ns != 0 {
        rec.end_ns
    } else {
        ov.end_ns.unwrap_or(rec.start_ns)
    };
    out.key(false, "start");
    out.string(&crate::time::rfc3339_utc(rec.start_ns));
    out.key(false, "end");
    out.string(&crate::time::rfc3339_utc(end_ns.max(rec.start_ns)));
    out.key(false, "ended");
    out.raw(b"{");
    out.key(true, "how");
    out.string(ending.name().as_bytes());
    let (status, signal) = match ending {
        Ending::Exit | Ending::UnderscoreExit => (Some(i64::from(rec.status)), None),
        Ending::Signal => (None, Some(i64::from(rec.signal))),
        _ => (None, None),
    };
    out.key(false, "status");
    out.opt_int(status);
    out.key(false, "signal");
    out.opt_int(signal);
    out.raw(b"}");

    out.key(false, "job");
    render_job(rec, out);
    out.key(false, "packages");
    cut |= render_packages(rec, map, out, scratch);
    out.key(false, "unmapped");
    cut |= render_unmapped(rec, map, out, cut);
    out.key(false, "native");
    cut |= render_native(rec, out, scratch, cut);

    out.key(false, "forked_from");
    out.opt_int((rec.forked_from != 0).then_some(i64::from(rec.forked_from)));
    out.key(false, "forks");
    out.int(i64::from(rec.forks));
    out.key(false, "sample");
    render_fraction(rec.sample_ppm.min(1_000_000), out);
    out.key(false, "truncated");
    out.raw(if rec.truncated() || cut || out.overflowed() {
        b"true"
    } else {
        b"false"
    });
    out.raw(b"}");
}

fn render_job(rec: &RawRecord<'_>, out: &mut Out<'_>) {
    let field = |key: &str| {
        rec.entries().filter(|e| e.tag == tag::JOB).find_map(|e| {
            let p = e.payload;
            (p.len() > key.len() && p.starts_with(key.as_bytes()) && p[key.len()] == b'=')
                .then(|| &p[key.len() + 1..])
        })
    };
    let Some(scheduler) = field("scheduler") else {
        out.raw(b"null");
        return;
    };
    out.raw(b"{");
    out.key(true, "scheduler");
    out.string(scheduler);
    for key in ["id", "step", "cluster"] {
        out.key(false, key);
        out.opt_string(field(key));
    }
    for key in ["nodes", "tasks", "rank"] {
        out.key(false, key);
        out.opt_int(field(key).and_then(crate::job::parse_u32).map(i64::from));
    }
    if crate::SCHEMA_VERSION >= 2 {
        out.key(false, "partition");
        out.opt_string(field("partition"));
        for key in ["gpus", "cpus_per_task"] {
            out.key(false, key);
            out.opt_int(field(key).and_then(crate::job::parse_u32).map(i64::from));
        }
    }
    out.raw(b"}");
}

/// Writes one list item with `write`, or nothing if it would not leave
/// [`TAIL_ROOM`]; returns false when it did not fit.
fn item(out: &mut Out<'_>, first: bool, write: impl FnOnce(&mut Out<'_>)) -> bool {
    let mark = out.mark();
    if !first {
        out.raw(b",");
    }
    write(out);
    if out.overflowed() || out.room() < TAIL_ROOM {
        out.rewind(mark);
        return false;
    }
    true
}

/// The `packages` list: each distribution once, at its first sighting, with
/// the strongest `via` of all its sightings and the who-and-when of the first
/// sighting that says (a module the process ran, not a native library seen
/// earlier). Returns true if the list was cut short.
fn render_packages(
    rec: &RawRecord<'_>,
    map: Option<&PackageMap<'_>>,
    out: &mut Out<'_>,
    scratch: &mut [merge::Slot],
) -> bool {
    let mut n = 0;
    let mut cut = false;
    for e in rec.entries() {
        let Some((s, dist)) = sighting(e, map, None) else {
            continue;
        };
        let Some(slot) = scratch.get_mut(n) else {
            cut = true;
            break;
        };
        *slot = merge::slot(merge::hash(&[s.name, s.version, s.env]), e.at, dist);
        n += 1;
    }
    // Slots hold entry offsets taken from this record's own iterator, so each
    // resolves again (a slot that somehow did not would sort as an empty key).
    let seen = |s: &merge::Slot| {
        let dist = (merge::aux(s) != NO_DIST).then(|| merge::aux(s));
        rec.entry_at(merge::at(s))
            .and_then(|e| sighting(e, map, dist))
            .map(|(seen, _)| seen)
    };
    // Folded per distribution: bits 30..32 the strongest via, bits 0..30
    // one more than the offset of the first sighting with an origin (offsets
    // are below MAX_CAPACITY = 2^24), 0 for none.
    let n = merge::fold(
        &mut scratch[..n],
        |a, b| match (seen(a), seen(b)) {
            (Some(a), Some(b)) => merge::cmp_fields(&a.key(), &b.key()),
            (a, b) => a.is_some().cmp(&b.is_some()),
        },
        |acc, s| {
            let Some(t) = seen(s) else { return acc };
            let via = (acc >> 30).max(u32::from(t.via.strength()));
            let origin = match acc & 0x3fff_ffff {
                0 if t.origin.is_some() => merge::at(s) + 1,
                o => o,
            };
            (via << 30) | origin
        },
    );
    out.raw(b"[");
    for (i, slot) in scratch[..n].iter().enumerate() {
        let Some(s) = seen(slot) else { continue };
        let merged = merge::key(slot);
        let via = [Via::Library, Via::Extension, Via::Import]
            .into_iter()
            .find(|v| u32::from(v.strength()) == merged >> 30)
            .unwrap_or(s.via);
        let origin = match merged & 0x3fff_ffff {
            0 => None,
            o => rec
                .entry_at(o - 1)
                .and_then(|e| sighting(e, map, None))
                .and_then(|(t, _)| t.origin),
        };
        let fits = item(out, i == 0, |out| {
            out.raw(b"{");
            out.key(true, "name");
            out.string(s.name);
            out.key(false, "version");
            out.string(s.version);
            out.key(false, "via");
            out.string(via.name().as_bytes());
            out.key(false, "env");
            out.string(s.env);
            if crate::SCHEMA_VERSION >= 2 {
                out.key(false, "by");
                out.opt_string(origin.and_then(|o| o.by));
                out.key(false, "at_ms");
                out.opt_int(
                    origin
                        .and_then(|o| o.at_ms)
                        .map(|ms| ms.min(i64::MAX as u64) as i64),
                );
            }
            out.raw(b"}");
        });
        if !fits {
            cut = true;
            break;
        }
    }
    out.raw(b"]");
    cut
}

/// The `unmapped` list (paths the map, if given, still does not resolve).
/// Lists nothing once an earlier list was `cut`; returns true if cut.
fn render_unmapped(
    rec: &RawRecord<'_>,
    map: Option<&PackageMap<'_>>,
    out: &mut Out<'_>,
    cut: bool,
) -> bool {
    out.raw(b"[");
    let mut first = true;
    let mut cut_here = false;
    for e in rec.entries().filter(|e| e.tag == tag::UNMAPPED) {
        if cut {
            break;
        }
        let Some(path) = raw::split_unmapped(e.payload).map(|u| u.path) else {
            continue;
        };
        if let Some(map) = map {
            if !matches!(map.lookup(path), Lookup::Unmapped) {
                continue;
            }
        }
        if !item(out, first, |out| out.string(path)) {
            cut_here = true;
            break;
        }
        first = false;
    }
    out.raw(b"]");
    cut_here
}

/// A `NATIVE` entry's kind and (non-empty) file name.
fn native(e: raw::Entry<'_>) -> Option<(u8, &[u8])> {
    let (&kind, name) = e.payload.split_first()?;
    (e.tag == tag::NATIVE && !name.is_empty()).then_some((kind, name))
}

/// The `native` object: for each kind, the file names seen, each once, in
/// order of first sighting. Lists nothing once an earlier list was `cut`;
/// returns true if cut.
fn render_native(
    rec: &RawRecord<'_>,
    out: &mut Out<'_>,
    scratch: &mut [merge::Slot],
    cut: bool,
) -> bool {
    let mut n = 0;
    let mut cut_here = false;
    if !cut {
        for e in rec.entries() {
            let Some((kind, name)) = native(e) else {
                continue;
            };
            let Some(slot) = scratch.get_mut(n) else {
                cut_here = true;
                break;
            };
            *slot = merge::slot(merge::hash(&[&[kind], name]), e.at, 0);
            n += 1;
        }
    }
    let seen = |s: &merge::Slot| rec.entry_at(merge::at(s)).and_then(native);
    let n = merge::fold(
        &mut scratch[..n],
        |a, b| match (seen(a), seen(b)) {
            (Some((k, x)), Some((l, y))) => merge::cmp_fields(&[&[k], x], &[&[l], y]),
            (a, b) => a.is_some().cmp(&b.is_some()),
        },
        |_, _| 0,
    );
    out.raw(b"{");
    for (i, (kind, key)) in [
        (raw::native::CUDA, "cuda"),
        (raw::native::MPI, "mpi"),
        (raw::native::BLAS, "blas"),
    ]
    .into_iter()
    .enumerate()
    {
        out.key(i == 0, key);
        out.raw(b"[");
        let mut first = true;
        for slot in &scratch[..n] {
            let Some((k, name)) = seen(slot) else {
                continue;
            };
            if k != kind || cut_here {
                continue;
            }
            if !item(out, first, |out| out.string(name)) {
                cut_here = true;
                continue;
            }
            first = false;
        }
        out.raw(b"]");
    }
    out.raw(b"}");
    cut_here
}

/// Writes a probability given in ppm as a JSON number (`1.0`, `0.25`).
fn render_fraction(ppm: u32, out: &mut Out<'_>) {
    out.int(i64::from(ppm / 1_000_000));
    out.raw(b".");
    let mut frac = [0u8; 6];
    let mut v = ppm % 1_000_000;
    for d in frac.iter_mut().rev() {
        *d = b'0' + (v % 10) as u8;
        v /= 10;
    }
    let keep = frac.iter().rposition(|&d| d != b'0').map_or(1, |p| p + 1);
    out.raw(&frac[..keep]);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::raw::{Identity, Writer};

    fn record(buf: &mut [u64]) -> Writer {
        let who = Identity {
            pid: 10,
            ppid: 2,
            uid: 1000,
            start_ns: 1_700_000_000_000_000_000,
            sample_ppm: 250_000,
            id: [1; 16],
            ..Identity::default()
        };
        // SAFETY: zeroed, aligned buffer that outlives the writer.
        unsafe { Writer::create(buf.as_mut_ptr() as *mut u8, (buf.len() * 8) as u32, &who) }
    }

    fn render_json(w: &Writer, ov: &Overrides<'_>) -> serde_json::Value {
        let mut buf = vec![0u8; 1 << 20];
        let mut out = Out::new(&mut buf);
        render(&w.view(), None, ov, &mut out);
        serde_json::from_slice(out.as_bytes()).expect("valid JSON")
    }

    #[test]
    fn full_record() {
        let mut buf = vec![0u64; 2048];
        let w = record(&mut buf);
        w.append(tag::EXE, &[b"/usr/bin/python3.11"]);
        w.append(tag::SCRIPT, &[b"-c"]);
        w.append(tag::HOST, &[b"nid001"]);
        w.append(tag::PY_VERSION, &[b"3.11.7"]);
        w.append(tag::JOB, &[b"scheduler=slurm"]);
        w.append(tag::JOB, &[b"id=42"]);
        w.append(tag::JOB, &[b"tasks=4"]);
        w.append(tag::PACKAGE, &[b"l", b"numpy\x001.26.4\x00/venv"]);
        w.append(
            tag::PACKAGE,
            &[b"i", b"numpy\x001.26.4\x00/venv\x00pandas\x00153"],
        );
        w.append(
            tag::PACKAGE,
            &[b"i", b"numpy\x001.26.4\x00/venv\x00\x00999"],
        );
        w.append(tag::PACKAGE, &[b"e", b"scipy\x001.13.0\x00/venv\x00\x00"]);
        w.append(tag::NOTEBOOK, &[b"/home/u/a.ipynb"]);
        w.append(tag::UNMAPPED, &[b"i", b"/home/u/mymod.py"]);
        w.append(tag::NATIVE, &[b"c", b"libcudart.so.12"]);
        w.append(tag::NATIVE, &[b"c", b"libcudart.so.12"]);
        w.set_ending(Ending::Exit, 3, 0, 1_700_000_001_000_000_000);
        let v = render_json(&w, &Overrides::default());
        assert_eq!(v["pid"], 10);
        assert_eq!(v["script"], "-c");
        assert_eq!(v["python"]["version"], "3.11.7");
        assert_eq!(v["python"]["prefix"], serde_json::Value::Null);
        assert_eq!(
            v["ended"],
            serde_json::json!({"how": "exit", "status": 3, "signal": null})
        );
        assert_eq!(v["job"]["id"], "42");
        assert_eq!(v["job"]["tasks"], 4);
        assert_eq!(v["job"]["rank"], serde_json::Value::Null);
        let pk = v["packages"].as_array().unwrap();
        assert_eq!(pk.len(), 2);
        assert_eq!(
            pk[0],
            serde_json::json!({"name": "numpy", "version": "1.26.4", "via": "import", "env": "/venv",
                               "by": "pandas", "at_ms": 153})
        );
        assert_eq!(pk[1]["via"], "extension");
        assert_eq!(
            (&pk[1]["by"], &pk[1]["at_ms"]),
            (&serde_json::Value::Null, &serde_json::Value::Null)
        );
        assert_eq!(v["notebook"], "/home/u/a.ipynb");
        assert_eq!(v["job"]["partition"], serde_json::Value::Null);
        assert_eq!(v["unmapped"], serde_json::json!(["/home/u/mymod.py"]));
        assert_eq!(v["native"]["cuda"], serde_json::json!(["libcudart.so.12"]));
        assert_eq!(v["sample"], 0.25);
        assert_eq!(v["start"], "2023-11-14T22:13:20.000000Z");
        assert_eq!(v["truncated"], false);
    }

    #[test]
    fn vanished_with_owner_override() {
        let mut buf = vec![0u64; 1024];
        let w = record(&mut buf);
        let ov = Overrides {
            uid: Some(4242),
            user: Some(b"alice"),
            end_ns: Some(1_700_000_002_000_000_000),
            ..Default::default()
        };
        let v = render_json(&w, &ov);
        assert_eq!(v["uid"], 4242);
        assert_eq!(v["user"], "alice");
        assert_eq!(v["ended"]["how"], "vanished");
        assert_eq!(v["ended"]["status"], serde_json::Value::Null);
        assert_eq!(v["job"], serde_json::Value::Null);
        assert_eq!(v["end"], "2023-11-14T22:13:22.000000Z");
    }

    #[test]
    fn fractions_render_as_numbers() {
        for (ppm, text) in [
            (1_000_000, "1.0"),
            (0, "0.0"),
            (5, "0.000005"),
            (500_000, "0.5"),
        ] {
            let mut buf = [0u8; 32];
            let mut out = Out::new(&mut buf);
            render_fraction(ppm, &mut out);
            assert_eq!(out.as_bytes(), text.as_bytes());
        }
    }

    /// Deterministic pseudo-random numbers (xorshift64).
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: u64) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0 % n
        }
    }

    /// The packages list by its definition, compared pairwise (O(n^2), for
    /// small records): each distribution at its first sighting, the
    /// strongest via, the origin of the first sighting that has one.
    fn naive_packages(entries: &[(u8, Vec<u8>)]) -> Vec<serde_json::Value> {
        let seen: Vec<_> = entries
            .iter()
            .filter(|(t, _)| *t == tag::PACKAGE)
            .filter_map(|(_, p)| raw::split_package(p))
            .collect();
        fn key<'a>(p: &raw::PackageEntry<'a>) -> (&'a [u8], &'a [u8], &'a [u8]) {
            (p.name, p.version, p.env)
        }
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let mut out = Vec::new();
        for (i, p) in seen.iter().enumerate() {
            if seen[..i].iter().any(|q| key(q) == key(p)) {
                continue;
            }
            let same: Vec<_> = seen.iter().filter(|q| key(q) == key(p)).collect();
            let via = same
                .iter()
                .map(|q| q.via)
                .max_by_key(|v| v.strength())
                .unwrap();
            let origin = same.iter().find_map(|q| q.origin);
            out.push(serde_json::json!({
                "name": text(p.name), "version": text(p.version), "via": via.name(),
                "env": text(p.env),
                "by": origin.and_then(|o| o.by).map(text),
                "at_ms": origin.and_then(|o| o.at_ms),
            }));
        }
        out
    }

    /// Random records whose entries repeat a few names in every way: the
    /// sort-based merge must give what the definition gives.
    #[test]
    fn merging_matches_the_definition() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        for _ in 0..300 {
            let mut entries = Vec::new();
            for _ in 0..rng.next(200) {
                let names: [&[u8]; 4] = [b"numpy", b"scipy", b"a\"b\x01", b"\xffx"];
                let name = names[rng.next(4) as usize];
                let via = [b'l', b'e', b'i'][rng.next(3) as usize];
                let mut p = vec![via];
                p.extend_from_slice(name);
                p.extend_from_slice(
                    [&b"\x001.0\x00/v"[..], b"\x002.0\x00/v", b"\x001.0\x00/w"]
                        [rng.next(3) as usize],
                );
                match rng.next(3) {
                    0 => {}
                    1 => p.extend_from_slice(b"\x00\x00"),
                    _ => {
                        p.extend_from_slice(format!("\x00pandas\x00{}", rng.next(1000)).as_bytes())
                    }
                }
                let e = match rng.next(6) {
                    0 => (
                        tag::NATIVE,
                        vec![b'c', b'l', b'i', b'b', b'0' + rng.next(3) as u8],
                    ),
                    1 => (tag::UNMAPPED, b"i/home/u/m.py".to_vec()),
                    _ => (tag::PACKAGE, p),
                };
                entries.push(e);
            }
            let mut buf = vec![0u64; 8192];
            let w = record(&mut buf);
            for (t, p) in &entries {
                assert!(w.append(*t, &[p]));
            }
            let v = render_json(&w, &Overrides::default());
            assert_eq!(
                v["packages"],
                serde_json::Value::Array(naive_packages(&entries))
            );
            assert_eq!(v["truncated"], false);
            let mut cuda: Vec<String> = Vec::new();
            for (t, p) in &entries {
                let name = String::from_utf8_lossy(&p[1..]).into_owned();
                if *t == tag::NATIVE && !cuda.contains(&name) {
                    cuda.push(name);
                }
            }
            assert_eq!(v["native"]["cuda"], serde_json::json!(cuda));
        }
    }

    /// A record with more to list than the buffer holds still renders as
    /// one valid JSON object, its lists cut short and marked `truncated`.
    #[test]
    fn lists_that_do_not_fit_are_cut_and_marked() {
        let mut buf = vec![0u64; 8192];
        let w = record(&mut buf);
        let mut n = 0;
        while w.append(
            tag::PACKAGE,
            &[b"i", format!("p{n}").as_bytes(), b"\x00\x00"],
        ) {
            n += 1;
        }
        assert!(w.view().truncated());
        for room in [2000, 5000, 30_000, 200_000] {
            let mut out_buf = vec![0u8; room];
            let mut out = Out::new(&mut out_buf);
            render(&w.view(), None, &Overrides::default(), &mut out);
            let v: serde_json::Value =
                serde_json::from_slice(out.as_bytes()).expect("valid JSON despite the cut");
            assert_eq!(v["truncated"], true);
            let pk = v["packages"].as_array().unwrap();
            assert!(pk.len() < n);
            for (i, p) in pk.iter().enumerate() {
                assert_eq!(p["name"], format!("p{i}"), "in record order");
            }
        }
    }

    /// Issue 13: the largest record a sweep accepts, full of distinct
    /// entries, each named twice far apart. Before the merge was made
    /// O(n log n), rendering this took hours (pairwise comparison of 1.4
    /// million sightings); bench/render has the timings.
    #[test]
    fn largest_hostile_record_renders_whole() {
        let mut buf = vec![0u64; raw::MAX_CAPACITY as usize / 8];
        let w = record(&mut buf);
        let half = (raw::MAX_CAPACITY as usize - raw::HEADER_LEN) / 2 / 16;
        for i in 0..half {
            assert!(w.append(tag::PACKAGE, &[format!("l{i:x}\x00\x00").as_bytes()]));
        }
        for i in 0..half {
            w.append(
                tag::PACKAGE,
                &[format!("i{i:x}\x00\x00\x00\x00{i}").as_bytes()],
            );
        }
        let mut out_buf = vec![0u8; raw::MAX_CAPACITY as usize * 6 + 4096];
        let mut out = Out::new(&mut out_buf);
        render(&w.view(), None, &Overrides::default(), &mut out);
        assert!(!out.overflowed());
        let v: serde_json::Value = serde_json::from_slice(out.as_bytes()).unwrap();
        let pk = v["packages"].as_array().unwrap();
        assert_eq!(pk.len(), half);
        let imported = w.view().entries().filter(|e| e.payload[0] == b'i').count();
        for (i, p) in pk.iter().enumerate() {
            assert_eq!(p["name"], format!("{i:x}"));
            let want = if i < imported { "import" } else { "library" };
            assert_eq!(p["via"], want);
            if i < imported {
                assert_eq!(p["at_ms"], i as u64);
            }
        }
    }
}
