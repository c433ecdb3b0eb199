//! The per-agent state machine.
//!
//! Each agent event is compared with what we last knew of the agent (or, on first sight,
//! with the event's own previous snapshot) and the differences become [`Transition`]s:
//! status changes, and per contact offered → connected → hold → ACW → cleared, missed,
//! rejected or error. Contacts are tracked one by one, so an agent with three chats has
//! three independent contact state machines. Heartbeats and duplicates change nothing.
//!
//! From the same state comes the agent's *effective* state for the seat map: an agent
//! whose status is Available but who is on a call is `on_contact`, not `available`.

use serde::{Deserialize, Serialize};
use switchboard_model::agent_event::{AgentStatusType, ContactState};
use switchboard_model::view::{self, AgentEventView, AgentSnapshotView};
use switchboard_model::{AgentEventType, Channel, Timestamp};

use crate::transition::{Transition, TransitionKind};

/// What a seat-map tile shows.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EffectiveState {
    Offline,
    Available,
    OnContact,
    OnHold,
    AfterContactWork,
    Missed,
    /// A custom status (`Break`, `Lunch`, ...), by name.
    #[serde(untagged)]
    Custom(String),
}

impl EffectiveState {
    pub fn as_str(&self) -> &str {
        match self {
            Self::Offline => "offline",
            Self::Available => "available",
            Self::OnContact => "on_contact",
            Self::OnHold => "on_hold",
            Self::AfterContactWork => "after_contact_work",
            Self::Missed => "missed",
            Self::Custom(name) => name,
        }
    }
}

/// The agent's chosen status.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct StatusView {
    pub name: String,
    /// `ROUTABLE`, `CUSTOM` or `OFFLINE` (inferred from the name when Connect omits it).
    pub kind: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub since: Option<Timestamp>,
}

/// One contact the agent has.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentContactView {
    pub contact_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub initial_contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    pub state: ContactState,
    pub since: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    /// Total time on hold so far, ended holds only.
    #[serde(default)]
    pub hold_ms: i64,
}

/// Everything known about one agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentState {
    pub agent_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub routing_profile: Option<String>,
    /// Hierarchy group names, top level first.
    #[serde(default)]
    pub hierarchy: Vec<String>,
    /// Names of the routing profile's inbound queues (agent queues excluded).
    #[serde(default)]
    pub queues: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<StatusView>,
    #[serde(default)]
    pub contacts: Vec<AgentContactView>,
    /// Set by LOGOUT, cleared by LOGIN or a later non-offline status.
    #[serde(default)]
    pub logged_out: bool,
    pub effective: EffectiveState,
    pub effective_since: Timestamp,
    pub last_event_at: Timestamp,
    /// Hashes of the most recent EventIds, for dedupe (duplicates arrive close together).
    #[serde(default)]
    pub recent_event_ids: Vec<u64>,
}

/// How many recent EventIds each agent remembers for dedupe.
pub const RECENT_EVENT_IDS: usize = 32;

/// What applying one agent event did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AgentOutcome {
    Applied,
    Duplicate,
    /// Older than the newest event already applied for this agent.
    Stale,
}

impl AgentState {
    /// A state for an agent first seen in `event`, from the snapshot that describes the
    /// agent before the event (or the current one for heartbeats and logins).
    pub fn first_sight(event: &AgentEventView<'_>) -> Self {
        let at = event.event_timestamp;
        let mut state = AgentState {
            agent_arn: event.agent_arn.to_string(),
            username: None,
            first_name: None,
            last_name: None,
            routing_profile: None,
            hierarchy: Vec::new(),
            queues: Vec::new(),
            status: None,
            contacts: Vec::new(),
            logged_out: false,
            effective: EffectiveState::Offline,
            effective_since: at,
            last_event_at: at,
            recent_event_ids: Vec::new(),
        };
        let base = match event.event_type {
            AgentEventType::StateChange | AgentEventType::Logout => event.previous.as_ref(),
            _ => event.current.as_ref(),
        };
        if let Some(snap) = base.or(event.current.as_ref()) {
            state.take_configuration(snap);
            state.status = status_of(snap);
            state.contacts = snap
                .contacts()
                .iter()
                .map(|c| contact_view(c, at))
                .collect();
        }
        state.effective = state.compute_effective();
        state
    }

    /// Applies one event, pushing the transitions it implies.
    pub fn apply(
        &mut self,
        event: &AgentEventView<'_>,
        id_hash: u64,
        out: &mut Vec<Transition>,
    ) -> AgentOutcome {
        if self.recent_event_ids.contains(&id_hash) {
            return AgentOutcome::Duplicate;
        }
        if event.event_timestamp < self.last_event_at {
            return AgentOutcome::Stale;
        }
        if self.recent_event_ids.len() >= RECENT_EVENT_IDS {
            self.recent_event_ids.remove(0);
        }
        self.recent_event_ids.push(id_hash);
        let at = event.event_timestamp;
        self.last_event_at = at;

        match event.event_type {
            AgentEventType::HeartBeat => {}
            AgentEventType::Login => {
                self.logged_out = false;
                self.push(out, TransitionKind::AgentLoggedIn, at, None);
                self.sync(event.current.as_ref(), at, out);
            }
            AgentEventType::Logout => {
                self.sync(event.current.as_ref(), at, out);
                self.logged_out = true;
                self.push(out, TransitionKind::AgentLoggedOut, at, None);
            }
            _ => self.sync(event.current.as_ref(), at, out),
        }
        let effective = self.compute_effective();
        if effective != self.effective {
            self.effective = effective;
            self.effective_since = at;
        }
        AgentOutcome::Applied
    }

    fn take_configuration(&mut self, snap: &AgentSnapshotView<'_>) {
        let Some(cfg) = &snap.configuration else {
            return;
        };
        // Compared before copied: the configuration rarely changes, and most events
        // then allocate nothing here.
        set(&mut self.username, &cfg.username);
        set(&mut self.first_name, &cfg.first_name);
        set(&mut self.last_name, &cfg.last_name);
        if let Some(rp) = &cfg.routing_profile {
            set(&mut self.routing_profile, &rp.name);
            if let Some(queues) = &rp.inbound_queues {
                let names = queues
                    .iter()
                    .filter(|q| !q.is_agent_queue())
                    .filter_map(|q| q.name.as_deref());
                if !names.clone().eq(self.queues.iter().map(String::as_str)) {
                    self.queues = names.map(str::to_owned).collect();
                }
            }
        }
        if let Some(groups) = &cfg.hierarchy_groups {
            let names = || groups.levels().filter_map(|g| g.name.as_deref());
            if !names().eq(self.hierarchy.iter().map(String::as_str)) {
                self.hierarchy = names().map(str::to_owned).collect();
            }
        }
    }

    /// Moves the state to `snap` (the current snapshot; `None` means no contacts and no
    /// status information, as a LOGOUT may carry).
    fn sync(
        &mut self,
        snap: Option<&AgentSnapshotView<'_>>,
        at: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        if let Some(snap) = snap {
            self.take_configuration(snap);
            if let Some(status) = status_of(snap) {
                let changed = self.status.as_ref().is_some_and(|s| s.name != status.name);
                if changed {
                    let from = self.status.as_ref().map(|s| s.name.clone());
                    let mut t = self.transition(TransitionKind::AgentStatusChanged, at, None);
                    t.from = from;
                    t.to = Some(status.name.clone());
                    out.push(t);
                }
                if status.kind != "OFFLINE" {
                    self.logged_out = false;
                }
                self.status = Some(status);
            }
        }
        let current = snap.map(|s| s.contacts()).unwrap_or(&[]);

        // Contacts that are gone: ACW cleared (or a contact that ended without ACW).
        let mut kept = Vec::with_capacity(current.len());
        for old in std::mem::take(&mut self.contacts) {
            if current.iter().any(|c| *c.contact_id == *old.contact_id) {
                kept.push(old);
                continue;
            }
            match old.state {
                ContactState::ConnectedOnHold => {
                    let held = at.millis() - old.since.millis();
                    self.push_duration(out, TransitionKind::HoldEnded, at, &old, held);
                }
                ContactState::Ended => {
                    let acw = at.millis() - old.since.millis();
                    self.push_duration(out, TransitionKind::AcwEnded, at, &old, acw);
                }
                _ => {}
            }
        }
        self.contacts = kept;

        // New contacts and state changes.
        for c in current {
            let new_state = c
                .state
                .clone()
                .unwrap_or(ContactState::Other(String::new()));
            let since = c.state_start_timestamp.unwrap_or(at);
            let idx = self
                .contacts
                .iter()
                .position(|v| *v.contact_id == *c.contact_id);
            let Some(idx) = idx else {
                let view = contact_view(c, at);
                self.enter(None, &new_state, &view, at, out);
                self.contacts.push(view);
                continue;
            };
            let old_state = self.contacts[idx].state.clone();
            if old_state == new_state {
                // Same state: refresh details Connect may fill in later (queue, connect time).
                let v = &mut self.contacts[idx];
                if v.connected_at.is_none() {
                    v.connected_at = c.connected_to_agent_timestamp;
                }
                continue;
            }
            let mut view = self.contacts[idx].clone();
            if old_state == ContactState::ConnectedOnHold {
                let held = since.millis() - view.since.millis();
                view.hold_ms += held;
                self.push_duration(out, TransitionKind::HoldEnded, at, &view, held);
            }
            if old_state == ContactState::Ended {
                // ENDED → something else (rare): ACW is over.
                let acw = since.millis() - view.since.millis();
                self.push_duration(out, TransitionKind::AcwEnded, at, &view, acw);
            }
            view.state = new_state.clone();
            view.since = since;
            if view.connected_at.is_none() {
                view.connected_at = c.connected_to_agent_timestamp;
            }
            if let Some(q) = &c.queue {
                set(&mut view.queue, &q.name);
            }
            self.enter(Some(&old_state), &new_state, &view, at, out);
            self.contacts[idx] = view;
        }
    }

    /// Transitions for a contact entering `new` (from `old`, or first seen).
    fn enter(
        &self,
        old: Option<&ContactState>,
        new: &ContactState,
        view: &AgentContactView,
        at: Timestamp,
        out: &mut Vec<Transition>,
    ) {
        use ContactState as S;
        let kind = match new {
            S::Incoming | S::Pending | S::Connecting => Some(TransitionKind::ContactOffered),
            S::Connected if old != Some(&S::ConnectedOnHold) => {
                Some(TransitionKind::ContactConnected)
            }
            S::ConnectedOnHold => {
                if !matches!(old, Some(S::Connected) | None) {
                    // Held straight from ringing: it was connected first.
                    self.push_contact(out, TransitionKind::ContactConnected, at, view);
                }
                Some(TransitionKind::HoldStarted)
            }
            S::Ended => Some(TransitionKind::AcwStarted),
            S::Missed => Some(TransitionKind::ContactMissed),
            S::Rejected => Some(TransitionKind::ContactRejected),
            S::Error => Some(TransitionKind::ContactError),
            _ => None,
        };
        if let Some(kind) = kind {
            self.push_contact(out, kind, at, view);
        }
    }

    fn transition(
        &self,
        kind: TransitionKind,
        at: Timestamp,
        contact: Option<&AgentContactView>,
    ) -> Transition {
        Transition {
            kind,
            agent_arn: self.agent_arn.clone(),
            username: self.username.clone(),
            contact_id: contact.map(|c| c.contact_id.clone()),
            channel: contact.and_then(|c| Some(c.channel.as_ref()?.as_str().to_owned())),
            queue: contact.and_then(|c| c.queue.clone()),
            at,
            from: None,
            to: None,
            duration_ms: None,
        }
    }

    fn push(
        &self,
        out: &mut Vec<Transition>,
        kind: TransitionKind,
        at: Timestamp,
        c: Option<&AgentContactView>,
    ) {
        out.push(self.transition(kind, at, c));
    }

    fn push_contact(
        &self,
        out: &mut Vec<Transition>,
        kind: TransitionKind,
        at: Timestamp,
        c: &AgentContactView,
    ) {
        self.push(out, kind, at, Some(c));
    }

    fn push_duration(
        &self,
        out: &mut Vec<Transition>,
        kind: TransitionKind,
        at: Timestamp,
        c: &AgentContactView,
        ms: i64,
    ) {
        let mut t = self.transition(kind, at, Some(c));
        t.duration_ms = Some(ms.max(0));
        out.push(t);
    }

    /// The effective state from status and contacts.
    pub fn compute_effective(&self) -> EffectiveState {
        use ContactState as S;
        let status_kind = self.status.as_ref().map(|s| s.kind.as_str());
        if self.logged_out || status_kind == Some("OFFLINE") && self.contacts.is_empty() {
            return EffectiveState::Offline;
        }
        let has = |f: &dyn Fn(&S) -> bool| self.contacts.iter().any(|c| f(&c.state));
        if has(&|s| *s == S::ConnectedOnHold) {
            EffectiveState::OnHold
        } else if has(&|s| matches!(s, S::Connected | S::Connecting | S::Incoming | S::Pending)) {
            EffectiveState::OnContact
        } else if has(&|s| *s == S::Ended) {
            EffectiveState::AfterContactWork
        } else if has(&|s| matches!(s, S::Missed | S::Rejected | S::Error)) {
            EffectiveState::Missed
        } else {
            match (&self.status, status_kind) {
                (_, Some("ROUTABLE")) => EffectiveState::Available,
                (Some(s), Some("CUSTOM")) => EffectiveState::Custom(s.name.clone()),
                _ => EffectiveState::Offline,
            }
        }
    }

    /// The contact the agent is on hold with, and since when.
    pub fn hold_since(&self) -> Option<(&AgentContactView, Timestamp)> {
        self.contacts
            .iter()
            .find(|c| c.state == ContactState::ConnectedOnHold)
            .map(|c| (c, c.since))
    }

    /// The contact in ACW, and since when.
    pub fn acw_since(&self) -> Option<(&AgentContactView, Timestamp)> {
        self.contacts
            .iter()
            .find(|c| c.state == ContactState::Ended)
            .map(|c| (c, c.since))
    }
}

fn status_of(snap: &AgentSnapshotView<'_>) -> Option<StatusView> {
    let s = snap.agent_status.as_ref()?;
    let name = s.name.as_deref()?.to_owned();
    let kind = match s.effective_type() {
        AgentStatusType::Routable => "ROUTABLE".to_owned(),
        AgentStatusType::Offline => "OFFLINE".to_owned(),
        AgentStatusType::Custom => "CUSTOM".to_owned(),
        AgentStatusType::Other(o) => o,
    };
    Some(StatusView {
        name,
        kind,
        since: s.start_timestamp,
    })
}

/// Copies `value` into `slot` if it is set and differs (no allocation when equal).
fn set(slot: &mut Option<String>, value: &Option<view::Str<'_>>) {
    if let Some(v) = value.as_deref() {
        if slot.as_deref() != Some(v) {
            *slot = Some(v.to_owned());
        }
    }
}

fn contact_view(c: &view::AgentContactView<'_>, at: Timestamp) -> AgentContactView {
    AgentContactView {
        contact_id: c.contact_id.to_string(),
        initial_contact_id: view::owned(&c.initial_contact_id),
        channel: c.channel.clone(),
        queue: c.queue.as_ref().and_then(|q| view::owned(&q.name)),
        state: c
            .state
            .clone()
            .unwrap_or(ContactState::Other(String::new())),
        since: c.state_start_timestamp.unwrap_or(at),
        connected_at: c.connected_to_agent_timestamp,
        hold_ms: 0,
    }
}
