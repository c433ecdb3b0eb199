//! One Connect record of any of the three streams, and how to tell which it is.

use serde::{Deserialize, Serialize, Serializer};

use crate::agent_event::AgentEvent;
use crate::contact_event::{ContactEvent, ContactEventDetail};
use crate::ctr::ContactRecord;
use crate::decode::Probe;

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
        let probe = Probe::of(bytes).map_err(RecordError::Json)?;
        let Some((kind, enveloped)) = probe.record_kind() else {
            return Ok(None);
        };
        Self::parse_as(kind, enveloped, bytes).map(Some)
    }

    /// What kind of record the JSON object is, without parsing it fully. `None` for JSON
    /// that is not an object of a known kind.
    pub fn sniff(bytes: &[u8]) -> Option<RecordKind> {
        Probe::of(bytes).ok()?.record_kind().map(|(kind, _)| kind)
    }

    /// Parses a JSON object known to be a record of `kind` (`enveloped`: a contact event
    /// with its EventBridge envelope rather than the bare `detail`).
    pub fn parse_as(
        kind: RecordKind,
        enveloped: bool,
        bytes: &[u8],
    ) -> Result<Record, RecordError> {
        let wrap = |e| RecordError::Invalid { kind, source: e };
        Ok(match kind {
            RecordKind::ContactRecord => {
                Record::ContactRecord(serde_json::from_slice(bytes).map_err(wrap)?)
            }
            RecordKind::AgentEvent => {
                Record::AgentEvent(serde_json::from_slice(bytes).map_err(wrap)?)
            }
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
    Invalid {
        kind: RecordKind,
        source: serde_json::Error,
    },
}
