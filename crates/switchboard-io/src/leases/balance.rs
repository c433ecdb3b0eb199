//! Which leases a worker takes, and when it steals one: the KCL `LeaseTaker`'s rules,
//! pure and deterministic (time and randomness passed in) so they are tested alone.
//!
//! - A lease has *expired* when its counter has not moved for a lease duration, as seen by
//!   this worker's successive scans ([`Expiry`]); a lease without owner is free at once.
//! - Finished leases (SHARD_END) and leases whose parents are not finished are neither
//!   counted nor taken: a child shard waits for its parents.
//! - The fair share is the active leases divided by the live workers, rounded up, capped
//!   by the worker's maximum. Below it, a worker takes free or expired leases; if there
//!   are none, it steals one lease from the most loaded worker, when that worker has more
//!   than the fair share (or exactly the fair share while we need two or more). At most
//!   one steal per round keeps the workers from trading leases back and forth.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::time::{Duration, Instant};

use super::Lease;

/// Remembers when each lease's counter last moved, as this worker saw it.
#[derive(Debug, Default)]
pub struct Expiry {
    seen: HashMap<String, (u64, Instant)>,
}

impl Expiry {
    /// Records a scan made at `now`; forgets leases no longer in the table.
    pub fn observe(&mut self, leases: &[Lease], now: Instant) {
        let keys: HashSet<&str> = leases.iter().map(|l| l.key.as_str()).collect();
        self.seen.retain(|k, _| keys.contains(k.as_str()));
        for lease in leases {
            match self.seen.get_mut(&lease.key) {
                Some((counter, _)) if *counter == lease.counter => {}
                Some(entry) => *entry = (lease.counter, now),
                None => {
                    self.seen.insert(lease.key.clone(), (lease.counter, now));
                }
            }
        }
    }

    /// Whether `lease`'s owner has not renewed it for `duration`. A lease never seen is
    /// not expired (its owner gets a full duration from our first sight).
    pub fn is_expired(&self, lease: &Lease, duration: Duration, now: Instant) -> bool {
        match self.seen.get(&lease.key) {
            Some((counter, since)) if *counter == lease.counter => {
                now.saturating_duration_since(*since) >= duration
            }
            _ => false,
        }
    }
}

/// Everything the rules look at, for one scan.
#[derive(Debug)]
pub struct View<'a> {
    pub me: &'a str,
    pub leases: &'a [Lease],
    /// Keys of leases whose owner stopped renewing.
    pub expired: &'a HashSet<String>,
    /// Keys of leases that may be processed now (their parents are finished).
    pub ready: &'a HashSet<String>,
    pub max_leases: usize,
}

/// What to do this round.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Plan {
    /// Free or expired leases to take.
    pub take: Vec<String>,
    /// A live lease to steal, from the most loaded worker.
    pub steal: Option<String>,
    /// The fair share computed, for logs.
    pub target: usize,
}

/// Which leases can be processed now: not finished, and every parent finished, absent
/// from the table, or gone from the stream (`in_stream`, when a listing is known).
pub fn ready_keys(leases: &[Lease], in_stream: Option<&HashSet<String>>) -> HashSet<String> {
    let by_key: HashMap<&str, &Lease> = leases.iter().map(|l| (l.key.as_str(), l)).collect();
    let parent_done = |p: &String| {
        let gone = in_stream.is_some_and(|s| !s.contains(p));
        gone || by_key.get(p.as_str()).is_none_or(|l| l.is_finished())
    };
    leases
        .iter()
        .filter(|l| !l.is_finished())
        .filter(|l| in_stream.is_none_or(|s| s.contains(&l.key)))
        .filter(|l| l.parents.iter().all(parent_done))
        .map(|l| l.key.clone())
        .collect()
}

/// The plan for one round. `pick` chooses one index below its argument (randomness from
/// the caller; tests pass a fixed choice).
pub fn plan(view: &View<'_>, pick: &mut dyn FnMut(usize) -> usize) -> Plan {
    let live = |l: &&Lease| l.owner.is_some() && !view.expired.contains(&l.key);
    // Leases by live owner (finished leases excluded; blocked ones still count where held).
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for lease in view.leases.iter().filter(|l| !l.is_finished()).filter(live) {
        if let Some(owner) = lease.owner.as_deref() {
            *counts.entry(owner).or_default() += 1;
        }
    }
    counts.entry(view.me).or_default();
    let active = view
        .leases
        .iter()
        .filter(|l| !l.is_finished())
        .filter(|l| live(l) || view.ready.contains(&l.key))
        .count();
    if active == 0 {
        return Plan::default();
    }
    let workers = counts.len();
    let target = if workers >= active {
        1
    } else {
        active.div_ceil(workers)
    }
    .min(view.max_leases.max(1));
    let mine = counts[view.me];
    let mut plan = Plan {
        target,
        ..Plan::default()
    };
    if mine >= target {
        return plan;
    }
    let need = target - mine;
    let mut available: Vec<&Lease> = view
        .leases
        .iter()
        .filter(|l| view.ready.contains(&l.key))
        .filter(|l| !l.is_owned_by(view.me))
        .filter(|l| l.owner.is_none() || view.expired.contains(&l.key))
        .collect();
    if !available.is_empty() {
        while plan.take.len() < need && !available.is_empty() {
            let i = pick(available.len());
            plan.take.push(available.swap_remove(i).key.clone());
        }
        return plan;
    }
    // Nothing free: consider stealing from the most loaded worker (ties: the first name,
    // so every worker agrees).
    let Some((victim, &most)) = counts
        .iter()
        .filter(|(w, _)| **w != view.me)
        .max_by(|a, b| a.1.cmp(b.1).then_with(|| b.0.cmp(a.0)))
    else {
        return plan;
    };
    let worth_it = most > target || (most == target && need > 1);
    if !worth_it {
        return plan;
    }
    let candidates: Vec<&Lease> = view
        .leases
        .iter()
        .filter(|l| l.is_owned_by(victim))
        .filter(|l| view.ready.contains(&l.key))
        .filter(|l| l.checkpoint_owner.is_none())
        .collect();
    if !candidates.is_empty() {
        plan.steal = Some(candidates[pick(candidates.len())].key.clone());
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::leases::Checkpoint;

    fn lease(key: &str, owner: Option<&str>) -> Lease {
        let mut l = Lease::new(key, Checkpoint::TrimHorizon, Vec::new());
        l.owner = owner.map(str::to_string);
        l
    }

    fn run(me: &str, leases: &[Lease], expired: &[&str], max: usize) -> Plan {
        let expired = expired.iter().map(|s| s.to_string()).collect();
        let ready = ready_keys(leases, None);
        let view = View {
            me,
            leases,
            expired: &expired,
            ready: &ready,
            max_leases: max,
        };
        plan(&view, &mut |_| 0)
    }

    #[test]
    fn a_lone_worker_takes_every_free_lease() {
        let leases = [lease("s0", None), lease("s1", None)];
        let p = run("a", &leases, &[], usize::MAX);
        assert_eq!(p.target, 2);
        assert_eq!(keys_of(&p.take), ["s0", "s1"].into());
        assert_eq!(p.steal, None);
    }

    fn keys_of(v: &[String]) -> HashSet<&str> {
        v.iter().map(String::as_str).collect()
    }

    #[test]
    fn takes_up_to_the_fair_share_and_the_maximum() {
        let leases = [
            lease("s0", Some("b")),
            lease("s1", None),
            lease("s2", None),
            lease("s3", None),
        ];
        // Two workers, four active leases: two each; b has one, so a takes two.
        assert_eq!(run("a", &leases, &[], usize::MAX).take.len(), 2);
        assert_eq!(run("a", &leases, &[], 1).take.len(), 1);
    }

    #[test]
    fn expired_leases_are_taken_and_their_owner_no_longer_counts() {
        let leases = [lease("s0", Some("dead")), lease("s1", Some("dead"))];
        let p = run("a", &leases, &["s0", "s1"], usize::MAX);
        assert_eq!(p.target, 2);
        assert_eq!(p.take.len(), 2);
        // Not expired: a's fair share is one, and b (two) is above it: steal one.
        let p = run("a", &leases, &[], usize::MAX);
        assert_eq!(p.target, 1);
        assert!(p.take.is_empty());
        assert!(p.steal.is_some());
    }

    #[test]
    fn does_not_steal_from_a_worker_at_the_fair_share() {
        // Three leases, two workers: target 2. b holds 2, a holds 1: balanced enough.
        let leases = [
            lease("s0", Some("b")),
            lease("s1", Some("b")),
            lease("s2", Some("a")),
        ];
        assert_eq!(run("a", &leases, &[], usize::MAX), plan_with_target(2));
        // But a worker with nothing, needing two, steals one from a worker at the share.
        let leases = [
            lease("s0", Some("b")),
            lease("s1", Some("b")),
            lease("s2", Some("c")),
            lease("s3", Some("c")),
            lease("s4", Some("b")),
        ];
        let p = run("a", &leases, &[], usize::MAX);
        assert_eq!(p.target, 2);
        assert_eq!(p.steal.as_deref(), Some("s0"));
    }

    fn plan_with_target(target: usize) -> Plan {
        Plan {
            target,
            ..Plan::default()
        }
    }

    #[test]
    fn children_wait_for_their_parents_and_finished_leases_do_not_count() {
        let mut parent = lease("s0", Some("b"));
        let mut child = lease("s1", None);
        child.parents = vec!["s0".into()];
        let leases = [parent.clone(), child.clone()];
        let p = run("a", &leases, &[], usize::MAX);
        assert!(p.take.is_empty(), "{p:?}");
        assert_eq!(p.steal, None);

        parent.checkpoint = Checkpoint::ShardEnd;
        parent.owner = None;
        let leases = [parent.clone(), child.clone()];
        let p = run("a", &leases, &[], usize::MAX);
        assert_eq!(p.take, vec!["s1".to_string()]);
        assert_eq!(p.target, 1);

        // A merge: both parents must be finished.
        let mut other = lease("s2", Some("b"));
        child.parents = vec!["s0".into(), "s2".into()];
        let leases = [parent.clone(), other.clone(), child.clone()];
        assert!(!ready_keys(&leases, None).contains("s1"));
        other.checkpoint = Checkpoint::ShardEnd;
        let leases = [parent, other, child];
        assert!(ready_keys(&leases, None).contains("s1"));
    }

    #[test]
    fn a_parent_gone_from_the_stream_or_table_does_not_block() {
        let mut child = lease("s1", None);
        child.parents = vec!["s0".into()];
        let parent = lease("s0", Some("b"));
        let leases = [parent, child];
        let listing: HashSet<String> = ["s1".to_string()].into();
        let ready = ready_keys(&leases, Some(&listing));
        assert!(ready.contains("s1"));
        // The parent's own lease cannot be read any more: not ready.
        assert!(!ready.contains("s0"));
        let only_child = [leases[1].clone()];
        assert!(ready_keys(&only_child, None).contains("s1"));
    }

    #[test]
    fn a_lease_in_handoff_is_not_stolen_again() {
        let mut l0 = lease("s0", Some("b"));
        l0.checkpoint_owner = Some("c".into());
        let leases = [l0, lease("s1", Some("b")), lease("s2", Some("b"))];
        let p = run("a", &leases, &[], usize::MAX);
        assert_eq!(p.steal.as_deref(), Some("s1"));
    }

    #[test]
    fn expiry_is_measured_from_the_last_counter_change_we_saw() {
        let t0 = Instant::now();
        let d = Duration::from_secs(10);
        let mut e = Expiry::default();
        let mut l = lease("s0", Some("b"));
        e.observe(std::slice::from_ref(&l), t0);
        assert!(!e.is_expired(&l, d, t0 + Duration::from_secs(9)));
        assert!(e.is_expired(&l, d, t0 + Duration::from_secs(10)));
        l.counter += 1;
        e.observe(std::slice::from_ref(&l), t0 + Duration::from_secs(11));
        assert!(!e.is_expired(&l, d, t0 + Duration::from_secs(20)));
        assert!(e.is_expired(&l, d, t0 + Duration::from_secs(21)));
        // Forgotten when gone from the table.
        e.observe(&[], t0 + Duration::from_secs(22));
        assert!(!e.is_expired(&l, d, t0 + Duration::from_secs(40)));
    }
}
