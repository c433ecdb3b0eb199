//! Contact timelines: contact events, agent transitions and the contact record joined by
//! ContactId, in event-time order, with the post-contact triggers.
//!
//! Contact events are unordered and best-effort, agent events arrive per agent, and the
//! record comes a minute after the end and maybe again later. So a timeline accepts its
//! pieces in any order, keeps entries sorted by time, dedupes contact events by id and
//! records by `LastUpdateTimestamp`, and fires each trigger once:
//! `contact_completed` at the first sign of the disconnect (attributes still pending) and
//! `contact_record_ready` when the first record arrives.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use switchboard_model::view::{ContactEventView, ContactRecordView};
use switchboard_model::{ContactEventType, Timestamp};

use crate::transition::{Transition, TransitionKind};

/// Where a timeline entry came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrySource {
    ContactEvent,
    AgentEvent,
    ContactRecord,
}

/// One step in a contact's life.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TimelineEntry {
    pub at: Timestamp,
    /// `initiated`, `queued`, `connected_to_agent`, `hold_started`, `acw_ended`,
    /// `disconnected`, `record_received`... (static text for every known kind: timelines
    /// are many, their entries more).
    pub event: Cow<'static, str>,
    pub source: EntrySource,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}

/// Post-contact trigger kinds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TriggerKind {
    /// The contact disconnected; attributes are not known yet.
    ContactCompleted,
    /// The contact record (with attributes) arrived.
    ContactRecordReady,
}

/// A fired trigger.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Trigger {
    #[serde(rename = "type")]
    pub kind: TriggerKind,
    pub contact_id: String,
    pub initial_contact_id: String,
    pub at: Timestamp,
}

/// Where the contact is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ContactPhase {
    Initiated,
    Queued,
    Connected,
    Disconnected,
    Completed,
}

/// Everything known about one contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactTimeline {
    pub contact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub previous_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiation_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_username: Option<String>,
    pub phase: ContactPhase,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initiated_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queued_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub disconnected_at: Option<Timestamp>,
    /// Hold time derived from agent events (sum of `hold_ended` durations).
    #[serde(default)]
    pub hold_ms: i64,
    /// ACW time derived from agent events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub acw_ms: Option<i64>,
    /// User-defined attributes, from the contact record.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_updated_at: Option<Timestamp>,
    #[serde(serialize_with = "serialize_entries")]
    pub entries: Vec<TimelineEntry>,
    #[serde(default)]
    pub completed_fired: bool,
    #[serde(default)]
    pub record_ready_fired: bool,
    /// What the last record contributed to metrics, to take back if it is updated.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub record_summary: Option<Box<crate::metrics::RecordSummary>>,
    /// Hashes of the contact-event ids applied, for dedupe.
    #[serde(default)]
    pub seen_events: Vec<u64>,
    /// Last change in event time (for eviction).
    pub last_activity: Timestamp,
    /// Entries added since the engine last took them, with their arrival number (see
    /// [`NewEntry`]); empty between records.
    #[serde(skip)]
    pub fresh: Vec<(u32, TimelineEntry)>,
}

thread_local! {
    /// Set while [`ContactTimeline::serialize_without_entries`] runs.
    static OMIT_ENTRIES: std::cell::Cell<bool> = const { std::cell::Cell::new(false) };
}

fn serialize_entries<S: serde::Serializer>(
    entries: &[TimelineEntry],
    s: S,
) -> Result<S::Ok, S::Error> {
    if OMIT_ENTRIES.with(|o| o.get()) {
        s.collect_seq(std::iter::empty::<&TimelineEntry>())
    } else {
        s.collect_seq(entries)
    }
}

impl ContactTimeline {
    /// Serializes the timeline with `entries` written as `[]`: for a store that keeps
    /// the entries as rows of their own. Same output as serializing a copy whose entries
    /// were cleared, without the copy.
    pub fn serialize_without_entries<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        struct Reset;
        impl Drop for Reset {
            fn drop(&mut self) {
                OMIT_ENTRIES.with(|o| o.set(false));
            }
        }
        OMIT_ENTRIES.with(|o| o.set(true));
        let _reset = Reset;
        self.serialize(s)
    }
}

/// A timeline entry just added, for a store that keeps entries as rows and writes only
/// new ones. `n` counts the contact's entries in the order they arrived (0, 1, ...):
/// entries sorted by time, equal times in arrival order, are the timeline's order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewEntry {
    pub contact_id: String,
    pub n: u32,
    pub entry: TimelineEntry,
}

/// What applying a piece did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ContactOutcome {
    Applied,
    Duplicate,
}

impl ContactTimeline {
    pub fn new(contact_id: &str, at: Timestamp) -> Self {
        Self {
            contact_id: contact_id.to_owned(),
            initial_contact_id: None,
            previous_contact_id: None,
            next_contact_id: None,
            channel: None,
            initiation_method: None,
            queue: None,
            queue_arn: None,
            agent_arn: None,
            agent_username: None,
            phase: ContactPhase::Initiated,
            initiated_at: None,
            queued_at: None,
            connected_at: None,
            disconnected_at: None,
            hold_ms: 0,
            acw_ms: None,
            attributes: BTreeMap::new(),
            record_updated_at: None,
            record_summary: None,
            entries: Vec::new(),
            completed_fired: false,
            record_ready_fired: false,
            seen_events: Vec::new(),
            last_activity: at,
            fresh: Vec::new(),
        }
    }

    /// Takes the entries added since the last call.
    pub(crate) fn take_fresh(&mut self, out: &mut Vec<NewEntry>) {
        for (n, entry) in self.fresh.drain(..) {
            out.push(NewEntry {
                contact_id: self.contact_id.clone(),
                n,
                entry,
            });
        }
    }

    /// The first contact of the transfer chain (itself if none).
    pub fn initial_contact_id(&self) -> &str {
        self.initial_contact_id
            .as_deref()
            .unwrap_or(&self.contact_id)
    }

    /// True until the contact is disconnected.
    pub fn is_active(&self) -> bool {
        self.phase < ContactPhase::Disconnected
    }

    fn add(&mut self, entry: TimelineEntry) {
        // Entries arrive nearly in order: insert from the back.
        let pos = self
            .entries
            .iter()
            .rposition(|e| e.at <= entry.at)
            .map_or(0, |p| p + 1);
        if entry.at > self.last_activity {
            self.last_activity = entry.at;
        }
        self.fresh.push((self.entries.len() as u32, entry.clone()));
        self.entries.reserve_exact(1);
        self.entries.insert(pos, entry);
    }

    fn advance(&mut self, phase: ContactPhase) {
        if phase > self.phase {
            self.phase = phase;
        }
    }

    fn fire(&mut self, kind: TriggerKind, at: Timestamp, out: &mut Vec<Trigger>) {
        let fired = match kind {
            TriggerKind::ContactCompleted => &mut self.completed_fired,
            TriggerKind::ContactRecordReady => &mut self.record_ready_fired,
        };
        if !*fired {
            *fired = true;
            out.push(Trigger {
                kind,
                contact_id: self.contact_id.clone(),
                initial_contact_id: self.initial_contact_id().to_owned(),
                at,
            });
        }
    }

    /// Applies a contact event (deduped by `id_hash`).
    pub fn apply_event(
        &mut self,
        ev: &ContactEventView<'_>,
        id_hash: u64,
        queue_name: Option<String>,
        out: &mut Vec<Trigger>,
    ) -> ContactOutcome {
        if self.seen_events.contains(&id_hash) {
            return ContactOutcome::Duplicate;
        }
        self.seen_events.push(id_hash);
        let d = &ev.detail;
        let at = d.event_time().or(ev.time).unwrap_or(self.last_activity);
        fill(
            &mut self.initial_contact_id,
            d.initial_contact_id
                .as_deref()
                .filter(|s| *s != &*d.contact_id),
        );
        fill(
            &mut self.previous_contact_id,
            d.previous_contact_id.as_deref(),
        );
        fill(&mut self.channel, d.channel.as_ref().map(|c| c.as_str()));
        fill(
            &mut self.initiation_method,
            d.initiation_method.as_ref().map(|m| m.as_str()),
        );
        if self.initiated_at.is_none() {
            self.initiated_at = d.initiation_timestamp.and_then(Timestamp::get);
        }
        if let Some(q) = &d.queue_info {
            fill(&mut self.queue_arn, q.queue_arn.as_deref());
        }
        fill(&mut self.queue, queue_name.as_deref());
        if let Some(a) = &d.agent_info {
            fill(&mut self.agent_arn, a.agent_arn.as_deref());
        }
        let event = event_name(&d.event_type);
        let mut entry = TimelineEntry {
            at,
            event,
            source: EntrySource::ContactEvent,
            agent_arn: None,
            queue: None,
            duration_ms: None,
        };
        match d.event_type {
            ContactEventType::Queued => {
                self.queued_at = self.queued_at.or(Some(at));
                entry.queue.clone_from(&self.queue);
                self.advance(ContactPhase::Queued);
            }
            ContactEventType::ConnectedToAgent => {
                self.connected_at = self.connected_at.or(Some(at));
                entry.agent_arn.clone_from(&self.agent_arn);
                self.advance(ContactPhase::Connected);
            }
            ContactEventType::Disconnected => {
                self.disconnected_at = self.disconnected_at.or(Some(at));
                self.advance(ContactPhase::Disconnected);
                self.fire(TriggerKind::ContactCompleted, at, out);
            }
            ContactEventType::Completed => {
                self.disconnected_at = self.disconnected_at.or(d.disconnect_timestamp);
                self.advance(ContactPhase::Completed);
                self.fire(TriggerKind::ContactCompleted, at, out);
            }
            _ => {}
        }
        self.add(entry);
        ContactOutcome::Applied
    }

    /// Adds an agent transition about this contact.
    pub fn apply_transition(&mut self, t: &Transition, out: &mut Vec<Trigger>) {
        fill(&mut self.channel, t.channel.as_deref());
        fill(&mut self.queue, t.queue.as_deref());
        match t.kind {
            TransitionKind::ContactConnected => {
                self.agent_arn = Some(t.agent_arn.clone());
                self.agent_username.clone_from(&t.username);
                self.connected_at = self.connected_at.or(Some(t.at));
                self.advance(ContactPhase::Connected);
            }
            TransitionKind::HoldEnded => self.hold_ms += t.duration_ms.unwrap_or(0),
            TransitionKind::AcwStarted => {
                // The customer side is over: the agent is wrapping up.
                self.disconnected_at = self.disconnected_at.or(Some(t.at));
                self.advance(ContactPhase::Disconnected);
                self.fire(TriggerKind::ContactCompleted, t.at, out);
            }
            TransitionKind::AcwEnded => {
                self.acw_ms = Some(self.acw_ms.unwrap_or(0) + t.duration_ms.unwrap_or(0));
                self.advance(ContactPhase::Completed);
            }
            _ => {}
        }
        self.add(TimelineEntry {
            at: t.at,
            event: Cow::Borrowed(t.kind.as_str()),
            source: EntrySource::AgentEvent,
            agent_arn: Some(t.agent_arn.clone()),
            queue: t.queue.clone(),
            duration_ms: t.duration_ms,
        });
    }

    /// Applies a contact record. Returns `Duplicate` for a copy no newer than the one
    /// held (by `LastUpdateTimestamp`); a newer copy replaces the attributes and adds a
    /// `record_updated` entry without firing again.
    pub fn apply_record(
        &mut self,
        r: &ContactRecordView<'_>,
        out: &mut Vec<Trigger>,
    ) -> ContactOutcome {
        if self
            .record_updated_at
            .is_some_and(|t| r.last_update_timestamp <= t)
        {
            return ContactOutcome::Duplicate;
        }
        let first = self.record_updated_at.is_none();
        self.record_updated_at = Some(r.last_update_timestamp);
        fill(
            &mut self.initial_contact_id,
            r.initial_contact_id
                .as_deref()
                .filter(|s| *s != &*r.contact_id),
        );
        fill(
            &mut self.previous_contact_id,
            r.previous_contact_id.as_deref(),
        );
        self.next_contact_id =
            switchboard_model::view::owned(&r.next_contact_id).or(self.next_contact_id.take());
        self.channel = Some(r.channel.as_str().to_owned());
        self.initiation_method = Some(r.initiation_method.as_str().to_owned());
        self.initiated_at = self.initiated_at.or(Some(r.initiation_timestamp));
        if let Some(q) = &r.queue {
            fill(&mut self.queue, q.name.as_deref());
            fill(&mut self.queue_arn, q.arn.as_deref());
            self.queued_at = self.queued_at.or(q.enqueue_timestamp);
        }
        if let Some(a) = &r.agent {
            fill(&mut self.agent_arn, a.arn.as_deref());
            fill(&mut self.agent_username, a.username.as_deref());
            self.connected_at = self.connected_at.or(a.connected_to_agent_timestamp);
        }
        self.disconnected_at = self.disconnected_at.or(r.disconnect_timestamp);
        self.attributes = r
            .attributes
            .iter()
            .flatten()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        self.advance(ContactPhase::Completed);
        let at = r.last_update_timestamp;
        if first {
            // A record is proof the contact is over, even if we missed its disconnect.
            self.fire(
                TriggerKind::ContactCompleted,
                r.disconnect_timestamp.unwrap_or(at),
                out,
            );
        }
        self.fire(TriggerKind::ContactRecordReady, at, out);
        self.add(TimelineEntry {
            at,
            event: Cow::Borrowed(if first {
                "record_received"
            } else {
                "record_updated"
            }),
            source: EntrySource::ContactRecord,
            agent_arn: None,
            queue: None,
            duration_ms: None,
        });
        ContactOutcome::Applied
    }
}

fn fill(slot: &mut Option<String>, value: Option<&str>) {
    if slot.is_none() {
        if let Some(v) = value {
            if !v.is_empty() {
                *slot = Some(v.to_owned());
            }
        }
    }
}

/// A timeline entry's event name read back from a store: static text for every name the
/// engine writes (timelines are many, their entries more), owned text otherwise.
pub fn event_cow(name: String) -> Cow<'static, str> {
    const OTHERS: &[&str] = &[
        "initiated",
        "connected_to_system",
        "contact_data_updated",
        "queued",
        "connected_to_agent",
        "disconnected",
        "completed",
        "paused",
        "resumed",
        "record_received",
        "record_updated",
    ];
    if let Some(k) = TransitionKind::parse(&name) {
        return Cow::Borrowed(k.as_str());
    }
    match OTHERS.iter().find(|o| **o == name) {
        Some(o) => Cow::Borrowed(o),
        None => Cow::Owned(name),
    }
}

/// The timeline name of a contact event type: its wire name in lower case.
fn event_name(t: &ContactEventType) -> Cow<'static, str> {
    use ContactEventType as T;
    Cow::Borrowed(match t {
        T::Initiated => "initiated",
        T::ConnectedToSystem => "connected_to_system",
        T::ContactDataUpdated => "contact_data_updated",
        T::Queued => "queued",
        T::ConnectedToAgent => "connected_to_agent",
        T::Disconnected => "disconnected",
        T::Completed => "completed",
        T::Paused => "paused",
        T::Resumed => "resumed",
        T::Other(other) => return Cow::Owned(other.to_ascii_lowercase()),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Without its entries, a timeline serializes exactly as a copy whose entries were
    /// cleared, and serializing it whole afterwards still writes them.
    #[test]
    fn serialize_without_entries_matches_a_cleared_copy() {
        let at = Timestamp::parse("2026-01-05T10:00:00.000Z").expect("parses");
        let mut t = ContactTimeline::new("c-1", at);
        t.queue = Some("Sales".into());
        t.seen_events = vec![1, 2];
        t.entries.push(TimelineEntry {
            at,
            event: "initiated".into(),
            source: EntrySource::ContactEvent,
            agent_arn: None,
            queue: None,
            duration_ms: None,
        });
        let mut cleared = t.clone();
        cleared.entries.clear();
        let mut without = Vec::new();
        t.serialize_without_entries(&mut serde_json::Serializer::new(&mut without))
            .expect("serializes");
        assert_eq!(without, serde_json::to_vec(&cleared).expect("serializes"));
        let whole = serde_json::to_value(&t).expect("serializes");
        assert_eq!(whole["entries"].as_array().map(Vec::len), Some(1));
    }
}
