//! `pyusage ingest`: from spool to store.
//!
//! Reads shipped records from spool directories and NDJSON files, checks
//! each one ([`record`]), and stores them in SQLite or PostgreSQL (one
//! schema, `docs/store.md`, owned by the `pyusage-store` crate).
//!
//! - [`source`]: listing and claiming spool files, quarantine, and removing
//!   (or keeping) files once their records are committed;
//! - [`record`]: validation and conversion of one record;
//! - [`writer`]: records to rows, the same for both backends;
//! - [`sqlite`], [`pg`]: the two backends.
//!
//! Worker threads claim, read and check files; the main thread writes
//! batches, each in one transaction, and only then removes their files. An
//! ingest killed at any moment leaves claimed files that the next one takes
//! over; a record stored twice is recognised by its id, so nothing is lost
//! and nothing is duplicated.

mod pg;
pub mod record;
mod source;
mod sqlite;
pub mod syslog;
mod writer;

use crate::config::Settings;
use anyhow::{Context, Result};
use clap::Args;
use indicatif::{ProgressBar, ProgressStyle};
use pyusage_store::{Store, StoreUrl};
use record::Refused;
use source::Done;
use std::collections::HashMap;
use std::io::IsTerminal;
use std::io::{BufRead, Read};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::Instant;
use writer::{Backend, Counts, Dims, Owned};

#[derive(Args)]
pub struct IngestArgs {
    #[command(flatten)]
    settings: Settings,
    /// The store: a path or sqlite:PATH (SQLite), or postgresql://... (default: `store` in the configuration).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Move ingested spool files to DIR/YYYY-MM-DD/ instead of removing them.
    #[arg(long, value_name = "DIR")]
    keep: Option<PathBuf>,
    /// Where bad records go (default: quarantine/ in the spool, or beside an NDJSON file).
    #[arg(long, value_name = "DIR")]
    quarantine: Option<PathBuf>,
    /// Check and count records; store, move and remove nothing.
    #[arg(long)]
    dry_run: bool,
    /// Records per transaction (for tests that kill an ingest between commits;
    /// default: see [`default_batch`]).
    #[arg(long, hide = true)]
    batch: Option<usize>,
    /// A file written by rsyslog in pyusage's layout (packaging/rsyslog/pyusage.conf):
    /// chunks are put back together; incomplete records are reported, never stored.
    #[arg(long = "syslog", value_name = "FILE")]
    syslog: Vec<PathBuf>,
    /// Spool directories and NDJSON files (default: the configured spool).
    #[arg(value_name = "SOURCE")]
    sources: Vec<PathBuf>,
}

/// Spool files per unit of work of a reader thread.
const CHUNK: usize = 500;

/// Records per transaction when `--batch` is not given. SQLite: large,
/// because once a store is large nearly every record dirties index pages of
/// its own (random record ids, random `(host, pid)`), which each commit
/// writes to the WAL and each checkpoint again into the file; a bigger batch
/// shares more of those pages (into a store of 500,000 processes: 11,500
/// records/s at 5,000, 16,500 at 20,000). PostgreSQL: smaller, because the
/// server works while the readers go on; at 20,000 they waited on a full
/// queue and an ingest took 10-25% longer than at 5,000.
fn default_batch(url: &StoreUrl) -> usize {
    match url {
        StoreUrl::Postgres(_) => 5_000,
        StoreUrl::Sqlite(_) => 20_000,
    }
}

/// The longest the writer waits to fill a batch before it writes what it has.
const BATCH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// What the readers hand to the writer.
#[derive(Default)]
struct Chunk {
    recs: Vec<Owned>,
    /// Claimed files of `recs`, to finish after the commit.
    files: Vec<PathBuf>,
    quarantined: u64,
    failed: u64,
    /// The reader thread that made `recs`, which also frees them ([`Spent`]).
    maker: Option<usize>,
}

/// Sends stored records back to the reader thread that made them, to be
/// freed there. Freed on the writer's thread, their memory did not return
/// to the readers' allocator in time, so the readers kept taking fresh
/// pages from the kernel, whose zeroing was up to a seventh of an
/// ingest's CPU in profiles.
struct Spent {
    to: Vec<mpsc::Sender<Vec<Owned>>>,
}

impl Spent {
    fn give_back(&self, maker: Option<usize>, recs: Vec<Owned>) {
        if let Some(tx) = maker.and_then(|i| self.to.get(i)) {
            // A reader that has finished no longer listens: free it here.
            let _ = tx.send(recs);
        }
    }
}

#[derive(Default)]
struct Tally {
    counts: Counts,
    valid: u64,
    quarantined: u64,
    failed: u64,
}

/// Where a source's bad records go.
fn quarantine_for(args: &IngestArgs, source: &Path, is_dir: bool) -> PathBuf {
    if let Some(q) = &args.quarantine {
        return q.clone();
    }
    if is_dir {
        source.join("quarantine")
    } else {
        source
            .parent()
            .filter(|p| !p.as_os_str().is_empty())
            .unwrap_or(Path::new("."))
            .join("quarantine")
    }
}

pub fn run(args: IngestArgs) -> Result<ExitCode> {
    let e = args.settings.load()?;
    let url = StoreUrl::parse(args.db.as_deref().unwrap_or(&e.store)).context("--db / `store`")?;
    let sources = if args.sources.is_empty() && !args.syslog.is_empty() {
        Vec::new()
    } else if args.sources.is_empty() {
        vec![e.spool.clone()]
    } else {
        args.sources.clone()
    };
    let mut spool_files: Vec<(PathBuf, usize)> = Vec::new();
    let mut ndjson: Vec<PathBuf> = Vec::new();
    let mut quarantines = Vec::new();
    for s in &sources {
        let meta = std::fs::metadata(s).with_context(|| format!("source {}", s.display()))?;
        let q = quarantine_for(&args, s, meta.is_dir());
        if meta.is_dir() {
            let files = source::spool_candidates(s)?;
            spool_files.extend(files.into_iter().map(|f| (f, quarantines.len())));
        } else {
            ndjson.push(s.clone());
        }
        quarantines.push(q);
    }
    let ndjson_q: Vec<PathBuf> = ndjson
        .iter()
        .map(|f| quarantine_for(&args, f, false))
        .collect();
    let done = match &args.keep {
        Some(dir) if !args.dry_run => Done::keep_in(dir)?,
        _ => Done::Remove,
    };
    let mut store = if args.dry_run {
        None
    } else {
        Some(Store::open(&url)?)
    };
    // The writer's side first: for PostgreSQL that takes the ingest lock, so
    // a second ingest waits here before it claims any file.
    let (mut lite, mut post);
    let backend: Option<&mut dyn Backend> = match store.as_mut() {
        None => None,
        Some(Store::Sqlite(c)) => {
            lite = sqlite::Sqlite::new(c);
            Some(&mut lite)
        }
        Some(Store::Postgres(c)) => {
            post = pg::Pg::new(c, &url)?;
            Some(&mut post)
        }
    };
    let bar = if std::io::stderr().is_terminal() {
        let b = ProgressBar::new(spool_files.len() as u64);
        b.set_style(
            ProgressStyle::with_template(
                "{spinner} ingest [{bar:30}] {pos}/{len} records {per_sec} eta {eta}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        b
    } else {
        ProgressBar::hidden()
    };
    let started = Instant::now();
    // Readers wait on the file system more than they compute (rename, open,
    // read of small files), so there are more of them than cores.
    let threads = std::thread::available_parallelism()
        .map(|n| n.get() * 2)
        .unwrap_or(2)
        .clamp(2, 16);
    let next = AtomicUsize::new(0);
    let (tx, rx) = mpsc::sync_channel::<Chunk>(threads * 2);
    let (work_tx, work_rx) = mpsc::sync_channel::<Lines<'_>>(threads * 2);
    let work_rx = std::sync::Mutex::new(work_rx);
    // Parsed line buffers go back to the splitter: a fresh megabyte per
    // chunk cost more (page faults, zeroing) than reading the lines into it.
    let (spent_tx, spent_rx) = mpsc::channel::<Lines<'_>>();
    let (spent_recs, mut spent_recs_rx): (Vec<_>, Vec<_>) =
        (0..threads).map(|_| mpsc::channel::<Vec<Owned>>()).unzip();
    let spent_recs = Spent { to: spent_recs };
    let dry = args.dry_run;
    let batch = args.batch.unwrap_or_else(|| default_batch(&url)).max(1);
    let chunk_len = CHUNK.min(batch);
    let mut tally = Tally::default();
    let result: Result<()> = std::thread::scope(|scope| {
        for (maker, returned) in spent_recs_rx.drain(..).enumerate() {
            let tx = tx.clone();
            let (files, quarantines, next, bar) = (&spool_files, &quarantines, &next, &bar);
            let work_rx = &work_rx;
            let spent_tx = spent_tx.clone();
            scope.spawn(move || {
                let mut users = HashMap::new();
                let free_returned = || while returned.try_recv().is_ok() {};
                loop {
                    free_returned();
                    let at = next.fetch_add(chunk_len, Ordering::Relaxed);
                    if at >= files.len() {
                        break;
                    }
                    let end = (at + chunk_len).min(files.len());
                    let mut chunk =
                        read_spool_chunk(&files[at..end], quarantines, dry, &mut users, bar);
                    chunk.maker = Some(maker);
                    if tx.send(chunk).is_err() {
                        return;
                    }
                }
                // Then NDJSON lines, as the splitter hands them out.
                loop {
                    free_returned();
                    let next = work_rx.lock().map(|r| r.recv());
                    let Ok(Ok(lines)) = next else { break };
                    let mut chunk = parse_lines(&lines, dry, bar);
                    chunk.maker = Some(maker);
                    if tx.send(chunk).is_err() {
                        return;
                    }
                    let _ = spent_tx.send(lines);
                }
            });
        }
        {
            let tx = tx.clone();
            let (ndjson, ndjson_q, bar) = (&ndjson, &ndjson_q, &bar);
            let args = &args;
            scope.spawn(move || {
                for (file, q) in ndjson.iter().zip(ndjson_q) {
                    split_ndjson(file, q, &work_tx, &spent_rx, &tx, bar);
                }
                drop(work_tx);
                for file in &args.syslog {
                    let q = quarantine_for(args, file, false);
                    if tx.send(read_syslog(file, &q, dry, bar)).is_err() {
                        return;
                    }
                }
            });
        }
        drop(tx);
        let finisher = Finisher::start(scope, &done, &bar);
        let result = match backend {
            None => {
                for chunk in rx {
                    bar.inc((chunk.recs.len() + chunk.quarantined as usize) as u64);
                    tally.valid += chunk.recs.len() as u64;
                    tally.quarantined += chunk.quarantined;
                    tally.failed += chunk.failed;
                    spent_recs.give_back(chunk.maker, chunk.recs);
                }
                Ok(())
            }
            Some(b) => write_all(b, rx, &finisher, &spent_recs, &bar, &mut tally, batch),
        };
        finisher.finish();
        result
    });
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    let seen = tally.valid + tally.quarantined;
    let c = tally.counts;
    if dry {
        println!(
            "dry run: {} valid, {} would be quarantined, {} failed ({} records in {secs:.1}s, {:.0}/s)",
            tally.valid,
            tally.quarantined,
            tally.failed,
            seen,
            seen as f64 / secs.max(1e-6)
        );
    } else {
        println!(
            "ingested into {url}: {} new, {} replaced, {} duplicates, {} quarantined, {} failed ({} records in {secs:.1}s, {:.0}/s)",
            c.new,
            c.replaced,
            c.duplicates,
            tally.quarantined,
            tally.failed,
            seen,
            seen as f64 / secs.max(1e-6)
        );
    }
    result?;
    Ok(if tally.quarantined > 0 || tally.failed > 0 {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

fn report(bar: &ProgressBar, msg: String) {
    bar.suspend(|| eprintln!("{msg}"));
}

fn read_spool_chunk(
    files: &[(PathBuf, usize)],
    quarantines: &[PathBuf],
    dry: bool,
    users: &mut HashMap<u32, Option<record::Text>>,
    bar: &ProgressBar,
) -> Chunk {
    let mut chunk = Chunk {
        recs: Vec::with_capacity(files.len()),
        files: Vec::with_capacity(files.len()),
        ..Chunk::default()
    };
    for (path, q) in files {
        let claimed = if dry {
            path.clone()
        } else {
            match source::claim(path) {
                Some(p) => p,
                None => continue, // another ingest has it
            }
        };
        let parsed = source::check_name(&claimed)
            .and_then(|()| source::read_file(&claimed, record::MAX_RECORD_BYTES))
            .and_then(|(bytes, uid)| record::parse(&bytes).map(|rec| (rec, uid)));
        match parsed {
            Ok((rec, uid)) => {
                let user = users
                    .entry(uid)
                    .or_insert_with(|| crate::sweep::user_name(uid).map(record::Text::from))
                    .clone();
                chunk.recs.push(Owned {
                    rec,
                    uid: i64::from(uid),
                    user,
                });
                chunk.files.push(claimed);
            }
            Err(why) => {
                chunk.quarantined += 1;
                quarantine(&claimed, path, &quarantines[*q], &why, dry, &mut chunk, bar);
            }
        }
    }
    chunk
}

fn quarantine(
    claimed: &Path,
    shown: &Path,
    q: &Path,
    why: &Refused,
    dry: bool,
    chunk: &mut Chunk,
    bar: &ProgressBar,
) {
    if dry {
        report(bar, format!("pyusage: error: {}: {why}", shown.display()));
        return;
    }
    match source::quarantine_file(claimed, q, why) {
        Ok(to) => report(
            bar,
            format!(
                "pyusage: error: {}: {why}; quarantined as {}",
                shown.display(),
                to.display()
            ),
        ),
        Err(e) => {
            chunk.failed += 1;
            chunk.quarantined -= 1;
            report(
                bar,
                format!(
                    "pyusage: error: {}: {why}; cannot quarantine: {e:#}",
                    shown.display()
                ),
            );
        }
    }
}

/// Lines of an NDJSON file, read by one thread and parsed by the readers.
struct Lines<'a> {
    file: &'a Path,
    quarantine: &'a Path,
    /// The lines back to back; `ends[i]` = (line number, end offset).
    buf: Vec<u8>,
    ends: Vec<(u64, usize)>,
}

/// Reads an NDJSON file into chunks of lines for the reader threads. An
/// overlong line is cut at the size limit (and refused as too large).
fn split_ndjson<'a>(
    file: &'a Path,
    q: &'a Path,
    work: &mpsc::SyncSender<Lines<'a>>,
    spent: &mpsc::Receiver<Lines<'a>>,
    tx: &mpsc::SyncSender<Chunk>,
    bar: &ProgressBar,
) {
    let f = match std::fs::File::open(file) {
        Ok(f) => f,
        Err(e) => {
            report(bar, format!("pyusage: error: {}: {e}", file.display()));
            let _ = tx.send(Chunk {
                failed: 1,
                ..Chunk::default()
            });
            return;
        }
    };
    let mut reader = std::io::BufReader::with_capacity(1 << 20, f);
    let fresh = || match spent.try_recv() {
        Ok(mut old) => {
            old.buf.clear();
            old.ends.clear();
            Lines {
                file,
                quarantine: q,
                ..old
            }
        }
        Err(_) => Lines {
            file,
            quarantine: q,
            buf: Vec::with_capacity(CHUNK * 4096),
            ends: Vec::with_capacity(CHUNK),
        },
    };
    let mut lines = fresh();
    let mut n = 0u64;
    loop {
        let start = lines.buf.len();
        match reader
            .by_ref()
            .take(record::MAX_RECORD_BYTES as u64 + 1)
            .read_until(b'\n', &mut lines.buf)
        {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                report(bar, format!("pyusage: error: {}: {e}", file.display()));
                let _ = tx.send(Chunk {
                    failed: 1,
                    ..Chunk::default()
                });
                break;
            }
        }
        n += 1;
        if lines.buf.last() == Some(&b'\n') {
            lines.buf.pop();
        } else if lines.buf.len() - start > record::MAX_RECORD_BYTES {
            // Skip the rest of an overlong line.
            let mut sink = Vec::new();
            let _ = reader.read_until(b'\n', &mut sink);
        }
        if lines.buf[start..].iter().all(u8::is_ascii_whitespace) {
            lines.buf.truncate(start);
            continue;
        }
        lines.ends.push((n, lines.buf.len()));
        if lines.ends.len() >= CHUNK {
            bar.inc_length(lines.ends.len() as u64);
            if work.send(std::mem::replace(&mut lines, fresh())).is_err() {
                return;
            }
        }
    }
    bar.inc_length(lines.ends.len() as u64);
    let _ = work.send(lines);
}

/// The records of a syslog file, reassembled ([`syslog`]), each owned by its
/// sender as the daemon saw it (see there).
fn read_syslog(file: &Path, q: &Path, dry: bool, bar: &ProgressBar) -> Chunk {
    let mut chunk = Chunk::default();
    let text = match std::fs::read(file) {
        Ok(t) => t,
        Err(e) => {
            report(bar, format!("pyusage: error: {}: {e}", file.display()));
            chunk.failed += 1;
            return chunk;
        }
    };
    let r = syslog::reassemble(&text);
    for (line, why) in &r.problems {
        report(
            bar,
            format!("pyusage: error: {}:{line}: {why}", file.display()),
        );
        chunk.failed += 1;
    }
    let stem = file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    for w in r.whole {
        match record::parse(&w.json) {
            Ok(rec) => {
                let (uid, user) = match w.sender {
                    // Root is the sweep, which states the raw file's owner.
                    Some(0) | None => (rec.claimed_uid, rec.claimed_user.clone()),
                    Some(uid) => (
                        i64::from(uid),
                        crate::sweep::user_name(uid).map(record::Text::from),
                    ),
                };
                chunk.recs.push(Owned { rec, uid, user });
            }
            Err(why) => {
                let shown = format!("{}:{} (record {})", file.display(), w.line, w.id);
                let name = format!("{stem}.{}", w.id);
                let into = (!dry).then_some((q, name.as_str()));
                refuse_bytes(&mut chunk, bar, &shown, &why, &w.json, into);
            }
        }
    }
    chunk
}

/// A record that does not parse, from inside a file (an NDJSON line, a
/// reassembled syslog record): reported as `shown`, and copied into the
/// quarantine as `name` unless this is a dry run (`into` is `None`). Counted
/// as quarantined, or as failed when the copy cannot be made.
fn refuse_bytes(
    chunk: &mut Chunk,
    bar: &ProgressBar,
    shown: &str,
    why: &Refused,
    bytes: &[u8],
    into: Option<(&Path, &str)>,
) {
    let Some((q, name)) = into else {
        chunk.quarantined += 1;
        report(bar, format!("pyusage: error: {shown}: {why}"));
        return;
    };
    match source::quarantine_bytes(bytes, q, name, why) {
        Ok(to) => {
            chunk.quarantined += 1;
            report(
                bar,
                format!(
                    "pyusage: error: {shown}: {why}; quarantined as {}",
                    to.display()
                ),
            );
        }
        Err(e) => {
            chunk.failed += 1;
            report(
                bar,
                format!("pyusage: error: {shown}: {why}; cannot quarantine: {e:#}"),
            );
        }
    }
}

/// Parses a chunk of NDJSON lines. Their records keep the owner they state
/// (the file is an export of a store, not a user's drop).
fn parse_lines(lines: &Lines<'_>, dry: bool, bar: &ProgressBar) -> Chunk {
    let mut chunk = Chunk {
        recs: Vec::with_capacity(lines.ends.len()),
        ..Chunk::default()
    };
    let stem = lines
        .file
        .file_name()
        .unwrap_or_default()
        .to_string_lossy()
        .into_owned();
    let mut start = 0;
    for &(n, end) in &lines.ends {
        let text = &lines.buf[start..end];
        start = end;
        match record::parse(text) {
            Ok(rec) => {
                let (uid, user) = (rec.claimed_uid, rec.claimed_user.clone());
                chunk.recs.push(Owned { rec, uid, user });
            }
            Err(why) => {
                let shown = format!("{}:{n}", lines.file.display());
                let name = format!("{stem}.line-{n}");
                let into = (!dry).then_some((lines.quarantine, name.as_str()));
                refuse_bytes(&mut chunk, bar, &shown, &why, text, into);
            }
        }
    }
    chunk
}

/// The writer: batches of chunks, one transaction each, files finished
/// after each commit; at the end, fork children are linked to parents.
fn write_all(
    backend: &mut dyn Backend,
    rx: mpsc::Receiver<Chunk>,
    finisher: &Finisher,
    spent: &Spent,
    bar: &ProgressBar,
    tally: &mut Tally,
    batch: usize,
) -> Result<()> {
    let mut dims: Option<Dims> = None;
    let mut open = true;
    let mut last_error = None;
    while open {
        // Chunks stay as the readers made them (a record is moved once, not
        // again into one long vector).
        let mut chunks = Vec::new();
        let mut files = Vec::new();
        let mut held = 0;
        match rx.recv() {
            Ok(c) => held += absorb(c, &mut chunks, &mut files, tally, bar),
            Err(_) => break,
        }
        // Wait for a full batch (the queue holds less than one), but not
        // for long: a slow spool still commits, and frees its files, as it
        // goes. Taking only what was queued made every batch ~4,000
        // records whatever `--batch` said.
        let deadline = Instant::now() + BATCH_WAIT;
        while held < batch {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(c) => held += absorb(c, &mut chunks, &mut files, tally, bar),
                Err(mpsc::RecvTimeoutError::Timeout) => break,
                Err(mpsc::RecvTimeoutError::Disconnected) => {
                    open = false;
                    break;
                }
            }
        }
        if held == 0 {
            continue;
        }
        let recs: Vec<&Owned> = chunks.iter().flat_map(|(_, c)| c).collect();
        match store_batch(backend, &mut dims, &recs) {
            Ok(c) => {
                tally.counts.new += c.new;
                tally.counts.replaced += c.replaced;
                tally.counts.duplicates += c.duplicates;
                tally.valid += recs.len() as u64;
                finisher.send(files);
            }
            Err(e) => {
                backend.rollback();
                dims = None;
                tally.failed += recs.len() as u64;
                report(
                    bar,
                    format!("pyusage: error: storing {} records: {e:#}", recs.len()),
                );
                last_error = Some(e);
            }
        }
        bar.inc(recs.len() as u64);
        drop(recs);
        for (maker, c) in chunks {
            spent.give_back(maker, c);
        }
    }
    let linked = (|| {
        backend.begin()?;
        backend.link_parents()?;
        backend.commit()
    })();
    if let Err(e) = linked {
        backend.rollback();
        report(
            bar,
            format!("pyusage: error: linking fork children to parents: {e:#}"),
        );
        tally.failed += 1;
    }
    match last_error {
        Some(e) if tally.counts.new + tally.counts.replaced + tally.counts.duplicates == 0 => {
            Err(e)
        }
        _ => Ok(()),
    }
}

/// Removes (or keeps) committed files on threads of their own: removing a
/// file is slow on many file systems (it frees its blocks, through the
/// journal), and several removals at once overlap that wait. Only files
/// whose records have been committed are ever sent here.
struct Finisher {
    tx: Option<mpsc::Sender<Vec<PathBuf>>>,
}

/// Threads that remove committed files.
const FINISHERS: usize = 8;

impl Finisher {
    fn start<'s, 'e: 's>(
        scope: &'s std::thread::Scope<'s, 'e>,
        done: &'e Done,
        bar: &'e ProgressBar,
    ) -> Finisher {
        let (tx, rx) = mpsc::channel::<Vec<PathBuf>>();
        let rx = std::sync::Arc::new(std::sync::Mutex::new(rx));
        for _ in 0..FINISHERS {
            let rx = rx.clone();
            scope.spawn(move || loop {
                let next = rx.lock().map(|r| r.recv());
                let Ok(Ok(files)) = next else { break };
                for f in files {
                    if let Err(e) = done.finish(&f) {
                        report(
                            bar,
                            format!("pyusage: warning: {e:#} (stored; the next ingest counts it as a duplicate)"),
                        );
                    }
                }
            });
        }
        Finisher { tx: Some(tx) }
    }

    /// Hands over files whose records are committed, in slices so that
    /// all threads get some.
    fn send(&self, files: Vec<PathBuf>) {
        let per = files.len().div_ceil(FINISHERS).max(64);
        let mut files = files;
        while !files.is_empty() {
            let rest = files.split_off(per.min(files.len()));
            if let Some(tx) = &self.tx {
                let _ = tx.send(files);
            }
            files = rest;
        }
    }

    /// No more files; the threads end when they have finished theirs (the
    /// scope waits for them).
    fn finish(mut self) {
        self.tx.take();
    }
}

/// Takes a reader's chunk into the batch; returns how many records it holds.
fn absorb(
    c: Chunk,
    chunks: &mut Vec<(Option<usize>, Vec<Owned>)>,
    files: &mut Vec<PathBuf>,
    tally: &mut Tally,
    bar: &ProgressBar,
) -> usize {
    bar.inc(c.quarantined + c.failed);
    tally.quarantined += c.quarantined;
    tally.failed += c.failed;
    files.extend(c.files);
    let n = c.recs.len();
    chunks.push((c.maker, c.recs));
    n
}

fn store_batch(
    backend: &mut dyn Backend,
    dims: &mut Option<Dims>,
    recs: &[&Owned],
) -> Result<Counts> {
    let stale = backend.begin()?;
    if stale || dims.is_none() {
        *dims = Some(backend.load()?);
    }
    let d = dims.as_mut().expect("loaded above");
    let ids: Vec<&str> = recs.iter().map(|o| o.rec.id.as_str()).collect();
    let existing = backend.existing(&ids)?;
    let (rows, counts) = d.plan(recs, &existing);
    backend.write(&rows, pyusage_store::now_us())?;
    backend.commit()?;
    Ok(counts)
}
