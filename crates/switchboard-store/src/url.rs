//! Store URLs: how the command line and configuration name a store.
//!
//! - `sqlite:PATH` (or `sqlite://PATH`): an SQLite file, created if missing;
//! - `postgres://...` / `postgresql://...`: reserved for the PostgreSQL store, which is not
//!   built yet; opening one says so.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::{SqliteStore, Store, StoreError};

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreUrl {
    /// Opens (and if needed creates) the store.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        match self {
            StoreUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
            StoreUrl::Postgres(_) => Err(StoreError::Unsupported { kind: "PostgreSQL" }),
        }
    }
}

impl FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::Url {
            url: s.to_owned(),
            reason: reason.to_owned(),
        };
        if let Some(rest) = s.strip_prefix("sqlite:") {
            let path = rest.strip_prefix("//").unwrap_or(rest);
            if path.is_empty() {
                return Err(invalid("no file path after sqlite:"));
            }
            return Ok(StoreUrl::Sqlite(PathBuf::from(path)));
        }
        if s.starts_with("postgres://") || s.starts_with("postgresql://") {
            return Ok(StoreUrl::Postgres(s.to_owned()));
        }
        Err(invalid("expected sqlite:PATH or postgres://..."))
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) => f.write_str(url),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_sqlite_forms() {
        let want = StoreUrl::Sqlite(PathBuf::from("/tmp/a.db"));
        assert_eq!("sqlite:/tmp/a.db".parse::<StoreUrl>().unwrap(), want);
        assert_eq!("sqlite:///tmp/a.db".parse::<StoreUrl>().unwrap(), want);
        assert_eq!(
            "sqlite:rel/a.db".parse::<StoreUrl>().unwrap(),
            StoreUrl::Sqlite(PathBuf::from("rel/a.db"))
        );
    }

    #[test]
    fn refuses_unknown_and_empty() {
        for bad in ["", "a.db", "mysql://x", "sqlite:", "sqlite://"] {
            let err = bad.parse::<StoreUrl>().unwrap_err();
            assert!(matches!(err, StoreError::Url { .. }), "{bad}: {err}");
        }
    }

    #[test]
    fn postgres_is_reserved_and_says_so() {
        let url: StoreUrl = "postgres://u@localhost/sb".parse().unwrap();
        let err = url.open().err().unwrap();
        assert!(err.to_string().contains("not supported yet"), "{err}");
    }
}
