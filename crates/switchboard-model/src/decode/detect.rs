//! Telling records and envelopes apart by their keys, and unpacking each envelope.
//!
//! One cheap pass over a JSON value reads only the keys that identify it (every other
//! value is skipped unparsed); a second pass parses it as what it is.

use std::collections::BTreeMap;
use std::fmt;
use std::ops::ControlFlow;
use std::str::FromStr;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Deserialize;
use serde_json::value::RawValue;

use super::split::Keys;
use super::{decode_payload, DecodeError, Decoded, Nest, Source};
use crate::contact_event::CONTACT_EVENT_DETAIL_TYPE;
use crate::envelope::{
    decode_base64, FirehoseErrorRecord, FirehoseHttpRequest, FirehoseTransformRequest,
    KinesisEvent, KinesisRecord, KinesisRecords, SqsEvent, SqsMessage, SqsMessages,
};
use crate::record::{RecordError, RecordKind};
use crate::view::RecordView;

/// The layout of the input, when it should not be detected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Format {
    /// Detect every top-level value's layout from its keys.
    Auto,
    /// Bare records: one document, NDJSON, pretty-printed, or Firehose's `{…}{…}`.
    Json,
    /// Kinesis API records (`GetRecords` output, or one record) with base64 `Data`.
    Kinesis,
    /// A Lambda event from a Kinesis event source mapping.
    KinesisLambda,
    /// A Firehose data-transformation request.
    FirehoseTransform,
    /// A Firehose HTTP endpoint delivery request body.
    FirehoseHttp,
    /// Records from a Firehose S3 error prefix (`rawData`).
    FirehoseError,
    /// EventBridge contact events (envelope, or `detail` alone).
    EventBridge,
    /// SQS: a Lambda SQS event, `ReceiveMessage` output, or one message, bodies holding
    /// EventBridge events or records.
    Sqs,
}

impl Format {
    /// Every format with its command-line name and a description.
    pub const ALL: &'static [(Format, &'static str, &'static str)] = &[
        (
            Format::Auto,
            "auto",
            "detect each value's layout from its keys",
        ),
        (
            Format::Json,
            "json",
            "bare records: one document, NDJSON, or Firehose {..}{..} concatenation",
        ),
        (
            Format::Kinesis,
            "kinesis",
            "Kinesis API records with base64 Data (GetRecords output)",
        ),
        (
            Format::KinesisLambda,
            "kinesis-lambda",
            "Lambda event from a Kinesis event source mapping",
        ),
        (
            Format::FirehoseTransform,
            "firehose-transform",
            "Firehose data-transformation request",
        ),
        (
            Format::FirehoseHttp,
            "firehose-http",
            "Firehose HTTP endpoint request body",
        ),
        (
            Format::FirehoseError,
            "firehose-error",
            "Firehose S3 error-prefix records (rawData)",
        ),
        (
            Format::EventBridge,
            "eventbridge",
            "EventBridge contact events (envelope or detail)",
        ),
        (
            Format::Sqs,
            "sqs",
            "SQS Lambda event, ReceiveMessage output or message, bodies decoded",
        ),
    ];

    /// The command-line name.
    pub fn name(self) -> &'static str {
        Self::ALL
            .iter()
            .find(|(f, _, _)| *f == self)
            .map(|(_, n, _)| *n)
            .unwrap_or("auto")
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let s = s.to_ascii_lowercase();
        let alias = match s.as_str() {
            "ndjson" | "jsonl" | "records" | "firehose-s3" | "concatenated" => "json",
            "lambda-kinesis" => "kinesis-lambda",
            "firehose-lambda" => "firehose-transform",
            "contact-events" => "eventbridge",
            other => other,
        };
        Self::ALL
            .iter()
            .find(|(_, n, _)| *n == alias)
            .map(|(f, _, _)| *f)
            .ok_or_else(|| {
                let names: Vec<&str> = Self::ALL.iter().map(|(_, n, _)| *n).collect();
                format!(
                    "unknown format {s:?}; expected one of: {}",
                    names.join(", ")
                )
            })
    }
}

/// The keys that identify a record or an envelope; every value is skipped unparsed.
#[derive(Deserialize, Default)]
pub(crate) struct Probe {
    #[serde(rename = "AgentARN")]
    agent_arn: Option<IgnoredAny>,
    #[serde(rename = "EventType")]
    pascal_event_type: Option<IgnoredAny>,
    #[serde(rename = "ContactId")]
    pascal_contact_id: Option<IgnoredAny>,
    #[serde(rename = "AWSContactTraceRecordFormatVersion")]
    ctr_version: Option<IgnoredAny>,
    #[serde(rename = "InitiationTimestamp")]
    pascal_initiation: Option<IgnoredAny>,
    #[serde(rename = "detail-type")]
    detail_type: Option<serde_json::Value>,
    detail: Option<IgnoredAny>,
    #[serde(rename = "eventType")]
    event_type: Option<IgnoredAny>,
    #[serde(rename = "contactId")]
    contact_id: Option<IgnoredAny>,
    #[serde(rename = "Records")]
    pascal_records: Option<Vec<ItemProbe>>,
    records: Option<Vec<ItemProbe>>,
    #[serde(rename = "invocationId")]
    invocation_id: Option<IgnoredAny>,
    #[serde(rename = "requestId")]
    request_id: Option<IgnoredAny>,
    #[serde(rename = "rawData")]
    raw_data: Option<IgnoredAny>,
    #[serde(rename = "Messages")]
    messages: Option<IgnoredAny>,
    #[serde(rename = "Body")]
    pascal_body: Option<IgnoredAny>,
    #[serde(rename = "SequenceNumber")]
    sequence_number: Option<IgnoredAny>,
    #[serde(rename = "Data")]
    data: Option<IgnoredAny>,
    #[serde(rename = "batchItemFailures")]
    batch_item_failures: Option<IgnoredAny>,
    #[serde(rename = "commonAttributes")]
    common_attributes: Option<IgnoredAny>,
    source: Option<serde_json::Value>,
}

/// Keys of the first items of a `Records`/`records` array.
#[derive(Deserialize, Default)]
struct ItemProbe {
    kinesis: Option<IgnoredAny>,
    body: Option<IgnoredAny>,
    #[serde(rename = "Data")]
    pascal_data: Option<IgnoredAny>,
    result: Option<IgnoredAny>,
}

/// What a JSON value is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Shape {
    Record(RecordKind, bool),
    Envelope(Format),
    /// A known AWS document that is not data (a response, a rule pattern...).
    NotData(&'static str),
    Unknown,
}

impl Probe {
    pub(crate) fn of(bytes: &[u8]) -> Result<Probe, serde_json::Error> {
        match serde_json::from_slice::<Probe>(bytes) {
            // Valid JSON whose identifying keys have unexpected types: not one of ours.
            Err(e) if e.is_data() => Ok(Probe::default()),
            other => other,
        }
    }

    /// The record kind, if the keys are those of a record (and whether a contact event
    /// has its EventBridge envelope).
    pub(crate) fn record_kind(&self) -> Option<(RecordKind, bool)> {
        if self.agent_arn.is_some() && self.pascal_event_type.is_some() {
            return Some((RecordKind::AgentEvent, false));
        }
        if self.pascal_contact_id.is_some()
            && self.pascal_event_type.is_none()
            && (self.ctr_version.is_some() || self.pascal_initiation.is_some())
        {
            return Some((RecordKind::ContactRecord, false));
        }
        let contact_detail_type = self
            .detail_type
            .as_ref()
            .and_then(|v| v.as_str())
            .is_some_and(|t| t == CONTACT_EVENT_DETAIL_TYPE);
        if self.detail.is_some() && contact_detail_type {
            return Some((RecordKind::ContactEvent, true));
        }
        if (self.event_type.is_some() || self.pascal_event_type.is_some())
            && (self.contact_id.is_some() || self.pascal_contact_id.is_some())
        {
            // A bare `detail` (real camelCase, or the PascalCase of some doc samples).
            return Some((RecordKind::ContactEvent, false));
        }
        None
    }

    pub(crate) fn shape(&self) -> Shape {
        if let Some(items) = &self.pascal_records {
            return match items.first() {
                Some(i) if i.kinesis.is_some() => Shape::Envelope(Format::KinesisLambda),
                Some(i) if i.body.is_some() => Shape::Envelope(Format::Sqs),
                Some(i) if i.pascal_data.is_some() => Shape::Envelope(Format::Kinesis),
                None if self.invocation_id.is_none() => Shape::NotData("an empty Records array"),
                _ => Shape::Unknown,
            };
        }
        if let Some(items) = &self.records {
            if self.invocation_id.is_some() {
                return Shape::Envelope(Format::FirehoseTransform);
            }
            if self.request_id.is_some() {
                return Shape::Envelope(Format::FirehoseHttp);
            }
            if items.first().is_some_and(|i| i.result.is_some()) {
                return Shape::NotData("a Firehose transformation response, not input data");
            }
        }
        if self.raw_data.is_some() {
            return Shape::Envelope(Format::FirehoseError);
        }
        if self.messages.is_some() || self.pascal_body.is_some() {
            return Shape::Envelope(Format::Sqs);
        }
        if self.sequence_number.is_some() && self.data.is_some() {
            return Shape::Envelope(Format::Kinesis);
        }
        if let Some((kind, enveloped)) = self.record_kind() {
            return Shape::Record(kind, enveloped);
        }
        if self.source.as_ref().is_some_and(|s| s.is_array()) {
            return Shape::NotData("an EventBridge event pattern, not an event");
        }
        if self.detail.is_some() && self.detail_type.is_some() {
            return Shape::NotData(
                "an EventBridge event of another detail-type, not a Connect contact event",
            );
        }
        if self.batch_item_failures.is_some() {
            return Shape::NotData("a Lambda partial-batch response, not input data");
        }
        if self.request_id.is_some() {
            return Shape::NotData("a Firehose HTTP endpoint response, not input data");
        }
        if self.common_attributes.is_some() {
            return Shape::NotData("a Firehose common-attributes header, not input data");
        }
        Shape::Unknown
    }
}

/// The shape of a plain record from its top-level keys alone, when they decide it the
/// way [`Probe::shape`] would: no key of an envelope, and the keys of one record kind.
/// `None` when only a parse can tell (and for anything but an object).
fn record_shape(keys: Keys) -> Option<Shape> {
    if !keys.is_sure() {
        return None;
    }
    let has = |k: &[u8]| keys.has(k);
    let envelope = [
        &b"Records"[..],
        b"records",
        b"rawData",
        b"Messages",
        b"Body",
        b"SequenceNumber",
        b"Data",
    ];
    if envelope.iter().any(|k| has(k)) {
        return None;
    }
    if has(b"AgentARN") && has(b"EventType") {
        return Some(Shape::Record(RecordKind::AgentEvent, false));
    }
    if has(b"ContactId")
        && !has(b"EventType")
        && (has(b"AWSContactTraceRecordFormatVersion") || has(b"InitiationTimestamp"))
    {
        return Some(Shape::Record(RecordKind::ContactRecord, false));
    }
    if has(b"detail") {
        if has(b"detail-type") && keys.is_contact_event_detail_type() {
            return Some(Shape::Record(RecordKind::ContactEvent, true));
        }
        // Enveloped or not depends on a value the splitter did not read.
        return None;
    }
    if (has(b"eventType") || has(b"EventType")) && (has(b"contactId") || has(b"ContactId")) {
        return Some(Shape::Record(RecordKind::ContactEvent, false));
    }
    None
}

type Sink<'a> = dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()> + 'a;

fn fail(
    f: &mut Sink<'_>,
    source: Source,
    raw: &[u8],
    reason: impl Into<String>,
) -> ControlFlow<()> {
    f(Err(DecodeError {
        source,
        reason: reason.into(),
        raw: raw.to_vec(),
    }))
}

/// Describes a serde error with the line it points at, relative to a value that starts on
/// `first_line`.
fn json_reason(what: &str, e: &serde_json::Error, first_line: u64) -> String {
    let line = first_line + e.line().saturating_sub(1) as u64;
    // serde_json's message ends with " at line L column C" relative to the value.
    let msg = e.to_string();
    let msg = msg
        .rsplit_once(" at line ")
        .map(|(m, _)| m.to_owned())
        .unwrap_or(msg);
    format!("{what}: {msg} (line {line}, column {})", e.column())
}

/// Lists the top-level keys of an object we do not recognise, to say what it is.
fn unknown_reason(bytes: &[u8]) -> String {
    match serde_json::from_slice::<BTreeMap<String, IgnoredAny>>(bytes) {
        Ok(map) if map.is_empty() => "an empty JSON object is not a Connect record".to_owned(),
        Ok(map) => {
            let keys: Vec<&str> = map.keys().take(8).map(String::as_str).collect();
            let more = if map.len() > 8 { ", ..." } else { "" };
            format!(
                "not a Connect record or a known envelope (a JSON object with keys {}{more})",
                keys.join(", ")
            )
        }
        Err(_) => "not a Connect record or a known envelope".to_owned(),
    }
}

/// Decodes one JSON value (an object or array) found at `line`.
pub(crate) fn decode_value(
    format: Format,
    bytes: &[u8],
    keys: Keys,
    line: u64,
    src: Source,
    depth: Nest,
    f: &mut Sink<'_>,
) -> ControlFlow<()> {
    if bytes.first() == Some(&b'[') {
        // A JSON array of records or envelopes.
        let items: Vec<&RawValue> = match serde_json::from_slice(bytes) {
            Ok(items) => items,
            Err(e) => return fail(f, src, bytes, json_reason("invalid JSON", &e, line)),
        };
        for (i, item) in items.into_iter().enumerate() {
            let s = Source {
                index: Some(i),
                envelope: src.envelope.or(Some("array")),
                ..src.clone()
            };
            if item.get().starts_with(['{', '[']) {
                decode_value(
                    format,
                    item.get().as_bytes(),
                    Keys::unsure(),
                    line,
                    s,
                    depth,
                    f,
                )?;
            } else {
                let reason = format!("array item is not a JSON object: {:.40}", item.get());
                fail(f, s, item.get().as_bytes(), reason)?;
            }
        }
        return ControlFlow::Continue(());
    }

    // A plain record's keys, noted by the splitter, tell its kind without a parse; the
    // rest (envelopes, contact events in their EventBridge envelope, escaped keys) are
    // probed.
    let known = match format {
        Format::Auto | Format::Json => record_shape(keys),
        _ => None,
    };
    let shape = match known {
        Some(shape) => shape,
        None => match Probe::of(bytes) {
            Ok(p) => p.shape(),
            Err(e) => return fail(f, src, bytes, json_reason("invalid JSON", &e, line)),
        },
    };
    let wanted = match (format, shape) {
        (Format::Auto, shape) => shape,
        (Format::Json, Shape::Record(kind, env)) => Shape::Record(kind, env),
        (Format::Json, _) => {
            return fail(
                f,
                src,
                bytes,
                "expected a bare Connect record (--format json); ".to_owned()
                    + &unknown_reason(bytes),
            )
        }
        (Format::EventBridge, Shape::Record(RecordKind::ContactEvent, env)) => {
            Shape::Record(RecordKind::ContactEvent, env)
        }
        (Format::EventBridge, _) => {
            return fail(
                f,
                src,
                bytes,
                "expected an EventBridge contact event (--format eventbridge)",
            );
        }
        (forced, _) => Shape::Envelope(forced),
    };

    match wanted {
        Shape::Record(kind, enveloped) => match validate(depth, kind, enveloped, bytes) {
            Ok(()) => f(Ok(Decoded::new(
                kind,
                src,
                bytes::Bytes::copy_from_slice(bytes),
                !enveloped && kind == RecordKind::ContactEvent,
            ))),
            // Not JSON at all (its kind came from its keys, before any parse).
            Err(RecordError::Invalid { source, .. }) if source.is_syntax() || source.is_eof() => {
                fail(f, src, bytes, json_reason("invalid JSON", &source, line))
            }
            Err(RecordError::Invalid { kind, source }) => fail(
                f,
                src,
                bytes,
                json_reason(&format!("invalid {kind}"), &source, line),
            ),
            Err(RecordError::Json(e)) => fail(f, src, bytes, json_reason("invalid JSON", &e, line)),
        },
        Shape::Envelope(env) => decode_envelope(env, bytes, line, src, depth, f),
        Shape::NotData(what) => fail(f, src, bytes, format!("not Connect data: this is {what}")),
        Shape::Unknown => fail(f, src, bytes, unknown_reason(bytes)),
    }
}

/// Parses what the engine reads of a record (unless the decoder was told not to).
fn validate(
    nest: Nest,
    kind: RecordKind,
    enveloped: bool,
    bytes: &[u8],
) -> Result<(), RecordError> {
    if nest.validate {
        let detail_only = !enveloped && kind == RecordKind::ContactEvent;
        RecordView::parse(kind, detail_only, bytes)?;
    }
    Ok(())
}

fn parse<T: DeserializeOwned>(bytes: &[u8], what: &str, line: u64) -> Result<T, String> {
    serde_json::from_slice(bytes).map_err(|e| json_reason(&format!("invalid {what}"), &e, line))
}

/// One record of an envelope: where it sits in the envelope, and its payload.
struct Item {
    source: Source,
    payload: Payload,
}

enum Payload {
    /// Base64 (Kinesis and Firehose data).
    Base64(String),
    /// Text as is (SQS bodies).
    Text(String),
}

/// Parses an envelope into its items, or says why it is not a valid one.
fn envelope_items(env: Format, bytes: &[u8], line: u64, src: &Source) -> Result<Vec<Item>, String> {
    let at = |envelope: &'static str, index: Option<usize>| Source {
        envelope: Some(envelope),
        index,
        ..src.clone()
    };
    let items = match env {
        Format::KinesisLambda => {
            let event: KinesisEvent = parse(bytes, "Lambda Kinesis event", line)?;
            event
                .records
                .into_iter()
                .enumerate()
                .map(|(i, r)| Item {
                    source: Source {
                        shard_id: r.shard_id().map(str::to_owned),
                        sequence_number: Some(r.kinesis.sequence_number.clone()),
                        partition_key: r.kinesis.partition_key.clone(),
                        ..at("kinesis-lambda", Some(i))
                    },
                    payload: Payload::Base64(r.kinesis.data),
                })
                .collect()
        }
        Format::Kinesis => {
            let records = if Probe::of(bytes).is_ok_and(|p| p.pascal_records.is_some()) {
                parse::<KinesisRecords>(bytes, "Kinesis GetRecords output", line)?.records
            } else {
                vec![parse::<KinesisRecord>(bytes, "Kinesis record", line)?]
            };
            records
                .into_iter()
                .enumerate()
                .map(|(i, r)| Item {
                    source: Source {
                        sequence_number: Some(r.sequence_number),
                        partition_key: r.partition_key,
                        ..at("kinesis", Some(i))
                    },
                    payload: Payload::Base64(r.data),
                })
                .collect()
        }
        Format::FirehoseTransform => {
            let req: FirehoseTransformRequest =
                parse(bytes, "Firehose transformation request", line)?;
            req.records
                .into_iter()
                .enumerate()
                .map(|(i, r)| {
                    let meta = r.kinesis_record_metadata;
                    let meta = meta.as_ref();
                    Item {
                        source: Source {
                            record_id: Some(r.record_id),
                            shard_id: meta.and_then(|m| m.shard_id.clone()),
                            sequence_number: meta.and_then(|m| m.sequence_number.clone()),
                            partition_key: meta.and_then(|m| m.partition_key.clone()),
                            ..at("firehose-transform", Some(i))
                        },
                        payload: Payload::Base64(r.data),
                    }
                })
                .collect()
        }
        Format::FirehoseHttp => {
            let req: FirehoseHttpRequest = parse(bytes, "Firehose HTTP endpoint request", line)?;
            let id = req.request_id;
            req.records
                .into_iter()
                .enumerate()
                .map(|(i, r)| Item {
                    source: Source {
                        record_id: Some(id.clone()),
                        ..at("firehose-http", Some(i))
                    },
                    payload: Payload::Base64(r.data),
                })
                .collect()
        }
        Format::FirehoseError => {
            let rec: FirehoseErrorRecord = parse(bytes, "Firehose error record", line)?;
            vec![Item {
                source: Source {
                    record_id: rec.data_id,
                    ..at("firehose-error", None)
                },
                payload: Payload::Base64(rec.raw_data),
            }]
        }
        Format::Sqs => {
            let probe = Probe::of(bytes).unwrap_or_default();
            let (envelope, messages): (&'static str, Vec<(Option<String>, String)>) =
                if probe.pascal_records.is_some() {
                    let event: SqsEvent = parse(bytes, "SQS Lambda event", line)?;
                    (
                        "sqs-lambda",
                        event
                            .records
                            .into_iter()
                            .map(|m| (m.message_id, m.body))
                            .collect(),
                    )
                } else if probe.messages.is_some() {
                    let out: SqsMessages = parse(bytes, "SQS ReceiveMessage output", line)?;
                    (
                        "sqs",
                        out.messages
                            .into_iter()
                            .map(|m| (m.message_id, m.body))
                            .collect(),
                    )
                } else {
                    let m: SqsMessage = parse(bytes, "SQS message", line)?;
                    ("sqs", vec![(m.message_id, m.body)])
                };
            messages
                .into_iter()
                .enumerate()
                .map(|(i, (id, body))| Item {
                    source: Source {
                        record_id: id,
                        ..at(envelope, Some(i))
                    },
                    payload: Payload::Text(body),
                })
                .collect()
        }
        // Reached only when forced on a value without contact-event keys.
        Format::EventBridge => {
            return Err("expected an EventBridge contact event (--format eventbridge)".into())
        }
        Format::Auto | Format::Json => return Err(unknown_reason(bytes)),
    };
    Ok(items)
}

fn decode_envelope(
    env: Format,
    bytes: &[u8],
    line: u64,
    src: Source,
    depth: Nest,
    f: &mut Sink<'_>,
) -> ControlFlow<()> {
    let items = match envelope_items(env, bytes, line, &src) {
        Ok(items) => items,
        Err(reason) => return fail(f, src, bytes, reason),
    };
    for item in items {
        match item.payload {
            Payload::Text(body) => decode_payload(body.as_bytes(), item.source, depth, f)?,
            Payload::Base64(data) => match decode_base64(&data) {
                Ok(payload) => decode_payload(&payload, item.source, depth, f)?,
                Err(e) => fail(
                    f,
                    item.source,
                    data.as_bytes(),
                    format!("record data is not valid base64: {e}"),
                )?,
            },
        }
    }
    ControlFlow::Continue(())
}
