//! A live view of the simulated center for dashboards (`switchboard demo`): agents by
//! what they are doing, contacts waiting per queue, and running totals. Computed on
//! demand from the simulation state; it does not affect the simulation.

use crate::center::Status;
use crate::sim::Simulator;
use crate::state::Phase;

use switchboard_model::{Channel, ContactState, Timestamp};

/// What an agent is doing, from most to least specific.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Activity {
    /// Not logged in, or logged in with status Offline.
    Offline,
    /// Available with nothing to do.
    Available,
    /// A contact is being offered (ringing) or dialed.
    Incoming,
    /// Talking or chatting (holds included).
    OnContact,
    /// Only after-contact work left.
    AfterContactWork,
    /// A missed or rejected contact not closed yet.
    Missed,
    Break,
    Lunch,
    Training,
}

impl Activity {
    pub const ALL: [Activity; 9] = [
        Activity::Offline,
        Activity::Available,
        Activity::Incoming,
        Activity::OnContact,
        Activity::AfterContactWork,
        Activity::Missed,
        Activity::Break,
        Activity::Lunch,
        Activity::Training,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Activity::Offline => "offline",
            Activity::Available => "available",
            Activity::Incoming => "incoming",
            Activity::OnContact => "on contact",
            Activity::AfterContactWork => "ACW",
            Activity::Missed => "missed",
            Activity::Break => "break",
            Activity::Lunch => "lunch",
            Activity::Training => "training",
        }
    }
}

/// Counters since the start of the run.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Totals {
    /// Contacts created (inbound, outbound, transfers).
    pub initiated: u64,
    pub queued: u64,
    /// Contacts connected to an agent.
    pub handled: u64,
    pub abandoned: u64,
    pub transferred: u64,
    pub outbound: u64,
    /// Offers missed (voice) or rejected (chat).
    pub missed: u64,
    /// Contacts over (a contact record was written).
    pub completed: u64,
    pub logins: u64,
}

/// One queue right now.
#[derive(Debug, Clone, PartialEq)]
pub struct QueueSummary {
    pub name: String,
    pub channel: Channel,
    pub waiting: usize,
    /// Seconds the oldest waiting contact has waited.
    pub oldest_wait_secs: i64,
}

/// The center right now.
#[derive(Debug, Clone, PartialEq)]
pub struct Summary {
    pub now: Timestamp,
    /// Agents per activity, in [`Activity::ALL`] order.
    pub agents: Vec<(Activity, usize)>,
    /// Inbound queues only.
    pub queues: Vec<QueueSummary>,
    pub totals: Totals,
}

impl Summary {
    /// Agents in the given activity.
    pub fn agents_in(&self, activity: Activity) -> usize {
        self.agents
            .iter()
            .find(|(a, _)| *a == activity)
            .map_or(0, |(_, n)| *n)
    }

    /// Agents logged in with a status other than Offline.
    pub fn staffed(&self) -> usize {
        self.agents
            .iter()
            .filter(|(a, _)| *a != Activity::Offline)
            .map(|(_, n)| n)
            .sum()
    }
}

impl Simulator {
    /// What each agent is doing, contacts waiting, totals.
    pub fn summary(&self) -> Summary {
        let mut counts = [0usize; Activity::ALL.len()];
        for state in &self.agents {
            let states: Vec<&ContactState> = state
                .slots
                .iter()
                .filter_map(|s| s.entry.state.as_ref())
                .collect();
            let has = |wanted: &[ContactState]| states.iter().any(|s| wanted.contains(s));
            let activity = if !state.logged_in
                || (state.status == Status::Offline && state.slots.is_empty())
            {
                Activity::Offline
            } else if has(&[ContactState::Connected, ContactState::ConnectedOnHold]) {
                Activity::OnContact
            } else if has(&[ContactState::Connecting]) || !state.reserved.is_empty() {
                Activity::Incoming
            } else if has(&[ContactState::Missed, ContactState::Rejected]) {
                Activity::Missed
            } else if has(&[ContactState::Ended]) {
                Activity::AfterContactWork
            } else {
                match state.status {
                    Status::Available => Activity::Available,
                    Status::Offline => Activity::Offline,
                    Status::Break => Activity::Break,
                    Status::Lunch => Activity::Lunch,
                    Status::Training => Activity::Training,
                }
            };
            counts[Activity::ALL
                .iter()
                .position(|a| *a == activity)
                .unwrap_or(0)] += 1;
        }
        let queues = self
            .center
            .queues
            .iter()
            .enumerate()
            .filter(|(_, q)| q.inbound)
            .map(|(i, q)| {
                let oldest = self.waiting[i]
                    .iter()
                    .filter_map(|k| self.contacts.get(k))
                    .filter(|c| c.phase == Phase::Waiting)
                    .filter_map(|c| c.enqueued)
                    .min();
                QueueSummary {
                    name: q.name.to_owned(),
                    channel: q.medium.channel(),
                    waiting: self.waiting[i].len(),
                    oldest_wait_secs: oldest.map_or(0, |e| (self.now - e).max(0) / 1000),
                }
            })
            .collect();
        Summary {
            now: Timestamp::from_millis(self.now),
            agents: Activity::ALL.iter().copied().zip(counts).collect(),
            queues,
            totals: self.totals,
        }
    }
}
