//! Delivery: records leave the simulation in the order a consumer would receive them,
//! not the order things happened. Each record gets a delivery time (its event time plus
//! stream latency, plus artefacts: duplicates, late contact events, re-sent contact
//! records), and the `Outbox` hands them out by that time.

use std::cmp::Ordering;
use std::collections::BinaryHeap;

use switchboard_model::{Record, RecordKind, Timestamp};

/// One record as delivered: when a consumer receives it, and the record.
#[derive(Debug, Clone, PartialEq)]
pub struct Emission {
    /// Delivery time (millisecond precision).
    pub at: Timestamp,
    pub record: Record,
}

impl Emission {
    /// Which of the three streams the record belongs to.
    pub fn kind(&self) -> RecordKind {
        self.record.kind()
    }
}

struct Pending {
    at: i64,
    seq: u64,
    record: Record,
}

impl PartialEq for Pending {
    fn eq(&self, other: &Self) -> bool {
        (self.at, self.seq) == (other.at, other.seq)
    }
}
impl Eq for Pending {}
impl PartialOrd for Pending {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for Pending {
    // Reversed: the heap pops the earliest delivery first, ties in insertion order.
    fn cmp(&self, other: &Self) -> Ordering {
        (other.at, other.seq).cmp(&(self.at, self.seq))
    }
}

/// Records waiting for their delivery time.
#[derive(Default)]
pub(crate) struct Outbox {
    heap: BinaryHeap<Pending>,
    seq: u64,
}

impl Outbox {
    pub fn push(&mut self, at: i64, record: Record) {
        self.seq += 1;
        self.heap.push(Pending {
            at,
            seq: self.seq,
            record,
        });
    }

    /// Delivery time of the next record.
    pub fn next_at(&self) -> Option<i64> {
        self.heap.peek().map(|p| p.at)
    }

    pub fn pop(&mut self) -> Option<Emission> {
        self.heap.pop().map(|p| Emission {
            at: Timestamp::from_millis(p.at),
            record: p.record,
        })
    }
}
