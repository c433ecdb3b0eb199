//! [`Store::load`](crate::Store::load) and the query methods for SQLite.
//!
//! Rows come back from their `json` column, decoded into the engine's types; the other
//! columns only serve `WHERE` and `ORDER BY`. Filters are built as SQL with bound
//! parameters, never by pasting values into the text.

use rusqlite::types::Value;
use rusqlite::{params_from_iter, OptionalExtension};
use serde::de::DeserializeOwned;
use switchboard_engine::{
    AgentState, Alert, ContactTimeline, MetricKey, Transition, TransitionKind,
};
use switchboard_model::Timestamp;

use super::compact::{at_from, inflate_json, source_of};
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

/// Runs `sql` (which selects a contact id and its deflated JSON) and gives back the
/// timelines with their entries.
fn timelines(
    store: &SqliteStore,
    context: &'static str,
    sql: &str,
    args: Vec<Value>,
) -> Result<Vec<ContactTimeline>, StoreError> {
    let err = sql_err(&store.path, context);
    let mut stmt = store.conn.prepare_cached(sql).map_err(&err)?;
    let mut rows = stmt.query(params_from_iter(args)).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(row) = rows.next().map_err(&err)? {
        let id: String = row.get(0).map_err(&err)?;
        let blob: Vec<u8> = row.get(1).map_err(&err)?;
        let mut c: ContactTimeline = inflate_json(&store.path, "contacts", &id, &blob)?;
        c.entries = entries(store, &id)?;
        out.push(c);
    }
    Ok(out)
}

/// One contact's timeline entries, in the engine's order: by time, equal times in the
/// order they arrived.
fn entries(
    store: &SqliteStore,
    contact_id: &str,
) -> Result<Vec<switchboard_engine::TimelineEntry>, StoreError> {
    let err = sql_err(&store.path, "reading timeline entries");
    let mut stmt = store
        .conn
        .prepare_cached(
            "SELECT e.at_ms, e.at, e.event, e.source, a.name, e.queue, e.duration_ms
             FROM contact_entries e LEFT JOIN names a ON a.id = e.agent
             WHERE e.contact_id = ?1 ORDER BY e.n",
        )
        .map_err(&err)?;
    let mut rows = stmt.query([contact_id]).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let event: String = r.get(2).map_err(&err)?;
        out.push(switchboard_engine::TimelineEntry {
            at: at_from(
                &store.path,
                "contact_entries",
                contact_id,
                r.get(0).map_err(&err)?,
                r.get(1).map_err(&err)?,
            )?,
            event: switchboard_engine::contact::event_cow(event),
            source: source_of(r.get(3).map_err(&err)?),
            agent_arn: r.get(4).map_err(&err)?,
            queue: r.get(5).map_err(&err)?,
            duration_ms: r.get(6).map_err(&err)?,
        });
    }
    out.sort_by_key(|e| e.at);
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
    let contacts = timelines(
        store,
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
    w.add_opt(
        "agent = (SELECT id FROM names WHERE name = ?)",
        &filter.agent_arn,
    );
    w.add_opt("initiated_at_ms >= ?", &filter.since.map(Timestamp::millis));
    let sql = format!(
        "SELECT contact_id, json FROM contacts{} \
         ORDER BY initiated_at_ms DESC, contact_id{}",
        w.sql(),
        limit_sql(filter.limit)
    );
    timelines(store, "listing contacts", &sql, w.args)
}

pub(super) fn contact(
    store: &SqliteStore,
    contact_id: &str,
) -> Result<Option<ContactDetail>, StoreError> {
    let Some(timeline) = contact_timeline(store, contact_id)? else {
        return Ok(None);
    };
    let err = sql_err(&store.path, "reading a contact record");
    let record: Option<Vec<u8>> = store
        .conn
        .query_row(
            "SELECT json FROM contact_records WHERE contact_id = ?1",
            [contact_id],
            |r| r.get(0),
        )
        .optional()
        .map_err(&err)?;
    Ok(Some(ContactDetail {
        timeline,
        record: record
            .map(|r| inflate_json(&store.path, "contact_records", contact_id, &r))
            .transpose()?,
    }))
}

pub(super) fn contact_timeline(
    store: &SqliteStore,
    contact_id: &str,
) -> Result<Option<ContactTimeline>, StoreError> {
    Ok(timelines(
        store,
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
    w.add_opt(
        "t.agent = (SELECT id FROM names WHERE name = ?)",
        &filter.agent_arn,
    );
    w.add_opt("t.contact_id = ?", &filter.contact_id);
    w.add_opt("t.at_ms >= ?", &filter.from.map(Timestamp::millis));
    w.add_opt("t.at_ms < ?", &filter.to.map(Timestamp::millis));
    w.add_opt("t.seq > ?", &filter.after_seq);
    let sql = format!(
        "SELECT t.seq, t.at_ms, t.at, t.kind, a.name, u.name, t.contact_id, t.channel, t.queue,
                t.from_status, t.to_status, t.duration_ms
         FROM transitions t JOIN names a ON a.id = t.agent LEFT JOIN names u ON u.id = t.username{}
         ORDER BY t.seq{}",
        w.sql(),
        limit_sql(filter.limit)
    );
    let err = sql_err(&store.path, "listing transitions");
    let mut stmt = store.conn.prepare(&sql).map_err(&err)?;
    let mut rows = stmt.query(params_from_iter(w.args)).map_err(&err)?;
    let mut out = Vec::new();
    while let Some(r) = rows.next().map_err(&err)? {
        let seq: i64 = r.get(0).map_err(&err)?;
        let key = seq.to_string();
        let kind: String = r.get(3).map_err(&err)?;
        let Some(kind) = TransitionKind::parse(&kind) else {
            // A kind this version does not know (written by a newer one).
            continue;
        };
        out.push(TransitionRow {
            seq,
            transition: Transition {
                kind,
                at: at_from(
                    &store.path,
                    "transitions",
                    &key,
                    r.get(1).map_err(&err)?,
                    r.get(2).map_err(&err)?,
                )?,
                agent_arn: r.get(4).map_err(&err)?,
                username: r.get(5).map_err(&err)?,
                contact_id: r.get(6).map_err(&err)?,
                channel: r.get(7).map_err(&err)?,
                queue: r.get(8).map_err(&err)?,
                from: r.get(9).map_err(&err)?,
                to: r.get(10).map_err(&err)?,
                duration_ms: r.get(11).map_err(&err)?,
            },
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
        let cell = metric_cell(3, |i| r.get_ref(i).map(lenient_i64)).map_err(&err)?;
        cells.push((key, cell));
    }
    Ok(metric_rows(&cells, query.interval))
}

/// A metric column as an integer, whatever SQLite holds: a version that let a sum
/// overflow left a REAL there (read clamped to the integer range), and a value of another
/// type reads as 0 rather than failing every query over its cell.
fn lenient_i64(v: rusqlite::types::ValueRef<'_>) -> i64 {
    use rusqlite::types::ValueRef;
    match v {
        ValueRef::Integer(i) => i,
        // `as` saturates at the bounds and takes NaN to 0.
        ValueRef::Real(f) => f as i64,
        ValueRef::Null | ValueRef::Text(_) | ValueRef::Blob(_) => 0,
    }
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
