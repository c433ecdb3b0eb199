//! Alerts are raised at their deadline and cleared by the event that ends the condition,
//! on event time and on clock ticks, the same however the input is batched.

mod common;

use common::{session, INSTANCE};
use serde_json::json;
use switchboard_engine::{AlertConfig, AlertEvent, AlertKind, Engine, EngineConfig};
use switchboard_model::{Record, Timestamp};

fn config(hold: i64, acw: i64, status: i64, queue: i64) -> EngineConfig {
    EngineConfig {
        alerts: AlertConfig {
            long_hold_s: Some(hold),
            long_acw_s: Some(acw),
            long_custom_status_s: Some(status),
            custom_status_s: Default::default(),
            queue_wait_s: Some(queue),
        },
        ..EngineConfig::default()
    }
}

fn summary(events: &[AlertEvent]) -> Vec<(String, AlertKind, String)> {
    events
        .iter()
        .map(|e| {
            let at = if e.event == "raised" {
                e.alert.raised_at
            } else {
                e.alert.cleared_at.unwrap()
            };
            (e.event.clone(), e.alert.kind, at.to_string())
        })
        .collect()
}

#[test]
fn hold_acw_and_status_alerts_raise_at_the_deadline_and_clear_when_over() {
    // Hold 09:03:00 → 09:03:42.5 (42.5 s), ACW 09:06:00 → 09:07:15.25, Break from 09:10:30
    // to 09:25:00.
    let mut engine = Engine::new(config(30, 60, 600, 60));
    let mut alerts = Vec::new();
    for r in session() {
        engine.apply(&r);
        alerts.extend(engine.take_changes().alerts);
    }
    let step = |event: &str, kind, at: &str| (event.to_owned(), kind, at.to_owned());
    assert_eq!(
        summary(&alerts),
        vec![
            step("raised", AlertKind::LongHold, "2026-01-05T09:03:30.000Z"),
            step("cleared", AlertKind::LongHold, "2026-01-05T09:03:42.500Z"),
            step("raised", AlertKind::LongAcw, "2026-01-05T09:07:00.000Z"),
            step("cleared", AlertKind::LongAcw, "2026-01-05T09:07:15.250Z"),
            step("raised", AlertKind::LongStatus, "2026-01-05T09:20:30.000Z"),
            step("cleared", AlertKind::LongStatus, "2026-01-05T09:25:00.000Z"),
        ]
    );
    let hold = &alerts[0].alert;
    assert_eq!(hold.contact_id.as_deref(), Some("c-1"));
    assert_eq!(hold.username.as_deref(), Some("ada"));
    assert_eq!(hold.queue.as_deref(), Some("Sales"));
    assert_eq!(alerts[4].alert.status.as_deref(), Some("Break"));
    assert_eq!(engine.meta().alerts.active().count(), 0);
}

#[test]
fn thresholds_not_exceeded_raise_nothing() {
    let mut engine = Engine::new(config(60, 120, 3600, 60));
    for r in session() {
        engine.apply(&r);
    }
    assert!(engine.take_changes().alerts.is_empty());
}

#[test]
fn a_clock_tick_raises_without_a_new_event() {
    let mut engine = Engine::new(config(30, 60, 600, 60));
    // Up to and including the hold start.
    for r in session().into_iter().take(7) {
        engine.apply(&r);
    }
    assert!(engine.take_changes().alerts.is_empty());
    engine.tick(Timestamp::parse("2026-01-05T09:03:29.000Z").unwrap());
    assert!(engine.take_changes().alerts.is_empty());
    engine.tick(Timestamp::parse("2026-01-05T09:03:31.000Z").unwrap());
    let alerts = engine.take_changes().alerts;
    assert_eq!(
        summary(&alerts),
        vec![(
            "raised".into(),
            AlertKind::LongHold,
            "2026-01-05T09:03:30.000Z".into()
        )]
    );
    assert_eq!(engine.meta().alerts.active().count(), 1);
}

fn contact_event(id: &str, kind: &str, contact: &str, at: &str) -> Record {
    let mut detail = json!({
        "eventType": kind, "contactId": contact, "channel": "VOICE", "initiationMethod": "INBOUND",
        "instanceArn": INSTANCE, "initiationTimestamp": "2026-01-05T09:00:00.000Z",
        "queueInfo": {"queueArn": format!("{INSTANCE}/queue/q-sales"), "queueType": "STANDARD", "enqueueTimestamp": "2026-01-05T09:00:05.000Z"}
    });
    match kind {
        "CONNECTED_TO_AGENT" => {
            detail["agentInfo"] = json!({"agentArn": "a", "connectedToAgentTimestamp": at})
        }
        "DISCONNECTED" => detail["disconnectTimestamp"] = json!(at),
        _ => {}
    }
    let v = json!({"version": "0", "id": id, "detail-type": "Amazon Connect Contact Event", "source": "aws.connect",
                   "account": "111122223333", "time": at, "region": "us-east-1", "resources": [], "detail": detail});
    Record::from_json_slice(&serde_json::to_vec(&v).unwrap())
        .unwrap()
        .unwrap()
}

#[test]
fn queue_wait_alerts_follow_contact_events_in_any_order() {
    let mut engine = Engine::new(config(30, 60, 600, 60));
    let events = [
        contact_event("ev-1", "QUEUED", "k-1", "2026-01-05T09:00:05.000Z"),
        contact_event("ev-2", "QUEUED", "k-2", "2026-01-05T09:00:05.000Z"),
        // k-2 is answered in time; its CONNECTED arrives before another contact's event.
        contact_event(
            "ev-3",
            "CONNECTED_TO_AGENT",
            "k-2",
            "2026-01-05T09:00:30.000Z",
        ),
        // The DISCONNECTED of k-1 (abandoned after 2 minutes) comes after the deadline.
        contact_event("ev-4", "DISCONNECTED", "k-1", "2026-01-05T09:02:05.000Z"),
        contact_event("ev-4", "DISCONNECTED", "k-1", "2026-01-05T09:02:05.000Z"),
    ];
    let mut alerts = Vec::new();
    for e in &events {
        engine.apply(e);
        alerts.extend(engine.take_changes().alerts);
    }
    assert_eq!(
        summary(&alerts),
        vec![
            (
                "raised".into(),
                AlertKind::LongQueueWait,
                "2026-01-05T09:01:05.000Z".into()
            ),
            (
                "cleared".into(),
                AlertKind::LongQueueWait,
                "2026-01-05T09:02:05.000Z".into()
            ),
        ]
    );
    assert_eq!(alerts[0].alert.contact_id.as_deref(), Some("k-1"));
    // The queue is named from the ARN until a name is learnt.
    assert_eq!(alerts[0].alert.subject, "q-sales");
    assert!(engine.meta().waiting.is_empty());
}

#[test]
fn batching_and_restoring_do_not_change_the_alerts() {
    let all: Vec<Record> = session();
    let mut one = Engine::new(config(30, 60, 600, 60));
    let mut expected = Vec::new();
    for r in &all {
        one.apply(r);
    }
    expected.extend(one.take_changes().alerts);

    // Same input, stopped after every record and restored from saved state each time.
    let mut got = Vec::new();
    let mut engine = Engine::new(config(30, 60, 600, 60));
    for r in &all {
        engine.apply(r);
        got.extend(engine.take_changes().alerts);
        let agents: Vec<_> = engine.agents().cloned().collect();
        let contacts: Vec<_> = engine.contacts().cloned().collect();
        let meta = serde_json::from_str(&serde_json::to_string(engine.meta()).unwrap()).unwrap();
        engine = Engine::restore(config(30, 60, 600, 60), agents, contacts, meta);
    }
    assert_eq!(got, expected);
    assert_eq!(got.len(), 6);
}
