//! The shard task against a scripted shard and a recording lease, in paused time.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use switchboard_model::decode::Decoder;
use switchboard_model::SequenceNumber;
use tokio::sync::watch;

use super::*;
use crate::delivery::{self, AckError, DeliveryReceiver, Partition};
use crate::leases::{Checkpoint, LeaseError, Renewal};
use crate::sources::kinesis::api::{ApiError, KinesisApi, Page, RawRecord, ShardInfo, StartAt};

/// A shard of `records`; `script` holds errors to return instead of the next calls.
#[derive(Default)]
struct FakeShard {
    records: Vec<RawRecord>,
    closed: bool,
    page_size: usize,
    script: Mutex<VecDeque<ApiError>>,
    iterators: Mutex<Vec<StartAt>>,
    get_calls: Mutex<u32>,
    /// Serve the record at this index twice (a server repeating itself).
    repeat_at: Option<usize>,
}

impl FakeShard {
    fn new(records: Vec<RawRecord>, closed: bool) -> Self {
        Self {
            records,
            closed,
            page_size: 2,
            ..Self::default()
        }
    }

    fn position_after(&self, start: &StartAt) -> usize {
        match start {
            StartAt::TrimHorizon | StartAt::AtTimestamp(_) => 0,
            StartAt::Latest => self.records.len(),
            StartAt::After(seq) => self
                .records
                .iter()
                .position(|r| SequenceNumber::new(r.sequence.as_str()).unwrap() > *seq)
                .unwrap_or(self.records.len()),
        }
    }
}

impl KinesisApi for FakeShard {
    async fn list_shards(&self) -> Result<Vec<ShardInfo>, ApiError> {
        Ok(Vec::new())
    }

    async fn shard_iterator(&self, _shard: &str, start: &StartAt) -> Result<String, ApiError> {
        self.iterators.lock().unwrap().push(start.clone());
        Ok(self.position_after(start).to_string())
    }

    async fn get_records(&self, iterator: &str, limit: u32) -> Result<Page, ApiError> {
        *self.get_calls.lock().unwrap() += 1;
        if let Some(e) = self.script.lock().unwrap().pop_front() {
            return Err(e);
        }
        let mut at: usize = iterator.parse().unwrap();
        if let Some(r) = self.repeat_at.filter(|r| *r == at && at > 0) {
            at = r - 1;
        }
        let end = (at + self.page_size.min(limit as usize)).min(self.records.len());
        let next = if end == self.records.len() && self.closed {
            None
        } else {
            Some(end.to_string())
        };
        Ok(Page {
            records: self.records[at..end].to_vec(),
            next_iterator: next,
            millis_behind: Some(0),
            children: if end == self.records.len() && self.closed {
                vec!["shardId-000000000009".into()]
            } else {
                Vec::new()
            },
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Call {
    Checkpoint(String, Vec<String>),
    FinishHandoff(Option<String>),
    Release,
}

#[derive(Default)]
struct FakeLease {
    calls: Mutex<Vec<Call>>,
    verdict: Mutex<Option<Renewal>>,
}

impl FakeLease {
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl ShardLease for FakeLease {
    async fn checkpoint(
        &self,
        checkpoint: &Checkpoint,
        children: &[String],
    ) -> Result<Renewal, LeaseError> {
        if let Some(v) = *self.verdict.lock().unwrap() {
            return Ok(v);
        }
        self.calls
            .lock()
            .unwrap()
            .push(Call::Checkpoint(checkpoint.to_string(), children.to_vec()));
        Ok(Renewal::Renewed)
    }

    async fn finish_handoff(&self, checkpoint: Option<&Checkpoint>) -> Result<bool, LeaseError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::FinishHandoff(checkpoint.map(|c| c.to_string())));
        Ok(true)
    }

    async fn release(&self) -> Result<bool, LeaseError> {
        self.calls.lock().unwrap().push(Call::Release);
        Ok(true)
    }
}

/// `n` agent events of agent `a`, sequence numbers crossing a digit boundary (9, 10...)
/// so that comparing them as strings would go wrong.
fn records(n: usize) -> Vec<RawRecord> {
    (0..n)
        .map(|i| RawRecord {
            sequence: (8 + i).to_string(),
            partition_key: "arn:aws:connect:us-east-1:1:instance/i/agent/a".into(),
            data: format!(
                r#"{{"AgentARN":"arn:aws:connect:us-east-1:1:instance/i/agent/a","EventId":"e{i}","EventType":"HEART_BEAT","EventTimestamp":"2025-01-01T08:00:{i:02}.000Z","InstanceARN":"arn:aws:connect:us-east-1:1:instance/i","Version":"2017-10-01"}}"#
            )
            .into_bytes(),
        })
        .collect()
}

struct Harness {
    shard: Arc<FakeShard>,
    lease: Arc<FakeLease>,
    control: watch::Sender<Control>,
    deliveries: DeliveryReceiver,
    partition: Partition,
    task: tokio::task::JoinHandle<Result<Outcome, KinesisError>>,
}

fn start(shard: FakeShard, from: Checkpoint) -> Harness {
    let shard = Arc::new(shard);
    let lease = Arc::new(FakeLease::default());
    let (control, control_rx) = watch::channel(Control::Run);
    let (tx, deliveries) = delivery::channel(64);
    let partition = Partition::new("kinesis:s/shardId-000000000000", 1);
    let consumer = ShardConsumer {
        api: Arc::clone(&shard),
        lease: Arc::clone(&lease),
        stream: "s".into(),
        shard: "shardId-000000000000".into(),
        start: from,
        settings: ConsumerSettings {
            poll_interval: Duration::from_millis(100),
            limit: 100,
            checkpoint_every: Duration::from_millis(1),
            max_in_flight: 4,
            drain_timeout: Duration::from_secs(3),
            backoff_base: Duration::from_millis(100),
            backoff_max: Duration::from_secs(2),
            at_timestamp: None,
        },
        deliveries: tx,
        control: control_rx,
        partition: partition.clone(),
        decoder: Decoder::default(),
    };
    Harness {
        shard,
        lease,
        control,
        deliveries,
        partition,
        task: tokio::spawn(consumer.run()),
    }
}

/// The event ids and sequence numbers of a delivery.
fn ids(d: &Delivery) -> Vec<(String, String)> {
    d.items
        .iter()
        .map(|i| {
            let d = i.as_ref().unwrap();
            (
                d.record().unwrap().id().to_string(),
                d.source.sequence_number.clone().unwrap(),
            )
        })
        .collect()
}

fn ack(d: Delivery, outcome: Result<(), AckError>) {
    d.ack.unwrap().send(outcome);
}

#[tokio::test(start_paused = true)]
async fn reads_a_closed_shard_to_its_end_and_checkpoints_shard_end() {
    let mut h = start(FakeShard::new(records(5), true), Checkpoint::TrimHorizon);
    let mut seen = Vec::new();
    while seen.len() < 5 {
        let d = h.deliveries.recv().await.unwrap();
        assert_eq!(d.source, "kinesis:s/shardId-000000000000");
        assert_eq!(d.partition.as_ref().unwrap().epoch, 1);
        let first = d.items[0].as_ref().unwrap();
        assert_eq!(
            first.source.shard_id.as_deref(),
            Some("shardId-000000000000")
        );
        assert!(first
            .source
            .partition_key
            .as_deref()
            .unwrap()
            .ends_with("agent/a"));
        seen.extend(ids(&d));
        ack(d, Ok(()));
    }
    let outcome = h.task.await.unwrap().unwrap();
    assert_eq!(outcome, Outcome::Ended);
    let expected: Vec<(String, String)> = (0..5)
        .map(|i| (format!("e{i}"), (8 + i).to_string()))
        .collect();
    assert_eq!(seen, expected);
    let calls = h.lease.calls();
    assert_eq!(
        calls.last().unwrap(),
        &Call::Release,
        "a finished lease is given up: {calls:?}"
    );
    assert!(calls.contains(&Call::Checkpoint(
        "SHARD_END".into(),
        vec!["shardId-000000000009".into()]
    )));
    // Checkpoints only move forward, in big-integer order.
    let seqs: Vec<SequenceNumber> = calls
        .iter()
        .filter_map(|c| match c {
            Call::Checkpoint(s, _) => SequenceNumber::new(s.as_str()),
            _ => None,
        })
        .collect();
    assert!(seqs.windows(2).all(|w| w[0] < w[1]), "{seqs:?}");
}

#[tokio::test(start_paused = true)]
async fn checkpoints_only_what_the_pipeline_acknowledged_in_order() {
    let mut h = start(FakeShard::new(records(6), false), Checkpoint::TrimHorizon);
    let d1 = h.deliveries.recv().await.unwrap();
    let d2 = h.deliveries.recv().await.unwrap();
    let d3 = h.deliveries.recv().await.unwrap();
    // The third is stored before the first two.
    ack(d3, Ok(()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert!(h.lease.calls().is_empty(), "{:?}", h.lease.calls());
    ack(d1, Ok(()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(h.lease.calls(), vec![Call::Checkpoint("9".into(), vec![])]);
    ack(d2, Ok(()));
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(
        h.lease.calls().last().unwrap(),
        &Call::Checkpoint("13".into(), vec![])
    );
    h.control.send(Control::Stop).unwrap();
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::Released);
    assert_eq!(h.lease.calls().last().unwrap(), &Call::Release);
}

#[tokio::test(start_paused = true)]
async fn a_failed_delivery_is_read_again_from_the_last_stored_record() {
    let mut h = start(FakeShard::new(records(4), true), Checkpoint::TrimHorizon);
    let d1 = h.deliveries.recv().await.unwrap();
    ack(d1, Ok(()));
    let d2 = h.deliveries.recv().await.unwrap();
    assert_eq!(ids(&d2)[0].0, "e2");
    ack(d2, Err(AckError("disk full".into())));
    let again = h.deliveries.recv().await.unwrap();
    assert_eq!(ids(&again)[0].0, "e2", "read again from after e1");
    ack(again, Ok(()));
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::Ended);
    let starts = h.shard.iterators.lock().unwrap().clone();
    assert_eq!(
        starts,
        vec![
            StartAt::TrimHorizon,
            StartAt::After(SequenceNumber::new("9").unwrap())
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn throttling_backs_off_and_an_expired_iterator_resumes_after_the_last_record() {
    let shard = FakeShard::new(records(4), true);
    let mut h = start(
        shard,
        Checkpoint::Sequence(SequenceNumber::new("7").unwrap()),
    );
    let d1 = h.deliveries.recv().await.unwrap();
    assert_eq!(ids(&d1)[0].0, "e0");
    {
        let mut script = h.shard.script.lock().unwrap();
        script.push_back(ApiError::Throttled(
            "ProvisionedThroughputExceededException".into(),
        ));
        script.push_back(ApiError::Throttled(
            "ProvisionedThroughputExceededException".into(),
        ));
        script.push_back(ApiError::ExpiredIterator);
    }
    ack(d1, Ok(()));
    let d2 = h.deliveries.recv().await.unwrap();
    assert_eq!(ids(&d2)[0].0, "e2", "nothing skipped, nothing repeated");
    ack(d2, Ok(()));
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::Ended);
    let starts = h.shard.iterators.lock().unwrap().clone();
    assert_eq!(
        starts,
        vec![
            StartAt::After(SequenceNumber::new("7").unwrap()),
            StartAt::After(SequenceNumber::new("9").unwrap())
        ]
    );
    // One page, two throttled calls, one expired iterator, the last page.
    assert_eq!(*h.shard.get_calls.lock().unwrap(), 5);
}

#[tokio::test(start_paused = true)]
async fn records_a_server_repeats_are_not_delivered_twice() {
    let mut shard = FakeShard::new(records(4), true);
    shard.repeat_at = Some(2);
    let mut h = start(shard, Checkpoint::TrimHorizon);
    let mut seen = Vec::new();
    while seen.len() < 4 {
        let d = h.deliveries.recv().await.unwrap();
        seen.extend(ids(&d).into_iter().map(|(id, _)| id));
        ack(d, Ok(()));
    }
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::Ended);
    assert_eq!(seen, ["e0", "e1", "e2", "e3"]);
}

#[tokio::test(start_paused = true)]
async fn hands_over_after_the_pipeline_stored_what_it_was_given() {
    let mut h = start(FakeShard::new(records(6), false), Checkpoint::TrimHorizon);
    let d1 = h.deliveries.recv().await.unwrap();
    let d2 = h.deliveries.recv().await.unwrap();
    h.control.send(Control::HandOff).unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    ack(d1, Ok(()));
    ack(d2, Ok(()));
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::HandedOff);
    assert_eq!(
        h.lease.calls().last().unwrap(),
        &Call::FinishHandoff(Some("11".into()))
    );
    assert!(!h.partition.is_revoked());
    // Nothing was read after the handoff began (beyond what was in flight).
    while let Ok(d) = h.deliveries.try_recv() {
        ack(d, Ok(()));
    }
}

#[tokio::test(start_paused = true)]
async fn a_handoff_that_waits_too_long_revokes_what_was_not_stored() {
    let mut h = start(FakeShard::new(records(4), false), Checkpoint::TrimHorizon);
    let d1 = h.deliveries.recv().await.unwrap();
    ack(d1, Ok(()));
    let _d2 = h.deliveries.recv().await.unwrap();
    h.control.send(Control::HandOff).unwrap();
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::HandedOff);
    assert!(h.partition.is_revoked());
    // e0 and e1 were checkpointed before; the handoff adds nothing to that.
    assert_eq!(
        h.lease.calls(),
        vec![
            Call::Checkpoint("9".into(), vec![]),
            Call::FinishHandoff(None)
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_lost_lease_stops_at_once_without_writing() {
    let mut h = start(FakeShard::new(records(4), false), Checkpoint::TrimHorizon);
    let _d1 = h.deliveries.recv().await.unwrap();
    h.control.send(Control::Revoke).unwrap();
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::Revoked);
    assert!(h.partition.is_revoked());
    assert!(h.lease.calls().is_empty());
}

#[tokio::test(start_paused = true)]
async fn a_checkpoint_that_finds_the_lease_stolen_hands_over() {
    let mut h = start(FakeShard::new(records(4), false), Checkpoint::TrimHorizon);
    *h.lease.verdict.lock().unwrap() = Some(Renewal::HandOff);
    let d1 = h.deliveries.recv().await.unwrap();
    ack(d1, Ok(()));
    assert_eq!(h.task.await.unwrap().unwrap(), Outcome::HandedOff);
    assert_eq!(
        h.lease.calls().last().unwrap(),
        &Call::FinishHandoff(Some("9".into()))
    );
}

#[test]
fn undecodable_and_empty_records_become_errors_with_their_position() {
    let recs = vec![
        RawRecord {
            sequence: "1".into(),
            partition_key: "k".into(),
            data: b"not json".to_vec(),
        },
        RawRecord {
            sequence: "2".into(),
            partition_key: "k".into(),
            data: Vec::new(),
        },
    ];
    let items = decode_records(&Decoder::default(), "shardId-000000000001", &recs);
    assert_eq!(items.len(), 2);
    for (i, item) in items.iter().enumerate() {
        let e = item.as_ref().unwrap_err();
        assert_eq!(e.source.shard_id.as_deref(), Some("shardId-000000000001"));
        assert_eq!(
            e.source.sequence_number.as_deref(),
            Some(&*(i + 1).to_string())
        );
        assert_eq!(e.source.index, Some(i));
    }
    assert_eq!(items[0].as_ref().unwrap_err().raw, b"not json");
}
