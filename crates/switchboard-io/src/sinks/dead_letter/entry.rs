//! One dead letter: what failed, where, why, and the original bytes.
//!
//! On the wire an entry is a Firehose error record (the shape Firehose gives the records it
//! writes to its S3 error prefix: `attemptsMade`, `arrivalTimestamp`, `errorCode`,
//! `errorMessage`, `rawData` = base64 of the original bytes) with switchboard's own keys
//! beside them:
//!
//! ```json
//! {"arrivalTimestamp":1718000000000,"attemptsMade":3,"errorCode":"Switchboard.SinkError",
//!  "errorMessage":"HTTP 400: mapper_parsing_exception","eventTimestamp":1717999990000,
//!  "key":"9f2c…","kind":"record","rawData":"eyJBZ2VudEFSTiI6…","rule":"crm",
//!  "sink":"crm-webhook","stage":"sink"}
//! ```
//!
//! So the model's decoder reads a dead-letter file like any Firehose error file: once the
//! cause is fixed, `switchboard replay dead-letters.ndjson` decodes `rawData` again and
//! recovers the records. Entries written before switchboard had stages (no `stage` key, the
//! decode error code) and Firehose's own error records read back as decode-stage letters.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use switchboard_model::decode::{DecodeError, DEAD_LETTER_ERROR_CODE};
use switchboard_model::envelope::{decode_base64, encode_base64, FirehoseErrorRecord};

use crate::sinks::{Item, ItemKind};

/// Where in switchboard an item failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    /// Bytes that did not decode into a Connect record (replay decodes `rawData` again).
    Decode,
    /// A record that decoded but failed a validation the pipeline applies.
    Validate,
    /// An enrichment lookup that kept failing, or a miss whose policy is `dead_letter`.
    Enrich,
    /// A destination that refused the item (a 4xx), or attempts used up.
    Sink,
}

impl Stage {
    pub const ALL: [Stage; 4] = [Stage::Decode, Stage::Validate, Stage::Enrich, Stage::Sink];

    /// The name used in entries, filters and metric labels (`decode`, `validate`...).
    pub fn as_str(self) -> &'static str {
        use switchboard_telemetry::delivery::stage;
        match self {
            Stage::Decode => stage::DECODE,
            Stage::Validate => stage::VALIDATE,
            Stage::Enrich => stage::ENRICH,
            Stage::Sink => stage::SINK,
        }
    }

    pub fn parse(s: &str) -> Option<Stage> {
        Stage::ALL.into_iter().find(|st| st.as_str() == s)
    }

    /// The entry's `errorCode` (Firehose's field): `Switchboard.DecodeError` (as dead
    /// letters were written before stages existed), `Switchboard.ValidateError`,
    /// `Switchboard.EnrichError`, `Switchboard.SinkError`.
    pub fn error_code(self) -> &'static str {
        match self {
            Stage::Decode => DEAD_LETTER_ERROR_CODE,
            Stage::Validate => "Switchboard.ValidateError",
            Stage::Enrich => "Switchboard.EnrichError",
            Stage::Sink => "Switchboard.SinkError",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Stage::parse(s).ok_or_else(|| {
            format!("unknown stage {s:?}; expected one of: decode, validate, enrich, sink")
        })
    }
}

/// switchboard's own keys, beside Firehose's.
mod keys {
    pub const STAGE: &str = "stage";
    pub const RULE: &str = "rule";
    pub const SINK: &str = "sink";
    pub const KIND: &str = "kind";
    pub const KEY: &str = "key";
    pub const EVENT: &str = "eventTimestamp";
    pub const SOURCE: &str = "source";
    pub const TRUNCATED: &str = "rawDataTruncated";
}

/// One dead letter. Serialized in the shape Firehose gives the records it writes to its S3
/// error prefix, plus switchboard's own keys (see the module docs), so `switchboard replay`
/// of a dead-letter file still recovers decode-stage records.
#[derive(Debug, Clone, PartialEq)]
pub struct DeadLetter {
    pub stage: Stage,
    /// Why (`errorMessage`).
    pub reason: String,
    /// The original bytes (`rawData`, base64): the record as received for a decode error,
    /// the item's payload otherwise.
    pub raw: Vec<u8>,
    /// When it was dead-lettered, in milliseconds since the epoch (`arrivalTimestamp`).
    pub at_ms: i64,
    /// Attempts made, the failing one included (`attemptsMade`).
    pub attempts: u32,
    /// The routing rule of the item, if it had one.
    pub rule: Option<String>,
    /// The sink that failed (sink stage) or the item was going to.
    pub sink: Option<String>,
    pub kind: Option<ItemKind>,
    /// The item's idempotency key.
    pub key: Option<String>,
    /// The time the item describes, in milliseconds since the epoch.
    pub event_ms: Option<i64>,
    /// Where the bytes were found: file, line, shard, sequence number... (the decoder's
    /// `Source` as JSON).
    pub source: Option<Value>,
    /// `raw` was left out because the entry did not fit its destination (an SQS message
    /// over the size limit): the one case where a dead letter does not keep its bytes.
    pub raw_truncated: bool,
}

impl DeadLetter {
    /// The dead letter of bytes that did not decode (stage `decode`, one attempt).
    pub fn from_decode_error(e: &DecodeError, at_ms: i64) -> Self {
        DeadLetter {
            stage: Stage::Decode,
            reason: e.reason.clone(),
            raw: e.raw.clone(),
            at_ms,
            attempts: 1,
            rule: None,
            sink: None,
            kind: None,
            key: None,
            event_ms: None,
            source: serde_json::to_value(&e.source).ok(),
            raw_truncated: false,
        }
    }

    /// The dead letter of an outbox item that failed at `stage`: its payload, rule, sink,
    /// kind, key and event time; attempts counts the one that just failed.
    pub fn from_item(item: &Item, stage: Stage, reason: &str, at_ms: i64) -> Self {
        DeadLetter {
            stage,
            reason: reason.to_owned(),
            raw: item.payload.to_vec(),
            at_ms,
            attempts: item.attempts.saturating_add(1),
            rule: Some(item.rule.clone()).filter(|r| !r.is_empty()),
            sink: Some(item.sink.clone()).filter(|s| !s.is_empty()),
            kind: Some(item.kind),
            key: Some(item.key.clone()),
            event_ms: Some(item.event_ms),
            source: None,
            raw_truncated: false,
        }
    }

    /// `errorCode`: see [`Stage::error_code`].
    pub fn error_code(&self) -> String {
        self.stage.error_code().to_owned()
    }

    /// The entry as one line of JSON (no newline in it).
    pub fn to_json(&self) -> Vec<u8> {
        self.to_value().to_string().into_bytes()
    }

    fn to_value(&self) -> Value {
        let mut m = Map::new();
        m.insert("attemptsMade".into(), self.attempts.into());
        m.insert("arrivalTimestamp".into(), self.at_ms.into());
        m.insert("errorCode".into(), self.error_code().into());
        m.insert("errorMessage".into(), self.reason.clone().into());
        m.insert("rawData".into(), encode_base64(&self.raw).into());
        m.insert(keys::STAGE.into(), self.stage.as_str().into());
        let strings = [
            (keys::RULE, &self.rule),
            (keys::SINK, &self.sink),
            (keys::KEY, &self.key),
        ];
        for (name, value) in strings {
            if let Some(v) = value {
                m.insert(name.into(), v.clone().into());
            }
        }
        if let Some(kind) = self.kind {
            m.insert(keys::KIND.into(), kind.as_str().into());
        }
        if let Some(ms) = self.event_ms {
            m.insert(keys::EVENT.into(), ms.into());
        }
        if let Some(source) = &self.source {
            m.insert(keys::SOURCE.into(), source.clone());
        }
        if self.raw_truncated {
            m.insert(keys::TRUNCATED.into(), true.into());
        }
        Value::Object(m)
    }

    /// Reads an entry back. Also reads entries written before stages existed and
    /// Firehose's own error records (both as decode-stage letters: replay decodes their
    /// `rawData` again); numbers may be JSON numbers or numeric strings, as in AWS's
    /// documented schema.
    pub fn from_json(bytes: &[u8]) -> Result<Self, String> {
        let rec: FirehoseErrorRecord = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a dead-letter entry (a Firehose error record): {e}"))?;
        let raw =
            decode_base64(&rec.raw_data).map_err(|e| format!("rawData is not base64: {e}"))?;
        let at_ms = number(rec.arrival_timestamp.as_ref(), "arrivalTimestamp")?.unwrap_or(0);
        let attempts = number(rec.attempts_made.as_ref(), "attemptsMade")?
            .map_or(0, |n| u32::try_from(n.max(0)).unwrap_or(u32::MAX));
        let extra = &rec.extra;
        let message = rec.error_message.unwrap_or_default();
        let code = rec.error_code.unwrap_or_default();
        let (stage, reason) = match string(extra, keys::STAGE)? {
            Some(s) => (s.parse::<Stage>()?, message),
            None => match Stage::ALL.into_iter().find(|s| s.error_code() == code) {
                Some(stage) => (stage, message),
                // Firehose's own error record: keep its code in the reason.
                None if code.is_empty() => (Stage::Decode, message),
                None => (Stage::Decode, format!("{code}: {message}")),
            },
        };
        let kind = match string(extra, keys::KIND)? {
            Some(k) => Some(ItemKind::parse(&k).ok_or_else(|| format!("unknown kind {k:?}"))?),
            None => None,
        };
        let raw_truncated = match extra.get(keys::TRUNCATED) {
            None | Some(Value::Null) => false,
            Some(Value::Bool(b)) => *b,
            Some(other) => {
                return Err(format!("{} is not true or false: {other}", keys::TRUNCATED))
            }
        };
        Ok(DeadLetter {
            stage,
            reason,
            raw,
            at_ms,
            attempts,
            rule: string(extra, keys::RULE)?,
            sink: string(extra, keys::SINK)?,
            kind,
            key: string(extra, keys::KEY)?,
            event_ms: number(extra.get(keys::EVENT), keys::EVENT)?,
            source: extra.get(keys::SOURCE).filter(|v| !v.is_null()).cloned(),
            raw_truncated,
        })
    }
}

fn string(extra: &Map<String, Value>, key: &str) -> Result<Option<String>, String> {
    match extra.get(key) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) => Ok(Some(s.clone())),
        Some(other) => Err(format!("{key} is not a string: {other}")),
    }
}

/// An integer written as a JSON number or a numeric string.
fn number(value: Option<&Value>, key: &str) -> Result<Option<i64>, String> {
    let bad = |v: &Value| format!("{key} is not a whole number: {v}");
    match value {
        None | Some(Value::Null) => Ok(None),
        Some(v @ Value::Number(n)) => n.as_i64().map(Some).ok_or_else(|| bad(v)),
        Some(v @ Value::String(s)) => s.trim().parse().map(Some).map_err(|_| bad(v)),
        Some(v) => Err(bad(v)),
    }
}

/// Which dead letters `dlq list | show | replay` take. Every field set must match.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeadLetterFilter {
    pub stage: Option<Stage>,
    /// The sink that failed (or the item was going to).
    pub sink: Option<String>,
    pub rule: Option<String>,
    /// One item's idempotency key.
    pub key: Option<String>,
    /// Dead-lettered at or after (milliseconds since the epoch).
    pub since_ms: Option<i64>,
    /// Dead-lettered before (milliseconds since the epoch).
    pub until_ms: Option<i64>,
}

impl DeadLetterFilter {
    pub fn matches(&self, letter: &DeadLetter) -> bool {
        let same = |want: &Option<String>, have: &Option<String>| {
            want.as_ref().is_none_or(|w| have.as_ref() == Some(w))
        };
        self.stage.is_none_or(|s| s == letter.stage)
            && same(&self.sink, &letter.sink)
            && same(&self.rule, &letter.rule)
            && same(&self.key, &letter.key)
            && self.since_ms.is_none_or(|t| letter.at_ms >= t)
            && self.until_ms.is_none_or(|t| letter.at_ms < t)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn item() -> Item {
        Item {
            id: 7,
            rule: "crm".into(),
            sink: "crm-webhook".into(),
            key: "k-1".into(),
            kind: ItemKind::Transition,
            payload: Bytes::from_static(br#"{"agent":"a","to":"Available"}"#),
            event_ms: 1_718_000_000_000,
            created_ms: 1_718_000_000_500,
            attempts: 2,
        }
    }

    #[test]
    fn entries_round_trip() {
        let mut letter = DeadLetter::from_item(&item(), Stage::Sink, "HTTP 400: bad", 99);
        assert_eq!(letter.attempts, 3);
        assert_eq!(DeadLetter::from_json(&letter.to_json()), Ok(letter.clone()));
        letter.source = Some(serde_json::json!({"file": "x.ndjson", "line": 3}));
        letter.raw_truncated = true;
        letter.raw.clear();
        assert_eq!(DeadLetter::from_json(&letter.to_json()), Ok(letter));
    }

    #[test]
    fn the_json_is_a_firehose_error_record_on_one_line() {
        let letter = DeadLetter::from_item(&item(), Stage::Enrich, "lookup\nfailed", 5);
        let json = letter.to_json();
        assert!(!json.contains(&b'\n'));
        let rec: FirehoseErrorRecord = serde_json::from_slice(&json).unwrap();
        assert_eq!(rec.error_code.as_deref(), Some("Switchboard.EnrichError"));
        assert_eq!(
            decode_base64(&rec.raw_data).unwrap(),
            item().payload.to_vec()
        );
    }

    #[test]
    fn old_entries_and_firehose_records_read_as_decode_letters() {
        let old = br#"{"attemptsMade":1,"arrivalTimestamp":12,"errorCode":"Switchboard.DecodeError","errorMessage":"not JSON","rawData":"eHl6","source":{"line":4}}"#;
        let l = DeadLetter::from_json(old).unwrap();
        assert_eq!(
            (l.stage, l.at_ms, l.raw.as_slice()),
            (Stage::Decode, 12, &b"xyz"[..])
        );
        assert_eq!(l.source, Some(serde_json::json!({"line": 4})));
        let firehose = br#"{"attemptsMade":"4","arrivalTimestamp":"1594265943615","errorCode":"Lambda.FunctionError","errorMessage":"boom","rawData":"eHl6","lambdaArn":"arn"}"#;
        let l = DeadLetter::from_json(firehose).unwrap();
        assert_eq!(
            (l.stage, l.attempts, l.at_ms),
            (Stage::Decode, 4, 1_594_265_943_615)
        );
        assert_eq!(l.reason, "Lambda.FunctionError: boom");
    }

    #[test]
    fn bad_entries_say_what_is_wrong() {
        for (bad, says) in [
            (&b"{}"[..], "rawData"),
            (br#"{"rawData":"!!"}"#, "base64"),
            (br#"{"rawData":"","stage":"later"}"#, "unknown stage"),
            (br#"{"rawData":"","kind":"thing"}"#, "unknown kind"),
            (
                br#"{"rawData":"","arrivalTimestamp":"soon"}"#,
                "arrivalTimestamp",
            ),
            (br#"{"rawData":"","sink":3}"#, "sink is not a string"),
            (b"not json", "not a dead-letter entry"),
        ] {
            let e = DeadLetter::from_json(bad).unwrap_err();
            assert!(e.contains(says), "{e}");
        }
    }

    #[test]
    fn filters_match_every_field_set() {
        let letter = DeadLetter::from_item(&item(), Stage::Sink, "x", 100);
        let all = DeadLetterFilter::default();
        assert!(all.matches(&letter));
        let f = |f: DeadLetterFilter| f.matches(&letter);
        assert!(f(DeadLetterFilter {
            stage: Some(Stage::Sink),
            sink: Some("crm-webhook".into()),
            ..all.clone()
        }));
        assert!(!f(DeadLetterFilter {
            stage: Some(Stage::Decode),
            ..all.clone()
        }));
        assert!(!f(DeadLetterFilter {
            rule: Some("other".into()),
            ..all.clone()
        }));
        assert!(f(DeadLetterFilter {
            since_ms: Some(100),
            until_ms: Some(101),
            ..all.clone()
        }));
        assert!(!f(DeadLetterFilter {
            until_ms: Some(100),
            ..all.clone()
        }));
        assert!(!f(DeadLetterFilter {
            since_ms: Some(101),
            ..all.clone()
        }));
        assert!(f(DeadLetterFilter {
            key: Some("k-1".into()),
            ..all
        }));
    }
}
