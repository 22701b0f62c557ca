//! What `--db` and the `store` configuration key accept.

use crate::UrlError;
use std::fmt;
use std::path::PathBuf;

/// Where a store is: an SQLite file or a PostgreSQL connection string.
///
/// Accepted forms: a path (`/var/lib/pyusage/usage.db`), `sqlite:PATH`
/// (also `sqlite://PATH`), and `postgres://...` or `postgresql://...`
/// (any libpq-style URL, e.g. `postgresql:///usage?host=/run/postgresql`
/// for a unix socket).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum StoreUrl {
    /// An SQLite database file.
    Sqlite(PathBuf),
    /// A PostgreSQL connection string, as given.
    Postgres(String),
}

impl StoreUrl {
    /// Parses a `--db` value; an empty one is an error.
    ///
    /// ```
    /// use pyusage_store::{StoreUrl, UrlError};
    ///
    /// assert_eq!(
    ///     StoreUrl::parse("sqlite:/var/lib/pyusage/usage.db").unwrap(),
    ///     StoreUrl::Sqlite("/var/lib/pyusage/usage.db".into())
    /// );
    /// assert!(matches!(
    ///     StoreUrl::parse("postgresql:///usage?host=/run/postgresql"),
    ///     Ok(StoreUrl::Postgres(_))
    /// ));
    /// assert!(matches!(
    ///     StoreUrl::parse("mysql://db/usage"),
    ///     Err(UrlError::UnknownScheme { .. })
    /// ));
    /// ```
    pub fn parse(s: &str) -> Result<StoreUrl, UrlError> {
        if s.is_empty() {
            return Err(UrlError::Empty);
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(s.to_owned()));
        }
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(UrlError::NoSqlitePath(s.to_owned()));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if let Some((scheme, _)) = s.split_once("://") {
            return Err(UrlError::UnknownScheme {
                url: s.to_owned(),
                scheme: scheme.to_owned(),
            });
        }
        Ok(StoreUrl::Sqlite(PathBuf::from(s)))
    }
}

impl fmt::Display for StoreUrl {
    /// The location without a password, for messages.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(p) => write!(f, "{}", p.display()),
            StoreUrl::Postgres(s) => write!(f, "{}", redact(s)),
        }
    }
}

/// `postgresql://user:secret@host/db` -> `postgresql://user:***@host/db`.
fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return url.to_owned();
    };
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(authority_end);
    match authority.rsplit_once('@') {
        Some((userinfo, host)) => match userinfo.split_once(':') {
            Some((user, _)) => format!("{scheme}://{user}:***@{host}{tail}"),
            None => url.to_owned(),
        },
        None => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms() {
        assert_eq!(
            StoreUrl::parse("/var/lib/pyusage/usage.db").unwrap(),
            StoreUrl::Sqlite("/var/lib/pyusage/usage.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:rel/u.db").unwrap(),
            StoreUrl::Sqlite("rel/u.db".into())
        );
        assert_eq!(
            StoreUrl::parse("sqlite:///abs/u.db").unwrap(),
            StoreUrl::Sqlite("/abs/u.db".into())
        );
        assert!(matches!(
            StoreUrl::parse("postgresql:///u?host=/tmp").unwrap(),
            StoreUrl::Postgres(_)
        ));
        let e = StoreUrl::parse("mysql://x/y").unwrap_err();
        assert_eq!(
            e,
            UrlError::UnknownScheme {
                url: "mysql://x/y".into(),
                scheme: "mysql".into()
            }
        );
        assert!(e
            .to_string()
            .starts_with("mysql://x/y: unknown store kind `mysql`"));
        assert_eq!(StoreUrl::parse(""), Err(UrlError::Empty));
        assert_eq!(
            StoreUrl::parse("sqlite:"),
            Err(UrlError::NoSqlitePath("sqlite:".into()))
        );
    }

    #[test]
    fn passwords_are_not_shown() {
        let u = StoreUrl::parse("postgres://ann:hunter2@db.example/usage").unwrap();
        assert_eq!(u.to_string(), "postgres://ann:***@db.example/usage");
        let u = StoreUrl::parse("postgres://ann@db.example/usage").unwrap();
        assert_eq!(u.to_string(), "postgres://ann@db.example/usage");
    }
}
