//! Splits a byte stream into top-level JSON values without parsing them.
//!
//! One splitter covers every file layout Connect data is stored in: a single document,
//! NDJSON, pretty-printed records one after another, and Firehose's S3 objects where
//! records are concatenated with no separator at all (`{…}{…}`). It tracks nesting and
//! strings only; the values it yields are then parsed by serde. Tracking where each value
//! starts (byte offset and line) is what lets errors name their position.
//!
//! Damage stays local. A value that cannot continue (an object opened where JSON allows
//! none, such as the next NDJSON line after a truncated one, or a raw newline inside a
//! string) is reported and scanning restarts at the point of damage, so one bad record
//! never swallows the records after it.

use std::io::{self, Read};
use std::ops::ControlFlow;

use crate::contact_event::CONTACT_EVENT_DETAIL_TYPE;

/// A top-level JSON value found in the stream.
#[derive(Debug)]
pub struct Span<'a> {
    pub bytes: &'a [u8],
    /// Byte offset of the value's first byte.
    pub offset: u64,
    /// 1-based line of the value's first byte.
    pub line: u64,
    /// The identifying keys found at the top level of an object, noted while scanning,
    /// so the kind of a plain record is known without parsing it again.
    pub keys: Keys,
}

/// The top-level keys of an object that tell a record or envelope apart (those
/// [`super::detect::Probe`] reads), as a set. Only spellings without escapes are noted;
/// a key with an escape, or one the scan lost track of, makes the set `unsure`, and the
/// kind is then found by parsing.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Keys {
    bits: u32,
    unsure: bool,
    /// The top-level `detail-type` is a string, exactly `Amazon Connect Contact Event`.
    contact_event_detail_type: bool,
}

/// The keys [`Keys`] notes, each a bit.
pub(crate) const KEY_NAMES: [&[u8]; 21] = [
    b"AgentARN",
    b"EventType",
    b"ContactId",
    b"AWSContactTraceRecordFormatVersion",
    b"InitiationTimestamp",
    b"detail-type",
    b"detail",
    b"eventType",
    b"contactId",
    b"Records",
    b"records",
    b"invocationId",
    b"requestId",
    b"rawData",
    b"Messages",
    b"Body",
    b"SequenceNumber",
    b"Data",
    b"batchItemFailures",
    b"commonAttributes",
    b"source",
];

impl Keys {
    /// A set that knows nothing (the kind must be found by parsing).
    pub fn unsure() -> Self {
        Keys {
            unsure: true,
            ..Keys::default()
        }
    }

    /// Whether every top-level key was seen without escapes.
    pub fn is_sure(self) -> bool {
        !self.unsure
    }

    /// Whether key `name` (one of [`KEY_NAMES`]) is at the top level.
    pub fn has(self, name: &[u8]) -> bool {
        KEY_NAMES
            .iter()
            .position(|k| *k == name)
            .is_some_and(|i| self.bits & (1 << i) != 0)
    }

    /// Whether the top-level `detail-type` is (unescaped) the one of Connect contact
    /// events.
    pub fn is_contact_event_detail_type(self) -> bool {
        self.contact_event_detail_type
    }

    fn note(&mut self, key: &[u8]) {
        // Most keys are not identifying ones: the length and first byte rule them out
        // before any comparison.
        for (i, k) in KEY_NAMES.iter().enumerate() {
            if k.len() == key.len() && k[0] == key[0] && *k == key {
                self.bits |= 1 << i;
                return;
            }
        }
    }
}

/// Something in the stream that is not a complete JSON object or array.
#[derive(Debug, thiserror::Error)]
pub enum SplitIssue {
    #[error("truncated: the JSON value starting here ends at byte {end} before it is complete")]
    Truncated { end: u64 },
    #[error("broken JSON value: {why} at byte {at} (line {at_line}); reading resumes there")]
    Broken {
        why: &'static str,
        at: u64,
        at_line: u64,
    },
    #[error("not JSON: {snippet:?}")]
    NotJson { snippet: String },
    #[error("JSON value larger than the {limit}-byte limit")]
    TooLarge { limit: usize },
    #[error("read error: {0}")]
    Io(#[from] io::Error),
}

/// An issue and where it starts.
#[derive(Debug)]
pub struct SplitError {
    pub offset: u64,
    pub line: u64,
    pub issue: SplitIssue,
    /// The bytes the issue covers (empty for read errors and oversized values), so that
    /// nothing is lost: they go to the dead-letter output.
    pub raw: Vec<u8>,
}

const CHUNK: usize = 256 * 1024;
const MAX_DEPTH: usize = 512;

/// Calls `f` with each top-level value of `reader` (or the problem in its place).
/// Stops early when `f` returns `Break`. Values longer than `limit` bytes are reported as
/// too large and skipped.
pub fn split_json<R: Read>(
    mut reader: R,
    limit: usize,
    mut f: impl FnMut(Result<Span<'_>, SplitError>) -> ControlFlow<()>,
) -> ControlFlow<()> {
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK);
    let mut base: u64 = 0; // stream offset of buf[0]
    let mut pos: usize = 0;
    let mut line: u64 = 1;
    let mut eof = false;
    // Open objects and arrays of the value being scanned (b'{' or b'['), reused.
    let mut stack: Vec<u8> = Vec::with_capacity(16);

    // Reads more input, keeping buf[keep..]; returns how far indices shifted.
    let mut refill =
        |buf: &mut Vec<u8>, base: &mut u64, keep: usize, eof: &mut bool| -> io::Result<usize> {
            if keep > 0 {
                buf.drain(..keep);
                *base += keep as u64;
            }
            let len = buf.len();
            buf.resize(len + CHUNK, 0);
            let n = loop {
                match reader.read(&mut buf[len..]) {
                    Ok(n) => break n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        buf.truncate(len);
                        return Err(e);
                    }
                }
            };
            buf.truncate(len + n);
            if n == 0 {
                *eof = true;
            }
            Ok(keep)
        };

    // Reads more input keeping buf[keep..], or reports the read error and stops.
    macro_rules! refill_or_report {
        ($keep:expr) => {
            match refill(&mut buf, &mut base, $keep, &mut eof) {
                Ok(shift) => shift,
                Err(e) => {
                    let issue = e.into();
                    return f(Err(SplitError {
                        offset: base + pos as u64,
                        line,
                        issue,
                        raw: Vec::new(),
                    }));
                }
            }
        };
    }

    loop {
        // Skip whitespace, a byte-order mark and JSON-seq record separators.
        loop {
            if pos == buf.len() {
                if eof {
                    return ControlFlow::Continue(());
                }
                let shift = refill_or_report!(pos);
                pos -= shift;
                continue;
            }
            match buf[pos] {
                b'\n' => {
                    line += 1;
                    pos += 1;
                }
                b' ' | b'\t' | b'\r' | 0x1e => pos += 1,
                0xEF if base + pos as u64 == 0 && buf.len() < 3 && !eof => {
                    // Maybe a BOM split across reads: get more first.
                    let shift = refill_or_report!(pos);
                    pos -= shift;
                }
                0xEF if base + pos as u64 == 0 && buf[pos..].starts_with(&[0xEF, 0xBB, 0xBF]) => {
                    pos += 3
                }
                _ => break,
            }
        }

        let mut start = pos;
        let start_line = line;
        let opener = buf[pos];
        if opener != b'{' && opener != b'[' {
            // Not a JSON object or array: report up to the end of the line (or the next
            // opening brace) as one piece of garbage.
            let mut snippet = Vec::new();
            loop {
                if pos == buf.len() {
                    if eof {
                        break;
                    }
                    // Keep the garbage from its start: it all goes to the dead letter.
                    let shift = refill_or_report!(start);
                    pos -= shift;
                    start -= shift;
                    continue;
                }
                let c = buf[pos];
                // A piece of garbage ends at a line break, at a brace that may open the
                // next value, or at the size limit (the rest is the next piece).
                if c == b'\n' || (c == b'{' && pos > start) || pos - start >= limit {
                    break;
                }
                if snippet.len() < 60 {
                    snippet.push(c);
                }
                pos += 1;
            }
            let offset = base + start as u64;
            let snippet = String::from_utf8_lossy(&snippet).into_owned();
            f(Err(SplitError {
                offset,
                line: start_line,
                issue: SplitIssue::NotJson { snippet },
                raw: buf[start..pos].to_vec(),
            }))?;
            continue;
        }

        // Scan one object/array.
        stack.clear();
        let mut in_str = false;
        let mut esc = false;
        let mut prev_sig: u8 = 0; // last significant byte outside strings
        let mut end = None;
        let mut broken: Option<(&'static str, usize)> = None;
        let mut keys = Keys::default();
        // Where the top-level key being scanned starts.
        let mut key_start: Option<usize> = None;
        // Where the string value of a top-level `detail-type` starts (and whether the
        // key was just seen).
        let mut value_start: Option<usize> = None;
        let mut after_detail_type = false;
        'scan: loop {
            while pos < buf.len() {
                let c = buf[pos];
                if in_str {
                    if esc {
                        esc = false;
                        pos += 1;
                        continue;
                    }
                    match memchr::memchr3(b'"', b'\\', b'\n', &buf[pos..]) {
                        None => {
                            pos = buf.len();
                            continue;
                        }
                        Some(k) => {
                            pos += k;
                            match buf[pos] {
                                b'"' => {
                                    in_str = false;
                                    prev_sig = b'"';
                                    if let Some(k) = key_start.take() {
                                        if pos > k {
                                            keys.note(&buf[k..pos]);
                                            after_detail_type = &buf[k..pos] == b"detail-type";
                                        }
                                    } else if let Some(v) = value_start.take() {
                                        if &buf[v..pos] == CONTACT_EVENT_DETAIL_TYPE.as_bytes() {
                                            keys.contact_event_detail_type = true;
                                        }
                                    }
                                }
                                b'\\' => {
                                    esc = true;
                                    if key_start.take().is_some() {
                                        keys.unsure = true;
                                    }
                                    // An escaped detail-type is left to the parser.
                                    value_start = None;
                                }
                                _ => {
                                    // A raw newline cannot be inside a JSON string.
                                    broken = Some(("line break inside a string", pos));
                                    break 'scan;
                                }
                            }
                            pos += 1;
                            continue;
                        }
                    }
                }
                let at_line_start = pos > 0 && buf[pos - 1] == b'\n';
                match c {
                    b'"' => {
                        in_str = true;
                        if stack.len() == 1 {
                            if matches!(prev_sig, b'{' | b',') {
                                key_start = Some(pos + 1);
                            } else if prev_sig == b':' && after_detail_type {
                                value_start = Some(pos + 1);
                            }
                            after_detail_type = false;
                        }
                    }
                    b'{' | b'[' => {
                        // After a key, a value may open an object, but no serializer puts
                        // it at the start of a line, while every NDJSON record starts
                        // there: treat that as the next record after a damaged one.
                        let legal = stack.is_empty()
                            || (prev_sig == b':' && !at_line_start)
                            || (matches!(prev_sig, b',' | b'[') && stack.last() == Some(&b'['));
                        if !legal {
                            broken = Some(("an object or array opens where JSON allows none", pos));
                            break 'scan;
                        }
                        if stack.len() >= MAX_DEPTH {
                            broken = Some(("nesting deeper than 512 levels", pos + 1));
                            break 'scan;
                        }
                        stack.push(c);
                        prev_sig = c;
                    }
                    b'}' | b']' => {
                        stack.pop();
                        prev_sig = c;
                        if stack.is_empty() {
                            pos += 1;
                            end = Some(pos);
                            break 'scan;
                        }
                    }
                    b'\n' => line += 1,
                    b' ' | b'\t' | b'\r' => {}
                    _ => prev_sig = c,
                }
                pos += 1;
            }
            if pos - start > limit {
                broken = None;
                break 'scan;
            }
            if eof {
                break 'scan;
            }
            let shift = refill_or_report!(start);
            pos -= shift;
            start -= shift;
            key_start = key_start.map(|k| k - shift);
            value_start = value_start.map(|v| v - shift);
        }

        let offset = base + start as u64;
        match (end, broken) {
            (Some(end), _) if end - start <= limit => {
                if buf[start] != b'{' {
                    keys = Keys::unsure();
                }
                f(Ok(Span {
                    bytes: &buf[start..end],
                    offset,
                    line: start_line,
                    keys,
                }))?;
            }
            (Some(_), _) => {
                f(Err(SplitError {
                    offset,
                    line: start_line,
                    issue: SplitIssue::TooLarge { limit },
                    raw: Vec::new(),
                }))?;
            }
            (None, Some((why, at))) => {
                // Resume at the damage: a fresh value may start there.
                let at_line = line;
                let issue = SplitIssue::Broken {
                    why,
                    at: base + at as u64,
                    at_line,
                };
                f(Err(SplitError {
                    offset,
                    line: start_line,
                    issue,
                    raw: buf[start..at].to_vec(),
                }))?;
                pos = at;
            }
            (None, None) if pos - start > limit => {
                f(Err(SplitError {
                    offset,
                    line: start_line,
                    issue: SplitIssue::TooLarge { limit },
                    raw: Vec::new(),
                }))?;
                // Skip to the next line and carry on.
                while pos < buf.len() || !eof {
                    if pos == buf.len() {
                        match refill(&mut buf, &mut base, pos, &mut eof) {
                            Ok(shift) => pos -= shift,
                            Err(_) => return ControlFlow::Continue(()),
                        }
                        continue;
                    }
                    if buf[pos] == b'\n' {
                        break;
                    }
                    pos += 1;
                }
            }
            (None, None) => {
                let end = base + pos as u64;
                return f(Err(SplitError {
                    offset,
                    line: start_line,
                    issue: SplitIssue::Truncated { end },
                    raw: buf[start..pos].to_vec(),
                }));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(input: &[u8]) -> Vec<Result<(String, u64, u64), String>> {
        let mut out = Vec::new();
        let _ = split_json(input, 1 << 20, |r| {
            out.push(match r {
                Ok(s) => Ok((
                    String::from_utf8_lossy(s.bytes).into_owned(),
                    s.offset,
                    s.line,
                )),
                Err(e) => Err(format!("{}@{}:{}", e.issue, e.line, e.offset)),
            });
            ControlFlow::Continue(())
        });
        out
    }

    fn keys_of(input: &[u8], chunk_limit: usize) -> Vec<Keys> {
        let mut out = Vec::new();
        let _ = split_json(input, chunk_limit, |r| {
            if let Ok(s) = r {
                out.push(s.keys);
            }
            ControlFlow::Continue(())
        });
        out
    }

    /// Only top-level keys count; values, nested keys and arrays do not; an escaped key
    /// makes the set unsure.
    #[test]
    fn top_level_keys_are_noted() {
        let input = br#"{"AgentARN":"EventType","Nested":{"EventType":1},"List":["Records"],"EventType":"LOGIN"}
{"ContactId":"c","x":{"AgentARN":{"EventType":2}}}
{"Agent\u0041RN":"a","EventType":"LOGIN"}
["AgentARN","EventType"]
{ "detail-type" : "x" , "detail" : {} }
"#;
        let keys = keys_of(input, 1 << 20);
        assert_eq!(keys.len(), 5);
        assert!(keys[0].is_sure() && keys[0].has(b"AgentARN") && keys[0].has(b"EventType"));
        assert!(!keys[0].has(b"Records"));
        assert!(keys[1].is_sure() && keys[1].has(b"ContactId"));
        assert!(!keys[1].has(b"AgentARN") && !keys[1].has(b"EventType"));
        assert!(!keys[2].is_sure(), "an escaped key");
        assert!(!keys[3].is_sure(), "an array");
        assert!(keys[4].has(b"detail-type") && keys[4].has(b"detail"));
        assert!(!keys[4].is_contact_event_detail_type());
    }

    /// The value of a top-level `detail-type` is compared, not a nested one, not a key.
    #[test]
    fn contact_event_detail_type() {
        let input = br#"{"detail-type":"Amazon Connect Contact Event","detail":{}}
{"detail":{"detail-type":"Amazon Connect Contact Event"},"detail-type":"Other"}
{"detail-type":1,"x":"Amazon Connect Contact Event","detail":{}}
{"detail-type":"Amazon Connect Contact Even\u0074","detail":{}}
{ "detail" : { } , "detail-type" : "Amazon Connect Contact Event" }
"#;
        let keys = keys_of(input, 1 << 20);
        let found: Vec<bool> = keys
            .iter()
            .map(|k| k.is_contact_event_detail_type())
            .collect();
        assert_eq!(found, [true, false, false, false, true]);
    }

    /// Keys that straddle the reader's chunk boundary are noted all the same.
    #[test]
    fn keys_across_refills() {
        let record = br#"{"padding":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","AgentARN":"a","EventType":"LOGIN"}"#;
        let mut input = Vec::new();
        while input.len() < 3 * CHUNK {
            input.extend_from_slice(record);
            input.push(b'\n');
        }
        let keys = keys_of(&input, 1 << 20);
        assert!(keys.len() > 1000);
        for k in keys {
            assert!(
                k.is_sure() && k.has(b"AgentARN") && k.has(b"EventType"),
                "{k:?}"
            );
        }
    }

    #[test]
    fn ndjson_concatenation_and_pretty_json() {
        let out = split(b"{\"a\":1}\n{\"b\":\"}{\"}{\"c\":[1,{\"d\":2}]}\n\n[\n {\"e\": 3}\n]\n");
        let ok: Vec<_> = out.into_iter().map(Result::unwrap).collect();
        assert_eq!(ok[0], ("{\"a\":1}".into(), 0, 1));
        assert_eq!(ok[1], ("{\"b\":\"}{\"}".into(), 8, 2));
        assert_eq!(ok[2].0, "{\"c\":[1,{\"d\":2}]}");
        assert_eq!(ok[3], ("[\n {\"e\": 3}\n]".into(), 37, 4));
    }

    #[test]
    fn truncated_line_does_not_swallow_the_next() {
        let out = split(b"{\"a\":1\n{\"b\":2}\n{\"c\":\"x\n{\"d\":4}\n{\"e\":\n{\"f\":5}\n{\"g\":");
        assert!(
            out[0]
                .as_ref()
                .unwrap_err()
                .starts_with("broken JSON value"),
            "{out:?}"
        );
        assert_eq!(out[1].as_ref().unwrap().0, "{\"b\":2}");
        assert!(out[2]
            .as_ref()
            .unwrap_err()
            .contains("line break inside a string"));
        assert_eq!(out[3].as_ref().unwrap().0, "{\"d\":4}");
        assert!(out[4]
            .as_ref()
            .unwrap_err()
            .starts_with("broken JSON value"));
        assert_eq!(out[5].as_ref().unwrap().0, "{\"f\":5}");
        assert!(out[6].as_ref().unwrap_err().starts_with("truncated"));
        assert_eq!(out.len(), 7);
    }

    #[test]
    fn concatenated_truncation_resumes_at_next_record() {
        let out = split(b"{\"a\":{\"x\":1{\"b\":2}");
        assert!(out[0].is_err());
        assert_eq!(out[1].as_ref().unwrap().0, "{\"b\":2}");
    }

    #[test]
    fn garbage_is_reported_per_line() {
        let out = split(b"Hello World\n{\"a\":1}\n42\n\xEF\xBB\xBF");
        assert!(out[0].as_ref().unwrap_err().contains("Hello World"));
        assert_eq!(out[1].as_ref().unwrap().0, "{\"a\":1}");
        assert!(out[2].as_ref().unwrap_err().contains("42"));
    }

    #[test]
    fn long_garbage_keeps_all_its_bytes() {
        let garbage = vec![b'x'; 3 * CHUNK];
        let mut input = garbage.clone();
        input.extend_from_slice(b"\n{\"a\":1}");
        let mut raws = Vec::new();
        let mut ok = 0;
        let _ = split_json(&input[..], 1 << 30, |r| {
            match r {
                Ok(_) => ok += 1,
                Err(e) => raws.push(e.raw),
            }
            ControlFlow::Continue(())
        });
        assert_eq!(ok, 1);
        assert_eq!(raws, vec![garbage]);

        // Over the limit it comes in pieces, none lost.
        let mut total = 0;
        let _ = split_json(&input[..], CHUNK, |r| {
            if let Err(e) = r {
                assert!(e.raw.len() <= CHUNK);
                total += e.raw.len();
            }
            ControlFlow::Continue(())
        });
        assert_eq!(total, 3 * CHUNK);
    }

    #[test]
    fn byte_order_mark_is_skipped() {
        let out = split(b"\xEF\xBB\xBF{\"a\":1}");
        assert_eq!(out[0].as_ref().unwrap().0, "{\"a\":1}");
    }

    #[test]
    fn values_across_read_chunks() {
        let big = format!("{{\"s\":\"{}\"}}", "x".repeat(3 * CHUNK));
        let input = format!("{big}{big}\n{{\"z\":1}}");
        let out = split(input.as_bytes());
        assert_eq!(out.len(), 3);
        assert_eq!(out[1].as_ref().unwrap().0.len(), big.len());
        assert_eq!(out[2].as_ref().unwrap().1 as usize, 2 * big.len() + 1);
    }

    #[test]
    fn too_large_values_are_skipped() {
        let mut out = Vec::new();
        let _ = split_json(&b"{\"a\":\"0123456789\"}\n{\"b\":1}"[..], 8, |r| {
            out.push(r.is_ok());
            ControlFlow::Continue(())
        });
        assert_eq!(out, vec![false, true]);
    }
}
