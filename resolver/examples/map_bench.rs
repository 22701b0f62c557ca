//! Benchmark of the package-map builder and reader (run by `bench/map/run.sh`).
//!
//! ```text
//! map_bench --work DIR [--python EXE]... [--dists 5000] [--lines 500000] [--lookups 1000000]
//! ```
//!
//! For each tree (each interpreter's site directories, and a synthetic site
//! directory of `--dists` distributions with `--lines` RECORD lines in all,
//! laid out under DIR once), it times
//! * `build` of the map (best of 3, in process, parallel);
//! * the same information through Python: `importlib.metadata.distributions()`
//!   with `Name`, `version` and `files` of each (best of 3);
//! * `PackageMap::lookup` over `--lookups` random paths of the tree (files it
//!   installed, `__pycache__` files it did not list, and unmapped paths);
//!
//! and prints one table row per tree.

// `is_multiple_of` is newer than the workspace's rust-version.
#![allow(clippy::manual_is_multiple_of)]

use std::hint::black_box;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use pyusage_resolver::scan::{self, BuildOptions, RootSpec};
use pyusage_resolver::{Lookup, PackageMap};

struct Args {
    work: PathBuf,
    pythons: Vec<PathBuf>,
    dists: usize,
    lines: usize,
    lookups: usize,
}

fn parse_args() -> Args {
    let mut a = Args {
        work: PathBuf::from("build/bench-map"),
        pythons: Vec::new(),
        dists: 5000,
        lines: 500_000,
        lookups: 1_000_000,
    };
    let mut it = std::env::args().skip(1);
    while let Some(k) = it.next() {
        let v = it
            .next()
            .unwrap_or_else(|| die(&format!("{k} needs a value")));
        match k.as_str() {
            "--work" => a.work = v.into(),
            "--python" => a.pythons.push(v.into()),
            "--dists" => a.dists = v.parse().unwrap_or_else(|_| die("--dists")),
            "--lines" => a.lines = v.parse().unwrap_or_else(|_| die("--lines")),
            "--lookups" => a.lookups = v.parse().unwrap_or_else(|_| die("--lookups")),
            _ => die(&format!("unknown argument {k}")),
        }
    }
    a
}

fn die(msg: &str) -> ! {
    eprintln!("map_bench: {msg}");
    std::process::exit(2)
}

/// The RECORD paths of synthetic distribution `i` (`n` lines).
fn synthetic_record(i: usize, n: usize) -> Vec<String> {
    let pkg = format!("synpkg{i:05}");
    let mut v = vec![
        format!("{pkg}-1.{}.0.dist-info/METADATA", i % 7),
        format!("{pkg}-1.{}.0.dist-info/RECORD", i % 7),
        format!("{pkg}-1.{}.0.dist-info/INSTALLER", i % 7),
        format!("{pkg}/__init__.py"),
    ];
    if i % 10 == 0 {
        v.push(format!("{pkg}_single.py"));
        v.push(format!("__pycache__/{pkg}_single.cpython-311.pyc"));
    }
    if i % 25 == 0 {
        v.push(format!("../../../bin/{pkg}-cli"));
    }
    let mut j = 0;
    while v.len() < n {
        v.push(format!("{pkg}/sub{}/mod{}.py", j % 8, j));
        if v.len() < n && j % 3 == 0 {
            v.push(format!(
                "{pkg}/sub{}/__pycache__/mod{}.cpython-311.pyc",
                j % 8,
                j
            ));
        }
        j += 1;
    }
    v
}

/// Lays out the synthetic site directory (metadata only), once.
fn lay_out(site: &Path, dists: usize, lines: usize) -> std::io::Result<()> {
    let stamp = site.join(format!(".bench-{dists}-{lines}"));
    if stamp.exists() {
        return Ok(());
    }
    if site.exists() {
        std::fs::remove_dir_all(site)?;
    }
    std::fs::create_dir_all(site)?;
    let per = lines / dists.max(1);
    for i in 0..dists {
        let pkg = format!("synpkg{i:05}");
        let di = site.join(format!("{pkg}-1.{}.0.dist-info", i % 7));
        std::fs::create_dir_all(&di)?;
        std::fs::write(
            di.join("METADATA"),
            format!(
                "Metadata-Version: 2.1\nName: SynPkg-{i:05}\nVersion: 1.{}.0\nSummary: synthetic\n\n{}\n",
                i % 7,
                "A long description.\n".repeat(20)
            ),
        )?;
        std::fs::write(di.join("INSTALLER"), "pip\n")?;
        let mut rec = String::new();
        for p in synthetic_record(i, per) {
            rec.push_str(&p);
            rec.push_str(",sha256=AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA,1234\n");
        }
        std::fs::write(di.join("RECORD"), rec)?;
    }
    std::fs::write(stamp, "")
}

fn best_of<T>(n: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut best = Duration::MAX;
    let mut last = None;
    for _ in 0..n {
        let t = Instant::now();
        let v = f();
        best = best.min(t.elapsed());
        last = Some(v);
    }
    (best, last.unwrap_or_else(|| die("no run")))
}

const IMPORTLIB: &str = r#"
import sys, time, importlib.metadata as md
path = sys.argv[1:] or None
best = None
for _ in range(3):
    t = time.perf_counter()
    n = 0
    k = 0
    for d in md.distributions(**({"path": path} if path else {})):
        name = d.metadata["Name"]; v = d.version
        n += len(d.files or []); k += 1
    e = time.perf_counter() - t
    best = e if best is None or e < best else best
print(best, k, n)
"#;

/// Seconds, dists and files that importlib.metadata takes and finds.
fn importlib(python: &Path, path: Option<&Path>) -> (f64, u64, u64) {
    let mut c = Command::new(python);
    c.arg("-I").arg("-c").arg(IMPORTLIB);
    if let Some(p) = path {
        c.arg(p);
    }
    let out = c
        .output()
        .unwrap_or_else(|e| die(&format!("{}: {e}", python.display())));
    let s = String::from_utf8_lossy(&out.stdout);
    let f: Vec<&str> = s.split_whitespace().collect();
    if f.len() != 3 {
        die(&format!(
            "importlib run failed: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    (
        f[0].parse().unwrap_or(0.0),
        f[1].parse().unwrap_or(0),
        f[2].parse().unwrap_or(0),
    )
}

/// xorshift64*.
struct Rng(u64);
impl Rng {
    fn below(&mut self, n: usize) -> usize {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1) as u64) as usize
    }
}

/// Mean nanoseconds per lookup over `n` paths drawn at random from `pool`,
/// and the share of them that resolved to a distribution. The drawn paths
/// are copied into one buffer first, as the tracer's path is in cache when
/// it looks it up; the map's table is what is accessed at random.
fn time_lookups(map: &PackageMap<'_>, pool: &[Vec<u8>], n: usize) -> (f64, f64) {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let mut buf: Vec<u8> = Vec::new();
    let mut spans: Vec<(usize, usize)> = Vec::with_capacity(n);
    for _ in 0..n {
        let p = &pool[rng.below(pool.len())];
        spans.push((buf.len(), p.len()));
        buf.extend_from_slice(p);
    }
    let t = Instant::now();
    let mut hits = 0usize;
    for &(at, len) in &spans {
        if let Lookup::Dist(d) = map.lookup(black_box(&buf[at..at + len])) {
            hits += 1;
            black_box(d.name);
        }
    }
    let e = t.elapsed();
    (e.as_nanos() as f64 / n as f64, hits as f64 / n as f64)
}

/// Paths to look up: every key's files (from the map's own keys: files as
/// they are, directories with a module name appended), plus unmapped ones.
fn pool_from(map: &PackageMap<'_>, extra: &[Vec<u8>]) -> Vec<Vec<u8>> {
    let mut pool: Vec<Vec<u8>> = extra.to_vec();
    for e in map.entries() {
        let mut p = e.key.to_vec();
        if p.ends_with(b"/") {
            p.extend_from_slice(b"sub3/__pycache__/module_name.cpython-311.pyc");
        }
        pool.push(p);
    }
    pool
}

fn main() {
    let a = parse_args();
    let synth = a.work.join("synthetic/lib/python3.11/site-packages");
    let t = Instant::now();
    lay_out(&synth, a.dists, a.lines).unwrap_or_else(|e| die(&format!("lay out: {e}")));
    eprintln!("synthetic tree ready in {:.1} s", t.elapsed().as_secs_f64());
    let python = a
        .pythons
        .first()
        .cloned()
        .unwrap_or_else(|| PathBuf::from("python3"));

    println!(
        "{:<28} {:>6} {:>8} {:>6} {:>11} {:>14} {:>8} {:>11} {:>6}",
        "tree", "dists", "files", "keys", "build ms", "importlib ms", "ratio", "lookup ns", "hit %"
    );
    let mut rows = Vec::new();
    for py in &a.pythons {
        let opts = BuildOptions {
            pythons: vec![RootSpec {
                path: py.clone(),
                label: None,
            }],
            ..BuildOptions::default()
        };
        // The interpreter is asked once per build; time the scan without it.
        let info = scan::query_interpreter(py).unwrap_or_else(|e| die(&e));
        let roots: Vec<RootSpec> = info
            .sites
            .iter()
            .filter(|s| Path::new(s).is_dir())
            .map(|s| RootSpec {
                path: s.into(),
                label: None,
            })
            .collect();
        let scan_opts = BuildOptions {
            roots,
            ..BuildOptions::default()
        };
        let (d, report) = best_of(3, || {
            scan::build(&scan_opts, &()).unwrap_or_else(|e| die(&e.to_string()))
        });
        let full = scan::build(&opts, &()).unwrap_or_else(|e| die(&e.to_string()));
        let (secs, _k, _n) = importlib(py, None);
        let site = info.sites.first().cloned().unwrap_or_default();
        rows.push((
            format!("venv {}", short(&site)),
            d,
            report,
            full.map,
            secs,
            Vec::new(),
        ));
    }
    {
        let opts = BuildOptions {
            roots: vec![RootSpec {
                path: synth.clone(),
                label: Some("synthetic".into()),
            }],
            ..BuildOptions::default()
        };
        let (d, report) = best_of(3, || {
            scan::build(&opts, &()).unwrap_or_else(|e| die(&e.to_string()))
        });
        let (secs, _k, _n) = importlib(&python, Some(&synth));
        // Real RECORD paths too, not only key-derived ones.
        let per = a.lines / a.dists.max(1);
        let mut extra = Vec::new();
        let base = synth.to_string_lossy().into_owned();
        for i in (0..a.dists).step_by(7) {
            for p in synthetic_record(i, per) {
                if !p.starts_with("..") {
                    extra.push(format!("{base}/{p}").into_bytes());
                }
            }
        }
        extra.push(format!("{base}/handwritten.py").into_bytes());
        let map = report.map.clone();
        rows.push((
            format!("synthetic {} dists", a.dists),
            d,
            report,
            map,
            secs,
            extra,
        ));
    }
    for (name, d, report, map_bytes, secs, extra) in rows {
        let map = PackageMap::parse(&map_bytes).unwrap_or_else(|e| die(&e.to_string()));
        let pool = pool_from(&map, &extra);
        let (ns, hit) = time_lookups(&map, &pool, a.lookups);
        let ms = d.as_secs_f64() * 1e3;
        println!(
            "{:<28} {:>6} {:>8} {:>6} {:>11.1} {:>14.1} {:>7.1}x {:>11.0} {:>6.1}",
            name,
            report.dists,
            report.files,
            report.keys,
            ms,
            secs * 1e3,
            secs * 1e3 / ms,
            ns,
            hit * 100.0
        );
    }
}

fn short(s: &str) -> String {
    let parts: Vec<&str> = s.rsplitn(5, '/').collect();
    parts
        .get(3)
        .map_or_else(|| s.to_string(), |p| p.to_string())
}
