//! Asking the store: a thin connection over both backends and the filters
//! of the command line.
//!
//! The report reads the store once through [`Db::scan`]
//! ([`crate::data::Data::load`]) and applies the filters in memory
//! ([`crate::data::Selection`]); the export applies them in SQL. The SQL is
//! written once for SQLite and PostgreSQL. Nothing here writes to the store.

mod db;

pub use db::{Db, Helper, Row};

/// What the command line selects.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// Processes that started at or after this instant (µs).
    pub since_us: Option<i64>,
    /// Processes that started before this instant (µs).
    pub until_us: Option<i64>,
    /// Only processes in jobs of this cluster.
    pub cluster: Option<String>,
    /// Users left out: names, or numeric uids.
    pub exclude_users: Vec<String>,
}

/// Quote a string as an SQL literal.
pub fn lit(s: &str) -> String {
    format!("'{}'", s.replace('\'', "''"))
}
