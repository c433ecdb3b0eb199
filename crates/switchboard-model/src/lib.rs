//! Typed records of Amazon Connect's three data streams (contact records, agent events,
//! EventBridge contact events) and the envelopes they travel in (Kinesis records, Lambda
//! events, Firehose requests and S3 objects, EventBridge and SQS).
//!
//! This crate does no I/O: bytes in, typed records out. Parse once at the edge; everything
//! downstream works on these types. Every model is tolerant (optional fields, open enums,
//! unknown fields kept in `extra`) so a record from a newer Connect re-encodes unchanged.

pub mod agent_event;
pub mod common;
pub mod contact_event;
pub mod ctr;
pub mod decode;
pub mod envelope;
mod open_enum;
pub mod record;
pub mod seq;
pub mod time;
pub mod view;

pub use agent_event::{AgentContact, AgentEvent, AgentEventType, AgentSnapshot, ContactState};
pub use common::{Channel, DisconnectReason, Extra, InitiationMethod};
pub use contact_event::{ContactEvent, ContactEventDetail, ContactEventType};
pub use ctr::ContactRecord;
pub use decode::{DecodeError, Decoded, Decoder, Format, Source};
pub use record::{Record, RecordError, RecordKind};
pub use seq::SequenceNumber;
pub use time::Timestamp;
pub use view::RecordView;
