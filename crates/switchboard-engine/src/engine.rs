//! The engine: applies decoded records to agent states, contact timelines, metrics and
//! alerts, and accumulates what changed until the caller takes it to store.
//!
//! Pure and deterministic: no I/O, no clock. Time comes from the records, or from
//! [`Engine::tick`] in live mode. Its whole state can be rebuilt with
//! [`Engine::restore`] from what the store saved, so a restart continues exactly.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use bytes::Bytes;
use serde::{Deserialize, Serialize};
use switchboard_model::view::{AgentEventView, ContactEventView, ContactRecordView, RecordView};
use switchboard_model::{ContactEventType, Record, RecordKind, Timestamp};

use crate::agent::{AgentOutcome, AgentState, EffectiveState};
use crate::alerts::{AlertConfig, AlertContext, AlertEvent, AlertKind, Alerts, Watch};
use crate::contact::{ContactOutcome, ContactPhase, ContactTimeline, NewEntry, Trigger};
use crate::metrics::{MetricCell, MetricKey, RecordSummary};
use crate::transition::Transition;

/// Engine settings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EngineConfig {
    /// Service-level threshold in seconds (answered within it counts as in service level).
    #[serde(default = "default_sl")]
    pub service_level_s: i64,
    /// Per-queue service-level thresholds, by queue name.
    #[serde(default)]
    pub service_level_by_queue: BTreeMap<String, i64>,
    #[serde(default)]
    pub alerts: AlertConfig,
    /// Seconds of event time a contact stays in memory after it ended (disconnected or
    /// completed) and nothing more happened to it. After that only the store holds it: a
    /// late record or event for it is applied to the copy read back from the store, with
    /// the same result. 0 evicts at the first commit after it ended.
    #[serde(default = "default_evict_after")]
    pub evict_after_s: i64,
    /// Seconds of event time after which a contact that never ended (its end was never
    /// delivered) leaves memory all the same.
    #[serde(default = "default_evict_idle")]
    pub evict_idle_s: i64,
}

fn default_sl() -> i64 {
    20
}

fn default_evict_after() -> i64 {
    3600
}

fn default_evict_idle() -> i64 {
    24 * 3600
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            service_level_s: default_sl(),
            service_level_by_queue: BTreeMap::new(),
            alerts: AlertConfig::default(),
            evict_after_s: default_evict_after(),
            evict_idle_s: default_evict_idle(),
        }
    }
}

impl EngineConfig {
    fn sl_threshold(&self, queue: Option<&str>) -> i64 {
        queue
            .and_then(|q| self.service_level_by_queue.get(q))
            .copied()
            .unwrap_or(self.service_level_s)
    }
}

/// What applying one record did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Applied {
    Applied,
    /// Already applied (same EventId, event id, or a record no newer than the one held).
    Duplicate,
    /// An agent event older than one already applied for the same agent.
    Stale,
}

/// Counts of what the engine has seen.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Counters {
    pub agent_events: u64,
    pub contact_events: u64,
    pub contact_records: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub transitions: u64,
}

/// A contact waiting in a queue.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Waiting {
    pub contact_id: String,
    pub since: Timestamp,
}

/// Engine state other than agents and contacts.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct EngineMeta {
    /// Newest agent-event time seen: the clock of agent alerts.
    pub agent_clock: Option<Timestamp>,
    /// Newest contact-event time seen: the clock of queue alerts.
    pub contact_clock: Option<Timestamp>,
    /// Queue ARN → name, learnt from agent events and contact records (contact events
    /// carry only the ARN).
    pub queue_names: BTreeMap<String, String>,
    /// Contacts waiting, by queue.
    pub waiting: BTreeMap<String, Vec<Waiting>>,
    #[serde(with = "alerts_serde")]
    pub alerts: Alerts,
    pub counters: Counters,
}

/// Alerts keep maps keyed by structs, which JSON cannot key on: go through a list form.
mod alerts_serde {
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    use crate::alerts::Alerts;

    pub fn serialize<S: Serializer>(a: &Alerts, s: S) -> Result<S::Ok, S::Error> {
        a.to_parts().serialize(s)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Alerts, D::Error> {
        Ok(Alerts::from_parts(Deserialize::deserialize(d)?))
    }
}

/// What changed since the last [`Engine::take_changes`].
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub transitions: Vec<Transition>,
    pub triggers: Vec<Trigger>,
    pub alerts: Vec<AlertEvent>,
    /// Deltas to add to the stored metric cells.
    pub metric_deltas: BTreeMap<MetricKey, MetricCell>,
    /// Contact records accepted (new, or newer than the copy held).
    pub records: Vec<AcceptedRecord>,
    /// Timeline entries added, in the order they were added.
    pub entries: Vec<NewEntry>,
    pub dirty_agents: BTreeSet<String>,
    pub dirty_contacts: BTreeSet<String>,
}

impl Changes {
    /// Appends `other` (later changes) to these.
    pub fn merge(&mut self, other: Changes) {
        self.transitions.extend(other.transitions);
        self.triggers.extend(other.triggers);
        self.alerts.extend(other.alerts);
        for (k, c) in other.metric_deltas {
            self.metric_deltas.entry(k).or_default().add(&c, 1);
        }
        self.records.extend(other.records);
        self.entries.extend(other.entries);
        self.dirty_agents.extend(other.dirty_agents);
        self.dirty_contacts.extend(other.dirty_contacts);
    }

    pub fn is_empty(&self) -> bool {
        self.transitions.is_empty()
            && self.triggers.is_empty()
            && self.alerts.is_empty()
            && self.metric_deltas.is_empty()
            && self.records.is_empty()
            && self.entries.is_empty()
            && self.dirty_agents.is_empty()
            && self.dirty_contacts.is_empty()
    }
}

/// A contact record the engine accepted, as the store keeps it: its original bytes.
#[derive(Debug, Clone, PartialEq)]
pub struct AcceptedRecord {
    pub contact_id: String,
    pub last_update_timestamp: Timestamp,
    /// The record exactly as it arrived.
    pub raw: Bytes,
}

/// The engine's maps by id: foldhash (randomly seeded per process, as std's SipHash is)
/// hashes the ARNs and contact ids of every record several times faster.
type Map<V> = HashMap<String, V, foldhash::fast::RandomState>;

/// The engine.
#[derive(Debug, Default)]
pub struct Engine {
    config: EngineConfig,
    agents: Map<Box<AgentState>>,
    contacts: Map<Box<ContactTimeline>>,
    /// Metric summary of the last record applied per contact.
    meta: EngineMeta,
    changes: Changes,
    scratch: Vec<Transition>,
    triggers_scratch: Vec<Trigger>,
}

/// 64-bit FNV-1a: a stable hash for dedupe ids (stored, so it must never change).
pub fn id_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

/// The two event-time clocks.
#[derive(Clone, Copy)]
enum Stream {
    Agent,
    Contact,
}

const AGENT_ALERTS: &[AlertKind] = &[
    AlertKind::LongHold,
    AlertKind::LongAcw,
    AlertKind::LongStatus,
];
const QUEUE_ALERTS: &[AlertKind] = &[AlertKind::LongQueueWait];

impl Engine {
    pub fn new(config: EngineConfig) -> Self {
        Self {
            config,
            ..Self::default()
        }
    }

    /// Rebuilds an engine from saved state.
    pub fn restore(
        config: EngineConfig,
        agents: impl IntoIterator<Item = AgentState>,
        contacts: impl IntoIterator<Item = ContactTimeline>,
        meta: EngineMeta,
    ) -> Self {
        Self {
            config,
            agents: agents
                .into_iter()
                .map(|mut a| {
                    // Derived, so derived again: a custom status named like a built-in
                    // state ("available") would not survive its text form.
                    a.effective = a.compute_effective();
                    (a.agent_arn.clone(), Box::new(a))
                })
                .collect(),
            contacts: contacts
                .into_iter()
                .map(|c| (c.contact_id.clone(), Box::new(c)))
                .collect(),
            meta,
            ..Self::default()
        }
    }

    pub fn config(&self) -> &EngineConfig {
        &self.config
    }

    /// Applies one record made in memory (tests, the simulator): it goes through its
    /// JSON form and [`Engine::apply_view`], as a decoded record does.
    pub fn apply(&mut self, record: &Record) -> Applied {
        let raw = Bytes::from(serde_json::to_vec(record).unwrap_or_default());
        let detail_only = matches!(record, Record::ContactEvent(e) if e.detail_only);
        match RecordView::parse(record.kind(), detail_only, &raw) {
            Ok(view) => self.apply_view(&view, &raw),
            // A model always re-reads as its view: its required fields are the view's.
            Err(_) => {
                self.meta.counters.duplicates += 1;
                Applied::Duplicate
            }
        }
    }

    /// Applies one record: the fields the engine reads (`view`) and its original bytes
    /// (`raw`, kept for a contact record).
    pub fn apply_view(&mut self, view: &RecordView<'_>, raw: &Bytes) -> Applied {
        debug_assert!(view.kind() != RecordKind::ContactRecord || !raw.is_empty());
        let applied = match view {
            RecordView::AgentEvent(e) => self.apply_agent_event(e),
            RecordView::ContactEvent(e) => self.apply_contact_event(e),
            RecordView::ContactRecord(r) => self.apply_record(r, raw),
        };
        match applied {
            Applied::Duplicate => self.meta.counters.duplicates += 1,
            Applied::Stale => self.meta.counters.stale += 1,
            Applied::Applied => {}
        }
        applied
    }

    fn apply_agent_event(&mut self, e: &AgentEventView<'_>) -> Applied {
        self.meta.counters.agent_events += 1;
        // Conditions that outlasted their threshold before this event raise first: the
        // event may be the one that ends them.
        self.advance_clock(Stream::Agent, e.event_timestamp);
        self.learn_queue_names(e);
        let arn: &str = &e.agent_arn;
        if !self.agents.contains_key(arn) {
            let state = Box::new(AgentState::first_sight(e));
            self.agents.insert(arn.to_owned(), state);
        }
        let Some(agent) = self.agents.get_mut(arn) else {
            return Applied::Stale;
        };
        let mut transitions = std::mem::take(&mut self.scratch);
        let outcome = agent.apply(e, id_hash(&e.event_id), &mut transitions);
        match outcome {
            AgentOutcome::Duplicate => {
                self.scratch = transitions;
                return Applied::Duplicate;
            }
            AgentOutcome::Stale => {
                self.scratch = transitions;
                return Applied::Stale;
            }
            AgentOutcome::Applied => {}
        }
        let at = e.event_timestamp;
        let watches = agent_watches(agent);
        if !self.changes.dirty_agents.contains(arn) {
            self.changes.dirty_agents.insert(arn.to_owned());
        }
        self.meta.counters.transitions += transitions.len() as u64;
        for t in transitions.drain(..) {
            if let Some(cid) = &t.contact_id {
                let timeline = self
                    .contacts
                    .entry(cid.clone())
                    .or_insert_with(|| Box::new(ContactTimeline::new(cid, t.at)));
                timeline.apply_transition(&t, &mut self.changes.triggers);
                timeline.take_fresh(&mut self.changes.entries);
                self.changes.dirty_contacts.insert(cid.clone());
            }
            self.changes.transitions.push(t);
        }
        self.scratch = transitions;

        self.meta.alerts.set_conditions(
            &self.config.alerts,
            arn,
            watches,
            at,
            &mut self.changes.alerts,
        );
        Applied::Applied
    }

    fn learn_queue_names(&mut self, e: &AgentEventView<'_>) {
        // One snapshot's routing profile is enough: both snapshots carry the same one
        // unless it just changed, and then the next event brings it again.
        let profile = [&e.current, &e.previous]
            .into_iter()
            .flatten()
            .find_map(|s| s.configuration.as_ref()?.routing_profile.as_ref());
        let Some(rp) = profile else { return };
        let queues = rp
            .inbound_queues
            .iter()
            .flatten()
            .chain(rp.default_outbound_queue.iter());
        for q in queues {
            if let (Some(arn), Some(name)) = (&q.arn, &q.name) {
                if !self.meta.queue_names.contains_key(arn.as_str()) {
                    self.meta
                        .queue_names
                        .insert(arn.to_string(), name.to_string());
                }
            }
        }
    }

    fn apply_contact_event(&mut self, e: &ContactEventView<'_>) -> Applied {
        self.meta.counters.contact_events += 1;
        let d = &e.detail;
        let queue_arn = d.queue_info.as_ref().and_then(|q| q.queue_arn.as_deref());
        let queue_name = queue_arn.map(|arn| self.queue_name(arn));
        let at = d.event_time().or(e.time);
        if let Some(at) = at {
            self.advance_clock(Stream::Contact, at);
        }
        let cid: &str = &d.contact_id;
        if !self.contacts.contains_key(cid) {
            let timeline = ContactTimeline::new(cid, at.unwrap_or(Timestamp::from_millis(0)));
            self.contacts.insert(cid.to_owned(), Box::new(timeline));
        }
        let Some(timeline) = self.contacts.get_mut(cid) else {
            return Applied::Duplicate;
        };
        let outcome = timeline.apply_event(
            e,
            id_hash(&e.dedupe_key()),
            queue_name.clone(),
            &mut self.changes.triggers,
        );
        if outcome == ContactOutcome::Duplicate {
            return Applied::Duplicate;
        }
        timeline.take_fresh(&mut self.changes.entries);
        let phase = timeline.phase;
        let queue = timeline.queue.clone().or(queue_name);
        if !self.changes.dirty_contacts.contains(cid) {
            self.changes.dirty_contacts.insert(cid.to_owned());
        }

        // Live queue: who is waiting where.
        if let Some(queue) = queue {
            let waiting = self.meta.waiting.entry(queue.clone()).or_default();
            let before = waiting.len();
            match d.event_type {
                ContactEventType::Queued if phase == ContactPhase::Queued => {
                    let since = d
                        .queue_info
                        .as_ref()
                        .and_then(|q| q.enqueue_timestamp.and_then(Timestamp::get))
                        .or(at)
                        .unwrap_or(Timestamp::from_millis(0));
                    if !waiting.iter().any(|w| w.contact_id == cid) {
                        waiting.push(Waiting {
                            contact_id: cid.to_owned(),
                            since,
                        });
                    }
                }
                _ if phase > ContactPhase::Queued => waiting.retain(|w| w.contact_id != cid),
                _ => {}
            }
            if waiting.len() != before {
                let watches = waiting
                    .iter()
                    .map(|w| Watch {
                        kind: AlertKind::LongQueueWait,
                        subject: queue.clone(),
                        detail: w.contact_id.clone(),
                        since_ms: w.since.millis(),
                    })
                    .collect();
                if waiting.is_empty() {
                    self.meta.waiting.remove(&queue);
                }
                let at = at.unwrap_or(Timestamp::from_millis(0));
                self.meta.alerts.set_conditions(
                    &self.config.alerts,
                    &queue,
                    watches,
                    at,
                    &mut self.changes.alerts,
                );
            }
        }
        Applied::Applied
    }

    fn apply_record(&mut self, r: &ContactRecordView<'_>, raw: &Bytes) -> Applied {
        self.meta.counters.contact_records += 1;
        if let Some(q) = &r.queue {
            if let (Some(arn), Some(name)) = (&q.arn, &q.name) {
                if !self.meta.queue_names.contains_key(arn.as_str()) {
                    self.meta
                        .queue_names
                        .insert(arn.to_string(), name.to_string());
                }
            }
        }
        let cid: &str = &r.contact_id;
        if !self.contacts.contains_key(cid) {
            let timeline = ContactTimeline::new(cid, r.last_update_timestamp);
            self.contacts.insert(cid.to_owned(), Box::new(timeline));
        }
        let Some(timeline) = self.contacts.get_mut(cid) else {
            return Applied::Duplicate;
        };
        let previous = timeline.record_summary.take();
        let mut triggers = std::mem::take(&mut self.triggers_scratch);
        if timeline.apply_record(r, &mut triggers) == ContactOutcome::Duplicate {
            timeline.record_summary = previous;
            self.triggers_scratch = triggers;
            return Applied::Duplicate;
        }
        timeline.take_fresh(&mut self.changes.entries);
        let summary = RecordSummary::of(r);
        let sl = self.config.sl_threshold(summary.queue.as_deref());
        if let Some(old) = &previous {
            let old_sl = self.config.sl_threshold(old.queue.as_deref());
            for (k, c) in old.contributions(old_sl) {
                self.changes.metric_deltas.entry(k).or_default().add(&c, -1);
            }
        }
        for (k, c) in summary.contributions(sl) {
            self.changes.metric_deltas.entry(k).or_default().add(&c, 1);
        }
        timeline.record_summary = Some(Box::new(summary));
        self.changes.triggers.append(&mut triggers);
        self.triggers_scratch = triggers;
        self.changes.records.push(AcceptedRecord {
            contact_id: cid.to_owned(),
            last_update_timestamp: r.last_update_timestamp,
            raw: raw.clone(),
        });
        self.changes.dirty_contacts.insert(cid.to_owned());
        Applied::Applied
    }

    fn queue_name(&self, arn: &str) -> String {
        self.meta
            .queue_names
            .get(arn)
            .cloned()
            .unwrap_or_else(|| switchboard_model::common::arn_tail(arn).to_owned())
    }

    fn fire_alerts(&mut self, kinds: &[AlertKind], clock: Timestamp) {
        let agents = &self.agents;
        let context = |w: &Watch| match w.kind {
            AlertKind::LongQueueWait => AlertContext {
                username: None,
                queue: Some(w.subject.clone()),
            },
            _ => {
                let agent = agents.get(&w.subject);
                let queue = agent.and_then(|a| {
                    a.contacts
                        .iter()
                        .find(|c| c.contact_id == w.detail)?
                        .queue
                        .clone()
                });
                AlertContext {
                    username: agent.and_then(|a| a.username.clone()),
                    queue,
                }
            }
        };
        self.meta.alerts.advance(
            &self.config.alerts,
            kinds,
            clock,
            &context,
            &mut self.changes.alerts,
        );
    }

    /// Moves a stream's clock forward to `at` (never back) and raises the alerts whose
    /// deadline it passed.
    fn advance_clock(&mut self, stream: Stream, at: Timestamp) {
        let (clock, kinds) = match stream {
            Stream::Agent => (&mut self.meta.agent_clock, AGENT_ALERTS),
            Stream::Contact => (&mut self.meta.contact_clock, QUEUE_ALERTS),
        };
        if clock.is_some_and(|c| at <= c) {
            return;
        }
        *clock = Some(at);
        self.fire_alerts(kinds, at);
    }

    /// Advances both clocks to `now` (live mode) and raises what became due.
    pub fn tick(&mut self, now: Timestamp) {
        self.advance_clock(Stream::Agent, now);
        self.advance_clock(Stream::Contact, now);
    }

    /// Takes everything that changed since the last call.
    pub fn take_changes(&mut self) -> Changes {
        std::mem::take(&mut self.changes)
    }

    /// Sets the name of a queue (by ARN), as the instance lists it (the Connect API at
    /// start-up): contact events carry only the ARN. Saved with the next commit.
    pub fn set_queue_name(&mut self, arn: &str, name: &str) {
        self.meta
            .queue_names
            .insert(arn.to_owned(), name.to_owned());
    }

    /// Replaces what the engine knows of one agent with `state`, read back from a store
    /// other workers write too: when a Kinesis shard moves to this worker, another may
    /// have applied that shard's agents' events since this engine last saw them.
    pub fn replace_agent(&mut self, mut state: AgentState) {
        // Derived, so derived again (as in `restore`).
        state.effective = state.compute_effective();
        self.agents.insert(state.agent_arn.clone(), Box::new(state));
    }

    /// Takes from `stored` (a contact's timeline read back from a store other workers
    /// write too) what it knows of the contact's *record* that this engine does not: the
    /// newest record's time and metric contribution, the phase it implies, the triggers
    /// it fired. When a Kinesis shard of contact records moves to this worker, another
    /// worker may have applied records of its contacts since this engine last saw them;
    /// without this their replay from the lease checkpoint would count their metrics
    /// again. The rest of the timeline (fed by agent events, possibly not committed yet)
    /// stays as this engine has it.
    pub fn adopt_contact_record(&mut self, stored: &ContactTimeline) {
        let Some(stored_at) = stored.record_updated_at else {
            return;
        };
        let Some(mine) = self.contacts.get_mut(&stored.contact_id) else {
            self.contacts
                .insert(stored.contact_id.clone(), Box::new(stored.clone()));
            return;
        };
        if mine.record_updated_at.is_some_and(|t| t >= stored_at) {
            return;
        }
        mine.record_updated_at = Some(stored_at);
        mine.record_summary = stored.record_summary.clone();
        mine.phase = mine.phase.max(stored.phase);
        mine.completed_fired |= stored.completed_fired;
        mine.record_ready_fired |= stored.record_ready_fired;
    }

    /// The contacts `record` would touch that this engine does not hold: the caller reads
    /// them back from its store (they may have been evicted, see [`Engine::evict`]) and
    /// hands them over with [`Engine::insert_contact`] before applying the record. The
    /// engine itself does no I/O.
    pub fn missing_contacts(&self, record: &RecordView<'_>) -> Vec<String> {
        let mut out = Vec::new();
        let mut want = |id: &str| {
            if !id.is_empty() && !self.contacts.contains_key(id) && !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        };
        match record {
            RecordView::ContactEvent(e) => want(e.detail.contact_id.as_str()),
            RecordView::ContactRecord(r) => want(r.contact_id.as_str()),
            RecordView::AgentEvent(e) => {
                // Transitions name the contacts of either snapshot or of the agent's own
                // view (a contact that left both snapshots is cleared).
                for snap in [&e.current, &e.previous].into_iter().flatten() {
                    for c in snap.contacts() {
                        want(c.contact_id.as_str());
                    }
                }
                if let Some(agent) = self.agents.get(e.agent_arn.as_str()) {
                    for c in &agent.contacts {
                        want(&c.contact_id);
                    }
                }
            }
        }
        out
    }

    /// Takes back a contact read from the store (see [`Engine::missing_contacts`]); a
    /// contact already held is kept as it is.
    pub fn insert_contact(&mut self, contact: ContactTimeline) {
        self.contacts
            .entry(contact.contact_id.clone())
            .or_insert_with(|| Box::new(contact));
    }

    /// Drops from memory the contacts that ended more than `evict_after_s` before `now`
    /// (event time), and those idle for more than `evict_idle_s`; returns how many. Call
    /// it only once their changes are stored: from then on the store is their only copy.
    pub fn evict(&mut self, now: Timestamp) -> usize {
        let ended_before = now
            .millis()
            .saturating_sub(self.config.evict_after_s.saturating_mul(1000));
        let idle_before = now
            .millis()
            .saturating_sub(self.config.evict_idle_s.saturating_mul(1000));
        let before = self.contacts.len();
        self.contacts.retain(|_, c| {
            let last = c.last_activity.millis();
            if c.is_active() {
                last > idle_before
            } else {
                last > ended_before
            }
        });
        let evicted = before - self.contacts.len();
        // A burst (a backlog replayed) leaves a large table behind: give it back.
        if self.contacts.capacity() > 1024 && self.contacts.len() < self.contacts.capacity() / 4 {
            self.contacts.shrink_to_fit();
        }
        evicted
    }

    /// The newer of the two event clocks: the engine's idea of "now".
    pub fn clock(&self) -> Option<Timestamp> {
        self.meta.agent_clock.max(self.meta.contact_clock)
    }

    pub fn agent(&self, arn: &str) -> Option<&AgentState> {
        self.agents.get(arn).map(|b| &**b)
    }

    pub fn agents(&self) -> impl Iterator<Item = &AgentState> {
        self.agents.values().map(|b| &**b)
    }

    pub fn contact(&self, id: &str) -> Option<&ContactTimeline> {
        self.contacts.get(id).map(|b| &**b)
    }

    pub fn contacts(&self) -> impl Iterator<Item = &ContactTimeline> {
        self.contacts.values().map(|b| &**b)
    }

    pub fn meta(&self) -> &EngineMeta {
        &self.meta
    }

    pub fn counters(&self) -> Counters {
        self.meta.counters
    }
}

/// The alert conditions that hold for an agent now.
fn agent_watches(agent: &AgentState) -> BTreeSet<Watch> {
    let mut w = BTreeSet::new();
    let subject = &agent.agent_arn;
    if let Some((c, since)) = agent.hold_since() {
        w.insert(Watch {
            kind: AlertKind::LongHold,
            subject: subject.clone(),
            detail: c.contact_id.clone(),
            since_ms: since.millis(),
        });
    }
    if let Some((c, since)) = agent.acw_since() {
        w.insert(Watch {
            kind: AlertKind::LongAcw,
            subject: subject.clone(),
            detail: c.contact_id.clone(),
            since_ms: since.millis(),
        });
    }
    if let EffectiveState::Custom(name) = &agent.effective {
        let since = agent
            .status
            .as_ref()
            .and_then(|s| s.since)
            .unwrap_or(agent.effective_since);
        w.insert(Watch {
            kind: AlertKind::LongStatus,
            subject: subject.clone(),
            detail: name.clone(),
            since_ms: since.millis(),
        });
    }
    w
}
