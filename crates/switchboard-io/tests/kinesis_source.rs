//! The Kinesis source end to end against kinesalite and dynalite: workers share a stream
//! that is split and merged while records are put, one worker leaves and another joins,
//! and a stand-in pipeline (acknowledging in batches, as commits do) checks that every
//! partition key's records arrive complete and in order (replays after a lease moves
//! are allowed: the engine drops them by EventId).

mod kinesis_support;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use kinesis_support::{
    create_stream, delete_stream, dynamo_client, eventually, kinesis_client, merge, open_shards,
    put, servers, split, stream_arn, unique, Servers,
};
use switchboard_io::delivery::{self, Delivery};
use switchboard_io::leases::LeaseTable;
use switchboard_io::sources::kinesis::{self, KinesisConfig, KinesisError, StartPosition};
use switchboard_io::SourceContext;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the stand-in pipeline saw, per partition key: like the engine, a record is
/// applied if it is the next one, a duplicate if already applied, and a *gap* (an order
/// violation: an earlier record would then be lost as stale) if it skips ahead.
#[derive(Default, Debug)]
struct Seen {
    next: HashMap<String, usize>,
    duplicates: usize,
    gaps: Vec<String>,
    by_worker: BTreeMap<String, usize>,
    undecoded: usize,
}

impl Seen {
    fn applied(&self) -> usize {
        self.next.values().sum()
    }
}

fn agent_event(key: &str, i: usize) -> Vec<u8> {
    let second = i % 60;
    let minute = i / 60;
    format!(
        r#"{{"AgentARN":"{key}","EventId":"{key}#{i}","EventType":"HEART_BEAT","EventTimestamp":"2025-01-01T08:{minute:02}:{second:02}.000Z","Version":"2017-10-01"}}"#
    )
    .into_bytes()
}

/// The stand-in pipeline: applies deliveries, acknowledges them every 200 ms.
fn pipeline(seen: Arc<Mutex<Seen>>) -> mpsc::Sender<(String, Delivery)> {
    let (tx, mut rx) = mpsc::channel::<(String, Delivery)>(64);
    tokio::spawn(async move {
        let mut owed = Vec::new();
        let mut commit = tokio::time::interval(Duration::from_millis(200));
        loop {
            tokio::select! {
                got = rx.recv() => {
                    let Some((worker, mut d)) = got else { break };
                    let revoked = d.partition.as_ref().is_some_and(|p| p.is_revoked());
                    if revoked {
                        if let Some(ack) = d.ack.take() {
                            ack.send(Err(delivery::AckError("revoked".into())));
                        }
                        continue;
                    }
                    let mut s = seen.lock().unwrap();
                    *s.by_worker.entry(worker).or_default() += d.items.len();
                    for item in &d.items {
                        let Ok(decoded) = item else {
                            s.undecoded += 1;
                            continue;
                        };
                        let record = decoded.record().unwrap();
                        let (key, i) = record.id().rsplit_once('#').unwrap();
                        let i: usize = i.parse().unwrap();
                        let next = s.next.entry(key.to_string()).or_default();
                        if i < *next {
                            s.duplicates += 1;
                        } else if i == *next {
                            *next += 1;
                        } else {
                            let gap = format!("{key}: got {i}, expected {next}");
                            s.gaps.push(gap);
                        }
                    }
                    drop(s);
                    owed.extend(d.ack.take());
                }
                _ = commit.tick() => {
                    for ack in owed.drain(..) {
                        ack.send(Ok(()));
                    }
                }
            }
        }
    });
    tx
}

struct Worker {
    stop: watch::Sender<bool>,
    task: JoinHandle<Result<(), KinesisError>>,
}

async fn start_worker(
    s: &Servers,
    stream: &str,
    application: &str,
    id: &str,
    sink: mpsc::Sender<(String, Delivery)>,
) -> Worker {
    let (tx, mut rx) = delivery::channel(8);
    let name = id.to_string();
    tokio::spawn(async move {
        while let Some(d) = rx.recv().await {
            if sink.send((name.clone(), d)).await.is_err() {
                break;
            }
        }
    });
    let (stop, stop_rx) = watch::channel(false);
    let mut config = KinesisConfig::new(stream, application);
    config.worker_id = Some(id.into());
    config.lease_duration_secs = 2;
    config.poll_interval_ms = 100;
    config.shard_sync_interval_secs = 1;
    config.start_position = StartPosition::TrimHorizon;
    let (k, d) = (kinesis_client(s).await, dynamo_client(s).await);
    let ctx = SourceContext::new(tx, stop_rx);
    let task = tokio::spawn(kinesis::run_with_clients(k, d, config, ctx));
    Worker { stop, task }
}

impl Worker {
    async fn stop(self) -> Result<(), KinesisError> {
        self.stop.send(true).unwrap();
        tokio::time::timeout(Duration::from_secs(20), self.task)
            .await
            .expect("a worker stops within 20 s")
            .expect("worker task")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_share_a_resharded_stream_in_order() {
    let s = servers();
    let k = kinesis_client(&s).await;
    let stream = unique("agents");
    let application = unique("sb-app");
    create_stream(&k, &stream, 2).await;
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = pipeline(Arc::clone(&seen));

    let a = start_worker(&s, &stream, &application, "worker-a", sink.clone()).await;
    let mut b = Some(start_worker(&s, &stream, &application, "worker-b", sink.clone()).await);

    let keys: Vec<String> = (0..16)
        .map(|i| format!("arn:aws:connect:us-east-1:1:instance/i/agent/{i:02}"))
        .collect();
    let rounds = 120;
    let mut c = None;
    for round in 0..rounds {
        let batch: Vec<(String, Vec<u8>)> = keys
            .iter()
            .map(|key| (key.clone(), agent_event(key, round)))
            .collect();
        put(&k, &stream, &batch).await;
        match round {
            30 => {
                let open = open_shards(&k, &stream).await;
                let (id, start, end) = &open[0];
                split(&k, &stream, id, *start, *end).await;
            }
            50 => {
                // b leaves gracefully half-way through; its shards move to a and c.
                b.take().unwrap().stop().await.unwrap();
            }
            60 => {
                // Two adjacent open shards: the split's upper child and the next one.
                let open = open_shards(&k, &stream).await;
                merge(&k, &stream, &open[1].0, &open[2].0).await;
            }
            _ => {}
        }
        if round == 45 {
            c = Some(start_worker(&s, &stream, &application, "worker-c", sink.clone()).await);
        }
        tokio::time::sleep(Duration::from_millis(40)).await;
    }
    let total = keys.len() * rounds;
    eventually(Duration::from_secs(90), "every record applied", || {
        seen.lock().unwrap().applied() >= total
    })
    .await;
    let c = c.unwrap();
    a.stop().await.unwrap();
    c.stop().await.unwrap();

    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert!(seen.gaps.is_empty(), "order violations: {:?}", seen.gaps);
    assert_eq!(seen.applied(), total);
    assert_eq!(seen.undecoded, 0);
    for w in ["worker-a", "worker-b", "worker-c"] {
        assert!(
            seen.by_worker.get(w).copied().unwrap_or(0) > 0,
            "{w} read nothing: {:?}",
            seen.by_worker
        );
    }
    eprintln!(
        "delivered by worker: {:?}; duplicates (replayed after a lease moved): {}",
        seen.by_worker, seen.duplicates
    );

    // The lease table: parents read to their end, nobody holds anything after shutdown.
    let table = LeaseTable::open(
        dynamo_client(&s).await,
        &application,
        stream_arn(&k, &stream).await,
    )
    .await
    .unwrap();
    let leases = table.list().await.unwrap();
    assert_eq!(
        leases.len(),
        5,
        "2 shards, 2 split children, 1 merge child: {leases:?}"
    );
    let finished = leases.iter().filter(|l| l.is_finished()).count();
    assert_eq!(
        finished, 3,
        "shard 0 (split), its upper child and shard 1 (merged)"
    );
    assert!(leases.iter().all(|l| l.owner.is_none()), "{leases:?}");
    let merged = leases.iter().find(|l| l.parents.len() == 2).unwrap();
    assert!(merged.checkpoint.sequence().is_some(), "{merged:?}");
    delete_stream(&k, &stream).await;
}

#[tokio::test]
async fn a_worker_refuses_a_table_that_belongs_to_another_stream() {
    let s = servers();
    let k = kinesis_client(&s).await;
    let (first, second) = (unique("first"), unique("second"));
    create_stream(&k, &first, 1).await;
    create_stream(&k, &second, 1).await;
    let application = unique("sb-shared");
    let seen = Arc::new(Mutex::new(Seen::default()));
    let sink = pipeline(Arc::clone(&seen));
    put(&k, &first, &[("k".into(), agent_event("k", 0))]).await;
    let w = start_worker(&s, &first, &application, "w1", sink.clone()).await;
    eventually(Duration::from_secs(30), "the first stream read", || {
        seen.lock().unwrap().applied() == 1
    })
    .await;
    w.stop().await.unwrap();

    let w = start_worker(&s, &second, &application, "w2", sink).await;
    let err = tokio::time::timeout(Duration::from_secs(30), w.task)
        .await
        .expect("refused at once")
        .unwrap()
        .unwrap_err();
    let message = err.to_string();
    assert!(
        message.contains(&first) && message.contains(&second),
        "{message}"
    );
    delete_stream(&k, &first).await;
    delete_stream(&k, &second).await;
}
