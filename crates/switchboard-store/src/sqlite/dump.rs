//! The canonical text of a store: every table in a fixed order, every row sorted by its
//! key, one line per row with tab-separated columns. Equal dumps mean equal contents,
//! which is how the checkpoint-equivalence tests compare an interrupted run with an
//! uninterrupted one.

use std::fmt::Write;

use rusqlite::types::ValueRef;

use super::schema::TABLES;
use super::write::sql_err;
use super::SqliteStore;
use crate::StoreError;

pub(super) fn dump(store: &SqliteStore) -> Result<String, StoreError> {
    let err = sql_err(&store.path, "dumping the store");
    let mut out = String::new();
    for (table, columns, order) in TABLES {
        let mut stmt = store
            .conn
            .prepare(&format!("SELECT {columns} FROM {table} ORDER BY {order}"))
            .map_err(&err)?;
        let columns: Vec<String> = stmt.column_names().iter().map(|c| c.to_string()).collect();
        let _ = writeln!(out, "## {table} ({})", columns.join(", "));
        let mut rows = stmt.query([]).map_err(&err)?;
        while let Some(row) = rows.next().map_err(&err)? {
            for i in 0..columns.len() {
                if i > 0 {
                    out.push('\t');
                }
                match row.get_ref(i).map_err(&err)? {
                    ValueRef::Null => out.push_str("NULL"),
                    ValueRef::Integer(n) => {
                        let _ = write!(out, "{n}");
                    }
                    ValueRef::Real(x) => {
                        let _ = write!(out, "{x:?}");
                    }
                    ValueRef::Text(t) => escape(&mut out, &String::from_utf8_lossy(t)),
                    ValueRef::Blob(b) => {
                        out.push_str("x'");
                        for byte in b {
                            let _ = write!(out, "{byte:02x}");
                        }
                        out.push('\'');
                    }
                }
            }
            out.push('\n');
        }
    }
    Ok(out)
}

/// Keeps one row on one line: tabs, newlines and backslashes are escaped.
pub(crate) fn escape(out: &mut String, s: &str) {
    for ch in s.chars() {
        match ch {
            '\\' => out.push_str("\\\\"),
            '\t' => out.push_str("\\t"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            c => out.push(c),
        }
    }
}
