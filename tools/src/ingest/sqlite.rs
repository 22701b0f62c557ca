//! The SQLite backend: prepared statements inside one write transaction.

use super::record::{JobKey, Text};
use super::writer::{
    Backend, Dims, Existing, MemberRow, ProcRow, Rows, LINK_PARENTS, PROCESS_COLUMNS, TABLES,
};
use anyhow::{Context, Result};
use rusqlite::{params, Connection};

/// An SQLite store being written.
pub struct Sqlite<'c> {
    c: &'c Connection,
    /// `PRAGMA data_version` after this connection's last commit.
    seen: Option<i64>,
}

impl<'c> Sqlite<'c> {
    /// Writes through `c`.
    pub fn new(c: &'c Connection) -> Sqlite<'c> {
        // Index pages of a large store (the indexes on `processes`, the
        // record id's inserted into at random places) stay in memory for the
        // whole ingest instead of being read back for every batch (the
        // default cache is 2 MiB). A failure only costs speed. (Rarer WAL
        // checkpoints saved more, but moved most of an ingest's time after
        // its last commit, into the checkpoint at close.)
        let _ = c.execute_batch("PRAGMA cache_size = -262144");
        Sqlite { c, seen: None }
    }
}

fn text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Text> {
    Ok(Text::from(r.get_ref(i)?.as_str()?))
}

fn opt_text(r: &rusqlite::Row<'_>, i: usize) -> rusqlite::Result<Option<Text>> {
    Ok(r.get_ref(i)?.as_str_or_null()?.map(Text::from))
}

fn insert_process(
    s: &mut rusqlite::CachedStatement<'_>,
    p: &ProcRow<'_>,
    now_us: i64,
) -> Result<()> {
    let r = p.rec;
    s.execute(params![
        p.id,
        r.id.as_str(),
        r.schema,
        p.host,
        p.owner,
        r.claimed_uid,
        r.claimed_user.as_deref(),
        i32::from(p.claim_differs),
        p.job,
        r.step.as_deref(),
        r.rank,
        r.pid,
        r.ppid,
        r.exe.as_str(),
        r.script.as_deref(),
        r.notebook.as_deref(),
        p.interpreter,
        r.prefix.as_deref(),
        r.start_us,
        r.end_us,
        r.how,
        r.status,
        r.signal,
        r.forked_from,
        None::<i64>,
        r.forks,
        r.sample,
        i32::from(r.truncated),
        r.cuda,
        r.mpi,
        r.blas,
        p.package_set,
        r.import_ms,
        now_us,
    ])
    .with_context(|| format!("record {}", r.id))?;
    Ok(())
}

/// Member rows per `INSERT` statement. Members are the most numerous rows
/// (a few per process), and one statement per row paid SQLite's per-statement
/// work (opening cursors, halting, resetting) once per row.
const MEMBERS_PER_INSERT: usize = 32;

fn members_sql(n: usize) -> String {
    format!(
        "INSERT INTO package_set_members (package_set, ord, release, env, via, by_dist) VALUES {}",
        values(n, 6)
    )
}

/// `n` rows of `width` numbered parameters: `(?1, ?2), (?3, ?4)` for 2 and 2.
fn values(n: usize, width: usize) -> String {
    (0..n)
        .map(|row| {
            let cols = (1..=width)
                .map(|c| format!("?{}", row * width + c))
                .collect::<Vec<_>>()
                .join(", ");
            format!("({cols})")
        })
        .collect::<Vec<_>>()
        .join(", ")
}

fn insert_members(c: &Connection, members: &[MemberRow]) -> Result<()> {
    let mut full = c.prepare_cached(&members_sql(MEMBERS_PER_INSERT))?;
    let mut one = c.prepare_cached(&members_sql(1))?;
    let mut groups = members.chunks_exact(MEMBERS_PER_INSERT);
    for group in groups.by_ref() {
        bind_members(&mut full, group)?;
        full.raw_execute()?;
    }
    for m in groups.remainder() {
        bind_members(&mut one, std::slice::from_ref(m))?;
        one.raw_execute()?;
    }
    Ok(())
}

fn bind_members(s: &mut rusqlite::CachedStatement<'_>, members: &[MemberRow]) -> Result<()> {
    for (i, m) in members.iter().enumerate() {
        let b = i * 6; // the width of `members_sql`'s rows
        s.raw_bind_parameter(b + 1, m.set)?;
        s.raw_bind_parameter(b + 2, m.ord)?;
        s.raw_bind_parameter(b + 3, m.release)?;
        s.raw_bind_parameter(b + 4, m.env)?;
        s.raw_bind_parameter(b + 5, m.via)?;
        s.raw_bind_parameter(b + 6, m.by)?;
    }
    Ok(())
}

impl Backend for Sqlite<'_> {
    fn begin(&mut self) -> Result<bool> {
        self.c.execute_batch("BEGIN IMMEDIATE")?;
        let now: i64 = self.c.query_row("PRAGMA data_version", [], |r| r.get(0))?;
        let stale = self.seen != Some(now);
        Ok(stale)
    }

    fn load(&mut self) -> Result<Dims> {
        let c = self.c;
        let mut d = Dims::default();
        let mut s = c.prepare("SELECT id, name FROM hosts")?;
        for row in s.query_map([], |r| Ok((text(r, 1)?, r.get(0)?)))? {
            let (k, v) = row?;
            d.hosts.insert(k, v);
        }
        let mut s = c.prepare("SELECT id, uid, name FROM users")?;
        for row in s.query_map([], |r| Ok(((r.get(1)?, opt_text(r, 2)?), r.get(0)?)))? {
            let (k, v) = row?;
            d.users.insert(k, v);
        }
        let mut s = c.prepare(
            "SELECT id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task FROM jobs",
        )?;
        for row in s.query_map([], |r| {
            Ok((
                JobKey {
                    scheduler: text(r, 1)?,
                    cluster: opt_text(r, 2)?,
                    job_id: opt_text(r, 3)?,
                    partition: opt_text(r, 4)?,
                    nodes: r.get(5)?,
                    tasks: r.get(6)?,
                    gpus: r.get(7)?,
                    cpus_per_task: r.get(8)?,
                },
                r.get(0)?,
            ))
        })? {
            let (k, v) = row?;
            d.jobs.insert(k, v);
        }
        let mut s = c.prepare("SELECT id, implementation, version FROM interpreters")?;
        for row in s.query_map([], |r| Ok(((text(r, 1)?, opt_text(r, 2)?), r.get(0)?)))? {
            let (k, v) = row?;
            d.interpreters.insert(k, v);
        }
        for (table, col, map) in [
            ("envs", "label", &mut d.envs),
            ("dists", "name", &mut d.dists),
            ("package_sets", "digest", &mut d.sets),
            ("unmapped_paths", "path", &mut d.paths),
        ] {
            let mut s = c.prepare(&format!("SELECT id, {col} FROM {table}"))?;
            for row in s.query_map([], |r| Ok((text(r, 1)?, r.get(0)?)))? {
                let (k, v) = row?;
                map.insert(k, v);
            }
        }
        let mut s = c.prepare("SELECT id, dist, version FROM releases")?;
        for row in s.query_map([], |r| Ok(((r.get(1)?, opt_text(r, 2)?), r.get(0)?)))? {
            let (k, v) = row?;
            d.releases.insert(k, v);
        }
        for (i, table) in TABLES.iter().enumerate() {
            d.max[i] = c.query_row(
                &format!("SELECT coalesce(max(id), 0) FROM {table}"),
                [],
                |r| r.get(0),
            )?;
        }
        Ok(d)
    }

    fn existing(&mut self, ids: &[&str]) -> Result<Existing> {
        let mut s = self.c.prepare_cached(
            "SELECT p.id, p.end_us, s.size FROM processes p JOIN package_sets s ON s.id = p.package_set \
             WHERE p.record_id = ?1",
        )?;
        let mut out = Existing::new();
        for id in ids {
            let mut rows = s.query([id])?;
            if let Some(r) = rows.next()? {
                out.insert((*id).to_owned(), (r.get(0)?, r.get(1)?, r.get(2)?));
            }
        }
        Ok(out)
    }

    fn write(&mut self, rows: &Rows<'_>, now_us: i64) -> Result<()> {
        let c = self.c;
        let mut s = c.prepare_cached("INSERT INTO hosts (id, name) VALUES (?1, ?2)")?;
        for (id, name) in &rows.hosts {
            s.execute(params![id, name.as_str()])?;
        }
        let mut s = c.prepare_cached("INSERT INTO users (id, uid, name) VALUES (?1, ?2, ?3)")?;
        for (id, uid, name) in &rows.users {
            s.execute(params![id, uid, name.as_deref()])?;
        }
        let mut s = c.prepare_cached(
            "INSERT INTO jobs (id, scheduler, cluster, job_id, partition, nodes, tasks, gpus, cpus_per_task) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
        )?;
        for (id, j) in &rows.jobs {
            s.execute(params![
                id,
                j.scheduler.as_str(),
                j.cluster.as_deref(),
                j.job_id.as_deref(),
                j.partition.as_deref(),
                j.nodes,
                j.tasks,
                j.gpus,
                j.cpus_per_task
            ])?;
        }
        let mut s = c.prepare_cached(
            "INSERT INTO interpreters (id, implementation, version) VALUES (?1, ?2, ?3)",
        )?;
        for (id, imp, v) in &rows.interpreters {
            s.execute(params![id, imp.as_str(), v.as_deref()])?;
        }
        for (table, col, list) in [
            ("envs", "label", &rows.envs),
            ("dists", "name", &rows.dists),
            ("unmapped_paths", "path", &rows.paths),
        ] {
            let mut s =
                c.prepare_cached(&format!("INSERT INTO {table} (id, {col}) VALUES (?1, ?2)"))?;
            for (id, v) in list {
                s.execute(params![id, v.as_str()])?;
            }
        }
        let mut s =
            c.prepare_cached("INSERT INTO releases (id, dist, version) VALUES (?1, ?2, ?3)")?;
        for (id, dist, v) in &rows.releases {
            s.execute(params![id, dist, v.as_deref()])?;
        }
        let mut s =
            c.prepare_cached("INSERT INTO package_sets (id, digest, size) VALUES (?1, ?2, ?3)")?;
        for (id, digest, size) in &rows.sets {
            s.execute(params![id, digest.as_str(), size])?;
        }
        insert_members(c, &rows.members)?;
        let mut s = c.prepare_cached(&format!(
            "INSERT INTO processes ({PROCESS_COLUMNS}) VALUES {}",
            values(1, 34)
        ))?;
        for p in &rows.new {
            insert_process(&mut s, p, now_us)?;
        }
        if !rows.replaced.is_empty() {
            let mut del = c.prepare_cached("DELETE FROM processes WHERE id = ?1")?;
            let mut del_links =
                c.prepare_cached("DELETE FROM process_unmapped WHERE process = ?1")?;
            for p in &rows.replaced {
                // Children keep pointing at the same id; the row comes back at once.
                del_links.execute([p.id])?;
                del.execute([p.id])?;
                insert_process(&mut s, p, now_us)?;
            }
        }
        let mut s =
            c.prepare_cached("INSERT INTO process_unmapped (process, path) VALUES (?1, ?2)")?;
        for (process, path) in &rows.unmapped {
            s.execute(params![process, path])?;
        }
        Ok(())
    }

    fn link_parents(&mut self) -> Result<u64> {
        Ok(self.c.execute(LINK_PARENTS, [])? as u64)
    }

    fn commit(&mut self) -> Result<()> {
        self.c.execute_batch("COMMIT")?;
        self.seen = Some(self.c.query_row("PRAGMA data_version", [], |r| r.get(0))?);
        Ok(())
    }

    fn rollback(&mut self) {
        let _ = self.c.execute_batch("ROLLBACK");
        self.seen = None;
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn values_numbers_parameters_row_by_row() {
        assert_eq!(super::values(1, 3), "(?1, ?2, ?3)");
        assert_eq!(super::values(2, 2), "(?1, ?2), (?3, ?4)");
    }
}
