//! Why a store cannot be used: typed, so that a caller (or a test) can tell
//! a missing store from a newer schema from a refused connection, and each
//! carries its cause, which `pyusage` prints after it
//! (`pyusage: error: store /var/lib/pyusage/usage.db: cannot open: <cause>`).

use std::path::PathBuf;

/// An error of either database client.
#[derive(Debug, thiserror::Error)]
pub enum DbError {
    /// From SQLite.
    #[error(transparent)]
    Sqlite(#[from] rusqlite::Error),
    /// From PostgreSQL.
    #[error(transparent)]
    Postgres(#[from] postgres::Error),
}

/// Why a `--db` value or `store` key is not a store location.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum UrlError {
    /// An empty string.
    #[error("empty store location")]
    Empty,
    /// `sqlite:` with nothing after it.
    #[error("{0}: no file name after `sqlite:`")]
    NoSqlitePath(String),
    /// `scheme://...` with a scheme that is neither SQLite nor PostgreSQL.
    #[error("{url}: unknown store kind `{scheme}` (use a path, sqlite:PATH or postgresql://...)")]
    UnknownScheme {
        /// The value as given.
        url: String,
        /// The part before `://`.
        scheme: String,
    },
}

/// Why the schema cannot be read, created or migrated.
#[derive(Debug, thiserror::Error)]
pub enum SchemaError {
    /// The store was written by a newer pyusage.
    #[error(
        "schema version {found} is newer than this pyusage knows (version {known}); use a newer pyusage"
    )]
    TooNew {
        /// The store's version.
        found: i64,
        /// [`crate::SCHEMA_VERSION`].
        known: i64,
    },
    /// A migration's statements failed.
    #[error("migrating to schema version {version}")]
    Migration {
        /// The version being migrated to.
        version: i64,
        /// The database's error.
        #[source]
        source: DbError,
    },
    /// Reading or recording the version failed.
    #[error("reading the schema version")]
    Version(#[source] DbError),
}

impl From<rusqlite::Error> for SchemaError {
    fn from(e: rusqlite::Error) -> SchemaError {
        SchemaError::Version(e.into())
    }
}

impl From<postgres::Error> for SchemaError {
    fn from(e: postgres::Error) -> SchemaError {
        SchemaError::Version(e.into())
    }
}

/// Why [`crate::Store::open`] or [`crate::Store::open_existing`] failed; the
/// message names the store (passwords redacted).
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// `open_existing` of an SQLite file that is not there.
    #[error("store {url} does not exist (run `pyusage ingest` first)")]
    Missing {
        /// The store, as shown.
        url: String,
    },
    /// `open_existing` of a database without pyusage's tables.
    #[error("store {url} has no pyusage tables (run `pyusage ingest` first)")]
    NoTables {
        /// The store, as shown.
        url: String,
    },
    /// The SQLite file's directory could not be created.
    #[error("{}: cannot create the store's directory", dir.display())]
    CreateDir {
        /// The directory.
        dir: PathBuf,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// The SQLite file could not be opened (or set up: WAL, busy timeout).
    #[error("store {url}: cannot open")]
    Open {
        /// The store, as shown.
        url: String,
        /// SQLite's error.
        #[source]
        source: rusqlite::Error,
    },
    /// The PostgreSQL server could not be reached or refused the connection.
    #[error("store {url}: cannot connect")]
    Connect {
        /// The store, as shown (password redacted).
        url: String,
        /// The client's error.
        #[source]
        source: postgres::Error,
    },
    /// The schema could not be read, created or migrated.
    #[error("store {url}")]
    Schema {
        /// The store, as shown.
        url: String,
        /// Why.
        #[source]
        source: SchemaError,
    },
}
