//! What the API and the live feed say about agents, queues and contacts: flat, documented
//! shapes built from the engine's state (and the store's rows), with every field present
//! (`null` when unknown), so the OpenAPI document can require them all.
//!
//! The same builders serve the snapshot routes (`/api/agents`, `/api/queues`...) and the
//! feed, so a tile drawn from a snapshot and one updated from the feed cannot disagree.

use std::collections::BTreeMap;

use serde::Serialize;
use switchboard_engine::agent::AgentContactView;
use switchboard_engine::contact::{ContactPhase, TimelineEntry};
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{AgentState, ContactTimeline, EffectiveState, Engine, MetricCell};
use switchboard_model::{ContactRecord, Timestamp};

use crate::mask;

/// The engine's clock: the newest event time it has seen on either stream (advanced by
/// `Engine::tick` in live mode).
pub fn engine_now(engine: &Engine) -> Option<Timestamp> {
    let meta = engine.meta();
    match (meta.agent_clock, meta.contact_clock) {
        (Some(a), Some(c)) => Some(a.max(c)),
        (a, c) => a.or(c),
    }
}

/// One seat-map tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentView {
    pub agent_arn: String,
    pub username: Option<String>,
    /// First and last name.
    pub name: Option<String>,
    pub routing_profile: Option<String>,
    /// Hierarchy group names, top level first.
    pub hierarchy: Vec<String>,
    /// The routing profile's inbound queues.
    pub queues: Vec<String>,
    /// Effective state: `offline`, `available`, `on_contact`, `on_hold`,
    /// `after_contact_work`, `missed`, or a custom status name.
    pub state: String,
    /// `state` without the custom names: what a tile's colour depends on.
    pub state_kind: &'static str,
    /// When the effective state began.
    pub since: Timestamp,
    /// The status the agent chose (which can differ from the effective state).
    pub status: Option<StatusView>,
    pub contacts: Vec<AgentContact>,
}

/// The agent's chosen status.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct StatusView {
    pub name: String,
    /// `ROUTABLE`, `CUSTOM` or `OFFLINE`.
    pub kind: String,
    pub since: Option<Timestamp>,
}

/// A contact an agent has now.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentContact {
    pub contact_id: String,
    pub channel: Option<String>,
    pub queue: Option<String>,
    /// Connect's contact state: `INCOMING`, `CONNECTING`, `CONNECTED`,
    /// `CONNECTED_ONHOLD`, `ENDED` (after-contact work), `MISSED`...
    pub state: String,
    pub since: Timestamp,
    pub connected_at: Option<Timestamp>,
}

/// The colour class of an effective state.
pub fn state_kind(state: &EffectiveState) -> &'static str {
    match state {
        EffectiveState::Offline => "offline",
        EffectiveState::Available => "available",
        EffectiveState::OnContact => "on_contact",
        EffectiveState::OnHold => "on_hold",
        EffectiveState::AfterContactWork => "after_contact_work",
        EffectiveState::Missed => "missed",
        EffectiveState::Custom(_) => "custom",
    }
}

impl AgentView {
    pub fn of(a: &AgentState) -> Self {
        let name = match (&a.first_name, &a.last_name) {
            (Some(f), Some(l)) => Some(format!("{f} {l}")),
            (f, l) => f.clone().or_else(|| l.clone()),
        };
        AgentView {
            agent_arn: a.agent_arn.clone(),
            username: a.username.clone(),
            name,
            routing_profile: a.routing_profile.clone(),
            hierarchy: a.hierarchy.clone(),
            queues: a.queues.clone(),
            state: a.effective.as_str().to_owned(),
            state_kind: state_kind(&a.effective),
            since: a.effective_since,
            status: a.status.as_ref().map(|s| StatusView {
                name: s.name.clone(),
                kind: s.kind.clone(),
                since: s.since,
            }),
            contacts: a.contacts.iter().map(AgentContact::of).collect(),
        }
    }
}

impl AgentContact {
    fn of(c: &AgentContactView) -> Self {
        AgentContact {
            contact_id: c.contact_id.clone(),
            channel: c.channel.as_ref().map(|ch| ch.as_str().to_owned()),
            queue: c.queue.clone(),
            state: c.state.as_str().to_owned(),
            since: c.since,
            connected_at: c.connected_at,
        }
    }
}

/// How an agent counts on a queue board.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Seat {
    Offline,
    Available,
    OnContact,
    AfterContactWork,
    /// Logged in, in a custom status or with a missed contact.
    Away,
}

impl Seat {
    pub fn of(state: &EffectiveState) -> Self {
        match state {
            EffectiveState::Offline => Seat::Offline,
            EffectiveState::Available => Seat::Available,
            EffectiveState::OnContact | EffectiveState::OnHold => Seat::OnContact,
            EffectiveState::AfterContactWork => Seat::AfterContactWork,
            EffectiveState::Missed | EffectiveState::Custom(_) => Seat::Away,
        }
    }
}

/// Agents of one queue, by seat.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct SeatCounts {
    pub staffed: i64,
    pub available: i64,
    pub on_contact: i64,
    pub after_contact_work: i64,
}

impl SeatCounts {
    /// Adds (`sign` 1) or removes (-1) one agent in `seat`.
    pub fn add(&mut self, seat: Seat, sign: i64) {
        if seat != Seat::Offline {
            self.staffed += sign;
        }
        match seat {
            Seat::Available => self.available += sign,
            Seat::OnContact => self.on_contact += sign,
            Seat::AfterContactWork => self.after_contact_work += sign,
            Seat::Offline | Seat::Away => {}
        }
    }
}

/// Seat counts of every queue some agent serves, from scratch.
pub fn seat_counts(engine: &Engine) -> BTreeMap<String, SeatCounts> {
    let mut out: BTreeMap<String, SeatCounts> = BTreeMap::new();
    for agent in engine.agents() {
        let seat = Seat::of(&agent.effective);
        for q in &agent.queues {
            out.entry(q.clone()).or_default().add(seat, 1);
        }
    }
    out
}

/// Contacts waiting in a queue: how many, and since when the oldest.
pub fn waiting(engine: &Engine, queue: &str) -> (usize, Option<Timestamp>) {
    match engine.meta().waiting.get(queue) {
        Some(w) => (w.len(), w.iter().map(|w| w.since).min()),
        None => (0, None),
    }
}

/// One queue tile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct QueueView {
    pub name: String,
    /// Contacts in the queue now.
    pub waiting: usize,
    /// When the oldest of them entered the queue.
    pub oldest_waiting_since: Option<Timestamp>,
    /// How long it has waited, in seconds, by the engine's clock.
    pub oldest_wait_s: Option<i64>,
    /// Agents serving the queue (it is in their routing profile) who are logged in and
    /// not offline.
    pub agents_staffed: i64,
    pub agents_available: i64,
    /// On a contact or holding one.
    pub agents_on_contact: i64,
    pub agents_after_contact_work: i64,
}

impl QueueView {
    pub fn new(
        name: &str,
        counts: SeatCounts,
        (waiting, oldest): (usize, Option<Timestamp>),
        now: Option<Timestamp>,
    ) -> Self {
        let oldest_wait_s = oldest.map(|o| {
            let now = now.unwrap_or(o).max(o);
            (now.millis() - o.millis()) / 1000
        });
        QueueView {
            name: name.to_owned(),
            waiting,
            oldest_waiting_since: oldest,
            oldest_wait_s,
            agents_staffed: counts.staffed,
            agents_available: counts.available,
            agents_on_contact: counts.on_contact,
            agents_after_contact_work: counts.after_contact_work,
        }
    }
}

/// Every queue: those some agent serves and those with contacts waiting, by name.
pub fn queues(engine: &Engine) -> Vec<QueueView> {
    let mut counts = seat_counts(engine);
    for q in engine.meta().waiting.keys() {
        counts.entry(q.clone()).or_default();
    }
    let now = engine_now(engine);
    counts
        .into_iter()
        .map(|(name, c)| QueueView::new(&name, c, waiting(engine, &name), now))
        .collect()
}

/// One contact, without its timeline.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ContactSummary {
    pub contact_id: String,
    /// The first contact of its transfer chain (itself if none).
    pub initial_contact_id: String,
    pub channel: Option<String>,
    pub initiation_method: Option<String>,
    pub queue: Option<String>,
    pub agent_arn: Option<String>,
    pub agent_username: Option<String>,
    /// `initiated`, `queued`, `connected`, `disconnected` or `completed`.
    pub phase: ContactPhase,
    /// Not disconnected yet.
    pub active: bool,
    pub initiated_at: Option<Timestamp>,
    pub queued_at: Option<Timestamp>,
    pub connected_at: Option<Timestamp>,
    pub disconnected_at: Option<Timestamp>,
    /// Time on hold so far (ended holds), from agent events.
    pub hold_ms: i64,
    /// After-contact work, from agent events, once it ended.
    pub acw_ms: Option<i64>,
    /// The contact record arrived.
    pub has_record: bool,
}

impl ContactSummary {
    pub fn of(c: &ContactTimeline) -> Self {
        ContactSummary {
            contact_id: c.contact_id.clone(),
            initial_contact_id: c.initial_contact_id().to_owned(),
            channel: c.channel.clone(),
            initiation_method: c.initiation_method.clone(),
            queue: c.queue.clone(),
            agent_arn: c.agent_arn.clone(),
            agent_username: c.agent_username.clone(),
            phase: c.phase,
            active: c.is_active(),
            initiated_at: c.initiated_at,
            queued_at: c.queued_at,
            connected_at: c.connected_at,
            disconnected_at: c.disconnected_at,
            hold_ms: c.hold_ms,
            acw_ms: c.acw_ms,
            has_record: c.record_updated_at.is_some(),
        }
    }
}

/// One contact with its joined timeline and, if stored, its contact record.
#[derive(Debug, Clone, Serialize)]
pub struct ContactDetailView {
    pub contact: ContactSummary,
    pub previous_contact_id: Option<String>,
    pub next_contact_id: Option<String>,
    /// User-defined attributes, from the contact record.
    pub attributes: BTreeMap<String, String>,
    /// Contact events, agent transitions and records, in event-time order.
    pub entries: Vec<TimelineEntry>,
    /// The newest copy of the contact record, as Connect wrote it (customer phone
    /// numbers masked if the server masks them).
    pub record: Option<serde_json::Value>,
}

impl ContactDetailView {
    pub fn new(
        timeline: &ContactTimeline,
        record: Option<ContactRecord>,
        mask_phone_numbers: bool,
    ) -> Result<Self, serde_json::Error> {
        let record = record
            .map(|mut r| {
                if mask_phone_numbers {
                    mask::mask_record(&mut r);
                }
                serde_json::to_value(&r)
            })
            .transpose()?;
        Ok(ContactDetailView {
            contact: ContactSummary::of(timeline),
            previous_contact_id: timeline.previous_contact_id.clone(),
            next_contact_id: timeline.next_contact_id.clone(),
            attributes: timeline.attributes.clone(),
            entries: timeline.entries.clone(),
            record,
        })
    }
}

/// Metrics of one queue or agent over one interval: the stored sums and counts, and the
/// averages and ratios computed from them.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricView {
    pub start: Timestamp,
    pub kind: DimensionKind,
    /// Queue name or agent ARN.
    pub id: String,
    /// Queue name or agent username, for display.
    pub label: Option<String>,
    #[serde(flatten)]
    pub cell: MetricCell,
    pub average_handle_time_s: Option<f64>,
    pub average_answer_wait_s: Option<f64>,
    pub service_level: Option<f64>,
    pub abandonment_rate: Option<f64>,
}

impl MetricView {
    pub fn new(
        start: Timestamp,
        kind: DimensionKind,
        id: String,
        label: Option<String>,
        cell: MetricCell,
    ) -> Self {
        MetricView {
            start,
            kind,
            id,
            label,
            average_handle_time_s: cell.average_handle_time(),
            average_answer_wait_s: cell.average_answer_wait(),
            service_level: cell.service_level(),
            abandonment_rate: cell.abandonment_rate(),
            cell,
        }
    }
}

/// A change to one stored 15-minute cell, as the feed pushes it: add `delta` to the
/// cell (`longest_wait_s` is a maximum).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct MetricDelta {
    pub start: Timestamp,
    pub kind: DimensionKind,
    pub id: String,
    pub delta: MetricCell,
}
