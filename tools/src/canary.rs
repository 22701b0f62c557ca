//! `pyusage canary`: a traced Python process whose record is followed
//! through the pipeline, for cron.
//!
//! The canary runs Python under the tracer (as `pyusage run` would), makes
//! it import a module of its own (and `--import` distributions), learns the
//! record's id from the raw record the tracer keeps on tmpfs while the
//! process runs, lets the process exit, then waits until the record arrives
//! where it was asked to look: the spool (default), the file rsyslog writes
//! (`--syslog-file`), or the store (`--db`). It prints the delay of each
//! stage it saw, or says where the record stopped, and exits 1.

use crate::config::Settings;
use crate::sinks::Sinks;
use anyhow::{bail, Context, Result};
use clap::Args;
use pyusage_store::{Store, StoreUrl};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{ExitCode, Stdio};
use std::time::{Duration, Instant};

/// `pyusage canary` options.
#[derive(Args, Debug)]
pub struct CanaryArgs {
    #[command(flatten)]
    settings: Settings,
    /// Seconds to wait for the record before giving up.
    #[arg(long, value_name = "S", default_value_t = 60.0)]
    timeout: f64,
    /// Wait for the record in this file (written by rsyslog) instead of the spool.
    #[arg(long, value_name = "FILE")]
    syslog_file: Option<PathBuf>,
    /// Wait for the record in this store (after `pyusage ingest`).
    #[arg(long, value_name = "URL")]
    db: Option<String>,
    /// Python interpreter to run.
    #[arg(long, value_name = "EXE", default_value = "python3")]
    python: PathBuf,
    /// Also import this module (a distribution the map knows, e.g. numpy).
    #[arg(long = "import", value_name = "MODULE")]
    imports: Vec<String>,
    /// Tracer library (default: as `pyusage run` finds it; also $PYUSAGE_LIB).
    #[arg(long, value_name = "FILE", env = "PYUSAGE_LIB")]
    lib: Option<PathBuf>,
}

/// The record did not arrive.
const EXIT_LOST: u8 = 1;

/// A fresh hex nonce: names the canary's module and its temp directory.
fn nonce() -> String {
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| std::io::Read::read_exact(&mut f, &mut b))
        .is_err()
    {
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64);
        b = (t ^ u64::from(std::process::id()) << 40).to_le_bytes();
    }
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// Where the record was seen, and when.
#[derive(Default)]
struct Seen {
    spool: Option<(PathBuf, Duration)>,
    syslog: Option<Duration>,
    store: Option<Duration>,
}

/// Runs `pyusage canary`.
pub fn run(args: CanaryArgs) -> Result<ExitCode> {
    let e = args.settings.load()?;
    let sinks = Sinks::of(&e);
    let tmp = std::env::temp_dir().join(format!("pyusage-canary-{}", nonce()));
    std::fs::create_dir(&tmp).with_context(|| format!("cannot create {}", tmp.display()))?;
    let result = canary(&args, &e, &sinks, &tmp);
    let _ = std::fs::remove_dir_all(&tmp);
    result
}

fn canary(
    args: &CanaryArgs,
    e: &crate::config::Effective,
    sinks: &Sinks,
    tmp: &Path,
) -> Result<ExitCode> {
    let module = format!("pyusage_canary_{}", nonce());
    std::fs::write(tmp.join(format!("{module}.py")), "CANARY = True\n")?;
    let mut script = format!(
        "import sys\nsys.path.insert(0, {:?})\nimport {module}\n",
        tmp
    );
    for m in &args.imports {
        script.push_str(&format!("import {m}\n"));
    }
    script.push_str("sys.stdout.write('ready\\n')\nsys.stdout.flush()\nsys.stdin.read()\n");
    let mut cmd = crate::run::traced_command(
        args.python.as_os_str(),
        args.lib.clone(),
        &args.settings,
        false,
    )?;
    cmd.arg("-c")
        .arg(&script)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let timeout = Duration::from_secs_f64(args.timeout.max(0.0));
    let started = Instant::now();
    let mut child = cmd
        .spawn()
        .with_context(|| format!("cannot run {}", args.python.display()))?;
    let pid = child.id();
    let mut line = String::new();
    let ready = BufReader::new(child.stdout.take().expect("piped"))
        .read_line(&mut line)
        .is_ok()
        && line == "ready\n";
    if !ready {
        let _ = child.kill();
        let out = child.wait_with_output()?;
        bail!(
            "{}: the canary process failed before it was ready ({}): {}",
            args.python.display(),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    // The tracer's raw record (`rec-<pid>-<nonce>.bin`, the canary's own)
    // tells the id; its name does not.
    let prefix = format!("rec-{pid}-");
    let found = std::fs::read_dir(&e.runtime_dir).ok().and_then(|rd| {
        rd.flatten().find_map(|f| {
            let name = f.file_name().to_string_lossy().into_owned();
            name.strip_prefix(&prefix)?.strip_suffix(".bin")?;
            let bytes = std::fs::read(f.path()).ok()?;
            let rec = pyusage_record::raw::RawRecord::parse(&bytes).ok()?;
            Some((
                String::from_utf8_lossy(&rec.id_hex()).into_owned(),
                f.path(),
            ))
        })
    });
    drop(child.stdin.take()); // the process exits now
    let out = child.wait_with_output()?;
    let Some((id, raw)) = found else {
        crate::msg::error_at(
            e.runtime_dir.display(),
            format_args!(
                "the canary (pid {pid}) left no raw record: the tracer did not trace it \
                 (library not preloaded, tracing off, sampled out, or the runtime directory \
                 unusable; run `pyusage doctor`)"
            ),
        );
        return Ok(ExitCode::from(EXIT_LOST));
    };
    if !out.status.success() {
        bail!("the canary process (pid {pid}) ended with {}", out.status);
    }
    let store = args.db.as_deref().map(StoreUrl::parse).transpose()?;
    let mut seen = Seen::default();
    loop {
        let now = started.elapsed();
        if seen.spool.is_none() && sinks.spool {
            let dir = crate::spool::dir_for(&e.spool, &id);
            let file = dir.join(format!("{id}.json"));
            if file.exists() {
                seen.spool = Some((file, now));
            }
        }
        if let (Some(f), None) = (&args.syslog_file, seen.syslog) {
            // Arrived means whole: every chunk there, checksum right.
            let whole = std::fs::read(f).is_ok_and(|b| {
                contains(&b, id.as_bytes())
                    && crate::ingest::syslog::reassemble(&b)
                        .whole
                        .iter()
                        .any(|w| w.id == id)
            });
            if whole {
                seen.syslog = Some(now);
            }
        }
        if let (Some(url), None) = (&store, seen.store) {
            if in_store(url, &id).unwrap_or(false) {
                seen.store = Some(now);
            }
        }
        let done = if store.is_some() {
            seen.store.is_some()
        } else if args.syslog_file.is_some() {
            seen.syslog.is_some()
        } else {
            seen.spool.is_some()
        };
        if done {
            let mut stages = Vec::new();
            if let Some((f, t)) = &seen.spool {
                stages.push(format!(
                    "spool {} after {:.2} s",
                    f.display(),
                    t.as_secs_f64()
                ));
            }
            if let Some(t) = seen.syslog {
                stages.push(format!("syslog file after {:.2} s", t.as_secs_f64()));
            }
            if let (Some(t), Some(url)) = (seen.store, &store) {
                stages.push(format!("store {url} after {:.2} s", t.as_secs_f64()));
            }
            println!(
                "canary: record {id} (pid {pid}) arrived: {}",
                stages.join(", ")
            );
            return Ok(ExitCode::SUCCESS);
        }
        if now >= timeout {
            break;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut why = format!(
        "canary record {id} (pid {pid}) did not arrive within {:?}: ",
        timeout
    );
    if raw.exists() {
        why.push_str(&format!(
            "it stopped on tmpfs ({} is still there: the process could not ship it; \
             the sweep will)",
            raw.display()
        ));
    } else if let Some((f, _)) = &seen.spool {
        why.push_str(&format!(
            "it reached the spool ({}) and stopped there",
            f.display()
        ));
        if store.is_some() {
            why.push_str(": is `pyusage ingest` running?");
        }
    } else if seen.syslog.is_some() {
        why.push_str(
            "it reached the syslog file and stopped there: is `pyusage ingest` reading it?",
        );
    } else if sinks.syslog && args.syslog_file.is_some() {
        why.push_str(&format!(
            "it left the process (shipped to {}) and never reached the syslog file: \
             is rsyslog running and writing there?",
            sinks.target
        ));
    } else if sinks.spool {
        why.push_str(&format!(
            "it left the process but is not in the spool {} (already ingested, or a spool \
             not shared with this host?)",
            e.spool.display()
        ));
    } else {
        why.push_str("it left the process and was not seen again");
    }
    crate::msg::error_at("canary", why);
    let _ = std::io::stdout().flush();
    Ok(ExitCode::from(EXIT_LOST))
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

/// Whether the store has the record.
fn in_store(url: &StoreUrl, id: &str) -> Result<bool> {
    let n: i64 = match Store::open_existing(url)? {
        Store::Sqlite(c) => c.query_row(
            "SELECT count(*) FROM processes WHERE record_id = ?1",
            [id],
            |r| r.get(0),
        )?,
        Store::Postgres(mut c) => c
            .query_one(
                "SELECT count(*) FROM processes WHERE record_id = $1",
                &[&id],
            )?
            .get(0),
    };
    Ok(n > 0)
}
