//! Items as table rows: the pure half of the PostgreSQL sink. Each item becomes rows of
//! one or two tables, or a rejection when its payload cannot be one (not JSON, a contact
//! record that does not parse, a transition without its agent).
//!
//! - a raw contact record, and the record inside a `contact_record_ready`:
//!   `contact_records`, its columns read with the model's contact record type;
//! - a transition: `transitions`;
//! - a metric interval: one `metric_intervals` row per dimension and name, read
//!   tolerantly (`dimension` or `kind`, `id` or `name`, `cell` or `cells`, a row's own
//!   `start` before the interval's);
//! - every other item (and each `contact_record_ready` as a whole, with its timeline):
//!   `events`.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::Deserialize;
use serde_json::value::RawValue;
use serde_json::Value;
use switchboard_model::{ContactRecord, RecordKind, Timestamp};

use crate::sinks::{Item, ItemKind, Outcome};

/// A `contact_records` row.
#[derive(Debug, Clone, PartialEq)]
pub struct ContactRow {
    pub item: usize,
    pub contact_id: String,
    pub last_update: SystemTime,
    pub initiation: Option<SystemTime>,
    pub disconnect: Option<SystemTime>,
    pub channel: Option<String>,
    pub queue: Option<String>,
    pub agent_username: Option<String>,
    pub initiation_method: Option<String>,
    pub disconnect_reason: Option<String>,
    pub customer_endpoint: Option<String>,
    pub system_endpoint: Option<String>,
    pub interaction_s: Option<i64>,
    pub handle_s: Option<i64>,
    pub hold_s: Option<i64>,
    pub acw_s: Option<i64>,
    pub queue_s: Option<i64>,
    /// JSON text.
    pub attributes: Option<String>,
    /// JSON text.
    pub record: String,
}

/// A `transitions` row.
#[derive(Debug, Clone, PartialEq)]
pub struct TransitionRow {
    pub item: usize,
    pub key: String,
    pub agent_arn: String,
    pub username: Option<String>,
    pub at: SystemTime,
    pub from_state: Option<String>,
    pub to_state: Option<String>,
    pub kind: String,
    pub duration_s: Option<f64>,
    pub contact_id: Option<String>,
    pub queue: Option<String>,
    pub channel: Option<String>,
    pub record: String,
}

/// A `metric_intervals` row.
#[derive(Debug, Clone, PartialEq)]
pub struct MetricRow {
    pub item: usize,
    pub interval_start: SystemTime,
    pub interval_end: Option<SystemTime>,
    pub dimension: String,
    pub name: String,
    pub cells: String,
    pub key: String,
    pub routed_at: SystemTime,
}

/// An `events` row.
#[derive(Debug, Clone, PartialEq)]
pub struct EventRow {
    pub item: usize,
    pub key: String,
    pub kind: String,
    pub stream: Option<String>,
    pub rule: String,
    pub at: SystemTime,
    pub payload: String,
}

/// The rows of a batch, each knowing its item.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Rows {
    pub contacts: Vec<ContactRow>,
    pub transitions: Vec<TransitionRow>,
    pub metrics: Vec<MetricRow>,
    pub events: Vec<EventRow>,
}

impl Rows {
    pub fn is_empty(&self) -> bool {
        self.contacts.is_empty()
            && self.transitions.is_empty()
            && self.metrics.is_empty()
            && self.events.is_empty()
    }

    /// The rows of the items `keep` says yes to.
    pub fn only(&self, keep: impl Fn(usize) -> bool) -> Rows {
        Rows {
            contacts: self
                .contacts
                .iter()
                .filter(|r| keep(r.item))
                .cloned()
                .collect(),
            transitions: self
                .transitions
                .iter()
                .filter(|r| keep(r.item))
                .cloned()
                .collect(),
            metrics: self
                .metrics
                .iter()
                .filter(|r| keep(r.item))
                .cloned()
                .collect(),
            events: self
                .events
                .iter()
                .filter(|r| keep(r.item))
                .cloned()
                .collect(),
        }
    }

    /// For one multi-row statement: one contact row per ContactId (the newest
    /// `last_update`, the later item on a tie) and one metric row per interval, dimension
    /// and name (the later routed), since an upsert may not touch a row twice. The rows
    /// left out lose to one kept, as they would one after the other.
    pub fn deduplicated(&self) -> Rows {
        let mut contacts: Vec<ContactRow> = Vec::with_capacity(self.contacts.len());
        let mut by_id = std::collections::HashMap::new();
        for row in &self.contacts {
            match by_id.get(&row.contact_id) {
                Some(&at) => {
                    let kept: &mut ContactRow = &mut contacts[at];
                    if row.last_update >= kept.last_update {
                        *kept = row.clone();
                    }
                }
                None => {
                    by_id.insert(row.contact_id.clone(), contacts.len());
                    contacts.push(row.clone());
                }
            }
        }
        let mut metrics: Vec<MetricRow> = Vec::with_capacity(self.metrics.len());
        let mut by_cell = std::collections::HashMap::new();
        for row in &self.metrics {
            let cell = (row.interval_start, row.dimension.clone(), row.name.clone());
            match by_cell.get(&cell) {
                Some(&at) => {
                    let kept: &mut MetricRow = &mut metrics[at];
                    if row.routed_at >= kept.routed_at {
                        *kept = row.clone();
                    }
                }
                None => {
                    by_cell.insert(cell, metrics.len());
                    metrics.push(row.clone());
                }
            }
        }
        Rows {
            contacts,
            transitions: self.transitions.clone(),
            metrics,
            events: self.events.clone(),
        }
    }
}

/// The rows of `items`, and the items rejected before any SQL (their outcomes).
pub fn rows(items: &[Item]) -> (Rows, Vec<Option<Outcome>>) {
    let mut rows = Rows::default();
    let mut outcomes = vec![None; items.len()];
    for (i, item) in items.iter().enumerate() {
        if let Err(reason) = add(&mut rows, i, item) {
            outcomes[i] = Some(Outcome::reject(reason));
        }
    }
    (rows, outcomes)
}

/// Adds the rows of one item (all of them, or none: a failing item adds nothing).
fn add(rows: &mut Rows, i: usize, item: &Item) -> Result<(), String> {
    let text = std::str::from_utf8(&item.payload)
        .map_err(|_| "the payload is not UTF-8 text, so it is not JSON".to_owned())?;
    let value: Value =
        serde_json::from_str(text).map_err(|e| format!("the payload is not JSON ({e})"))?;
    if !value.is_object() {
        return Err("the payload is not a JSON object".into());
    }
    let at = time(item.event_ms)?;
    let event = |stream: Option<RecordKind>| EventRow {
        item: i,
        key: item.key.clone(),
        kind: item.kind.as_str().to_owned(),
        stream: stream.map(|s| s.as_str().to_owned()),
        rule: item.rule.clone(),
        at,
        payload: text.to_owned(),
    };
    match item.kind {
        ItemKind::Record => match switchboard_model::Record::sniff(text.as_bytes()) {
            Some(RecordKind::ContactRecord) => rows.contacts.push(contact(i, text)?),
            stream => rows.events.push(event(stream)),
        },
        ItemKind::ContactRecordReady => {
            #[derive(Deserialize)]
            struct Ready<'a> {
                #[serde(borrow, default)]
                record: Option<&'a RawValue>,
            }
            let ready: Ready<'_> = serde_json::from_str(text)
                .map_err(|e| format!("the payload is not a contact trigger ({e})"))?;
            let contact = match ready.record {
                Some(record) if record.get() != "null" => Some(contact(i, record.get())?),
                _ => None,
            };
            rows.contacts.extend(contact);
            rows.events.push(event(None));
        }
        ItemKind::Transition => rows.transitions.push(transition(i, item, text)?),
        ItemKind::MetricInterval => rows.metrics.extend(metrics(i, item, &value)?),
        _ => rows.events.push(event(None)),
    }
    Ok(())
}

fn contact(item: usize, text: &str) -> Result<ContactRow, String> {
    let ctr: ContactRecord = serde_json::from_str(text)
        .map_err(|e| format!("the contact record does not parse ({e})"))?;
    #[derive(Deserialize)]
    struct Attributes<'a> {
        #[serde(rename = "Attributes", borrow, default)]
        attributes: Option<&'a RawValue>,
    }
    let attributes = serde_json::from_str::<Attributes<'_>>(text)
        .ok()
        .and_then(|a| a.attributes)
        .map(|raw| raw.get().to_owned())
        .filter(|raw| raw != "null");
    let agent = ctr.agent.as_ref();
    let interaction_s = agent.and_then(|a| a.agent_interaction_duration);
    let hold_s = agent.and_then(|a| a.customer_hold_duration);
    let acw_s = agent.and_then(|a| a.after_contact_work_duration);
    let handle_s = match (interaction_s, hold_s, acw_s) {
        (None, None, None) => None,
        (a, b, c) => Some(a.unwrap_or(0) + b.unwrap_or(0) + c.unwrap_or(0)),
    };
    let optional_time = |t: Option<Timestamp>| t.map(|t| time(t.millis())).transpose();
    Ok(ContactRow {
        item,
        last_update: time(ctr.last_update_timestamp.millis())?,
        initiation: Some(time(ctr.initiation_timestamp.millis())?),
        disconnect: optional_time(ctr.disconnect_timestamp)?,
        channel: Some(ctr.channel.to_string()),
        queue: ctr.queue.as_ref().and_then(|q| q.name.clone()),
        agent_username: agent.and_then(|a| a.username.clone()),
        initiation_method: Some(ctr.initiation_method.to_string()),
        disconnect_reason: ctr.disconnect_reason.as_ref().map(|r| r.to_string()),
        customer_endpoint: ctr
            .customer_endpoint
            .as_ref()
            .and_then(|e| e.address.clone()),
        system_endpoint: ctr.system_endpoint.as_ref().and_then(|e| e.address.clone()),
        interaction_s,
        handle_s,
        hold_s,
        acw_s,
        queue_s: ctr.queue.as_ref().and_then(|q| q.duration),
        attributes,
        record: text.to_owned(),
        contact_id: ctr.contact_id,
    })
}

fn transition(i: usize, item: &Item, text: &str) -> Result<TransitionRow, String> {
    #[derive(Deserialize)]
    struct Transition {
        #[serde(rename = "type")]
        kind: String,
        agent_arn: String,
        #[serde(default)]
        username: Option<String>,
        #[serde(default)]
        contact_id: Option<String>,
        #[serde(default)]
        channel: Option<String>,
        #[serde(default)]
        queue: Option<String>,
        at: Timestamp,
        #[serde(default)]
        from: Option<String>,
        #[serde(default)]
        to: Option<String>,
        #[serde(default)]
        duration_ms: Option<f64>,
    }
    let t: Transition =
        serde_json::from_str(text).map_err(|e| format!("the transition does not parse ({e})"))?;
    Ok(TransitionRow {
        item: i,
        key: item.key.clone(),
        agent_arn: t.agent_arn,
        username: t.username,
        at: time(t.at.millis())?,
        from_state: t.from,
        to_state: t.to,
        kind: t.kind,
        duration_s: t.duration_ms.map(|ms| ms / 1000.0),
        contact_id: t.contact_id,
        queue: t.queue,
        channel: t.channel,
        record: text.to_owned(),
    })
}

fn metrics(i: usize, item: &Item, value: &Value) -> Result<Vec<MetricRow>, String> {
    let stamp = |v: Option<&Value>, what: &str| -> Result<Option<SystemTime>, String> {
        match v {
            None | Some(Value::Null) => Ok(None),
            Some(Value::String(s)) => Timestamp::parse(s)
                .map_err(|e| format!("{what}: {e}"))
                .and_then(|t| time(t.millis()))
                .map(Some),
            Some(Value::Number(n)) => n
                .as_i64()
                .ok_or_else(|| format!("{what}: {n} is not epoch milliseconds"))
                .and_then(time)
                .map(Some),
            Some(other) => Err(format!("{what}: {other} is not a time")),
        }
    };
    let start = stamp(value.get("interval_start"), "interval_start")?;
    let end = stamp(value.get("interval_end"), "interval_end")?;
    let Some(list) = value.get("rows").and_then(Value::as_array) else {
        return Err("a metric interval needs `rows`, a list of {dimension, id, cell}".into());
    };
    let routed_at = time(item.created_ms)?;
    let mut out = Vec::with_capacity(list.len());
    for (n, row) in list.iter().enumerate() {
        let field = |names: &[&str]| names.iter().find_map(|k| row.get(*k));
        let text = |names: &[&str]| field(names).and_then(Value::as_str).map(str::to_owned);
        let dimension = text(&["dimension", "kind"])
            .ok_or_else(|| format!("rows[{n}] has no dimension (queue or agent)"))?;
        let name = text(&["id", "name"])
            .ok_or_else(|| format!("rows[{n}] has no id (the queue name or agent ARN)"))?;
        let cells = field(&["cell", "cells"])
            .filter(|c| c.is_object())
            .ok_or_else(|| format!("rows[{n}] has no cell (an object of counters)"))?;
        let interval_start = match stamp(field(&["start", "interval_start"]), "start")? {
            Some(t) => t,
            None => start.ok_or_else(|| {
                format!("rows[{n}] has no start, and the interval no interval_start")
            })?,
        };
        out.push(MetricRow {
            item: i,
            interval_start,
            interval_end: end,
            dimension,
            name,
            cells: cells.to_string(),
            key: item.key.clone(),
            routed_at,
        });
    }
    Ok(out)
}

/// Milliseconds since the epoch as a time.
fn time(ms: i64) -> Result<SystemTime, String> {
    let magnitude = Duration::from_millis(ms.unsigned_abs());
    let t = if ms >= 0 {
        UNIX_EPOCH.checked_add(magnitude)
    } else {
        UNIX_EPOCH.checked_sub(magnitude)
    };
    t.ok_or_else(|| format!("{ms} ms since the epoch is out of range"))
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn item(kind: ItemKind, payload: &str) -> Item {
        Item {
            id: 1,
            rule: "bi".into(),
            sink: "pg".into(),
            key: "k1".into(),
            kind,
            payload: Bytes::from(payload.to_owned()),
            event_ms: 1_000,
            created_ms: 2_000,
            attempts: 0,
        }
    }

    fn ms(t: SystemTime) -> u128 {
        t.duration_since(UNIX_EPOCH).unwrap().as_millis()
    }

    const CTR: &str = r#"{"AWSAccountId":"1","AWSContactTraceRecordFormatVersion":"2017-03-10",
        "Agent":{"Username":"ana","AgentInteractionDuration":33,"CustomerHoldDuration":5,
                 "AfterContactWorkDuration":32},
        "Attributes":{"greetingPlayed":"true"},"Channel":"VOICE","ContactId":"c-1",
        "CustomerEndpoint":{"Address":"+15550100","Type":"TELEPHONE_NUMBER"},
        "DisconnectReason":"CUSTOMER_DISCONNECT","DisconnectTimestamp":"2022-04-08T15:01:22Z",
        "InitiationMethod":"INBOUND","InitiationTimestamp":"2022-04-08T14:59:38Z",
        "InstanceARN":"arn:aws:connect:us-east-1:1:instance/x",
        "LastUpdateTimestamp":"2022-04-08T15:03:02Z","Queue":{"Name":"Sales","Duration":7},
        "SystemEndpoint":{"Address":"+14065003978","Type":"TELEPHONE_NUMBER"}}"#;

    #[test]
    fn contact_record_columns() {
        let (rows, outcomes) = rows(&[item(ItemKind::Record, CTR)]);
        assert_eq!(outcomes, [None]);
        let r = &rows.contacts[0];
        assert_eq!(r.contact_id, "c-1");
        assert_eq!(ms(r.last_update), 1_649_430_182_000);
        assert_eq!(r.queue.as_deref(), Some("Sales"));
        assert_eq!(r.agent_username.as_deref(), Some("ana"));
        assert_eq!(r.channel.as_deref(), Some("VOICE"));
        assert_eq!(r.initiation_method.as_deref(), Some("INBOUND"));
        assert_eq!(r.disconnect_reason.as_deref(), Some("CUSTOMER_DISCONNECT"));
        assert_eq!(r.system_endpoint.as_deref(), Some("+14065003978"));
        assert_eq!(
            (r.interaction_s, r.hold_s, r.acw_s, r.handle_s, r.queue_s),
            (Some(33), Some(5), Some(32), Some(70), Some(7))
        );
        assert_eq!(
            r.attributes.as_deref(),
            Some(r#"{"greetingPlayed":"true"}"#)
        );
        assert_eq!(r.record, CTR);
        assert!(rows.events.is_empty());
    }

    #[test]
    fn ready_triggers_write_the_record_and_an_event() {
        let ready =
            format!(r#"{{"type":"contact_record_ready","contact_id":"c-1","record":{CTR}}}"#);
        let (rows, _) = rows(&[item(ItemKind::ContactRecordReady, &ready)]);
        assert_eq!(rows.contacts.len(), 1);
        assert_eq!(rows.events[0].kind, "contact_record_ready");
        let without = r#"{"type":"contact_record_ready","contact_id":"c-1"}"#;
        let (rows, _) = super::rows(&[item(ItemKind::ContactRecordReady, without)]);
        assert_eq!((rows.contacts.len(), rows.events.len()), (0, 1));
    }

    #[test]
    fn transitions_and_events() {
        let t = r#"{"type":"hold_ended","agent_arn":"arn:a","username":"ana",
            "at":"2024-01-02T03:04:05.250Z","duration_ms":12500,"contact_id":"c","queue":"Sales"}"#;
        let agent_event = r#"{"AgentARN":"arn:a","EventId":"e","EventType":"HEART_BEAT",
            "EventTimestamp":"2024-01-02T03:04:05.000Z","InstanceARN":"i","AWSAccountId":"1",
            "Version":"2017-10-01"}"#;
        let (rows, outcomes) = rows(&[
            item(ItemKind::Transition, t),
            item(ItemKind::Record, agent_event),
            item(ItemKind::AlertRaised, r#"{"event":"raised"}"#),
        ]);
        assert_eq!(outcomes, [None, None, None]);
        let r = &rows.transitions[0];
        assert_eq!((r.kind.as_str(), r.duration_s), ("hold_ended", Some(12.5)));
        assert_eq!(ms(r.at), 1_704_164_645_250);
        assert_eq!(rows.events[0].stream.as_deref(), Some("agent_event"));
        assert_eq!(rows.events[1].kind, "alert_raised");
        assert_eq!(ms(rows.events[1].at), 1_000);
    }

    #[test]
    fn metric_intervals_are_read_tolerantly() {
        let interval = r#"{"interval_start":"2024-01-02T03:00:00.000Z",
            "interval_end":"2024-01-02T03:15:00.000Z","rows":[
            {"dimension":"queue","id":"Sales","cell":{"offered":3}},
            {"kind":"agent","name":"arn:a","cells":{"handled":1},"start":"2024-01-02T03:00:00Z"}]}"#;
        let (rows, outcomes) = rows(&[item(ItemKind::MetricInterval, interval)]);
        assert_eq!(outcomes, [None]);
        assert_eq!(rows.metrics.len(), 2);
        assert_eq!(rows.metrics[1].dimension, "agent");
        assert_eq!(rows.metrics[1].cells, r#"{"handled":1}"#);
        assert_eq!(ms(rows.metrics[0].interval_start), 1_704_164_400_000);
        let bad = r#"{"interval_start":"2024-01-02T03:00:00Z","rows":[{"id":"Sales","cell":{}}]}"#;
        let (_, outcomes) = super::rows(&[item(ItemKind::MetricInterval, bad)]);
        assert!(
            matches!(&outcomes[0], Some(Outcome::Reject { reason }) if reason.contains("dimension"))
        );
    }

    #[test]
    fn bad_payloads_are_rejected_alone() {
        let (rows, outcomes) = rows(&[
            item(ItemKind::Record, "not json"),
            item(ItemKind::Transition, r#"{"type":"hold_started"}"#),
            item(
                ItemKind::Record,
                r#"{"ContactId":"c","LastUpdateTimestamp":"yesterday",
                "InitiationTimestamp":"2022-04-08T14:59:38Z","Channel":"VOICE",
                "InitiationMethod":"INBOUND","AWSAccountId":"1",
                "AWSContactTraceRecordFormatVersion":"2017-03-10","InstanceARN":"x"}"#,
            ),
            item(ItemKind::AlertCleared, "[]"),
            item(ItemKind::AlertCleared, "{}"),
        ]);
        assert!(outcomes[..4]
            .iter()
            .all(|o| matches!(o, Some(Outcome::Reject { .. }))));
        assert_eq!(outcomes[4], None);
        assert_eq!(rows.events.len(), 1);
    }

    #[test]
    fn deduplication_keeps_the_newest() {
        let older = CTR.replace("15:03:02Z", "15:02:00Z");
        let (rows, _) = rows(&[item(ItemKind::Record, CTR), item(ItemKind::Record, &older)]);
        let d = rows.deduplicated();
        assert_eq!(d.contacts.len(), 1);
        assert_eq!(d.contacts[0].item, 0);
        assert_eq!(rows.only(|i| i == 1).contacts[0].item, 1);
    }
}
