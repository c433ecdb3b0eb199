//! [`Store::load`](crate::Store::load) and the query methods for PostgreSQL.
//!
//! As in SQLite, rows come back from their `json` column and the other columns only serve
//! `WHERE` and `ORDER BY`, with bound parameters. Contact timelines are put back together
//! from `contacts.json` and their `contact_entries` rows.

use std::collections::HashMap;

use postgres::types::ToSql;
use serde::de::DeserializeOwned;
use switchboard_engine::contact::TimelineEntry;
use switchboard_engine::{AgentState, Alert, ContactTimeline, EngineMeta, MetricKey};
use switchboard_model::Timestamp;

use super::PostgresStore;
use crate::columns::{dimension, metric_cell, metric_rows};
use crate::query::{
    AgentFilter, ContactDetail, ContactFilter, MetricQuery, MetricRow, TransitionFilter,
    TransitionRow,
};
use crate::{Loaded, Positions, StoreError};

type Param = Box<dyn ToSql + Sync>;

/// `WHERE` clauses and their arguments, built up one filter at a time.
#[derive(Default)]
struct Where {
    clauses: Vec<String>,
    args: Vec<Param>,
}

impl Where {
    /// Adds `clause`, whose one `?` stands for `arg`.
    fn add(&mut self, clause: &str, arg: Param) {
        self.args.push(arg);
        self.clauses
            .push(clause.replace('?', &format!("${}", self.args.len())));
    }

    fn add_opt<T: ToSql + Sync + Clone + 'static>(&mut self, clause: &str, arg: &Option<T>) {
        if let Some(a) = arg {
            self.add(clause, Box::new(a.clone()));
        }
    }

    fn sql(&self) -> String {
        if self.clauses.is_empty() {
            String::new()
        } else {
            format!(" WHERE {}", self.clauses.join(" AND "))
        }
    }

    fn params(&self) -> Vec<&(dyn ToSql + Sync)> {
        self.args.iter().map(|a| a.as_ref()).collect()
    }
}

fn limit_sql(limit: Option<usize>) -> String {
    limit.map_or_else(String::new, |n| format!(" LIMIT {n}"))
}

impl PostgresStore {
    fn decode<T: DeserializeOwned>(
        &self,
        table: &'static str,
        key: &str,
        json: &str,
    ) -> Result<T, StoreError> {
        serde_json::from_str(json).map_err(|e| self.corrupt(table, key, e))
    }

    /// Runs `sql` (which selects a text key and a JSON column) and decodes every row.
    fn query_json<T: DeserializeOwned>(
        &self,
        table: &'static str,
        context: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<T>, StoreError> {
        let rows = self
            .client()?
            .query(sql, params)
            .map_err(self.err(context))?;
        rows.iter()
            .map(|r| self.decode(table, r.get::<_, &str>(0), r.get(1)))
            .collect()
    }

    /// Timelines from their `contacts` rows, with their entries put back.
    fn timelines(
        &self,
        context: &'static str,
        sql: &str,
        params: &[&(dyn ToSql + Sync)],
    ) -> Result<Vec<ContactTimeline>, StoreError> {
        let mut timelines: Vec<ContactTimeline> =
            self.query_json("contacts", context, sql, params)?;
        if timelines.is_empty() {
            return Ok(timelines);
        }
        let ids: Vec<&str> = timelines.iter().map(|c| c.contact_id.as_str()).collect();
        let rows = self
            .client()?
            .query(
                "SELECT contact_id, entry FROM contact_entries WHERE contact_id = ANY($1)
                 ORDER BY contact_id, at_ms, seq",
                &[&ids],
            )
            .map_err(self.err("reading timeline entries"))?;
        let mut entries: HashMap<String, Vec<TimelineEntry>> = HashMap::new();
        for r in &rows {
            let id: String = r.get(0);
            let entry = self.decode("contact_entries", &id, r.get(1))?;
            entries.entry(id).or_default().push(entry);
        }
        for c in &mut timelines {
            let mut mine = entries.remove(&c.contact_id).unwrap_or_default();
            // Rows are in (millisecond, insertion) order; a stable sort on the full
            // timestamp also orders entries within one millisecond as the engine does.
            mine.sort_by_key(|e| e.at);
            c.entries = mine;
        }
        Ok(timelines)
    }
}

pub(super) fn load(store: &PostgresStore) -> Result<Loaded, StoreError> {
    let agents = store.query_json(
        "agents",
        "loading agents",
        "SELECT agent_arn, json FROM agents ORDER BY agent_arn COLLATE \"C\"",
        &[],
    )?;
    let contacts = store.timelines(
        "loading contacts",
        "SELECT contact_id, json FROM contacts WHERE active ORDER BY contact_id COLLATE \"C\"",
        &[],
    )?;
    let meta: Option<EngineMeta> = store
        .query_json(
            "engine_meta",
            "loading engine meta",
            "SELECT worker, json FROM engine_meta WHERE worker = $1",
            &[&store.worker],
        )?
        .pop();
    Ok(Loaded {
        agents,
        contacts,
        meta,
        positions: positions(store)?,
    })
}

pub(super) fn positions(store: &PostgresStore) -> Result<Positions, StoreError> {
    let rows = store
        .client()?
        .query(
            "SELECT source, position FROM positions ORDER BY source COLLATE \"C\"",
            &[],
        )
        .map_err(store.err("reading positions"))?;
    Ok(rows.iter().map(|r| (r.get(0), r.get(1))).collect())
}

pub(super) fn agent(
    store: &PostgresStore,
    agent_arn: &str,
) -> Result<Option<AgentState>, StoreError> {
    Ok(store
        .query_json(
            "agents",
            "reading an agent",
            "SELECT agent_arn, json FROM agents WHERE agent_arn = $1",
            &[&agent_arn],
        )?
        .pop())
}

pub(super) fn agents(
    store: &PostgresStore,
    filter: &AgentFilter,
) -> Result<Vec<AgentState>, StoreError> {
    let mut w = Where::default();
    w.add_opt("username = ?", &filter.username);
    w.add_opt("effective = ?", &filter.state);
    w.add_opt("routing_profile = ?", &filter.routing_profile);
    let sql = format!(
        "SELECT agent_arn, json FROM agents{} ORDER BY agent_arn COLLATE \"C\"",
        w.sql()
    );
    store.query_json("agents", "listing agents", &sql, &w.params())
}

pub(super) fn contacts(
    store: &PostgresStore,
    filter: &ContactFilter,
) -> Result<Vec<ContactTimeline>, StoreError> {
    let mut w = Where::default();
    w.add_opt("active = ?", &filter.active);
    w.add_opt("queue = ?", &filter.queue);
    w.add_opt("agent_arn = ?", &filter.agent_arn);
    w.add_opt("initiated_at_ms >= ?", &filter.since.map(Timestamp::millis));
    // NULLS LAST: SQLite sorts a missing initiation time last in descending order too.
    let sql = format!(
        "SELECT contact_id, json FROM contacts{} \
         ORDER BY initiated_at_ms DESC NULLS LAST, contact_id COLLATE \"C\"{}",
        w.sql(),
        limit_sql(filter.limit)
    );
    store.timelines("listing contacts", &sql, &w.params())
}

pub(super) fn contact(
    store: &PostgresStore,
    contact_id: &str,
) -> Result<Option<ContactDetail>, StoreError> {
    let Some(timeline) = store
        .timelines(
            "reading a contact",
            "SELECT contact_id, json FROM contacts WHERE contact_id = $1",
            &[&contact_id],
        )?
        .pop()
    else {
        return Ok(None);
    };
    let record = store
        .query_json(
            "contact_records",
            "reading a contact record",
            "SELECT contact_id, json FROM contact_records WHERE contact_id = $1",
            &[&contact_id],
        )?
        .pop();
    Ok(Some(ContactDetail { timeline, record }))
}

pub(super) fn contact_timeline(
    store: &PostgresStore,
    contact_id: &str,
) -> Result<Option<ContactTimeline>, StoreError> {
    Ok(store
        .timelines(
            "reading a contact",
            "SELECT contact_id, json FROM contacts WHERE contact_id = $1",
            &[&contact_id],
        )?
        .pop())
}

pub(super) fn transitions(
    store: &PostgresStore,
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
    let rows = store
        .client()?
        .query(&sql, &w.params())
        .map_err(store.err("listing transitions"))?;
    rows.iter()
        .map(|r| {
            let seq: i64 = r.get(0);
            Ok(TransitionRow {
                seq,
                transition: store.decode("transitions", &seq.to_string(), r.get(1))?,
            })
        })
        .collect()
}

pub(super) fn metrics(
    store: &PostgresStore,
    query: &MetricQuery,
) -> Result<Vec<MetricRow>, StoreError> {
    let (from, to) = query.bounds_ms();
    let mut w = Where::default();
    w.add("start_ms >= ?", Box::new(from));
    w.add("start_ms < ?", Box::new(to));
    let mut picks = Vec::new();
    for (kind, id) in [("queue", &query.queue), ("agent", &query.agent)] {
        if let Some(id) = id {
            w.args.push(Box::new(kind));
            w.args.push(Box::new(id.clone()));
            let n = w.args.len();
            picks.push(format!("(kind = ${} AND id = ${n})", n - 1));
        }
    }
    let mut sql = format!(
        "SELECT start_ms, kind, id, offered, handled, abandoned, answered_in_sl, handle_s,
                talk_s, hold_s, holds, acw_s, answer_wait_s, abandon_wait_s, longest_wait_s
         FROM metric_cells{}",
        w.sql()
    );
    if !picks.is_empty() {
        sql.push_str(&format!(" AND ({})", picks.join(" OR ")));
    }
    sql.push_str(" ORDER BY start_ms, kind, id COLLATE \"C\"");
    let rows = store
        .client()?
        .query(&sql, &w.params())
        .map_err(store.err("reading metric cells"))?;
    let mut cells = Vec::with_capacity(rows.len());
    for r in &rows {
        // A kind this version does not know (written by a newer one): not ours to report.
        let Some(kind) = dimension(r.get(1)) else {
            continue;
        };
        let key = MetricKey {
            start_ms: r.get(0),
            kind,
            id: r.get(2),
        };
        let cell = metric_cell(3, |i| r.try_get::<_, i64>(i))
            .map_err(store.err("reading metric cells"))?;
        cells.push((key, cell));
    }
    Ok(metric_rows(&cells, query.interval))
}

pub(super) fn alerts(store: &PostgresStore, active_only: bool) -> Result<Vec<Alert>, StoreError> {
    let filter = if active_only {
        " WHERE cleared_at_ms IS NULL"
    } else {
        ""
    };
    let sql =
        format!("SELECT id, json FROM alerts{filter} ORDER BY raised_at_ms DESC, id COLLATE \"C\"");
    store.query_json("alerts", "listing alerts", &sql, &[])
}
