//! The SQL of the PostgreSQL sink: one multi-row statement per table (`INSERT ...
//! SELECT FROM unnest($1, $2, ...)`: one round trip for any number of rows), and the
//! upsert rules of each table.

use std::time::SystemTime;

use tokio_postgres::types::ToSql;
use tokio_postgres::Transaction;

use super::rows::Rows;

/// The statements, with the schema filled in.
pub struct Statements {
    contacts: String,
    transitions: String,
    metrics: String,
    events: String,
}

impl Statements {
    /// Statements for tables in `schema` (an identifier the config checked).
    pub fn new(schema: &str) -> Statements {
        let s = format!("\"{schema}\"");
        Statements {
            // Newest wins: an older copy of a record never replaces a newer one; an equal
            // one re-applies (the same record retried, or enriched differently).
            contacts: format!(
                "INSERT INTO {s}.contact_records AS t (contact_id, last_update_timestamp,
                     initiation_timestamp, disconnect_timestamp, channel, queue, agent_username,
                     initiation_method, disconnect_reason, customer_endpoint, system_endpoint,
                     interaction_s, handle_s, hold_s, acw_s, queue_s, attributes, record,
                     written_at)
                 SELECT u.contact_id, u.last_update, u.initiation, u.disconnect, u.channel,
                     u.queue, u.agent_username, u.initiation_method, u.disconnect_reason,
                     u.customer_endpoint, u.system_endpoint, u.interaction_s, u.handle_s,
                     u.hold_s, u.acw_s, u.queue_s, u.attributes::jsonb, u.record::jsonb, now()
                 FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[],
                     $4::timestamptz[], $5::text[], $6::text[], $7::text[], $8::text[],
                     $9::text[], $10::text[], $11::text[], $12::int8[], $13::int8[],
                     $14::int8[], $15::int8[], $16::int8[], $17::text[], $18::text[])
                     AS u(contact_id, last_update, initiation, disconnect, channel, queue,
                          agent_username, initiation_method, disconnect_reason,
                          customer_endpoint, system_endpoint, interaction_s, handle_s, hold_s,
                          acw_s, queue_s, attributes, record)
                 ON CONFLICT (contact_id) DO UPDATE SET
                     last_update_timestamp = excluded.last_update_timestamp,
                     initiation_timestamp = excluded.initiation_timestamp,
                     disconnect_timestamp = excluded.disconnect_timestamp,
                     channel = excluded.channel,
                     queue = excluded.queue,
                     agent_username = excluded.agent_username,
                     initiation_method = excluded.initiation_method,
                     disconnect_reason = excluded.disconnect_reason,
                     customer_endpoint = excluded.customer_endpoint,
                     system_endpoint = excluded.system_endpoint,
                     interaction_s = excluded.interaction_s,
                     handle_s = excluded.handle_s,
                     hold_s = excluded.hold_s,
                     acw_s = excluded.acw_s,
                     queue_s = excluded.queue_s,
                     attributes = excluded.attributes,
                     record = excluded.record,
                     written_at = excluded.written_at
                 WHERE excluded.last_update_timestamp >= t.last_update_timestamp"
            ),
            transitions: format!(
                "INSERT INTO {s}.transitions (key, agent_arn, username, at, from_state, to_state,
                     kind, duration_s, contact_id, queue, channel, record)
                 SELECT u.key, u.agent_arn, u.username, u.at, u.from_state, u.to_state, u.kind,
                     u.duration_s, u.contact_id, u.queue, u.channel, u.record::jsonb
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::timestamptz[], $5::text[],
                     $6::text[], $7::text[], $8::float8[], $9::text[], $10::text[], $11::text[],
                     $12::text[])
                     AS u(key, agent_arn, username, at, from_state, to_state, kind, duration_s,
                          contact_id, queue, channel, record)
                 ON CONFLICT (key) DO NOTHING"
            ),
            // The latest routing of an interval wins (it was computed with more data).
            metrics: format!(
                "INSERT INTO {s}.metric_intervals AS t (interval_start, interval_end, dimension,
                     name, cells, key, routed_at)
                 SELECT u.interval_start, u.interval_end, u.dimension, u.name, u.cells::jsonb,
                     u.key, u.routed_at
                 FROM unnest($1::timestamptz[], $2::timestamptz[], $3::text[], $4::text[],
                     $5::text[], $6::text[], $7::timestamptz[])
                     AS u(interval_start, interval_end, dimension, name, cells, key, routed_at)
                 ON CONFLICT (interval_start, dimension, name) DO UPDATE SET
                     interval_end = excluded.interval_end,
                     cells = excluded.cells,
                     key = excluded.key,
                     routed_at = excluded.routed_at
                 WHERE excluded.routed_at >= t.routed_at"
            ),
            events: format!(
                "INSERT INTO {s}.events (key, kind, stream, rule, at, payload)
                 SELECT u.key, u.kind, u.stream, u.rule, u.at, u.payload::jsonb
                 FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],
                     $5::timestamptz[], $6::text[])
                     AS u(key, kind, stream, rule, at, payload)
                 ON CONFLICT (key) DO NOTHING"
            ),
        }
    }

    /// Writes `rows` (already free of duplicate upsert targets) in `tx`.
    pub async fn write(
        &self,
        tx: &Transaction<'_>,
        rows: &Rows,
    ) -> Result<(), tokio_postgres::Error> {
        if !rows.contacts.is_empty() {
            let c = &rows.contacts;
            let contact_id: Vec<&str> = c.iter().map(|r| r.contact_id.as_str()).collect();
            let last_update: Vec<SystemTime> = c.iter().map(|r| r.last_update).collect();
            let initiation: Vec<Option<SystemTime>> = c.iter().map(|r| r.initiation).collect();
            let disconnect: Vec<Option<SystemTime>> = c.iter().map(|r| r.disconnect).collect();
            let text = |f: fn(&super::rows::ContactRow) -> &Option<String>| -> Vec<Option<&str>> {
                c.iter().map(|r| f(r).as_deref()).collect()
            };
            let channel = text(|r| &r.channel);
            let queue = text(|r| &r.queue);
            let agent_username = text(|r| &r.agent_username);
            let initiation_method = text(|r| &r.initiation_method);
            let disconnect_reason = text(|r| &r.disconnect_reason);
            let customer_endpoint = text(|r| &r.customer_endpoint);
            let system_endpoint = text(|r| &r.system_endpoint);
            let attributes = text(|r| &r.attributes);
            let number = |f: fn(&super::rows::ContactRow) -> Option<i64>| -> Vec<Option<i64>> {
                c.iter().map(f).collect()
            };
            let interaction_s = number(|r| r.interaction_s);
            let handle_s = number(|r| r.handle_s);
            let hold_s = number(|r| r.hold_s);
            let acw_s = number(|r| r.acw_s);
            let queue_s = number(|r| r.queue_s);
            let record: Vec<&str> = c.iter().map(|r| r.record.as_str()).collect();
            let params: [&(dyn ToSql + Sync); 18] = [
                &contact_id,
                &last_update,
                &initiation,
                &disconnect,
                &channel,
                &queue,
                &agent_username,
                &initiation_method,
                &disconnect_reason,
                &customer_endpoint,
                &system_endpoint,
                &interaction_s,
                &handle_s,
                &hold_s,
                &acw_s,
                &queue_s,
                &attributes,
                &record,
            ];
            tx.execute(&self.contacts, &params).await?;
        }
        if !rows.transitions.is_empty() {
            let t = &rows.transitions;
            let key: Vec<&str> = t.iter().map(|r| r.key.as_str()).collect();
            let agent_arn: Vec<&str> = t.iter().map(|r| r.agent_arn.as_str()).collect();
            let username: Vec<Option<&str>> = t.iter().map(|r| r.username.as_deref()).collect();
            let at: Vec<SystemTime> = t.iter().map(|r| r.at).collect();
            let from_state: Vec<Option<&str>> = t.iter().map(|r| r.from_state.as_deref()).collect();
            let to_state: Vec<Option<&str>> = t.iter().map(|r| r.to_state.as_deref()).collect();
            let kind: Vec<&str> = t.iter().map(|r| r.kind.as_str()).collect();
            let duration_s: Vec<Option<f64>> = t.iter().map(|r| r.duration_s).collect();
            let contact_id: Vec<Option<&str>> = t.iter().map(|r| r.contact_id.as_deref()).collect();
            let queue: Vec<Option<&str>> = t.iter().map(|r| r.queue.as_deref()).collect();
            let channel: Vec<Option<&str>> = t.iter().map(|r| r.channel.as_deref()).collect();
            let record: Vec<&str> = t.iter().map(|r| r.record.as_str()).collect();
            let params: [&(dyn ToSql + Sync); 12] = [
                &key,
                &agent_arn,
                &username,
                &at,
                &from_state,
                &to_state,
                &kind,
                &duration_s,
                &contact_id,
                &queue,
                &channel,
                &record,
            ];
            tx.execute(&self.transitions, &params).await?;
        }
        if !rows.metrics.is_empty() {
            let m = &rows.metrics;
            let interval_start: Vec<SystemTime> = m.iter().map(|r| r.interval_start).collect();
            let interval_end: Vec<Option<SystemTime>> = m.iter().map(|r| r.interval_end).collect();
            let dimension: Vec<&str> = m.iter().map(|r| r.dimension.as_str()).collect();
            let name: Vec<&str> = m.iter().map(|r| r.name.as_str()).collect();
            let cells: Vec<&str> = m.iter().map(|r| r.cells.as_str()).collect();
            let key: Vec<&str> = m.iter().map(|r| r.key.as_str()).collect();
            let routed_at: Vec<SystemTime> = m.iter().map(|r| r.routed_at).collect();
            let params: [&(dyn ToSql + Sync); 7] = [
                &interval_start,
                &interval_end,
                &dimension,
                &name,
                &cells,
                &key,
                &routed_at,
            ];
            tx.execute(&self.metrics, &params).await?;
        }
        if !rows.events.is_empty() {
            let e = &rows.events;
            let key: Vec<&str> = e.iter().map(|r| r.key.as_str()).collect();
            let kind: Vec<&str> = e.iter().map(|r| r.kind.as_str()).collect();
            let stream: Vec<Option<&str>> = e.iter().map(|r| r.stream.as_deref()).collect();
            let rule: Vec<&str> = e.iter().map(|r| r.rule.as_str()).collect();
            let at: Vec<SystemTime> = e.iter().map(|r| r.at).collect();
            let payload: Vec<&str> = e.iter().map(|r| r.payload.as_str()).collect();
            let params: [&(dyn ToSql + Sync); 6] = [&key, &kind, &stream, &rule, &at, &payload];
            tx.execute(&self.events, &params).await?;
        }
        Ok(())
    }
}
