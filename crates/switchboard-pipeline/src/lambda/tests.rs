//! The handlers called directly (no Lambda runtime), on a real SQLite store, with the
//! published samples, the example data and bad records. The binary under a local Runtime
//! API, and PostgreSQL, are tested in `crates/switchboard/tests/lambda_cli.rs`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use aws_lambda_events::event::firehose::KinesisFirehoseEvent;
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::sqs::SqsEvent;
use serde_json::{json, Value};
use switchboard_model::envelope::encode_base64;
use switchboard_store::{AgentFilter, SqliteStore, Store};

use super::firehose::{DROPPED, OK, PROCESSING_FAILED};
use super::Handler;
use crate::config;

/// The published Connect samples (`../shared/connect/samples`, or `SWITCHBOARD_SAMPLES`).
fn samples() -> PathBuf {
    match std::env::var("SWITCHBOARD_SAMPLES") {
        Ok(dir) => PathBuf::from(dir),
        Err(_) => Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples"),
    }
}

/// A published sample, parsed.
fn sample<T: serde::de::DeserializeOwned>(name: &str) -> T {
    serde_json::from_slice(&std::fs::read(samples().join(name)).unwrap()).unwrap()
}

fn examples(name: &str) -> Vec<u8> {
    std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../examples/data")
            .join(name),
    )
    .unwrap()
}

fn open(dir: &Path, extra: &str) -> Handler {
    let text = format!("[store]\nurl = \"sqlite:sb.db\"\n{extra}");
    let config = config::load_str(&text, "test.toml", dir).unwrap_or_else(|p| panic!("{p}"));
    Handler::open(&config).unwrap()
}

fn deadline() -> Instant {
    Instant::now() + Duration::from_secs(30)
}

/// A Kinesis event as Lambda builds it, one record per payload.
pub fn kinesis_event(payloads: &[&[u8]]) -> KinesisEvent {
    let records: Vec<Value> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| {
            let seq = format!("4956816737333333333333333333333333333333333333333333{i:04}");
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "pk",
                    "sequenceNumber": seq, "data": encode_base64(p),
                    "approximateArrivalTimestamp": 1480641523.477},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/LambdaRole",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/agents"
            })
        })
        .collect();
    serde_json::from_value(json!({ "Records": records })).unwrap()
}

/// The recordIds of a transformation's answer, in order.
fn record_ids(out: &super::Transformed) -> Vec<String> {
    let records = &out.response.records;
    records
        .iter()
        .map(|r| r.record_id.clone().unwrap())
        .collect()
}

/// A Firehose transformation request of `(recordId, data)`.
fn firehose_event(records: &[(&str, &[u8])]) -> KinesisFirehoseEvent {
    let records: Vec<Value> = records
        .iter()
        .map(|(id, data)| json!({"recordId": id, "approximateArrivalTimestamp": 1507217624302u64, "data": encode_base64(data)}))
        .collect();
    serde_json::from_value(json!({"invocationId": "i", "region": "us-east-1", "records": records}))
        .unwrap()
}

fn lines(bytes: &[u8]) -> Vec<&[u8]> {
    bytes
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn the_published_kinesis_sample_is_dead_lettered_not_failed() {
    // Its records hold "Hello World": not Connect data. The batch succeeds; both go to
    // the dead letters (in the outbox, with no [dead_letter] writer configured).
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path(), "");
    let event: KinesisEvent = sample("kinesis-lambda-event.json");
    let out = h.kinesis(event, deadline());
    assert!(out.response.batch_item_failures.is_empty());
    assert_eq!((out.applied.records, out.applied.bad), (0, 2));
    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    let dead = store.outbox_peek(Some("dead_letter"), 10).unwrap();
    assert_eq!(dead.len(), 2);
    assert!(String::from_utf8_lossy(&dead[0].entry.payload).contains("not JSON"));
}

#[test]
fn agents_applied_in_one_invocation_are_known_after_a_cold_start() {
    let dir = tempfile::tempdir().unwrap();
    let events = examples("agent-events.ndjson");
    let mut payloads = lines(&events);
    payloads.insert(3, b"{\"not\": \"a record\"}");
    payloads.insert(5, b"\x1f\x8b garbage");
    let h = open(dir.path(), "");
    let out = h.kinesis(kinesis_event(&payloads), deadline());
    assert!(out.response.batch_item_failures.is_empty());
    assert_eq!(out.applied.bad, 2);
    assert_eq!(out.applied.records, 26);
    let before = {
        let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
        store.agents(&AgentFilter::default()).unwrap()
    };
    assert!(!before.is_empty());
    drop(h);

    // A new execution environment: the engine comes back from the store, and the same
    // batch again (Lambda's retry) changes nothing.
    let h = open(dir.path(), "");
    let out = h.kinesis(kinesis_event(&payloads), deadline());
    assert!(out.response.batch_item_failures.is_empty());
    let summary = h.shutdown().unwrap();
    assert_eq!(summary.records, 26);
    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    let after = store.agents(&AgentFilter::default()).unwrap();
    assert_eq!(
        serde_json::to_value(&before).unwrap(),
        serde_json::to_value(&after).unwrap()
    );
}

#[test]
fn sqs_and_eventbridge_apply_contact_events_and_route_them_to_a_sink_in_the_invocation() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(
        dir.path(),
        r#"
[[sinks]]
name = "crm"
type = "file"
path = "routed.ndjson"

[[rules]]
name = "events"
kinds = ["record"]
streams = ["contact_event"]
sinks = ["crm"]
"#,
    );
    let sample = std::fs::read(samples().join("eventbridge-contact-disconnected.json")).unwrap();
    let applied = h.eventbridge(&sample, deadline()).unwrap();
    assert_eq!((applied.records, applied.bad), (1, 0));
    // Routed and delivered before the handler answered.
    assert_eq!(applied.delivered.delivered, 1);
    let routed = std::fs::read(dir.path().join("routed.ndjson")).unwrap();
    assert!(String::from_utf8_lossy(&routed).contains("11111111-1111-1111-1111-111111111111"));

    let events = examples("contact-events.ndjson");
    let mut bodies: Vec<String> = lines(&events)
        .into_iter()
        .map(|l| String::from_utf8(l.to_vec()).unwrap())
        .collect();
    bodies.insert(1, "not json at all".into());
    let records: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": "r", "body": b,
                   "attributes": {}, "messageAttributes": {}, "md5OfBody": "",
                   "eventSource": "aws:sqs",
                   "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:contact-events",
                   "awsRegion": "us-east-1"})
        })
        .collect();
    let event: SqsEvent = serde_json::from_value(json!({ "Records": records })).unwrap();
    let out = h.sqs(event, deadline());
    assert!(out.response.batch_item_failures.is_empty());
    assert_eq!(out.applied.bad, 1);
    assert_eq!(out.applied.records, 6);
    assert_eq!(out.applied.undelivered, 0);
}

#[test]
fn firehose_enriches_without_overwriting_drops_and_fails_with_reasons() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("customers.csv"),
        "number,company\n+12752383496,Acme Corp\n",
    )
    .unwrap();
    let h = open(
        dir.path(),
        r#"
[[lookups]]
name = "customers"
type = "file"
path = "customers.csv"
key = "number"

[lambda.firehose]
append_newline = true
enrich = [{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer", on_miss = "drop" }]
partition_keys = { channel = "Channel", company = "Customer.company", queue = "Queue.Name" }
"#,
    );
    let ctr = examples("contact-records.ndjson");
    let ctr = lines(&ctr)[0].to_vec();
    let stranger = String::from_utf8(ctr.clone())
        .unwrap()
        .replace("+12752383496", "+19995550100");
    // Already has the key: enrichment adds, never overwrites.
    let has_key = {
        let mut v: Value = serde_json::from_slice(&ctr).unwrap();
        v["Customer"] = json!("kept as it was");
        serde_json::to_vec(&v).unwrap()
    };
    let stranger = stranger.into_bytes();
    let event = firehose_event(&[
        ("known", &ctr),
        ("stranger", &stranger),
        ("garbage", b"Hello World"),
        ("has-key", &has_key),
    ]);
    let out = h.firehose(event, deadline()).unwrap();
    let ids = record_ids(&out);
    assert_eq!(ids, ["known", "stranger", "garbage", "has-key"]);
    let results: Vec<_> = out
        .response
        .records
        .iter()
        .map(|r| r.result.clone().unwrap())
        .collect();
    assert_eq!(results, [OK, DROPPED, PROCESSING_FAILED, OK]);
    assert_eq!((out.ok, out.dropped, out.enriched), (2, 1, 1));
    assert_eq!(out.failures.len(), 1);
    assert!(
        out.failures[0].1.contains("not a Connect record"),
        "{:?}",
        out.failures
    );

    let known = &out.response.records[0];
    assert!(known.data.0.ends_with(b"}\n"));
    let v: Value = serde_json::from_slice(&known.data.0).unwrap();
    assert_eq!(v["Customer"]["company"], "Acme Corp");
    assert_eq!(
        v["CustomerEndpoint"]["Address"], "+12752383496",
        "the number is kept"
    );
    // Every other byte as it came: the record is the original with one key spliced in.
    assert!(known.data.0.starts_with(&ctr[..ctr.len() - 1]));
    let keys = &known.metadata.partition_keys;
    assert_eq!(keys["company"], "Acme Corp");
    assert_eq!(keys["channel"], "VOICE");
    assert_eq!(keys["queue"], "Support");

    // Unchanged: the original bytes, plus the newline.
    let mut expected = has_key.clone();
    expected.push(b'\n');
    assert_eq!(out.response.records[3].data.0, expected);
    assert_eq!(
        out.response.records[3].metadata.partition_keys["company"],
        "unknown"
    );

    // The wire form Firehose reads.
    let wire = serde_json::to_value(&out.response).unwrap();
    assert_eq!(wire["records"][0]["result"], "Ok");
    assert!(wire["records"][0]["data"].is_string());
    assert!(wire["records"][0]["metadata"]["partitionKeys"].is_object());
}

#[test]
fn the_published_firehose_sample_is_answered_record_by_record() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path(), "");
    let event: KinesisFirehoseEvent = sample("firehose-transform-request.json");
    let out = h.firehose(event, deadline()).unwrap();
    let ids = record_ids(&out);
    assert_eq!(ids, ["record1", "record2"]);
    for r in &out.response.records {
        assert_eq!(r.result.as_deref(), Some(PROCESSING_FAILED));
        assert_eq!(r.data.0, b"Hello World", "failed records keep their bytes");
    }
}

#[test]
fn a_firehose_answer_over_six_megabytes_fails_the_records_that_do_not_fit() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path(), "");
    let ctr = examples("contact-records.ndjson");
    let ctr = lines(&ctr)[0];
    // Pad the record to ~1 MB with an unknown key (kept as it is).
    let pad = "x".repeat(1_000_000);
    let big = format!(
        "{},\"Padding\":\"{pad}\"}}",
        std::str::from_utf8(&ctr[..ctr.len() - 1]).unwrap()
    );
    let ids: Vec<String> = (0..6).map(|i| format!("r{i}")).collect();
    let records: Vec<(&str, &[u8])> = ids.iter().map(|i| (i.as_str(), big.as_bytes())).collect();
    let event = firehose_event(&records);
    let out = h.firehose(event, deadline()).unwrap();
    assert_eq!(out.response.records.len(), 6);
    let size = serde_json::to_vec(&out.response).unwrap().len();
    assert!(size <= super::firehose::RESPONSE_LIMIT, "{size}");
    assert_eq!(out.ok, 4);
    assert_eq!(out.failures.len(), 2);
    assert!(out.failures[0].1.contains("6 MB"));
}

#[test]
fn firehose_with_apply_also_commits_the_records_to_the_store() {
    let dir = tempfile::tempdir().unwrap();
    let h = open(dir.path(), "[lambda.firehose]\napply = true\n");
    let ctr = examples("contact-records.ndjson");
    let ctr = lines(&ctr)[0].to_vec();
    let id: Value = serde_json::from_slice(&ctr).unwrap();
    let id = id["ContactId"].as_str().unwrap().to_owned();
    let event = firehose_event(&[("a", &ctr)]);
    let out = h.firehose(event, deadline()).unwrap();
    assert_eq!(out.ok, 1);
    assert_eq!(
        out.response.records[0].data.0, ctr,
        "unchanged: the original bytes"
    );
    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    assert!(
        store.contact(&id).unwrap().is_some(),
        "committed with the answer"
    );
}
