//! `switchboard validate` and `switchboard run`, black box: the binary started with a
//! config file, fed through its sources, stopped with SIGTERM, its store inspected.
//!
//! The tests with AWS sources talk to the real servers `bash scripts/test.sh` starts (see
//! `tests/support/servers.rs`); they fail, never skip, when those are missing.

mod support;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use support::run::{bin, wait_for, Running};
use switchboard_store::{AgentFilter, ContactFilter, SqliteStore, Store, StoreUrl};

/// The repository's examples folder.
fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

/// Secrets the examples name, set for the child only.
const EXAMPLE_ENV: &[(&str, &str)] = &[
    ("SWITCHBOARD_AUTH_TOKEN", "dashboard-token"),
    ("SWITCHBOARD_FIREHOSE_ACCESS_KEY", "firehose-key"),
    ("SWITCHBOARD_EVENTBRIDGE_KEY", "eventbridge-key"),
    ("CRM_TOKEN", "crm-token"),
    (
        "SLACK_WEBHOOK_URL",
        "https://hooks.slack.example/services/T0/B0/X",
    ),
];

#[test]
fn every_example_config_validates() {
    let mut checked = 0;
    for entry in fs::read_dir(examples()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "toml") {
            continue;
        }
        let out = Command::new(bin())
            .arg("validate")
            .arg("--config")
            .arg(&path)
            .envs(EXAMPLE_ENV.iter().copied())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            path.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        checked += 1;
    }
    assert!(checked >= 5, "one example per ingest path, found {checked}");
}

#[test]
fn the_printed_example_config_validates() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin())
        .args(["validate", "--example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for kind in [
        "kinesis",
        "sqs",
        "firehose_http",
        "eventbridge_http",
        "files",
    ] {
        assert!(
            text.contains(&format!("type = \"{kind}\"")),
            "{kind}: {text}"
        );
    }
    let config = dir.path().join("switchboard.toml");
    fs::write(&config, &text).unwrap();
    fs::create_dir(dir.path().join("exports")).unwrap();
    let out = Command::new(bin())
        .arg("validate")
        .arg("--config")
        .arg(&config)
        .envs(EXAMPLE_ENV.iter().copied())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn validate_and_run_name_every_problem_and_start_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("bad.toml");
    fs::write(
        &config,
        r#"
[store]
url = "sqlite:missing-folder/sb.db"
[engine]
service_level_s = -1
[server]
listn = "127.0.0.1:0"
[[sources]]
type = "firehose_http"
path = "/in"
allow_unauthenticated = true
[[sources]]
type = "eventbridge_http"
path = "/in"
allow_unauthenticated = true
"#,
    )
    .unwrap();
    for command in ["validate", "run"] {
        let out = Command::new(bin())
            .arg(command)
            .arg("--config")
            .arg(&config)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        let file = config.display().to_string();
        for key in [
            "store.url",
            "engine.service_level_s",
            "server.listn",
            "sources[1].path",
        ] {
            assert!(
                stderr.contains(&format!("{file}: {key}: ")),
                "{command}: {key} missing from\n{stderr}"
            );
        }
        assert!(stderr.contains("4 problem(s)"), "{command}: {stderr}");
    }
    assert!(!dir.path().join("missing-folder").exists());
}

/// The example data through `run`'s files source ends as the same store as `replay`.
#[test]
fn run_with_a_files_source_stores_what_replay_stores_and_resumes() {
    let dir = tempfile::tempdir().unwrap();
    let data = examples().join("data");
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:run.db"
[server]
listen = "127.0.0.1:0"
[[sources]]
type = "files"
paths = ["{}"]
batch = 4
"#,
            data.display()
        ),
    )
    .unwrap();
    let run_db = dir.path().join("run.db");
    let run = Running::start(&config, &[]);
    // Every file marked done in the store.
    wait_for("the files to be committed", Duration::from_secs(60), || {
        SqliteStore::open(&run_db)
            .ok()
            .and_then(|s| s.positions().ok())
            .is_some_and(|p| p.len() == 3 && p.values().all(|v| v == "done"))
    });
    // The dashboard's API serves what was applied.
    let agents = run.get_json("/api/agents");
    assert!(agents.to_string().contains("agent_arn"), "{agents}");
    let log = run.stop();
    assert!(log.contains("stopped: "), "{log}");

    let replay_db = dir.path().join("replay.db");
    let out = Command::new(bin())
        .arg("replay")
        .arg(&data)
        .arg("--store")
        .arg(format!("sqlite:{}", replay_db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let dump = |p: &Path| SqliteStore::open(p).unwrap().dump().unwrap();
    assert_eq!(dump(&run_db), dump(&replay_db));

    // Started again, it finds every file done and changes nothing.
    let run = Running::start(&config, &[]);
    wait_for(
        "the files source to finish",
        Duration::from_secs(30),
        || run.log().contains("files source finished"),
    );
    let log = run.stop();
    assert!(log.contains("already_done=3"), "{log}");
    assert_eq!(dump(&run_db), dump(&replay_db));
}

/// Firehose and EventBridge deliver over HTTP to `run`'s listener; each request gets its
/// 200 once its records are committed, and a wrong key is refused.
#[test]
fn run_serves_the_firehose_and_eventbridge_endpoints() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        r#"
[store]
url = "sqlite:sb.db"
[server]
listen = "127.0.0.1:0"
[[sources]]
type = "firehose_http"
path = "/firehose"
access_key_env = "TEST_FIREHOSE_KEY"
[[sources]]
type = "eventbridge_http"
path = "/eventbridge"
key_env = "TEST_EVENTBRIDGE_KEY"
"#,
    )
    .unwrap();
    let env = [
        ("TEST_FIREHOSE_KEY", "fh-secret"),
        ("TEST_EVENTBRIDGE_KEY", "eb-secret"),
    ];
    let run = Running::start(&config, &env);
    let data = examples().join("data");

    let record = fs::read_to_string(data.join("contact-records.ndjson")).unwrap();
    let record = record.lines().next().unwrap();
    let contact_id = serde_json::from_str::<serde_json::Value>(record).unwrap()["ContactId"]
        .as_str()
        .unwrap()
        .to_owned();
    let body = serde_json::json!({
        "requestId": "req-1",
        "timestamp": 1767607200000_i64,
        "records": [{"data": support::base64(record.as_bytes())}],
    })
    .to_string();
    let refused = run.post(
        "/firehose",
        &[("X-Amz-Firehose-Access-Key", "wrong")],
        &body,
    );
    assert_eq!(refused.0, 403, "{}", refused.1);
    let (status, answer) = run.post(
        "/firehose",
        &[
            ("X-Amz-Firehose-Access-Key", "fh-secret"),
            ("X-Amz-Firehose-Request-Id", "req-1"),
        ],
        &body,
    );
    assert_eq!(status, 200, "{answer}");
    assert!(answer.contains("req-1"), "{answer}");

    let event = fs::read_to_string(data.join("contact-events.ndjson")).unwrap();
    let event = event.lines().next().unwrap().to_owned();
    let event_contact = serde_json::from_str::<serde_json::Value>(&event).unwrap()["detail"]
        ["contactId"]
        .as_str()
        .unwrap()
        .to_owned();
    let (status, answer) = run.post("/eventbridge", &[("x-api-key", "eb-secret")], &event);
    assert_eq!(status, 200, "{answer}");

    // Answered 200 means committed: both contacts are in the store already.
    let store = StoreUrl::Sqlite(dir.path().join("sb.db")).open().unwrap();
    for id in [&contact_id, &event_contact] {
        assert!(store.contact(id).unwrap().is_some(), "{id}");
    }
    let contacts = run.get_json("/api/contacts");
    assert!(contacts.to_string().contains(&contact_id), "{contacts}");
    let log = run.stop();
    assert!(
        !log.contains("fh-secret") && !log.contains("eb-secret"),
        "{log}"
    );
}

/// Agent events put into Kinesis by boto3 reach the store through `run`'s Kinesis source,
/// its leases in DynamoDB (moto serves both).
#[test]
fn run_reads_a_kinesis_stream_that_boto3_writes() {
    let moto = support::servers::moto_url();
    let stream = support::unique_name("sb-run-agents");
    let data = examples().join("data").join("agent-events.ndjson");
    support::servers::python(&format!(
        r#"
import boto3, time
k = boto3.client("kinesis", endpoint_url="{moto}", region_name="us-east-1")
k.create_stream(StreamName="{stream}", ShardCount=2)
k.get_waiter("stream_exists").wait(StreamName="{stream}", WaiterConfig={{"Delay": 0.2}})
import json
for line in open("{data}"):
    event = json.loads(line)
    k.put_record(StreamName="{stream}", Data=line.encode(), PartitionKey=event["AgentARN"])
"#,
        data = data.display()
    ));
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
stream = "{stream}"
application = "{stream}-app"
poll_interval_ms = 100
"#
        ),
    )
    .unwrap();
    let want = fs::read_to_string(&data).unwrap().lines().count();
    let run = Running::start(&config, &[]);
    let db = dir.path().join("sb.db");
    let agents = || {
        SqliteStore::open(&db)
            .ok()
            .and_then(|s| s.load().ok())
            .and_then(|l| l.meta)
            .map_or(0, |m| m.counters.agent_events as usize)
    };
    wait_for(
        "every agent event to be committed",
        Duration::from_secs(90),
        || agents() >= want,
    );
    let log = run.stop();
    assert!(log.contains("stopped: "), "{log}");
    let store = SqliteStore::open(&db).unwrap();
    assert!(!store.agents(&AgentFilter::default()).unwrap().is_empty());
    // The lease table the source shares with other workers holds a checkpoint per shard.
    let leases = support::servers::python(&format!(
        r#"
import boto3
d = boto3.client("dynamodb", endpoint_url="{moto}", region_name="us-east-1")
items = d.scan(TableName="{stream}-app")["Items"]
print(len(items), sum(1 for i in items if i.get("checkpoint", {{}}).get("S", "").isdigit()))
"#
    ));
    let counts: Vec<&str> = leases.split_whitespace().collect();
    assert_eq!(counts[0], "2", "one lease per shard\n{log}");
    assert!(counts[1] != "0", "a checkpoint after the commit\n{log}");
}

/// Contact events put on an EventBridge bus reach an SQS queue through a rule (moto),
/// and `run`'s SQS source takes them from there, deleting each message once committed.
#[test]
fn run_reads_contact_events_that_an_eventbridge_rule_sends_to_sqs() {
    let moto = support::servers::moto_url();
    let name = support::unique_name("sb-run-events");
    let data = examples().join("data").join("contact-events.ndjson");
    let queue_url = support::servers::python(&format!(
        r#"
import boto3, json
sqs = boto3.client("sqs", endpoint_url="{moto}", region_name="us-east-1")
events = boto3.client("events", endpoint_url="{moto}", region_name="us-east-1")
url = sqs.create_queue(QueueName="{name}")["QueueUrl"]
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
events.put_rule(Name="{name}", EventPattern=json.dumps({{"source": ["aws.connect"]}}))
events.put_targets(Rule="{name}", Targets=[{{"Id": "q", "Arn": arn}}])
for line in open("{data}"):
    e = json.loads(line)
    events.put_events(Entries=[{{"Source": e["source"], "DetailType": e["detail-type"],
                                  "Detail": json.dumps(e["detail"])}}])
print(url)
"#,
        data = data.display()
    ));
    let queue_url = queue_url.trim().to_owned();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:sb.db"
[server]
enabled = false
[aws]
region = "us-east-1"
endpoint_url = "{moto}"
[[sources]]
type = "sqs"
queue_url = "{queue_url}"
wait_time_secs = 1
"#
        ),
    )
    .unwrap();
    let want = fs::read_to_string(&data).unwrap().lines().count();
    let run = Running::start(&config, &[]);
    let db = dir.path().join("sb.db");
    wait_for(
        "the contact events to be committed",
        Duration::from_secs(60),
        || {
            SqliteStore::open(&db)
                .ok()
                .and_then(|s| s.load().ok())
                .and_then(|l| l.meta)
                .is_some_and(|m| m.counters.contact_events as usize >= want)
        },
    );
    let log = run.stop();
    let store = SqliteStore::open(&db).unwrap();
    assert!(!store
        .contacts(&ContactFilter::default())
        .unwrap()
        .is_empty());
    let left = support::servers::python(&format!(
        r#"
import boto3
sqs = boto3.client("sqs", endpoint_url="{moto}", region_name="us-east-1")
a = sqs.get_queue_attributes(QueueUrl="{queue_url}", AttributeNames=["All"])["Attributes"]
print(int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"]))
"#
    ));
    assert_eq!(
        left.trim(),
        "0",
        "every message deleted after its commit\n{log}"
    );
}

/// A source that cannot start (its stream does not exist) stops `run` with its error.
#[test]
fn a_source_that_cannot_start_stops_run_with_its_error() {
    let moto = support::servers::moto_url();
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    let stream = support::unique_name("sb-no-such-stream");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:sb.db"
[server]
enabled = false
[aws]
region = "us-east-1"
endpoint_url = "{moto}"
[[sources]]
type = "kinesis"
stream = "{stream}"
application = "{stream}-app"
"#
        ),
    )
    .unwrap();
    let out = support::run::with_timeout(
        Command::new(bin()).arg("run").arg("--config").arg(&config),
        Duration::from_secs(60),
    );
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(&stream) && stderr.contains("source failed"),
        "{stderr}"
    );
}

/// Several workers on one PostgreSQL store: one replays agent events, another contact
/// events and records, each with its own `store.worker`; the shared store ends with what
/// one SQLite replay of everything holds.
#[test]
fn two_workers_sharing_a_postgres_store_add_up_to_one_replay() {
    let schema = support::servers::PgSchema::new();
    let dir = tempfile::tempdir().unwrap();
    let data = examples().join("data");
    for (worker, files) in [
        ("agents", vec!["agent-events.ndjson"]),
        // Records first: contact events name a queue by ARN only, and each worker learns
        // queue names from what it reads itself (agent events, contact records).
        (
            "contacts",
            vec!["contact-records.ndjson", "contact-events.ndjson"],
        ),
    ] {
        let paths: Vec<String> = files
            .iter()
            .map(|f| format!("\"{}\"", data.join(f).display()))
            .collect();
        let config = dir.path().join(format!("{worker}.toml"));
        fs::write(
            &config,
            format!(
                r#"
[store]
url = "{url}"
worker = "{worker}"
[server]
enabled = false
[[sources]]
type = "files"
paths = [{paths}]
"#,
                url = schema.url(),
                paths = paths.join(", ")
            ),
        )
        .unwrap();
        let run = Running::start(&config, &[]);
        wait_for(
            "the files source to finish",
            Duration::from_secs(60),
            || run.log().contains("pipeline stopped"),
        );
        run.stop();
    }
    let shared = StoreUrl::Postgres(schema.url()).open().unwrap();

    let replay_db = dir.path().join("replay.db");
    let out = Command::new(bin())
        .arg("replay")
        .arg(&data)
        .arg("--store")
        .arg(format!("sqlite:{}", replay_db.display()))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let single = SqliteStore::open(&replay_db).unwrap();

    // Agents are one worker's; contacts were written by both and merged.
    assert_eq!(
        shared.agents(&AgentFilter::default()).unwrap(),
        single.agents(&AgentFilter::default()).unwrap()
    );
    let contacts = |s: &dyn Store| {
        let mut c = s.contacts(&ContactFilter::default()).unwrap();
        c.sort_by(|a, b| a.contact_id.cmp(&b.contact_id));
        c.into_iter()
            .map(|c| {
                let mut entries: Vec<String> = c
                    .entries
                    .iter()
                    .map(|e| serde_json::to_string(e).unwrap())
                    .collect();
                entries.sort();
                (
                    c.contact_id,
                    c.phase,
                    c.hold_ms,
                    c.acw_ms,
                    c.attributes,
                    entries,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(contacts(shared.as_ref()), contacts(&single));
    let report = |url: &str| {
        let out = Command::new(bin())
            .args([
                "report",
                "--store",
                url,
                "--format",
                "json",
                "--interval",
                "1d",
            ])
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(
        report(&schema.url()),
        report(&format!("sqlite:{}", replay_db.display()))
    );
}
