//! One connection type over SQLite and PostgreSQL, returning rows as
//! [`Value`]s so that the sections do not care which backend answered.

use crate::model::Value;
use anyhow::{bail, Context, Result};
use pyusage_store::Store;

/// A store connection for reading.
pub enum Db {
    /// An SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL database.
    Postgres(Box<postgres::Client>),
}

impl From<Store> for Db {
    fn from(s: Store) -> Db {
        match s {
            Store::Sqlite(c) => Db::Sqlite(c),
            Store::Postgres(c) => Db::Postgres(Box::new(c)),
        }
    }
}

impl Db {
    /// Run a statement that returns no rows.
    pub fn exec(&mut self, sql: &str) -> Result<()> {
        let _t = Timing::start(sql);
        match self {
            Db::Sqlite(c) => c.execute_batch(sql).with_context(|| short(sql))?,
            Db::Postgres(c) => c.batch_execute(sql).with_context(|| short(sql))?,
        }
        Ok(())
    }

    /// Run a query; every row as a vector of values (integers and reals as
    /// numbers, text as text, NULL as null).
    pub fn rows(&mut self, sql: &str) -> Result<Vec<Vec<Value>>> {
        let _t = Timing::start(sql);
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare_cached(sql).with_context(|| short(sql))?;
                let n = st.column_count();
                let mut out = Vec::new();
                let mut rows = st.query([]).with_context(|| short(sql))?;
                while let Some(r) = rows.next()? {
                    let mut row = Vec::with_capacity(n);
                    for i in 0..n {
                        use rusqlite::types::ValueRef;
                        row.push(match r.get_ref(i)? {
                            ValueRef::Null => Value::Null,
                            ValueRef::Integer(v) => Value::Num(v as f64),
                            ValueRef::Real(v) => Value::Num(v),
                            ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into()),
                            ValueRef::Blob(_) => bail!("unexpected blob in {}", short(sql)),
                        });
                    }
                    out.push(row);
                }
                Ok(out)
            }
            Db::Postgres(c) => {
                use postgres::types::Type;
                let rows = c.query(sql, &[]).with_context(|| short(sql))?;
                let mut out = Vec::with_capacity(rows.len());
                for r in rows {
                    let mut row = Vec::with_capacity(r.len());
                    for (i, col) in r.columns().iter().enumerate() {
                        let t = col.type_();
                        let v = if *t == Type::INT8 {
                            r.get::<_, Option<i64>>(i).map(|v| v as f64).into()
                        } else if *t == Type::INT4 {
                            r.get::<_, Option<i32>>(i).map(f64::from).into()
                        } else if *t == Type::INT2 {
                            r.get::<_, Option<i16>>(i).map(f64::from).into()
                        } else if *t == Type::FLOAT8 {
                            r.get::<_, Option<f64>>(i).into()
                        } else if *t == Type::FLOAT4 {
                            r.get::<_, Option<f32>>(i).map(f64::from).into()
                        } else if *t == Type::TEXT || *t == Type::VARCHAR {
                            r.get::<_, Option<String>>(i).into()
                        } else {
                            bail!(
                                "column {} has type {t}; cast it in {}",
                                col.name(),
                                short(sql)
                            )
                        };
                        row.push(v);
                    }
                    out.push(row);
                }
                Ok(out)
            }
        }
    }

    /// A single number (0 when the query returns no row or NULL).
    pub fn num(&mut self, sql: &str) -> Result<f64> {
        Ok(self
            .rows(sql)?
            .first()
            .and_then(|r| r.first())
            .and_then(Value::num)
            .unwrap_or(0.0))
    }
}

/// With `PYUSAGE_REPORT_TIMING` set, every statement's time goes to stderr
/// when it is done (for the benchmark and for tuning).
struct Timing<'a> {
    sql: &'a str,
    start: Option<std::time::Instant>,
}

impl<'a> Timing<'a> {
    fn start(sql: &'a str) -> Self {
        let on = std::env::var_os("PYUSAGE_REPORT_TIMING").is_some();
        Timing {
            sql,
            start: on.then(std::time::Instant::now),
        }
    }
}

impl Drop for Timing<'_> {
    fn drop(&mut self) {
        if let Some(t) = self.start {
            let one: String = self.sql.split_whitespace().collect::<Vec<_>>().join(" ");
            eprintln!(
                "{:8.1} ms  {}",
                t.elapsed().as_secs_f64() * 1e3,
                crate::format::clip(&one, 110)
            );
        }
    }
}

/// The start of a statement, for error messages.
fn short(sql: &str) -> String {
    let one: String = sql.split_whitespace().collect::<Vec<_>>().join(" ");
    format!("query failed: {}", crate::format::clip(&one, 160))
}

impl Db {
    /// Run a query and hand each row to `f` as it arrives (SQLite streams;
    /// PostgreSQL fetches all rows first).
    pub fn each(&mut self, sql: &str, mut f: impl FnMut(&[Value]) -> Result<()>) -> Result<()> {
        if let Db::Sqlite(c) = self {
            let _t = Timing::start(sql);
            let mut st = c.prepare(sql).with_context(|| short(sql))?;
            let n = st.column_count();
            let mut rows = st.query([]).with_context(|| short(sql))?;
            let mut row = Vec::with_capacity(n);
            while let Some(r) = rows.next()? {
                row.clear();
                for i in 0..n {
                    use rusqlite::types::ValueRef;
                    row.push(match r.get_ref(i)? {
                        ValueRef::Null => Value::Null,
                        ValueRef::Integer(v) => Value::Num(v as f64),
                        ValueRef::Real(v) => Value::Num(v),
                        ValueRef::Text(t) => Value::Text(String::from_utf8_lossy(t).into()),
                        ValueRef::Blob(_) => bail!("unexpected blob in {}", short(sql)),
                    });
                }
                f(&row)?;
            }
            return Ok(());
        }
        for r in self.rows(sql)? {
            f(&r)?;
        }
        Ok(())
    }
}

/// One row of [`Db::scan`], typed access by column position, without
/// converting every cell to a [`Value`] first (the loader reads millions).
pub enum Row<'a> {
    /// A row from SQLite.
    Sqlite(&'a rusqlite::Row<'a>),
    /// A row from PostgreSQL.
    Postgres(&'a postgres::Row),
}

impl Row<'_> {
    /// An integer column (reals are truncated); `None` for NULL.
    pub fn int(&self, i: usize) -> Result<Option<i64>> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v),
                    ValueRef::Real(v) => Some(v as i64),
                    _ => bail!("column {i} is not a number"),
                })
            }
            Row::Postgres(r) => {
                use postgres::types::Type;
                let t = r.columns()[i].type_();
                Ok(if *t == Type::INT8 {
                    r.try_get::<_, Option<i64>>(i)?
                } else if *t == Type::INT4 {
                    r.try_get::<_, Option<i32>>(i)?.map(i64::from)
                } else if *t == Type::INT2 {
                    r.try_get::<_, Option<i16>>(i)?.map(i64::from)
                } else {
                    self.real(i)?.map(|v| v as i64)
                })
            }
        }
    }

    /// A real column (integers converted); `None` for NULL.
    pub fn real(&self, i: usize) -> Result<Option<f64>> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Integer(v) => Some(v as f64),
                    ValueRef::Real(v) => Some(v),
                    _ => bail!("column {i} is not a number"),
                })
            }
            Row::Postgres(r) => {
                use postgres::types::Type;
                let t = r.columns()[i].type_();
                Ok(if *t == Type::FLOAT8 {
                    r.try_get::<_, Option<f64>>(i)?
                } else if *t == Type::FLOAT4 {
                    r.try_get::<_, Option<f32>>(i)?.map(f64::from)
                } else {
                    self.int(i)?.map(|v| v as f64)
                })
            }
        }
    }

    /// A text column; `None` for NULL.
    pub fn text(&self, i: usize) -> Result<Option<&str>> {
        match self {
            Row::Sqlite(r) => {
                use rusqlite::types::ValueRef;
                Ok(match r.get_ref(i)? {
                    ValueRef::Null => None,
                    ValueRef::Text(t) => Some(std::str::from_utf8(t)?),
                    _ => bail!("column {i} is not text"),
                })
            }
            Row::Postgres(r) => Ok(r.try_get::<_, Option<&str>>(i)?),
        }
    }
}

impl Db {
    /// Run a query and hand each row to `f` as it arrives, with typed
    /// access ([`Row`]); both backends stream.
    pub fn scan(&mut self, sql: &str, mut f: impl FnMut(&Row) -> Result<()>) -> Result<()> {
        let _t = Timing::start(sql);
        match self {
            Db::Sqlite(c) => {
                let mut st = c.prepare(sql).with_context(|| short(sql))?;
                let mut rows = st.query([]).with_context(|| short(sql))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Sqlite(r))?;
                }
            }
            Db::Postgres(c) => {
                use postgres::fallible_iterator::FallibleIterator;
                let none: [&(dyn postgres::types::ToSql + Sync); 0] = [];
                let mut rows = c.query_raw(sql, none).with_context(|| short(sql))?;
                while let Some(r) = rows.next()? {
                    f(&Row::Postgres(&r))?;
                }
            }
        }
        Ok(())
    }

    /// Start a read-only transaction, so that the statements until
    /// [`Db::end_snapshot`] see one state of the store.
    pub fn begin_snapshot(&mut self) -> Result<()> {
        match self {
            // Deferred: the snapshot is taken by the first read.
            Db::Sqlite(_) => self.exec("BEGIN"),
            Db::Postgres(_) => self.exec("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY"),
        }
    }

    /// End the transaction of [`Db::begin_snapshot`] (it wrote nothing).
    pub fn end_snapshot(&mut self) {
        let _ = self.exec("COMMIT");
    }

    /// For SQLite, read the file through a memory map (no copy per page);
    /// a failure only costs speed.
    pub fn map_file(&mut self) {
        if let Db::Sqlite(c) = self {
            let _ = c.execute_batch("PRAGMA mmap_size = 68719476736");
        }
    }

    /// For SQLite, another read-only connection to the same file, so that
    /// a loader can read two tables at once; `None` for PostgreSQL or an
    /// in-memory database. Open it before [`Db::begin_snapshot`] and
    /// [`Helper::join`] the snapshot once it has begun.
    pub fn helper(&self) -> Option<Helper> {
        let Db::Sqlite(c) = self else { return None };
        let path = c.path().filter(|p| !p.is_empty())?;
        let flags =
            rusqlite::OpenFlags::SQLITE_OPEN_READ_ONLY | rusqlite::OpenFlags::SQLITE_OPEN_NO_MUTEX;
        let c = rusqlite::Connection::open_with_flags(path, flags).ok()?;
        c.busy_timeout(std::time::Duration::from_secs(10)).ok()?;
        let mut db = Db::Sqlite(c);
        db.map_file();
        let version = db.num("PRAGMA data_version").ok()?;
        Some(Helper { db, version })
    }

    /// The smallest and largest `id` of a table; `None` when it is empty.
    /// (Two statements: SQLite answers a lone MIN or MAX of the key from
    /// the end of its B-tree, but scans the table for both at once.)
    pub fn id_range(&mut self, table: &str) -> Result<Option<(i64, i64)>> {
        let mut one = |f: &str| -> Result<Option<i64>> {
            let mut v = None;
            self.scan(&format!("SELECT {f}(id) FROM {table}"), |r| {
                v = r.int(0)?;
                Ok(())
            })?;
            Ok(v)
        };
        Ok(one("MIN")?.zip(one("MAX")?))
    }
}

/// A second SQLite connection, with the data version it saw before the
/// main connection's snapshot began ([`Db::helper`]).
pub struct Helper {
    db: Db,
    version: f64,
}

impl Helper {
    /// Start a read transaction: the connection, and whether it sees the
    /// same state as the snapshot that began after [`Db::helper`]. SQLite's
    /// `data_version` changes when another connection has committed since
    /// this one's last read; if it has not, both snapshots fall between the
    /// same two commits, so they are the same. Otherwise the connection
    /// sees a later state.
    pub fn join(mut self) -> Result<(Db, bool)> {
        self.db.begin_snapshot()?;
        let now = self.db.num("PRAGMA data_version")?;
        Ok((self.db, now == self.version))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A WAL store file with one table of `n` rows, removed on drop.
    struct Store(std::path::PathBuf);

    impl Store {
        fn new(name: &str) -> Store {
            let dir =
                std::env::temp_dir().join(format!("pyusage-report-{name}-{}", std::process::id()));
            let _ = std::fs::remove_dir_all(&dir);
            std::fs::create_dir_all(&dir).unwrap();
            let path = dir.join("store.db");
            let c = rusqlite::Connection::open(&path).unwrap();
            c.pragma_update(None, "journal_mode", "WAL").unwrap();
            c.execute_batch("CREATE TABLE t (id INTEGER PRIMARY KEY); INSERT INTO t VALUES (1)")
                .unwrap();
            Store(path)
        }

        fn open(&self) -> Db {
            Db::Sqlite(rusqlite::Connection::open(&self.0).unwrap())
        }

        fn insert(&self, id: i64) {
            let c = rusqlite::Connection::open(&self.0).unwrap();
            c.execute("INSERT INTO t VALUES (?1)", [id]).unwrap();
        }
    }

    impl Drop for Store {
        fn drop(&mut self) {
            if let Some(dir) = self.0.parent() {
                let _ = std::fs::remove_dir_all(dir);
            }
        }
    }

    #[test]
    fn a_helper_shares_the_snapshot_only_when_nothing_was_committed_in_between() {
        let store = Store::new("helper");
        let mut db = store.open();

        // Nothing committed between the helper's opening and its join.
        let helper = db.helper().expect("a helper for a file store");
        db.begin_snapshot().unwrap();
        assert_eq!(db.num("SELECT COUNT(*) FROM t").unwrap(), 1.0);
        let (mut h, same) = helper.join().unwrap();
        assert!(same);
        // A commit after both snapshots began is seen by neither.
        store.insert(2);
        assert_eq!(h.num("SELECT COUNT(*) FROM t").unwrap(), 1.0);
        assert_eq!(db.num("SELECT COUNT(*) FROM t").unwrap(), 1.0);
        h.end_snapshot();
        db.end_snapshot();

        // A commit before the main snapshot began: that snapshot has it,
        // and the helper's is a later one, so it must not be used as the
        // same.
        let helper = db.helper().unwrap();
        store.insert(3);
        db.begin_snapshot().unwrap();
        assert_eq!(db.num("SELECT COUNT(*) FROM t").unwrap(), 3.0);
        let (_, same) = helper.join().unwrap();
        assert!(!same);
        db.end_snapshot();

        // A commit after the main snapshot began but before the helper
        // joined: the helper sees a later state.
        let helper = db.helper().unwrap();
        db.begin_snapshot().unwrap();
        assert_eq!(db.num("SELECT COUNT(*) FROM t").unwrap(), 3.0);
        store.insert(4);
        let (mut h, same) = helper.join().unwrap();
        assert!(!same);
        assert_eq!(h.num("SELECT COUNT(*) FROM t").unwrap(), 4.0);
        db.end_snapshot();
    }

    #[test]
    fn no_helper_for_an_in_memory_store() {
        let db = Db::Sqlite(rusqlite::Connection::open_in_memory().unwrap());
        assert!(db.helper().is_none());
    }

    #[test]
    fn id_range_of_an_empty_and_a_filled_table() {
        let store = Store::new("range");
        let mut db = store.open();
        assert_eq!(db.id_range("t").unwrap(), Some((1, 1)));
        store.insert(7);
        assert_eq!(db.id_range("t").unwrap(), Some((1, 7)));
        db.exec("DELETE FROM t").unwrap();
        assert_eq!(db.id_range("t").unwrap(), None);
    }
}
