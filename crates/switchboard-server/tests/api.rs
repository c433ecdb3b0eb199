//! Every route of the OpenAPI document, called over a real socket on a server fed by the
//! simulator, answers what the document says; errors are JSON and hide internals; auth
//! and masking do what they promise.

mod common;

use std::sync::{Arc, Mutex};

use base64::Engine as _;
use common::Center;
use serde_json::{json, Value};
use switchboard_engine::{AgentState, Alert, Changes, ContactTimeline, Engine, EngineConfig};
use switchboard_server::openapi::{self, validate};
use switchboard_server::outbox::DEAD_LETTER_SINK;
use switchboard_server::{client, telemetry, AppState, Auth, Hub, ServerHandle, ServerOptions};
use switchboard_store::{
    AgentFilter, Batch, ContactDetail, ContactFilter, Loaded, MetricQuery, MetricRow, OutboxDepth,
    OutboxEntry, OutboxRow, Positions, SqliteStore, Store, StoreError, TransitionFilter,
    TransitionRow,
};

/// Checks one answer against the document: its status is documented, its content type
/// is one the document lists, and JSON bodies validate.
fn check_answer(doc: &Value, path: &str, url: &str, r: &client::Response) -> Option<Value> {
    let responses = &doc["paths"][path]["get"]["responses"];
    let documented = &responses[r.status.to_string()];
    assert!(
        documented.is_object(),
        "GET {url}: status {} is not documented",
        r.status
    );
    let ct = r.header("content-type").unwrap_or("");
    let media = ct.split(';').next().unwrap().trim();
    let content = documented["content"].as_object().unwrap();
    assert!(
        content.contains_key(media),
        "GET {url}: content type {ct:?} is not among {:?}",
        content.keys().collect::<Vec<_>>()
    );
    if media != "application/json" {
        return None;
    }
    let body: Value = r
        .json()
        .unwrap_or_else(|e| panic!("GET {url}: not JSON: {e}"));
    if let Err(errors) = validate(doc, &content[media]["schema"], &body) {
        panic!(
            "GET {url} does not match the document:\n{}",
            errors.join("\n")
        );
    }
    Some(body)
}

/// Percent-encodes a query value.
fn encode(v: &str) -> String {
    v.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' | b':' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Query strings from the documented parameter examples.
fn example_query(doc: &Value, path: &str) -> String {
    let params = doc["paths"][path]["get"]["parameters"].as_array();
    let pairs: Vec<String> = params
        .into_iter()
        .flatten()
        .filter(|p| p["in"] == "query")
        .filter_map(|p| {
            let v = match &p["example"] {
                Value::String(s) => s.clone(),
                Value::Null => return None,
                other => other.to_string(),
            };
            Some(format!("{}={}", p["name"].as_str()?, encode(&v)))
        })
        .collect();
    pairs.join("&")
}

#[test]
fn every_route_answers_what_the_openapi_document_says() {
    let center = Center::start(ServerOptions::default(), 150);
    let doc: Value = center.get_json("/api/openapi.json");
    assert_eq!(
        doc,
        openapi::parsed(),
        "the served document is the embedded one"
    );

    // A contact with a record, for /api/contacts/{id}.
    let contacts = center.get_json("/api/contacts?active=false&limit=200");
    let with_record = contacts["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["has_record"] == true)
        .expect("some completed contact has its record")["contact_id"]
        .as_str()
        .unwrap()
        .to_owned();

    let paths: Vec<String> = doc["paths"].as_object().unwrap().keys().cloned().collect();
    let expected = [
        "/",
        "/api/agents",
        "/api/alerts",
        "/api/contacts",
        "/api/contacts/{id}",
        "/api/events",
        "/api/metrics",
        "/api/openapi.json",
        "/api/outbox",
        "/api/queues",
        "/assets/{path}",
        "/healthz",
        "/metrics",
        "/readyz",
    ];
    let mut sorted = paths.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "the document lists exactly the routes");

    for path in &paths {
        if path == "/api/events" {
            continue; // An endless stream: see tests/feed.rs.
        }
        let concrete = path
            .replace("{id}", &with_record)
            .replace("{path}", "app.js");
        let mut urls = vec![concrete.clone()];
        let q = example_query(&doc, path);
        if !q.is_empty() {
            urls.push(format!("{concrete}?{q}"));
        }
        for url in urls {
            let r = center.get(&url);
            assert_eq!(r.status, 200, "GET {url}: {}", r.text());
            let body = check_answer(&doc, path, &url, &r);
            // Without filters, the collections of a running center are not empty (an
            // empty list would validate against anything).
            if url == concrete {
                for key in ["agents", "queues", "contacts", "rows", "alerts"] {
                    if let Some(list) = body.as_ref().and_then(|b| b.get(key)) {
                        assert!(
                            list.as_array().is_some_and(|l| !l.is_empty()),
                            "GET {url}: {key} is empty"
                        );
                    }
                }
            }
        }
    }
    // The contact detail carries its record and a joined timeline.
    let detail = center.get_json(&format!("/api/contacts/{with_record}"));
    assert_eq!(detail["record"]["ContactId"], with_record.as_str());
    let sources: Vec<&str> = detail["entries"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["source"].as_str().unwrap())
        .collect();
    assert!(sources.contains(&"contact_record"), "{sources:?}");

    // The filters filter.
    let active = center.get_json("/api/contacts?active=true&limit=1000");
    assert!(active["contacts"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["active"] == true));
    let sales = center.get_json("/api/agents?queue=Sales");
    let sales = sales["agents"].as_array().unwrap();
    assert!(!sales.is_empty());
    assert!(sales
        .iter()
        .all(|a| a["queues"].as_array().unwrap().contains(&"Sales".into())));
    let hourly = center.get_json("/api/metrics?interval=1h&queue=Sales");
    let rows = hourly["rows"].as_array().unwrap();
    assert!(!rows.is_empty());
    assert!(rows
        .iter()
        .all(|r| r["kind"] == "queue" && r["id"] == "Sales"));
}

#[test]
fn errors_are_documented_json() {
    let center = Center::start(ServerOptions::default(), 30);
    let doc = openapi::parsed();
    let cases = [
        (
            "/api/contacts/no-such-contact",
            "/api/contacts/{id}",
            404,
            "no contact",
        ),
        ("/api/metrics?interval=2h", "/api/metrics", 400, "interval"),
        (
            "/api/metrics?from=yesterday",
            "/api/metrics",
            400,
            "RFC 3339",
        ),
        (
            "/api/metrics?from=2026-01-05T10:00:00Z&to=2026-01-05T09:00:00Z",
            "/api/metrics",
            400,
            "from must be before to",
        ),
        ("/api/agents?colour=red", "/api/agents", 400, "colour"),
        ("/api/contacts?limit=0", "/api/contacts", 400, "limit"),
        ("/api/contacts?active=maybe", "/api/contacts", 400, "active"),
        ("/api/outbox?sink=crm", "/api/outbox", 400, "sink"),
        ("/assets/nope.js", "/assets/{path}", 404, "no asset"),
    ];
    for (url, path, status, says) in cases {
        let r = center.get(url);
        assert_eq!(r.status, status, "GET {url}: {}", r.text());
        check_answer(&doc, path, url, &r);
        let message = r.json().unwrap()["error"].as_str().unwrap().to_owned();
        assert!(
            message.contains(says),
            "GET {url}: {message:?} should say {says:?}"
        );
    }
    let r = center.get("/api/nothing-here");
    assert_eq!(r.status, 404);
    validate(
        &doc,
        &serde_json::json!({"$ref": "#/components/schemas/Error"}),
        &r.json().unwrap(),
    )
    .unwrap();
}

/// Now on the wall clock, in milliseconds (outbox times are wall-clock times).
fn wall_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

/// An item routed to `sink` at `created_ms` (built like the store suite's entries).
fn routed(sink: &str, key: &str, payload: &[u8], created_ms: i64) -> OutboxEntry {
    OutboxEntry {
        rule: "r1".into(),
        sink: sink.into(),
        key: key.into(),
        kind: "record".into(),
        payload: payload.to_vec(),
        event_ms: created_ms - 500,
        created_ms,
    }
}

/// A server over an empty engine and `store` (none: a server without history).
fn outbox_server(store: Option<Box<dyn Store>>) -> ServerHandle {
    let engine = Arc::new(Mutex::new(Engine::new(EngineConfig::default())));
    let mut state = AppState::new(engine, Hub::default(), ServerOptions::default());
    if let Some(store) = store {
        state = state.with_store(store);
    }
    ServerHandle::start("127.0.0.1:0".parse().unwrap(), state).expect("server starts")
}

#[test]
fn the_outbox_route_counts_what_each_sink_has_waiting() {
    let dir = tempfile::TempDir::new().unwrap();
    let path = dir.path().join("switchboard.db");
    let mut writer = SqliteStore::open(&path).unwrap();
    let server = outbox_server(Some(Box::new(SqliteStore::open(&path).unwrap())));
    let doc = openapi::parsed();
    let get = || {
        let r = client::get(server.local_addr(), "/api/outbox", &[]).unwrap();
        assert_eq!(r.status, 200, "{}", r.text());
        check_answer(&doc, "/api/outbox", "/api/outbox", &r).expect("a JSON answer")
    };
    assert_eq!(get(), json!({"sinks": [], "dead_letters": 0}));

    let now = wall_ms();
    let entries = [
        routed("crm", "c1", &[b'x'; 1000], now - 42_500),
        routed("crm", "c2", &[b'y'; 400], now - 10_000),
        routed("crm", "c3", b"{}", now - 1_000),
        routed("archive", "a1", &[0; 2048], now - 400_000),
        routed(DEAD_LETTER_SINK, "d1", b"bad", now - 5_000),
        routed(DEAD_LETTER_SINK, "d2", b"bad", now - 4_000),
        routed(DEAD_LETTER_SINK, "d3", b"bad", now - 3_000),
    ];
    let engine = Engine::new(EngineConfig::default());
    let (changes, positions) = (Changes::default(), Positions::new());
    writer
        .commit(&Batch::new(&engine, &changes, &positions).with_outbox(&entries))
        .unwrap();
    // A worker holds the oldest crm item: still waiting, no longer ready.
    let claimed = writer
        .outbox_claim("crm", "w1", 1, 1 << 20, now, 60_000)
        .unwrap();
    assert_eq!(claimed.len(), 1);
    // A delivery worker of this process delivered to crm (the recorder is the process's,
    // installed by the server's state): its lag is known; archive's is not.
    telemetry::delivery::delivered("crm", 5, Some(2.5));

    let body = get();
    let elapsed = (wall_ms() - now) as f64 / 1000.0;
    assert_eq!(body["dead_letters"], 3, "{body}");
    let sinks = body["sinks"].as_array().unwrap();
    let names: Vec<&str> = sinks.iter().map(|s| s["sink"].as_str().unwrap()).collect();
    assert_eq!(names, ["archive", "crm"], "{body}");
    let (archive, crm) = (&sinks[0], &sinks[1]);
    assert_eq!(
        [&crm["items"], &crm["bytes"], &crm["ready"], &crm["lag_s"]],
        [&json!(3), &json!(1402), &json!(2), &json!(2.5)],
        "{body}"
    );
    assert_eq!(
        [
            &archive["items"],
            &archive["bytes"],
            &archive["ready"],
            &archive["lag_s"]
        ],
        [&json!(1), &json!(2048), &json!(1), &Value::Null],
        "{body}"
    );
    for (sink, age) in [(crm, 42.5), (archive, 400.0)] {
        let got = sink["oldest_age_s"].as_f64().unwrap();
        assert!(
            got >= age && got <= age + elapsed + 0.001,
            "{}: oldest_age_s {got}, expected {age} plus at most {elapsed}",
            sink["sink"]
        );
    }

    // Everything delivered but the dead letters: no sink listed, the letters still counted.
    let delivered: Vec<i64> = writer
        .outbox_peek(None, 100)
        .unwrap()
        .into_iter()
        .filter(|r| r.entry.sink != DEAD_LETTER_SINK)
        .map(|r| r.id)
        .collect();
    assert_eq!(delivered.len(), 4);
    writer.outbox_delivered(&delivered).unwrap();
    assert_eq!(get(), json!({"sinks": [], "dead_letters": 3}));
}

#[test]
fn the_outbox_route_needs_a_store() {
    let server = outbox_server(None);
    let r = client::get(server.local_addr(), "/api/outbox", &[]).unwrap();
    assert_eq!(r.status, 503, "{}", r.text());
    check_answer(&openapi::parsed(), "/api/outbox", "/api/outbox", &r);
    assert!(r.text().contains("no store"), "{}", r.text());
}

/// A store whose every query fails with a message that must not reach clients.
struct BrokenStore;

fn broken() -> StoreError {
    StoreError::Corrupt {
        path: "/secret/path/switchboard.db".into(),
        table: "contacts",
        key: "k".into(),
        source: serde_json::from_str::<Value>("{").unwrap_err(),
    }
}

impl Store for BrokenStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        Err(broken())
    }
    fn commit(&mut self, _: &switchboard_store::Batch<'_>) -> Result<(), StoreError> {
        Err(broken())
    }
    fn positions(&self) -> Result<Positions, StoreError> {
        Err(broken())
    }
    fn agents(&self, _: &AgentFilter) -> Result<Vec<AgentState>, StoreError> {
        Err(broken())
    }
    fn contacts(&self, _: &ContactFilter) -> Result<Vec<ContactTimeline>, StoreError> {
        Err(broken())
    }
    fn contact(&self, _: &str) -> Result<Option<ContactDetail>, StoreError> {
        Err(broken())
    }
    fn transitions(&self, _: &TransitionFilter) -> Result<Vec<TransitionRow>, StoreError> {
        Err(broken())
    }
    fn metrics(&self, _: &MetricQuery) -> Result<Vec<MetricRow>, StoreError> {
        Err(broken())
    }
    fn alerts(&self, _: bool) -> Result<Vec<Alert>, StoreError> {
        Err(broken())
    }
    fn dump(&self) -> Result<String, StoreError> {
        Err(broken())
    }
    fn outbox_insert(&mut self, _: &[OutboxEntry]) -> Result<u64, StoreError> {
        Err(broken())
    }
    fn outbox_claim(
        &mut self,
        _: &str,
        _: &str,
        _: usize,
        _: usize,
        _: i64,
        _: i64,
    ) -> Result<Vec<OutboxRow>, StoreError> {
        Err(broken())
    }
    fn outbox_delivered(&mut self, _: &[i64]) -> Result<(), StoreError> {
        Err(broken())
    }
    fn outbox_retry(&mut self, _: &[(i64, i64, String)]) -> Result<(), StoreError> {
        Err(broken())
    }
    fn outbox_dead(&mut self, _: &[i64], _: &[OutboxEntry]) -> Result<(), StoreError> {
        Err(broken())
    }
    fn outbox_release(&mut self, _: &[i64]) -> Result<(), StoreError> {
        Err(broken())
    }
    fn outbox_depth(&self, _: i64) -> Result<Vec<OutboxDepth>, StoreError> {
        Err(broken())
    }
    fn outbox_len(&self) -> Result<u64, StoreError> {
        Err(broken())
    }
    fn outbox_peek(&self, _: Option<&str>, _: usize) -> Result<Vec<OutboxRow>, StoreError> {
        Err(broken())
    }
}

#[test]
fn internal_errors_say_internal_error_and_nothing_more() {
    let center = Center::start_with(ServerOptions::default(), 10, |s| {
        s.with_store(Box::new(BrokenStore))
    });
    for url in [
        "/api/contacts",
        "/api/metrics",
        "/api/alerts",
        "/api/outbox",
    ] {
        let r = center.get(url);
        assert_eq!(r.status, 500, "GET {url}");
        assert_eq!(
            r.json().unwrap(),
            serde_json::json!({"error": "internal error"})
        );
        assert!(!r.text().contains("secret"));
    }
    // Live views do not need the store.
    assert_eq!(center.get("/api/agents").status, 200);
}

#[test]
fn bearer_token_guards_everything_but_the_probes() {
    let options = ServerOptions {
        auth: Auth::from_options(Some("s3cret-token"), None).unwrap(),
        ..ServerOptions::default()
    };
    let center = Center::start(options, 10);
    let addr = center.addr();
    for path in [
        "/api/agents",
        "/api/events",
        "/api/outbox",
        "/metrics",
        "/assets/app.js",
    ] {
        let r = client::get(addr, path, &[]).unwrap();
        assert_eq!(r.status, 401, "GET {path}");
        assert!(r.header("www-authenticate").unwrap().starts_with("Bearer"));
    }
    let r = client::get(addr, "/", &[]).unwrap();
    assert_eq!(r.status, 401);
    assert!(r.text().contains("/?token="), "{}", r.text());
    for path in ["/healthz", "/readyz"] {
        assert_eq!(
            client::get(addr, path, &[]).unwrap().status,
            200,
            "GET {path}"
        );
    }
    let bearer = [("Authorization", "Bearer s3cret-token")];
    assert_eq!(
        client::get(addr, "/api/agents", &bearer).unwrap().status,
        200
    );
    let wrong = [("Authorization", "Bearer s3cret-tokem")];
    assert_eq!(
        client::get(addr, "/api/agents", &wrong).unwrap().status,
        401
    );

    // A browser: /?token= sets the cookie and leaves the token out of the address.
    let r = client::get(addr, "/?token=s3cret-token", &[]).unwrap();
    assert_eq!(r.status, 303);
    assert_eq!(r.header("location"), Some("/"));
    let cookie = r.header("set-cookie").unwrap();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"));
    let pair = cookie.split(';').next().unwrap();
    let with_cookie = [("Cookie", pair)];
    assert_eq!(client::get(addr, "/", &with_cookie).unwrap().status, 200);
    assert_eq!(
        client::get(addr, "/api/queues", &with_cookie)
            .unwrap()
            .status,
        200
    );
    assert_eq!(client::get(addr, "/?token=nope", &[]).unwrap().status, 401);
}

#[test]
fn basic_auth_prompts_browsers() {
    let options = ServerOptions {
        auth: Auth::from_options(None, Some("super:visor")).unwrap(),
        ..ServerOptions::default()
    };
    let center = Center::start(options, 10);
    let r = client::get(center.addr(), "/", &[]).unwrap();
    assert_eq!(r.status, 401);
    assert!(r.header("www-authenticate").unwrap().starts_with("Basic"));
    let good = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode("super:visor")
    );
    let r = client::get(center.addr(), "/api/agents", &[("Authorization", &good)]).unwrap();
    assert_eq!(r.status, 200);
}

#[test]
fn an_open_server_off_loopback_is_refused() {
    let center = Center::start(ServerOptions::default(), 1);
    let state = switchboard_server::AppState::new(
        center.engine.clone(),
        center.hub.clone(),
        ServerOptions::default(),
    );
    let err = ServerHandle::start("0.0.0.0:0".parse().unwrap(), state)
        .err()
        .expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("--auth-token") && text.contains("--basic-auth"),
        "{text}"
    );
}

/// The customer address of the first inbound voice contact with a record.
fn customer_address(center: &Center) -> String {
    let list = center.get_json("/api/contacts?active=false&limit=1000");
    for c in list["contacts"].as_array().unwrap() {
        if c["has_record"] != true || c["channel"] != "VOICE" {
            continue;
        }
        let id = c["contact_id"].as_str().unwrap();
        let detail = center.get_json(&format!("/api/contacts/{id}"));
        if let Some(a) = detail["record"]["CustomerEndpoint"]["Address"].as_str() {
            return a.to_owned();
        }
    }
    panic!("no voice contact with a customer address");
}

#[test]
fn phone_numbers_are_masked_on_request() {
    let clear = customer_address(&Center::start(ServerOptions::default(), 90));
    assert!(
        clear.chars().filter(char::is_ascii_digit).count() > 4,
        "{clear}"
    );
    assert!(!clear.contains('*'));
    let masked = customer_address(&Center::start(
        ServerOptions {
            mask_phone_numbers: true,
            ..ServerOptions::default()
        },
        90,
    ));
    assert_eq!(masked, switchboard_server::mask::mask_phone(&clear));
    assert!(masked.ends_with(&clear[clear.len() - 4..]));
}

#[test]
fn prometheus_metrics_name_sources_and_sinks() {
    let center = Center::start(ServerOptions::default(), 30);
    let r = center.get("/metrics");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/plain"));
    let text = r.text();
    for needle in [
        "switchboard_events_in_total{source=\"agent_events\"}",
        "switchboard_events_in_total{source=\"contact_events\"}",
        "switchboard_events_out_total{sink=\"store\"}",
        "switchboard_dedupe_drops_total{source=\"agent_events\"}",
        "switchboard_errors_total{kind=\"store\"}",
        "switchboard_sink_retries_total{sink=\"store\"}",
        "switchboard_feed_subscribers",
        "# TYPE switchboard_events_in_total counter",
    ] {
        assert!(text.contains(needle), "/metrics lacks {needle}:\n{text}");
    }
}
