//! The outbox methods of [`Store`](crate::Store) for SQLite (see [`crate::outbox`] for
//! what they promise).
//!
//! One process uses the file, but through several connections: the pipeline thread
//! commits while each sink worker claims and retires rows on a connection of its own.
//! Every write here runs in an `IMMEDIATE` transaction, which takes the write lock when it
//! starts: a worker arriving during a commit waits for it (the busy timeout set at open)
//! instead of failing halfway, and nothing can change between a claim's choice of rows and
//! its update of them. A claim is then one `UPDATE ... RETURNING` whose subquery picks the
//! rows, with a running sum of payload sizes for the byte limit. Rows never retried
//! (`not_before_ms = 0`) and retries that are due are picked apart, so that each pick walks
//! the `(sink, not_before_ms, id)` index in id order or over due retries only: a large
//! backlog costs no more per batch than a small one.

use rusqlite::{params, Row, Transaction, TransactionBehavior};

use super::write::sql_err;
use super::SqliteStore;
use crate::outbox::{attempts, count, sql_limit, text, unique_ids, unique_retries};
use crate::{OutboxDepth, OutboxEntry, OutboxRow, StoreError};

/// The columns [`row`] reads, in order.
const COLUMNS: &str = "id, rule, sink, key, kind, payload, event_ms, created_ms, attempts, \
     not_before_ms, last_error";

/// Inserts `entries` in order, skipping those whose sink and key are queued; returns how
/// many were added. Used by commits, replays and dead-lettering alike.
pub(super) fn insert_entries(
    tx: &Transaction<'_>,
    path: &str,
    entries: &[OutboxEntry],
) -> Result<u64, StoreError> {
    if entries.is_empty() {
        return Ok(0);
    }
    let err = sql_err(path, "writing the outbox");
    let mut stmt = tx
        .prepare_cached(
            "INSERT INTO outbox (rule, sink, key, kind, payload, event_ms, created_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)
             ON CONFLICT (sink, key) DO NOTHING",
        )
        .map_err(&err)?;
    let mut added = 0;
    for e in entries {
        added += stmt
            .execute(params![
                text(&e.rule),
                text(&e.sink),
                text(&e.key),
                text(&e.kind),
                e.payload,
                e.event_ms,
                e.created_ms
            ])
            .map_err(&err)? as u64;
    }
    Ok(added)
}

/// A row selected as [`COLUMNS`].
fn row(r: &Row<'_>) -> rusqlite::Result<OutboxRow> {
    Ok(OutboxRow {
        id: r.get(0)?,
        entry: OutboxEntry {
            rule: r.get(1)?,
            sink: r.get(2)?,
            key: r.get(3)?,
            kind: r.get(4)?,
            payload: r.get(5)?,
            event_ms: r.get(6)?,
            created_ms: r.get(7)?,
        },
        attempts: attempts(r.get(8)?),
        not_before_ms: r.get(9)?,
        last_error: r.get(10)?,
    })
}

/// Runs `work` in an `IMMEDIATE` transaction and commits it.
fn write<T>(
    store: &mut SqliteStore,
    context: &'static str,
    work: impl FnOnce(&Transaction<'_>, &str) -> Result<T, StoreError>,
) -> Result<T, StoreError> {
    let path = store.path.as_str();
    let tx = store
        .conn
        .transaction_with_behavior(TransactionBehavior::Immediate)
        .map_err(sql_err(path, context))?;
    let out = work(&tx, path)?;
    tx.commit().map_err(sql_err(path, context))?;
    Ok(out)
}

/// Runs `sql` (one `?1` per id) once for each id, in one transaction.
fn for_each_id(
    store: &mut SqliteStore,
    context: &'static str,
    sql: &str,
    ids: &[i64],
) -> Result<(), StoreError> {
    if ids.is_empty() {
        return Ok(());
    }
    write(store, context, |tx, path| {
        let err = sql_err(path, context);
        let mut stmt = tx.prepare_cached(sql).map_err(&err)?;
        for id in unique_ids(ids) {
            stmt.execute([id]).map_err(&err)?;
        }
        Ok(())
    })
}

pub(super) fn insert(store: &mut SqliteStore, entries: &[OutboxEntry]) -> Result<u64, StoreError> {
    if entries.is_empty() {
        return Ok(0);
    }
    write(store, "writing the outbox", |tx, path| {
        insert_entries(tx, path, entries)
    })
}

pub(super) fn claim(
    store: &mut SqliteStore,
    sink: &str,
    worker: &str,
    max_items: usize,
    max_bytes: usize,
    now_ms: i64,
    lease_ms: i64,
) -> Result<Vec<OutboxRow>, StoreError> {
    if max_items == 0 {
        return Ok(Vec::new());
    }
    let context = "claiming outbox rows";
    let mut rows = write(store, context, |tx, path| {
        let err = sql_err(path, context);
        let mut stmt = tx
            .prepare_cached(&format!(
                "UPDATE outbox SET claimed_by = ?1, claimed_until = ?2
                     WHERE id IN (
                        SELECT id FROM (
                            SELECT id,
                                   sum(size) OVER (ORDER BY id) AS running,
                                   row_number() OVER (ORDER BY id) AS n
                            FROM (
                                SELECT * FROM (
                                    SELECT id, length(payload) AS size FROM outbox
                                    WHERE sink = ?3 AND not_before_ms = 0 AND 0 <= ?4
                                      AND (claimed_until IS NULL OR claimed_until <= ?4)
                                    ORDER BY id LIMIT ?5)
                                UNION ALL
                                SELECT * FROM (
                                    SELECT id, length(payload) AS size FROM outbox
                                    WHERE sink = ?3 AND not_before_ms > 0 AND not_before_ms <= ?4
                                      AND (claimed_until IS NULL OR claimed_until <= ?4)
                                    ORDER BY id LIMIT ?5)
                                ORDER BY id LIMIT ?5))
                        WHERE n = 1 OR running <= ?6)
                     RETURNING {COLUMNS}"
            ))
            .map_err(&err)?;
        let claimed = stmt
            .query_map(
                params![
                    text(worker),
                    now_ms.saturating_add(lease_ms),
                    text(sink),
                    now_ms,
                    sql_limit(max_items),
                    sql_limit(max_bytes)
                ],
                row,
            )
            .map_err(&err)?
            .collect::<Result<Vec<_>, _>>()
            .map_err(&err)?;
        Ok(claimed)
    })?;
    // RETURNING gives no order.
    rows.sort_by_key(|r| r.id);
    Ok(rows)
}

pub(super) fn delivered(store: &mut SqliteStore, ids: &[i64]) -> Result<(), StoreError> {
    for_each_id(
        store,
        "removing delivered outbox rows",
        "DELETE FROM outbox WHERE id = ?1",
        ids,
    )
}

pub(super) fn retry(
    store: &mut SqliteStore,
    retries: &[(i64, i64, String)],
) -> Result<(), StoreError> {
    if retries.is_empty() {
        return Ok(());
    }
    let context = "scheduling outbox retries";
    write(store, context, |tx, path| {
        let err = sql_err(path, context);
        let mut stmt = tx
            .prepare_cached(
                "UPDATE outbox SET attempts = attempts + 1, not_before_ms = ?2,
                        last_error = ?3, claimed_by = NULL, claimed_until = NULL
                     WHERE id = ?1",
            )
            .map_err(&err)?;
        for (id, not_before_ms, error) in unique_retries(retries) {
            stmt.execute(params![id, (*not_before_ms).max(0), text(error)])
                .map_err(&err)?;
        }
        Ok(())
    })
}

pub(super) fn dead(
    store: &mut SqliteStore,
    ids: &[i64],
    dead_letters: &[OutboxEntry],
) -> Result<(), StoreError> {
    if ids.is_empty() && dead_letters.is_empty() {
        return Ok(());
    }
    let context = "dead-lettering outbox rows";
    write(store, context, |tx, path| {
        let err = sql_err(path, context);
        let mut stmt = tx
            .prepare_cached("DELETE FROM outbox WHERE id = ?1")
            .map_err(&err)?;
        for id in unique_ids(ids) {
            stmt.execute([id]).map_err(&err)?;
        }
        insert_entries(tx, path, dead_letters)?;
        Ok(())
    })
}

pub(super) fn release(store: &mut SqliteStore, ids: &[i64]) -> Result<(), StoreError> {
    for_each_id(
        store,
        "releasing outbox claims",
        "UPDATE outbox SET claimed_by = NULL, claimed_until = NULL WHERE id = ?1",
        ids,
    )
}

pub(super) fn depth(store: &SqliteStore, now_ms: i64) -> Result<Vec<OutboxDepth>, StoreError> {
    let err = sql_err(&store.path, "measuring the outbox");
    let mut stmt = store
        .conn
        .prepare_cached(
            "SELECT sink, count(*), coalesce(sum(length(payload)), 0), min(created_ms),
                        count(*) FILTER (WHERE not_before_ms <= ?1
                            AND (claimed_until IS NULL OR claimed_until <= ?1))
                 FROM outbox GROUP BY sink ORDER BY sink",
        )
        .map_err(&err)?;
    let rows = stmt
        .query_map([now_ms], |r| {
            Ok(OutboxDepth {
                sink: r.get(0)?,
                items: count(r.get(1)?),
                bytes: count(r.get(2)?),
                oldest_created_ms: r.get(3)?,
                ready: count(r.get(4)?),
            })
        })
        .map_err(&err)?;
    rows.collect::<Result<_, _>>().map_err(&err)
}

pub(super) fn len(store: &SqliteStore) -> Result<u64, StoreError> {
    let n: i64 = store
        .conn
        .prepare_cached("SELECT count(*) FROM outbox")
        .and_then(|mut s| s.query_row([], |r| r.get(0)))
        .map_err(sql_err(&store.path, "counting the outbox"))?;
    Ok(count(n))
}

pub(super) fn peek(
    store: &SqliteStore,
    sink: Option<&str>,
    limit: usize,
) -> Result<Vec<OutboxRow>, StoreError> {
    let err = sql_err(&store.path, "reading the outbox");
    let mut stmt = store
        .conn
        .prepare_cached(&format!(
            "SELECT {COLUMNS} FROM outbox WHERE ?1 IS NULL OR sink = ?1 ORDER BY id LIMIT ?2"
        ))
        .map_err(&err)?;
    let rows = stmt
        .query_map(params![sink.map(text), sql_limit(limit)], row)
        .map_err(&err)?;
    rows.collect::<Result<_, _>>().map_err(&err)
}
