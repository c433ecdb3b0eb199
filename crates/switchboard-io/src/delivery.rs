//! What a source hands the pipeline, and how the pipeline says it is safely stored.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use switchboard_model::decode::{DecodeError, Decoded};
use tokio::sync::{mpsc, oneshot};

/// A batch of decoded input from one source.
#[derive(Debug)]
pub struct Delivery {
    /// Which source and part of it (`kinesis:<stream>/<shard>`, `firehose-http`,
    /// `sqs:<queue>`), for logs and metrics.
    pub source: String,
    /// Records, and the input that did not decode (it goes to the dead letters).
    pub items: Vec<Result<Decoded, DecodeError>>,
    /// A position to save with the commit (input name → position), when the source
    /// keeps its progress in the store rather than elsewhere.
    pub position: Option<(String, String)>,
    /// Fired after the commit that includes these records, or with the reason they
    /// could not be stored.
    pub ack: Option<Ack>,
    /// For sources whose partitions move between workers (Kinesis shards under leases):
    /// which partition, held since when. `None` for every other source.
    pub partition: Option<Partition>,
    /// For a simulated source that keeps its own clock (the demo): advance the engine's
    /// clocks to this event time once the items are applied, so alerts fire on simulated
    /// time. `None` for every real source.
    pub clock: Option<switchboard_model::Timestamp>,
}

/// A partition of a source that several `switchboard run` workers share, one at a time
/// (a Kinesis shard under a lease), as this worker currently holds it.
///
/// Agent events are partitioned by agent, so while a worker holds a partition it is the
/// only one applying those agents' events. But when a partition moves to this worker,
/// another worker may have applied (and stored) events of its agents since this worker's
/// engine last saw them: the engine's copy is stale. So, for each `(key, epoch)` it has
/// not seen before, the pipeline reloads from the shared store the state of every agent
/// (and contact) before it applies that agent's first record from the partition in that
/// epoch. The replay from the lease's checkpoint is then deduplicated against the stored
/// state.
#[derive(Debug, Clone)]
pub struct Partition {
    /// `kinesis:<stream>/<shard>`.
    pub key: String,
    /// Changes (grows) each time this worker acquires the partition again.
    pub epoch: u64,
    /// Set once the worker lost the partition: deliveries not applied yet are dropped
    /// (and their acknowledgement fails), because the new owner reads them again.
    pub revoked: Arc<AtomicBool>,
}

impl Partition {
    pub fn new(key: impl Into<String>, epoch: u64) -> Self {
        Self {
            key: key.into(),
            epoch,
            revoked: Arc::new(AtomicBool::new(false)),
        }
    }

    pub fn is_revoked(&self) -> bool {
        self.revoked.load(Ordering::SeqCst)
    }
}

/// The sending half of an acknowledgement.
#[derive(Debug)]
pub struct Ack(oneshot::Sender<Result<(), AckError>>);

/// Why a delivery was not stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not stored: {0}")]
pub struct AckError(pub String);

impl Ack {
    /// An acknowledgement and the receiver the source awaits.
    pub fn new() -> (Ack, oneshot::Receiver<Result<(), AckError>>) {
        let (tx, rx) = oneshot::channel();
        (Ack(tx), rx)
    }

    /// Reports the outcome. A source that stopped waiting is not an error.
    pub fn send(self, outcome: Result<(), AckError>) {
        let _ = self.0.send(outcome);
    }
}

impl Delivery {
    /// A delivery without acknowledgement or position.
    pub fn new(source: impl Into<String>, items: Vec<Result<Decoded, DecodeError>>) -> Self {
        Self {
            source: source.into(),
            items,
            position: None,
            ack: None,
            partition: None,
            clock: None,
        }
    }

    /// The same, acknowledged after commit; returns what to await.
    pub fn acked(
        source: impl Into<String>,
        items: Vec<Result<Decoded, DecodeError>>,
    ) -> (Self, oneshot::Receiver<Result<(), AckError>>) {
        let (ack, rx) = Ack::new();
        (
            Self {
                source: source.into(),
                items,
                position: None,
                ack: Some(ack),
                partition: None,
                clock: None,
            },
            rx,
        )
    }
}

/// Bounded: a slow pipeline slows the sources down instead of filling memory.
pub type DeliverySender = mpsc::Sender<Delivery>;
pub type DeliveryReceiver = mpsc::Receiver<Delivery>;

/// The channel sources share, with room for `capacity` deliveries.
pub fn channel(capacity: usize) -> (DeliverySender, DeliveryReceiver) {
    mpsc::channel(capacity)
}
