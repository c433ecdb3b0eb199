//! Shard sync: which leases to create for the shards a listing shows.
//!
//! Shards form a graph: a split closes one parent and opens two children, a merge closes
//! two parents and opens one child. Records of one partition key are in order only if a
//! child is read after its parents are read to their end, so every new lease carries its
//! parents (`parentShardId`), and the taker leaves a lease alone until they are finished.
//!
//! Which shards get a lease, and where it starts (the KCL's rules, simplified):
//! - a shard whose parent has (or gets) a lease starts at `TRIM_HORIZON`: it holds exactly
//!   what follows its parents;
//! - any other shard (no parent, or parents expired from the stream or never tracked)
//!   starts at the configured position; with `LATEST`, closed ones of those get no lease
//!   at all (everything in them is older than "now").
//!
//! Leases are created parents first, so a worker that sees a child's lease also sees its
//! parents' and cannot mistake the child for a root.

use std::collections::{HashMap, HashSet};

use super::api::ShardInfo;
use super::config::StartPosition;
use crate::leases::{Checkpoint, Lease};

/// The leases to create, parents first.
pub fn leases_to_create(
    shards: &[ShardInfo],
    existing: &HashSet<String>,
    start: StartPosition,
) -> Vec<Lease> {
    let by_id: HashMap<&str, &ShardInfo> = shards.iter().map(|s| (s.id.as_str(), s)).collect();
    let mut tracked: HashSet<String> = existing.clone();
    let mut out = Vec::new();
    for shard in parents_first(shards, &by_id) {
        if tracked.contains(&shard.id) {
            continue;
        }
        let parents: Vec<String> = shard
            .parents
            .iter()
            .filter(|p| tracked.contains(*p))
            .cloned()
            .collect();
        let checkpoint = if !parents.is_empty() {
            Checkpoint::TrimHorizon
        } else {
            match start {
                StartPosition::TrimHorizon => Checkpoint::TrimHorizon,
                StartPosition::AtTimestamp => Checkpoint::AtTimestamp,
                StartPosition::Latest if shard.closed => continue,
                StartPosition::Latest => Checkpoint::Latest,
            }
        };
        let mut parents = parents;
        parents.sort();
        tracked.insert(shard.id.clone());
        out.push(Lease::new(shard.id.clone(), checkpoint, parents));
    }
    out
}

/// The shards ordered so that every parent in the listing comes before its children.
fn parents_first<'a>(
    shards: &'a [ShardInfo],
    by_id: &HashMap<&str, &'a ShardInfo>,
) -> Vec<&'a ShardInfo> {
    let mut order = Vec::with_capacity(shards.len());
    let mut placed: HashSet<&str> = HashSet::new();
    // Depth-first, iteratively (a stream resharded many times has long chains).
    for root in shards {
        let mut stack = vec![(root, false)];
        while let Some((shard, expanded)) = stack.pop() {
            if placed.contains(shard.id.as_str()) {
                continue;
            }
            if expanded {
                placed.insert(&shard.id);
                order.push(shard);
                continue;
            }
            stack.push((shard, true));
            for p in &shard.parents {
                if let Some(parent) = by_id.get(p.as_str()) {
                    if !placed.contains(p.as_str()) {
                        stack.push((parent, false));
                    }
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shard(id: &str, parents: &[&str], closed: bool) -> ShardInfo {
        ShardInfo {
            id: id.into(),
            parents: parents.iter().map(|p| p.to_string()).collect(),
            closed,
        }
    }

    /// s0 and s1 at the start; s0 split into s2 and s3; s3 and s1 merged into s4.
    fn resharded() -> Vec<ShardInfo> {
        vec![
            // Listed children first, to check the ordering.
            shard("s4", &["s3", "s1"], false),
            shard("s3", &["s0"], true),
            shard("s2", &["s0"], false),
            shard("s1", &[], true),
            shard("s0", &[], true),
        ]
    }

    fn summary(leases: &[Lease]) -> Vec<(String, String, Vec<String>)> {
        leases
            .iter()
            .map(|l| (l.key.clone(), l.checkpoint.to_string(), l.parents.clone()))
            .collect()
    }

    #[test]
    fn trim_horizon_tracks_every_shard_parents_first() {
        let leases = leases_to_create(&resharded(), &HashSet::new(), StartPosition::TrimHorizon);
        let pos = |k: &str| leases.iter().position(|l| l.key == k).unwrap();
        assert!(pos("s0") < pos("s2") && pos("s0") < pos("s3"));
        assert!(pos("s3") < pos("s4") && pos("s1") < pos("s4"));
        let s4 = &leases[pos("s4")];
        assert_eq!(s4.parents, vec!["s1".to_string(), "s3".to_string()]);
        assert!(leases
            .iter()
            .all(|l| l.checkpoint == Checkpoint::TrimHorizon));
        assert_eq!(leases.len(), 5);
    }

    #[test]
    fn latest_skips_closed_roots_and_their_children_start_at_latest() {
        let leases = leases_to_create(&resharded(), &HashSet::new(), StartPosition::Latest);
        let mut got = summary(&leases);
        got.sort();
        assert_eq!(
            got,
            vec![
                ("s2".to_string(), "LATEST".to_string(), vec![]),
                ("s4".to_string(), "LATEST".to_string(), vec![]),
            ]
        );
    }

    #[test]
    fn children_of_tracked_shards_start_at_their_beginning_whatever_the_start() {
        // s0 and s1 were tracked (leases exist); the resharding happened since.
        let existing: HashSet<String> = ["s0".to_string(), "s1".to_string()].into();
        for start in [StartPosition::Latest, StartPosition::AtTimestamp] {
            let mut got = summary(&leases_to_create(&resharded(), &existing, start));
            got.sort();
            let th = "TRIM_HORIZON".to_string();
            assert_eq!(
                got,
                vec![
                    ("s2".to_string(), th.clone(), vec!["s0".to_string()]),
                    ("s3".to_string(), th.clone(), vec!["s0".to_string()]),
                    (
                        "s4".to_string(),
                        th.clone(),
                        vec!["s1".to_string(), "s3".to_string()]
                    ),
                ]
            );
        }
    }

    #[test]
    fn expired_parents_are_dropped_and_existing_leases_left_alone() {
        // s0 expired from the stream: s2's parent is unknown, so s2 is a root.
        let shards = vec![shard("s2", &["s0"], false), shard("s1", &[], false)];
        let existing: HashSet<String> = ["s1".to_string()].into();
        let got = summary(&leases_to_create(
            &shards,
            &existing,
            StartPosition::AtTimestamp,
        ));
        assert_eq!(
            got,
            vec![("s2".to_string(), "AT_TIMESTAMP".to_string(), vec![])]
        );
        let all: HashSet<String> = ["s1".to_string(), "s2".to_string()].into();
        assert!(leases_to_create(&shards, &all, StartPosition::TrimHorizon).is_empty());
    }
}
