//! The PostgreSQL backend: `COPY` for every table, one transaction per batch.
//!
//! The ingest holds a session advisory lock ([`pyusage_store::PG_LOCK_KEY`])
//! from start to end, so no other writer changes the store meanwhile and the
//! writer's in-memory dimension maps stay true; a second ingest waits for the
//! lock before it claims anything of its own. The lock goes with the
//! connection, also when the ingest is killed.

use super::record::{JobKey, Text};
use super::writer::{
    Backend, Dims, Existing, ProcRow, Rows, LINK_PARENTS, PROCESS_COLUMNS, TABLES,
};
use anyhow::{Context, Result};
use postgres::Client;
use std::io::Write;

/// A PostgreSQL store being written.
pub struct Pg<'c> {
    c: &'c mut Client,
    loaded: bool,
}

impl<'c> Pg<'c> {
    /// Takes the writer lock (waiting for another ingest to finish).
    pub fn new(c: &'c mut Client) -> Result<Pg<'c>> {
        c.execute(
            "SELECT pg_advisory_lock($1)",
            &[&pyusage_store::PG_LOCK_KEY],
        )
        .context("taking the ingest lock")?;
        Ok(Pg { c, loaded: false })
    }

    fn copy(&mut self, table: &str, columns: &str, data: &[u8]) -> Result<()> {
        if data.is_empty() {
            return Ok(());
        }
        let mut w = self
            .c
            .copy_in(&format!("COPY {table} ({columns}) FROM STDIN"))
            .with_context(|| format!("COPY {table}"))?;
        w.write_all(data)?;
        w.finish().with_context(|| format!("COPY {table}"))?;
        Ok(())
    }
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
                for &c in s.as_bytes() {
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
            Some(n) => {
                let _ = write!(self.0, "{n}");
            }
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
        let mut l = Line::default();
        for (id, name) in &rows.hosts {
            l.int(Some(*id)).text(Some(name)).end();
        }
        self.copy("hosts", "id, name", &std::mem::take(&mut l.0))?;
        for (id, uid, name) in &rows.users {
            l.int(Some(*id)).int(Some(*uid)).text(name.as_deref()).end();
        }
        self.copy("users", "id, uid, name", &std::mem::take(&mut l.0))?;
        for (id, j) in &rows.jobs {
            l.int(Some(*id))
                .text(Some(&j.scheduler))
                .text(j.cluster.as_deref())
                .text(j.job_id.as_deref())
                .text(j.partition.as_deref())
                .int(j.nodes.map(i64::from))
                .int(j.tasks.map(i64::from))
                .int(j.gpus.map(i64::from))
                .int(j.cpus_per_task.map(i64::from))
                .end();
        }
        self.copy(
            "jobs",
            "id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task",
            &std::mem::take(&mut l.0),
        )?;
        for (id, imp, v) in &rows.interpreters {
            l.int(Some(*id)).text(Some(imp)).text(v.as_deref()).end();
        }
        self.copy(
            "interpreters",
            "id, implementation, version",
            &std::mem::take(&mut l.0),
        )?;
        for (table, col, list) in [
            ("envs", "label", &rows.envs),
            ("dists", "name", &rows.dists),
            ("unmapped_paths", "path", &rows.paths),
        ] {
            for (id, v) in list {
                l.int(Some(*id)).text(Some(v)).end();
            }
            self.copy(table, &format!("id, {col}"), &std::mem::take(&mut l.0))?;
        }
        for (id, dist, v) in &rows.releases {
            l.int(Some(*id)).int(Some(*dist)).text(v.as_deref()).end();
        }
        self.copy("releases", "id, dist, version", &std::mem::take(&mut l.0))?;
        for (id, digest, size) in &rows.sets {
            l.int(Some(*id))
                .text(Some(digest))
                .int(Some(i64::from(*size)))
                .end();
        }
        self.copy(
            "package_sets",
            "id, digest, size",
            &std::mem::take(&mut l.0),
        )?;
        for m in &rows.members {
            l.int(Some(m.set))
                .int(Some(i64::from(m.ord)))
                .int(Some(m.release))
                .int(m.env)
                .text(Some(m.via))
                .int(m.by)
                .end();
        }
        self.copy(
            "package_set_members",
            "package_set, ord, release, env, via, by_dist",
            &std::mem::take(&mut l.0),
        )?;
        if !rows.replaced.is_empty() {
            let ids: Vec<i64> = rows.replaced.iter().map(|p| p.id).collect();
            self.c.execute(
                "DELETE FROM process_unmapped WHERE process = ANY($1)",
                &[&ids],
            )?;
            self.c
                .execute("DELETE FROM processes WHERE id = ANY($1)", &[&ids])?;
        }
        for p in rows.new.iter().chain(&rows.replaced) {
            process_line(&mut l, p, now_us);
        }
        self.copy("processes", PROCESS_COLUMNS, &std::mem::take(&mut l.0))?;
        for (process, path) in &rows.unmapped {
            l.int(Some(*process)).int(Some(*path)).end();
        }
        self.copy(
            "process_unmapped",
            "process, path",
            &std::mem::take(&mut l.0),
        )?;
        Ok(())
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
        self.c.batch_execute("COMMIT")?;
        Ok(())
    }

    fn rollback(&mut self) {
        let _ = self.c.batch_execute("ROLLBACK");
        self.loaded = false;
    }
}
