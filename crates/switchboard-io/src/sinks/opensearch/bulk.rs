//! The `_bulk` protocol, without the network: which index and id each item gets, the
//! NDJSON request body, and the per-item outcomes read from the answer.
//!
//! Index names are `<prefix>-<kind>-YYYY.MM.DD` (UTC). The kind is the item's, except for
//! raw records, which are filed by their stream (`contact_record`, `agent_event`,
//! `contact_event`). Contact records are filed by the day the contact *began*
//! (`InitiationTimestamp`) rather than by their event time (the last update): an updated
//! copy that arrives days later must land in the same daily index, where it replaces the
//! first copy, instead of leaving two.
//!
//! Document ids: a contact record's (and a `contact_record_ready`'s) is its `ContactId`,
//! so a re-delivered or updated record replaces its older copy; every other item's is its
//! idempotency key, so a retried item overwrites itself.
//!
//! Contact records are indexed with `version_type = external` and the record's
//! `LastUpdateTimestamp` (in milliseconds) as version. Connect may deliver a record again,
//! and copies can arrive out of order (two shards, a retry racing a newer copy, a replay
//! of old files); with an external version the cluster itself keeps the newest copy and
//! answers an older one with `409 version_conflict_engine_exception`, which therefore
//! counts as delivered: the store already has that copy or a newer one. (A plain `index`
//! would let whichever copy came last win; optimistic `if_seq_no` would need a read
//! first.)

use std::collections::HashMap;

use serde::Deserialize;
use serde_json::{Map, Value};
use switchboard_model::{RecordKind, Timestamp};

use crate::sinks::retry::classify_status;
use crate::sinks::s3::layout::{one_line, UtcHour};
use crate::sinks::{Item, ItemKind, Outcome};

/// One document of a bulk request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Doc {
    pub index: String,
    pub id: String,
    /// The external version (a contact record's `LastUpdateTimestamp`, ms).
    pub version: Option<i64>,
    /// The item's JSON object on one line.
    pub source: Vec<u8>,
}

/// The document `item` becomes, or why it cannot be indexed (a rejection's reason).
pub fn doc(prefix: &str, item: &Item) -> Result<Doc, String> {
    let value: Value = serde_json::from_slice(&item.payload)
        .map_err(|e| format!("the payload is not JSON ({e}); OpenSearch indexes JSON objects"))?;
    let Value::Object(object) = &value else {
        return Err("the payload is not a JSON object; OpenSearch indexes objects".into());
    };
    let (kind, record) = match item.kind {
        ItemKind::Record => match switchboard_model::Record::sniff(&item.payload) {
            Some(RecordKind::ContactRecord) => (RecordKind::ContactRecord.as_str(), Some(object)),
            Some(other) => (other.as_str(), None),
            None => (ItemKind::Record.as_str(), None),
        },
        ItemKind::ContactRecordReady => (
            ItemKind::ContactRecordReady.as_str(),
            object.get("record").and_then(Value::as_object),
        ),
        other => (other.as_str(), None),
    };
    let contact_id = match item.kind {
        ItemKind::ContactRecordReady => {
            text(object, "contact_id").or_else(|| record.and_then(|r| text(r, "ContactId")))
        }
        _ => record.and_then(|r| text(r, "ContactId")),
    };
    let version = contact_id
        .and(record)
        .and_then(|r| time_ms(r, "LastUpdateTimestamp"))
        .filter(|&v| v >= 0);
    let day_ms = record
        .and_then(|r| time_ms(r, "InitiationTimestamp"))
        .unwrap_or(item.event_ms);
    Ok(Doc {
        index: format!("{prefix}-{kind}-{}", UtcHour::of(day_ms).dotted_day()),
        id: contact_id.map_or_else(|| item.key.clone(), str::to_owned),
        version,
        source: one_line(item.payload.trim_ascii()).into_owned(),
    })
}

fn text<'a>(object: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    object.get(key)?.as_str().filter(|s| !s.is_empty())
}

fn time_ms(object: &Map<String, Value>, key: &str) -> Option<i64> {
    Timestamp::parse(object.get(key)?.as_str()?)
        .ok()
        .map(Timestamp::millis)
}

/// The NDJSON body: an `index` action line and the source line per document, each ending
/// with a newline (the last one too, as `_bulk` requires).
pub fn request_body(docs: &[&Doc]) -> Vec<u8> {
    let mut body = Vec::with_capacity(docs.iter().map(|d| d.source.len() + 160).sum());
    for doc in docs {
        let mut action = Map::new();
        action.insert("_index".into(), doc.index.clone().into());
        action.insert("_id".into(), doc.id.clone().into());
        if let Some(version) = doc.version {
            action.insert("version".into(), version.into());
            action.insert("version_type".into(), "external".into());
        }
        let line = serde_json::json!({ "index": action });
        // A map of strings and numbers always serializes.
        body.extend_from_slice(&serde_json::to_vec(&line).unwrap_or_default());
        body.push(b'\n');
        body.extend_from_slice(&doc.source);
        body.push(b'\n');
    }
    body
}

#[derive(Deserialize)]
struct BulkResponse {
    #[serde(default)]
    items: Vec<HashMap<String, BulkItem>>,
}

#[derive(Deserialize)]
struct BulkItem {
    status: u16,
    #[serde(default)]
    error: Option<Value>,
}

/// One outcome per document, in order, from a 2xx `_bulk` answer. `Err` when the answer
/// is not a bulk response for these documents (then every document is retried).
pub fn outcomes(body: &[u8], docs: &[&Doc]) -> Result<Vec<Outcome>, String> {
    let response: BulkResponse = serde_json::from_slice(body)
        .map_err(|e| format!("the _bulk answer is not a bulk response ({e})"))?;
    if response.items.len() != docs.len() {
        return Err(format!(
            "the _bulk answer lists {} items for {} documents sent",
            response.items.len(),
            docs.len()
        ));
    }
    Ok(response
        .items
        .iter()
        .zip(docs)
        .map(|(entry, doc)| match entry.values().next() {
            Some(item) => outcome(item, doc),
            None => Outcome::retry("the _bulk answer has an empty item"),
        })
        .collect())
}

fn outcome(item: &BulkItem, doc: &Doc) -> Outcome {
    let kind = item
        .error
        .as_ref()
        .and_then(|e| e.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    if (200..300).contains(&item.status) {
        return Outcome::Delivered;
    }
    if item.status == 409 && kind == "version_conflict_engine_exception" && doc.version.is_some() {
        // The index holds this copy or a newer one of the record.
        return Outcome::Delivered;
    }
    let reason = describe_error(item.error.as_ref());
    let reason = format!("{}/{}: {reason}", doc.index, doc.id);
    classify_status(item.status, None, &reason)
}

/// `type: reason (caused by type: reason)` of an Elasticsearch error object (or a
/// string, as some proxies answer).
pub fn describe_error(error: Option<&Value>) -> String {
    fn one(e: &Value) -> String {
        match e {
            Value::String(s) => s.clone(),
            Value::Object(o) => {
                let kind = o.get("type").and_then(Value::as_str).unwrap_or("error");
                match o.get("reason").and_then(Value::as_str) {
                    Some(reason) => format!("{kind}: {reason}"),
                    None => kind.to_owned(),
                }
            }
            other => other.to_string(),
        }
    }
    match error {
        None => "no error given".into(),
        Some(e) => {
            let mut text = one(e);
            if let Some(cause) = e.get("caused_by") {
                text.push_str(&format!(" (caused by {})", one(cause)));
            }
            text
        }
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;

    use super::*;

    fn item(kind: ItemKind, payload: &str, event_ms: i64) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            sink: "es".into(),
            key: "key-1".into(),
            kind,
            payload: Bytes::from(payload.to_owned()),
            event_ms,
            created_ms: 0,
            attempts: 0,
        }
    }

    const CTR: &str = r#"{"AWSAccountId":"1","AWSContactTraceRecordFormatVersion":"2017-03-10",
        "Channel":"VOICE","ContactId":"c-1","InitiationMethod":"INBOUND",
        "InitiationTimestamp":"2022-04-08T23:59:38Z","LastUpdateTimestamp":"2022-04-10T01:00:00Z",
        "InstanceARN":"arn:aws:connect:us-east-1:1:instance/x"}"#;

    #[test]
    fn contact_records_by_contact_id_day_and_version() {
        let d = doc("sb", &item(ItemKind::Record, CTR, 0)).unwrap();
        assert_eq!(d.index, "sb-contact_record-2022.04.08");
        assert_eq!(d.id, "c-1");
        assert_eq!(
            d.version,
            Some(Timestamp::parse("2022-04-10T01:00:00Z").unwrap().millis())
        );
        assert!(!d.source.contains(&b'\n'));

        let ready =
            format!(r#"{{"type":"contact_record_ready","contact_id":"c-1","record":{CTR}}}"#);
        let d = doc("sb", &item(ItemKind::ContactRecordReady, &ready, 0)).unwrap();
        assert_eq!(d.index, "sb-contact_record_ready-2022.04.08");
        assert_eq!(d.id, "c-1");
        assert!(d.version.is_some());
    }

    #[test]
    fn other_items_by_key_and_event_day() {
        let t = r#"{"type":"hold_started","agent_arn":"a","at":"2024-01-02T03:04:05.000Z"}"#;
        let d = doc("sb", &item(ItemKind::Transition, t, 1_704_164_645_000)).unwrap();
        assert_eq!(d.index, "sb-transition-2024.01.02");
        assert_eq!((d.id.as_str(), d.version), ("key-1", None));
        let agent_event = r#"{"AgentARN":"arn:a","EventId":"e","EventType":"HEART_BEAT",
            "EventTimestamp":"2024-01-02T03:04:05.000Z","InstanceARN":"i","AWSAccountId":"1",
            "Version":"2017-10-01"}"#;
        let d = doc("sb", &item(ItemKind::Record, agent_event, 0)).unwrap();
        assert_eq!(d.index, "sb-agent_event-1970.01.01");
        assert_eq!(d.id, "key-1");
        assert!(doc("sb", &item(ItemKind::Record, "[1]", 0)).is_err());
        assert!(doc("sb", &item(ItemKind::Record, "{", 0)).is_err());
    }

    #[test]
    fn body_pairs_actions_and_sources() {
        let a = doc("sb", &item(ItemKind::Record, CTR, 0)).unwrap();
        let b = doc("sb", &item(ItemKind::AlertRaised, r#"{"x":1}"#, 0)).unwrap();
        let body = request_body(&[&a, &b]);
        let lines: Vec<&[u8]> = body.split(|&c| c == b'\n').collect();
        assert_eq!(lines.len(), 5, "four lines and the final newline");
        let action: Value = serde_json::from_slice(lines[0]).unwrap();
        assert_eq!(action["index"]["_id"], "c-1");
        assert_eq!(action["index"]["version_type"], "external");
        let action: Value = serde_json::from_slice(lines[2]).unwrap();
        assert_eq!(action["index"]["_index"], "sb-alert_raised-1970.01.01");
        assert!(action["index"].get("version").is_none());
        assert_eq!(lines[3], br#"{"x":1}"#);
    }

    #[test]
    fn answers_per_item() {
        let versioned = doc("sb", &item(ItemKind::Record, CTR, 0)).unwrap();
        let plain = doc("sb", &item(ItemKind::Transition, "{}", 0)).unwrap();
        let docs = [&plain, &versioned, &plain, &plain, &plain, &plain];
        let answer = serde_json::json!({"took": 3, "errors": true, "items": [
            {"index": {"_id": "1", "status": 201, "result": "created"}},
            {"index": {"_id": "2", "status": 409, "error": {
                "type": "version_conflict_engine_exception", "reason": "current version is higher"}}},
            {"index": {"status": 429, "error": {"type": "es_rejected_execution_exception",
                "reason": "rejected execution"}}},
            {"index": {"status": 400, "error": {"type": "mapper_parsing_exception",
                "reason": "failed to parse field [Channel]",
                "caused_by": {"type": "illegal_state_exception", "reason": "Can't get text"}}}},
            {"index": {"status": 503, "error": "unavailable_shards_exception"}},
            {"index": {"status": 409, "error": {"type": "version_conflict_engine_exception"}}},
        ]});
        let out = outcomes(answer.to_string().as_bytes(), &docs).unwrap();
        assert_eq!(out[0], Outcome::Delivered);
        assert_eq!(out[1], Outcome::Delivered);
        assert!(matches!(&out[2], Outcome::Retry { reason, .. } if reason.contains("429")));
        match &out[3] {
            Outcome::Reject { reason } => {
                assert!(reason.contains("HTTP 400"), "{reason}");
                assert!(
                    reason.contains("mapper_parsing_exception: failed to parse field [Channel]")
                );
                assert!(
                    reason.contains("caused by illegal_state_exception"),
                    "{reason}"
                );
            }
            other => panic!("{other:?}"),
        }
        assert!(matches!(&out[4], Outcome::Retry { .. }));
        // A conflict without an external version is a real conflict.
        assert!(matches!(&out[5], Outcome::Reject { .. }));

        assert!(outcomes(b"{\"items\": []}", &docs).is_err());
        assert!(outcomes(b"<html>", &docs).is_err());
    }
}
