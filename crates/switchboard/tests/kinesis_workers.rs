//! Two `switchboard run` workers share a Kinesis stream (kinesalite) through a lease table
//! (dynalite) and one PostgreSQL store, while boto3 puts simulator output into it the way
//! Connect does (partition key: the agent ARN for agent events, the contact id for
//! contact records). Half-way, one worker is killed with SIGKILL and started again; the
//! stream is split, then merged, while they read. At the end the store must hold exactly
//! what one uninterrupted `switchboard replay` of the same records leaves: every agent's
//! state, every agent's transitions in order (an event applied twice, skipped, or applied
//! out of order would change them), the contact records and the interval metrics.
//!
//! Needs PostgreSQL (`SWITCHBOARD_TEST_PG_URL`), kinesalite and dynalite
//! (`SWITCHBOARD_TEST_KINESALITE_URL`, `SWITCHBOARD_TEST_DYNALITE_URL`, or started from
//! `.tools/servers`) and Python with boto3 (`SWITCHBOARD_TEST_PYTHON`, or `.tools/venv`):
//! `bash scripts/test.sh` provides them all.

mod support;

use std::collections::BTreeMap;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::str::FromStr;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use support::run::{bin, Running};
use support::servers::{python, PgSchema};
use support::unique_name;
use switchboard_engine::Interval;
use switchboard_io::leases::LeaseTable;
use switchboard_io::sources::kinesis::producer::{local_clients, LocalServer};
use switchboard_io::sources::kinesis::SdkKinesis;
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::{AgentFilter, MetricQuery, Store, StoreUrl, TransitionFilter};

fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn env(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// Kinesalite and dynalite: from the environment, or started for this test process.
fn servers() -> (String, String) {
    static SERVERS: OnceLock<(String, String)> = OnceLock::new();
    static KEPT: Mutex<Vec<LocalServer>> = Mutex::new(Vec::new());
    SERVERS
        .get_or_init(|| {
            let start = |module: &str, options: &str| {
                let tools = workspace().join(".tools/servers/node_modules");
                let server =
                    LocalServer::start(&tools, module, options).unwrap_or_else(|e| panic!("{e}"));
                let url = server.url.clone();
                KEPT.lock().unwrap().push(server);
                url
            };
            let kinesis = env("SWITCHBOARD_TEST_KINESALITE_URL")
                .unwrap_or_else(|| start("kinesalite", r#"{"shardLimit": 1000}"#));
            let dynamo =
                env("SWITCHBOARD_TEST_DYNALITE_URL").unwrap_or_else(|| start("dynalite", "{}"));
            (kinesis, dynamo)
        })
        .clone()
}

/// boto3 as Connect's producer, and as the operator who reshards.
const PRODUCER: &str = r#"
import json, sys, time
import boto3

k = boto3.client("kinesis", endpoint_url=endpoint, region_name="us-east-1",
                 aws_access_key_id="test", aws_secret_access_key="test")

def active():
    k.get_waiter("stream_exists").wait(StreamName=stream, WaiterConfig={"Delay": 0.2, "MaxAttempts": 300})

def open_shards():
    shards = k.list_shards(StreamName=stream)["Shards"]
    shards = [s for s in shards if "EndingSequenceNumber" not in s["SequenceNumberRange"]]
    return sorted(shards, key=lambda s: int(s["HashKeyRange"]["StartingHashKey"]))

if command == "create":
    k.create_stream(StreamName=stream, ShardCount=int(args[0]))
    active()
elif command == "put":
    path, start, end, batch, pause = args[0], int(args[1]), int(args[2]), int(args[3]), float(args[4])
    with open(path) as f:
        lines = f.read().splitlines()[start:end]
    for i in range(0, len(lines), batch):
        entries = []
        for line in lines[i:i + batch]:
            record = json.loads(line)
            key = record.get("AgentARN") or record["ContactId"]
            entries.append({"Data": line.encode(), "PartitionKey": key})
        out = k.put_records(StreamName=stream, Records=entries)
        assert out.get("FailedRecordCount", 0) == 0, out
        time.sleep(pause)
elif command == "split":
    s = open_shards()[0]
    lo, hi = int(s["HashKeyRange"]["StartingHashKey"]), int(s["HashKeyRange"]["EndingHashKey"])
    k.split_shard(StreamName=stream, ShardToSplit=s["ShardId"], NewStartingHashKey=str((lo + hi) // 2 + 1))
    active()
elif command == "merge":
    s = open_shards()
    pair = next((a, b) for a, b in zip(s, s[1:])
                if int(a["HashKeyRange"]["EndingHashKey"]) + 1 == int(b["HashKeyRange"]["StartingHashKey"]))
    k.merge_shards(StreamName=stream, ShardToMerge=pair[0]["ShardId"], AdjacentShardToMerge=pair[1]["ShardId"])
    active()
elif command == "delete":
    k.delete_stream(StreamName=stream)
print(json.dumps([s["ShardId"] for s in open_shards()]) if command != "delete" else "[]")
"#;

/// Runs the producer script with `command` and its arguments (after the endpoint and the
/// stream); returns the open shards it prints.
fn producer(kinesis: &str, stream: &str, command: &[&str]) -> String {
    let (command, args) = command.split_first().unwrap();
    let prelude = format!(
        "endpoint, stream, command, args = {}, {}, {}, {}\n",
        serde_json::to_string(kinesis).unwrap(),
        serde_json::to_string(stream).unwrap(),
        serde_json::to_string(command).unwrap(),
        serde_json::to_string(args).unwrap()
    );
    python(&(prelude + PRODUCER)).trim().to_string()
}

/// One `switchboard run` worker: its config, and the process while it runs.
struct Worker {
    name: &'static str,
    config: PathBuf,
    running: Option<Running>,
    /// The logs of its earlier processes.
    log: String,
}

const CREDENTIALS: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "test"),
    ("AWS_SECRET_ACCESS_KEY", "test"),
    ("AWS_REGION", "us-east-1"),
];

impl Worker {
    fn start(&mut self) {
        self.running = Some(Running::start(&self.config, CREDENTIALS));
    }

    /// SIGKILL: no checkpoint, no release, no last commit.
    fn kill(&mut self) {
        let running = self.running.take().unwrap();
        self.log.push_str(&running.log());
        drop(running);
    }

    /// SIGTERM, and a clean exit.
    fn stop(&mut self) {
        let log = self.running.take().unwrap().stop();
        self.log.push_str(&log);
    }

    fn log_text(&self) -> String {
        let text = self.log.clone() + &self.running.as_ref().map(Running::log).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(60).collect();
        tail.into_iter().rev().collect::<Vec<_>>().join("\n")
    }
}

fn write_config(
    path: &Path,
    store: &str,
    worker: &str,
    kinesis: &str,
    dynamo: &str,
    stream: &str,
    application: &str,
) {
    let text = format!(
        r#"[store]
url = "{store}"
worker = "{worker}"

# The simulated day is in the past, and `run` ages history by the wall clock: keep it all.
[store.retention]
transitions_days = 0
contacts_days = 0
triggers_days = 0
alerts_days = 0
metric_cells_days = 0

[server]
enabled = false

[pipeline]
commit_interval_ms = 250
shutdown_timeout_secs = 30

[aws]
region = "us-east-1"
endpoint_url = "{kinesis}"

[[sources]]
type = "kinesis"
stream = "{stream}"
application = "{application}"
lease_duration_secs = 3
poll_interval_ms = 200
shard_sync_interval_secs = 2
dynamodb_endpoint_url = "{dynamo}"
"#
    );
    fs::write(path, text).unwrap();
}

/// What the comparison looks at, as JSON so a difference prints readably.
#[derive(Debug, PartialEq)]
struct Contents {
    agents: BTreeMap<String, serde_json::Value>,
    /// Per agent, its transitions in the order they were stored.
    transitions: BTreeMap<String, Vec<serde_json::Value>>,
    records: BTreeMap<String, serde_json::Value>,
    metrics: Vec<serde_json::Value>,
}

fn contents(store: &dyn Store) -> Contents {
    let agents: BTreeMap<String, serde_json::Value> = store
        .agents(&AgentFilter::default())
        .unwrap()
        .into_iter()
        .map(|a| (a.agent_arn.clone(), serde_json::to_value(&a).unwrap()))
        .collect();
    let mut transitions: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for row in store.transitions(&TransitionFilter::default()).unwrap() {
        transitions
            .entry(row.transition.agent_arn.clone())
            .or_default()
            .push(serde_json::to_value(&row.transition).unwrap());
    }
    let mut records = BTreeMap::new();
    for c in store.contacts(&Default::default()).unwrap() {
        if let Some(detail) = store.contact(&c.contact_id).unwrap() {
            if let Some(r) = detail.record {
                records.insert(c.contact_id.clone(), serde_json::to_value(&r).unwrap());
            }
        }
    }
    let mut metrics: Vec<serde_json::Value> = store
        .metrics(&MetricQuery::new(Interval::Min15))
        .unwrap()
        .into_iter()
        .map(|m| serde_json::to_value(&m).unwrap())
        .collect();
    metrics.sort_by_key(|m| m.to_string());
    Contents {
        agents,
        transitions,
        records,
        metrics,
    }
}

/// The first difference, for the failure message.
fn first_difference(got: &Contents, want: &Contents) -> String {
    for (arn, w) in &want.agents {
        if got.agents.get(arn) != Some(w) {
            return format!("agent {arn}:\n got {:?}\nwant {w}", got.agents.get(arn));
        }
    }
    for (arn, w) in &want.transitions {
        let g = got.transitions.get(arn).cloned().unwrap_or_default();
        if &g != w {
            let at = g
                .iter()
                .zip(w)
                .position(|(a, b)| a != b)
                .unwrap_or(g.len().min(w.len()));
            return format!(
                "transitions of {arn}: {} stored, {} expected; first difference at {at}:\n got {:?}\nwant {:?}",
                g.len(),
                w.len(),
                g.get(at),
                w.get(at)
            );
        }
    }
    if got.records != want.records {
        return format!(
            "contact records: {} stored, {} expected",
            got.records.len(),
            want.records.len()
        );
    }
    let missing: Vec<&serde_json::Value> = want
        .metrics
        .iter()
        .filter(|m| !got.metrics.contains(m))
        .collect();
    let extra: Vec<&serde_json::Value> = got
        .metrics
        .iter()
        .filter(|m| !want.metrics.contains(m))
        .collect();
    format!(
        "metric rows: {} stored, {} expected; expected but not stored: {missing:#?}\nstored but not expected: {extra:#?}",
        got.metrics.len(),
        want.metrics.len()
    )
}

#[test]
fn two_workers_one_killed_while_the_stream_is_split_and_merged() {
    let (kinesis, dynamo) = servers();
    let dir = tempfile::tempdir().unwrap();

    // Simulator output, in delivery order: agent events and contact records (Connect's
    // two Kinesis streams, here in one).
    let mut sim = SimConfig::new(40);
    sim.seed = 7;
    sim.start = switchboard_model::Timestamp::parse("2026-01-05T09:00:00Z").unwrap();
    sim.duration_secs = 3600;
    let corpus = dir.path().join("kinesis.ndjson");
    let mut out = fs::File::create(&corpus).unwrap();
    let mut lines = 0usize;
    for e in Simulator::new(sim).unwrap() {
        if e.kind() == switchboard_model::RecordKind::ContactEvent {
            continue;
        }
        serde_json::to_writer(&mut out, &e.record).unwrap();
        out.write_all(b"\n").unwrap();
        lines += 1;
    }
    drop(out);
    assert!(lines > 1000, "a corpus worth sharing: {lines} records");

    // The reference: one uninterrupted replay.
    let reference_db = dir.path().join("reference.db");
    let status = Command::new(bin())
        .arg("replay")
        .arg(&corpus)
        .arg("--store")
        .arg(format!("sqlite:{}", reference_db.display()))
        .stdout(Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let want = contents(&switchboard_store::SqliteStore::open(&reference_db).unwrap());
    assert!(want.agents.len() >= 20 && !want.records.is_empty() && !want.metrics.is_empty());

    let schema = PgSchema::new();
    let stream = unique_name("agents");
    let application = unique_name("switchboard-test");
    producer(&kinesis, &stream, &["create", "2"]);
    let mut workers: Vec<Worker> = ["w1", "w2"]
        .into_iter()
        .map(|name| {
            let config = dir.path().join(format!("{name}.toml"));
            write_config(
                &config,
                &schema.url(),
                name,
                &kinesis,
                &dynamo,
                &stream,
                &application,
            );
            Worker {
                name,
                config,
                running: None,
                log: String::new(),
            }
        })
        .collect();
    workers[0].start();
    workers[1].start();

    let corpus_arg = corpus.display().to_string();
    let at = |fraction: f64| ((lines as f64) * fraction) as usize;
    let put = |from: usize, to: usize| {
        producer(
            &kinesis,
            &stream,
            &[
                "put",
                &corpus_arg,
                &from.to_string(),
                &to.to_string(),
                "25",
                "0.2",
            ],
        );
    };
    put(0, at(0.25));
    let shards = producer(&kinesis, &stream, &["split"]);
    assert_eq!(shards.matches("shardId").count(), 3, "{shards}");
    put(at(0.25), at(0.45));
    workers[0].kill();
    put(at(0.45), at(0.55));
    workers[0].start();
    put(at(0.55), at(0.7));
    let shards = producer(&kinesis, &stream, &["merge"]);
    assert_eq!(shards.matches("shardId").count(), 2, "{shards}");
    put(at(0.7), lines);

    // Wait until the store holds every agent's last event.
    let store = StoreUrl::from_str(&schema.url())
        .unwrap()
        .open_as("checker")
        .unwrap();
    let started = Instant::now();
    loop {
        let got = contents(&*store);
        if got.agents == want.agents {
            break;
        }
        if started.elapsed() > Duration::from_secs(180) {
            panic!(
                "the workers did not catch up in 180 s: {}\n--- w1:\n{}\n--- w2:\n{}",
                first_difference(&got, &want),
                workers[0].log_text(),
                workers[1].log_text()
            );
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    for w in &mut workers {
        w.stop();
    }

    let got = contents(&*store);
    assert!(
        got == want,
        "the shared store differs from one uninterrupted replay: {}\n--- w1:\n{}\n--- w2:\n{}",
        first_difference(&got, &want),
        workers[0].log_text(),
        workers[1].log_text()
    );

    // Both workers read, the restarted one took shards back, and the lease table ends
    // with every lease released and the three closed shards read to their end.
    for w in &workers {
        let log = &w.log;
        assert!(
            log.contains("reading shard"),
            "{} read nothing:\n{log}",
            w.name
        );
        if std::env::var_os("KIN_DEBUG").is_some() {
            eprintln!("--- {}:\n{log}", w.name);
        }
    }
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let leases = runtime.block_on(async {
        let (k, d) = local_clients(&kinesis, &dynamo).await;
        let arn = SdkKinesis::new(k, &stream, None)
            .describe()
            .await
            .unwrap()
            .arn;
        LeaseTable::open(d, &application, arn)
            .await
            .unwrap()
            .list()
            .await
            .unwrap()
    });
    assert_eq!(leases.len(), 5, "{leases:?}");
    assert_eq!(
        leases.iter().filter(|l| l.is_finished()).count(),
        3,
        "{leases:?}"
    );
    assert!(leases.iter().all(|l| l.owner.is_none()), "{leases:?}");
    producer(&kinesis, &stream, &["delete"]);
}
