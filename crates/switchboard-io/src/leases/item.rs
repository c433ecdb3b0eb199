//! A lease as a DynamoDB item: the KCL's attribute names and types, read tolerantly (a
//! KCL-written item has attributes we do not use; they are left alone).

use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;

use super::{Checkpoint, Lease};

pub const LEASE_KEY: &str = "leaseKey";
pub const LEASE_OWNER: &str = "leaseOwner";
pub const LEASE_COUNTER: &str = "leaseCounter";
pub const OWNER_SWITCHES: &str = "ownerSwitchesSinceCheckpoint";
pub const CHECKPOINT: &str = "checkpoint";
pub const CHECKPOINT_SUB: &str = "checkpointSubSequenceNumber";
pub const PARENT_SHARD_ID: &str = "parentShardId";
/// The current KCL's name (older releases wrote `childShardId`, which is read too).
pub const CHILD_SHARD_IDS: &str = "childShardIds";
const CHILD_SHARD_ID_OLD: &str = "childShardId";
pub const CHECKPOINT_OWNER: &str = "checkpointOwner";
/// Ours: the ARN of the stream the table belongs to.
pub const STREAM: &str = "switchboardStream";

pub type Item = HashMap<String, AttributeValue>;

pub fn n(v: u64) -> AttributeValue {
    AttributeValue::N(v.to_string())
}

pub fn s(v: impl Into<String>) -> AttributeValue {
    AttributeValue::S(v.into())
}

/// The whole item for a new lease.
pub fn to_item(lease: &Lease) -> Item {
    let mut item = Item::new();
    item.insert(LEASE_KEY.into(), s(&lease.key));
    item.insert(LEASE_COUNTER.into(), n(lease.counter));
    if let Some(owner) = &lease.owner {
        item.insert(LEASE_OWNER.into(), s(owner));
    }
    item.insert(OWNER_SWITCHES.into(), n(lease.owner_switches));
    item.insert(CHECKPOINT.into(), s(lease.checkpoint.as_str()));
    item.insert(CHECKPOINT_SUB.into(), n(lease.checkpoint_sub));
    if !lease.parents.is_empty() {
        item.insert(
            PARENT_SHARD_ID.into(),
            AttributeValue::Ss(lease.parents.clone()),
        );
    }
    if !lease.children.is_empty() {
        item.insert(
            CHILD_SHARD_IDS.into(),
            AttributeValue::Ss(lease.children.clone()),
        );
    }
    if let Some(owner) = &lease.checkpoint_owner {
        item.insert(CHECKPOINT_OWNER.into(), s(owner));
    }
    if let Some(stream) = &lease.stream {
        item.insert(STREAM.into(), s(stream));
    }
    item
}

/// Reads an item. The error says which attribute is wrong.
pub fn from_item(item: &Item) -> Result<Lease, (String, String)> {
    let key = match item.get(LEASE_KEY) {
        Some(AttributeValue::S(k)) => k.clone(),
        _ => return Err((String::new(), format!("no string {LEASE_KEY}"))),
    };
    let bad = |reason: String| (key.clone(), reason);
    let string = |name: &str| -> Result<Option<String>, (String, String)> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(None),
            Some(AttributeValue::S(v)) => Ok(Some(v.clone())),
            Some(other) => Err(bad(format!("{name} is not a string: {other:?}"))),
        }
    };
    let number = |name: &str| -> Result<u64, (String, String)> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(0),
            Some(AttributeValue::N(v)) => v
                .parse()
                .map_err(|_| bad(format!("{name} is not a whole number: {v}"))),
            Some(other) => Err(bad(format!("{name} is not a number: {other:?}"))),
        }
    };
    let set = |name: &str| -> Result<Vec<String>, (String, String)> {
        match item.get(name) {
            None | Some(AttributeValue::Null(_)) => Ok(Vec::new()),
            Some(AttributeValue::Ss(v)) => {
                let mut v = v.clone();
                v.sort();
                Ok(v)
            }
            Some(other) => Err(bad(format!("{name} is not a string set: {other:?}"))),
        }
    };
    let checkpoint = match string(CHECKPOINT)? {
        // A KCL lease created before any processing may lack it: start from the oldest.
        None => Checkpoint::TrimHorizon,
        Some(c) => Checkpoint::parse(&c).ok_or_else(|| bad(format!("bad checkpoint {c:?}")))?,
    };
    let mut children = set(CHILD_SHARD_IDS)?;
    if children.is_empty() {
        children = set(CHILD_SHARD_ID_OLD)?;
    }
    Ok(Lease {
        owner: string(LEASE_OWNER)?,
        counter: number(LEASE_COUNTER)?,
        checkpoint,
        checkpoint_sub: number(CHECKPOINT_SUB)?,
        owner_switches: number(OWNER_SWITCHES)?,
        parents: set(PARENT_SHARD_ID)?,
        children,
        checkpoint_owner: string(CHECKPOINT_OWNER)?,
        stream: string(STREAM)?,
        key,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use switchboard_model::SequenceNumber;

    #[test]
    fn round_trips_every_field() {
        let lease = Lease {
            key: "shardId-000000000002".into(),
            owner: Some("worker-a".into()),
            counter: 41,
            checkpoint: Checkpoint::Sequence(
                SequenceNumber::new("49590338271490256608559692538361571095921575989136588898")
                    .unwrap(),
            ),
            checkpoint_sub: 0,
            owner_switches: 2,
            parents: vec!["shardId-000000000000".into(), "shardId-000000000001".into()],
            children: vec!["shardId-000000000003".into()],
            checkpoint_owner: Some("worker-b".into()),
            stream: Some("arn:aws:kinesis:us-east-1:000000000000:stream/agents".into()),
        };
        assert_eq!(from_item(&to_item(&lease)).unwrap(), lease);
    }

    #[test]
    fn reads_a_kcl_item_with_unknown_attributes_and_the_old_child_name() {
        let mut item = Item::new();
        item.insert(LEASE_KEY.into(), s("shardId-000000000000"));
        item.insert(LEASE_COUNTER.into(), n(7));
        item.insert(CHECKPOINT.into(), s("SHARD_END"));
        item.insert(
            CHILD_SHARD_ID_OLD.into(),
            AttributeValue::Ss(vec!["shardId-000000000001".into()]),
        );
        item.insert("throughputKBps".into(), AttributeValue::N("1.5".into()));
        item.insert("startingHashKey".into(), s("0"));
        let lease = from_item(&item).unwrap();
        assert!(lease.is_finished());
        assert_eq!(lease.owner, None);
        assert_eq!(lease.children, vec!["shardId-000000000001".to_string()]);
    }

    #[test]
    fn names_the_bad_attribute() {
        let mut item = Item::new();
        item.insert(LEASE_KEY.into(), s("shardId-000000000000"));
        item.insert(CHECKPOINT.into(), s("soon"));
        let (key, reason) = from_item(&item).unwrap_err();
        assert_eq!(key, "shardId-000000000000");
        assert!(reason.contains("soon"), "{reason}");
        item.insert(CHECKPOINT.into(), s("LATEST"));
        item.insert(LEASE_COUNTER.into(), n(1));
        item.insert(LEASE_OWNER.into(), AttributeValue::N("3".into()));
        assert!(from_item(&item).unwrap_err().1.contains(LEASE_OWNER));
    }
}
