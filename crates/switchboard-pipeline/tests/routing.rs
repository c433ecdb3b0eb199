//! Routing end to end, through the one pipeline (`replay` drives it): records and what
//! the engine derives go through rules into the store's outbox, delivery workers send them
//! to real sinks (a file, and a webhook served by a real local HTTP receiver that fails
//! its first calls), and records that do not decode reach the dead-letter file.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;
use switchboard_model::decode::{Decoder, Format};
use switchboard_pipeline::files::replay::{replay, Options};
use switchboard_pipeline::outputs::Outputs;
use switchboard_store::{StoreUrl, TransitionFilter};

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/data")
        .join(name)
}

/// What the receiver saw: bodies by idempotency key, and every call's status.
#[derive(Default)]
struct Seen {
    calls: Vec<(Option<String>, u16)>,
    bodies: BTreeMap<String, Vec<u8>>,
    /// Calls still to fail, in order: 500, then 429 with Retry-After 0.
    failures: Vec<u16>,
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut seen = seen.lock().unwrap();
    if !seen.failures.is_empty() {
        let status = seen.failures.remove(0);
        seen.calls.push((key, status));
        let mut h = HeaderMap::new();
        if status == 429 {
            h.insert("retry-after", "0".parse().unwrap());
        }
        return (StatusCode::from_u16(status).unwrap(), h, "try later").into_response();
    }
    seen.calls.push((key.clone(), 200));
    if let Some(key) = key {
        seen.bodies.insert(key, body.to_vec());
    }
    (StatusCode::OK, "ok").into_response()
}

/// A real HTTP receiver on 127.0.0.1, on its own runtime thread.
fn receiver(seen: Arc<Mutex<Seen>>) -> SocketAddr {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let addr = listener.local_addr().unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = Router::new().route("/hook", post(receive)).with_state(seen);
            axum::serve(listener, app).await.unwrap();
        });
    });
    addr
}

#[test]
fn records_transitions_and_dead_letters_reach_their_sinks() {
    let dir = tempfile::tempdir().unwrap();
    let seen = Arc::new(Mutex::new(Seen {
        failures: vec![500, 429],
        ..Seen::default()
    }));
    let addr = receiver(Arc::clone(&seen));

    // Input: the example agent events, with a line that is not a record in the middle.
    let good = std::fs::read(data("agent-events.ndjson")).unwrap();
    let lines: Vec<&[u8]> = good
        .split(|b| *b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let mut input = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        if i == 3 {
            input.extend_from_slice(b"{\"AgentARN\": 12, \"EventType\": \"HEART_BEAT\"}\n");
        }
        input.extend_from_slice(line);
        input.push(b'\n');
    }
    let input_path = dir.path().join("in.ndjson");
    std::fs::write(&input_path, &input).unwrap();

    let config = format!(
        r#"
[store]
url = "sqlite:sb.db"

[outbox]
retry_initial_ms = 10
retry_max_ms = 50
poll_ms = 20

[dead_letter]
type = "file"
path = "dead.ndjson"

[[sinks]]
name = "raw"
type = "file"
path = "raw.ndjson"

[[sinks]]
name = "crm"
type = "webhook"
url = "http://{addr}/hook"
timeout_ms = 2000

[[rules]]
name = "archive"
kinds = ["record"]
sinks = ["raw"]

[[rules]]
name = "status-changes"
kinds = ["transition"]
match = {{ type = ["agent_status_changed"] }}
sinks = ["crm"]
"#
    );
    let config = switchboard_pipeline::config::load_str(&config, "test.toml", dir.path())
        .unwrap_or_else(|p| panic!("{p}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outputs = rt.block_on(Outputs::build(&config)).unwrap();
    drop(rt);
    let url: StoreUrl = config.store.url.parse().unwrap();
    let mut options = Options::new(Format::Auto, 7);
    options.outputs = outputs;
    options.outbox = config.outbox.clone();
    options.drain = Duration::from_secs(60);
    let summary = replay(std::slice::from_ref(&input_path), &url, &options).unwrap();
    assert_eq!(summary.bad, 1);
    assert_eq!(
        summary.undelivered, 0,
        "everything delivered within the drain"
    );

    // The file sink holds every record exactly as it came, in order.
    let raw = std::fs::read(dir.path().join("raw.ndjson")).unwrap();
    assert_eq!(raw, good, "records re-emitted byte for byte");

    // The receiver got each status change once (by key), after two failed calls.
    let store = url.open().unwrap();
    let expected: Vec<_> = store
        .transitions(&TransitionFilter::default())
        .unwrap()
        .into_iter()
        .filter(|r| serde_json::to_value(r.transition.kind).unwrap() == "agent_status_changed")
        .collect();
    assert!(!expected.is_empty());
    let seen = seen.lock().unwrap();
    assert_eq!(seen.calls[0].1, 500);
    assert_eq!(seen.calls[1].1, 429);
    for failed in &seen.calls[..2] {
        let key = failed
            .0
            .as_ref()
            .expect("every call carries an Idempotency-Key");
        assert!(
            seen.bodies.contains_key(key),
            "the item refused with {} was delivered later under the same key",
            failed.1
        );
    }
    assert_eq!(seen.bodies.len(), expected.len());
    let ok_calls = seen.calls.iter().filter(|c| c.1 == 200).count();
    assert_eq!(
        ok_calls,
        expected.len(),
        "no item sent twice once delivered"
    );
    for body in seen.bodies.values() {
        let t: serde_json::Value = serde_json::from_slice(body).unwrap();
        assert_eq!(t["type"], "agent_status_changed");
    }

    // The bad line is in the dead letters, and decodes again from there (as the Firehose
    // error record it is shaped like) into exactly the bytes that failed.
    let dead = std::fs::read(dir.path().join("dead.ndjson")).unwrap();
    let mut recovered = Vec::new();
    Decoder::new(Format::Auto).decode_slice(None, &dead, &mut |item| {
        if let Err(e) = item {
            recovered.push(e.raw);
        }
        std::ops::ControlFlow::Continue(())
    });
    assert_eq!(
        recovered,
        vec![b"{\"AgentARN\": 12, \"EventType\": \"HEART_BEAT\"}".to_vec()]
    );
    // Nothing is left in the outbox.
    assert!(store.outbox_peek(None, 10).unwrap().is_empty());
}

#[test]
fn metric_intervals_are_routed_once_each_as_the_event_clock_passes_them() {
    use switchboard_sim::{OutputFormat, OutputWriter, SimConfig, Simulator};
    let dir = tempfile::tempdir().unwrap();
    let corpus = dir.path().join("corpus");
    let mut sim = SimConfig::new(20);
    sim.duration_secs = 3600;
    sim.start = "2026-03-02T09:00:00Z".parse().unwrap();
    let mut writer = OutputWriter::create(&corpus, OutputFormat::Ndjson, 1).unwrap();
    for emission in Simulator::new(sim).unwrap() {
        writer.write(&emission).unwrap();
    }
    writer.finish().unwrap();

    let text = r#"
[store]
url = "sqlite:sb.db"

[outbox]
poll_ms = 20

[[sinks]]
name = "intervals"
type = "file"
path = "intervals.ndjson"

[[rules]]
name = "intervals"
kinds = ["metric_interval"]
sinks = ["intervals"]
"#;
    let config = switchboard_pipeline::config::load_str(text, "t.toml", dir.path())
        .unwrap_or_else(|p| panic!("{p}"));
    let rt = tokio::runtime::Runtime::new().unwrap();
    let outputs = rt.block_on(Outputs::build(&config)).unwrap();
    drop(rt);
    let url: StoreUrl = config.store.url.parse().unwrap();
    let mut options = Options::new(Format::Auto, 50);
    options.outputs = outputs;
    options.outbox = config.outbox.clone();
    replay(std::slice::from_ref(&corpus), &url, &options).unwrap();

    let text = std::fs::read_to_string(dir.path().join("intervals.ndjson")).unwrap();
    let items: Vec<serde_json::Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    // An hour of events: at least the first three quarter-hours are closed (the last
    // may still be within the grace period), each routed once, in order.
    let starts: Vec<&str> = items
        .iter()
        .map(|i| i["interval_start"].as_str().unwrap())
        .collect();
    assert!(starts.len() >= 3, "{starts:?}");
    let mut sorted = starts.clone();
    sorted.dedup();
    assert_eq!(sorted, starts, "each interval once, in order");
    assert_eq!(starts[0], "2026-03-02T09:00:00.000Z");

    // Each interval's cells are the store's cells for it.
    let store = url.open().unwrap();
    for item in &items {
        let start: switchboard_model::Timestamp =
            item["interval_start"].as_str().unwrap().parse().unwrap();
        let mut q = switchboard_store::MetricQuery::new(switchboard_engine::Interval::Min15);
        q.from = Some(start);
        q.to = Some(switchboard_model::Timestamp::from_millis(
            start.millis() + 15 * 60 * 1000,
        ));
        let stored = store.metrics(&q).unwrap();
        let rows = item["rows"].as_array().unwrap();
        assert_eq!(rows.len(), stored.len(), "{start}");
        for row in &stored {
            let routed = rows
                .iter()
                .find(|r| r["dimension"] == row.kind.as_str() && r["id"] == row.id.as_str())
                .unwrap_or_else(|| panic!("{start}: {} {} not routed", row.kind.as_str(), row.id));
            assert_eq!(routed["cell"], serde_json::to_value(row.cell).unwrap());
        }
    }
}
