//! Patterns a contact center writes, over Connect's own shapes: EventBridge contact
//! events (camelCase `detail`), contact records (PascalCase), and the published samples
//! (`../shared/connect/samples`, or `SWITCHBOARD_SAMPLES`).

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{matches_all, matches_none, pattern};

/// A contact event as EventBridge delivers it (the envelope of the samples'
/// `eventbridge-contact-disconnected.json`, with a real event's camelCase `detail`).
fn contact_event(event_type: &str, channel: &str) -> Value {
    json!({
        "version": "0",
        "id": "5e2d9f9c-6f3e-4b66-9a53-0d3c3b7f2a11",
        "detail-type": "Amazon Connect Contact Event",
        "source": "aws.connect",
        "account": "123456789012",
        "time": "2021-08-11T07:43:00Z",
        "region": "us-west-2",
        "resources": [
            "arn:aws:connect:us-west-2:123456789012:instance/7a8c1f24-d5c2-4b9f-9c8e-1b2f0a3e4d5c",
            "arn:aws:connect:us-west-2:123456789012:instance/7a8c1f24-d5c2-4b9f-9c8e-1b2f0a3e4d5c/contact/0c4c6a0e-2a5f-4e0b-9d4b-0b8f3a1e6c2d"
        ],
        "detail": {
            "eventType": event_type,
            "contactId": "0c4c6a0e-2a5f-4e0b-9d4b-0b8f3a1e6c2d",
            "channel": channel,
            "instanceArn": "arn:aws:connect:us-west-2:123456789012:instance/7a8c1f24-d5c2-4b9f-9c8e-1b2f0a3e4d5c",
            "initiationMethod": "INBOUND",
            "initiationTimestamp": "2021-08-11T07:42:51.000Z",
            "queueInfo": {
                "queueArn": "arn:aws:connect:us-west-2:123456789012:instance/7a8c1f24-d5c2-4b9f-9c8e-1b2f0a3e4d5c/queue/2f8e7d6c-5b4a-4392-8170-6f5e4d3c2b1a",
                "queueType": "STANDARD"
            },
            "tags": {"aws:connect:instanceId": "7a8c1f24-d5c2-4b9f-9c8e-1b2f0a3e4d5c"}
        }
    })
}

/// A contact record (shape of the samples' `ctr-voice-inbound-2022.json`, trimmed), to the
/// given dialled number, business line and queue.
fn contact_record(dialled: &str, business_line: Option<&str>, queue: Option<&str>) -> Value {
    let mut attributes = json!({"greetingPlayed": "true"});
    if let Some(line) = business_line {
        attributes["businessLine"] = json!(line);
    }
    json!({
        "AWSAccountId": "970025851406",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": {"ARN": "arn:aws:connect:us-east-1:970025851406:instance/1d908e11/agent/57db30ae", "AfterContactWorkDuration": 32},
        "Attributes": attributes,
        "Channel": "VOICE",
        "ContactId": "15a5cf14-3212-45a1-9f86-a8e97db8afaf",
        "CustomerEndpoint": {"Address": "+17208401003", "Type": "TELEPHONE_NUMBER"},
        "DisconnectReason": "CUSTOMER_DISCONNECT",
        "InitiationMethod": "INBOUND",
        "Queue": queue.map(|name| json!({
            "ARN": "arn:aws:connect:us-east-1:970025851406:instance/1d908e11/queue/c677a7a5",
            "Duration": 7,
            "Name": name
        })),
        "Recordings": [
            {"DeletionReason": null, "Location": "bucket/connect/a.wav", "Status": "AVAILABLE", "StorageType": "S3"}
        ],
        "References": [],
        "SystemEndpoint": {"Address": dialled, "Type": "TELEPHONE_NUMBER"}
    })
}

#[test]
fn contact_event_on_disconnect() {
    let p = json!({
        "source": ["aws.connect"],
        "detail-type": ["Amazon Connect Contact Event"],
        "detail": {"eventType": ["DISCONNECTED"]}
    });
    matches_all(
        &p,
        &[
            contact_event("DISCONNECTED", "VOICE"),
            contact_event("DISCONNECTED", "CHAT"),
        ],
    );
    matches_none(
        &p,
        &[
            contact_event("CONNECTED_TO_AGENT", "VOICE"),
            contact_event("disconnected", "VOICE"),
            json!({"detail-type": "Amazon Connect Contact Event", "detail": {"eventType": "DISCONNECTED"}}),
        ],
    );
    // Voice only; the doc samples spell the channel "Voice", so compare ignoring case.
    let voice = json!({
        "detail-type": ["Amazon Connect Contact Event"],
        "detail": {"eventType": ["DISCONNECTED"], "channel": [{"equals-ignore-case": "VOICE"}]}
    });
    matches_all(
        &voice,
        &[
            contact_event("DISCONNECTED", "VOICE"),
            contact_event("DISCONNECTED", "Voice"),
        ],
    );
    matches_none(&voice, &[contact_event("DISCONNECTED", "CHAT")]);
    // The end of a contact: disconnected voice, or any completed chat.
    let ended = json!({
        "detail": {
            "$or": [
                {"eventType": ["DISCONNECTED"], "channel": ["VOICE"]},
                {"eventType": ["COMPLETED"], "channel": ["CHAT"]}
            ]
        }
    });
    matches_all(
        &ended,
        &[
            contact_event("DISCONNECTED", "VOICE"),
            contact_event("COMPLETED", "CHAT"),
        ],
    );
    matches_none(
        &ended,
        &[
            contact_event("DISCONNECTED", "CHAT"),
            contact_event("COMPLETED", "VOICE"),
        ],
    );
}

#[test]
fn contact_record_by_dialled_number_and_business_line() {
    let p = json!({
        "SystemEndpoint": {"Address": [{"prefix": "+1800"}]},
        "Attributes": {"businessLine": ["sales", "renewals"]}
    });
    matches_all(
        &p,
        &[
            contact_record("+18005550100", Some("sales"), Some("Sales")),
            contact_record("+18005550199", Some("renewals"), None),
        ],
    );
    matches_none(
        &p,
        &[
            contact_record("+14065003978", Some("sales"), Some("Sales")),
            contact_record("+18005550100", Some("support"), Some("Sales")),
            contact_record("+18005550100", None, Some("Sales")),
        ],
    );
    // Business lines told apart by the number alone: any of two toll-free prefixes.
    let lines = json!({"SystemEndpoint": {"Address": [{"prefix": "+1800"}, {"prefix": "+1888"}]}});
    matches_all(&lines, &[contact_record("+18885550100", None, None)]);
    matches_none(&lines, &[contact_record("+14065003978", None, None)]);
    // Contacts whose recording is available (Recordings is an array of objects).
    let recorded = json!({"Recordings": {"Status": ["AVAILABLE"], "DeletionReason": [null]}});
    matches_all(&recorded, &[contact_record("+18005550100", None, None)]);
}

#[test]
fn contact_record_anything_but_queue() {
    let p = json!({"Queue": {"Name": [{"anything-but": ["BasicQueue", "Test queue"]}]}});
    matches_all(&p, &[contact_record("+18005550100", None, Some("Sales"))]);
    matches_none(
        &p,
        &[
            contact_record("+18005550100", None, Some("BasicQueue")),
            contact_record("+18005550100", None, Some("Test queue")),
            // Never queued (`Queue: null`): there is no name to compare.
            contact_record("+18005550100", None, None),
        ],
    );
    // Never queued, explicitly.
    let unqueued = json!({"Queue": {"Name": [{"exists": false}]}});
    matches_all(&unqueued, &[contact_record("+18005550100", None, None)]);
    matches_none(
        &unqueued,
        &[contact_record("+18005550100", None, Some("Sales"))],
    );
}

// The `switchboard` object the router adds to every item's document (see rules/route.rs).
#[test]
fn switchboard_shared_fields() {
    let mut doc = contact_record("+18005550100", Some("sales"), Some("Sales"));
    doc["switchboard"] = json!({
        "kind": "record",
        "stream": "contact_record",
        "channel": "VOICE",
        "queue": "Sales",
        "dialled_number": "+18005550100",
        "contact_id": "15a5cf14-3212-45a1-9f86-a8e97db8afaf"
    });
    let p = json!({"switchboard": {"kind": ["record"], "channel": ["VOICE"], "dialled_number": [{"prefix": "+1800"}]}});
    matches_all(&p, std::slice::from_ref(&doc));
    let chat = json!({"switchboard": {"channel": ["CHAT"]}});
    matches_none(&chat, &[doc]);
}

/// The published Connect samples, as the other crates' tests find them.
fn sample(name: &str) -> Value {
    let dir = match std::env::var("SWITCHBOARD_SAMPLES") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples"),
    };
    assert!(
        dir.is_dir(),
        "samples not found at {}: set SWITCHBOARD_SAMPLES",
        dir.display()
    );
    let text = std::fs::read_to_string(dir.join(name)).unwrap();
    serde_json::from_str(&text).unwrap()
}

// The pattern from Connect's contact-events page ("Sample to stop streaming an event
// type"), against the published sample events.
#[test]
fn published_samples() {
    let p = pattern(&sample(
        "eventbridge-rule-pattern-exclude-contact-data-updated.json",
    ));
    assert!(p.matches(&sample("eventbridge-contact-disconnected.json")));
    assert!(!p.matches(&sample("eventbridge-contact-data-updated.json")));
    assert!(!p.matches(&sample("eventbridge-contact-routing-step-expired.json")));
    // A contact record by its dialled number, queue and an attribute.
    let ctr = sample("ctr-voice-inbound-2022.json");
    matches_all(
        &json!({
            "Channel": ["VOICE"],
            "SystemEndpoint": {"Address": [{"prefix": "+1406"}]},
            "Queue": {"Name": [{"anything-but": "Sales"}]},
            "Attributes": {"greetingPlayed": ["true"]},
            "Agent": {"AfterContactWorkDuration": [{"numeric": [">", 30]}]}
        }),
        std::slice::from_ref(&ctr),
    );
    matches_none(
        &json!({"Queue": {"Name": [{"anything-but": "BasicQueue"}]}}),
        &[ctr],
    );
}
