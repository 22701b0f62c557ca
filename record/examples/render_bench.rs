//! Renderer benchmark (issue 13): how long rendering a hostile raw record
//! takes, for the current renderer and, side by side in the same run, the
//! renderer before issue 13 (`bench/render/before.rs`, O(n^2) in entries).
//!
//!   cargo run --release -p pyusage-record --example render_bench -- [--quick]
//!   ... -- --only SHAPE    one shape (names below)
//!   ... -- --write DIR     writes the 16 MiB hostile records as rec-*.bin
//!                          files into DIR (for timing `pyusage sweep`)
//!
//! Records are crafted the way a user would to stall the root sweep: the body
//! filled to the last byte with the smallest entries that still count, all
//! different (the old renderer's worst case) or all the same.

#[path = "../../bench/render/before.rs"]
mod before;

use pyusage_record::json::Out;
use pyusage_record::raw::{tag, Identity, RawRecord, Writer, HEADER_LEN, MAX_CAPACITY};
use pyusage_record::render::{render, Overrides};
use std::time::Instant;

/// A record shape: fills a writer of the given capacity.
struct Shape {
    name: &'static str,
    what: &'static str,
    fill: fn(&Writer),
}

fn name36(mut i: usize, buf: &mut [u8; 8]) -> &[u8] {
    const DIGITS: &[u8; 36] = b"0123456789abcdefghijklmnopqrstuvwxyz";
    let mut at = buf.len();
    loop {
        at -= 1;
        buf[at] = DIGITS[i % 36];
        i /= 36;
        if i == 0 {
            break;
        }
    }
    &buf[at..]
}

const SHAPES: [Shape; 4] = [
    Shape {
        name: "distinct-packages",
        what: "PACKAGE entries, every name different (`i<name>\\0\\0`, 12 bytes each)",
        fill: |w| {
            let mut i = 0;
            let mut b = [0u8; 8];
            while w.append(tag::PACKAGE, &[b"i", name36(i, &mut b), b"\0\0"]) {
                i += 1;
            }
        },
    },
    Shape {
        name: "same-package",
        what: "one PACKAGE entry repeated, `via` alternating (8 bytes each)",
        fill: |w| {
            let mut i = 0u32;
            while w.append(
                tag::PACKAGE,
                &[if i.is_multiple_of(2) { b"l" } else { b"i" }, b"a\0"],
            ) {
                i += 1;
            }
        },
    },
    Shape {
        name: "distinct-native",
        what: "NATIVE entries, every file name different (8-12 bytes each)",
        fill: |w| {
            let mut i = 0;
            let mut b = [0u8; 8];
            while w.append(tag::NATIVE, &[b"c", name36(i, &mut b)]) {
                i += 1;
            }
        },
    },
    Shape {
        name: "mixed",
        what: "1,000 packages each seen ~1,000 times as library/extension/import, with origins",
        fill: |w| {
            let mut i = 0;
            let mut b = [0u8; 8];
            loop {
                let via: &[u8] = [b"l", b"e", b"i"][i % 3];
                let name = name36(i / 3 % 1000, &mut b).to_vec();
                if !w.append(
                    tag::PACKAGE,
                    &[via, &name, b"\x001.0\x00/venv\x00top\x00", b"7"],
                ) {
                    break;
                }
                i += 1;
            }
        },
    },
];

fn make(capacity: u32, shape: &Shape, id: u8) -> Vec<u64> {
    let mut buf = vec![0u64; capacity as usize / 8];
    let who = Identity {
        pid: 4_000_000,
        ppid: 1,
        uid: 1000,
        start_ns: 1_700_000_000_000_000_000,
        sample_ppm: 1_000_000,
        id: [id; 16],
        ..Identity::default()
    };
    // SAFETY: buf is zeroed, 8-byte aligned, `capacity` bytes long, and
    // outlives the writer, which is dropped at the end of this function.
    let w = unsafe { Writer::create(buf.as_mut_ptr() as *mut u8, capacity, &who) };
    (shape.fill)(&w);
    buf
}

fn bytes(buf: &[u64]) -> &[u8] {
    // SAFETY: reinterpreting initialised u64s as bytes.
    unsafe { std::slice::from_raw_parts(buf.as_ptr() as *const u8, buf.len() * 8) }
}

/// Seconds to render `rec` once with `f` (into a buffer sized as the sweep
/// sizes it), and the output's length.
fn time_once(rec: &RawRecord<'_>, len: usize, f: fn(&RawRecord<'_>, &mut Out<'_>)) -> (f64, usize) {
    let mut out_buf = vec![0u8; len * 6 + 4096];
    let t = Instant::now();
    let mut out = Out::new(&mut out_buf);
    f(rec, &mut out);
    let n = out.as_bytes().len();
    (t.elapsed().as_secs_f64(), n)
}

fn now_renderer(rec: &RawRecord<'_>, out: &mut Out<'_>) {
    render(rec, None, &Overrides::default(), out)
}

fn old_renderer(rec: &RawRecord<'_>, out: &mut Out<'_>) {
    before::render(rec, None, &Overrides::default(), out)
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if let Some(i) = args.iter().position(|a| a == "--write") {
        let dir = std::path::Path::new(args.get(i + 1).expect("--write DIR"));
        for (k, shape) in SHAPES.iter().enumerate() {
            let buf = make(MAX_CAPACITY, shape, k as u8);
            let path = dir.join(format!("rec-{}-hostile-{}.bin", 4_000_000 + k, shape.name));
            std::fs::write(&path, bytes(&buf)).expect("write record");
            println!("{}", path.display());
        }
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // The old renderer runs only where it finishes in seconds.
    let old_limit: u32 = if quick { 64 << 10 } else { 256 << 10 };
    let sizes: &[u32] = if quick {
        &[64 << 10, 1 << 20, MAX_CAPACITY]
    } else {
        &[64 << 10, 256 << 10, 1 << 20, 4 << 20, MAX_CAPACITY]
    };
    let rounds = if quick { 3 } else { 5 };
    let only = args
        .iter()
        .position(|a| a == "--only")
        .and_then(|i| args.get(i + 1));
    println!("| record | shape | entries | now: median s | now: ns per entry | before: median s | before / now | JSON bytes (now) |");
    println!("|---|---|---|---|---|---|---|---|");
    for shape in SHAPES.iter().filter(|s| only.is_none_or(|o| o == s.name)) {
        for &size in sizes {
            let buf = make(size, shape, 0x5a);
            let rec = RawRecord::parse(bytes(&buf)).expect("valid record");
            let entries = rec.entries().count();
            let (mut now, mut old) = (Vec::new(), Vec::new());
            let mut json = 0;
            for round in 0..rounds {
                // Alternate the order so both see the same machine.
                let run_old = size <= old_limit;
                if run_old && round % 2 == 1 {
                    old.push(time_once(&rec, buf.len() * 8, old_renderer).0);
                }
                let (t, n) = time_once(&rec, buf.len() * 8, now_renderer);
                now.push(t);
                json = n;
                if run_old && round % 2 == 0 {
                    old.push(time_once(&rec, buf.len() * 8, old_renderer).0);
                }
            }
            let now_s = median(&mut now);
            let (old_col, ratio) = if old.is_empty() {
                ("not run".to_string(), "-".to_string())
            } else {
                let o = median(&mut old);
                (format!("{o:.4}"), format!("{:.0}", o / now_s))
            };
            println!(
                "| {} KiB | {} | {} | {:.4} | {:.0} | {} | {} | {} |",
                size >> 10,
                shape.name,
                entries,
                now_s,
                now_s * 1e9 / entries.max(1) as f64,
                old_col,
                ratio,
                json
            );
        }
    }
    println!();
    for shape in &SHAPES {
        println!("- `{}`: {}", shape.name, shape.what);
    }
    println!(
        "- record sizes include the {HEADER_LEN}-byte header; {} KiB is the largest the sweep accepts (MAX_CAPACITY)",
        MAX_CAPACITY >> 10
    );
}
