//! The PostgreSQL backend: `COPY` for every table, on two connections at
//! once, one transaction per batch on each.
//!
//! The ingest holds a session advisory lock ([`pyusage_store::PG_LOCK_KEY`])
//! from start to end, so no other writer changes the store meanwhile and the
//! writer's in-memory dimension maps stay true; a second ingest waits for the
//! lock before it claims anything of its own. The lock goes with the
//! connection, also when the ingest is killed.
//!
//! The server's side of a bulk load is one process per connection, and its
//! work (parsing rows, inserting each into the table and its B-tree
//! indexes) is about as much CPU as the client's reading and checking. So
//! each batch is written on two connections at once: the first (which holds
//! the lock) takes the dimension rows, package sets and their members, the
//! second, driven by a thread of its own ([`Side`]), the `processes` rows and
//! their unmapped paths. The first commits before the second, so a committed
//! process never points at a dimension row that is not committed. Killed
//! between the two commits, a store holds dimension rows that no process uses
//! yet; the batch's records are still in the spool (files are removed only
//! after both commits) and the next ingest stores them, pointing at those
//! rows.

use super::record::{JobKey, Text};
use super::writer::{
    Backend, Dims, Existing, ProcRow, Rows, LINK_PARENTS, PROCESS_COLUMNS, TABLES,
};
use anyhow::{anyhow, bail, Context, Result};
use postgres::{Client, NoTls};
use pyusage_store::StoreUrl;
use std::io::Write;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// A PostgreSQL store being written.
pub struct Pg<'c> {
    /// Holds the lock; dimension tables, package sets, members, queries.
    c: &'c mut Client,
    /// `processes` and `process_unmapped`, on the second connection.
    side: Side,
    /// COPY text being formatted (kept: a fresh buffer per table and batch
    /// costs the kernel's zeroing of fresh pages).
    line: Line,
    loaded: bool,
}

impl<'c> Pg<'c> {
    /// Takes the writer lock (waiting for another ingest to finish), then
    /// opens the second connection to the same database (`url`: the one
    /// `c` was opened with).
    pub fn new(c: &'c mut Client, url: &StoreUrl) -> Result<Pg<'c>> {
        let StoreUrl::Postgres(conn) = url else {
            bail!("{url}: not a PostgreSQL store");
        };
        c.execute(
            "SELECT pg_advisory_lock($1)",
            &[&pyusage_store::PG_LOCK_KEY],
        )
        .context("taking the ingest lock")?;
        let side = Client::connect(conn, NoTls).context("opening a second connection")?;
        Ok(Pg {
            c,
            side: Side::start(side)?,
            line: Line::default(),
            loaded: false,
        })
    }
}

/// Bytes of COPY data handed to the connection at a time: the server
/// parses and inserts one piece while the next is formatted or sent.
const PIECE: usize = 64 * 1024;

/// `COPY table (columns) FROM STDIN` of the rows that `fill` formats into
/// `l`, one call per row; nothing is sent when there are no rows.
fn copy<T>(
    c: &mut Client,
    l: &mut Line,
    table: &str,
    columns: &str,
    rows: impl IntoIterator<Item = T>,
    mut fill: impl FnMut(&mut Line, T),
) -> Result<()> {
    let mut rows = rows.into_iter().peekable();
    if rows.peek().is_none() {
        return Ok(());
    }
    let what = || format!("COPY {table}");
    let mut w = c
        .copy_in(&format!("COPY {table} ({columns}) FROM STDIN"))
        .with_context(what)?;
    l.0.clear();
    for row in rows {
        fill(l, row);
        if l.0.len() >= PIECE {
            w.write_all(&l.0).with_context(what)?;
            l.0.clear();
        }
    }
    w.write_all(&l.0).with_context(what)?;
    w.finish().with_context(what)?;
    Ok(())
}

/// `COPY table (columns) FROM STDIN` of text already formatted.
fn copy_text(c: &mut Client, table: &str, columns: &str, text: &[u8]) -> Result<()> {
    if text.is_empty() {
        return Ok(());
    }
    let what = || format!("COPY {table}");
    let mut w = c
        .copy_in(&format!("COPY {table} ({columns}) FROM STDIN"))
        .with_context(what)?;
    for piece in text.chunks(PIECE) {
        w.write_all(piece).with_context(what)?;
    }
    w.finish().with_context(what)?;
    Ok(())
}

/// What the writer asks of the second connection, in order; each batch is
/// `Begin`, `Write`, then `Commit` or `Rollback`.
enum Job {
    Begin,
    /// Processes replaced by a better copy (their rows and links are
    /// deleted first), then the COPY text of `processes` and of
    /// `process_unmapped`.
    Write {
        replaced: Vec<i64>,
        processes: Vec<u8>,
        unmapped: Vec<u8>,
    },
    Commit,
    Rollback,
}

/// The second connection, on a thread that lives as long as the ingest, so
/// that its COPY runs while the writer formats and sends the other tables.
/// A failure is kept and reported at the batch's commit.
struct Side {
    jobs: Option<mpsc::Sender<Job>>,
    /// The answer to each `Commit`.
    committed: mpsc::Receiver<Result<()>>,
    /// Buffers sent with `Write`, back for reuse.
    spent: mpsc::Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Side {
    fn start(mut c: Client) -> Result<Side> {
        let (jobs, rx) = mpsc::channel::<Job>();
        let (committed_tx, committed) = mpsc::channel();
        let (spent_tx, spent) = mpsc::channel();
        let thread = std::thread::Builder::new()
            .name("pg-processes".into())
            .spawn(move || {
                let mut failed: Option<anyhow::Error> = None;
                for job in rx {
                    match job {
                        Job::Begin => failed = c.batch_execute("BEGIN").err().map(Into::into),
                        Job::Write {
                            replaced,
                            processes,
                            unmapped,
                        } => {
                            if failed.is_none() {
                                failed =
                                    write_processes(&mut c, &replaced, &processes, &unmapped).err();
                            }
                            let _ = spent_tx.send(processes);
                            let _ = spent_tx.send(unmapped);
                        }
                        Job::Commit => {
                            let result = match failed.take() {
                                Some(e) => {
                                    let _ = c.batch_execute("ROLLBACK");
                                    Err(e)
                                }
                                None => c.batch_execute("COMMIT").context("COMMIT (processes)"),
                            };
                            if committed_tx.send(result).is_err() {
                                break;
                            }
                        }
                        Job::Rollback => {
                            failed = None;
                            let _ = c.batch_execute("ROLLBACK");
                        }
                    }
                }
            })
            .context("starting the processes writer")?;
        Ok(Side {
            jobs: Some(jobs),
            committed,
            spent,
            thread: Some(thread),
        })
    }

    fn send(&self, job: Job) -> Result<()> {
        self.jobs
            .as_ref()
            .and_then(|j| j.send(job).ok())
            .ok_or_else(|| anyhow!("the processes writer has stopped"))
    }

    /// A buffer for COPY text: one back from the thread, or a new one.
    fn buffer(&self) -> Vec<u8> {
        let mut b = self.spent.try_recv().unwrap_or_default();
        b.clear();
        b
    }

    fn commit(&self) -> Result<()> {
        self.send(Job::Commit)?;
        self.committed
            .recv()
            .map_err(|_| anyhow!("the processes writer has stopped"))?
    }
}

impl Drop for Side {
    fn drop(&mut self) {
        self.jobs.take();
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// On the second connection: the processes of a batch (a replaced one's old
/// row and links first) and their unmapped paths.
fn write_processes(
    c: &mut Client,
    replaced: &[i64],
    processes: &[u8],
    unmapped: &[u8],
) -> Result<()> {
    if !replaced.is_empty() {
        c.execute(
            "DELETE FROM process_unmapped WHERE process = ANY($1)",
            &[&replaced],
        )?;
        c.execute("DELETE FROM processes WHERE id = ANY($1)", &[&replaced])?;
    }
    copy_text(c, "processes", PROCESS_COLUMNS, processes)?;
    copy_text(c, "process_unmapped", "process, path", unmapped)
}

/// One line of `COPY ... FROM STDIN` text format.
struct Line(Vec<u8>, bool);

impl Default for Line {
    fn default() -> Line {
        Line(Vec::new(), true)
    }
}

impl Line {
    fn sep(&mut self) {
        if !self.1 {
            self.0.push(b'\t');
        }
        self.1 = false;
    }
    fn text(&mut self, v: Option<&str>) -> &mut Self {
        self.sep();
        match v {
            None => self.0.extend_from_slice(b"\\N"),
            Some(s) => {
                let b = s.as_bytes();
                if !b
                    .iter()
                    .any(|&c| matches!(c, b'\\' | b'\t' | b'\n' | b'\r'))
                {
                    self.0.extend_from_slice(b);
                    return self;
                }
                for &c in b {
                    match c {
                        b'\\' => self.0.extend_from_slice(b"\\\\"),
                        b'\t' => self.0.extend_from_slice(b"\\t"),
                        b'\n' => self.0.extend_from_slice(b"\\n"),
                        b'\r' => self.0.extend_from_slice(b"\\r"),
                        c => self.0.push(c),
                    }
                }
            }
        }
        self
    }
    fn int(&mut self, v: Option<i64>) -> &mut Self {
        self.sep();
        match v {
            None => self.0.extend_from_slice(b"\\N"),
            Some(n) => self
                .0
                .extend_from_slice(itoa::Buffer::new().format(n).as_bytes()),
        }
        self
    }
    fn float(&mut self, v: f64) -> &mut Self {
        self.sep();
        let _ = write!(self.0, "{v:?}");
        self
    }
    fn end(&mut self) {
        self.0.push(b'\n');
        self.1 = true;
    }
}

fn process_line(l: &mut Line, p: &ProcRow<'_>, now_us: i64) {
    let r = p.rec;
    l.int(Some(p.id))
        .text(Some(&r.id))
        .int(Some(i64::from(r.schema)))
        .int(Some(p.host))
        .int(Some(p.owner))
        .int(Some(r.claimed_uid))
        .text(r.claimed_user.as_deref())
        .int(Some(i64::from(p.claim_differs)))
        .int(p.job)
        .text(r.step.as_deref())
        .int(r.rank.map(i64::from))
        .int(Some(r.pid))
        .int(Some(r.ppid))
        .text(Some(&r.exe))
        .text(r.script.as_deref())
        .text(r.notebook.as_deref())
        .int(Some(p.interpreter))
        .text(r.prefix.as_deref())
        .int(Some(r.start_us))
        .int(Some(r.end_us))
        .text(Some(r.how))
        .int(r.status.map(i64::from))
        .int(r.signal.map(i64::from))
        .int(r.forked_from)
        .int(None)
        .int(Some(i64::from(r.forks)))
        .float(r.sample)
        .int(Some(i64::from(r.truncated)))
        .text(r.cuda.as_deref())
        .text(r.mpi.as_deref())
        .text(r.blas.as_deref())
        .int(Some(p.package_set))
        .text(r.import_ms.as_deref())
        .int(Some(now_us))
        .end();
}

fn text(r: &postgres::Row, i: usize) -> Text {
    Text::from(r.get::<_, &str>(i))
}

fn opt_text(r: &postgres::Row, i: usize) -> Option<Text> {
    r.get::<_, Option<&str>>(i).map(Text::from)
}

fn int32(r: &postgres::Row, i: usize) -> Option<i32> {
    r.get::<_, Option<i32>>(i)
}

impl Backend for Pg<'_> {
    fn begin(&mut self) -> Result<bool> {
        self.c.batch_execute("BEGIN")?;
        self.side.send(Job::Begin)?;
        Ok(!self.loaded)
    }

    fn load(&mut self) -> Result<Dims> {
        let mut d = Dims::default();
        for r in self.c.query("SELECT id, name FROM hosts", &[])? {
            d.hosts.insert(text(&r, 1), r.get(0));
        }
        for r in self.c.query("SELECT id, uid, name FROM users", &[])? {
            d.users.insert((r.get(1), opt_text(&r, 2)), r.get(0));
        }
        for r in self.c.query(
            "SELECT id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task FROM jobs",
            &[],
        )? {
            d.jobs.insert(
                JobKey {
                    scheduler: text(&r, 1),
                    cluster: opt_text(&r, 2),
                    job_id: opt_text(&r, 3),
                    partition: opt_text(&r, 4),
                    nodes: int32(&r, 5),
                    tasks: int32(&r, 6),
                    gpus: int32(&r, 7),
                    cpus_per_task: int32(&r, 8),
                },
                r.get(0),
            );
        }
        for r in self
            .c
            .query("SELECT id, implementation, version FROM interpreters", &[])?
        {
            d.interpreters
                .insert((text(&r, 1), opt_text(&r, 2)), r.get(0));
        }
        for (table, col, map) in [
            ("envs", "label", &mut d.envs),
            ("dists", "name", &mut d.dists),
            ("package_sets", "digest", &mut d.sets),
            ("unmapped_paths", "path", &mut d.paths),
        ] {
            for r in self
                .c
                .query(&format!("SELECT id, {col} FROM {table}"), &[])?
            {
                map.insert(text(&r, 1), r.get(0));
            }
        }
        for r in self
            .c
            .query("SELECT id, dist, version FROM releases", &[])?
        {
            d.releases.insert((r.get(1), opt_text(&r, 2)), r.get(0));
        }
        for (i, table) in TABLES.iter().enumerate() {
            d.max[i] = self
                .c
                .query_one(
                    &format!("SELECT coalesce(max(id), 0)::bigint FROM {table}"),
                    &[],
                )?
                .get(0);
        }
        self.loaded = true;
        Ok(d)
    }

    fn existing(&mut self, ids: &[&str]) -> Result<Existing> {
        // A batch's ids are looked up one by one in the record id's index
        // (and the few found joined to their set by its key), whatever the
        // planner's statistics say: with none yet (a store that is new, or
        // grew since autovacuum last looked) it chose to read all of
        // `processes` and `package_sets` for every batch, a cost that grows
        // with the store (a batch of 5,000 new ids against 100,000 stored
        // processes: 27-47 ms, against 13-19 ms by the index). For the
        // rest of this transaction only; what follows is COPY and COMMIT.
        self.c.batch_execute(
            "SET LOCAL enable_seqscan = off; SET LOCAL enable_hashjoin = off; \
             SET LOCAL enable_mergejoin = off",
        )?;
        let mut out = Existing::new();
        for r in self.c.query(
            "SELECT p.record_id, p.id, p.end_us, s.size FROM processes p \
             JOIN package_sets s ON s.id = p.package_set WHERE p.record_id = ANY($1)",
            &[&ids],
        )? {
            out.insert(r.get(0), (r.get(1), r.get(2), r.get(3)));
        }
        Ok(out)
    }

    fn write(&mut self, rows: &Rows<'_>, now_us: i64) -> Result<()> {
        // The processes first, to the second connection, which then loads
        // them while this one loads the rest.
        let mut processes = self.side.buffer();
        let mut unmapped = self.side.buffer();
        std::mem::swap(&mut self.line.0, &mut processes);
        for p in rows.new.iter().chain(&rows.replaced) {
            process_line(&mut self.line, p, now_us);
        }
        std::mem::swap(&mut self.line.0, &mut processes);
        std::mem::swap(&mut self.line.0, &mut unmapped);
        for (process, path) in &rows.unmapped {
            self.line.int(Some(*process)).int(Some(*path)).end();
        }
        std::mem::swap(&mut self.line.0, &mut unmapped);
        self.side.send(Job::Write {
            replaced: rows.replaced.iter().map(|p| p.id).collect(),
            processes,
            unmapped,
        })?;
        write_dims(self.c, &mut self.line, rows)
    }

    fn link_parents(&mut self) -> Result<u64> {
        let n = self.c.execute(LINK_PARENTS, &[])?;
        // Ids are assigned by ingest; keep the identity sequences past them
        // so that a row added by hand does not collide.
        for table in TABLES {
            self.c.query_one(
                &format!(
                    "SELECT setval(pg_get_serial_sequence('{table}', 'id'), \
                     GREATEST((SELECT max(id) FROM {table}), 1))"
                ),
                &[],
            )?;
        }
        Ok(n)
    }

    fn commit(&mut self) -> Result<()> {
        // Dimension rows first: see the module's comment.
        self.c.batch_execute("COMMIT")?;
        self.side.commit()
    }

    fn rollback(&mut self) {
        let _ = self.c.batch_execute("ROLLBACK");
        let _ = self.side.send(Job::Rollback);
        self.loaded = false;
    }
}

/// Everything but the processes: new dimension rows, package sets and their
/// members.
fn write_dims(c: &mut Client, l: &mut Line, rows: &Rows<'_>) -> Result<()> {
    copy(c, l, "hosts", "id, name", &rows.hosts, |l, (id, name)| {
        l.int(Some(*id)).text(Some(name)).end()
    })?;
    copy(
        c,
        l,
        "users",
        "id, uid, name",
        &rows.users,
        |l, (id, uid, name)| l.int(Some(*id)).int(Some(*uid)).text(name.as_deref()).end(),
    )?;
    copy(
        c,
        l,
        "jobs",
        "id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task",
        &rows.jobs,
        |l, (id, j)| {
            l.int(Some(*id))
                .text(Some(&j.scheduler))
                .text(j.cluster.as_deref())
                .text(j.job_id.as_deref())
                .text(j.partition.as_deref())
                .int(j.nodes.map(i64::from))
                .int(j.tasks.map(i64::from))
                .int(j.gpus.map(i64::from))
                .int(j.cpus_per_task.map(i64::from))
                .end()
        },
    )?;
    copy(
        c,
        l,
        "interpreters",
        "id, implementation, version",
        &rows.interpreters,
        |l, (id, imp, v)| l.int(Some(*id)).text(Some(imp)).text(v.as_deref()).end(),
    )?;
    for (table, columns, list) in [
        ("envs", "id, label", &rows.envs),
        ("dists", "id, name", &rows.dists),
        ("unmapped_paths", "id, path", &rows.paths),
    ] {
        copy(c, l, table, columns, list, |l, (id, v)| {
            l.int(Some(*id)).text(Some(v)).end()
        })?;
    }
    copy(
        c,
        l,
        "releases",
        "id, dist, version",
        &rows.releases,
        |l, (id, dist, v)| l.int(Some(*id)).int(Some(*dist)).text(v.as_deref()).end(),
    )?;
    copy(
        c,
        l,
        "package_sets",
        "id, digest, size",
        &rows.sets,
        |l, (id, digest, size)| {
            l.int(Some(*id))
                .text(Some(digest))
                .int(Some(i64::from(*size)))
                .end()
        },
    )?;
    copy(
        c,
        l,
        "package_set_members",
        "package_set, ord, release, env, via, by_dist",
        &rows.members,
        |l, m| {
            l.int(Some(m.set))
                .int(Some(i64::from(m.ord)))
                .int(Some(m.release))
                .int(m.env)
                .text(Some(m.via))
                .int(m.by)
                .end()
        },
    )
}
