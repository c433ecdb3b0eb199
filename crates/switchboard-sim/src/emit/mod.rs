//! Record builders: turn the simulation state into the three Connect record types of
//! `switchboard-model`, and hand them to the outbox with a delivery time. Agent events in
//! [`agent_event`], EventBridge contact events in [`contact_event`], contact records in
//! [`contact_record`]. Nothing here decides what happens; it only writes it down.

pub(crate) mod agent_event;
pub(crate) mod contact_event;
pub(crate) mod contact_record;

use serde_json::Value;
use switchboard_model::{Extra, Timestamp};

/// Millisecond-precision timestamp (agent events, contact event details).
pub(crate) fn ms(t: i64) -> Timestamp {
    Timestamp::from_millis(t)
}

/// Second-precision timestamp (contact records, EventBridge envelope `time`).
pub(crate) fn secs(t: i64) -> Timestamp {
    Timestamp::from_millis(t).to_second_precision()
}

/// Whole seconds of a millisecond span, rounded to nearest.
pub(crate) fn round_secs(span_ms: i64) -> i64 {
    (span_ms + 500).div_euclid(1000)
}

/// An `extra` map holding explicit `null`s: Connect writes `"Field": null` where the
/// model would omit a `None`, and consumers see the difference.
pub(crate) fn nulls(fields: &[&str]) -> Extra {
    fields
        .iter()
        .map(|f| ((*f).to_owned(), Value::Null))
        .collect()
}
