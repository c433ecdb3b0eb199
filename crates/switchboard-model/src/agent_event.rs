//! Agent events: the Kinesis stream of every agent login, logout, status change and
//! contact state change, plus a heartbeat every 120 s of silence. Each event carries the
//! agent's current and previous snapshots; either may be null. Dedupe by `EventId`;
//! events of one agent are ordered only within their shard (partition key = agent ARN).

use serde::{Deserialize, Serialize};

use crate::common::{Channel, Extra, InitiationMethod};
use crate::open_enum;
use crate::time::Timestamp;

open_enum! {
    /// Kind of agent event.
    pub enum AgentEventType {
        Login = "LOGIN",
        Logout = "LOGOUT",
        StateChange = "STATE_CHANGE",
        HeartBeat = "HEART_BEAT",
    }
}

open_enum! {
    /// Kind of agent status; absent in every published sample, so usually inferred
    /// from the status name (see [`AgentStatus::is_routable`]).
    pub enum AgentStatusType {
        Routable = "ROUTABLE",
        Custom = "CUSTOM",
        Offline = "OFFLINE",
    }
}

open_enum! {
    /// State of a contact as seen from the agent.
    pub enum ContactState {
        /// A queued callback offered to the agent.
        Incoming = "INCOMING",
        /// A queued callback waiting.
        Pending = "PENDING",
        /// Ringing / offered.
        Connecting = "CONNECTING",
        Connected = "CONNECTED",
        ConnectedOnHold = "CONNECTED_ONHOLD",
        /// The agent did not answer (also a rejected voice contact).
        Missed = "MISSED",
        /// E.g. the customer hung up during an outbound whisper.
        Error = "ERROR",
        /// Conversation over; the agent is in after-contact work for it.
        Ended = "ENDED",
        /// Chat or task rejected by the agent.
        Rejected = "REJECTED",
    }
}

/// One agent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentEvent {
    #[serde(
        rename = "AWSAccountId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub aws_account_id: Option<String>,
    #[serde(rename = "AgentARN")]
    pub agent_arn: String,
    #[serde(
        rename = "CurrentAgentSnapshot",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub current: Option<AgentSnapshot>,
    #[serde(rename = "EventId")]
    pub event_id: String,
    #[serde(rename = "EventTimestamp")]
    pub event_timestamp: Timestamp,
    #[serde(rename = "EventType")]
    pub event_type: AgentEventType,
    #[serde(
        rename = "InstanceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_arn: Option<String>,
    #[serde(
        rename = "PreviousAgentSnapshot",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous: Option<AgentSnapshot>,
    /// `2017-10-01` or `2019-05-25` in the wild; do not match on it.
    #[serde(rename = "Version", default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AgentEvent {
    /// The agent's username, from whichever snapshot has one.
    pub fn username(&self) -> Option<&str> {
        [&self.current, &self.previous]
            .into_iter()
            .flatten()
            .find_map(|s| s.configuration.as_ref()?.username.as_deref())
    }
}

/// The agent as of one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentSnapshot {
    #[serde(
        rename = "AgentStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_status: Option<AgentStatus>,
    #[serde(
        rename = "Configuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub configuration: Option<AgentConfiguration>,
    #[serde(rename = "Contacts", default, skip_serializing_if = "Option::is_none")]
    pub contacts: Option<Vec<AgentContact>>,
    #[serde(
        rename = "NextAgentStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_agent_status: Option<NextAgentStatus>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AgentSnapshot {
    /// The contacts in this snapshot (none if the field is absent or null).
    pub fn contacts(&self) -> &[AgentContact] {
        self.contacts.as_deref().unwrap_or(&[])
    }

    /// The status name (`Available`, `Offline`, a custom name...).
    pub fn status_name(&self) -> Option<&str> {
        self.agent_status.as_ref()?.name.as_deref()
    }
}

/// The status the agent chose (`AgentStatus`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentStatus {
    /// The status's ARN (`.../agent-state/<id>`), not the agent's.
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        rename = "StartTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub start_timestamp: Option<Timestamp>,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<AgentStatusType>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AgentStatus {
    /// The status type, or one inferred from the name when Connect omits `Type` (as in
    /// every published sample): `Available` is routable, `Offline` is offline, anything
    /// else is custom.
    pub fn effective_type(&self) -> AgentStatusType {
        status_type(self.kind.as_ref(), self.name.as_deref())
    }
}

/// A status's type as given, or inferred from its name (see
/// [`AgentStatus::effective_type`]).
pub(crate) fn status_type(kind: Option<&AgentStatusType>, name: Option<&str>) -> AgentStatusType {
    if let Some(t) = kind {
        return t.clone();
    }
    match name {
        Some(n) if n.eq_ignore_ascii_case("Available") => AgentStatusType::Routable,
        Some(n) if n.eq_ignore_ascii_case("Offline") => AgentStatusType::Offline,
        _ => AgentStatusType::Custom,
    }
}

/// `NextAgentStatus`: a status chosen while the agent is still on contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NextAgentStatus {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(
        rename = "EnqueuedTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enqueued_timestamp: Option<Timestamp>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The agent's configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentConfiguration {
    /// Samples say `AgentHierarchyGroups`; the doc text says `HierarchyGroups`.
    #[serde(
        rename = "AgentHierarchyGroups",
        alias = "HierarchyGroups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hierarchy_groups: Option<AgentHierarchyGroups>,
    #[serde(rename = "FirstName", default, skip_serializing_if = "Option::is_none")]
    pub first_name: Option<String>,
    #[serde(rename = "LastName", default, skip_serializing_if = "Option::is_none")]
    pub last_name: Option<String>,
    #[serde(
        rename = "RoutingProfile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub routing_profile: Option<RoutingProfile>,
    #[serde(rename = "Username", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `AgentHierarchyGroups`: up to five levels of `{ARN, Name}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentHierarchyGroups {
    #[serde(rename = "Level1", default, skip_serializing_if = "Option::is_none")]
    pub level1: Option<HierarchyGroup>,
    #[serde(rename = "Level2", default, skip_serializing_if = "Option::is_none")]
    pub level2: Option<HierarchyGroup>,
    #[serde(rename = "Level3", default, skip_serializing_if = "Option::is_none")]
    pub level3: Option<HierarchyGroup>,
    #[serde(rename = "Level4", default, skip_serializing_if = "Option::is_none")]
    pub level4: Option<HierarchyGroup>,
    #[serde(rename = "Level5", default, skip_serializing_if = "Option::is_none")]
    pub level5: Option<HierarchyGroup>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl AgentHierarchyGroups {
    /// The levels that are set, top first.
    pub fn levels(&self) -> impl Iterator<Item = &HierarchyGroup> {
        [
            &self.level1,
            &self.level2,
            &self.level3,
            &self.level4,
            &self.level5,
        ]
        .into_iter()
        .flatten()
    }
}

/// One hierarchy level in an agent event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HierarchyGroup {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The agent's routing profile, with its queues and channel concurrency.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RoutingProfile {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(
        rename = "Concurrency",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub concurrency: Option<Vec<Concurrency>>,
    #[serde(
        rename = "DefaultOutboundQueue",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub default_outbound_queue: Option<QueueRef>,
    #[serde(
        rename = "InboundQueues",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub inbound_queues: Option<Vec<QueueRef>>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Slots of one channel in a routing profile.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Concurrency {
    #[serde(
        rename = "AvailableSlots",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub available_slots: Option<i64>,
    #[serde(rename = "Channel", default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(
        rename = "MaximumSlots",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub maximum_slots: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// A queue as named in agent events. Agent queues (`.../queue/agent/<id>`) have a null
/// `Name`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QueueRef {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(rename = "Channels", default, skip_serializing_if = "Option::is_none")]
    pub channels: Option<Vec<Channel>>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl QueueRef {
    /// True for an agent's personal queue (`.../queue/agent/<agent-id>`).
    pub fn is_agent_queue(&self) -> bool {
        self.arn
            .as_deref()
            .is_some_and(|a| a.contains("/queue/agent/"))
    }
}

/// A contact in an agent snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AgentContact {
    #[serde(rename = "Channel", default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(
        rename = "ConnectedToAgentTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_to_agent_timestamp: Option<Timestamp>,
    #[serde(rename = "ContactId")]
    pub contact_id: String,
    #[serde(
        rename = "InitialContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_contact_id: Option<String>,
    #[serde(
        rename = "InitiationMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initiation_method: Option<InitiationMethod>,
    #[serde(rename = "Queue", default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueRef>,
    #[serde(
        rename = "QueueTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_timestamp: Option<Timestamp>,
    #[serde(rename = "State", default, skip_serializing_if = "Option::is_none")]
    pub state: Option<ContactState>,
    #[serde(
        rename = "StateStartTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub state_start_timestamp: Option<Timestamp>,
    #[serde(flatten)]
    pub extra: Extra,
}
