//! One shipped record, checked and turned into what the store keeps.
//!
//! Records are hostile input (users can write anything into the spool), so a
//! record is accepted only if it passes, in order: a size limit, UTF-8, a
//! nesting limit (checked only when parsing fails: no deeper record can
//! parse), JSON syntax with no duplicate keys, the shape of
//! `docs/record.schema.json` (every field of its type, no unknown ones), and
//! the schema's ranges, patterns and enumerations plus a length limit on
//! every string and no NUL characters (PostgreSQL cannot store them). Each
//! failure names its [`Reason`].
//!
//! The wire types below borrow from the input where they can and accept
//! every record schema the tracer has shipped: schema 2's fields
//! (`notebook`, `by`, `at_ms`, `job.partition`, `job.gpus`,
//! `job.cpus_per_task`) read as null when absent. [`pyusage_tools::shipped`](crate) is the owned, strict type
//! for tests; this one is the fast, lenient-across-versions reader.

use compact_str::CompactString;
use pyusage_store::Member;
use serde::Deserialize;
use std::borrow::Cow;
use std::fmt;

/// Largest record accepted (bytes): a raw record holds at most 16 MiB.
pub const MAX_RECORD_BYTES: usize = 16 << 20;
/// Deepest nesting of arrays and objects a record has is 3; allow some slack.
pub const MAX_DEPTH: usize = 8;
/// Longest string accepted anywhere in a record (bytes).
pub const MAX_STRING: usize = 4096;
/// Newest record schema this pyusage reads.
pub const NEWEST_SCHEMA: u32 = 2;

/// Why a record was refused; the kebab-case name goes into the reason file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// Larger than [`MAX_RECORD_BYTES`].
    TooLarge,
    /// Not UTF-8.
    NotUtf8,
    /// Nested deeper than [`MAX_DEPTH`].
    TooDeep,
    /// Not JSON at all (syntax).
    NotJson,
    /// An object has the same key twice.
    DuplicateKey,
    /// Wrong shape: missing or unknown field, wrong type.
    Schema,
    /// A value outside what the schema allows (range, pattern, enumeration).
    Value,
    /// A string longer than [`MAX_STRING`] or containing NUL.
    String,
    /// Not a regular file, unreadable, or a name that is not a record's.
    File,
}

impl Reason {
    /// Short name, e.g. `duplicate-key`.
    pub fn name(self) -> &'static str {
        match self {
            Reason::TooLarge => "too-large",
            Reason::NotUtf8 => "not-utf8",
            Reason::TooDeep => "too-deep",
            Reason::NotJson => "not-json",
            Reason::DuplicateKey => "duplicate-key",
            Reason::Schema => "schema",
            Reason::Value => "value",
            Reason::String => "string",
            Reason::File => "file",
        }
    }
}

/// A refused record: the reason and a sentence about it.
#[derive(Debug)]
pub struct Refused {
    /// Which check failed.
    pub reason: Reason,
    /// What exactly.
    pub detail: String,
}

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.reason.name(), self.detail)
    }
}

fn refuse<T>(reason: Reason, detail: impl Into<String>) -> Result<T, Refused> {
    Err(Refused {
        reason,
        detail: detail.into(),
    })
}

/// A string of the record as it is in the input, unless it holds an escape.
/// serde borrows a field declared as a bare `Cow<str>`, but not one inside
/// an `Option` or a `Vec` (most of a record's strings): those were a fresh
/// allocation each, about a hundred per record.
struct S<'a>(Cow<'a, str>);

impl<'de: 'a, 'a> Deserialize<'de> for S<'a> {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<S<'a>, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(Visit).map(S)
    }
}

impl std::ops::Deref for S<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for S<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// An owned string of a checked record. Most of a record's strings (package
/// names, versions, environment labels, host names) fit in 24 bytes and are
/// then kept inline, without an allocation: a record of 20 packages would
/// otherwise cost about a hundred allocations, freed on another thread (the
/// writer's), which was a third of the readers' time.
pub type Text = CompactString;

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Wire<'a> {
    schema: u32,
    #[serde(borrow)]
    id: S<'a>,
    pid: u32,
    ppid: u32,
    uid: u32,
    #[serde(borrow)]
    user: Option<S<'a>>,
    #[serde(borrow)]
    host: S<'a>,
    #[serde(borrow)]
    exe: S<'a>,
    #[serde(borrow)]
    script: Option<S<'a>>,
    #[serde(borrow, default)]
    notebook: Option<S<'a>>,
    #[serde(borrow)]
    python: WirePython<'a>,
    #[serde(borrow)]
    start: S<'a>,
    #[serde(borrow)]
    end: S<'a>,
    #[serde(borrow)]
    ended: WireEnded<'a>,
    #[serde(borrow)]
    job: Option<WireJob<'a>>,
    #[serde(borrow)]
    packages: Vec<WirePackage<'a>>,
    #[serde(borrow)]
    unmapped: Vec<S<'a>>,
    #[serde(borrow)]
    native: WireNative<'a>,
    forked_from: Option<u32>,
    forks: u32,
    sample: f64,
    truncated: bool,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePython<'a> {
    #[serde(borrow)]
    version: Option<S<'a>>,
    #[serde(borrow)]
    implementation: S<'a>,
    #[serde(borrow)]
    prefix: Option<S<'a>>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireEnded<'a> {
    #[serde(borrow)]
    how: S<'a>,
    status: Option<i32>,
    signal: Option<i32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireJob<'a> {
    #[serde(borrow)]
    scheduler: S<'a>,
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    step: Option<S<'a>>,
    #[serde(borrow)]
    cluster: Option<S<'a>>,
    nodes: Option<u32>,
    tasks: Option<u32>,
    rank: Option<u32>,
    #[serde(borrow, default)]
    partition: Option<S<'a>>,
    #[serde(default)]
    gpus: Option<u32>,
    #[serde(default)]
    cpus_per_task: Option<u32>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WirePackage<'a> {
    #[serde(borrow)]
    name: S<'a>,
    #[serde(borrow)]
    version: Option<S<'a>>,
    #[serde(borrow)]
    via: S<'a>,
    #[serde(borrow)]
    env: Option<S<'a>>,
    #[serde(borrow, default)]
    by: Option<S<'a>>,
    #[serde(default)]
    at_ms: Option<u64>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct WireNative<'a> {
    #[serde(borrow)]
    cuda: Vec<S<'a>>,
    #[serde(borrow)]
    mpi: Vec<S<'a>>,
    #[serde(borrow)]
    blas: Vec<S<'a>>,
}

/// A job context: the `jobs` table's natural key.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct JobKey {
    /// `slurm` or `mpi`.
    pub scheduler: Text,
    /// Cluster name.
    pub cluster: Option<Text>,
    /// Job id.
    pub job_id: Option<Text>,
    /// Partition (schema 2).
    pub partition: Option<Text>,
    /// Nodes.
    pub nodes: Option<i32>,
    /// Tasks.
    pub tasks: Option<i32>,
    /// GPUs (schema 2).
    pub gpus: Option<i32>,
    /// CPUs per task (schema 2).
    pub cpus_per_task: Option<i32>,
}

/// One package set member, owned; the order of fields is the canonical
/// order of `docs/store.md`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct MemberKey {
    /// Distribution.
    pub name: Text,
    /// Version.
    pub version: Option<Text>,
    /// Environment label.
    pub env: Option<Text>,
    /// `import`, `extension`, `library`.
    pub via: &'static str,
    /// Importing distribution (schema 2).
    pub by: Option<Text>,
}

/// A checked record, in the store's terms.
#[derive(Clone, Debug)]
pub struct Rec {
    /// 32 hex digits.
    pub id: Text,
    /// Record schema.
    pub schema: i32,
    /// Process ids.
    pub pid: i64,
    /// Parent pid.
    pub ppid: i64,
    /// The uid the record claims.
    pub claimed_uid: i64,
    /// The user name the record claims.
    pub claimed_user: Option<Text>,
    /// Host name.
    pub host: Text,
    /// Executable.
    pub exe: Text,
    /// Script.
    pub script: Option<Text>,
    /// Notebook (schema 2).
    pub notebook: Option<Text>,
    /// `cpython`, `pypy`.
    pub implementation: Text,
    /// Interpreter version.
    pub py_version: Option<Text>,
    /// `sys.prefix`.
    pub prefix: Option<Text>,
    /// Start, µs since the epoch.
    pub start_us: i64,
    /// End, µs since the epoch.
    pub end_us: i64,
    /// How it ended.
    pub how: &'static str,
    /// Exit status.
    pub status: Option<i32>,
    /// Signal.
    pub signal: Option<i32>,
    /// Job context.
    pub job: Option<JobKey>,
    /// Step.
    pub step: Option<Text>,
    /// Rank.
    pub rank: Option<i32>,
    /// Package set members in canonical order.
    pub members: Vec<MemberKey>,
    /// Digest of the members.
    pub digest: String,
    /// JSON array of first-import times aligned with `members`, if any was given.
    pub import_ms: Option<String>,
    /// Unmapped paths, without repeats.
    pub unmapped: Vec<Text>,
    /// Native libraries as JSON arrays, `None` when empty.
    pub cuda: Option<String>,
    /// MPI libraries.
    pub mpi: Option<String>,
    /// BLAS libraries.
    pub blas: Option<String>,
    /// Fork parent pid.
    pub forked_from: Option<i64>,
    /// Fork children.
    pub forks: i32,
    /// Sampling probability.
    pub sample: f64,
    /// Raw record filled up.
    pub truncated: bool,
}

/// Checks size and UTF-8 before parsing, so that those failures are named
/// as such rather than as a parser error.
fn precheck(bytes: &[u8]) -> Result<&str, Refused> {
    if bytes.len() > MAX_RECORD_BYTES {
        return refuse(
            Reason::TooLarge,
            format!("{} bytes, more than {MAX_RECORD_BYTES}", bytes.len()),
        );
    }
    match std::str::from_utf8(bytes) {
        Ok(t) => Ok(t),
        Err(e) => refuse(Reason::NotUtf8, format!("{e}")),
    }
}

/// The nesting check, run only on a record the parser refused: no record
/// nested deeper than [`MAX_DEPTH`] can parse (the record types are at most
/// three levels deep and refuse unknown fields, and the parser stops at 128
/// levels, long before the stack would), so a valid record never pays for
/// this scan, and a deep one is still refused as too deep, not as a
/// parser error.
fn too_deep(bytes: &[u8]) -> Option<Refused> {
    let (mut depth, mut in_string, mut escaped) = (0usize, false, false);
    for (i, &c) in bytes.iter().enumerate() {
        if in_string {
            if escaped {
                escaped = false;
            } else if c == b'\\' {
                escaped = true;
            } else if c == b'"' {
                in_string = false;
            }
            continue;
        }
        match c {
            b'"' => in_string = true,
            b'{' | b'[' => {
                depth += 1;
                if depth > MAX_DEPTH {
                    return Some(Refused {
                        reason: Reason::TooDeep,
                        detail: format!("nested deeper than {MAX_DEPTH} levels at byte {i}"),
                    });
                }
            }
            b'}' | b']' => depth = depth.saturating_sub(1),
            _ => {}
        }
    }
    None
}

fn classify(e: serde_json::Error) -> Refused {
    use serde_json::error::Category;
    let msg = e.to_string();
    let reason = if msg.starts_with("duplicate field") {
        Reason::DuplicateKey
    } else {
        match e.classify() {
            Category::Syntax | Category::Eof | Category::Io => Reason::NotJson,
            Category::Data => Reason::Schema,
        }
    };
    Refused {
        reason,
        detail: msg,
    }
}

/// `YYYY-MM-DDTHH:MM:SS.ffffffZ` -> µs since the epoch.
pub fn parse_time(s: &str) -> Option<i64> {
    let b = s.as_bytes();
    if b.len() != 27
        || &b[4..5] != b"-"
        || &b[7..8] != b"-"
        || b[10] != b'T'
        || b[13] != b':'
        || b[16] != b':'
        || b[19] != b'.'
        || b[26] != b'Z'
    {
        return None;
    }
    let num = |r: std::ops::Range<usize>| -> Option<i64> {
        b[r].iter().try_fold(0i64, |n, &d| {
            d.is_ascii_digit().then(|| n * 10 + i64::from(d - b'0'))
        })
    };
    let (y, mo, d) = (num(0..4)?, num(5..7)?, num(8..10)?);
    let (h, mi, sec, us) = (num(11..13)?, num(14..16)?, num(17..19)?, num(20..26)?);
    if !(1..=12).contains(&mo) || !(1..=31).contains(&d) || h > 23 || mi > 59 || sec > 59 {
        return None;
    }
    // Howard Hinnant's days_from_civil.
    let y = if mo <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (mo + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 86_400 + h * 3600 + mi * 60 + sec) * 1_000_000) + us)
}

/// A string checked for length and NUL.
fn text(field: &str, s: &str) -> Result<Text, Refused> {
    if s.len() > MAX_STRING {
        return refuse(
            Reason::String,
            format!(
                "`{field}` is {} bytes long, more than {MAX_STRING}",
                s.len()
            ),
        );
    }
    if s.contains('\0') {
        return refuse(
            Reason::String,
            format!("`{field}` contains a NUL character"),
        );
    }
    Ok(Text::from(s))
}

fn opt_text(field: &str, s: &Option<S<'_>>) -> Result<Option<Text>, Refused> {
    s.as_deref().map(|s| text(field, s)).transpose()
}

fn nonempty(field: &str, s: &str) -> Result<Text, Refused> {
    if s.is_empty() {
        return refuse(Reason::Value, format!("`{field}` is empty"));
    }
    text(field, s)
}

fn int(v: Option<u32>) -> Option<i32> {
    v.map(|v| v.min(i32::MAX as u32) as i32)
}

fn libs(field: &str, names: &[S<'_>]) -> Result<Option<String>, Refused> {
    for n in names {
        nonempty(field, n)?;
        if n.contains('/') {
            return refuse(
                Reason::Value,
                format!("`{field}` entry {n:?} is a path, not a file name"),
            );
        }
    }
    Ok((!names.is_empty()).then(|| {
        let names: Vec<&str> = names.iter().map(|n| &**n).collect();
        serde_json::to_string(&names).expect("strings serialise")
    }))
}

fn one_of(field: &str, v: &str, allowed: &[&'static str]) -> Result<&'static str, Refused> {
    allowed.iter().copied().find(|a| *a == v).map_or_else(
        || {
            refuse(
                Reason::Value,
                format!("`{field}` is {v:?}, not one of {allowed:?}"),
            )
        },
        Ok,
    )
}

/// Checks `bytes` as one record and converts it.
pub fn parse(bytes: &[u8]) -> Result<Rec, Refused> {
    let text_in = precheck(bytes)?;
    let w: Wire<'_> = serde_json::from_str(text_in)
        .map_err(|e| too_deep(bytes).unwrap_or_else(|| classify(e)))?;
    if w.schema == 0 || w.schema > NEWEST_SCHEMA {
        return refuse(
            Reason::Value,
            format!(
                "record schema {} (this pyusage reads 1 to {NEWEST_SCHEMA})",
                w.schema
            ),
        );
    }
    if w.id.len() != 32 || !w.id.bytes().all(|c| matches!(c, b'0'..=b'9' | b'a'..=b'f')) {
        return refuse(
            Reason::Value,
            format!("`id` {:?} is not 32 lowercase hex digits", w.id),
        );
    }
    if w.pid == 0 {
        return refuse(Reason::Value, "`pid` is 0");
    }
    let start_us = parse_time(&w.start).map_or_else(
        || {
            refuse(
                Reason::Value,
                format!(
                    "`start` {:?} is not an RFC 3339 UTC time with microseconds",
                    w.start
                ),
            )
        },
        Ok,
    )?;
    let end_us = parse_time(&w.end).map_or_else(
        || {
            refuse(
                Reason::Value,
                format!(
                    "`end` {:?} is not an RFC 3339 UTC time with microseconds",
                    w.end
                ),
            )
        },
        Ok,
    )?;
    let how = one_of(
        "ended.how",
        &w.ended.how,
        &["exit", "_exit", "exec", "signal", "vanished"],
    )?;
    if w.ended.signal.is_some_and(|s| s < 1) {
        return refuse(Reason::Value, "`ended.signal` is below 1");
    }
    if let Some(v) = &w.python.version {
        let digits = v.split('.').take(3).collect::<Vec<_>>();
        if digits.len() < 3
            || digits
                .iter()
                .any(|d| !d.bytes().next().is_some_and(|c| c.is_ascii_digit()))
        {
            return refuse(
                Reason::Value,
                format!("`python.version` {v:?} is not N.N.N"),
            );
        }
    }
    if w.forked_from == Some(0) {
        return refuse(Reason::Value, "`forked_from` is 0");
    }
    if !(w.sample > 0.0 && w.sample <= 1.0) {
        return refuse(
            Reason::Value,
            format!("`sample` {} is not in (0, 1]", w.sample),
        );
    }
    let (job, step, rank) = match &w.job {
        None => (None, None, None),
        Some(j) => (
            Some(JobKey {
                scheduler: Text::const_new(one_of(
                    "job.scheduler",
                    &j.scheduler,
                    &["slurm", "mpi"],
                )?),
                cluster: opt_text("job.cluster", &j.cluster)?,
                job_id: opt_text("job.id", &j.id)?,
                partition: opt_text("job.partition", &j.partition)?,
                nodes: int(j.nodes),
                tasks: int(j.tasks),
                gpus: int(j.gpus),
                cpus_per_task: int(j.cpus_per_task),
            }),
            opt_text("job.step", &j.step)?,
            int(j.rank),
        ),
    };
    let mut members = Vec::with_capacity(w.packages.len());
    let mut any_time = false;
    for p in &w.packages {
        members.push((
            MemberKey {
                name: nonempty("packages.name", &p.name)?,
                version: opt_text("packages.version", &p.version)?,
                env: opt_text("packages.env", &p.env)?,
                via: one_of("packages.via", &p.via, &["import", "extension", "library"])?,
                by: match &p.by {
                    Some(b) => Some(nonempty("packages.by", b)?),
                    None => None,
                },
            },
            p.at_ms,
        ));
        any_time |= p.at_ms.is_some();
    }
    members.sort_unstable();
    // The same member twice (a hostile or odd record) counts once, at its
    // earliest time.
    members.dedup_by(|later, earlier| {
        if later.0 == earlier.0 {
            earlier.1 = match (earlier.1, later.1) {
                (Some(a), Some(b)) => Some(a.min(b)),
                (a, b) => a.or(b),
            };
            true
        } else {
            false
        }
    });
    let view: Vec<Member<'_>> = members
        .iter()
        .map(|(m, _)| Member {
            name: &m.name,
            version: m.version.as_deref(),
            env: m.env.as_deref(),
            via: m.via,
            by: m.by.as_deref(),
        })
        .collect();
    let digest = pyusage_store::package_set_digest(&view);
    drop(view);
    let import_ms = any_time.then(|| {
        serde_json::to_string(&members.iter().map(|(_, t)| *t).collect::<Vec<_>>())
            .expect("numbers serialise")
    });
    let mut unmapped = Vec::with_capacity(w.unmapped.len());
    for u in &w.unmapped {
        unmapped.push(nonempty("unmapped", u)?);
    }
    unmapped.sort_unstable();
    unmapped.dedup();
    Ok(Rec {
        id: Text::from(&*w.id),
        schema: w.schema as i32,
        pid: i64::from(w.pid),
        ppid: i64::from(w.ppid),
        claimed_uid: i64::from(w.uid),
        claimed_user: opt_text("user", &w.user)?,
        host: text("host", &w.host)?,
        exe: text("exe", &w.exe)?,
        script: opt_text("script", &w.script)?,
        notebook: opt_text("notebook", &w.notebook)?,
        implementation: text("python.implementation", &w.python.implementation)?,
        py_version: opt_text("python.version", &w.python.version)?,
        prefix: opt_text("python.prefix", &w.python.prefix)?,
        start_us,
        end_us,
        how,
        status: w.ended.status,
        signal: w.ended.signal,
        job,
        step,
        rank,
        members: members.into_iter().map(|(m, _)| m).collect(),
        digest,
        import_ms,
        unmapped,
        cuda: libs("native.cuda", &w.native.cuda)?,
        mpi: libs("native.mpi", &w.native.mpi)?,
        blas: libs("native.blas", &w.native.blas)?,
        forked_from: w.forked_from.map(i64::from),
        forks: int(Some(w.forks)).unwrap_or(0),
        sample: w.sample,
        truncated: w.truncated,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:00:00.000000Z"), Some(0));
        assert_eq!(
            parse_time("2024-02-29T12:34:56.789012Z"),
            Some(1_709_210_096_789_012)
        );
        assert_eq!(parse_time("2024-02-29T12:34:56.789012"), None);
        assert_eq!(parse_time("2024-13-29T12:34:56.789012Z"), None);
        assert_eq!(parse_time("2024-02-29T12:34:5x.789012Z"), None);
    }

    #[test]
    fn depth_is_checked_outside_strings_only() {
        assert!(too_deep(br#"{"a":"[[[[[[[[[[[[[[[["}"#).is_none());
        let deep = format!("{}{}", "[".repeat(20), "]".repeat(20));
        assert_eq!(parse(deep.as_bytes()).unwrap_err().reason, Reason::TooDeep);
        // Deeper than the parser's own limit: still named as too deep.
        let deeper = format!("{}{}", "[".repeat(500), "]".repeat(500));
        assert_eq!(
            parse(deeper.as_bytes()).unwrap_err().reason,
            Reason::TooDeep
        );
    }
}
