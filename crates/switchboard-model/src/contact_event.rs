//! EventBridge "Amazon Connect Contact Event": immediate, unordered, best-effort events
//! (INITIATED, QUEUED, CONNECTED_TO_AGENT, DISCONNECTED, COMPLETED...) without user
//! contact attributes. Dedupe by the envelope `id`.
//!
//! The real events use lowerCamelCase keys in `detail`; AWS's own doc samples mix in
//! PascalCase (`AgentInfo`, `AgentArn`), so those are accepted as aliases and re-encoded
//! in the real casing.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::{Channel, DisconnectReason, Extra, InitiationMethod};
use crate::open_enum;
use crate::time::Timestamp;

/// `detail-type` of Connect's contact events.
pub const CONTACT_EVENT_DETAIL_TYPE: &str = "Amazon Connect Contact Event";

open_enum! {
    /// What happened to the contact.
    pub enum ContactEventType {
        Initiated = "INITIATED",
        ConnectedToSystem = "CONNECTED_TO_SYSTEM",
        ContactDataUpdated = "CONTACT_DATA_UPDATED",
        Queued = "QUEUED",
        ConnectedToAgent = "CONNECTED_TO_AGENT",
        Disconnected = "DISCONNECTED",
        Completed = "COMPLETED",
        Paused = "PAUSED",
        Resumed = "RESUMED",
    }
}

/// A contact event: the EventBridge envelope with its `detail`, or the `detail` alone
/// (as an EventBridge input transformer may deliver it).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactEvent {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// EventBridge event id: the dedupe key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub id: Option<String>,
    #[serde(
        rename = "detail-type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub detail_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Vec<String>>,
    pub detail: ContactEventDetail,
    #[serde(flatten)]
    pub extra: Extra,
    /// True when the input was the `detail` object alone; it then re-encodes alone.
    #[serde(skip)]
    pub detail_only: bool,
}

impl ContactEvent {
    /// Wraps a bare `detail` object.
    pub fn from_detail(detail: ContactEventDetail) -> Self {
        Self {
            version: None,
            id: None,
            detail_type: None,
            source: None,
            account: None,
            time: None,
            region: None,
            resources: None,
            detail,
            extra: Extra::new(),
            detail_only: true,
        }
    }

    /// The key to dedupe on: the envelope id, or for a bare detail the contact id, event
    /// type and the event's own timestamp.
    pub fn dedupe_key(&self) -> String {
        match &self.id {
            Some(id) => id.clone(),
            None => {
                let d = &self.detail;
                let at = d.event_time().map(|t| t.millis()).unwrap_or_default();
                format!("{}:{}:{at}", d.contact_id, d.event_type)
            }
        }
    }
}

/// The `detail` of a contact event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContactEventDetail {
    #[serde(alias = "EventType")]
    pub event_type: ContactEventType,
    #[serde(alias = "ContactId")]
    pub contact_id: String,
    #[serde(
        alias = "InitialContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_contact_id: Option<String>,
    #[serde(
        alias = "PreviousContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_contact_id: Option<String>,
    #[serde(
        alias = "RelatedContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub related_contact_id: Option<String>,
    #[serde(alias = "Channel", default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<Channel>,
    #[serde(
        alias = "InstanceArn",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_arn: Option<String>,
    #[serde(
        alias = "InitiationMethod",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initiation_method: Option<InitiationMethod>,
    #[serde(
        alias = "InitiationTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initiation_timestamp: Option<Timestamp>,
    #[serde(
        alias = "ConnectedToSystemTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_to_system_timestamp: Option<Timestamp>,
    #[serde(
        alias = "DisconnectTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disconnect_timestamp: Option<Timestamp>,
    #[serde(
        alias = "ScheduledTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_timestamp: Option<Timestamp>,
    #[serde(alias = "QueueInfo", default, skip_serializing_if = "Option::is_none")]
    pub queue_info: Option<QueueInfo>,
    #[serde(alias = "AgentInfo", default, skip_serializing_if = "Option::is_none")]
    pub agent_info: Option<AgentInfo>,
    #[serde(
        alias = "DisconnectReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disconnect_reason: Option<DisconnectReason>,
    #[serde(
        alias = "AnsweringMachineDetectionStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub answering_machine_detection_status: Option<String>,
    #[serde(
        alias = "UpdatedProperties",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub updated_properties: Option<Vec<String>>,
    #[serde(alias = "Tags", default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<BTreeMap<String, String>>,
    /// `customerVoiceActivity`, `contactLens`, `routingCriteria`, `segmentAttributes`...
    #[serde(flatten)]
    pub extra: Extra,
}

impl ContactEventDetail {
    /// When the event happened, from the timestamp that matches its type. Contact events
    /// carry no event time of their own; the envelope `time` has only second precision.
    pub fn event_time(&self) -> Option<Timestamp> {
        let agent = self.agent_info.as_ref();
        event_time(
            &self.event_type,
            EventTimes {
                initiation: self.initiation_timestamp,
                connected_to_system: self.connected_to_system_timestamp,
                enqueue: self.queue_info.as_ref().and_then(|q| q.enqueue_timestamp),
                connected_to_agent: agent.and_then(|a| a.connected_to_agent_timestamp),
                disconnect: self.disconnect_timestamp,
                acw_end: agent.and_then(|a| a.after_contact_work_end_timestamp),
            },
        )
    }

    /// The first contact of this contact's transfer chain (itself if none).
    pub fn initial_contact_id(&self) -> &str {
        self.initial_contact_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.contact_id)
    }
}

/// The timestamps of a contact event's detail an event time can come from.
pub(crate) struct EventTimes {
    pub(crate) initiation: Option<Timestamp>,
    pub(crate) connected_to_system: Option<Timestamp>,
    pub(crate) enqueue: Option<Timestamp>,
    pub(crate) connected_to_agent: Option<Timestamp>,
    pub(crate) disconnect: Option<Timestamp>,
    pub(crate) acw_end: Option<Timestamp>,
}

/// The time a contact event of `kind` happened (shared by the model and the view).
pub(crate) fn event_time(kind: &ContactEventType, t: EventTimes) -> Option<Timestamp> {
    use ContactEventType as T;
    let time = match kind {
        T::Initiated => t.initiation,
        T::ConnectedToSystem => t.connected_to_system,
        T::Queued => t.enqueue.and_then(Timestamp::get),
        T::ConnectedToAgent => t.connected_to_agent.and_then(Timestamp::get),
        T::Disconnected => t.disconnect,
        T::Completed => t.acw_end.and_then(Timestamp::get).or(t.disconnect),
        _ => None,
    };
    time.and_then(Timestamp::get)
}

/// `queueInfo`: absent for outbound contacts.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QueueInfo {
    #[serde(alias = "QueueArn", default, skip_serializing_if = "Option::is_none")]
    pub queue_arn: Option<String>,
    /// `STANDARD`; doc samples say `type`.
    #[serde(
        alias = "QueueType",
        alias = "type",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub queue_type: Option<String>,
    #[serde(
        alias = "EnqueueTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enqueue_timestamp: Option<Timestamp>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `agentInfo`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AgentInfo {
    #[serde(alias = "AgentArn", default, skip_serializing_if = "Option::is_none")]
    pub agent_arn: Option<String>,
    #[serde(
        alias = "ConnectedToAgentTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_to_agent_timestamp: Option<Timestamp>,
    #[serde(
        alias = "AcceptedByAgentTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub accepted_by_agent_timestamp: Option<Timestamp>,
    #[serde(
        alias = "AgentInitiatedHoldDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_initiated_hold_duration: Option<i64>,
    #[serde(
        alias = "AfterContactWorkStartTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_start_timestamp: Option<Timestamp>,
    #[serde(
        alias = "AfterContactWorkEndTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_end_timestamp: Option<Timestamp>,
    #[serde(
        alias = "AfterContactWorkDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_duration: Option<i64>,
    #[serde(
        alias = "HierarchyGroups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hierarchy_groups: Option<serde_json::Value>,
    #[serde(flatten)]
    pub extra: Extra,
}
