//! Agent transitions: what the hand-written Lambdas try to spot with `if` chains over two
//! snapshots, as typed events.

use serde::{Deserialize, Serialize};
use switchboard_model::Timestamp;

/// Kind of transition.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransitionKind {
    AgentLoggedIn,
    AgentLoggedOut,
    AgentStatusChanged,
    ContactOffered,
    ContactConnected,
    HoldStarted,
    HoldEnded,
    AcwStarted,
    AcwEnded,
    ContactMissed,
    ContactRejected,
    ContactError,
}

impl TransitionKind {
    /// Every kind, in declaration order.
    pub const ALL: [TransitionKind; 12] = [
        Self::AgentLoggedIn,
        Self::AgentLoggedOut,
        Self::AgentStatusChanged,
        Self::ContactOffered,
        Self::ContactConnected,
        Self::HoldStarted,
        Self::HoldEnded,
        Self::AcwStarted,
        Self::AcwEnded,
        Self::ContactMissed,
        Self::ContactRejected,
        Self::ContactError,
    ];

    /// The kind [`TransitionKind::as_str`] names.
    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::AgentLoggedIn => "agent_logged_in",
            Self::AgentLoggedOut => "agent_logged_out",
            Self::AgentStatusChanged => "agent_status_changed",
            Self::ContactOffered => "contact_offered",
            Self::ContactConnected => "contact_connected",
            Self::HoldStarted => "hold_started",
            Self::HoldEnded => "hold_ended",
            Self::AcwStarted => "acw_started",
            Self::AcwEnded => "acw_ended",
            Self::ContactMissed => "contact_missed",
            Self::ContactRejected => "contact_rejected",
            Self::ContactError => "contact_error",
        }
    }
}

/// One derived transition.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transition {
    #[serde(rename = "type")]
    pub kind: TransitionKind,
    pub agent_arn: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// Queue name.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    /// The event time, with milliseconds.
    pub at: Timestamp,
    /// Previous status name, for `agent_status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// New status name, for `agent_status_changed`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
    /// Time on hold (`hold_ended`) or in ACW (`acw_ended`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub duration_ms: Option<i64>,
}
