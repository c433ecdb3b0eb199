//! Issue 12, item 1: poisoned records never break the metrics.
//!
//! - Any sequence of records, valid or not (negative and huge durations, empty and
//!   5,000-byte ids, absurd timestamps, bytes that are no record at all), goes through
//!   the pipeline thread `run` uses into an SQLite store; afterwards `/api/metrics` (a real
//!   server over the store) and `switchboard report` (the binary) answer, with no negative
//!   sum, and every record that was refused is in the dead letters with its field.
//! - A store that already holds bad cells (a REAL from an overflowed sum, negative values,
//!   written by an older version) still answers, on SQLite and PostgreSQL, and the next
//!   delta written to such a cell leaves an integer there.

mod support;

use std::ops::ControlFlow;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};

use proptest::prelude::*;
use serde_json::{json, Value};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_io::Delivery;
use switchboard_model::decode::{Decoder, Format};
use switchboard_model::Timestamp;
use switchboard_pipeline::ingest::{Ingest, Settings, Summary};
use switchboard_pipeline::Pipeline;
use switchboard_server::{client, AppState, Hub, ServerHandle, ServerOptions};
use switchboard_store::StoreUrl;

const BASE: &str = "2026-01-05T09:00:00Z";

fn at(offset_s: i64) -> String {
    Timestamp::from_millis(Timestamp::parse(BASE).unwrap().millis() + offset_s * 1000).to_string()
}

/// Runs `records` (raw bytes each) through the pipeline thread into the store at `url`,
/// as one delivery; returns the thread's summary.
fn ingest(url: &StoreUrl, records: &[Vec<u8>]) -> Summary {
    let store = url.open().unwrap();
    let pipeline = Pipeline::open(store, EngineConfig::default()).unwrap();
    let (tx, rx) = switchboard_io::delivery::channel(4);
    let ingest = Ingest::new(
        pipeline,
        rx,
        Settings::default(),
        Arc::new(AtomicBool::new(false)),
    )
    .unwrap();
    let thread = std::thread::spawn(move || ingest.run());
    let decoder = Decoder::new(Format::Json);
    let mut items = Vec::new();
    for (i, bytes) in records.iter().enumerate() {
        // Each record at a place of its own, as every real input gives them (two dead
        // letters of the same bytes at the same place and millisecond are one).
        let place = format!("record-{i}");
        decoder.decode_slice(Some(&place), bytes, &mut |item| {
            items.push(item);
            ControlFlow::Continue(())
        });
    }
    let (delivery, ack) = Delivery::acked("files:poison", items);
    tx.blocking_send(delivery).unwrap();
    ack.blocking_recv().unwrap().unwrap();
    drop(tx);
    thread.join().unwrap().unwrap()
}

/// `/api/metrics` of a server over `url`, for each interval: every answer 200, every
/// number in it non-negative.
fn api_answers(url: &StoreUrl) {
    let state = AppState::new(
        Arc::new(Mutex::new(Engine::new(EngineConfig::default()))),
        Hub::default(),
        ServerOptions::default(),
    )
    .with_store(url.open().unwrap());
    // The last handle on the store is dropped here, outside the server's runtime (a
    // PostgreSQL client cannot be dropped inside one).
    let keep = state.clone();
    let server = ServerHandle::start("127.0.0.1:0".parse().unwrap(), state).unwrap();
    for interval in ["15m", "1h", "1d"] {
        let path = format!("/api/metrics?interval={interval}");
        let r = client::get(server.local_addr(), &path, &[]).unwrap();
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        let body = r.json().unwrap();
        no_negative(&body, &path);
    }
    server.shutdown().unwrap();
    drop(keep);
}

fn no_negative(v: &Value, what: &str) {
    match v {
        Value::Number(n) => assert!(n.as_f64().unwrap() >= 0.0, "{what}: {n} is negative"),
        Value::Array(a) => a.iter().for_each(|v| no_negative(v, what)),
        Value::Object(o) => o.values().for_each(|v| no_negative(v, what)),
        _ => {}
    }
}

/// `switchboard report` over `store` (a store URL, password included) in JSON and as a
/// table: both succeed.
fn report_answers(store: &str) {
    for args in [
        &["--format", "json", "--interval", "15m"][..],
        &["--format", "table", "--interval", "1d"][..],
    ] {
        let out = Command::new(env!("CARGO_BIN_EXE_switchboard"))
            .args(["report", "--store", store])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "switchboard report {args:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        if args[1] == "json" {
            let rows: Value = serde_json::from_slice(&out.stdout).unwrap();
            no_negative(&rows, "report");
        }
    }
}

/// The reasons of the dead letters in the store's outbox.
fn dead_letter_reasons(url: &StoreUrl) -> Vec<String> {
    let store = url.open().unwrap();
    store
        .outbox_peek(None, 10_000)
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.kind == "dead_letter")
        .map(|r| {
            let v: Value = serde_json::from_slice(&r.entry.payload).unwrap();
            v["errorMessage"].as_str().unwrap_or_default().to_owned()
        })
        .collect()
}

fn duration() -> impl Strategy<Value = Value> {
    prop_oneof![
        4 => (0i64..900).prop_map(Value::from),
        1 => Just(json!(-5)),
        1 => Just(json!(i64::MAX)),
        1 => Just(json!(i64::MIN)),
        1 => Just(json!(4_611_686_018_427_387_904_i64)),
        1 => Just(Value::Null),
    ]
}

fn id() -> impl Strategy<Value = String> {
    prop_oneof![
        6 => "[a-f0-9]{8}",
        1 => Just(String::new()),
        1 => Just("x".repeat(5000)),
    ]
}

fn timestamp(offset: i64) -> impl Strategy<Value = String> {
    prop_oneof![
        6 => Just(at(offset)),
        1 => Just("9999-12-31T23:59:59Z".to_owned()),
        1 => Just("1970-01-02T00:00:00Z".to_owned()),
        1 => Just("0001-01-01T00:00:00Z".to_owned()),
    ]
}

/// A contact record on one of two queues and agents, so cells collide.
fn contact_record() -> impl Strategy<Value = Vec<u8>> {
    (
        id(),
        0i64..7200,
        (timestamp(0), timestamp(600), timestamp(900)),
        0usize..2,
        any::<bool>(),
        (duration(), duration(), duration(), duration(), duration()),
    )
        .prop_map(
            |(
                id,
                start,
                (init, update, connected),
                q,
                with_agent,
                (wait, talk, hold, holds, acw),
            )| {
                let init = if init == at(0) { at(start) } else { init };
                let update = if update == at(600) {
                    at(start + 600)
                } else {
                    update
                };
                let connected = if connected == at(900) {
                    at(start + 30)
                } else {
                    connected
                };
                let queue = ["Sales", "Support"][q];
                let agent = with_agent.then(|| {
                    json!({
                        "ARN": format!("arn:aws:connect:us-east-1:1:instance/i/agent/a{q}"),
                        "ConnectedToAgentTimestamp": connected,
                        "AgentInteractionDuration": talk,
                        "CustomerHoldDuration": hold,
                        "NumberOfHolds": holds,
                        "AfterContactWorkDuration": acw,
                    })
                });
                serde_json::to_vec(&json!({
                    "ContactId": id,
                    "Channel": "VOICE",
                    "InitiationMethod": "INBOUND",
                    "InitiationTimestamp": init,
                    "LastUpdateTimestamp": update,
                    "DisconnectTimestamp": update,
                    "Queue": {"Name": queue, "EnqueueTimestamp": init,
                              "Duration": wait},
                    "Agent": agent,
                }))
                .unwrap()
            },
        )
}

fn agent_event() -> impl Strategy<Value = Vec<u8>> {
    (id(), id(), timestamp(0), 0i64..7200).prop_map(|(arn, event_id, ts, start)| {
        let ts = if ts == at(0) { at(start) } else { ts };
        serde_json::to_vec(&json!({
            "AgentARN": arn, "EventId": event_id, "EventTimestamp": ts,
            "EventType": "HEART_BEAT", "InstanceARN": "arn:aws:connect:us-east-1:1:instance/i",
            "CurrentAgentSnapshot": null, "PreviousAgentSnapshot": null,
        }))
        .unwrap()
    })
}

fn record() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        8 => contact_record(),
        2 => agent_event(),
        1 => Just(b"{\"not\": \"a record\"}".to_vec()),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 24, ..ProptestConfig::default() })]

    #[test]
    fn any_records_leave_the_metrics_api_and_report_answering(
        batches in prop::collection::vec(prop::collection::vec(record(), 1..12), 1..4)
    ) {
        let dir = tempfile::tempdir().unwrap();
        let url = StoreUrl::Sqlite(dir.path().join("s.db"));
        let mut refused = 0;
        for batch in &batches {
            let summary = ingest(&url, batch);
            // Every record is applied or dead-lettered: none is lost, none stops the rest.
            prop_assert_eq!(summary.records + summary.bad, batch.len() as u64);
            refused += summary.bad;
        }
        let reasons = dead_letter_reasons(&url);
        prop_assert_eq!(reasons.len() as u64, refused);
        for r in reasons.iter().filter(|r| r.starts_with("invalid record")) {
            // "invalid record: FIELD: PROBLEM"
            prop_assert!(r.split(": ").count() >= 3, "{}", r);
        }
        api_answers(&url);
        report_answers(&url.to_string());
    }
}

/// A valid contact record on queue Sales, handled by agent a0.
fn valid_record(id: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({
        "ContactId": id, "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "InitiationTimestamp": at(0), "LastUpdateTimestamp": at(600),
        "DisconnectTimestamp": at(590),
        "Queue": {"Name": "Sales", "EnqueueTimestamp": at(5), "Duration": 10},
        "Agent": {"ARN": "arn:aws:connect:us-east-1:1:instance/i/agent/a0",
                  "ConnectedToAgentTimestamp": at(15), "AgentInteractionDuration": 300,
                  "CustomerHoldDuration": 20, "NumberOfHolds": 1,
                  "AfterContactWorkDuration": 30},
    }))
    .unwrap()
}

/// The records of issue 12: each is refused with its field, and the good one beside them
/// is applied.
#[test]
fn the_records_of_the_issue_are_refused_with_their_field_and_the_rest_flows_on() {
    let dir = tempfile::tempdir().unwrap();
    let url = StoreUrl::Sqlite(dir.path().join("s.db"));
    let good = valid_record("good-1");
    let edit = |f: &dyn Fn(&mut Value)| {
        let mut v: Value = serde_json::from_slice(&valid_record("bad")).unwrap();
        f(&mut v);
        serde_json::to_vec(&v).unwrap()
    };
    let bad = [
        edit(&|v| v["Agent"]["CustomerHoldDuration"] = json!(-20)),
        edit(&|v| v["Agent"]["AgentInteractionDuration"] = json!(i64::MAX)),
        edit(&|v| v["ContactId"] = json!("")),
        edit(&|v| v["ContactId"] = json!("c".repeat(5000))),
        edit(&|v| v["LastUpdateTimestamp"] = json!("9999-12-31T23:59:59Z")),
    ];
    let mut records = bad.to_vec();
    records.insert(2, good);
    let summary = ingest(&url, &records);
    assert_eq!((summary.records, summary.bad, summary.invalid), (1, 5, 5));
    let reasons = dead_letter_reasons(&url);
    for field in [
        "Agent.CustomerHoldDuration: -20 is negative",
        "Agent.AgentInteractionDuration: 9223372036854775807 is above the maximum",
        "ContactId: is empty",
        "ContactId: is 5000 bytes long",
        "LastUpdateTimestamp: 9999-12-31T23:59:59",
    ] {
        assert!(
            reasons.iter().any(|r| r.contains(field)),
            "{field} not in {reasons:#?}"
        );
    }
    let store = url.open().unwrap();
    assert!(store.contact("good-1").unwrap().is_some());
    assert!(store.contact("bad").unwrap().is_none());
    api_answers(&url);
    report_answers(&url.to_string());
}

/// Cells as an older version could leave them in SQLite: a REAL where an integer sum
/// overflowed, negative sums, text. Every query still answers (a REAL reads clamped, a
/// negative sum as 0), and the next delta leaves integers.
#[test]
fn an_sqlite_store_holding_bad_cells_still_answers_and_heals() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("s.db");
    let url = StoreUrl::Sqlite(path.clone());
    ingest(&url, &[valid_record("c-1")]);
    poison_sqlite(&path);
    api_answers(&url);
    report_answers(&url.to_string());
    // The next record on the same cells adds to them: the sums stay integers.
    ingest(&url, &[valid_record("c-2")]);
    let conn = rusqlite::Connection::open(&path).unwrap();
    let types: Vec<String> = conn
        .prepare("SELECT DISTINCT typeof(hold_s) || typeof(talk_s) FROM metric_cells")
        .unwrap()
        .query_map([], |r| r.get(0))
        .unwrap()
        .map(Result::unwrap)
        .collect();
    assert_eq!(types, ["integerinteger"]);
    api_answers(&url);
    report_answers(&url.to_string());
}

fn poison_sqlite(path: &Path) {
    let conn = rusqlite::Connection::open(path).unwrap();
    let n = conn
        .execute(
            "UPDATE metric_cells SET hold_s = 1.5e19, talk_s = -300, handle_s = -9e30,
                acw_s = 'garbage', offered = 9223372036854775807",
            [],
        )
        .unwrap();
    assert!(n >= 2, "a queue and an agent cell");
    let real: String = conn
        .query_row("SELECT typeof(hold_s) FROM metric_cells LIMIT 1", [], |r| {
            r.get(0)
        })
        .unwrap();
    assert_eq!(real, "real");
}

/// The same on PostgreSQL: negative sums read as 0, and a cell at BIGINT's maximum takes
/// another delta without failing the commit (before, `bigint out of range` failed every
/// commit from then on).
#[test]
fn a_postgres_store_holding_bad_cells_still_answers_and_commits() {
    let schema = support::servers::PgSchema::new();
    let url: StoreUrl = schema.url().parse().unwrap();
    ingest(&url, &[valid_record("c-1")]);
    let mut client = postgres::Client::connect(&schema.url(), postgres::NoTls).unwrap();
    let n = client
        .execute(
            "UPDATE metric_cells SET hold_s = 9223372036854775807, talk_s = -300,
                handle_s = -9223372036854775808, offered = 9223372036854775807",
            &[],
        )
        .unwrap();
    assert!(n >= 2);
    api_answers(&url);
    report_answers(&schema.url());
    let summary = ingest(&url, &[valid_record("c-2")]);
    assert_eq!(summary.failed_commits, 0);
    let row = client
        .query_one(
            "SELECT hold_s, offered FROM metric_cells WHERE kind = 'queue' LIMIT 1",
            &[],
        )
        .unwrap();
    assert_eq!(
        (row.get::<_, i64>(0), row.get::<_, i64>(1)),
        (i64::MAX, i64::MAX)
    );
    api_answers(&url);
    report_answers(&schema.url());
}
