//! The index template the sink installs (`PUT _index_template/<index_prefix>`), so every
//! daily index it creates is mapped for dashboards: Kibana and OpenSearch Dashboards can
//! only put a field on a time axis if it is a `date`, sum or average it if it is a number,
//! and split by it if it is a `keyword`.
//!
//! - Connect's contact record fields, at the top (raw records) and under `record`
//!   (`contact_record_ready`): timestamps as dates, durations and counts as `long`,
//!   queue, agent, channel, initiation method, endpoints and ids as keywords.
//! - Transitions (`type`, `agent_arn`, `username`, `queue`, `from`, `to`... keywords;
//!   `at` a date; `duration_ms` a number), alerts, contact timelines and metric intervals.
//! - Fields not listed: `at`, `*_at`, `*Timestamp` and `*timestamp` strings are dates;
//!   other strings are keywords (aggregatable, up to 1024 characters) with a `.text`
//!   sub-field for full-text search.
//! - `date_detection` is off: guessing "date" from the first value of an unknown field
//!   would later refuse every document whose value there is not a date (a contact
//!   attribute `"callbackAt": "n/a"`). Known dates are mapped by name instead, and every
//!   date or number mapping has `ignore_malformed`, so one odd value loses that field of
//!   that document, never the document.

use serde_json::{json, Value};

/// The template's name: the index prefix.
pub fn name(index_prefix: &str) -> &str {
    index_prefix
}

/// The template's version (`version` in its body): raised when the mappings change.
pub const VERSION: u64 = 1;

fn date() -> Value {
    json!({"type": "date", "format": "strict_date_optional_time||epoch_millis",
           "ignore_malformed": true})
}

fn long() -> Value {
    json!({"type": "long", "ignore_malformed": true})
}

fn keyword() -> Value {
    json!({"type": "keyword", "ignore_above": 1024})
}

fn object(properties: Value) -> Value {
    json!({ "properties": properties })
}

fn endpoint() -> Value {
    object(json!({"Address": keyword(), "Type": keyword(), "DisplayName": keyword()}))
}

fn arn_name() -> Value {
    object(json!({"ARN": keyword(), "Name": keyword()}))
}

fn hierarchy_group() -> Value {
    object(json!({"ARN": keyword(), "GroupName": keyword()}))
}

/// Mappings of a Connect contact record.
pub fn contact_record_properties() -> Value {
    json!({
        "AWSAccountId": keyword(),
        "AWSContactTraceRecordFormatVersion": keyword(),
        "Agent": object(json!({
            "ARN": keyword(),
            "Username": keyword(),
            "AfterContactWorkDuration": long(),
            "AfterContactWorkStartTimestamp": date(),
            "AfterContactWorkEndTimestamp": date(),
            "AgentInteractionDuration": long(),
            "ConnectedToAgentTimestamp": date(),
            "CustomerHoldDuration": long(),
            "LongestHoldDuration": long(),
            "NumberOfHolds": long(),
            "RoutingProfile": arn_name(),
            "HierarchyGroups": object(json!({
                "Level1": hierarchy_group(),
                "Level2": hierarchy_group(),
                "Level3": hierarchy_group(),
                "Level4": hierarchy_group(),
                "Level5": hierarchy_group(),
            })),
        })),
        "AgentConnectionAttempts": long(),
        "Attributes": {"type": "object"},
        "Channel": keyword(),
        "ConnectedToSystemTimestamp": date(),
        "ContactId": keyword(),
        "CustomerEndpoint": endpoint(),
        "DisconnectReason": keyword(),
        "DisconnectTimestamp": date(),
        "InitialContactId": keyword(),
        "InitiationMethod": keyword(),
        "InitiationTimestamp": date(),
        "InstanceARN": keyword(),
        "LastUpdateTimestamp": date(),
        "NextContactId": keyword(),
        "PreviousContactId": keyword(),
        "Queue": object(json!({
            "ARN": keyword(),
            "Name": keyword(),
            "Duration": long(),
            "EnqueueTimestamp": date(),
            "DequeueTimestamp": date(),
        })),
        "RelatedContactId": keyword(),
        "ScheduledTimestamp": date(),
        "SystemEndpoint": endpoint(),
        "TransferCompletedTimestamp": date(),
        "TransferredToEndpoint": endpoint(),
    })
}

/// Every explicit mapping: contact records at the top, and the fields of switchboard's
/// own items (transitions, triggers with their timeline and record, alerts, metric
/// intervals).
fn properties() -> Value {
    let mut top = contact_record_properties();
    let own = json!({
        // Transitions (and the `type` of triggers).
        "type": keyword(),
        "agent_arn": keyword(),
        "username": keyword(),
        "contact_id": keyword(),
        "initial_contact_id": keyword(),
        "channel": keyword(),
        "queue": keyword(),
        "at": date(),
        "from": keyword(),
        "to": keyword(),
        "duration_ms": long(),
        // contact_completed / contact_record_ready.
        "timeline": object(json!({
            "contact_id": keyword(),
            "initial_contact_id": keyword(),
            "previous_contact_id": keyword(),
            "next_contact_id": keyword(),
            "channel": keyword(),
            "initiation_method": keyword(),
            "queue": keyword(),
            "queue_arn": keyword(),
            "agent_arn": keyword(),
            "agent_username": keyword(),
            "phase": keyword(),
            "hold_ms": long(),
            "acw_ms": long(),
            "attributes": {"type": "object"},
        })),
        "record": object(contact_record_properties()),
        // Alerts.
        "event": keyword(),
        "alert": object(json!({
            "id": keyword(),
            "kind": keyword(),
            "subject": keyword(),
            "username": keyword(),
            "contact_id": keyword(),
            "queue": keyword(),
            "status": keyword(),
            "since": date(),
            "threshold_s": long(),
        })),
        // EventBridge contact events.
        "time": date(),
        // Metric intervals.
        "interval_start": date(),
        "interval_end": date(),
        "rows": object(json!({
            "dimension": keyword(),
            "id": keyword(),
        })),
    });
    if let (Some(top), Value::Object(own)) = (top.as_object_mut(), own) {
        top.extend(own);
    }
    top
}

/// The dynamic templates, first match wins.
fn dynamic_templates() -> Value {
    let dated = |name: &str, pattern: &str| json!({ name: {"match_mapping_type": "string", "match": pattern, "mapping": date()} });
    json!([
        dated("at", "at"),
        dated("snake_case_times", "*_at"),
        dated("timestamps", "*Timestamp"),
        dated("lower_timestamps", "*timestamp"),
        {"strings": {
            "match_mapping_type": "string",
            "mapping": {
                "type": "keyword",
                "ignore_above": 1024,
                "fields": {"text": {"type": "text"}}
            }
        }}
    ])
}

/// The body of `PUT _index_template/<index_prefix>`.
///
/// The priority grows with the prefix's length, so two sinks whose prefixes nest
/// (`switchboard` and `switchboard-test`) install templates of different priorities:
/// Elasticsearch refuses two overlapping patterns of equal priority, and the longer,
/// more specific prefix should win.
pub fn body(index_prefix: &str) -> Value {
    json!({
        "index_patterns": [format!("{index_prefix}-*")],
        "priority": 100 + index_prefix.len(),
        "version": VERSION,
        "_meta": {
            "managed_by": "switchboard",
            "description": "Amazon Connect contact records, agent transitions, alerts and metrics"
        },
        "template": {
            "mappings": {
                "date_detection": false,
                "numeric_detection": false,
                "dynamic_templates": dynamic_templates(),
                "properties": properties(),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dashboards_get_dates_numbers_and_keywords() {
        let body = body("sb");
        assert_eq!(body["index_patterns"], json!(["sb-*"]));
        assert_eq!(body["priority"], 102);
        let m = &body["template"]["mappings"];
        assert_eq!(m["date_detection"], false);
        let p = &m["properties"];
        for date_field in [
            &p["InitiationTimestamp"],
            &p["DisconnectTimestamp"],
            &p["ConnectedToSystemTimestamp"],
            &p["LastUpdateTimestamp"],
            &p["Agent"]["properties"]["ConnectedToAgentTimestamp"],
            &p["record"]["properties"]["InitiationTimestamp"],
            &p["at"],
            &p["interval_start"],
        ] {
            assert_eq!(date_field["type"], "date");
        }
        for number in [
            &p["Agent"]["properties"]["AgentInteractionDuration"],
            &p["Agent"]["properties"]["AfterContactWorkDuration"],
            &p["Agent"]["properties"]["CustomerHoldDuration"],
            &p["Agent"]["properties"]["LongestHoldDuration"],
            &p["Queue"]["properties"]["Duration"],
            &p["duration_ms"],
        ] {
            assert_eq!(number["type"], "long");
        }
        for kw in [
            &p["Queue"]["properties"]["Name"],
            &p["Agent"]["properties"]["Username"],
            &p["Channel"],
            &p["InitiationMethod"],
            &p["ContactId"],
            &p["SystemEndpoint"]["properties"]["Address"],
            &p["DisconnectReason"],
            &p["agent_arn"],
            &p["queue"],
            &p["to"],
        ] {
            assert_eq!(kw["type"], "keyword");
        }
        let strings = m["dynamic_templates"].as_array().unwrap().last().unwrap()["strings"].clone();
        assert_eq!(strings["mapping"]["type"], "keyword");
        assert_eq!(strings["mapping"]["fields"]["text"]["type"], "text");
    }
}
