//! Store URLs: how the command line and configuration name a store.
//!
//! - `sqlite:PATH` (or `sqlite://PATH`): an SQLite file, created if missing;
//! - `postgres://...` / `postgresql://...`: a PostgreSQL database (any URL libpq accepts;
//!   no TLS, see [`crate::postgres`]), its tables created if missing.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::postgres::{redact, DEFAULT_WORKER};
use crate::{PostgresStore, SqliteStore, Store, StoreError};

/// A parsed store URL.
#[derive(Clone, PartialEq, Eq)]
pub enum StoreUrl {
    Sqlite(PathBuf),
    Postgres(String),
}

impl StoreUrl {
    /// Opens (and if needed creates) the store.
    pub fn open(&self) -> Result<Box<dyn Store>, StoreError> {
        self.open_as(DEFAULT_WORKER)
    }

    /// Opens the store as worker `worker`: several workers sharing a PostgreSQL store
    /// each keep their own engine meta (an SQLite store has one writer; it ignores this).
    pub fn open_as(&self, worker: &str) -> Result<Box<dyn Store>, StoreError> {
        match self {
            StoreUrl::Sqlite(path) => Ok(Box::new(SqliteStore::open(path)?)),
            StoreUrl::Postgres(url) => Ok(Box::new(PostgresStore::open(url, worker)?)),
        }
    }
}

impl FromStr for StoreUrl {
    type Err = StoreError;

    fn from_str(s: &str) -> Result<Self, StoreError> {
        let invalid = |reason: &str| StoreError::Url {
            url: redact(s),
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
            // Checked now, so a bad URL is reported before anything starts.
            postgres::Config::from_str(s).map_err(|e| invalid(&e.to_string()))?;
            return Ok(StoreUrl::Postgres(s.to_owned()));
        }
        Err(invalid("expected sqlite:PATH or postgres://..."))
    }
}

/// Shows the URL without its password.
impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreUrl::Sqlite(path) => write!(f, "sqlite:{}", path.display()),
            StoreUrl::Postgres(url) => f.write_str(&redact(url)),
        }
    }
}

/// Like `Display`: a password never reaches a log through `{:?}` either.
impl fmt::Debug for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreUrl({self})")
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
    fn postgres_urls_are_checked_and_never_show_the_password() {
        let url: StoreUrl = "postgres://sb:s3cret@db.internal:5432/sb".parse().unwrap();
        assert_eq!(url.to_string(), "postgres://sb:***@db.internal:5432/sb");
        assert!(!format!("{url:?}").contains("s3cret"));
        let err = "postgres://sb:s3cret@db/sb?nonsense=1"
            .parse::<StoreUrl>()
            .unwrap_err();
        assert!(matches!(err, StoreError::Url { .. }), "{err}");
        assert!(!err.to_string().contains("s3cret"), "{err}");
    }

    #[test]
    fn an_unreachable_postgres_server_is_an_error_naming_it() {
        // Port 1 on loopback: nothing listens there, the connection is refused at once.
        let url: StoreUrl = "postgres://sb:s3cret@127.0.0.1:1/sb?connect_timeout=5"
            .parse()
            .unwrap();
        let err = url.open().err().unwrap();
        assert!(matches!(err, StoreError::PostgresConnect { .. }), "{err}");
        let text = err.to_string();
        assert!(
            text.contains("127.0.0.1:1") && !text.contains("s3cret"),
            "{text}"
        );
    }
}
