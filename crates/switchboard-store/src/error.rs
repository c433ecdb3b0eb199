//! The store's error type. Every variant names the store and what was being done, so a
//! message is useful on its own ("SQLite store /data/sb.db: committing metric cells: ...",
//! "PostgreSQL store postgres://sb:***@db/sb: writing contacts: ...").

/// Why a store operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL could not be understood.
    #[error("invalid store URL {url:?}: {reason}")]
    Url { url: String, reason: String },

    /// A kind of store that is planned but not built yet.
    #[error("{kind} stores are not supported yet (use sqlite:PATH)")]
    Unsupported { kind: &'static str },

    /// The database could not be opened or set up.
    #[error("cannot open SQLite store {path}: {source}")]
    Open {
        path: String,
        source: rusqlite::Error,
    },

    /// The store was written by a newer switchboard with a schema this one does not know.
    #[error(
        "SQLite store {path} has schema version {found}, newer than this switchboard \
         supports ({supported}); upgrade switchboard"
    )]
    NewerSchema {
        path: String,
        found: i64,
        supported: i64,
    },

    /// The store holds data in a layout older than the compact one, which is not
    /// migrated in place.
    #[error(
        "SQLite store {path} holds data in the schema of an older switchboard (version \
         {found}); this one ({supported}) stores it in a compact layout and does not convert \
         it in place. Replay your Connect data into a new store (switchboard replay PATH... \
         --store sqlite:NEW.db) and point the config at it, or keep running the older \
         switchboard on this file"
    )]
    OldSchema {
        path: String,
        found: i64,
        supported: i64,
    },

    /// A stored value is damaged (a deflated column that does not inflate, a timestamp
    /// that does not parse).
    #[error("SQLite store {path}: table {table}, row {key}: {reason}")]
    Damaged {
        path: String,
        table: &'static str,
        key: String,
        reason: String,
    },

    /// A statement failed.
    #[error("SQLite store {path}: {context}: {source}")]
    Sqlite {
        path: String,
        context: &'static str,
        source: rusqlite::Error,
    },

    /// A stored JSON document no longer decodes as the type it was written from.
    #[error(
        "SQLite store {path}: table {table}, row {key}: stored JSON does not decode: {source}"
    )]
    Corrupt {
        path: String,
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },

    /// The PostgreSQL server could not be reached or refused the connection. The URL is
    /// shown without its password.
    #[error("cannot connect to PostgreSQL store {url}: {source}")]
    PostgresConnect {
        url: String,
        source: postgres::Error,
    },

    /// A PostgreSQL statement failed.
    #[error("PostgreSQL store {url}: {context}: {source}")]
    Postgres {
        url: String,
        context: &'static str,
        source: postgres::Error,
    },

    /// The PostgreSQL store was written by a newer switchboard.
    #[error(
        "PostgreSQL store {url} has schema version {found}, newer than this switchboard \
         supports ({supported}); upgrade switchboard"
    )]
    PostgresNewerSchema {
        url: String,
        found: i64,
        supported: i64,
    },

    /// A JSON document stored in PostgreSQL no longer decodes as the type it was written
    /// from.
    #[error(
        "PostgreSQL store {url}: table {table}, row {key}: stored JSON does not decode: {source}"
    )]
    PostgresCorrupt {
        url: String,
        table: &'static str,
        key: String,
        source: serde_json::Error,
    },

    /// A value could not be written as JSON.
    #[error("cannot encode {what} {key} as JSON: {source}")]
    Encode {
        what: &'static str,
        key: String,
        source: serde_json::Error,
    },
}
