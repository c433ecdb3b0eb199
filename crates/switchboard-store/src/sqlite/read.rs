//! [`Store::load`](crate::Store::load) and the query methods for SQLite.
//!
//! Rows come back from their `json` column, decoded into the engine's types; the other
//! columns only serve `WHERE` and `ORDER BY`. Filters are built as SQL with bound
//! parameters, never by pasting values into the text.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension};
use serde::de::DeserializeOwned;
use switchboard_engine::{AgentState, Alert, ContactTimeline, MetricKey};
use switchboard_model::Timestamp;

use super::write::sql_err;
use super::SqliteStore;
use crate::columns::{dimension, metric_cell, metric_rows};
use crate::query::{
    AgentFilter, ContactDetail, ContactFilter, MetricQuery, MetricRow, TransitionFilter,
    TransitionRow,
};
use crate::{Loaded, Positions, StoreError};

fn decode<T: DeserializeOwned>(
    store: &SqliteStore,
    table: &'static str,
    key: &str,
    json: &str,
) -> Result<T, StoreError> {
    serde_json::from_str(json).map_err(|source| StoreError::Corrupt {
        path: store.path.clone(),
        table,
        key: key.to_owned(),
        source,
    })
}

/// Runs `sql` (which selects a key and a JSON column) and decodes every row.
fn query_json<T: DeserializeOwned>(
    store: &SqliteStore,
    table: &'static str,
    context: &'static str,
    sql: &str,
    args: Vec<Value>,
) -> Result<Vec<T>, StoreError> {
    let err = sql_err(&store.path, context);
    let mut stmt = store.conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        let key: Value = row.get(0).map_err(&err)?;
        let json: String = row.get(1).map_err(&err)?;
        let key = match key {
            Value::Text(s) => s,
            Value::Integer(i) => i.to_string(),
            other => format!("{other:?}"),
        };
        out.push(decode(store, table, &key, &json)?);
    }
    Ok(out)
}

/// `WHERE` clauses and their arguments, built up one filter at a time.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Value>,
}

impl Where {
    fn add(&mut self, clause: &str, arg: impl Into<Value>) {
        self.args.push(arg.into());
        self.clauses
            .push(clause.replace('?', &format!("?{}", self.args.len())));
    }

    fn add_opt<T: Clone + Into<Value>>(&mut self, clause: &str, arg: &Option<T>) {
        if let Some(a) = arg {
            self.add(clause, a.clone());
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }
}

fn limit_sql(limit: Option<usize>) -> String {
    limit.map_or_else(String::new, |n| format!(" LIMIT {n}"))
}

pub(super) fn load(store: &SqliteStore) -> Result<Loaded, StoreError> {
    let agents = query_json(
        store,
        "agents",
        "loading agents",
        "SELECT agent_arn, json FROM agents ORDER BY agent_arn",
        vec![],
    )?;
    let contacts = query_json(
        store,
        "contacts",
        "loading contacts",
        "SELECT contact_id, json FROM contacts WHERE active ORDER BY contact_id",
        vec![],
    )?;
    let meta = query_json(
        store,
        "engine_meta",
        "loading engine meta",
        "SELECT id, json FROM engine_meta",
        vec![],
    )?
    .pop();
    Ok(Loaded {
        agents,
        contacts,
        meta,
        positions: positions(store)?,
    })
}

pub(super) fn positions(store: &SqliteStore) -> Result<Positions, StoreError> {
    let err = sql_err(&store.path, "reading positions");
    let mut stmt = store
        .conn
        .prepare_cached("SELECT source, position FROM positions ORDER BY source")
        .map_err(&err)?;
    let rows = stmt
        .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
        .map_err(&err)?;
    rows.collect::<Result<_, _>>().map_err(&err)
}

pub(super) fn agent(
    store: &SqliteStore,
    agent_arn: &str,
) -> Result<Option<AgentState>, StoreError> {
    Ok(query_json(
        store,
        "agents",
        "reading an agent",
        "SELECT agent_arn, json FROM agents WHERE agent_arn = ?1",
        vec![Value::Text(agent_arn.to_owned())],
    )?
    .pop())
}

pub(super) fn agents(
    store: &SqliteStore,
    filter: &AgentFilter,
) -> Result<Vec<AgentState>, StoreError> {
    let mut w = Where::default();
    w.add_opt("username = ?", &filter.username);
    w.add_opt("effective = ?", &filter.state);
    w.add_opt("routing_profile = ?", &filter.routing_profile);
    let sql = format!(
        "SELECT agent_arn, json FROM agents{} ORDER BY agent_arn",
        w.sql()
    );
    query_json(store, "agents", "listing agents", &sql, w.args)
}

pub(super) fn contacts(
    store: &SqliteStore,
    filter: &ContactFilter,
) -> Result<Vec<ContactTimeline>, StoreError> {
    let mut w = Where::default();
    w.add_opt("active = ?", &filter.active);
    w.add_opt("queue = ?", &filter.queue);
    w.add_opt("agent_arn = ?", &filter.agent_arn);
    w.add_opt("initiated_at_ms >= ?", &filter.since.map(Timestamp::millis));
    let sql = format!(
        "SELECT contact_id, json FROM contacts{} \
         ORDER BY initiated_at_ms DESC, contact_id{}",
        w.sql(),
        limit_sql(filter.limit)
    );
    query_json(store, "contacts", "listing contacts", &sql, w.args)
}

pub(super) fn contact(
    store: &SqliteStore,
    contact_id: &str,
) -> Result<Option<ContactDetail>, StoreError> {
    let err = sql_err(&store.path, "reading a contact");
    let one = |sql: &str| -> Result<Option<String>, StoreError> {
        store
            .conn
            .query_row(sql, [contact_id], |r| r.get(0))
            .optional()
            .map_err(&err)
    };
    let Some(timeline) = one("SELECT json FROM contacts WHERE contact_id = ?1")? else {
        return Ok(None);
    };
    let record = one("SELECT json FROM contact_records WHERE contact_id = ?1")?;
    Ok(Some(ContactDetail {
        timeline: decode(store, "contacts", contact_id, &timeline)?,
        record: record
            .map(|r| decode(store, "contact_records", contact_id, &r))
            .transpose()?,
    }))
}

pub(super) fn contact_timeline(
    store: &SqliteStore,
    contact_id: &str,
) -> Result<Option<ContactTimeline>, StoreError> {
    Ok(query_json(
        store,
        "contacts",
        "reading a contact",
        "SELECT contact_id, json FROM contacts WHERE contact_id = ?1",
        vec![Value::Text(contact_id.to_owned())],
    )?
    .pop())
}

pub(super) fn transitions(
    store: &SqliteStore,
    filter: &TransitionFilter,
) -> Result<Vec<TransitionRow>, StoreError> {
    let mut w = Where::default();
    w.add_opt("agent_arn = ?", &filter.agent_arn);
    w.add_opt("contact_id = ?", &filter.contact_id);
    w.add_opt("at_ms >= ?", &filter.from.map(Timestamp::millis));
    w.add_opt("at_ms < ?", &filter.to.map(Timestamp::millis));
    w.add_opt("seq > ?", &filter.after_seq);
    let sql = format!(
        "SELECT seq, json FROM transitions{} ORDER BY seq{}",
        w.sql(),
        limit_sql(filter.limit)
    );
    let err = sql_err(&store.path, "listing transitions");
    let mut stmt = store.conn.prepare(&sql).map_err(&err)?;
    let mut rows = stmt.query(params_from_iter(w.args)).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        let seq: i64 = row.get(0).map_err(&err)?;
        let json: String = row.get(1).map_err(&err)?;
        out.push(TransitionRow {
            seq,
            transition: decode(store, "transitions", &seq.to_string(), &json)?,
        });
    }
    Ok(out)
}

pub(super) fn metrics(
    store: &SqliteStore,
    query: &MetricQuery,
) -> Result<Vec<MetricRow>, StoreError> {
    let (from, to) = query.bounds_ms();
    let mut w = Where::default();
    w.add("start_ms >= ?", from);
    w.add("start_ms < ?", to);
    let mut sql = format!(
        "SELECT start_ms, kind, id, offered, handled, abandoned, answered_in_sl, handle_s,
                talk_s, hold_s, holds, acw_s, answer_wait_s, abandon_wait_s, longest_wait_s
         FROM metric_cells{}",
        w.sql()
    );
    let mut args = w.args;
    let mut picks = Vec::new();
    for (kind, id) in [("queue", &query.queue), ("agent", &query.agent)] {
        if let Some(id) = id {
            args.push(Value::Text(kind.to_owned()));
            args.push(Value::Text(id.clone()));
            picks.push(format!(
                "(kind = ?{} AND id = ?{})",
                args.len() - 1,
                args.len()
            ));
        }
    }
    if !picks.is_empty() {
        sql.push_str(&format!(" AND ({})", picks.join(" OR ")));
    }
    sql.push_str(" ORDER BY start_ms, kind, id");

    let err = sql_err(&store.path, "reading metric cells");
    let mut stmt = store.conn.prepare(&sql).map_err(&err)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(&err)?;
    let mut cells = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let kind: String = r.get(1).map_err(&err)?;
        // A kind this version does not know (written by a newer one): not ours to report.
        let Some(kind) = dimension(&kind) else {
            continue;
        };
        let key = MetricKey {
            start_ms: r.get(0).map_err(&err)?,
            kind,
            id: r.get(2).map_err(&err)?,
        };
        let cell = metric_cell(3, |i| r.get::<_, i64>(i)).map_err(&err)?;
        cells.push((key, cell));
    }
    Ok(metric_rows(&cells, query.interval))
}

pub(super) fn alerts(store: &SqliteStore, active_only: bool) -> Result<Vec<Alert>, StoreError> {
    let filter = if active_only {
        " WHERE cleared_at_ms IS NULL"
    } else {
        ""
    };
    let sql = format!("SELECT id, json FROM alerts{filter} ORDER BY raised_at_ms DESC, id");
    query_json(store, "alerts", "listing alerts", &sql, vec![])
}
