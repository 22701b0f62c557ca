//! Turning a raw record into the shipped JSON object (see `docs/record.md`).
//!
//! One renderer serves both the traced process (at `exit`, `_exit` or `exec`)
//! and `pyusage sweep` (for processes that vanished), so a record looks the
//! same whoever finished it. It writes into a caller-provided buffer and never
//! allocates.

use crate::json::Out;
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
pub fn render(
    rec: &RawRecord<'_>,
    map: Option<&PackageMap<'_>>,
    ov: &Overrides<'_>,
    out: &mut Out<'_>,
) {
    let text = |t: u8| rec.first(t);
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
}
