//! The renderer as it was before issue 13 (record/src/render.rs at commit
//! b99332b), kept verbatim as the benchmark's baseline: it merges duplicate
//! entries by comparing each sighting with every earlier one, O(n^2).
//!
//! Turning a raw record into the shipped JSON object (see `docs/record.md`).
//!
//! One renderer serves both the traced process (at `exit`, `_exit` or `exec`)
//! and `pyusage sweep` (for processes that vanished), so a record looks the
//! same whoever finished it. It writes into a caller-provided buffer and never
//! allocates.

use pyusage_map_reader::{Lookup, PackageMap};
use pyusage_record::json::Out;
use pyusage_record::raw::{self, tag, Ending, Origin, RawRecord, Via};
use pyusage_record::render::Overrides;

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

impl Seen<'_> {
    fn same_dist(&self, other: &Seen<'_>) -> bool {
        self.name == other.name && self.version == other.version && self.env == other.env
    }
}

fn seen<'a>(
    rec: &RawRecord<'a>,
    map: Option<&PackageMap<'a>>,
) -> impl Iterator<Item = Seen<'a>> + 'a {
    let map = map.copied();
    rec.entries().filter_map(move |e| match e.tag {
        tag::PACKAGE => raw::split_package(e.payload).map(|p| Seen {
            via: p.via,
            name: p.name,
            version: p.version,
            env: p.env,
            origin: p.origin,
        }),
        tag::UNMAPPED => {
            let u = raw::split_unmapped(e.payload)?;
            match map?.lookup(u.path) {
                Lookup::Dist(d) => Some(Seen {
                    via: u.via,
                    name: d.name,
                    version: d.version,
                    env: d.env,
                    origin: u.origin,
                }),
                _ => None,
            }
        }
        _ => None,
    })
}

/// Renders `rec` as one JSON object (no trailing newline) into `out`.
///
/// `map` re-resolves `UNMAPPED` paths (the sweep passes the current map; the
/// tracer passes `None`, having tried its map already).
#[allow(dead_code)]
pub fn render(
    rec: &RawRecord<'_>,
    map: Option<&PackageMap<'_>>,
    ov: &Overrides<'_>,
    out: &mut Out<'_>,
) {
    let text = |t: u8| rec.first(t);
    out.raw(b"{");
    out.key(true, "schema");
    out.int(i64::from(pyusage_record::SCHEMA_VERSION));
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
    if pyusage_record::SCHEMA_VERSION >= 2 {
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
    out.string(&pyusage_record::time::rfc3339_utc(rec.start_ns));
    out.key(false, "end");
    out.string(&pyusage_record::time::rfc3339_utc(end_ns.max(rec.start_ns)));
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
    render_packages(rec, map, out);
    out.key(false, "unmapped");
    render_unmapped(rec, map, out);
    out.key(false, "native");
    render_native(rec, out);

    out.key(false, "forked_from");
    out.opt_int((rec.forked_from != 0).then_some(i64::from(rec.forked_from)));
    out.key(false, "forks");
    out.int(i64::from(rec.forks));
    out.key(false, "sample");
    render_fraction(rec.sample_ppm.min(1_000_000), out);
    out.key(false, "truncated");
    out.raw(if rec.truncated() || out.overflowed() {
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
        out.opt_int(
            field(key)
                .and_then(pyusage_record::job::parse_u32)
                .map(i64::from),
        );
    }
    if pyusage_record::SCHEMA_VERSION >= 2 {
        out.key(false, "partition");
        out.opt_string(field("partition"));
        for key in ["gpus", "cpus_per_task"] {
            out.key(false, key);
            out.opt_int(
                field(key)
                    .and_then(pyusage_record::job::parse_u32)
                    .map(i64::from),
            );
        }
    }
    out.raw(b"}");
}

fn render_packages(rec: &RawRecord<'_>, map: Option<&PackageMap<'_>>, out: &mut Out<'_>) {
    out.raw(b"[");
    let mut first = true;
    for (i, s) in seen(rec, map).enumerate() {
        // Emit each distribution once, at its first sighting, with the
        // strongest `via` of all its sightings.
        if seen(rec, map).take(i).any(|t| t.same_dist(&s)) {
            continue;
        }
        let via = seen(rec, map)
            .filter(|t| t.same_dist(&s))
            .map(|t| t.via)
            .max_by_key(|v| v.strength())
            .unwrap_or(s.via);
        // Who and when: from the first sighting that says (a module the
        // process ran), not from a native library seen earlier.
        let origin = seen(rec, map)
            .filter(|t| t.same_dist(&s))
            .find_map(|t| t.origin);
        if !first {
            out.raw(b",");
        }
        first = false;
        out.raw(b"{");
        out.key(true, "name");
        out.string(s.name);
        out.key(false, "version");
        out.string(s.version);
        out.key(false, "via");
        out.string(via.name().as_bytes());
        out.key(false, "env");
        out.string(s.env);
        if pyusage_record::SCHEMA_VERSION >= 2 {
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
    }
    out.raw(b"]");
}

fn render_unmapped(rec: &RawRecord<'_>, map: Option<&PackageMap<'_>>, out: &mut Out<'_>) {
    out.raw(b"[");
    let mut first = true;
    for e in rec.entries().filter(|e| e.tag == tag::UNMAPPED) {
        let Some(path) = raw::split_unmapped(e.payload).map(|u| u.path) else {
            continue;
        };
        if let Some(map) = map {
            if !matches!(map.lookup(path), Lookup::Unmapped) {
                continue;
            }
        }
        if !first {
            out.raw(b",");
        }
        first = false;
        out.string(path);
    }
    out.raw(b"]");
}

fn render_native(rec: &RawRecord<'_>, out: &mut Out<'_>) {
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
        let names = || {
            rec.entries()
                .filter(|e| e.tag == tag::NATIVE)
                .filter_map(|e| e.payload.split_first())
                .filter(move |(k, _)| **k == kind)
                .map(|(_, name)| name)
                .filter(|name| !name.is_empty())
        };
        let mut first = true;
        for (j, name) in names().enumerate() {
            if names().take(j).any(|n| n == name) {
                continue;
            }
            if !first {
                out.raw(b",");
            }
            first = false;
            out.string(name);
        }
        out.raw(b"]");
    }
    out.raw(b"}");
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
