//! The event-type filter of the EventBridge sources (the HTTP target and the SQS poller):
//! which Connect contact events to keep, by `detail.eventType`.
//!
//! An EventBridge rule's pattern already filters upstream (formats.md §c shows one that
//! drops `CONTACT_DATA_UPDATED`); this is the same choice made on our side, for a rule we
//! do not control or a queue several consumers share. Records of the other two streams
//! (contact records, agent events) are not contact events and always pass.

use serde::{Deserialize, Serialize};
use switchboard_model::{Decoded, Record, RecordView};

/// Which contact events to keep. Event types are compared without regard to case;
/// unknown types are allowed (Connect adds new ones).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTypeFilter {
    /// Keep only these event types, e.g. `["QUEUED", "CONNECTED_TO_AGENT"]`. Empty (the
    /// default) keeps every type.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub include: Vec<String>,
    /// Drop these event types, e.g. `["CONTACT_DATA_UPDATED"]`; applied after `include`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub exclude: Vec<String>,
}

impl EventTypeFilter {
    /// Refuses empty names (a YAML/TOML slip that would match nothing).
    pub fn validate(&self) -> Result<(), String> {
        for t in self.include.iter().chain(&self.exclude) {
            if t.trim().is_empty() {
                return Err("event type filters must not contain empty names".into());
            }
        }
        Ok(())
    }

    /// Whether a contact event of this type passes.
    pub fn accepts_type(&self, event_type: &str) -> bool {
        let listed = |list: &[String]| list.iter().any(|t| t.eq_ignore_ascii_case(event_type));
        (self.include.is_empty() || listed(&self.include)) && !listed(&self.exclude)
    }

    /// Whether a record passes: contact events by their type, every other record always.
    pub fn accepts(&self, record: &Record) -> bool {
        match record {
            Record::ContactEvent(e) => self.accepts_type(e.detail.event_type.as_str()),
            Record::ContactRecord(_) | Record::AgentEvent(_) => true,
        }
    }

    /// Whether a decoded record passes (read from its view; a contact event whose view
    /// does not parse passes, to fail where it is applied and be dead-lettered there).
    pub fn accepts_decoded(&self, decoded: &Decoded) -> bool {
        if self.is_empty() {
            return true;
        }
        match decoded.view() {
            Ok(RecordView::ContactEvent(e)) => self.accepts_type(e.detail.event_type.as_str()),
            _ => true,
        }
    }

    /// True when the filter keeps everything.
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn filter(include: &[&str], exclude: &[&str]) -> EventTypeFilter {
        EventTypeFilter {
            include: include.iter().map(|s| s.to_string()).collect(),
            exclude: exclude.iter().map(|s| s.to_string()).collect(),
        }
    }

    #[test]
    fn include_then_exclude_case_insensitive() {
        let all = filter(&[], &[]);
        assert!(all.accepts_type("QUEUED") && all.accepts_type("SOMETHING_NEW"));

        let f = filter(&["queued", "DISCONNECTED"], &["disconnected"]);
        assert!(f.accepts_type("QUEUED"));
        assert!(!f.accepts_type("DISCONNECTED"), "exclude wins over include");
        assert!(!f.accepts_type("INITIATED"), "not included");

        let f = filter(&[], &["CONTACT_DATA_UPDATED"]);
        assert!(f.accepts_type("INITIATED"));
        assert!(!f.accepts_type("contact_data_updated"));
    }

    #[test]
    fn other_records_always_pass() {
        let ctr = std::fs::read(crate::sources::http::tests_support::sample(
            "ctr-voice-inbound-2022.json",
        ))
        .unwrap();
        let record = Record::from_json_slice(&ctr).unwrap().unwrap();
        assert!(filter(&["QUEUED"], &[]).accepts(&record));

        let event = std::fs::read(crate::sources::http::tests_support::sample(
            "eventbridge-contact-disconnected.json",
        ))
        .unwrap();
        let record = Record::from_json_slice(&event).unwrap().unwrap();
        assert!(!filter(&["QUEUED"], &[]).accepts(&record));
        assert!(filter(&["QUEUED", "DISCONNECTED"], &[]).accepts(&record));
    }

    #[test]
    fn empty_names_refused() {
        assert!(filter(&[""], &[]).validate().is_err());
        assert!(filter(&["QUEUED"], &["COMPLETED"]).validate().is_ok());
    }
}
