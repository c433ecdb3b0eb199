//! Types shared by the three streams: channels, initiation methods, the catch-all map
//! that keeps fields we do not model.

use serde_json::{Map, Value};

use crate::open_enum;

/// Fields of an AWS payload that switchboard does not model, kept so that re-encoding a
/// record loses nothing.
pub type Extra = Map<String, Value>;

open_enum! {
    /// The contact's channel. Agent-event docs spell tasks `TASKS`; both read as `Task`.
    pub enum Channel {
        Voice = "VOICE",
        Chat = "CHAT",
        Task = "TASK" | "TASKS",
        Email = "EMAIL",
    }
}

open_enum! {
    /// How the contact started.
    pub enum InitiationMethod {
        Inbound = "INBOUND",
        Outbound = "OUTBOUND",
        Transfer = "TRANSFER",
        Callback = "CALLBACK",
        Api = "API",
        QueueTransfer = "QUEUE_TRANSFER",
        Monitor = "MONITOR",
        Disconnect = "DISCONNECT",
        ExternalOutbound = "EXTERNAL_OUTBOUND",
        WebrtcApi = "WEBRTC_API",
        AgentReply = "AGENT_REPLY",
        Flow = "FLOW",
    }
}

open_enum! {
    /// Why the contact ended.
    pub enum DisconnectReason {
        CustomerDisconnect = "CUSTOMER_DISCONNECT",
        AgentDisconnect = "AGENT_DISCONNECT",
        ThirdPartyDisconnect = "THIRD_PARTY_DISCONNECT",
        TelecomProblem = "TELECOM_PROBLEM",
        Barged = "BARGED",
        ContactFlowDisconnect = "CONTACT_FLOW_DISCONNECT",
        Expired = "EXPIRED",
        Api = "API",
        Discarded = "DISCARDED",
        OutboundDestinationEndpointError = "OUTBOUND_DESTINATION_ENDPOINT_ERROR",
        OutboundResourceError = "OUTBOUND_RESOURCE_ERROR",
        OutboundAttemptFailed = "OUTBOUND_ATTEMPT_FAILED",
        /// Spelled `OUTBUND_` by AWS.
        OutboundPreviewDiscarded = "OUTBUND_PREVIEW_DISCARDED",
        Unspecified = "OTHER",
    }
}

/// Instance id (the UUID after `instance/`) of an instance or contact ARN.
pub fn instance_id_of(arn: &str) -> Option<&str> {
    let rest = &arn[arn.find(":instance/")? + ":instance/".len()..];
    Some(rest.split('/').next().unwrap_or(rest))
}

/// The last path segment of an ARN (agent id, queue id, status id...).
pub fn arn_tail(arn: &str) -> &str {
    arn.rsplit('/').next().unwrap_or(arn)
}
