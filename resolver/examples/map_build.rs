//! Builds the package map of some roots, `--repeat` times, for profiling
//! (`perf stat`, `strace -c`, `valgrind --tool=callgrind`).
//!
//! ```text
//! map_build [--repeat N] [--out FILE] [--python EXE]... DIR[=LABEL]...
//! ```
//!
//! Prints each build's wall time and the map's counts; `--out` writes the
//! last map (with build time 0, so that two builders' maps compare equal);
//! with `MAP_BUILD_VERBOSE` set, the warnings and conflicts are listed too.

use std::time::Instant;

use pyusage_resolver::scan::{self, BuildOptions, RootSpec};

fn main() {
    let mut opts = BuildOptions::default();
    let mut repeat = 1usize;
    let mut out: Option<String> = None;
    let mut it = std::env::args().skip(1);
    while let Some(a) = it.next() {
        match a.as_str() {
            "--repeat" => {
                repeat = it.next().and_then(|v| v.parse().ok()).unwrap_or_else(|| {
                    eprintln!("map_build: --repeat N");
                    std::process::exit(2)
                })
            }
            "--out" => {
                out = it.next();
                opts.built_at = Some(0);
            }
            "--python" => opts
                .pythons
                .push(RootSpec::parse(&it.next().unwrap_or_default())),
            _ => opts.roots.push(RootSpec::parse(&a)),
        }
    }
    for n in 0..repeat {
        let t = Instant::now();
        match scan::build(&opts, &()) {
            Ok(r) => {
                println!(
                    "{:.1} ms: {} dists, {} files, {} keys, {} bytes",
                    t.elapsed().as_secs_f64() * 1e3,
                    r.dists,
                    r.files,
                    r.keys,
                    r.map.len()
                );
                if std::env::var_os("MAP_BUILD_VERBOSE").is_some() {
                    for w in &r.warnings {
                        println!("warning: {w}");
                    }
                    for c in &r.conflicts {
                        println!("conflict: {c:?}");
                    }
                }
                if let (Some(o), true) = (&out, n + 1 == repeat) {
                    std::fs::write(o, &r.map).unwrap_or_else(|e| {
                        eprintln!("map_build: {o}: {e}");
                        std::process::exit(1)
                    });
                }
            }
            Err(e) => {
                eprintln!("map_build: {e}");
                std::process::exit(1)
            }
        }
    }
}
