//! Golden tests over the published Connect samples: every sample decodes to the kind its
//! name says, and re-encodes without losing anything.
//!
//! The files are matched by name prefix, so captures added to the samples folder later
//! (several real ones are held back as acceptance tests) are covered without a code
//! change.

mod common;

use serde_json::{Map, Value};
use switchboard_model::decode::Format;
use switchboard_model::RecordKind;

use common::{decode, sample_files};

/// What a sample file must decode to, by its name.
fn expected_kind(name: &str) -> Option<RecordKind> {
    if name.starts_with("ctr-") {
        Some(RecordKind::ContactRecord)
    } else if name.starts_with("agent-event-") {
        Some(RecordKind::AgentEvent)
    } else if name.starts_with("eventbridge-contact-") {
        Some(RecordKind::ContactEvent)
    } else {
        None
    }
}

/// Removes nulls (Connect writes `null` and omits fields interchangeably; re-encoding
/// omits them), recursively.
fn strip_nulls(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| (k.clone(), strip_nulls(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip_nulls).collect()),
        other => other.clone(),
    }
}

/// The documented normalisations of contact-event details: PascalCase keys of AWS doc
/// samples become the real camelCase, the `type` alias of `queueType` becomes
/// `queueType`, and channel names are upper case.
fn normalise_detail(v: &Value) -> Value {
    fn camel(k: &str) -> String {
        let mut c = k.chars();
        c.next()
            .map(|f| f.to_ascii_lowercase().to_string() + c.as_str())
            .unwrap_or_default()
    }
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, v) in m {
                let key = match k.as_str() {
                    "type" if m.contains_key("queueArn") || m.contains_key("QueueArn") => {
                        "queueType".to_owned()
                    }
                    k if [
                        "AgentInfo",
                        "AgentArn",
                        "QueueInfo",
                        "EventType",
                        "ContactId",
                        "Channel",
                    ]
                    .contains(&k) =>
                    {
                        camel(k)
                    }
                    k => k.to_owned(),
                };
                let value = if key == "channel" {
                    Value::String(v.as_str().unwrap_or_default().to_ascii_uppercase())
                } else {
                    normalise_detail(v)
                };
                out.insert(key, value);
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(normalise_detail).collect()),
        other => other.clone(),
    }
}

fn normalise(kind: RecordKind, v: &Value) -> Value {
    let v = strip_nulls(v);
    match kind {
        RecordKind::ContactEvent => match v {
            Value::Object(mut m) if m.contains_key("detail") => {
                let d = normalise_detail(&m["detail"]);
                m.insert("detail".into(), d);
                Value::Object(m)
            }
            other => normalise_detail(&other),
        },
        _ => v,
    }
}

#[test]
fn every_record_sample_decodes_to_its_kind_and_round_trips() {
    let mut checked = 0;
    for path in sample_files() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let Some(kind) = expected_kind(&name) else {
            continue;
        };
        let bytes = std::fs::read(&path).unwrap();
        let (ok, bad) = decode(Format::Auto, &bytes);
        assert!(
            bad.is_empty(),
            "{name}: {:?}",
            bad.iter().map(|e| e.to_string()).collect::<Vec<_>>()
        );
        assert_eq!(ok.len(), 1, "{name}");
        assert_eq!(ok[0].kind, kind, "{name}");

        let original: Value = serde_json::from_slice(&bytes).unwrap();
        let reencoded = serde_json::to_value(ok[0].record().unwrap()).unwrap();
        assert_eq!(
            normalise(kind, &reencoded),
            normalise(kind, &original),
            "{name} did not round-trip"
        );

        // Decoding the re-encoded record gives the same record again.
        let (again, bad) = decode(
            Format::Auto,
            &serde_json::to_vec(&ok[0].record().unwrap()).unwrap(),
        );
        assert!(bad.is_empty());
        assert_eq!(
            again[0].record().unwrap(),
            ok[0].record().unwrap(),
            "{name}"
        );
        checked += 1;
    }
    assert!(checked >= 8, "only {checked} record samples found");
}

#[test]
fn record_samples_round_trip_exactly_when_they_use_the_real_casing() {
    // The real-data samples (and the CTR and agent-event doc samples) need no
    // normalisation beyond nulls: keys, enum spellings and timestamp precision survive.
    for path in sample_files() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if !(name.starts_with("ctr-")
            || name.starts_with("agent-event-")
            || name.ends_with("-real.json"))
        {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (ok, _) = decode(Format::Auto, &bytes);
        let original: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            strip_nulls(&serde_json::to_value(ok[0].record().unwrap()).unwrap()),
            strip_nulls(&original),
            "{name}"
        );
    }
}

#[test]
fn non_record_samples_are_recognised_and_explained() {
    for path in sample_files() {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        if expected_kind(&name).is_some() {
            continue;
        }
        let bytes = std::fs::read(&path).unwrap();
        let (ok, bad) = decode(Format::Auto, &bytes);
        assert!(ok.is_empty(), "{name}");
        assert!(!bad.is_empty(), "{name}");
        for e in &bad {
            let msg = e.to_string();
            assert!(msg.starts_with("input:1 (byte 0)"), "{name}: {msg}");
            // The envelopes' payloads in these samples are "Hello World" and the like.
            let explained = msg.contains("not Connect data: this is")
                || msg.contains("payload is not a Connect record");
            assert!(explained, "{name}: {msg}");
        }
    }
}

#[test]
fn envelope_samples_yield_their_positions() {
    let dir = common::samples_dir();
    let bytes = std::fs::read(dir.join("firehose-transform-request.json")).unwrap();
    let (_, bad) = decode(Format::Auto, &bytes);
    assert_eq!(bad.len(), 2);
    let s = &bad[1].source;
    assert_eq!(s.envelope, Some("firehose-transform"));
    assert_eq!(s.index, Some(1));
    assert_eq!(s.record_id.as_deref(), Some("record2"));
    assert_eq!(s.shard_id.as_deref(), Some("shardId-000000000001"));
    assert_eq!(
        s.sequence_number.as_deref(),
        Some("49546986683135544286507457936321625675700192471156785155")
    );

    let bytes = std::fs::read(dir.join("kinesis-lambda-event.json")).unwrap();
    let (_, bad) = decode(Format::Auto, &bytes);
    assert_eq!(
        bad[0].source.shard_id.as_deref(),
        Some("shardId-000000000000")
    );
    assert_eq!(bad[1].source.partition_key.as_deref(), Some("s1"));
}

#[test]
fn commented_samples_as_published_get_a_positioned_error() {
    let dir = common::samples_dir();
    for name in [
        "agent-event-heartbeat.jsonc",
        "eventbridge-contact-disconnected.jsonc",
    ] {
        let bytes = std::fs::read(dir.join(name)).unwrap();
        let (_, bad) = decode(Format::Auto, &bytes);
        assert!(!bad.is_empty(), "{name}");
        let msg = bad[0].to_string();
        assert!(msg.contains("line"), "{name}: {msg}");
    }
}
