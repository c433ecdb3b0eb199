//! Contact records (CTRs): one JSON object per contact segment, written by Connect about
//! a minute after the contact ends and possibly again later (at-least-once, and re-sent
//! when attributes are updated). Dedupe by `ContactId`, keeping the newest
//! `LastUpdateTimestamp`.
//!
//! Field names follow the wire (PascalCase, with AWS's own exceptions such as
//! `InstanceARN` and the lower-camel `stateTransitions`). Everything Connect may null or
//! omit is an `Option`; unknown fields land in `extra`. Only what identifies and orders a
//! record is required: `ContactId`, `Channel`, `InitiationMethod`, `InitiationTimestamp`
//! and `LastUpdateTimestamp` (the dedupe key). Account, instance and format version are
//! always present in real records but nothing depends on them, so their absence does not
//! make a record unreadable.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::common::{Channel, DisconnectReason, Extra, InitiationMethod};
use crate::open_enum;
use crate::time::Timestamp;

/// One contact record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ContactRecord {
    #[serde(
        rename = "AWSAccountId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub aws_account_id: Option<String>,
    #[serde(
        rename = "AWSContactTraceRecordFormatVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub format_version: Option<String>,
    #[serde(rename = "Agent", default, skip_serializing_if = "Option::is_none")]
    pub agent: Option<CtrAgent>,
    #[serde(
        rename = "AgentConnectionAttempts",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_connection_attempts: Option<u32>,
    #[serde(
        rename = "AnsweringMachineDetectionStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub answering_machine_detection_status: Option<String>,
    /// User-defined contact attributes.
    #[serde(
        rename = "Attributes",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub attributes: Option<BTreeMap<String, String>>,
    #[serde(rename = "Campaign", default, skip_serializing_if = "Option::is_none")]
    pub campaign: Option<serde_json::Value>,
    #[serde(rename = "Channel")]
    pub channel: Channel,
    #[serde(
        rename = "ConnectedToSystemTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_to_system_timestamp: Option<Timestamp>,
    #[serde(
        rename = "ContactDetails",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub contact_details: Option<serde_json::Value>,
    #[serde(rename = "ContactId")]
    pub contact_id: String,
    #[serde(
        rename = "CustomerEndpoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_endpoint: Option<Endpoint>,
    #[serde(
        rename = "DisconnectReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disconnect_reason: Option<DisconnectReason>,
    #[serde(
        rename = "DisconnectTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub disconnect_timestamp: Option<Timestamp>,
    #[serde(
        rename = "InitialContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub initial_contact_id: Option<String>,
    #[serde(rename = "InitiationMethod")]
    pub initiation_method: InitiationMethod,
    #[serde(rename = "InitiationTimestamp")]
    pub initiation_timestamp: Timestamp,
    #[serde(
        rename = "InstanceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub instance_arn: Option<String>,
    #[serde(rename = "LastUpdateTimestamp")]
    pub last_update_timestamp: Timestamp,
    #[serde(
        rename = "MediaStreams",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub media_streams: Option<Vec<MediaStream>>,
    #[serde(
        rename = "NextContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub next_contact_id: Option<String>,
    #[serde(
        rename = "PreviousContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub previous_contact_id: Option<String>,
    #[serde(rename = "Queue", default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<CtrQueue>,
    #[serde(rename = "Recording", default, skip_serializing_if = "Option::is_none")]
    pub recording: Option<Recording>,
    #[serde(
        rename = "Recordings",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub recordings: Option<Vec<Recordings>>,
    #[serde(
        rename = "References",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub references: Option<Vec<serde_json::Value>>,
    #[serde(
        rename = "RelatedContactId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub related_contact_id: Option<String>,
    #[serde(
        rename = "ScheduledTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub scheduled_timestamp: Option<Timestamp>,
    #[serde(
        rename = "SystemEndpoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub system_endpoint: Option<Endpoint>,
    #[serde(
        rename = "TransferCompletedTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transfer_completed_timestamp: Option<Timestamp>,
    #[serde(
        rename = "TransferredToEndpoint",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub transferred_to_endpoint: Option<Endpoint>,
    #[serde(
        rename = "VoiceIdResult",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub voice_id_result: Option<serde_json::Value>,
    /// Fields not modelled above (newer Connect fields such as `Tags`, `ContactLens`...).
    #[serde(flatten)]
    pub extra: Extra,
}

impl ContactRecord {
    /// The id of the first contact in this contact's transfer chain (itself if none).
    pub fn initial_contact_id(&self) -> &str {
        self.initial_contact_id
            .as_deref()
            .filter(|s| !s.is_empty())
            .unwrap_or(&self.contact_id)
    }

    /// True when the contact was queued and never reached an agent.
    pub fn abandoned_in_queue(&self) -> bool {
        let queued = self
            .queue
            .as_ref()
            .is_some_and(|q| q.enqueue_timestamp.is_some());
        let connected = self
            .agent
            .as_ref()
            .is_some_and(|a| a.connected_to_agent_timestamp.is_some());
        queued && !connected
    }
}

/// `Agent` of a contact record: the agent who handled the contact.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtrAgent {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(
        rename = "AfterContactWorkDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_duration: Option<i64>,
    #[serde(
        rename = "AfterContactWorkEndTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_end_timestamp: Option<Timestamp>,
    #[serde(
        rename = "AfterContactWorkStartTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub after_contact_work_start_timestamp: Option<Timestamp>,
    #[serde(
        rename = "AgentInteractionDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub agent_interaction_duration: Option<i64>,
    #[serde(
        rename = "ConnectedToAgentTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub connected_to_agent_timestamp: Option<Timestamp>,
    #[serde(
        rename = "CustomerHoldDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub customer_hold_duration: Option<i64>,
    #[serde(
        rename = "HierarchyGroups",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub hierarchy_groups: Option<CtrHierarchyGroups>,
    #[serde(
        rename = "LongestHoldDuration",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub longest_hold_duration: Option<i64>,
    #[serde(
        rename = "NumberOfHolds",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub number_of_holds: Option<i64>,
    #[serde(
        rename = "RoutingProfile",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub routing_profile: Option<ArnName>,
    #[serde(rename = "Username", default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// Supervisor monitoring / barge periods (lower-camel keys on the wire).
    #[serde(
        rename = "stateTransitions",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub state_transitions: Option<Vec<serde_json::Value>>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{ARN, Name}` as used for routing profiles.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ArnName {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `HierarchyGroups` of a contact record: up to five levels of `{ARN, GroupName}`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtrHierarchyGroups {
    #[serde(rename = "Level1", default, skip_serializing_if = "Option::is_none")]
    pub level1: Option<CtrHierarchyGroup>,
    #[serde(rename = "Level2", default, skip_serializing_if = "Option::is_none")]
    pub level2: Option<CtrHierarchyGroup>,
    #[serde(rename = "Level3", default, skip_serializing_if = "Option::is_none")]
    pub level3: Option<CtrHierarchyGroup>,
    #[serde(rename = "Level4", default, skip_serializing_if = "Option::is_none")]
    pub level4: Option<CtrHierarchyGroup>,
    #[serde(rename = "Level5", default, skip_serializing_if = "Option::is_none")]
    pub level5: Option<CtrHierarchyGroup>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One hierarchy level in a contact record (`GroupName`; agent events say `Name`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtrHierarchyGroup {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(rename = "GroupName", default, skip_serializing_if = "Option::is_none")]
    pub group_name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

open_enum! {
    /// Kind of a contact endpoint.
    pub enum EndpointType {
        TelephoneNumber = "TELEPHONE_NUMBER",
        Voip = "VOIP",
        ContactFlow = "CONTACT_FLOW",
        ConnectPhoneNumberArn = "CONNECT_PHONENUMBER_ARN",
        EmailAddress = "EMAIL_ADDRESS",
    }
}

/// A customer, system or transfer endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Endpoint {
    #[serde(rename = "Address", default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<EndpointType>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `Queue` of a contact record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CtrQueue {
    #[serde(rename = "ARN", default, skip_serializing_if = "Option::is_none")]
    pub arn: Option<String>,
    #[serde(
        rename = "DequeueTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub dequeue_timestamp: Option<Timestamp>,
    /// Seconds between enqueue and dequeue.
    #[serde(rename = "Duration", default, skip_serializing_if = "Option::is_none")]
    pub duration: Option<i64>,
    #[serde(
        rename = "EnqueueTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub enqueue_timestamp: Option<Timestamp>,
    #[serde(rename = "Name", default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `{ "Type": "AUDIO" }` entries of `MediaStreams`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MediaStream {
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// The legacy single `Recording`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recording {
    #[serde(
        rename = "DeletionReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deletion_reason: Option<String>,
    /// `bucket/key`, without `s3://`.
    #[serde(rename = "Location", default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(rename = "Type", default, skip_serializing_if = "Option::is_none")]
    pub kind: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One entry of `Recordings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recordings {
    #[serde(
        rename = "DeletionReason",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub deletion_reason: Option<String>,
    /// Kinesis Video fragment number (a decimal string; kept as written).
    #[serde(
        rename = "FragmentStartNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fragment_start_number: Option<serde_json::Value>,
    #[serde(
        rename = "FragmentStopNumber",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub fragment_stop_number: Option<serde_json::Value>,
    #[serde(rename = "Location", default, skip_serializing_if = "Option::is_none")]
    pub location: Option<String>,
    #[serde(
        rename = "MediaStreamType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub media_stream_type: Option<String>,
    #[serde(
        rename = "ParticipantType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub participant_type: Option<String>,
    #[serde(
        rename = "StartTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub start_timestamp: Option<Timestamp>,
    #[serde(rename = "Status", default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    #[serde(
        rename = "StopTimestamp",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub stop_timestamp: Option<Timestamp>,
    /// `S3` in real records (the docs say "Amazon S3") or `KINESIS_VIDEO_STREAM`.
    #[serde(
        rename = "StorageType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub storage_type: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}
