//! `switchboard lambda kinesis|firehose|eventbridge|sqs` run as Lambda runs it: the real
//! binary, started with the Lambda environment, polling a FAKE Runtime API served by the
//! test (`support::lambda_api`: no local Lambda exists here), fed the published samples,
//! simulator batches and bad records. The store is the real PostgreSQL of
//! scripts/servers.sh where state across cold starts matters, SQLite elsewhere.

mod support;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::str::FromStr;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use support::lambda_api::{Answer, FakeRuntimeApi};
use support::run::bin;
use support::servers::PgSchema;
use switchboard_store::{AgentFilter, StoreUrl, TransitionFilter};

const LIMIT: Duration = Duration::from_secs(60);

/// The published Connect samples (`../shared/connect/samples`, or `SWITCHBOARD_SAMPLES`).
fn sample(name: &str) -> Vec<u8> {
    let dir = match std::env::var("SWITCHBOARD_SAMPLES") {
        Ok(d) => PathBuf::from(d),
        Err(_) => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples"),
    };
    std::fs::read(dir.join(name)).unwrap()
}

/// One execution environment: the binary polling its own fake Runtime API.
struct Function {
    child: Child,
    api: FakeRuntimeApi,
    log: PathBuf,
    started: Instant,
    _dir: tempfile::TempDir,
}

impl Function {
    /// `switchboard lambda HANDLER`.
    fn start(handler: &str, config: &Path) -> Self {
        Self::spawn(&["lambda", handler], &[], config)
    }

    /// The binary as a Lambda `bootstrap`: no arguments, the handler in `_HANDLER` (the
    /// function's Handler setting).
    fn bootstrap(handler: &str, config: &Path) -> Self {
        Self::spawn(&[], &[("_HANDLER", handler)], config)
    }

    fn spawn(args: &[&str], env: &[(&str, &str)], config: &Path) -> Self {
        let api = FakeRuntimeApi::start();
        let dir = tempfile::tempdir().unwrap();
        let log = dir.path().join("stderr.log");
        let started = Instant::now();
        let child = Command::new(bin())
            .args(args)
            .envs(env.iter().copied())
            .env("AWS_LAMBDA_RUNTIME_API", api.host())
            .env("AWS_LAMBDA_FUNCTION_NAME", "switchboard")
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "512")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("SWITCHBOARD_CONFIG", config)
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).unwrap())
            .spawn()
            .unwrap();
        Function {
            child,
            api,
            log,
            started,
            _dir: dir,
        }
    }

    fn invoke(&self, event: &[u8]) -> Value {
        match self.api.invoke(event, LIMIT) {
            Answer::Response(v) => v,
            Answer::Error(e, kind) => panic!("the function failed: {e} ({kind:?})\n{}", self.log()),
        }
    }

    fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }
}

impl Drop for Function {
    fn drop(&mut self) {
        // Lambda ends an execution environment without notice.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One NDJSON line per record.
type Lines = Vec<Vec<u8>>;

/// Simulator output: `(agent events, contact events, contact records)` lines.
fn simulate(agents: u32, duration: &str) -> (Lines, Lines, Lines) {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sim");
    let status = Command::new(bin())
        .args([
            "simulate",
            "--agents",
            &agents.to_string(),
            "--duration",
            duration,
        ])
        .args(["--seed", "9", "--start", "2026-03-02T09:00:00Z", "--out"])
        .arg(&out)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let read = |name: &str| -> Vec<Vec<u8>> {
        std::fs::read(out.join(name))
            .unwrap()
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .map(<[u8]>::to_vec)
            .collect()
    };
    (
        read("agent-events.ndjson"),
        read("contact-events.ndjson"),
        read("contact-records.ndjson"),
    )
}

/// A Kinesis event as Lambda builds it; sequence numbers `first`, `first + 1`...
fn kinesis_event(payloads: &[Vec<u8>], first: u64) -> (Vec<u8>, Vec<String>) {
    let seqs: Vec<String> = (0..payloads.len() as u64)
        .map(|i| format!("49568167373333333333{:036}", first + i))
        .collect();
    let records: Vec<Value> = payloads
        .iter()
        .zip(&seqs)
        .map(|(p, seq)| {
            json!({
                "kinesis": {"kinesisSchemaVersion": "1.0", "partitionKey": "agent",
                    "sequenceNumber": seq, "data": support::base64(p),
                    "approximateArrivalTimestamp": 1772442000.123},
                "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": format!("shardId-000000000000:{seq}"),
                "eventName": "aws:kinesis:record",
                "invokeIdentityArn": "arn:aws:iam::123456789012:role/switchboard",
                "awsRegion": "us-east-1",
                "eventSourceARN": "arn:aws:kinesis:us-east-1:123456789012:stream/connect-agent-events"
            })
        })
        .collect();
    (
        serde_json::to_vec(&json!({ "Records": records })).unwrap(),
        seqs,
    )
}

fn write_config(dir: &Path, store_url: &str, extra: &str) -> PathBuf {
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, format!("[store]\nurl = \"{store_url}\"\n{extra}")).unwrap();
    path
}

fn failures(answer: &Value) -> Vec<String> {
    answer["batchItemFailures"]
        .as_array()
        .unwrap_or_else(|| panic!("no batchItemFailures in {answer}"))
        .iter()
        .map(|f| f["itemIdentifier"].as_str().unwrap().to_owned())
        .collect()
}

/// What one uninterrupted engine makes of `events`: (transitions, agent statuses).
fn uninterrupted(events: &[Vec<u8>]) -> (usize, Vec<(String, Value)>) {
    let mut engine = switchboard_engine::Engine::new(Default::default());
    let mut transitions = 0;
    for e in events {
        let decoded = switchboard_model::decode::Decoder::default();
        decoded.decode_slice(None, e, &mut |r| {
            engine.apply(&r.unwrap().record().unwrap());
            std::ops::ControlFlow::Continue(())
        });
        transitions += engine.take_changes().transitions.len();
    }
    (transitions, statuses(engine.agents()))
}

/// Each agent's status, by ARN.
fn statuses<'a>(
    agents: impl Iterator<Item = &'a switchboard_engine::AgentState>,
) -> Vec<(String, Value)> {
    let mut out: Vec<(String, Value)> = agents
        .map(|a| {
            (
                a.agent_arn.clone(),
                serde_json::to_value(&a.status).unwrap(),
            )
        })
        .collect();
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

fn stored(url: &str) -> (usize, Vec<(String, Value)>) {
    let store = StoreUrl::from_str(url).unwrap().open_as("default").unwrap();
    let transitions = store
        .transitions(&TransitionFilter::default())
        .unwrap()
        .len();
    let agents = store.agents(&AgentFilter::default()).unwrap();
    (transitions, statuses(agents.iter()))
}

#[test]
fn kinesis_on_postgres_two_cold_starts_share_state_and_a_refused_commit_reports_the_first_record() {
    let schema = PgSchema::new();
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(dir.path(), &schema.url(), "");
    let (events, _, _) = simulate(12, "90m");
    assert!(events.len() > 300, "{}", events.len());
    let half = events.len() / 2;

    // Execution environment 1: the first half in batches of 100, bad records among them.
    let f = Function::start("kinesis", &config);
    let mut seq = 0;
    for (n, chunk) in events[..half].chunks(100).enumerate() {
        let mut batch = chunk.to_vec();
        if n == 0 {
            batch.insert(10, b"Hello World".to_vec());
            batch.insert(20, b"{\"AWSAccountId\": 12}".to_vec());
        }
        let (event, _) = kinesis_event(&batch, seq);
        seq += batch.len() as u64;
        let answer = f.invoke(&event);
        assert_eq!(failures(&answer), Vec::<String>::new(), "{}", f.log());
    }
    assert!(f.log().contains("bad record"), "bad records are logged");
    drop(f);

    // Environment 2, a cold start in a new process: the rest. What the first one
    // committed (agents logged in, their states) is where the second one goes on from.
    let f = Function::start("kinesis", &config);
    for chunk in events[half..].chunks(100) {
        let (event, _) = kinesis_event(chunk, seq);
        seq += chunk.len() as u64;
        assert_eq!(failures(&f.invoke(&event)), Vec::<String>::new());
    }
    let (want_transitions, want_agents) = uninterrupted(&events);
    let (got_transitions, got_agents) = stored(&schema.url());
    assert_eq!(
        got_transitions, want_transitions,
        "same transitions as one uninterrupted run"
    );
    assert_eq!(got_agents, want_agents);
    assert!(!got_agents.is_empty());

    // The store refuses commits (a table it writes is gone): the first record of the
    // batch is reported, Lambda retries from it; once the store is back the retry passes
    // and changes nothing twice.
    let mut admin = postgres::Client::connect(&schema.url(), postgres::NoTls).unwrap();
    admin
        .batch_execute("ALTER TABLE positions RENAME TO positions_off")
        .unwrap();
    let (again, seqs) = kinesis_event(&events[..50], seq);
    let answer = f.invoke(&again);
    assert_eq!(failures(&answer), vec![seqs[0].clone()], "{}", f.log());
    admin
        .batch_execute("ALTER TABLE positions_off RENAME TO positions")
        .unwrap();
    assert_eq!(
        failures(&f.invoke(&again)),
        Vec::<String>::new(),
        "{}",
        f.log()
    );
    assert_eq!(stored(&schema.url()).0, want_transitions);

    // An EventBridge event that cannot be committed is an invocation error (Lambda's
    // asynchronous retries take it from there).
    let eb = Function::start("eventbridge", &config);
    eb.api.wait_first_next(LIMIT);
    admin
        .batch_execute("ALTER TABLE engine_meta RENAME TO engine_meta_off")
        .unwrap();
    let answer = eb
        .api
        .invoke(&sample("eventbridge-contact-disconnected.json"), LIMIT);
    admin
        .batch_execute("ALTER TABLE engine_meta_off RENAME TO engine_meta")
        .unwrap();
    match answer {
        Answer::Error(body, _) => {
            let message = body["errorMessage"].as_str().unwrap_or_default();
            assert!(message.contains("not committed"), "{body}");
        }
        Answer::Response(r) => panic!("answered {r} although the store refused the commit"),
    }
    let event = sample("eventbridge-contact-disconnected.json");
    assert_eq!(eb.invoke(&event), json!({"records": 1, "bad": 0}));
}

#[test]
fn firehose_enriches_from_a_file_lookup_and_answers_every_record_once() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, records) = simulate(8, "2h");
    assert!(records.len() > 20, "{}", records.len());
    // Half the callers are customers of a known company.
    let mut csv = String::from("number,company\n");
    let mut known = 0;
    for (i, r) in records.iter().enumerate() {
        let v: Value = serde_json::from_slice(r).unwrap();
        if let Some(n) = v["CustomerEndpoint"]["Address"].as_str() {
            if i % 2 == 0 && !csv.contains(n) {
                csv.push_str(&format!("{n},Company {i}\n"));
            }
        }
    }
    std::fs::write(dir.path().join("customers.csv"), &csv).unwrap();
    let config = write_config(
        dir.path(),
        "sqlite:sb.db",
        r#"
[[lookups]]
name = "customers"
type = "file"
path = "customers.csv"
key = "number"

[lambda.firehose]
append_newline = true
enrich = [{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer" }]
partition_keys = { channel = "Channel" }
"#,
    );
    let mut input: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"recordId": format!("ctr-{i}"), "approximateArrivalTimestamp": 1772442000123u64, "data": support::base64(r)}))
        .collect();
    input.push(json!({"recordId": "bad", "approximateArrivalTimestamp": 1772442000123u64, "data": support::base64(b"{\"half\": ")}));
    let event = json!({"invocationId": "inv-1", "deliveryStreamArn": "arn:aws:firehose:us-east-1:123456789012:deliverystream/ctr",
        "region": "us-east-1", "records": input});

    let f = Function::start("firehose", &config);
    let answer = f.invoke(&serde_json::to_vec(&event).unwrap());
    let out = answer["records"].as_array().unwrap();
    let ids: Vec<&str> = out
        .iter()
        .map(|r| r["recordId"].as_str().unwrap())
        .collect();
    let want: Vec<String> = input
        .iter()
        .map(|r| r["recordId"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, want, "every recordId once, in order");
    for (r, original) in out.iter().zip(&records) {
        assert_eq!(r["result"], "Ok");
        let data = decode64(r["data"].as_str().unwrap());
        assert!(data.ends_with(b"}\n"));
        let v: Value = serde_json::from_slice(&data).unwrap();
        let o: Value = serde_json::from_slice(original).unwrap();
        assert_eq!(
            v["CustomerEndpoint"], o["CustomerEndpoint"],
            "the number is kept"
        );
        if v.get("Customer").is_some() {
            known += 1;
            assert!(v["Customer"]["company"]
                .as_str()
                .unwrap()
                .starts_with("Company "));
        } else {
            assert_eq!(
                data[..data.len() - 1],
                original[..],
                "unchanged: the original bytes"
            );
        }
        assert_eq!(r["metadata"]["partitionKeys"]["channel"], o["Channel"]);
    }
    assert!(
        known > 0 && known < records.len(),
        "{known} of {}",
        records.len()
    );
    assert_eq!(out.last().unwrap()["result"], "ProcessingFailed");
    assert!(f.log().contains("not a Connect record"));
    eprintln!(
        "firehose: {} records, {known} enriched with a company, 1 ProcessingFailed",
        records.len()
    );

    // The published transformation request: its "Hello World" records fail, by id.
    let answer = f.invoke(&sample("firehose-transform-request.json"));
    let results: Vec<(&str, &str)> = answer["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["recordId"].as_str().unwrap(),
                r["result"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        results,
        [
            ("record1", "ProcessingFailed"),
            ("record2", "ProcessingFailed")
        ]
    );
}

#[test]
fn firehose_enriches_from_a_dynamodb_table_on_dynalite() {
    let dir = tempfile::tempdir().unwrap();
    let (_, _, records) = simulate(4, "1h");
    let numbers: Vec<String> = records
        .iter()
        .filter_map(|r| {
            let v: Value = serde_json::from_slice(r).unwrap();
            v["CustomerEndpoint"]["Address"].as_str().map(str::to_owned)
        })
        .collect();
    assert!(numbers.len() >= 4);
    let table = support::unique_name("sb-customers");
    let endpoint = support::servers::dynalite_url();
    support::servers::python(&format!(
        r#"
import boto3
db = boto3.client("dynamodb", endpoint_url="{endpoint}", region_name="us-east-1")
db.create_table(TableName="{table}", KeySchema=[{{"AttributeName": "phone", "KeyType": "HASH"}}],
    AttributeDefinitions=[{{"AttributeName": "phone", "AttributeType": "S"}}],
    BillingMode="PAY_PER_REQUEST")
import time
while db.describe_table(TableName="{table}")["Table"]["TableStatus"] != "ACTIVE":
    time.sleep(0.1)
for n in ["{a}", "{b}"]:
    db.put_item(TableName="{table}", Item={{"phone": {{"S": n}}, "company": {{"S": "Dyna " + n[-4:]}}}})
"#,
        a = numbers[0],
        b = numbers[1],
    ));
    let config = write_config(
        dir.path(),
        "sqlite:sb.db",
        &format!(
            r#"
[[lookups]]
name = "customers"
type = "dynamodb"
table = "{table}"
key_attribute = "phone"
aws = {{ region = "us-east-1", endpoint_url = "{endpoint}" }}

[lambda.firehose]
enrich = [{{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer" }}]
"#
        ),
    );
    let input: Vec<Value> = records
        .iter()
        .enumerate()
        .map(|(i, r)| json!({"recordId": format!("ctr-{i}"), "approximateArrivalTimestamp": 1772442000123u64, "data": support::base64(r)}))
        .collect();
    let event = json!({"invocationId": "inv-d", "records": input});
    let f = Function::start("firehose", &config);
    let answer = f.invoke(&serde_json::to_vec(&event).unwrap());
    let out = answer["records"].as_array().unwrap();
    assert_eq!(out.len(), records.len());
    let mut enriched = 0;
    for r in out {
        assert_eq!(r["result"], "Ok", "{}", f.log());
        let v: Value = serde_json::from_slice(&decode64(r["data"].as_str().unwrap())).unwrap();
        if let Some(c) = v.get("Customer") {
            enriched += 1;
            let number = v["CustomerEndpoint"]["Address"].as_str().unwrap();
            assert_eq!(
                c["company"],
                format!("Dyna {}", &number[number.len() - 4..])
            );
        }
    }
    let want = numbers
        .iter()
        .filter(|n| **n == numbers[0] || **n == numbers[1])
        .count();
    assert_eq!(
        enriched, want,
        "the records of the two known numbers, numbers kept"
    );
}

fn decode64(s: &str) -> Vec<u8> {
    switchboard_model::envelope::decode_base64(s).unwrap()
}

#[test]
fn eventbridge_and_sqs_apply_contact_events_and_the_published_kinesis_sample_is_dead_lettered() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "sqlite:sb.db",
        "[dead_letter]\npath = \"dead.ndjson\"\n",
    );

    let f = Function::bootstrap("eventbridge", &config);
    let answer = f.invoke(&sample("eventbridge-contact-disconnected.json"));
    assert_eq!(answer, json!({"records": 1, "bad": 0}));
    drop(f);

    let f = Function::start("sqs", &config);
    let (_, contact_events, _) = simulate(6, "1h");
    let mut bodies: Vec<String> = contact_events
        .iter()
        .take(40)
        .map(|e| String::from_utf8(e.clone()).unwrap())
        .collect();
    bodies.insert(5, "garbage".into());
    let messages: Vec<Value> = bodies
        .iter()
        .enumerate()
        .map(|(i, b)| {
            json!({"messageId": format!("m-{i}"), "receiptHandle": "rh", "body": b,
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {},
            "md5OfBody": "", "eventSource": "aws:sqs", "awsRegion": "us-east-1",
            "eventSourceARN": "arn:aws:sqs:us-east-1:123456789012:connect-contact-events"})
        })
        .collect();
    let answer = f.invoke(&serde_json::to_vec(&json!({ "Records": messages })).unwrap());
    assert_eq!(answer, json!({"batchItemFailures": []}));
    drop(f);

    let f = Function::start("kinesis", &config);
    let answer = f.invoke(&sample("kinesis-lambda-event.json"));
    assert_eq!(failures(&answer), Vec::<String>::new());
    // The dead letters were written inside the invocations (the garbage SQS body and
    // the two "Hello World" Kinesis records).
    let dead = std::fs::read_to_string(dir.path().join("dead.ndjson")).unwrap();
    assert_eq!(dead.lines().count(), 3, "{dead}");
}

#[test]
fn a_bad_config_is_reported_to_init_error_with_its_key() {
    let dir = tempfile::tempdir().unwrap();
    let config = write_config(
        dir.path(),
        "sqlite:sb.db",
        "[lambda]\ndeliver_reserve_ms = 5\n",
    );
    let mut f = Function::start("kinesis", &config);
    let error = f.api.wait_init_error(LIMIT);
    let message = error["errorMessage"].as_str().unwrap();
    assert!(message.contains("lambda.deliver_reserve_ms"), "{message}");
    assert_eq!(error["errorType"], "Runtime.ConfigError");
    assert!(!f.child.wait().unwrap().success());
}

/// Cold start (process start to the first /next) and time per 100-record batch, printed
/// beside a ceiling. Figures, not assertions:
/// `cargo test --release -p switchboard --test lambda_cli lambda_figures -- --nocapture`.
#[test]
fn lambda_figures() {
    let dir = tempfile::tempdir().unwrap();
    let (events, _, _) = simulate(40, "3h");
    let schema = PgSchema::new();
    for (name, url) in [
        ("sqlite", "sqlite:sb.db".to_owned()),
        ("postgres", schema.url()),
    ] {
        let config = write_config(dir.path(), &url, "");
        let f = Function::start("kinesis", &config);
        let cold = f.api.wait_first_next(LIMIT) - f.started;
        let batches: Vec<_> = events.chunks(100).take(20).collect();
        let mut seq = 0;
        let started = Instant::now();
        for chunk in &batches {
            let (event, _) = kinesis_event(chunk, seq);
            seq += chunk.len() as u64;
            assert_eq!(failures(&f.invoke(&event)), Vec::<String>::new());
        }
        let per_batch = started.elapsed() / batches.len() as u32;
        let build = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        eprintln!(
            "lambda kinesis ({build}, {name}): cold start {:.1} ms (ceiling 1000 ms); {:.1} ms per 100-record batch over {} batches (ceiling 1000 ms)",
            cold.as_secs_f64() * 1000.0,
            per_batch.as_secs_f64() * 1000.0,
            batches.len()
        );
    }
}
