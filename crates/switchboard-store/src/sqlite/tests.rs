//! Tests of the SQLite store, each in a fresh temporary folder: the shared store suite
//! (`crate::suite`) and what only SQLite has (the schema version pragma, WAL).

use super::*;
use crate::suite::Fresh;

fn fresh() -> Fresh {
    let dir = tempfile::tempdir().unwrap();
    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    Fresh {
        store: Box::new(store),
        _guard: Box::new(dir),
    }
}

crate::store_suite!(fresh);

#[test]
fn creates_schema_with_version_and_reopens() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.db");
    let store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    let mode: String = store
        .conn
        .query_row("PRAGMA journal_mode", [], |r| r.get(0))
        .unwrap();
    assert_eq!(mode, "wal");
    drop(store);
    let again = SqliteStore::open(&path).unwrap();
    assert_eq!(again.schema_version().unwrap(), schema::VERSION);
    assert!(again.load().unwrap().meta.is_none());
}

#[test]
fn refuses_a_newer_schema() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.db");
    let store = SqliteStore::open(&path).unwrap();
    store
        .conn
        .pragma_update(None, "user_version", schema::VERSION + 1)
        .unwrap();
    drop(store);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(matches!(err, StoreError::NewerSchema { .. }), "{err}");
}

#[test]
fn dump_lists_every_table_of_the_schema() {
    let f = fresh();
    let dump = f.store.dump().unwrap();
    for (table, _) in schema::TABLES {
        assert!(dump.contains(&format!("## {table} (")), "{table} missing");
    }
}
