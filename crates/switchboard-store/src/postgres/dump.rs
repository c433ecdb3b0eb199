//! The canonical text of a PostgreSQL store, in the same shape as the SQLite store's: every
//! table in a fixed order, rows sorted by key (text in byte order, whatever the database's
//! collation), one line per row with tab-separated columns. A timeline entry's insertion
//! number is left out: it orders the rows but is not content. Binary columns are shown as
//! SQLite shows them (`x'0a1b'`), so an outbox row reads the same in both dumps.

use std::fmt::Write;

use super::schema::DUMP;
use super::PostgresStore;
use crate::sqlite::dump::escape;
use crate::StoreError;

pub(super) fn dump(store: &PostgresStore) -> Result<String, StoreError> {
    let mut client = store.client()?;
    let mut out = String::new();
    for (table, columns, order) in DUMP {
        let names: Vec<&str> = columns.split(',').map(str::trim).collect();
        let select: Vec<String> = names.iter().map(|c| column_text(c)).collect();
        let order: Vec<String> = order
            .split(',')
            .map(|c| {
                let c = c.trim();
                if matches!(c, "at_ms" | "seq" | "start_ms") {
                    c.to_owned()
                } else {
                    format!("{c} COLLATE \"C\"")
                }
            })
            .collect();
        let sql = format!(
            "SELECT {} FROM {table} ORDER BY {}",
            select.join(", "),
            order.join(", ")
        );
        let rows = client
            .query(&sql, &[])
            .map_err(store.err("dumping the store"))?;
        let _ = writeln!(out, "## {table} ({})", names.join(", "));
        for row in &rows {
            for i in 0..names.len() {
                if i > 0 {
                    out.push('\t');
                }
                match row.get::<_, Option<&str>>(i) {
                    None => out.push_str("NULL"),
                    Some(text) => escape(&mut out, text),
                }
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// The SQL that shows column `c` as text.
fn column_text(c: &str) -> String {
    match c {
        // The one binary column; `::text` would give `\x...`.
        "payload" => "'x''' || encode(payload, 'hex') || ''''".to_owned(),
        c => format!("{c}::text"),
    }
}
