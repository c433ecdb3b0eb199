//! One Connect record of any of the three streams, and how to tell which it is.

use serde::de::IgnoredAny;
use serde::{Deserialize, Serialize, Serializer};

use crate::agent_event::AgentEvent;
use crate::contact_event::{ContactEvent, ContactEventDetail};
use crate::ctr::ContactRecord;

/// Which stream a record belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    ContactRecord,
    AgentEvent,
    ContactEvent,
}

impl RecordKind {
    /// The name used in output (`contact_record`, `agent_event`, `contact_event`).
    pub fn as_str(self) -> &'static str {
        match self {
            Self::ContactRecord => "contact_record",
            Self::AgentEvent => "agent_event",
            Self::ContactEvent => "contact_event",
        }
    }
}

impl std::fmt::Display for RecordKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A typed record of one of the three streams.
#[derive(Debug, Clone, PartialEq)]
pub enum Record {
    ContactRecord(Box<ContactRecord>),
    AgentEvent(Box<AgentEvent>),
    ContactEvent(Box<ContactEvent>),
}

impl Record {
    pub fn kind(&self) -> RecordKind {
        match self {
            Self::ContactRecord(_) => RecordKind::ContactRecord,
            Self::AgentEvent(_) => RecordKind::AgentEvent,
            Self::ContactEvent(_) => RecordKind::ContactEvent,
        }
    }

    /// Parses one JSON object as whichever record it is. `Ok(None)` means the JSON is an
    /// object of no kind we know (not a Connect record); `Err` means it looked like a
    /// record of a known kind but did not parse as one.
    pub fn from_json_slice(bytes: &[u8]) -> Result<Option<Record>, RecordError> {
        let probe: Probe = match serde_json::from_slice(bytes) {
            Ok(p) => p,
            Err(e) if e.is_data() => return Ok(None), // valid JSON but not an object
            Err(e) => return Err(RecordError::Json(e)),
        };
        let Some(kind) = probe.kind() else { return Ok(None) };
        Self::parse_as(kind, probe.detail.is_some(), bytes).map(Some)
    }

    /// What kind of record the JSON object is, without parsing it fully. `None` for JSON
    /// that is not an object of a known kind.
    pub fn sniff(bytes: &[u8]) -> Option<RecordKind> {
        serde_json::from_slice::<Probe>(bytes).ok()?.kind()
    }

    fn parse_as(kind: RecordKind, enveloped: bool, bytes: &[u8]) -> Result<Record, RecordError> {
        let wrap = |e| RecordError::Invalid { kind, source: e };
        Ok(match kind {
            RecordKind::ContactRecord => Record::ContactRecord(serde_json::from_slice(bytes).map_err(wrap)?),
            RecordKind::AgentEvent => Record::AgentEvent(serde_json::from_slice(bytes).map_err(wrap)?),
            RecordKind::ContactEvent if enveloped => {
                Record::ContactEvent(serde_json::from_slice(bytes).map_err(wrap)?)
            }
            RecordKind::ContactEvent => {
                let detail: ContactEventDetail = serde_json::from_slice(bytes).map_err(wrap)?;
                Record::ContactEvent(Box::new(ContactEvent::from_detail(detail)))
            }
        })
    }

    /// A short id for messages: ContactId, EventId or event id.
    pub fn id(&self) -> &str {
        match self {
            Self::ContactRecord(r) => &r.contact_id,
            Self::AgentEvent(e) => &e.event_id,
            Self::ContactEvent(e) => e.id.as_deref().unwrap_or(&e.detail.contact_id),
        }
    }
}

impl Serialize for Record {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Self::ContactRecord(r) => r.serialize(s),
            Self::AgentEvent(e) => e.serialize(s),
            Self::ContactEvent(e) if e.detail_only => e.detail.serialize(s),
            Self::ContactEvent(e) => e.serialize(s),
        }
    }
}

/// Why a JSON object did not parse as the record it looked like.
#[derive(Debug, thiserror::Error)]
pub enum RecordError {
    #[error("not valid JSON: {0}")]
    Json(serde_json::Error),
    #[error("looks like a {kind} but is not a valid one: {source}")]
    Invalid { kind: RecordKind, source: serde_json::Error },
}

/// The keys that tell the record kinds apart; everything else is skipped unparsed.
#[derive(Deserialize)]
struct Probe {
    #[serde(rename = "ContactId")]
    ctr_contact_id: Option<IgnoredAny>,
    #[serde(rename = "AWSContactTraceRecordFormatVersion")]
    ctr_version: Option<IgnoredAny>,
    #[serde(rename = "InitiationTimestamp")]
    ctr_initiation: Option<IgnoredAny>,
    #[serde(rename = "AgentARN")]
    agent_arn: Option<IgnoredAny>,
    #[serde(rename = "EventType")]
    agent_event_type: Option<IgnoredAny>,
    #[serde(rename = "detail-type")]
    detail_type: Option<String>,
    detail: Option<IgnoredAny>,
    #[serde(rename = "eventType")]
    event_type: Option<IgnoredAny>,
    #[serde(rename = "contactId")]
    contact_id: Option<IgnoredAny>,
}

impl Probe {
    fn kind(&self) -> Option<RecordKind> {
        if self.agent_arn.is_some() && self.agent_event_type.is_some() {
            Some(RecordKind::AgentEvent)
        } else if self.ctr_contact_id.is_some()
            && self.agent_event_type.is_none()
            && (self.ctr_version.is_some() || self.ctr_initiation.is_some())
        {
            Some(RecordKind::ContactRecord)
        } else if self.detail.is_some()
            && self.detail_type.as_deref().is_some_and(|t| t == crate::contact_event::CONTACT_EVENT_DETAIL_TYPE)
        {
            Some(RecordKind::ContactEvent)
        } else if (self.event_type.is_some() || self.agent_event_type.is_some())
            && (self.contact_id.is_some() || self.ctr_contact_id.is_some())
        {
            // A bare `detail`, in the real camelCase or the PascalCase of some doc samples.
            Some(RecordKind::ContactEvent)
        } else {
            None
        }
    }
}
