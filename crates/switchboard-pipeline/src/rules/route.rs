//! What can be routed, and how an item becomes outbox entries.
//!
//! A [`Routable`] is one item the pipeline offers the rules: its kind, the bytes a sink
//! would get, the time it describes, an identity (stable across re-deliveries, restarts
//! and workers: it makes the idempotency key) and the fields every kind shares for
//! matching. [`Routable::route`] runs the rules over it and returns the entries to write.

use bytes::Bytes;
use serde_json::Value;
use switchboard_engine::{AlertEvent, ContactTimeline, Transition, Trigger, TriggerKind};
use switchboard_io::sinks::ItemKind;
use switchboard_model::decode::Decoded;
use switchboard_model::view::owned;
use switchboard_model::{RecordKind, RecordView};
use switchboard_store::OutboxEntry;

use super::Rules;

/// Fields every kind shares, for matching (`switchboard.*` in a pattern).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Shared {
    /// For records: `contact_record`, `agent_event` or `contact_event`.
    pub stream: Option<&'static str>,
    pub channel: Option<String>,
    /// Queue name (or ARN where only that is known, as in contact events).
    pub queue: Option<String>,
    /// The number the customer dialled (`SystemEndpoint.Address`).
    pub dialled_number: Option<String>,
    pub contact_id: Option<String>,
    /// Agent ARN.
    pub agent: Option<String>,
}

/// One item offered to the rules.
#[derive(Debug, Clone)]
pub struct Routable {
    pub kind: ItemKind,
    /// What a sink gets: JSON. For records, the original bytes.
    pub payload: Bytes,
    /// Event time, ms since the epoch.
    pub event_ms: i64,
    /// Stable identity of the item (with rule and sink it makes the idempotency key).
    pub identity: String,
    pub shared: Shared,
}

/// An entry to write, and which rule made it.
pub type Routed = OutboxEntry;

impl Routable {
    /// A record exactly as received (its bytes), described from its view.
    pub fn record(decoded: &Decoded, view: &RecordView<'_>) -> Routable {
        let (identity, event_ms, shared) = match view {
            RecordView::ContactRecord(r) => (
                format!(
                    "contact_record:{}:{}",
                    r.contact_id,
                    r.last_update_timestamp.millis()
                ),
                r.last_update_timestamp.millis(),
                Shared {
                    stream: Some(RecordKind::ContactRecord.as_str()),
                    channel: Some(r.channel.to_string()),
                    queue: r.queue.as_ref().and_then(|q| owned(&q.name)),
                    dialled_number: r.system_endpoint.as_ref().and_then(|e| owned(&e.address)),
                    contact_id: Some(r.contact_id.to_string()),
                    agent: r.agent.as_ref().and_then(|a| owned(&a.arn)),
                },
            ),
            RecordView::AgentEvent(e) => {
                let contact = e.current.as_ref().and_then(|s| s.contacts().first());
                (
                    format!("agent_event:{}", e.event_id),
                    e.event_timestamp.millis(),
                    Shared {
                        stream: Some(RecordKind::AgentEvent.as_str()),
                        channel: contact.and_then(|c| c.channel.as_ref().map(|c| c.to_string())),
                        queue: contact.and_then(|c| c.queue.as_ref().and_then(|q| owned(&q.name))),
                        dialled_number: None,
                        contact_id: contact.map(|c| c.contact_id.to_string()),
                        agent: Some(e.agent_arn.to_string()),
                    },
                )
            }
            RecordView::ContactEvent(e) => {
                let d = &e.detail;
                let at = d.event_time().or(e.time).map_or(0, |t| t.millis());
                let identity = match &e.id {
                    Some(id) => format!("contact_event:{id}"),
                    None => format!("contact_event:{}:{}:{at}", d.contact_id, d.event_type),
                };
                (
                    identity,
                    at,
                    Shared {
                        stream: Some(RecordKind::ContactEvent.as_str()),
                        channel: d.channel.as_ref().map(|c| c.to_string()),
                        queue: d.queue_info.as_ref().and_then(|q| owned(&q.queue_arn)),
                        dialled_number: None,
                        contact_id: Some(d.contact_id.to_string()),
                        agent: d.agent_info.as_ref().and_then(|a| owned(&a.agent_arn)),
                    },
                )
            }
        };
        Routable {
            kind: ItemKind::Record,
            payload: decoded.raw.clone(),
            event_ms,
            identity,
            shared,
        }
    }

    /// A transition the engine derived.
    pub fn transition(t: &Transition) -> Routable {
        let kind = serde_json::to_value(t.kind)
            .ok()
            .and_then(|v| v.as_str().map(str::to_owned))
            .unwrap_or_default();
        Routable {
            kind: ItemKind::Transition,
            payload: to_bytes(t),
            event_ms: t.at.millis(),
            identity: format!(
                "transition:{}:{}:{kind}:{}:{}:{}",
                t.agent_arn,
                t.at.millis(),
                t.contact_id.as_deref().unwrap_or(""),
                t.from.as_deref().unwrap_or(""),
                t.to.as_deref().unwrap_or(""),
            ),
            shared: Shared {
                stream: None,
                channel: t.channel.clone(),
                queue: t.queue.clone(),
                dialled_number: None,
                contact_id: t.contact_id.clone(),
                agent: Some(t.agent_arn.clone()),
            },
        }
    }

    /// A post-contact trigger, with the contact's timeline and, for
    /// `contact_record_ready`, the contact record: its original bytes when the record
    /// that fired the trigger is at hand (`record`), else as the engine holds it.
    pub fn trigger(
        trigger: &Trigger,
        timeline: Option<&ContactTimeline>,
        record: Option<&Bytes>,
        dialled_number: Option<String>,
    ) -> Routable {
        let kind = match trigger.kind {
            TriggerKind::ContactCompleted => ItemKind::ContactCompleted,
            TriggerKind::ContactRecordReady => ItemKind::ContactRecordReady,
        };
        // {"type":..,"contact_id":..,"initial_contact_id":..,"at":..,"timeline":..,"record":RAW}
        let mut head = match serde_json::to_value(trigger) {
            Ok(Value::Object(m)) => m,
            _ => serde_json::Map::new(),
        };
        if let Some(t) = timeline {
            head.insert(
                "timeline".into(),
                serde_json::to_value(t).unwrap_or(Value::Null),
            );
        }
        let mut payload = serde_json::to_vec(&Value::Object(head)).unwrap_or_default();
        if let (Some(raw), Some(b'}')) = (record, payload.last()) {
            payload.pop();
            payload.extend_from_slice(b",\"record\":");
            payload.extend_from_slice(raw);
            payload.push(b'}');
        }
        Routable {
            kind,
            payload: Bytes::from(payload),
            event_ms: trigger.at.millis(),
            identity: format!("{}:{}", kind.as_str(), trigger.contact_id),
            shared: Shared {
                stream: None,
                channel: timeline.and_then(|t| t.channel.clone()),
                queue: timeline.and_then(|t| t.queue.clone()),
                dialled_number,
                contact_id: Some(trigger.contact_id.clone()),
                agent: timeline.and_then(|t| t.agent_arn.clone()),
            },
        }
    }

    /// An alert raised or cleared.
    pub fn alert(event: &AlertEvent) -> Routable {
        let cleared = event.event == "cleared";
        let kind = if cleared {
            ItemKind::AlertCleared
        } else {
            ItemKind::AlertRaised
        };
        let at = if cleared {
            event.alert.cleared_at.unwrap_or(event.alert.raised_at)
        } else {
            event.alert.raised_at
        };
        let agent = event
            .alert
            .subject
            .starts_with("arn:")
            .then(|| event.alert.subject.clone());
        Routable {
            kind,
            payload: to_bytes(event),
            event_ms: at.millis(),
            identity: format!("{}:{}", kind.as_str(), event.alert.id),
            shared: Shared {
                stream: None,
                channel: None,
                queue: event.alert.queue.clone(),
                dialled_number: None,
                contact_id: event.alert.contact_id.clone(),
                agent,
            },
        }
    }

    /// A closed metric interval (`payload` is its JSON).
    pub fn metric_interval(start_ms: i64, payload: Bytes) -> Routable {
        Routable {
            kind: ItemKind::MetricInterval,
            payload,
            event_ms: start_ms,
            identity: format!("metric_interval:{start_ms}"),
            shared: Shared::default(),
        }
    }

    /// The JSON rules match against: the payload with the shared fields under
    /// `switchboard`. `None` if the payload is not a JSON object (it then matches only
    /// rules without a pattern).
    pub fn document(&self) -> Option<Value> {
        let mut doc: Value = serde_json::from_slice(&self.payload).ok()?;
        let map = doc.as_object_mut()?;
        let mut meta = serde_json::Map::new();
        meta.insert("kind".into(), self.kind.as_str().into());
        let fields = [
            ("stream", self.shared.stream.map(str::to_owned)),
            ("channel", self.shared.channel.clone()),
            ("queue", self.shared.queue.clone()),
            ("dialled_number", self.shared.dialled_number.clone()),
            ("contact_id", self.shared.contact_id.clone()),
            ("agent", self.shared.agent.clone()),
        ];
        for (name, value) in fields {
            if let Some(v) = value {
                meta.insert(name.into(), Value::String(v));
            }
        }
        map.insert("switchboard".into(), Value::Object(meta));
        Some(doc)
    }

    /// The outbox entries the rules make of this item (one per matching rule and sink).
    pub fn route(&self, rules: &Rules, now_ms: i64, out: &mut Vec<Routed>) {
        let mut doc: Option<Option<Value>> = None;
        for rule in rules.iter() {
            if !rule.wants(self.kind) {
                continue;
            }
            if rule.needs_document() {
                let doc = doc.get_or_insert_with(|| self.document());
                match doc {
                    Some(d) if rule.matches(d) => {}
                    _ => continue,
                }
            }
            for sink in &rule.sinks {
                out.push(OutboxEntry {
                    rule: rule.name.clone(),
                    sink: sink.clone(),
                    key: idempotency_key(&rule.name, sink, &self.identity),
                    kind: self.kind.as_str().to_owned(),
                    payload: self.payload.to_vec(),
                    event_ms: self.event_ms,
                    created_ms: now_ms,
                });
            }
        }
    }
}

fn to_bytes<T: serde::Serialize>(value: &T) -> Bytes {
    // The engine's types always serialize; an empty object keeps a sink from choking if
    // one ever did not.
    Bytes::from(serde_json::to_vec(value).unwrap_or_else(|_| b"{}".to_vec()))
}

/// The idempotency key of an item for a rule and sink: 128 bits of two FNV-1a hashes of
/// the three, hex, prefixed `sb1-` (the scheme's version). The same item routed again
/// (a re-delivered record, a restart, another worker) gets the same key.
pub fn idempotency_key(rule: &str, sink: &str, identity: &str) -> String {
    fn fnv(seed: u64, parts: &[&str]) -> u64 {
        let mut h = seed;
        for part in parts {
            for b in part.bytes().chain(std::iter::once(0xff)) {
                h ^= u64::from(b);
                h = h.wrapping_mul(0x0100_0000_01b3);
            }
        }
        h
    }
    const SEED_A: u64 = 0xcbf2_9ce4_8422_2325;
    const SEED_B: u64 = 0x8422_2325_cbf2_9ce4;
    let parts = [rule, sink, identity];
    format!(
        "sb1-{:016x}{:016x}",
        fnv(SEED_A, &parts),
        fnv(SEED_B, &parts)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_and_differ_by_rule_sink_and_item() {
        let k = idempotency_key("r", "s", "contact_record:c1:1");
        assert_eq!(k, idempotency_key("r", "s", "contact_record:c1:1"));
        assert_eq!(k.len(), 4 + 32);
        assert_ne!(k, idempotency_key("r2", "s", "contact_record:c1:1"));
        assert_ne!(k, idempotency_key("r", "s2", "contact_record:c1:1"));
        assert_ne!(k, idempotency_key("r", "s", "contact_record:c1:2"));
        // Parts are separated: moving a character between them changes the key.
        assert_ne!(
            idempotency_key("ab", "c", "x"),
            idempotency_key("a", "bc", "x")
        );
        // Fixed forever: keys are stored and sent to receivers.
        assert_eq!(
            idempotency_key("rule", "sink", "agent_event:e1"),
            "sb1-7e90323312df5dfba6fcfa5f6b8aa668"
        );
    }
}
