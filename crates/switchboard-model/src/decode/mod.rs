//! Decoding Connect data from any envelope it arrives in.
//!
//! Input is a byte stream (a file, stdin, an HTTP body, a Lambda event). It may be gzip
//! compressed; it holds one or more top-level JSON values ([`split`]); each value is a
//! record or an envelope of records, told apart by its keys ([`detect`]) unless a
//! [`Format`] is forced. Envelope payloads (base64 Kinesis/Firehose data, SQS bodies) are
//! decoded the same way, recursively. Every record comes out with a [`Source`] that says
//! exactly where it was found; every problem comes out as a [`DecodeError`] with the same
//! position and a reason, and decoding carries on with the next record.

mod detect;
pub mod split;

use std::fmt;
use std::io::{BufRead, BufReader, Read};
use std::ops::ControlFlow;
use std::sync::Arc;

use bytes::Bytes;
use serde::Serialize;

use serde_json::value::RawValue;

use crate::record::{Record, RecordError, RecordKind};
use crate::view::RecordView;

pub use detect::Format;
pub(crate) use detect::Probe;

/// Largest single JSON value accepted (a Firehose HTTP body is at most 64 MiB).
pub const DEFAULT_VALUE_LIMIT: usize = 80 * 1024 * 1024;

/// Envelopes nest (an SQS body holding an EventBridge event, a Firehose error record
/// holding a Kinesis payload); deeper nesting than this is refused.
const MAX_NESTING: u8 = 4;

/// Where a record was found.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Source {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub file: Option<Arc<str>>,
    /// 1-based line of the top-level JSON value.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// Byte offset of the top-level JSON value (in the decompressed stream).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub offset: Option<u64>,
    /// The envelope the record came in (`kinesis-lambda`, `firehose-http`...).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub envelope: Option<&'static str>,
    /// 0-based position of the record in its envelope.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub index: Option<usize>,
    /// 0-based position of the record in a payload holding several.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub part: Option<usize>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    /// The envelope's id for the record: Firehose recordId, Lambda eventID, SQS
    /// messageId, Firehose request id.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub record_id: Option<String>,
}

impl fmt::Display for Source {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.file.as_deref().unwrap_or("<input>"))?;
        if let Some(line) = self.line {
            write!(f, ":{line}")?;
        }
        if let Some(offset) = self.offset {
            write!(f, " (byte {offset})")?;
        }
        if let Some(env) = self.envelope {
            write!(f, ", {env}")?;
        }
        if let Some(i) = self.index {
            write!(f, " record {i}")?;
        }
        if let Some(p) = self.part {
            write!(f, " part {p}")?;
        }
        let ids: Vec<String> = [
            self.shard_id.as_ref().map(|s| s.to_string()),
            self.sequence_number
                .as_ref()
                .map(|s| format!("sequence {s}")),
            self.record_id.as_ref().map(|s| format!("id {s}")),
        ]
        .into_iter()
        .flatten()
        .collect();
        if !ids.is_empty() {
            write!(f, " ({})", ids.join(", "))?;
        }
        Ok(())
    }
}

/// A record and where it came from: its kind and its original bytes. What the engine
/// reads is parsed from those bytes on demand ([`Decoded::view`], borrowed and fast), and
/// so is the full typed model ([`Decoded::record`]).
#[derive(Debug, Clone)]
pub struct Decoded {
    pub kind: RecordKind,
    pub source: Source,
    /// The record exactly as it arrived (after base64 and gzip): what anything that
    /// re-emits the record writes, so nulls, key order, number formatting and unknown
    /// fields survive byte for byte. For a contact event that came as a bare `detail`,
    /// the `detail` object; otherwise the whole event.
    pub raw: Bytes,
    /// A contact event that came as its bare `detail` object.
    pub detail_only: bool,
}

impl Decoded {
    /// A decoded record of `kind` from its bytes.
    pub fn new(kind: RecordKind, source: Source, raw: Bytes, detail_only: bool) -> Self {
        Self {
            kind,
            source,
            raw,
            detail_only,
        }
    }

    /// A record made in memory (the simulator's), with its serialized bytes as `raw`.
    pub fn from_record(record: &Record, source: Source) -> Self {
        let detail_only = matches!(record, Record::ContactEvent(e) if e.detail_only);
        let raw = serde_json::to_vec(record).unwrap_or_default();
        Self::new(record.kind(), source, Bytes::from(raw), detail_only)
    }

    /// The fields the engine reads, borrowed from [`Decoded::raw`].
    pub fn view(&self) -> Result<RecordView<'_>, RecordError> {
        RecordView::parse(self.kind, self.detail_only, &self.raw)
    }

    /// The full typed model, parsed from [`Decoded::raw`] (for the API, rules and sinks
    /// that transform a record; the engine reads [`Decoded::view`]).
    pub fn record(&self) -> Result<Record, RecordError> {
        Record::parse_as(self.kind, !self.detail_only, &self.raw)
    }

    /// The original bytes as one line of JSON: exactly [`Decoded::raw`], unless it spans
    /// lines (a pretty-printed record), when the whitespace between tokens is left out
    /// (everything else, strings, numbers, nulls and key order, stays as it was).
    pub fn raw_line(&self) -> std::borrow::Cow<'_, [u8]> {
        one_line(&self.raw)
    }
}

/// `bytes` (one JSON value) without newlines: the insignificant whitespace outside strings
/// is dropped if the value spans lines, otherwise the bytes are returned as they are.
pub fn one_line(bytes: &[u8]) -> std::borrow::Cow<'_, [u8]> {
    if !bytes.iter().any(|&b| b == b'\n' || b == b'\r') {
        return std::borrow::Cow::Borrowed(bytes);
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut in_string = false;
    let mut escaped = false;
    for &b in bytes {
        if in_string {
            out.push(b);
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if !matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            in_string = b == b'"';
            out.push(b);
        }
    }
    std::borrow::Cow::Owned(out)
}

/// `{"kind","source","record"}` with the record's original bytes (on one line).
impl Serialize for Decoded {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{Error, SerializeStruct};
        let line = self.raw_line();
        let text = std::str::from_utf8(&line).map_err(S::Error::custom)?;
        let raw: &RawValue = serde_json::from_str(text).map_err(S::Error::custom)?;
        let mut st = s.serialize_struct("Decoded", 3)?;
        st.serialize_field("kind", &self.kind)?;
        st.serialize_field("source", &self.source)?;
        st.serialize_field("record", raw)?;
        st.end()
    }
}

/// A piece of input that did not decode, where it was, and why.
#[derive(Debug, Clone)]
pub struct DecodeError {
    pub source: Source,
    pub reason: String,
    /// The bytes that did not decode (the JSON value, the envelope payload, the garbage
    /// line), for the dead-letter output; empty when there are none to keep (a read
    /// error, a value over the size limit).
    pub raw: Vec<u8>,
}

impl fmt::Display for DecodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.source, self.reason)
    }
}

impl std::error::Error for DecodeError {}

/// `errorCode` of switchboard's dead letters.
pub const DEAD_LETTER_ERROR_CODE: &str = "Switchboard.DecodeError";

impl DecodeError {
    /// The dead-letter form of this error: the shape Firehose gives the records it
    /// writes to its S3 error prefix (`rawData` holds the bytes that failed, base64), plus
    /// the `source`. So a dead-letter file decodes like any Firehose error file: once the
    /// cause is fixed, replaying it recovers the records.
    pub fn to_dead_letter(&self, now_ms: i64) -> crate::envelope::FirehoseErrorRecord {
        let mut extra = crate::Extra::new();
        if let Ok(source) = serde_json::to_value(&self.source) {
            extra.insert("source".into(), source);
        }
        crate::envelope::FirehoseErrorRecord {
            attempts_made: Some(1.into()),
            arrival_timestamp: Some(now_ms.into()),
            error_code: Some(DEAD_LETTER_ERROR_CODE.into()),
            error_message: Some(self.reason.clone()),
            attempt_ending_timestamp: None,
            raw_data: crate::envelope::encode_base64(&self.raw),
            subsequence_number: None,
            data_id: None,
            lambda_arn: None,
            extra,
        }
    }
}

/// What a decode pass produced.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DecodeStats {
    pub records: u64,
    pub errors: u64,
    /// Bytes read from the input (compressed size for gzip).
    pub bytes: u64,
}

/// Decodes Connect data. Cheap to build; holds only options.
#[derive(Debug, Clone)]
pub struct Decoder {
    format: Format,
    value_limit: usize,
    validate: bool,
}

/// How deep in nested envelopes a value is, and whether records are checked.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Nest {
    pub(crate) level: u8,
    /// Parse each record's view before yielding it (see [`Decoder::without_validation`]).
    pub(crate) validate: bool,
}

impl Nest {
    fn deeper(self) -> Self {
        Self {
            level: self.level + 1,
            ..self
        }
    }
}

impl Default for Decoder {
    fn default() -> Self {
        Self::new(Format::Auto)
    }
}

impl Decoder {
    pub fn new(format: Format) -> Self {
        Self {
            format,
            value_limit: DEFAULT_VALUE_LIMIT,
            validate: true,
        }
    }

    /// Yields records once their kind is known from their keys (the JSON syntax checked),
    /// without parsing their fields: for a consumer that parses each record's view itself
    /// (the pipeline), so no record is parsed twice. A record whose fields are wrong then
    /// fails at [`Decoded::view`] instead of here.
    pub fn without_validation(mut self) -> Self {
        self.validate = false;
        self
    }

    /// Sets the largest single JSON value accepted.
    pub fn with_value_limit(mut self, limit: usize) -> Self {
        self.value_limit = limit;
        self
    }

    /// Decodes a whole stream (gzip detected by its magic bytes), calling `f` with each
    /// record or error. `file` names the input in positions. `f` may stop early by
    /// returning `Break`.
    pub fn decode_reader<R: Read>(
        &self,
        file: Option<&str>,
        reader: R,
        f: &mut dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()>,
    ) -> DecodeStats {
        let file: Option<Arc<str>> = file.map(Arc::from);
        let mut counted = CountingReader {
            inner: reader,
            count: 0,
        };
        let mut stats = DecodeStats::default();
        {
            let mut buffered = BufReader::with_capacity(256 * 1024, &mut counted);
            let is_gzip = matches!(buffered.fill_buf(), Ok(b) if b.starts_with(&[0x1f, 0x8b]));
            let mut emit = |r: Result<Decoded, DecodeError>| {
                match &r {
                    Ok(_) => stats.records += 1,
                    Err(_) => stats.errors += 1,
                }
                f(r)
            };
            if is_gzip {
                let gz = flate2::bufread::MultiGzDecoder::new(buffered);
                self.decode_stream(&file, gz, &mut emit);
            } else {
                self.decode_stream(&file, buffered, &mut emit);
            }
        }
        stats.bytes = counted.count;
        stats
    }

    /// Decodes an in-memory buffer (an HTTP body, a Lambda event).
    pub fn decode_slice(
        &self,
        file: Option<&str>,
        bytes: &[u8],
        f: &mut dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()>,
    ) -> DecodeStats {
        self.decode_reader(file, bytes, f)
    }

    fn decode_stream(
        &self,
        file: &Option<Arc<str>>,
        reader: impl Read,
        f: &mut dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()>,
    ) {
        let _ = split::split_json(reader, self.value_limit, |item| match item {
            Ok(span) => {
                let src = Source {
                    file: file.clone(),
                    line: Some(span.line),
                    offset: Some(span.offset),
                    ..Source::default()
                };
                let nest = Nest {
                    level: 0,
                    validate: self.validate,
                };
                detect::decode_value(self.format, span.bytes, span.keys, span.line, src, nest, f)
            }
            Err(e) => {
                let source = Source {
                    file: file.clone(),
                    line: Some(e.line),
                    offset: Some(e.offset),
                    ..Source::default()
                };
                f(Err(DecodeError {
                    source,
                    reason: e.issue.to_string(),
                    raw: e.raw,
                }))
            }
        });
    }
}

/// Counts the bytes read, for throughput figures.
struct CountingReader<R> {
    inner: R,
    count: u64,
}

impl<R: Read> Read for CountingReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}

/// Decodes one envelope payload (already base64-decoded): gzip, then one or more JSON
/// values, each a record or a nested envelope.
fn decode_payload(
    payload: &[u8],
    src: Source,
    depth: Nest,
    f: &mut dyn FnMut(Result<Decoded, DecodeError>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    if depth.level >= MAX_NESTING {
        return f(Err(DecodeError {
            source: src,
            reason: "envelopes nested too deeply".into(),
            raw: payload.to_vec(),
        }));
    }
    if payload.is_empty() {
        return f(Err(DecodeError {
            source: src,
            reason: "empty payload".into(),
            raw: Vec::new(),
        }));
    }
    // Dead letters keep the payload as it arrived (compressed or not).
    let original = payload;
    let unzipped;
    let payload = if payload.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(payload).read_to_end(&mut out) {
            return f(Err(DecodeError {
                source: src,
                reason: format!("payload is not valid gzip: {e}"),
                raw: payload.to_vec(),
            }));
        }
        unzipped = out;
        &unzipped[..]
    } else {
        payload
    };
    // Split first, decode after: most payloads hold one record, and parts are numbered
    // only when there are several.
    enum Part {
        Value {
            start: usize,
            end: usize,
            line: u64,
            keys: split::Keys,
        },
        Bad(String),
    }
    let mut parts = Vec::new();
    let _ = split::split_json(payload, DEFAULT_VALUE_LIMIT, |item| {
        parts.push(match item {
            Ok(span) => {
                let start = span.offset as usize;
                Part::Value {
                    start,
                    end: start + span.bytes.len(),
                    line: span.line,
                    keys: span.keys,
                }
            }
            Err(e) => Part::Bad(payload_issue(e.issue)),
        });
        ControlFlow::Continue(())
    });
    let several = parts.len() > 1;
    for (i, part) in parts.into_iter().enumerate() {
        let mut s = src.clone();
        if several {
            s.part = Some(i);
        }
        match part {
            Part::Value {
                start,
                end,
                line,
                keys,
            } => detect::decode_value(
                Format::Auto,
                &payload[start..end],
                keys,
                line,
                s,
                depth.deeper(),
                f,
            )?,
            Part::Bad(reason) => f(Err(DecodeError {
                source: s,
                reason,
                raw: original.to_vec(),
            }))?,
        }
    }
    ControlFlow::Continue(())
}

fn payload_issue(issue: split::SplitIssue) -> String {
    match issue {
        split::SplitIssue::NotJson { snippet } => {
            format!("payload is not a Connect record: not JSON ({snippet:?})")
        }
        other => format!("payload: {other}"),
    }
}

#[cfg(test)]
mod tests;
