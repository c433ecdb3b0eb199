//! Issue 12, item 3: every documented series moves when its event happens, in a real
//! `switchboard run`, as a Prometheus scraper reads `/metrics` (through the strict text
//! reader of `support/prom.rs`, not by looking for names): records in and refused per
//! input and reason, dead letters per stage, errors per kind, refused HTTP requests per
//! status, store commits, the lag of each stream and input (Firehose request age, Kinesis
//! `MillisBehindLatest`, SQS message age), sink retries, deliveries and outbox depth.
//!
//! Every series is created at 0 at start-up, so each assertion compares a scrape taken
//! after the event with one taken before it.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};
use support::prom::{self, Scrape};
use support::receiver::{free_port, Receiver};
use support::run::{wait_for, Running};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_millis() as i64
}

fn scrape(run: &Running) -> Scrape {
    let r = switchboard_server::client::get(run.addr(), "/metrics", &[]).unwrap();
    assert_eq!(r.status, 200);
    prom::parse(&r.text()).unwrap_or_else(|e| panic!("{e}\n{}", r.text()))
}

/// The first contact record of the examples, with its times moved to `seconds_ago`.
fn contact_record(seconds_ago: i64) -> Value {
    let text = fs::read_to_string(examples().join("data/contact-records.ndjson")).unwrap();
    let mut v: Value = serde_json::from_str(text.lines().next().unwrap()).unwrap();
    let at = |s: i64| {
        switchboard_model::Timestamp::from_millis(now_ms() - (seconds_ago + s) * 1000).to_string()
    };
    v["InitiationTimestamp"] = json!(at(600));
    v["DisconnectTimestamp"] = json!(at(30));
    v["LastUpdateTimestamp"] = json!(at(0));
    for path in [("Queue", "EnqueueTimestamp"), ("Queue", "DequeueTimestamp")] {
        if v[path.0][path.1].is_string() {
            v[path.0][path.1] = json!(at(590));
        }
    }
    if v["Agent"]["ConnectedToAgentTimestamp"].is_string() {
        v["Agent"]["ConnectedToAgentTimestamp"] = json!(at(580));
    }
    v
}

/// Sends only the headers of a `POST` announcing a body of `length` bytes; returns the
/// status (a body over the limit is refused from its `Content-Length`, unread).
fn announce_body(run: &Running, path: &str, key: (&str, &str), length: usize) -> u16 {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(run.addr()).unwrap();
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "POST {path} HTTP/1.1\r\nHost: x\r\n{}: {}\r\nContent-Type: application/json\r\n\
         Content-Length: {length}\r\n\r\n",
        key.0, key.1
    )
    .unwrap();
    let mut response = Vec::new();
    let mut buf = [0u8; 4096];
    // Up to the end of the status line is enough.
    while !response.windows(2).any(|w| w == b"\r\n") {
        match stream.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => response.extend_from_slice(&buf[..n]),
        }
    }
    String::from_utf8_lossy(&response)
        .split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}

#[test]
fn every_series_moves_when_its_event_happens_in_run() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    // The CRM is down at first: its items wait in the outbox and are retried.
    let crm = free_port();
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:sb.db"
[server]
listen = "127.0.0.1:0"
[outbox]
retry_initial_ms = 50
retry_max_ms = 200
max_attempts = 1000
poll_ms = 20
[[sources]]
type = "firehose_http"
path = "/firehose"
access_key_env = "TEST_FIREHOSE_KEY"
max_body_bytes = 32768
[[sources]]
type = "eventbridge_http"
path = "/eventbridge"
key_env = "TEST_EVENTBRIDGE_KEY"
[[sinks]]
name = "crm"
type = "webhook"
url = "http://{crm}/hook"
[[rules]]
name = "records"
kinds = ["record"]
streams = ["contact_record"]
sinks = ["crm"]
"#
        ),
    )
    .unwrap();
    let run = Running::start(
        &config,
        &[
            ("TEST_FIREHOSE_KEY", "fh-secret"),
            ("TEST_EVENTBRIDGE_KEY", "eb-secret"),
        ],
    );
    let before = scrape(&run);
    let key = ("X-Amz-Firehose-Access-Key", "fh-secret");

    // Refused requests: no key (401), a wrong key (403), a body over the limit (413).
    let small = json!({"requestId": "r0", "timestamp": now_ms(), "records": []}).to_string();
    assert_eq!(run.post("/firehose", &[], &small).0, 401);
    assert_eq!(
        run.post("/firehose", &[("X-Amz-Firehose-Access-Key", "no")], &small)
            .0,
        403
    );
    assert_eq!(announce_body(&run, "/firehose", key, 40_000), 413);
    assert_eq!(run.post("/eventbridge", &[], "{}").0, 401);

    // One Firehose request 30 s old: a good record, bytes that are no record, and a
    // record with a negative hold (refused with its field).
    let good = contact_record(60);
    let mut negative = contact_record(60);
    negative["ContactId"] = json!("negative-hold");
    negative["Agent"]["CustomerHoldDuration"] = json!(-20);
    let data = |v: &Value| support::base64(v.to_string().as_bytes());
    let body = json!({
        "requestId": "r1",
        "timestamp": now_ms() - 30_000,
        "records": [
            {"data": data(&good)},
            {"data": support::base64(b"this is not a record")},
            {"data": data(&negative)},
        ],
    })
    .to_string();
    let (status, answer) = run.post("/firehose", &[key], &body);
    assert_eq!(status, 200, "{answer}");
    let event = fs::read_to_string(examples().join("data/contact-events.ndjson")).unwrap();
    let event = event.lines().next().unwrap();
    let (status, answer) = run.post("/eventbridge", &[("x-api-key", "eb-secret")], event);
    assert_eq!(status, 200, "{answer}");

    // The CRM's item waits (the monitor publishes the depth every few seconds)...
    let mut waiting = None;
    wait_for("the outbox depth to show", Duration::from_secs(30), || {
        let s = scrape(&run);
        let depth = s.get("switchboard_outbox_depth", &[("sink", "crm")]);
        waiting = Some(s);
        depth.is_some_and(|d| d >= 1.0)
    });
    let waiting = waiting.unwrap();
    // ... and is retried; then the CRM comes back and takes it.
    wait_for("a retry", Duration::from_secs(30), || {
        scrape(&run).sum("switchboard_sink_retries_total", &[("sink", "crm")]) >= 1.0
    });
    let receiver = Receiver::start_on(crm);
    let mut after = None;
    wait_for(
        "the delivery and the outbox to drain",
        Duration::from_secs(60),
        || {
            let s = scrape(&run);
            let done = s.get("switchboard_outbox_depth", &[("sink", "crm")]) == Some(0.0)
                && s.sum("switchboard_delivered_total", &[("sink", "crm")]) >= 1.0;
            after = Some(s);
            done
        },
    );
    let after = after.unwrap();
    assert!(!receiver.applied().is_empty());

    let moved =
        |name: &str, labels: &[(&str, &str)]| after.sum(name, labels) - before.sum(name, labels);
    let expect = |name: &str, labels: &[(&str, &str)], want: f64| {
        let got = moved(name, labels);
        assert_eq!(got, want, "{name}{labels:?} moved by {got}, not {want}");
    };
    // Records in, per input and per stream; refused per input and reason.
    expect(
        "switchboard_input_records_total",
        &[("input", "firehose-http")],
        3.0,
    );
    expect(
        "switchboard_input_records_total",
        &[("input", "eventbridge-http")],
        1.0,
    );
    expect(
        "switchboard_input_refused_total",
        &[("input", "firehose-http"), ("reason", "decode")],
        1.0,
    );
    expect(
        "switchboard_input_refused_total",
        &[("input", "firehose-http"), ("reason", "negative")],
        1.0,
    );
    expect(
        "switchboard_events_in_total",
        &[("source", "contact_records")],
        1.0,
    );
    expect(
        "switchboard_events_in_total",
        &[("source", "contact_events")],
        1.0,
    );
    // Dead letters per stage, errors per kind.
    expect(
        "switchboard_dead_letters_total",
        &[("stage", "decode")],
        1.0,
    );
    expect(
        "switchboard_dead_letters_total",
        &[("stage", "validate")],
        1.0,
    );
    expect("switchboard_errors_total", &[("kind", "decode")], 1.0);
    expect("switchboard_errors_total", &[("kind", "validate")], 1.0);
    // Refused requests per status (and as errors of kind http).
    expect("switchboard_http_refused_total", &[("status", "401")], 2.0);
    expect("switchboard_http_refused_total", &[("status", "403")], 1.0);
    expect("switchboard_http_refused_total", &[("status", "413")], 1.0);
    expect("switchboard_errors_total", &[("kind", "http")], 4.0);
    // Store commits, and how long they took.
    assert!(moved("switchboard_store_commit_seconds_count", &[]) >= 1.0);
    assert!(moved("switchboard_store_commit_seconds_sum", &[]) > 0.0);
    // Lag: the Firehose request was 30 s old, its newest record 60 s.
    let firehose = after
        .get(
            "switchboard_input_lag_seconds",
            &[("input", "firehose-http"), ("partition", "")],
        )
        .expect("the Firehose request age");
    assert!((29.0..300.0).contains(&firehose), "{firehose}");
    let records = after
        .get("switchboard_lag_seconds", &[("source", "contact_records")])
        .expect("the contact records' lag");
    assert!((59.0..600.0).contains(&records), "{records}");
    // Sinks: routed, retried, delivered; the depth went up and came back down.
    expect("switchboard_routed_total", &[("sink", "crm")], 1.0);
    assert!(moved("switchboard_sink_retries_total", &[("sink", "crm")]) >= 1.0);
    expect("switchboard_delivered_total", &[("sink", "crm")], 1.0);
    assert_eq!(
        waiting.get("switchboard_outbox_depth", &[("sink", "crm")]),
        Some(1.0)
    );
    run.stop();
}

/// Kinesis `MillisBehindLatest` and the age of SQS messages, from moto.
#[test]
fn kinesis_and_sqs_sources_report_their_lag() {
    let moto = support::servers::moto_url();
    let name = support::unique_name("sb-lag");
    let agents = examples().join("data/agent-events.ndjson");
    let events = examples().join("data/contact-events.ndjson");
    let queue_url = support::servers::python(&format!(
        r#"
import boto3, json
k = boto3.client("kinesis", endpoint_url="{moto}", region_name="us-east-1")
k.create_stream(StreamName="{name}", ShardCount=1)
k.get_waiter("stream_exists").wait(StreamName="{name}", WaiterConfig={{"Delay": 0.2}})
for line in open("{agents}"):
    k.put_record(StreamName="{name}", Data=line.encode(), PartitionKey="p")
sqs = boto3.client("sqs", endpoint_url="{moto}", region_name="us-east-1")
url = sqs.create_queue(QueueName="{name}")["QueueUrl"]
for line in open("{events}"):
    sqs.send_message(QueueUrl=url, MessageBody=line)
print(url)
"#,
        agents = agents.display(),
        events = events.display(),
    ));
    // The messages age while nothing reads them.
    std::thread::sleep(Duration::from_secs(2));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:sb.db"
[server]
listen = "127.0.0.1:0"
[aws]
region = "us-east-1"
endpoint_url = "{moto}"
[[sources]]
type = "kinesis"
stream = "{name}"
application = "{name}-app"
poll_interval_ms = 100
[[sources]]
type = "sqs"
queue_url = "{queue_url}"
wait_time_secs = 1
"#,
            queue_url = queue_url.trim()
        ),
    )
    .unwrap();
    let run = Running::start(&config, &[]);
    let mut last = Scrape::default();
    wait_for("both inputs' lag", Duration::from_secs(90), || {
        last = scrape(&run);
        last.series
            .get("switchboard_input_lag_seconds")
            .is_some_and(|s| {
                s.keys().any(|l| l["input"] == "kinesis") && s.keys().any(|l| l["input"] == "sqs")
            })
            && last.sum("switchboard_input_records_total", &[("input", "sqs")]) >= 1.0
            && last.sum("switchboard_input_records_total", &[("input", "kinesis")]) >= 1.0
    });
    let sqs = last.sum("switchboard_input_lag_seconds", &[("input", "sqs")]);
    assert!(
        (1.5..600.0).contains(&sqs),
        "the oldest message's age: {sqs}"
    );
    let kinesis = last.sum("switchboard_input_lag_seconds", &[("input", "kinesis")]);
    assert!(kinesis >= 0.0, "{kinesis}");
    assert!(last.sum("switchboard_lag_seconds", &[("source", "agent_events")]) > 0.0);
    run.stop();
}

/// The reader of `support/prom.rs` refuses what a scraper would.
#[test]
fn the_reader_refuses_what_a_scraper_would() {
    let good = "# HELP a_total A.\n# TYPE a_total counter\na_total{k=\"v\\\"x\",j=\"\"} 3\n\
                # TYPE h histogram\nh_bucket{le=\"+Inf\"} 1\nh_sum 0.5\nh_count 1\n";
    let s = prom::parse(good).unwrap();
    assert_eq!(s.get("a_total", &[("k", "v\"x"), ("j", "")]), Some(3.0));
    assert_eq!(s.get("h_count", &[]), Some(1.0));
    for bad in [
        "a{k=\"v} 1",
        "a{k=v} 1",
        "a 1 2 3",
        "a x",
        "1a 1",
        "a 1\na 1",
        "# TYPE a counter\na -1",
        "# TYPE a counter\n# TYPE a gauge",
        "a 1\n# TYPE a counter",
        "# TYPE h histogram\nh 1",
    ] {
        assert!(prom::parse(bad).is_err(), "{bad:?} was accepted");
    }
}
