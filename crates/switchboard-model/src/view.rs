//! Views: what the engine reads of each record, parsed in one pass and borrowed from the
//! input.
//!
//! The typed models ([`crate::AgentEvent`], [`crate::ContactRecord`],
//! [`crate::ContactEvent`]) describe every field Connect documents; parsing one owns every
//! string and reads every field. The engine needs a fraction of them (ids, types,
//! timestamps, both snapshots' status and contacts, a record's queue, agent and
//! durations), so the hot path parses a view instead: only those fields, strings borrowed
//! from the input bytes when they hold no escapes, every other value skipped unparsed, no
//! `#[serde(flatten)]` (which would make serde buffer each object into a tree first). The
//! full model stays available from the same bytes (`Decoded::record`) for what needs it:
//! the API, rules and sinks that transform a record.
//!
//! Field names follow the models', so code can move between the two; a property test
//! (`tests/view.rs`) checks that both read the same values from the same bytes. What the
//! views do not read is never lost: records travel with their original bytes.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::Deref;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;

use crate::agent_event::{AgentEventType, AgentStatusType, ContactState};
use crate::common::{Channel, InitiationMethod};
use crate::contact_event::ContactEventType;
use crate::record::{RecordError, RecordKind};
use crate::time::Timestamp;

/// A JSON string borrowed from the input, or owned when it had escapes to undo.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Str<'a>(pub Cow<'a, str>);

impl<'a> Str<'a> {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Str<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Str<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PartialEq<str> for Str<'_> {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Str<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'de>, E> {
                Ok(Str(Cow::Owned(v)))
            }
        }
        d.deserialize_str(V)
    }
}

/// An optional string as an owned `Option<String>` (for state the engine keeps).
pub fn owned(s: &Option<Str<'_>>) -> Option<String> {
    s.as_ref().map(|s| s.0.clone().into_owned())
}

/// What the engine reads of an agent event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentEventView<'a> {
    #[serde(rename = "AgentARN", borrow)]
    pub agent_arn: Str<'a>,
    #[serde(rename = "EventId", borrow)]
    pub event_id: Str<'a>,
    #[serde(rename = "EventTimestamp")]
    pub event_timestamp: Timestamp,
    #[serde(rename = "EventType")]
    pub event_type: AgentEventType,
    #[serde(rename = "CurrentAgentSnapshot", default, borrow)]
    pub current: Option<AgentSnapshotView<'a>>,
    #[serde(rename = "PreviousAgentSnapshot", default, borrow)]
    pub previous: Option<AgentSnapshotView<'a>>,
}

/// What the engine reads of an agent snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentSnapshotView<'a> {
    #[serde(rename = "AgentStatus", default, borrow)]
    pub agent_status: Option<AgentStatusView<'a>>,
    #[serde(rename = "Configuration", default, borrow)]
    pub configuration: Option<AgentConfigurationView<'a>>,
    #[serde(rename = "Contacts", default, borrow)]
    pub contacts: Option<Vec<AgentContactView<'a>>>,
}

impl AgentSnapshotView<'_> {
    /// The contacts in this snapshot (none if the field is absent or null).
    pub fn contacts(&self) -> &[AgentContactView<'_>] {
        self.contacts.as_deref().unwrap_or(&[])
    }
}

/// The agent's status in a snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentStatusView<'a> {
    #[serde(rename = "Name", default, borrow)]
    pub name: Option<Str<'a>>,
    #[serde(rename = "StartTimestamp", default)]
    pub start_timestamp: Option<Timestamp>,
    #[serde(rename = "Type", default)]
    pub kind: Option<AgentStatusType>,
}

impl AgentStatusView<'_> {
    /// As [`crate::agent_event::AgentStatus::effective_type`].
    pub fn effective_type(&self) -> AgentStatusType {
        crate::agent_event::status_type(self.kind.as_ref(), self.name.as_deref())
    }
}

/// The agent's configuration in a snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentConfigurationView<'a> {
    #[serde(
        rename = "AgentHierarchyGroups",
        alias = "HierarchyGroups",
        default,
        borrow
    )]
    pub hierarchy_groups: Option<HierarchyGroupsView<'a>>,
    #[serde(rename = "FirstName", default, borrow)]
    pub first_name: Option<Str<'a>>,
    #[serde(rename = "LastName", default, borrow)]
    pub last_name: Option<Str<'a>>,
    #[serde(rename = "RoutingProfile", default, borrow)]
    pub routing_profile: Option<RoutingProfileView<'a>>,
    #[serde(rename = "Username", default, borrow)]
    pub username: Option<Str<'a>>,
}

/// Hierarchy levels, top first.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct HierarchyGroupsView<'a> {
    #[serde(rename = "Level1", default, borrow)]
    pub level1: Option<NamedView<'a>>,
    #[serde(rename = "Level2", default, borrow)]
    pub level2: Option<NamedView<'a>>,
    #[serde(rename = "Level3", default, borrow)]
    pub level3: Option<NamedView<'a>>,
    #[serde(rename = "Level4", default, borrow)]
    pub level4: Option<NamedView<'a>>,
    #[serde(rename = "Level5", default, borrow)]
    pub level5: Option<NamedView<'a>>,
}

impl<'a> HierarchyGroupsView<'a> {
    /// The levels that are set, top first.
    pub fn levels(&self) -> impl Iterator<Item = &NamedView<'a>> + Clone {
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

/// An `{ARN, Name}` object (queue, hierarchy group, routing profile).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct NamedView<'a> {
    #[serde(rename = "ARN", default, borrow)]
    pub arn: Option<Str<'a>>,
    #[serde(rename = "Name", default, borrow)]
    pub name: Option<Str<'a>>,
}

impl NamedView<'_> {
    /// True for an agent's personal queue (`.../queue/agent/<agent-id>`).
    pub fn is_agent_queue(&self) -> bool {
        self.arn
            .as_deref()
            .is_some_and(|a| a.contains("/queue/agent/"))
    }
}

/// The routing profile: its name and queues.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct RoutingProfileView<'a> {
    #[serde(rename = "Name", default, borrow)]
    pub name: Option<Str<'a>>,
    #[serde(rename = "InboundQueues", default, borrow)]
    pub inbound_queues: Option<Vec<NamedView<'a>>>,
    #[serde(rename = "DefaultOutboundQueue", default, borrow)]
    pub default_outbound_queue: Option<NamedView<'a>>,
}

/// A contact in an agent snapshot.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct AgentContactView<'a> {
    #[serde(rename = "ContactId", borrow)]
    pub contact_id: Str<'a>,
    #[serde(rename = "InitialContactId", default, borrow)]
    pub initial_contact_id: Option<Str<'a>>,
    #[serde(rename = "Channel", default)]
    pub channel: Option<Channel>,
    #[serde(rename = "Queue", default, borrow)]
    pub queue: Option<NamedView<'a>>,
    #[serde(rename = "State", default)]
    pub state: Option<ContactState>,
    #[serde(rename = "StateStartTimestamp", default)]
    pub state_start_timestamp: Option<Timestamp>,
    #[serde(rename = "ConnectedToAgentTimestamp", default)]
    pub connected_to_agent_timestamp: Option<Timestamp>,
}

/// What the engine reads of a contact record (CTR).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContactRecordView<'a> {
    #[serde(rename = "ContactId", borrow)]
    pub contact_id: Str<'a>,
    #[serde(rename = "Channel")]
    pub channel: Channel,
    #[serde(rename = "InitiationMethod")]
    pub initiation_method: InitiationMethod,
    #[serde(rename = "InitiationTimestamp")]
    pub initiation_timestamp: Timestamp,
    #[serde(rename = "LastUpdateTimestamp")]
    pub last_update_timestamp: Timestamp,
    #[serde(rename = "DisconnectTimestamp", default)]
    pub disconnect_timestamp: Option<Timestamp>,
    #[serde(rename = "InitialContactId", default, borrow)]
    pub initial_contact_id: Option<Str<'a>>,
    #[serde(rename = "PreviousContactId", default, borrow)]
    pub previous_contact_id: Option<Str<'a>>,
    #[serde(rename = "NextContactId", default, borrow)]
    pub next_contact_id: Option<Str<'a>>,
    #[serde(rename = "Queue", default, borrow)]
    pub queue: Option<CtrQueueView<'a>>,
    #[serde(rename = "Agent", default, borrow)]
    pub agent: Option<CtrAgentView<'a>>,
    #[serde(rename = "Attributes", default, borrow)]
    pub attributes: Option<BTreeMap<Str<'a>, Str<'a>>>,
    #[serde(rename = "SystemEndpoint", default, borrow)]
    pub system_endpoint: Option<EndpointView<'a>>,
}

/// A contact record's `Queue`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CtrQueueView<'a> {
    #[serde(rename = "ARN", default, borrow)]
    pub arn: Option<Str<'a>>,
    #[serde(rename = "Name", default, borrow)]
    pub name: Option<Str<'a>>,
    #[serde(rename = "EnqueueTimestamp", default)]
    pub enqueue_timestamp: Option<Timestamp>,
    #[serde(rename = "DequeueTimestamp", default)]
    pub dequeue_timestamp: Option<Timestamp>,
    #[serde(rename = "Duration", default)]
    pub duration: Option<i64>,
}

/// A contact record's `Agent`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct CtrAgentView<'a> {
    #[serde(rename = "ARN", default, borrow)]
    pub arn: Option<Str<'a>>,
    #[serde(rename = "Username", default, borrow)]
    pub username: Option<Str<'a>>,
    #[serde(rename = "ConnectedToAgentTimestamp", default)]
    pub connected_to_agent_timestamp: Option<Timestamp>,
    #[serde(rename = "AgentInteractionDuration", default)]
    pub agent_interaction_duration: Option<i64>,
    #[serde(rename = "CustomerHoldDuration", default)]
    pub customer_hold_duration: Option<i64>,
    #[serde(rename = "NumberOfHolds", default)]
    pub number_of_holds: Option<i64>,
    #[serde(rename = "AfterContactWorkDuration", default)]
    pub after_contact_work_duration: Option<i64>,
}

/// An endpoint (`SystemEndpoint`): the address is what rules match dialled numbers on.
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct EndpointView<'a> {
    #[serde(rename = "Address", default, borrow)]
    pub address: Option<Str<'a>>,
}

/// What the engine reads of an EventBridge contact event (envelope or bare `detail`).
#[derive(Debug, Clone, PartialEq, Deserialize)]
pub struct ContactEventView<'a> {
    #[serde(default, borrow)]
    pub id: Option<Str<'a>>,
    #[serde(default)]
    pub time: Option<Timestamp>,
    #[serde(borrow)]
    pub detail: ContactEventDetailView<'a>,
}

/// The `detail` of a contact event (camelCase, or the PascalCase of some doc samples).
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactEventDetailView<'a> {
    #[serde(alias = "EventType")]
    pub event_type: ContactEventType,
    #[serde(alias = "ContactId", borrow)]
    pub contact_id: Str<'a>,
    #[serde(alias = "InitialContactId", default, borrow)]
    pub initial_contact_id: Option<Str<'a>>,
    #[serde(alias = "PreviousContactId", default, borrow)]
    pub previous_contact_id: Option<Str<'a>>,
    #[serde(alias = "Channel", default)]
    pub channel: Option<Channel>,
    #[serde(alias = "InitiationMethod", default)]
    pub initiation_method: Option<InitiationMethod>,
    #[serde(alias = "InitiationTimestamp", default)]
    pub initiation_timestamp: Option<Timestamp>,
    #[serde(alias = "ConnectedToSystemTimestamp", default)]
    pub connected_to_system_timestamp: Option<Timestamp>,
    #[serde(alias = "DisconnectTimestamp", default)]
    pub disconnect_timestamp: Option<Timestamp>,
    #[serde(alias = "QueueInfo", default, borrow)]
    pub queue_info: Option<QueueInfoView<'a>>,
    #[serde(alias = "AgentInfo", default, borrow)]
    pub agent_info: Option<AgentInfoView<'a>>,
}

/// `queueInfo` of a contact event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfoView<'a> {
    #[serde(alias = "QueueArn", default, borrow)]
    pub queue_arn: Option<Str<'a>>,
    #[serde(alias = "EnqueueTimestamp", default)]
    pub enqueue_timestamp: Option<Timestamp>,
}

/// `agentInfo` of a contact event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfoView<'a> {
    #[serde(alias = "AgentArn", default, borrow)]
    pub agent_arn: Option<Str<'a>>,
    #[serde(alias = "ConnectedToAgentTimestamp", default)]
    pub connected_to_agent_timestamp: Option<Timestamp>,
    #[serde(alias = "AfterContactWorkEndTimestamp", default)]
    pub after_contact_work_end_timestamp: Option<Timestamp>,
}

impl ContactEventDetailView<'_> {
    /// As [`crate::ContactEventDetail::event_time`].
    pub fn event_time(&self) -> Option<Timestamp> {
        let agent = self.agent_info.as_ref();
        crate::contact_event::event_time(
            &self.event_type,
            crate::contact_event::EventTimes {
                initiation: self.initiation_timestamp,
                connected_to_system: self.connected_to_system_timestamp,
                enqueue: self.queue_info.as_ref().and_then(|q| q.enqueue_timestamp),
                connected_to_agent: agent.and_then(|a| a.connected_to_agent_timestamp),
                disconnect: self.disconnect_timestamp,
                acw_end: agent.and_then(|a| a.after_contact_work_end_timestamp),
            },
        )
    }
}

impl ContactEventView<'_> {
    /// As [`crate::ContactEvent::dedupe_key`].
    pub fn dedupe_key(&self) -> String {
        match &self.id {
            Some(id) => id.as_str().to_owned(),
            None => {
                let d = &self.detail;
                let at = d.event_time().map(|t| t.millis()).unwrap_or_default();
                format!("{}:{}:{at}", d.contact_id, d.event_type)
            }
        }
    }
}

/// The view of one record of any of the three streams.
///
/// Large (an agent event's two snapshots inline) on purpose: a view lives on the stack
/// for the one record being applied, and boxing it would cost an allocation per record.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq)]
pub enum RecordView<'a> {
    AgentEvent(AgentEventView<'a>),
    ContactEvent(ContactEventView<'a>),
    ContactRecord(ContactRecordView<'a>),
}

impl<'a> RecordView<'a> {
    /// Parses the view of a record known to be of `kind` (`detail_only`: a contact event
    /// that came as its bare `detail` object).
    pub fn parse(
        kind: RecordKind,
        detail_only: bool,
        bytes: &'a [u8],
    ) -> Result<Self, RecordError> {
        let wrap = |e| RecordError::Invalid { kind, source: e };
        Ok(match kind {
            RecordKind::AgentEvent => {
                RecordView::AgentEvent(serde_json::from_slice(bytes).map_err(wrap)?)
            }
            RecordKind::ContactRecord => {
                RecordView::ContactRecord(serde_json::from_slice(bytes).map_err(wrap)?)
            }
            RecordKind::ContactEvent if detail_only => RecordView::ContactEvent(ContactEventView {
                id: None,
                time: None,
                detail: serde_json::from_slice(bytes).map_err(wrap)?,
            }),
            RecordKind::ContactEvent => {
                RecordView::ContactEvent(serde_json::from_slice(bytes).map_err(wrap)?)
            }
        })
    }

    pub fn kind(&self) -> RecordKind {
        match self {
            Self::AgentEvent(_) => RecordKind::AgentEvent,
            Self::ContactEvent(_) => RecordKind::ContactEvent,
            Self::ContactRecord(_) => RecordKind::ContactRecord,
        }
    }
}
