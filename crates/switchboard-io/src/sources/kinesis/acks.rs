//! The acknowledgements a shard consumer is owed, in delivery order.
//!
//! A consumer keeps reading while earlier deliveries wait for their commit, so several
//! are in flight. The lease may be checkpointed only up to the last record of the longest
//! *prefix* of deliveries that are all acknowledged: a later delivery stored before an
//! earlier one must not move the checkpoint past the earlier one's records.

use std::collections::VecDeque;

use switchboard_model::SequenceNumber;
use tokio::sync::oneshot;
use tokio::sync::oneshot::error::TryRecvError;

use crate::delivery::AckError;

/// Deliveries awaiting their acknowledgement, oldest first.
#[derive(Debug, Default)]
pub struct AckQueue {
    pending: VecDeque<(SequenceNumber, oneshot::Receiver<Result<(), AckError>>)>,
}

/// What the acknowledgements received so far allow.
#[derive(Debug, PartialEq, Eq)]
pub enum Acked {
    /// Nothing new.
    Nothing,
    /// Every delivery up to and including the one ending at this record is stored.
    UpTo(SequenceNumber),
    /// A delivery was not stored: the records from there on must be read again. Carries
    /// the last record stored before it, if any was acknowledged in this call.
    Failed {
        stored: Option<SequenceNumber>,
        error: AckError,
    },
}

impl AckQueue {
    /// A delivery whose last record is `last`.
    pub fn push(&mut self, last: SequenceNumber, ack: oneshot::Receiver<Result<(), AckError>>) {
        self.pending.push_back((last, ack));
    }

    pub fn len(&self) -> usize {
        self.pending.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }

    /// Takes every acknowledgement already received, without waiting.
    pub fn poll(&mut self) -> Acked {
        let mut stored = None;
        while let Some((_, rx)) = self.pending.front_mut() {
            let outcome = match rx.try_recv() {
                Err(TryRecvError::Empty) => break,
                Ok(outcome) => outcome,
                Err(TryRecvError::Closed) => Err(dropped()),
            };
            let (seq, _) = self.pending.pop_front().expect("front exists");
            match outcome {
                Ok(()) => stored = Some(seq),
                Err(error) => {
                    self.pending.clear();
                    return Acked::Failed { stored, error };
                }
            }
        }
        stored.map_or(Acked::Nothing, Acked::UpTo)
    }

    /// Waits for the oldest acknowledgement, then takes every one received.
    pub async fn next(&mut self) -> Acked {
        let Some((_, rx)) = self.pending.front_mut() else {
            return Acked::Nothing;
        };
        // Wait without consuming: `poll` takes it. A dropped sender is seen by `poll`.
        let outcome = rx.await.unwrap_or_else(|_| Err(dropped()));
        let (seq, _) = self.pending.pop_front().expect("front exists");
        match outcome {
            Ok(()) => match self.poll() {
                Acked::Nothing => Acked::UpTo(seq),
                Acked::Failed { stored, error } => Acked::Failed {
                    stored: stored.or(Some(seq)),
                    error,
                },
                later => later,
            },
            Err(error) => {
                self.pending.clear();
                Acked::Failed {
                    stored: None,
                    error,
                }
            }
        }
    }

    /// Forgets every pending delivery (its records will be read again).
    pub fn clear(&mut self) {
        self.pending.clear();
    }
}

fn dropped() -> AckError {
    AckError("the pipeline dropped the delivery".into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::delivery::Ack;

    fn seq(s: &str) -> SequenceNumber {
        SequenceNumber::new(s).unwrap()
    }

    #[test]
    fn checkpoints_only_the_acknowledged_prefix() {
        let mut q = AckQueue::default();
        let (a1, r1) = Ack::new();
        let (a2, r2) = Ack::new();
        let (a3, r3) = Ack::new();
        q.push(seq("10"), r1);
        q.push(seq("20"), r2);
        q.push(seq("30"), r3);
        // The second is stored first: nothing may be checkpointed yet.
        a2.send(Ok(()));
        assert_eq!(q.poll(), Acked::Nothing);
        a1.send(Ok(()));
        assert_eq!(q.poll(), Acked::UpTo(seq("20")));
        assert_eq!(q.len(), 1);
        a3.send(Err(AckError("disk full".into())));
        assert_eq!(
            q.poll(),
            Acked::Failed {
                stored: None,
                error: AckError("disk full".into())
            }
        );
        assert!(q.is_empty());
    }

    #[test]
    fn a_dropped_acknowledgement_is_a_failure() {
        let mut q = AckQueue::default();
        let (a1, r1) = Ack::new();
        let (a2, r2) = Ack::new();
        q.push(seq("1"), r1);
        q.push(seq("2"), r2);
        a1.send(Ok(()));
        drop(a2);
        match q.poll() {
            Acked::Failed { stored, .. } => assert_eq!(stored, Some(seq("1"))),
            other => panic!("{other:?}"),
        }
    }

    #[tokio::test]
    async fn next_waits_for_the_oldest() {
        let mut q = AckQueue::default();
        assert_eq!(q.next().await, Acked::Nothing);
        let (a1, r1) = Ack::new();
        let (a2, r2) = Ack::new();
        q.push(seq("5"), r1);
        q.push(seq("6"), r2);
        a2.send(Ok(()));
        let waiter = tokio::spawn(async move {
            let got = q.next().await;
            (got, q.len())
        });
        a1.send(Ok(()));
        assert_eq!(waiter.await.unwrap(), (Acked::UpTo(seq("6")), 0));
    }
}
