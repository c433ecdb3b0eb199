//! What a source hands the pipeline, and how the pipeline says it is safely stored.

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
