//! The pyusage store: where `pyusage ingest` puts records and where
//! `pyusage report` and `pyusage export` read them.
//!
//! One schema serves both backends: an SQLite file (the embedded default, no
//! server) and a PostgreSQL database (a site's store). This crate owns it:
//!
//! - [`schema`]: the DDL of every version and the migrations between them;
//!   `docs/store.md` describes every table and column;
//! - [`package_set_digest`]: the digest that identifies a package set;
//! - [`StoreUrl`]: what `--db` and the `store` configuration key accept;
//! - [`Store`]: a connection to either backend, created or migrated on
//!   opening (an older store is migrated in place, a newer one is refused with
//!   a message naming both versions);
//! - [`StoreError`], [`SchemaError`], [`UrlError`]: why a store cannot be
//!   used, each with its cause.
#![deny(missing_docs)]

mod digest;
mod error;
pub mod schema;
mod url;

pub use digest::{canonical_order, package_set_digest, Member};
pub use error::{DbError, SchemaError, StoreError, UrlError};
pub use schema::{Backend, SCHEMA_VERSION};
pub use url::StoreUrl;

use std::time::{SystemTime, UNIX_EPOCH};

/// The key of the PostgreSQL advisory lock that serialises migrations and
/// writers (ingests), so that concurrent ingests never deadlock on the
/// dimension tables.
pub const PG_LOCK_KEY: i64 = 0x7079_7573_6167_6531; // "pyusage1"

/// How long an SQLite writer waits for another one before giving up.
const SQLITE_BUSY_MS: u64 = 120_000;

/// An open store of either kind.
pub enum Store {
    /// An SQLite file.
    Sqlite(rusqlite::Connection),
    /// A PostgreSQL connection.
    Postgres(postgres::Client),
}

/// Microseconds since the epoch, now.
pub fn now_us() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0)
}

impl Store {
    /// Opens the store, creating it (an SQLite file and its directory's
    /// tables, or the tables in a PostgreSQL database) or migrating it to
    /// [`SCHEMA_VERSION`] as needed. A store written by a newer pyusage is
    /// refused.
    pub fn open(url: &StoreUrl) -> Result<Store, StoreError> {
        let mut store = Store::connect(url)?;
        store.migrate().map_err(|source| StoreError::Schema {
            url: url.to_string(),
            source,
        })?;
        Ok(store)
    }

    /// Opens an existing store for reading; fails (naming the store) if it
    /// does not exist or has no pyusage schema. An older schema is migrated.
    pub fn open_existing(url: &StoreUrl) -> Result<Store, StoreError> {
        if let StoreUrl::Sqlite(path) = url {
            if !path.exists() {
                return Err(StoreError::Missing {
                    url: url.to_string(),
                });
            }
        }
        let mut store = Store::connect(url)?;
        let schema = |source| StoreError::Schema {
            url: url.to_string(),
            source,
        };
        if store.version().map_err(schema)?.is_none() {
            return Err(StoreError::NoTables {
                url: url.to_string(),
            });
        }
        store.migrate().map_err(schema)?;
        Ok(store)
    }

    /// Which backend this is.
    pub fn backend(&self) -> Backend {
        match self {
            Store::Sqlite(_) => Backend::Sqlite,
            Store::Postgres(_) => Backend::Postgres,
        }
    }

    fn connect(url: &StoreUrl) -> Result<Store, StoreError> {
        match url {
            StoreUrl::Sqlite(path) => {
                if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
                    std::fs::create_dir_all(dir).map_err(|source| StoreError::CreateDir {
                        dir: dir.to_path_buf(),
                        source,
                    })?;
                }
                let setup = || -> Result<rusqlite::Connection, rusqlite::Error> {
                    let c = rusqlite::Connection::open(path)?;
                    c.busy_timeout(std::time::Duration::from_millis(SQLITE_BUSY_MS))?;
                    // WAL: reports can read while an ingest writes. FULL: a
                    // committed transaction survives a power cut, since ingest
                    // deletes spool files once it has committed.
                    switch_to_wal(&c)?;
                    c.pragma_update(None, "synchronous", "FULL")?;
                    c.pragma_update(None, "foreign_keys", "OFF")?;
                    Ok(c)
                };
                let c = setup().map_err(|source| StoreError::Open {
                    url: url.to_string(),
                    source,
                })?;
                Ok(Store::Sqlite(c))
            }
            StoreUrl::Postgres(conn) => {
                let c = postgres::Client::connect(conn, postgres::NoTls).map_err(|source| {
                    StoreError::Connect {
                        url: url.to_string(),
                        source,
                    }
                })?;
                Ok(Store::Postgres(c))
            }
        }
    }

    /// The store's schema version; `None` if it has no pyusage tables.
    pub fn version(&mut self) -> Result<Option<i64>, SchemaError> {
        match self {
            Store::Sqlite(c) => {
                let exists: i64 = c.query_row(
                    "SELECT count(*) FROM sqlite_master WHERE name = 'schema_version'",
                    [],
                    |r| r.get(0),
                )?;
                if exists == 0 {
                    return Ok(None);
                }
                Ok(
                    c.query_row("SELECT max(version) FROM schema_version", [], |r| {
                        r.get::<_, Option<i64>>(0)
                    })?,
                )
            }
            Store::Postgres(c) => {
                let exists: bool = c
                    .query_one("SELECT to_regclass('schema_version') IS NOT NULL", &[])?
                    .get(0);
                if !exists {
                    return Ok(None);
                }
                let v: Option<i32> = c
                    .query_one("SELECT max(version) FROM schema_version", &[])?
                    .get(0);
                Ok(v.map(i64::from))
            }
        }
    }

    /// Creates or migrates the schema, under a lock so that concurrent
    /// ingests agree; refuses a store newer than this build.
    pub fn migrate(&mut self) -> Result<(), SchemaError> {
        let tool = format!("pyusage {}", env!("CARGO_PKG_VERSION"));
        let failed = |version: i64| move |e: DbError| SchemaError::Migration { version, source: e };
        match self {
            Store::Sqlite(c) => {
                let tx = c.transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)?;
                tx.execute_batch(schema::VERSION_TABLE)?;
                let have: i64 = tx.query_row(
                    "SELECT coalesce(max(version), 0) FROM schema_version",
                    [],
                    |r| r.get(0),
                )?;
                check_not_newer(have)?;
                for v in have + 1..=SCHEMA_VERSION {
                    let sql = schema::migration(Backend::Sqlite, v).expect("listed migration");
                    tx.execute_batch(&sql).map_err(|e| failed(v)(e.into()))?;
                    tx.execute(
                        "INSERT INTO schema_version (version, applied_us, tool) VALUES (?1, ?2, ?3)",
                        rusqlite::params![v, now_us(), tool],
                    )?;
                }
                tx.commit()?;
            }
            Store::Postgres(c) => {
                let mut tx = c.transaction()?;
                tx.execute("SELECT pg_advisory_xact_lock($1)", &[&PG_LOCK_KEY])?;
                tx.batch_execute(schema::VERSION_TABLE)?;
                let have: i32 = tx
                    .query_one("SELECT coalesce(max(version), 0) FROM schema_version", &[])?
                    .get(0);
                let have = i64::from(have);
                check_not_newer(have)?;
                for v in have + 1..=SCHEMA_VERSION {
                    let sql = schema::migration(Backend::Postgres, v).expect("listed migration");
                    tx.batch_execute(&sql).map_err(|e| failed(v)(e.into()))?;
                    tx.execute(
                        "INSERT INTO schema_version (version, applied_us, tool) VALUES ($1, $2, $3)",
                        &[&(v as i32), &now_us(), &tool],
                    )?;
                }
                tx.commit()?;
            }
        }
        Ok(())
    }
}

/// Puts an SQLite store into WAL mode, waiting for other connections. The
/// switch needs the file to itself, and two connections that both read the
/// header first and then both ask for it are told "locked" at once, without
/// the busy timeout (SQLite's way out of that deadlock): several ingests
/// starting together on a new store did that. So it is retried here.
fn switch_to_wal(c: &rusqlite::Connection) -> rusqlite::Result<()> {
    let deadline = std::time::Instant::now() + std::time::Duration::from_millis(SQLITE_BUSY_MS);
    loop {
        match c.pragma_update(None, "journal_mode", "WAL") {
            Err(rusqlite::Error::SqliteFailure(e, _))
                if e.code == rusqlite::ErrorCode::DatabaseBusy
                    && std::time::Instant::now() < deadline =>
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            other => return other,
        }
    }
}

fn check_not_newer(have: i64) -> Result<(), SchemaError> {
    if have > SCHEMA_VERSION {
        return Err(SchemaError::TooNew {
            found: have,
            known: SCHEMA_VERSION,
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error;

    /// The message and every cause, as `pyusage` prints them.
    fn chain(e: &dyn Error) -> String {
        let mut s = e.to_string();
        let mut cause = e.source();
        while let Some(c) = cause {
            s += &format!(": {c}");
            cause = c.source();
        }
        s
    }

    #[test]
    fn a_missing_store_and_a_newer_schema_are_told_apart() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("usage.db");
        let url = StoreUrl::Sqlite(path.clone());
        let e = Store::open_existing(&url).err().unwrap();
        assert!(matches!(e, StoreError::Missing { .. }), "{e:?}");
        assert!(chain(&e).contains(&path.display().to_string()));

        let Store::Sqlite(c) = Store::open(&url).unwrap() else {
            unreachable!()
        };
        c.execute(
            "INSERT INTO schema_version (version, applied_us, tool) VALUES (99, 0, 'future')",
            [],
        )
        .unwrap();
        drop(c);
        let e = Store::open_existing(&url).err().unwrap();
        assert!(
            matches!(
                e,
                StoreError::Schema {
                    source: SchemaError::TooNew {
                        found: 99,
                        known: SCHEMA_VERSION
                    },
                    ..
                }
            ),
            "{e:?}"
        );
        let said = chain(&e);
        assert!(
            said.starts_with(&format!("store {}: ", path.display()))
                && said.contains("schema version 99")
                && said.contains(&format!("version {SCHEMA_VERSION}")),
            "{said}"
        );
    }

    #[test]
    fn a_file_that_is_not_a_database_is_refused_with_the_client_s_cause() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("junk.db");
        std::fs::write(&path, vec![b'x'; 8192]).unwrap();
        let e = Store::open(&StoreUrl::Sqlite(path.clone())).err().unwrap();
        assert!(matches!(e, StoreError::Open { .. }), "{e:?}");
        let said = chain(&e);
        assert!(
            said.contains(&path.display().to_string()) && said.contains("not a database"),
            "{said}"
        );
    }
}
