//! What the Kinesis source's integration tests share: kinesalite and dynalite (the
//! servers scripts/servers.sh starts and names in `SWITCHBOARD_TEST_KINESALITE_URL` and
//! `SWITCHBOARD_TEST_DYNALITE_URL`, or, without them, our own from
//! `.tools/servers/node_modules`, which exit with the test process), SDK clients for them,
//! and streams to put records into, split and merge.

#![allow(dead_code)]

use std::path::PathBuf;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use switchboard_io::sources::kinesis::producer::{local_clients, LocalServer, Producer};
use switchboard_io::sources::kinesis::SdkKinesis;

/// Base URLs of kinesalite and dynalite.
#[derive(Debug, Clone)]
pub struct Servers {
    pub kinesis: String,
    pub dynamo: String,
}

pub fn workspace() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Starts kinesalite or dynalite from `.tools/servers/node_modules`; kept for the whole
/// test process (it exits with it).
fn spawn_node(module: &str, options: &str) -> String {
    static KEPT: Mutex<Vec<LocalServer>> = Mutex::new(Vec::new());
    let server = LocalServer::start(
        &workspace().join(".tools/servers/node_modules"),
        module,
        options,
    )
    .unwrap_or_else(|e| {
        panic!("{e} (or set SWITCHBOARD_TEST_KINESALITE_URL and SWITCHBOARD_TEST_DYNALITE_URL)")
    });
    let url = server.url.clone();
    KEPT.lock().unwrap_or_else(|e| e.into_inner()).push(server);
    url
}

/// The servers, started once per test process when the environment names none.
pub fn servers() -> Servers {
    static SERVERS: OnceLock<Servers> = OnceLock::new();
    SERVERS
        .get_or_init(|| {
            let env = |name| std::env::var(name).ok().filter(|v: &String| !v.is_empty());
            Servers {
                kinesis: env("SWITCHBOARD_TEST_KINESALITE_URL")
                    .unwrap_or_else(|| spawn_node("kinesalite", r#"{"shardLimit": 1000}"#)),
                dynamo: env("SWITCHBOARD_TEST_DYNALITE_URL")
                    .unwrap_or_else(|| spawn_node("dynalite", "{}")),
            }
        })
        .clone()
}

/// A name no other test (or earlier run against the same servers) uses.
pub fn unique(prefix: &str) -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("{prefix}-{}-{nanos:09}", std::process::id())
}

pub async fn kinesis_client(s: &Servers) -> aws_sdk_kinesis::Client {
    local_clients(&s.kinesis, &s.dynamo).await.0
}

pub async fn dynamo_client(s: &Servers) -> aws_sdk_dynamodb::Client {
    local_clients(&s.kinesis, &s.dynamo).await.1
}

fn producer(k: &aws_sdk_kinesis::Client, stream: &str) -> Producer {
    Producer::new(k.clone(), stream)
}

/// Waits until the stream is ACTIVE (kinesalite takes half a second after a change).
pub async fn wait_active(k: &aws_sdk_kinesis::Client, stream: &str) {
    producer(k, stream)
        .wait_active(Duration::from_secs(30))
        .await
        .expect("stream ACTIVE");
}

pub async fn create_stream(k: &aws_sdk_kinesis::Client, stream: &str, shards: i32) {
    producer(k, stream)
        .create(shards)
        .await
        .expect("CreateStream");
}

/// Deletes a stream (kinesalite counts every open shard against one account limit).
pub async fn delete_stream(k: &aws_sdk_kinesis::Client, stream: &str) {
    producer(k, stream).delete().await;
}

/// Puts `(partition key, data)` records in order.
pub async fn put(k: &aws_sdk_kinesis::Client, stream: &str, records: &[(String, Vec<u8>)]) {
    producer(k, stream).put(records).await.expect("PutRecords");
}

/// The stream's ARN.
pub async fn stream_arn(k: &aws_sdk_kinesis::Client, stream: &str) -> String {
    SdkKinesis::new(k.clone(), stream, None)
        .describe()
        .await
        .expect("DescribeStreamSummary")
        .arn
}

/// The open shards, by starting hash key: `(id, starting hash key, ending hash key)`.
pub async fn open_shards(k: &aws_sdk_kinesis::Client, stream: &str) -> Vec<(String, u128, u128)> {
    let out = k
        .list_shards()
        .stream_name(stream)
        .send()
        .await
        .expect("ListShards");
    let mut open: Vec<(String, u128, u128)> = out
        .shards()
        .iter()
        .filter(|s| {
            s.sequence_number_range()
                .and_then(|r| r.ending_sequence_number())
                .is_none()
        })
        .map(|s| {
            let r = s.hash_key_range().expect("hash key range");
            (
                s.shard_id().to_string(),
                r.starting_hash_key().parse().expect("start"),
                r.ending_hash_key().parse().expect("end"),
            )
        })
        .collect();
    open.sort_by_key(|s| s.1);
    open
}

/// Splits an open shard in the middle of its hash range.
pub async fn split(k: &aws_sdk_kinesis::Client, stream: &str, shard: &str, start: u128, end: u128) {
    let middle = start + (end - start) / 2 + 1;
    k.split_shard()
        .stream_name(stream)
        .shard_to_split(shard)
        .new_starting_hash_key(middle.to_string())
        .send()
        .await
        .expect("SplitShard");
    wait_active(k, stream).await;
}

/// Merges two adjacent open shards.
pub async fn merge(k: &aws_sdk_kinesis::Client, stream: &str, a: &str, b: &str) {
    k.merge_shards()
        .stream_name(stream)
        .shard_to_merge(a)
        .adjacent_shard_to_merge(b)
        .send()
        .await
        .expect("MergeShards");
    wait_active(k, stream).await;
}

/// Waits (up to `limit`) until `done`, polling every 50 ms.
pub async fn eventually(limit: Duration, what: &str, mut done: impl FnMut() -> bool) {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
