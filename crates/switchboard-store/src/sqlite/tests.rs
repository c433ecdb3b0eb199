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
    for (table, _, _) in schema::TABLES {
        assert!(dump.contains(&format!("## {table} (")), "{table} missing");
    }
}

#[test]
fn a_version_1_store_gains_the_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.db");
    let old = rusqlite::Connection::open(&path).unwrap();
    old.execute_batch(schema::MIGRATIONS[0]).unwrap();
    old.pragma_update(None, "user_version", 1).unwrap();
    drop(old);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    let added = store
        .outbox_insert(&[crate::suite::entry("crm", "k1", b"{}")])
        .unwrap();
    assert_eq!(added, 1);
}

/// A sink worker's claim on its own connection waits for the pipeline's commit to finish
/// (the busy timeout) instead of failing, and then sees what it committed.
#[test]
fn a_claim_waits_for_a_commit_on_another_connection() {
    use std::sync::mpsc;
    use std::time::{Duration, Instant};

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.db");
    let mut pipeline = SqliteStore::open(&path).unwrap();
    let mut worker = SqliteStore::open(&path).unwrap();
    let (locked, wait_locked) = mpsc::channel();
    let hold = Duration::from_millis(300);
    let committer = std::thread::spawn(move || {
        let tx = pipeline
            .conn
            .transaction_with_behavior(rusqlite::TransactionBehavior::Immediate)
            .unwrap();
        outbox::insert_entries(&tx, "test", &[crate::suite::entry("crm", "k1", b"{}")]).unwrap();
        locked.send(()).unwrap();
        // A slow commit: the write lock is held all this time.
        std::thread::sleep(hold);
        tx.commit().unwrap();
    });
    wait_locked.recv().unwrap();
    let started = Instant::now();
    let claimed = worker
        .outbox_claim("crm", "w1", 10, 1 << 20, 0, 1_000)
        .unwrap();
    assert!(
        started.elapsed() >= hold / 2,
        "the claim waited for the commit"
    );
    assert_eq!(claimed.len(), 1);
    committer.join().unwrap();
}

/// Workers on connections of their own, claiming at once, never get the same row.
#[test]
fn concurrent_claims_on_several_connections_are_disjoint() {
    const ITEMS: usize = 300;
    const WORKERS: usize = 3;
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("sb.db");
    let mut store = SqliteStore::open(&path).unwrap();
    let entries: Vec<_> = (0..ITEMS)
        .map(|i| crate::suite::entry("crm", &format!("k{i}"), b"{}"))
        .collect();
    assert_eq!(store.outbox_insert(&entries).unwrap(), ITEMS as u64);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let path = path.clone();
            let barrier = barrier.clone();
            std::thread::spawn(move || {
                let mut store = SqliteStore::open(&path).unwrap();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let rows = store
                        .outbox_claim("crm", &format!("w{w}"), 7, 1 << 20, 0, 60_000)
                        .unwrap();
                    if rows.is_empty() {
                        return mine;
                    }
                    mine.extend(rows.iter().map(|r| r.id));
                }
            })
        })
        .collect();
    let mut all: Vec<i64> = handles
        .into_iter()
        .flat_map(|h| h.join().unwrap())
        .collect();
    all.sort_unstable();
    let want: Vec<i64> = store
        .outbox_peek(None, ITEMS)
        .unwrap()
        .iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(all, want, "every row claimed exactly once");
}

/// A store file as switchboard wrote it before the compact layout (schema version 2),
/// with `rows` transitions in it.
fn old_store(path: &std::path::Path, rows: usize) {
    let conn = rusqlite::Connection::open(path).unwrap();
    for sql in &schema::MIGRATIONS[..2] {
        conn.execute_batch(sql).unwrap();
    }
    conn.pragma_update(None, "user_version", 2).unwrap();
    for i in 0..rows {
        conn.execute(
            "INSERT INTO transitions (at_ms, kind, agent_arn, contact_id, json)
             VALUES (?1, 'agent_logged_in', 'arn:a', NULL, '{}')",
            [i as i64],
        )
        .unwrap();
    }
    conn.execute(
        "INSERT INTO outbox (rule, sink, key, kind, payload, event_ms, created_ms)
         VALUES ('r', 'hook', 'k1', 'record', x'7b7d', 1, 1)",
        [],
    )
    .unwrap();
}

#[test]
fn an_old_store_with_data_is_refused_saying_what_to_do() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    old_store(&path, 3);
    let err = SqliteStore::open(&path).unwrap_err();
    assert!(
        matches!(err, StoreError::OldSchema { found: 2, .. }),
        "{err:?}"
    );
    let msg = err.to_string();
    assert!(
        msg.contains("switchboard replay") && msg.contains("older switchboard"),
        "{msg}"
    );
    // Refused without touching it: still version 2, its rows still there.
    let conn = rusqlite::Connection::open(&path).unwrap();
    let version: i64 = conn
        .query_row("PRAGMA user_version", [], |r| r.get(0))
        .unwrap();
    assert_eq!(version, 2);
    let n: i64 = conn
        .query_row("SELECT COUNT(*) FROM transitions", [], |r| r.get(0))
        .unwrap();
    assert_eq!(n, 3);
}

#[test]
fn an_old_store_without_history_is_migrated_and_keeps_its_outbox() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("old.db");
    old_store(&path, 0);
    let mut store = SqliteStore::open(&path).unwrap();
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    let queued = store.outbox_peek(None, 10).unwrap();
    assert_eq!(queued.len(), 1);
    assert_eq!(queued[0].entry.key, "k1");
    // And it takes commits in the new layout.
    let mut engine = switchboard_engine::Engine::new(Default::default());
    crate::suite::feed(&mut engine);
    crate::suite::commit_engine(&mut store, &mut engine, &Positions::new());
    assert_eq!(
        store.contact_timeline("c-1").unwrap().as_ref(),
        engine.contact("c-1")
    );
}
