//! The simulation's moving parts: agents as they are now (logged in, status, contacts in
//! their snapshot) and contacts in flight (timeline so far, plan of what comes next).
//! Handlers in [`crate::agents`] and [`crate::contacts`] change these; builders in
//! [`crate::emit`] read them to write records.

use std::collections::BTreeMap;

use switchboard_model::agent_event::AgentContact;
use switchboard_model::{AgentSnapshot, DisconnectReason, InitiationMethod};

use crate::center::{Medium, Status};

/// Key of a contact in flight (distinct from its `ContactId`, never reused).
pub(crate) type Key = u64;

/// A status the agent chose while still busy, applied when the last contact clears.
#[derive(Debug, Clone, Copy)]
pub(crate) struct NextStatus {
    pub status: Status,
    pub since: i64,
    /// Length of the break once it starts (unused for Offline).
    pub duration_ms: i64,
}

/// A contact in an agent's snapshot: the wire entry, kept up to date.
#[derive(Debug, Clone)]
pub(crate) struct Slot {
    pub key: Key,
    pub medium: Medium,
    pub entry: AgentContact,
}

/// An agent at this moment.
#[derive(Debug)]
pub(crate) struct AgentState {
    pub logged_in: bool,
    pub status: Status,
    pub status_since: i64,
    /// Bumped on every status change; stale break-end timers carry an old epoch.
    pub status_epoch: u64,
    pub next_status: Option<NextStatus>,
    pub slots: Vec<Slot>,
    /// Contacts routed to the agent but not offered yet.
    pub reserved: Vec<(Key, Medium)>,
    /// When the agent last became free (longest-idle routing).
    pub idle_since: i64,
    /// Time of the last published event (heartbeats fill 120 s gaps).
    pub last_event: i64,
    /// Heartbeats stop at this time (one hour after logout).
    pub heartbeat_until: i64,
    pub heartbeat_pending: bool,
    /// The snapshot published last; becomes the next event's `PreviousAgentSnapshot`.
    pub last_snapshot: Option<AgentSnapshot>,
    /// Delivery time of the last event: one agent's events keep their order in Kinesis.
    pub delivery_floor: i64,
    pub shift_end: i64,
}

impl AgentState {
    pub fn new(start: i64) -> Self {
        Self {
            logged_in: false,
            status: Status::Offline,
            status_since: start,
            status_epoch: 0,
            next_status: None,
            slots: Vec::new(),
            reserved: Vec::new(),
            idle_since: start,
            last_event: start,
            heartbeat_until: start,
            heartbeat_pending: false,
            last_snapshot: None,
            delivery_floor: start,
            shift_end: start,
        }
    }

    pub fn is_free(&self) -> bool {
        self.slots.is_empty() && self.reserved.is_empty()
    }

    /// Chat contacts held or reserved.
    pub fn chats(&self) -> usize {
        self.slots
            .iter()
            .filter(|s| s.medium == Medium::Chat)
            .count()
            + self.reserved.iter().filter(|r| r.1 == Medium::Chat).count()
    }
}

/// Where a contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Phase {
    /// In the contact flow (IVR) before queueing.
    Flow,
    /// Waiting in its queue.
    Waiting,
    /// Routed to an agent, offer about to start.
    Routed,
    /// Offered (ringing) or dialing.
    Offered,
    /// Connected to an agent (talking or on hold).
    Connected,
    /// Disconnected; the agent is in after-contact work.
    AfterWork,
}

/// A contact in flight.
#[derive(Debug)]
pub(crate) struct Contact {
    pub id: String,
    pub initial_id: Option<String>,
    pub previous_id: Option<String>,
    pub next_id: Option<String>,
    pub medium: Medium,
    pub method: InitiationMethod,
    pub queue: usize,
    pub customer_number: Option<String>,
    pub system_number: Option<String>,
    pub phase: Phase,
    pub initiated: i64,
    pub connected_to_system: Option<i64>,
    pub enqueued: Option<i64>,
    pub dequeued: Option<i64>,
    pub patience_deadline: i64,
    pub agent: Option<u32>,
    pub offers: u32,
    pub connected: Option<i64>,
    /// Conversation plan: talk, hold, talk, hold, ..., talk (ms), and the current step.
    pub plan: Vec<i64>,
    pub step: usize,
    pub holds: u32,
    pub hold_started: Option<i64>,
    pub hold_total_ms: i64,
    pub hold_longest_ms: i64,
    pub disconnected: Option<i64>,
    pub disconnect_reason: Option<DisconnectReason>,
    pub acw_end: Option<i64>,
    /// Queue a handled contact is transferred to when its conversation ends.
    pub transfer_to: Option<usize>,
    pub attributes: BTreeMap<String, String>,
}

impl Contact {
    pub fn new(
        id: String,
        medium: Medium,
        method: InitiationMethod,
        queue: usize,
        initiated: i64,
    ) -> Self {
        Self {
            id,
            initial_id: None,
            previous_id: None,
            next_id: None,
            medium,
            method,
            queue,
            customer_number: None,
            system_number: None,
            phase: Phase::Flow,
            initiated,
            connected_to_system: None,
            enqueued: None,
            dequeued: None,
            patience_deadline: i64::MAX,
            agent: None,
            offers: 0,
            connected: None,
            plan: Vec::new(),
            step: 0,
            holds: 0,
            hold_started: None,
            hold_total_ms: 0,
            hold_longest_ms: 0,
            disconnected: None,
            disconnect_reason: None,
            acw_end: None,
            transfer_to: None,
            attributes: BTreeMap::new(),
        }
    }
}
