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
