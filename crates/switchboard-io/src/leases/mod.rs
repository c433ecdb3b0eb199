//! Shard leases in a DynamoDB table that follows the Kinesis Client Library's lease schema,
//! so several `switchboard run` workers share one stream's shards.
//!
//! One item per shard, keyed by `leaseKey` (the shard id). The holder renews its lease by
//! bumping `leaseCounter`; every write is conditioned on the counter (and the owner) it
//! last saw, so two workers can never both believe they won the same write. A lease whose
//! counter stops moving for a lease duration (as seen by the *observer's* clock: no clocks
//! are compared between machines) has expired and may be taken. Attribute names and the
//! checkpoint sentinels are the KCL's (`DynamoDBLeaseSerializer`), so a table can be read
//! with KCL tooling; one extra attribute (`switchboardStream`) names the stream a table
//! belongs to, and a worker refuses a table that names another.
//!
//! Moving a lease from a live worker (for balance) is a graceful handoff, as in KCL 3:
//! the new owner writes itself as `leaseOwner` and the old one as `checkpointOwner`; the
//! old owner stops reading, waits until what it delivered is stored, checkpoints and clears
//! `checkpointOwner`; only then does the new owner start reading, from that checkpoint.
//! That ordering is what lets the new owner trust the shared store's agent states.
//!
//! - [`Lease`] and [`Checkpoint`]: one item, typed;
//! - `item`: the item's attributes, to and from DynamoDB;
//! - [`LeaseTable`]: create or verify the table, list, create, take, steal, renew,
//!   checkpoint, release (`table`);
//! - [`HeldLease`]: a lease this worker holds, its writes serialized (renewals and
//!   checkpoints both need the counter the other just wrote);
//! - [`balance`]: which leases a worker should take or steal (pure, unit-tested).

pub mod balance;
mod held;
mod item;
mod table;

use std::fmt;

use switchboard_model::SequenceNumber;

pub use held::{HeldLease, Renewal};
pub use table::LeaseTable;

/// Where a shard's processing stands: a sequence number, or one of the KCL's sentinels.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Checkpoint {
    /// Nothing processed yet; start at the oldest record.
    TrimHorizon,
    /// Nothing processed yet; start at the newest record.
    Latest,
    /// Nothing processed yet; start at the configured timestamp.
    AtTimestamp,
    /// Everything processed up to and including this record.
    Sequence(SequenceNumber),
    /// The shard is closed and was read to its end.
    ShardEnd,
}

impl Checkpoint {
    pub const TRIM_HORIZON: &'static str = "TRIM_HORIZON";
    pub const LATEST: &'static str = "LATEST";
    pub const AT_TIMESTAMP: &'static str = "AT_TIMESTAMP";
    pub const SHARD_END: &'static str = "SHARD_END";

    /// Parses the `checkpoint` attribute. `None` for anything that is neither a sentinel
    /// nor a sequence number.
    pub fn parse(s: &str) -> Option<Self> {
        Some(match s {
            Self::TRIM_HORIZON => Self::TrimHorizon,
            Self::LATEST => Self::Latest,
            Self::AT_TIMESTAMP => Self::AtTimestamp,
            Self::SHARD_END => Self::ShardEnd,
            other => Self::Sequence(SequenceNumber::new(other)?),
        })
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::TrimHorizon => Self::TRIM_HORIZON,
            Self::Latest => Self::LATEST,
            Self::AtTimestamp => Self::AT_TIMESTAMP,
            Self::ShardEnd => Self::SHARD_END,
            Self::Sequence(s) => s.as_str(),
        }
    }

    /// The sequence number, if the checkpoint is one.
    pub fn sequence(&self) -> Option<&SequenceNumber> {
        match self {
            Self::Sequence(s) => Some(s),
            _ => None,
        }
    }
}

impl fmt::Display for Checkpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One lease item.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Lease {
    /// `leaseKey`: the shard id.
    pub key: String,
    /// `leaseOwner`: the worker holding it; `None` when free.
    pub owner: Option<String>,
    /// `leaseCounter`: bumped by every write; the optimistic lock.
    pub counter: u64,
    /// `checkpoint`.
    pub checkpoint: Checkpoint,
    /// `checkpointSubSequenceNumber` (KPL aggregation; always 0 for Connect data).
    pub checkpoint_sub: u64,
    /// `ownerSwitchesSinceCheckpoint`.
    pub owner_switches: u64,
    /// `parentShardId`: read to SHARD_END before this shard is read.
    pub parents: Vec<String>,
    /// `childShardIds`, written with the SHARD_END checkpoint.
    pub children: Vec<String>,
    /// `checkpointOwner`: during a handoff, the previous owner, who still has to
    /// checkpoint before the new owner (`owner`) may start.
    pub checkpoint_owner: Option<String>,
    /// `switchboardStream`: the stream the table belongs to (absent in a KCL-made item).
    pub stream: Option<String>,
}

impl Lease {
    /// A new, free lease for `shard` at `checkpoint`.
    pub fn new(shard: impl Into<String>, checkpoint: Checkpoint, parents: Vec<String>) -> Self {
        Lease {
            key: shard.into(),
            owner: None,
            counter: 0,
            checkpoint,
            checkpoint_sub: 0,
            owner_switches: 0,
            parents,
            children: Vec::new(),
            checkpoint_owner: None,
            stream: None,
        }
    }

    /// Read to the end: never taken again.
    pub fn is_finished(&self) -> bool {
        self.checkpoint == Checkpoint::ShardEnd
    }

    pub fn is_owned_by(&self, worker: &str) -> bool {
        self.owner.as_deref() == Some(worker)
    }
}

/// What went wrong with the lease table.
#[derive(Debug, thiserror::Error)]
pub enum LeaseError {
    #[error("lease table {table}: {operation} failed: {message}")]
    Dynamo {
        table: String,
        operation: &'static str,
        message: String,
    },
    #[error(
        "lease table {table} belongs to stream {found}, not {expected}: choose another \
         application name, or delete the table if the old stream is gone"
    )]
    OtherStream {
        table: String,
        found: String,
        expected: String,
    },
    #[error("lease table {table} is not a lease table: {reason}")]
    NotALeaseTable { table: String, reason: String },
    #[error("lease table {table}, lease {key}: {reason}")]
    BadItem {
        table: String,
        key: String,
        reason: String,
    },
    #[error("lease table {table} did not become ACTIVE within {seconds} s")]
    NotActive { table: String, seconds: u64 },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_parse_sentinels_and_big_sequence_numbers() {
        for s in ["TRIM_HORIZON", "LATEST", "AT_TIMESTAMP", "SHARD_END"] {
            assert_eq!(Checkpoint::parse(s).unwrap().as_str(), s);
        }
        let big = "49590338271490256608559692538361571095921575989136588898";
        let cp = Checkpoint::parse(big).unwrap();
        assert_eq!(cp.sequence().unwrap().as_str(), big);
        assert!(Checkpoint::parse("").is_none());
        assert!(Checkpoint::parse("trim_horizon").is_none());
        assert!(Checkpoint::parse("12.5").is_none());
    }
}
