//! [`Store::prune`](crate::Store::prune) and [`Store::table_stats`](crate::Store::table_stats)
//! for PostgreSQL: as in SQLite, each kind in a short transaction of its own that
//! deletes at most `limit` rows found through an index on their time.

use super::PostgresStore;
use crate::retention::{Pruned, Retention, TableStats};
use crate::StoreError;

pub(super) fn prune(
    store: &mut PostgresStore,
    now_ms: i64,
    retention: &Retention,
    limit: usize,
) -> Result<Pruned, StoreError> {
    let cut = retention.cutoffs(now_ms);
    let limit = limit as i64;
    let mut pruned = Pruned::default();
    let simple: [(Option<i64>, &str, &mut u64); 4] = [
        (
            cut.transitions,
            "DELETE FROM transitions WHERE seq IN
             (SELECT seq FROM transitions WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
            &mut pruned.transitions,
        ),
        (
            cut.triggers,
            "DELETE FROM triggers WHERE (contact_id, kind) IN
             (SELECT contact_id, kind FROM triggers WHERE at_ms < $1 ORDER BY at_ms LIMIT $2)",
            &mut pruned.triggers,
        ),
        (
            cut.alerts,
            "DELETE FROM alerts WHERE id IN
             (SELECT id FROM alerts WHERE cleared_at_ms < $1 ORDER BY cleared_at_ms LIMIT $2)",
            &mut pruned.alerts,
        ),
        (
            cut.metric_cells,
            "DELETE FROM metric_cells WHERE (start_ms, kind, id) IN
             (SELECT start_ms, kind, id FROM metric_cells WHERE start_ms < $1
              ORDER BY start_ms LIMIT $2)",
            &mut pruned.metric_cells,
        ),
    ];
    let err = store.err("pruning old history");
    let mut client = store.client()?;
    for (cutoff, sql, count) in simple {
        if let Some(cutoff) = cutoff {
            *count = client.execute(sql, &[&cutoff, &limit]).map_err(&err)?;
        }
    }
    if let Some(cutoff) = cut.contacts {
        let mut tx = client.transaction().map_err(&err)?;
        let ids: Vec<String> = tx
            .query(
                "SELECT contact_id FROM contacts
                 WHERE NOT active AND initiated_at_ms < $1 ORDER BY initiated_at_ms LIMIT $2",
                &[&cutoff, &limit],
            )
            .map_err(&err)?
            .iter()
            .map(|r| r.get(0))
            .collect();
        for table in ["contact_entries", "contact_records", "contacts"] {
            tx.execute(
                &format!("DELETE FROM {table} WHERE contact_id = ANY($1)"),
                &[&ids],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        pruned.contacts = ids.len() as u64;
    }
    Ok(pruned)
}

pub(super) fn table_stats(store: &PostgresStore) -> Result<Vec<TableStats>, StoreError> {
    let err = store.err("measuring tables");
    let mut client = store.client()?;
    let sizes = client
        .query(
            "SELECT c.relname::text, pg_total_relation_size(c.oid)
             FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
             WHERE c.relkind = 'r' AND n.nspname = current_schema()
             ORDER BY c.relname COLLATE \"C\"",
            &[],
        )
        .map_err(&err)?;
    let mut out = Vec::with_capacity(sizes.len());
    for row in sizes {
        let table: String = row.get(0);
        let bytes: i64 = row.get(1);
        // Names come from the catalogue itself, quoted all the same.
        let rows: i64 = client
            .query_one(&format!("SELECT COUNT(*) FROM \"{table}\""), &[])
            .map_err(&err)?
            .get(0);
        out.push(TableStats {
            table,
            rows: rows as u64,
            bytes: bytes as u64,
        });
    }
    Ok(out)
}
