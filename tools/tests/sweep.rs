//! `pyusage sweep` against real files in a real runtime directory.
//!
//! Raw records are data from untrusted users (rule 5 of docs/design.md): the sweep must
//! never panic or hang on them, must name every bad file, move it to the
//! quarantine (never delete it), leave alone files a writer may still be
//! creating, ship each record of a dead process exactly once, attribute it to
//! the file's owner, and never touch the record of a live process.

use pyusage_record::raw::{Ending, HEADER_LEN, MAX_CAPACITY};
use pyusage_tests::cli::*;
use std::collections::BTreeMap;
use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Old enough that the sweep's 10-second grace period is over.
const OLD: u64 = 3600;

/// What a bad file was before the sweep, to compare with what is in quarantine.
#[derive(Debug, PartialEq)]
enum Kind {
    File(Vec<u8>),
    Sparse(u64),
    Dir(Vec<String>),
    Symlink(PathBuf),
    Fifo,
}

fn kind_of(p: &Path) -> Kind {
    let m = fs::symlink_metadata(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));
    let t = m.file_type();
    if t.is_symlink() {
        Kind::Symlink(fs::read_link(p).unwrap())
    } else if t.is_dir() {
        Kind::Dir(names(p))
    } else if t.is_fifo() {
        Kind::Fifo
    } else if m.len() > u64::from(MAX_CAPACITY) {
        Kind::Sparse(m.len())
    } else {
        Kind::File(fs::read(p).unwrap())
    }
}

/// Deterministic junk.
fn junk(n: usize, mut seed: u64) -> Vec<u8> {
    (0..n)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed >> 24) as u8
        })
        .collect()
}

/// Lays out every kind of bad `rec-*.bin` the brief lists in `dir`; returns
/// their names. Regular files and directories are aged past the grace period
/// when `old`.
fn lay_out_bad_files(dir: &Path, outside: &Path, old: bool) -> Vec<String> {
    let good = RawSpec::dead();
    let valid = good.bytes();
    let mut made: Vec<String> = Vec::new();
    let mut file = |name: &str, bytes: &[u8]| {
        let p = dir.join(name);
        write_file(&p, bytes);
        made.push(name.to_string());
        p
    };
    file("rec-1-truncated.bin", &valid[..100]);
    file("rec-2-header-only.bin", &valid[..HEADER_LEN + 10]);
    file("rec-3-empty.bin", b"");
    let mut bad_magic = valid.clone();
    bad_magic[..8].copy_from_slice(b"NOTMAGIC");
    file("rec-4-bad-magic.bin", &bad_magic);
    let mut bad_version = valid.clone();
    bad_version[8..12].copy_from_slice(&2u32.to_ne_bytes());
    file("rec-5-bad-version.bin", &bad_version);
    // Header says 4096, the file is longer.
    let mut longer = valid.clone();
    longer.extend_from_slice(&[0u8; 4096]);
    file("rec-6-capacity-small.bin", &longer);
    // Header says 8192, the file is 4096.
    let mut big = RawSpec::dead();
    big.capacity = 8192;
    file("rec-7-capacity-large.bin", &big.bytes()[..4096]);
    // Capacity below the minimum, matching a short file.
    let mut tiny = valid[..1024].to_vec();
    tiny[12..16].copy_from_slice(&1024u32.to_ne_bytes());
    file("rec-8-capacity-tiny.bin", &tiny);
    file("rec-9-random.bin", &junk(4096, 0x9e3779b97f4a7c15));
    file("rec-10-random-odd.bin", &junk(5000, 42));
    let names_so_far = made.clone();

    // A directory with something in it.
    let d = dir.join("rec-11-dir.bin");
    fs::create_dir(&d).unwrap();
    fs::write(d.join("inside"), b"keep me").unwrap();
    made.push("rec-11-dir.bin".into());
    // A symlink to a valid record of a dead process outside the runtime dir:
    // must not be followed, shipped, or its target touched.
    let target = good.write(outside);
    std::os::unix::fs::symlink(&target, dir.join("rec-12-symlink.bin")).unwrap();
    made.push("rec-12-symlink.bin".into());
    // A symlink that dangles.
    std::os::unix::fs::symlink("/nonexistent/pyusage", dir.join("rec-13-dangling.bin")).unwrap();
    made.push("rec-13-dangling.bin".into());
    // A FIFO: opening it for reading would block forever.
    mkfifo(&dir.join("rec-14-fifo.bin"));
    made.push("rec-14-fifo.bin".into());
    // Bigger than any record (sparse).
    let huge = dir.join("rec-15-huge.bin");
    let f = fs::File::create(&huge).unwrap();
    f.set_len(u64::from(MAX_CAPACITY) + 4096).unwrap();
    drop(f);
    made.push("rec-15-huge.bin".into());

    if old {
        for n in names_so_far
            .iter()
            .chain(["rec-11-dir.bin".to_string(), "rec-15-huge.bin".to_string()].iter())
        {
            age(&dir.join(n), OLD);
        }
    }
    made
}

#[test]
fn hostile_files_are_quarantined_named_and_kept_byte_for_byte() {
    let site = Site::new();
    let outside = site.tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let bad = lay_out_bad_files(&site.runtime, &outside, true);
    let before: BTreeMap<String, Kind> = bad
        .iter()
        .map(|n| (n.clone(), kind_of(&site.runtime.join(n))))
        .collect();
    let outside_before = names(&outside);
    let outside_bytes: Vec<Vec<u8>> = outside_before
        .iter()
        .map(|n| fs::read(outside.join(n)).unwrap())
        .collect();
    // And one good record among them, which must still be shipped.
    let good = RawSpec::dead();
    good.write(&site.runtime);

    let out = site.sweep(&[]);
    out.assert_no_crash();
    assert!(
        matches!(out.code, Some(0 | 1)),
        "unexpected exit status:\n{out}"
    );

    for n in &bad {
        let p = site.runtime.join(n);
        assert!(
            out.stderr.contains(&p.display().to_string()),
            "no message names {}:\n{out}",
            p.display()
        );
        assert!(
            fs::symlink_metadata(&p).is_err(),
            "{n} was left in the runtime dir:\n{out}"
        );
        let q = site.quarantine().join(n);
        assert!(
            fs::symlink_metadata(&q).is_ok(),
            "{n} is not in quarantine (deleted?); quarantine holds {:?}\n{out}",
            names(&site.quarantine())
        );
        assert_eq!(
            kind_of(&q),
            before[n],
            "{n} changed on its way to quarantine"
        );
    }
    assert_eq!(names(&site.quarantine()).len(), bad.len());
    // Larger than any record: refused unread, and the message says why.
    assert!(
        out.stderr
            .contains("rec-15-huge.bin: 16781312 bytes, larger than the largest raw record"),
        "the oversized file's message does not give the limit:\n{out}"
    );

    // The symlink's target is untouched and was not shipped.
    assert_eq!(names(&outside), outside_before);
    for (n, b) in outside_before.iter().zip(&outside_bytes) {
        assert_eq!(&fs::read(outside.join(n)).unwrap(), b);
    }
    let shipped = site.shipped();
    assert_eq!(
        shipped.iter().map(|(n, _)| n.clone()).collect::<Vec<_>>(),
        vec![format!("{}.json", good.id_hex())],
        "exactly the good record is shipped:\n{out}"
    );
    assert_eq!(site.runtime_names(), Vec::<String>::new(), "{out}");
    assert!(
        out.stdout.contains(&format!("{} quarantined", bad.len())),
        "summary does not count the quarantined files:\n{out}"
    );
}

/// Issue 13: a user leaves a record of the largest size a sweep accepts,
/// filled with distinct packages, each seen twice far apart, to keep the root
/// sweep busy. The renderer compared every sighting with every earlier one
/// (hours for this record); it is now shipped whole, every package merged.
#[test]
fn largest_hostile_record_is_shipped_whole() {
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.capacity = MAX_CAPACITY;
    spec.entries.clear();
    let n = (MAX_CAPACITY as usize - HEADER_LEN) / 2 / 24;
    for i in 0..n {
        spec.entries
            .push((b'P', format!("l{i:x}\0\0").into_bytes()));
    }
    for i in 0..n {
        spec.entries
            .push((b'P', format!("i{i:x}\0\0\0\0{i}").into_bytes()));
    }
    spec.write(&site.runtime);
    let out = site.sweep(&[]);
    out.assert_ok();
    let shipped = site.shipped_typed();
    assert_eq!(shipped.len(), 1, "{out}");
    let rec = &shipped[0].1;
    assert_eq!(rec.packages.len(), n);
    for (i, p) in rec.packages.iter().enumerate() {
        assert_eq!(p.name, format!("{i:x}"));
        assert_eq!((p.via.as_str(), p.at_ms), ("import", Some(i as u64)));
    }
    assert!(!rec.truncated);
}

#[test]
fn young_unparseable_files_are_left_to_their_writer() {
    let site = Site::new();
    let valid = RawSpec::dead().bytes();
    let young: Vec<(&str, Vec<u8>)> = vec![
        ("rec-100-creating.bin", vec![0u8; 4096]), // fallocated, magic not yet stored
        ("rec-101-empty.bin", Vec::new()),
        ("rec-102-truncated.bin", valid[..200].to_vec()),
        ("rec-103-bad-magic.bin", {
            let mut b = valid.clone();
            b[0] = b'X';
            b
        }),
    ];
    for (n, b) in &young {
        write_file(&site.runtime.join(n), b);
    }
    let out = site.sweep(&[]);
    out.assert_ok();
    for (n, b) in &young {
        let p = site.runtime.join(n);
        assert_eq!(
            fs::read(&p).ok().as_ref(),
            Some(b),
            "young {n} was touched:\n{out}"
        );
    }
    assert!(names(&site.quarantine()).is_empty(), "{out}");
    assert!(site.shipped().is_empty());

    // Once past the grace period they are quarantined, bytes intact.
    for (n, _) in &young {
        age(&site.runtime.join(n), 11);
    }
    let out = site.sweep(&[]);
    out.assert_no_crash();
    for (n, b) in &young {
        assert!(
            out.stderr
                .contains(&site.runtime.join(n).display().to_string()),
            "{n} not named:\n{out}"
        );
        assert_eq!(
            fs::read(site.quarantine().join(n)).ok().as_ref(),
            Some(b),
            "{n} not in quarantine unchanged:\n{out}"
        );
    }
    assert!(site.runtime_names().is_empty(), "{out}");
}

#[test]
fn dry_run_ships_and_moves_nothing() {
    let site = Site::new();
    let outside = site.tmp.path().join("outside");
    fs::create_dir(&outside).unwrap();
    let bad = lay_out_bad_files(&site.runtime, &outside, true);
    let good = RawSpec::dead();
    let good_path = good.write(&site.runtime);
    let before = site.runtime_names();
    let out = site.sweep(&["--dry-run"]);
    out.assert_no_crash();
    assert_eq!(
        site.runtime_names(),
        before,
        "dry run changed files:\n{out}"
    );
    assert!(!site.quarantine().exists(), "dry run made a quarantine");
    assert!(site.shipped().is_empty(), "dry run shipped:\n{out}");
    assert!(
        out.stdout.contains(&good_path.display().to_string()),
        "dry run does not say what it would ship:\n{out}"
    );
    for n in &bad {
        assert!(
            out.stderr.contains(n.as_str()),
            "dry run does not name {n}:\n{out}"
        );
    }
}

#[test]
fn quarantine_never_replaces_an_earlier_bad_file() {
    let site = Site::new();
    let name = "rec-7-same-name.bin";
    let p = site.runtime.join(name);
    write_file(&p, b"first bad file");
    age(&p, OLD);
    site.sweep(&[]).assert_no_crash();
    write_file(&p, b"second bad file, other bytes");
    age(&p, OLD);
    let out = site.sweep(&[]);
    out.assert_no_crash();
    let kept: Vec<Vec<u8>> = names(&site.quarantine())
        .iter()
        .map(|n| fs::read(site.quarantine().join(n)).unwrap())
        .collect();
    assert!(
        kept.contains(&b"first bad file".to_vec())
            && kept.contains(&b"second bad file, other bytes".to_vec()),
        "both bad files must be kept in quarantine; it holds {:?}\n{out}",
        names(&site.quarantine())
    );
}

/// A FIFO or symlink moved to a quarantine on another file system (runtime dir
/// on tmpfs, quarantine on disk: the usual layout) is moved as what it is: the
/// FIFO is never opened (that would block for ever) and the symlink is never
/// followed.
#[test]
fn quarantine_on_another_file_system_handles_fifos_and_symlinks() {
    let shm = Path::new("/dev/shm");
    let tmp_dev = fs::metadata(std::env::temp_dir()).unwrap().dev();
    if !shm.is_dir() || fs::metadata(shm).unwrap().dev() == tmp_dev {
        pyusage_tests::skip!("/dev/shm is missing or on the same file system as the temp dir");
    }
    let site = Site::new_in(shm);
    let elsewhere = tempfile::tempdir().unwrap();
    let q = elsewhere.path().join("quarantine");
    mkfifo(&site.runtime.join("rec-1-fifo.bin"));
    std::os::unix::fs::symlink("/etc/hostname", site.runtime.join("rec-2-link.bin")).unwrap();
    let start = Instant::now();
    let out = site.sweep(&["--quarantine", q.to_str().unwrap()]);
    out.assert_no_crash();
    assert!(start.elapsed() < Duration::from_secs(10));
    assert!(
        fs::symlink_metadata(q.join("rec-1-fifo.bin")).is_ok_and(|m| m.file_type().is_fifo()),
        "FIFO not quarantined as a FIFO:\n{out}"
    );
    assert!(
        fs::symlink_metadata(q.join("rec-2-link.bin")).is_ok_and(|m| m.file_type().is_symlink()),
        "symlink not quarantined as a symlink:\n{out}"
    );
}

#[test]
fn hostile_entries_in_a_valid_header_render_valid_json() {
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.capacity = 16384;
    spec.entries = vec![
        (b'x', b"/bin/\"py\\thon\"\n\r\t\x00\x01\x1f\x7f".to_vec()),
        (b's', vec![0xff, 0xfe, b'a', 0xc3, 0x28, 0xe2, 0x82]), // invalid UTF-8
        (b'v', vec![b'"'; 4096]),                               // longest payload, all escapes
        (b'i', b"</script>".to_vec()),
        (b'p', vec![]),
        (b'h', "n\u{2028}d\u{10ffff}".as_bytes().to_vec()),
        (b'u', b"\\u0000".to_vec()),
        (b'j', b"scheduler=slurm".to_vec()),
        (b'j', b"nodes=-1".to_vec()),
        (b'j', b"tasks=99999999999999999999".to_vec()),
        (b'j', b"rank=abc".to_vec()),
        (b'j', b"id=\x00\xff".to_vec()),
        (b'j', b"=".to_vec()),
        (b'P', b"".to_vec()),                    // empty package
        (b'P', b"zname\x00ver\x00env".to_vec()), // unknown via
        (b'P', b"i\x00\x00".to_vec()),           // empty name
        (b'P', b"inumpy".to_vec()),              // no version
        (b'P', b"inumpy\x001.0\x00e\x00x\x00y".to_vec()),
        (b'P', b"lnumpy\x001.0\x00e".to_vec()),
        (b'U', b"i".to_vec()),
        (b'U', b"q/some/where".to_vec()),
        (b'U', vec![b'i', 0xff, b'/', b'"']),
        (b'N', b"c".to_vec()),
        (b'N', b"zlibfoo.so".to_vec()),
        (b'N', b"clibcudart.so.12".to_vec()),
        (b'?', b"unknown tag".to_vec()),
        (0, b"zero tag".to_vec()),
    ];
    spec.ending = Some((Ending::Signal, -5, 9999));
    let id = spec.id_hex();
    spec.write(&site.runtime);
    // A second one whose ending word is out of range and whose reserved
    // length points past the end of the file.
    let mut odd = RawSpec::dead();
    odd.entries.clear();
    let mut b = odd.bytes();
    b[72..76].copy_from_slice(&77u32.to_ne_bytes()); // ended_how
    b[16..20].copy_from_slice(&u32::MAX.to_ne_bytes()); // reserved
    b[HEADER_LEN..HEADER_LEN + 4]
        .copy_from_slice(&((4000u32 << 8) | u32::from(b'x')).to_ne_bytes());
    write_file(
        &site
            .runtime
            .join(format!("rec-{}-{}.bin", odd.who.pid, odd.id_hex())),
        &b,
    );

    let out = site.sweep(&[]);
    out.assert_ok();
    let shipped = site.shipped_typed();
    assert_eq!(shipped.len(), 2, "{out}");
    let rec = &shipped
        .iter()
        .find(|(n, _)| n.starts_with(&id))
        .expect("hostile record shipped")
        .1;
    assert_eq!(rec.exe, "/bin/\"py\\thon\"\n\r\t\u{0}\u{1}\u{1f}\u{7f}");
    assert_eq!(rec.ended.how, "signal");
    assert!(rec.packages.iter().all(|p| !p.name.is_empty()));
    assert!(rec.native.cuda.contains(&"libcudart.so.12".to_string()));
}

/// Entries that are well formed but empty (a `NATIVE` kind byte with no file
/// name, an `UNMAPPED` via byte with no path) must not be shipped as `""`,
/// which `docs/record.schema.json` forbids (`minLength: 1`) and ingest would
/// refuse.
#[test]
fn hostile_entries_still_ship_schema_valid_records() {
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.entries.push((b'N', b"c".to_vec()));
    spec.entries.push((b'U', b"i".to_vec()));
    spec.write(&site.runtime);
    site.sweep(&[]).assert_ok();
    assert_eq!(site.shipped().len(), 1); // validates against the schema
}

#[test]
fn dead_record_is_shipped_once_to_the_file_owner() {
    let site = Site::new();
    let spec = RawSpec::dead();
    let path = spec.write(&site.runtime);
    let owner_uid = if is_root() {
        // Not the uid written inside (31337), not ours.
        chown(&path, 4242);
        4242
    } else {
        owner(&path)
    };
    let mtime = fs::metadata(&path).unwrap().modified().unwrap();

    let out = site.sweep(&[]);
    out.assert_ok();
    let shipped = site.shipped();
    assert_eq!(shipped.len(), 1, "{out}");
    let (name, rec) = &shipped[0];
    assert_eq!(name, &format!("{}.json", spec.id_hex()));
    assert_eq!(rec.schema, pyusage_tools::shipped::SCHEMA);
    assert_eq!(
        (rec.packages[0].by.as_deref(), rec.packages[0].at_ms),
        (None, None)
    );
    assert_eq!(rec.pid, spec.who.pid);
    assert_eq!(rec.ppid, 1);
    assert_eq!(
        rec.uid, owner_uid,
        "uid must be the file owner's, not the record's"
    );
    assert_eq!(rec.ended.how, "vanished");
    assert_eq!((rec.ended.status, rec.ended.signal), (None, None));
    assert_eq!(rec.exe, "/usr/bin/python3.11");
    assert_eq!(rec.script.as_deref(), Some("train.py"));
    assert_eq!(rec.python.version.as_deref(), Some("3.11.7"));
    assert_eq!(rec.host, "node001");
    assert_eq!(rec.packages.len(), 1);
    assert_eq!(
        (
            rec.packages[0].name.as_str(),
            rec.packages[0].version.as_deref()
        ),
        ("numpy", Some("1.26.4"))
    );
    assert_eq!(rec.packages[0].via, "import");
    assert_eq!(rec.sample, 1.0);
    assert!(!rec.truncated);
    assert!(rec.start < rec.end, "start {} end {}", rec.start, rec.end);
    // The end of a vanished process is when its record was last written.
    let end_secs = mtime
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    assert!(
        rec.end.starts_with(&rfc3339_seconds(end_secs)),
        "end {} is not the file's mtime ({end_secs})",
        rec.end
    );
    assert!(site.runtime_names().is_empty(), "raw record left behind");
    assert!(out.stdout.contains("1 shipped"), "{out}");

    // A second sweep finds nothing and ships nothing.
    let json_before = fs::read(site.spool.join(name)).unwrap();
    let out = site.sweep(&[]);
    out.assert_ok();
    assert!(out.stdout.contains("0 shipped"), "{out}");
    assert_eq!(site.shipped().len(), 1);
    assert_eq!(fs::read(site.spool.join(name)).unwrap(), json_before);
}

/// A vanished record's end is the latest evidence of life it holds: its
/// latest import (`at_ms`) when that is later than the file's mtime, but
/// never a time after the sweep (`at_ms` is the user's to forge).
#[test]
fn vanished_end_is_the_latest_evidence_never_the_future() {
    let site = Site::new();
    let mut late = RawSpec::dead();
    late.who.start_ns -= 3_600_000_000_000; // started an hour and 5 s ago
    late.entries
        .push((b'U', b"i/home/alice/late.py\x00\x001800000".to_vec())); // +30 min
    let path = late.write(&site.runtime);
    age(&path, 3000); // mtime: 10 min after the start
    let mut forged = RawSpec::dead();
    forged
        .entries
        .push((b'P', b"iscipy\x001.0\x00/v\x00\x0099999999999999".to_vec()));
    forged.write(&site.runtime);
    let before = rfc3339_seconds(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs(),
    );
    site.sweep(&[]).assert_ok();
    let after = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
    let shipped = site.shipped();
    let rec = |spec: &RawSpec| {
        &shipped
            .iter()
            .find(|(n, _)| n.starts_with(&spec.id_hex()))
            .expect("shipped")
            .1
    };
    let start_secs = late.who.start_ns / 1_000_000_000;
    assert!(
        rec(&late)
            .end
            .starts_with(&rfc3339_seconds(start_secs + 1800)),
        "end {} is not the last import, 30 min after start {}",
        rec(&late).end,
        rec(&late).start
    );
    let end = &rec(&forged).end;
    assert!(
        end.as_str() >= before.as_str() && end.as_str() <= rfc3339_seconds(after + 1).as_str(),
        "a forged at_ms put the end at {end}, after the sweep"
    );
}

/// `YYYY-MM-DDTHH:MM:SS` of a Unix time (UTC), civil-from-days.
fn rfc3339_seconds(t: u64) -> String {
    let days = (t / 86400) as i64;
    let secs = t % 86400;
    let z = days + 719468;
    let era = z.div_euclid(146097);
    let doe = z - era * 146097;
    let yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = if m <= 2 { y + 1 } else { y };
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}",
        secs / 3600,
        secs / 60 % 60,
        secs % 60
    )
}

#[test]
fn record_that_says_how_it_ended_keeps_it() {
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.ending = Some((Ending::UnderscoreExit, 3, 0));
    spec.write(&site.runtime);
    site.sweep(&[]).assert_ok();
    let shipped = site.shipped();
    assert_eq!(shipped.len(), 1);
    assert_eq!(shipped[0].1.ended.how, "_exit");
    assert_eq!(shipped[0].1.ended.status, Some(3));
}

#[test]
fn record_marked_shipped_is_removed_without_a_copy() {
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.shipped = true;
    spec.write(&site.runtime);
    let out = site.sweep(&[]);
    out.assert_ok();
    assert!(site.shipped().is_empty(), "shipped a second copy:\n{out}");
    assert!(site.runtime_names().is_empty(), "not removed:\n{out}");
    assert!(out.stdout.contains("1 already shipped"), "{out}");
}

#[test]
fn record_already_in_the_spool_is_not_replaced() {
    let site = Site::new();
    let spec = RawSpec::dead();
    spec.write(&site.runtime);
    // Its process shipped it, then was killed before marking the header.
    let fin = site.spool.join(format!("{}.json", spec.id_hex()));
    fs::write(&fin, b"the process's own copy").unwrap();
    let out = site.sweep(&[]);
    out.assert_ok();
    assert_eq!(fs::read(&fin).unwrap(), b"the process's own copy");
    assert_eq!(names(&site.spool).len(), 1, "{:?}", names(&site.spool));
    assert!(site.runtime_names().is_empty(), "{out}");
}

#[test]
fn live_process_record_is_never_touched() {
    let site = Site::new();
    let me = std::process::id();
    let spec = RawSpec::for_pid(me, start_ticks(me));
    let path = spec.write(&site.runtime);
    // Old and quiet: a long-running process that imported everything early.
    age(&path, OLD);
    let meta = fs::metadata(&path).unwrap();
    let bytes = fs::read(&path).unwrap();
    for _ in 0..2 {
        let out = site.sweep(&[]);
        out.assert_ok();
        assert!(out.stdout.contains("1 still running"), "{out}");
    }
    let after = fs::metadata(&path).unwrap();
    assert_eq!(fs::read(&path).unwrap(), bytes);
    assert_eq!(after.ino(), meta.ino());
    assert_eq!(after.modified().unwrap(), meta.modified().unwrap());
    assert_eq!(site.runtime_names().len(), 1);
    assert!(site.shipped().is_empty());
    assert!(!site.quarantine().exists());
}

#[test]
fn reused_pid_with_another_start_time_is_dead() {
    let site = Site::new();
    let me = std::process::id();
    let spec = RawSpec::for_pid(me, start_ticks(me) + 1);
    spec.write(&site.runtime);
    let out = site.sweep(&[]);
    out.assert_ok();
    let shipped = site.shipped();
    assert_eq!(shipped.len(), 1, "{out}");
    assert_eq!(shipped[0].1.pid, me);
    assert_eq!(shipped[0].1.ended.how, "vanished");
}

#[test]
fn user_name_comes_from_the_owner() {
    if !is_root() {
        pyusage_tests::skip!("needs root to give a record to another user");
    }
    let site = Site::new();
    let spec = RawSpec::dead(); // says user "alice", uid 31337
    let path = spec.write(&site.runtime);
    chown(&path, 1); // `daemon` on Debian
    let name = passwd_name(1);
    site.sweep(&[]).assert_ok();
    let rec = &site.shipped()[0].1;
    assert_eq!(rec.uid, 1);
    assert_eq!(rec.user, name, "user must be the owner's passwd name");
}

#[test]
fn user_name_is_not_taken_from_the_record_when_the_owner_has_none() {
    if !is_root() {
        pyusage_tests::skip!("needs root to give a record to another user");
    }
    assert_eq!(passwd_name(4242), None, "uid 4242 has a passwd entry here");
    let site = Site::new();
    let mut spec = RawSpec::dead();
    spec.entries.retain(|(t, _)| *t != b'u');
    spec.entries.push((b'u', b"root".to_vec()));
    let path = spec.write(&site.runtime);
    chown(&path, 4242);
    site.sweep(&[]).assert_ok();
    let rec = &site.shipped()[0].1;
    assert_eq!(rec.uid, 4242);
    assert_ne!(
        rec.user.as_deref(),
        Some("root"),
        "record owned by uid 4242 is attributed to the name it claims"
    );
}

fn passwd_name(uid: u32) -> Option<String> {
    let text = fs::read_to_string("/etc/passwd").ok()?;
    text.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.len() > 2 && f[2] == uid.to_string()).then(|| f[0].to_string())
    })
}

/// 200 records of dead processes, 4 sweeps started at the same instant;
/// returns the ids and the sweeps' outputs.
///
/// Each sweep waits behind a gate (a shell reading its stdin, a pipe, until
/// EOF); the gates open together once all four are running, so the sweeps
/// scan the same records at the same time. A race where one sweep shipped
/// everything proves nothing, so it is run again (up to 5 times) until at
/// least two sweeps shipped records.
fn race(site: &Site) -> (Vec<String>, Vec<Output>) {
    for attempt in 1..=5 {
        let mut ids = Vec::new();
        for _ in 0..200 {
            let spec = RawSpec::dead();
            spec.write(&site.runtime);
            ids.push(spec.id_hex());
        }
        ids.sort();
        let mut children: Vec<_> = (0..4)
            .map(|_| {
                let sweep = site.sweep_cmd(&[]);
                let mut gated = std::process::Command::new("sh");
                gated
                    .arg("-c")
                    .arg(r#"while read -r _; do :; done; exec "$0" "$@""#)
                    .arg(sweep.get_program())
                    .args(sweep.get_args());
                for (k, v) in sweep.get_envs() {
                    match v {
                        Some(v) => gated.env(k, v),
                        None => gated.env_remove(k),
                    };
                }
                gated
                    .stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped())
                    .spawn()
                    .unwrap()
            })
            .collect();
        // Open the gates: EOF on every sweep's stdin at once.
        let gates: Vec<_> = children.iter_mut().map(|c| c.stdin.take()).collect();
        drop(gates);
        let outs: Vec<Output> = children.into_iter().map(|c| wait(c, &"sweep")).collect();
        for o in &outs {
            o.assert_no_crash();
        }
        let shipping = outs.iter().filter(|o| shipped_count(o) > 0).count();
        if shipping >= 2 {
            return (ids, outs);
        }
        eprintln!("race {attempt}: only {shipping} sweep shipped records; racing again");
        for (path, _) in site.shipped() {
            fs::remove_file(site.spool.join(path)).unwrap();
        }
    }
    panic!("in 5 tries the 4 sweeps never ran at the same time: the race was not tested");
}

/// The number a sweep says it shipped (`sweep: N shipped, ...`).
fn shipped_count(o: &Output) -> usize {
    let s = o.stdout.split(": ").nth(1).unwrap_or("");
    s.split(' ')
        .next()
        .unwrap_or("0")
        .parse::<usize>()
        .unwrap_or(0)
}

fn all(outs: &[Output]) -> String {
    outs.iter()
        .map(|o| o.to_string())
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn concurrent_sweeps_ship_every_record_exactly_once() {
    let site = Site::new();
    let (ids, outs) = race(&site);
    let all = all(&outs);
    let mut got: Vec<String> = site.shipped().into_iter().map(|(_, r)| r.id).collect();
    got.sort();
    assert_eq!(got, ids, "each record shipped exactly once\n{all}");
    assert!(
        site.runtime_names().is_empty(),
        "left over: {:?}\n{all}",
        site.runtime_names()
    );
    assert!(
        !site.quarantine().exists(),
        "quarantined valid records\n{all}"
    );
    let total: usize = outs.iter().map(shipped_count).sum();
    assert_eq!(total, 200, "the sweeps' own counts disagree\n{all}");
}

/// A sweep that lists a record and then finds another sweep has taken it
/// (the file is gone by the time it looks) has lost a race, not failed: no
/// error message, exit 0.
#[test]
fn concurrent_sweeps_do_not_fail() {
    let site = Site::new();
    let (_, outs) = race(&site);
    let all = all(&outs);
    for o in &outs {
        assert!(
            !o.stderr.contains("No such file"),
            "a record another sweep took is reported as an error:\n{all}"
        );
        assert_eq!(
            o.code,
            Some(0),
            "a sweep failed while racing others:\n{all}"
        );
    }
}
