//! [`Store::prune`](crate::Store::prune) and [`Store::table_stats`](crate::Store::table_stats)
//! for SQLite.
//!
//! Each kind is pruned in an `IMMEDIATE` transaction of its own that deletes at most
//! `limit` rows, found through an index on the time they are kept by, so the write lock
//! is held for milliseconds and a commit waiting for it is not held up.

use rusqlite::{params, TransactionBehavior};

use super::write::sql_err;
use super::SqliteStore;
use crate::retention::{Pruned, Retention, TableStats};
use crate::StoreError;

pub(super) fn prune(
    store: &mut SqliteStore,
    now_ms: i64,
    retention: &Retention,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let cut = retention.cutoffs(now_ms);
    let limit = limit as i64;
    let mut pruned = Pruned::default();
    let steps: [(Option<i64>, &[&str], &mut u64); 5] = [
        (
            cut.transitions,
            &["DELETE FROM transitions WHERE seq IN
                (SELECT seq FROM transitions WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)"],
            &mut pruned.transitions,
        ),
        (
            cut.contacts,
            // The contacts first go into a temporary list, then their entries, records
            // and rows; the count is that of the contacts.
            &[
                "DELETE FROM temp.pruned_contacts",
                "INSERT INTO temp.pruned_contacts (contact_id)
                 SELECT contact_id FROM contacts
                 WHERE NOT active AND initiated_at_ms < ?1 ORDER BY initiated_at_ms LIMIT ?2",
                "DELETE FROM contact_entries WHERE contact_id IN
                 (SELECT contact_id FROM temp.pruned_contacts)",
                "DELETE FROM contact_records WHERE contact_id IN
                 (SELECT contact_id FROM temp.pruned_contacts)",
                "DELETE FROM contacts WHERE contact_id IN
                 (SELECT contact_id FROM temp.pruned_contacts)",
            ],
            &mut pruned.contacts,
        ),
        (
            cut.triggers,
            &["DELETE FROM triggers WHERE (contact_id, kind) IN
                (SELECT contact_id, kind FROM triggers WHERE at_ms < ?1 ORDER BY at_ms LIMIT ?2)"],
            &mut pruned.triggers,
        ),
        (
            cut.alerts,
            &["DELETE FROM alerts WHERE id IN
                (SELECT id FROM alerts WHERE cleared_at_ms < ?1 ORDER BY cleared_at_ms LIMIT ?2)"],
            &mut pruned.alerts,
        ),
        (
            cut.metric_cells,
            &["DELETE FROM metric_cells WHERE rowid IN
                (SELECT rowid FROM metric_cells WHERE start_ms < ?1 ORDER BY start_ms LIMIT ?2)"],
            &mut pruned.metric_cells,
        ),
    ];
    let path = store.path.clone();
    let err = sql_err(&path, "pruning old history");
    store
        .conn
        .execute_batch(
            "CREATE TEMP TABLE IF NOT EXISTS pruned_contacts (contact_id TEXT PRIMARY KEY)",
        )
        .map_err(&err)?;
    for (cutoff, statements, count) in steps {
        let Some(cutoff) = cutoff else { continue };
        let tx = store
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)
            .map_err(&err)?;
        let mut n = 0;
        for sql in statements {
            let mut stmt = tx.prepare_cached(sql).map_err(&err)?;
            let changed = match stmt.parameter_count() {
                0 => stmt.execute([]),
                _ => stmt.execute(params![cutoff, limit]),
            }
            .map_err(&err)?;
            // The contacts step counts the contacts listed (its second statement).
            if statements.len() == 1 || sql.contains("INSERT INTO temp.pruned_contacts") {
                n = changed as u64;
            }
        }
        tx.commit().map_err(&err)?;
        *count = n;
    }
    Ok(pruned)
}

pub(super) fn table_stats(store: &SqliteStore) -> Result<Vec<TableStats>, StoreError> {
    let err = sql_err(&store.path, "measuring tables");
    let mut stmt = store
        .conn
        .prepare(
            "SELECT m.name,
                    (SELECT COALESCE(SUM(d.pgsize), 0) FROM dbstat d
                     WHERE d.name IN (SELECT name FROM sqlite_master WHERE tbl_name = m.name))
             FROM sqlite_master m
             WHERE m.type = 'table' AND m.name NOT LIKE 'sqlite_%'
             ORDER BY m.name",
        )
        .map_err(&err)?;
    let sizes: Vec<(String, i64)> = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(&err)?
        .collect::<Result<_, _>>()
        .map_err(&err)?;
    let mut out = Vec::with_capacity(sizes.len());
    for (table, bytes) in sizes {
        // Names come from the schema itself, quoted all the same.
        let rows: i64 = store
            .conn
            .query_row(&format!("SELECT COUNT(*) FROM \"{table}\""), [], |r| {
                r.get(0)
            })
            .map_err(&err)?;
        out.push(TableStats {
            table,
            rows: rows as u64,
            bytes: bytes as u64,
        });
    }
    Ok(out)
}
