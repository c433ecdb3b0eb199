//! Dead letters: one writer for everything that failed, whatever the stage.
//!
//! Every stage hands its failures to the durable outbox like any routed item: the decoder
//! (bytes that did not decode), validation, enrichment (a lookup that kept failing, a miss
//! whose policy is `dead_letter`) and the delivery workers (a destination that refused an
//! item, attempts used up). Each is an [`ItemKind::DeadLetter`] item whose payload is a
//! [`DeadLetter`] entry as JSON, addressed to the dead-letter sink. That sink, built from
//! `[dead_letter]` ([`DeadLetterConfig`]), writes entries to a file, an S3 prefix or an SQS
//! queue, and never gives one up: it retries everything that fails, so the worker keeps
//! the item in the outbox until the destination has it.
//!
//! `switchboard dlq list | show | replay` reads the entries back with
//! [`read_dead_letters`] (filtered by stage, sink, rule, key and time), and replays them:
//! a sink-stage entry goes back through its rule to the sink that failed only; a
//! decode-stage entry's original bytes are decoded again. Entries are Firehose error
//! records, so `switchboard replay` of a dead-letter file also recovers decode-stage
//! records.
//!
//! - `entry`: the entry ([`DeadLetter`]), its JSON, the filter ([`DeadLetterFilter`]);
//! - `config`: `[dead_letter]` and its check and build;
//! - `file`, `s3`, `sqs`: each destination's writer and reader.

mod config;
mod entry;
mod file;
mod s3;
mod sqs;

use std::fmt;
use std::time::Duration;

use aws_types::sdk_config::TimeoutConfig;

pub use config::{
    DeadLetterConfig, FileDeadLetterConfig, S3DeadLetterConfig, SqsDeadLetterConfig,
    DEFAULT_MAX_MESSAGE_BYTES, MAX_MESSAGE_BYTES,
};
pub use entry::{DeadLetter, DeadLetterFilter, Stage};

use crate::aws::AwsConfig;
use crate::sinks::{BatchHints, Item, ItemKind, Outcome, Sink};

/// The dead-letter writer: a [`Sink`] for items whose payloads are [`DeadLetter`] JSON.
///
/// It only ever answers [`Outcome::Delivered`] (the entry is durable: fsynced, stored in
/// S3, accepted by SQS) or [`Outcome::Retry`]; it never rejects. An item that is not a
/// dead-letter entry (a rule routing something else here) is written wrapped in one
/// (stage `sink`, the item as `rawData`), not refused.
pub struct DeadLetterSink {
    name: String,
    writer: Writer,
}

enum Writer {
    File(file::FileWriter),
    S3(s3::S3Writer),
    Sqs(sqs::SqsWriter),
}

/// One entry ready to write: its JSON on one line (no newline) and when it was
/// dead-lettered.
struct Line {
    json: Vec<u8>,
    at_ms: i64,
}

impl Line {
    /// The item's payload as it is when it is a dead-letter entry on one line (so keys a
    /// newer switchboard added survive), compacted when it spans lines, wrapped in an
    /// entry when it is something else.
    fn of(item: &Item, sink: &str) -> Line {
        let parsed = if item.kind == ItemKind::DeadLetter {
            DeadLetter::from_json(&item.payload)
        } else {
            Err(format!("a {} item, not a dead-letter entry", item.kind))
        };
        match parsed {
            Ok(letter) => {
                let payload = item.payload.trim_ascii();
                let json = if payload.iter().any(|b| matches!(b, b'\n' | b'\r')) {
                    serde_json::from_slice::<serde_json::Value>(payload)
                        .map(|v| v.to_string().into_bytes())
                        .unwrap_or_else(|_| letter.to_json())
                } else {
                    payload.to_vec()
                };
                Line {
                    json,
                    at_ms: letter.at_ms,
                }
            }
            Err(why) => {
                tracing::warn!(sink, key = %item.key, rule = %item.rule, kind = %item.kind, reason = %why, "item routed to the dead letters is not a dead-letter entry; writing it wrapped in one");
                let reason = format!("routed to the dead-letter sink as is: {why}");
                // The item's own times, so a retried batch writes the same entry.
                let letter = DeadLetter::from_item(item, Stage::Sink, &reason, item.created_ms);
                Line {
                    json: letter.to_json(),
                    at_ms: letter.at_ms,
                }
            }
        }
    }
}

#[async_trait::async_trait]
impl Sink for DeadLetterSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        let max_items = match self.writer {
            // Ten messages a SendMessageBatch call.
            Writer::Sqs(_) => 100,
            Writer::File(_) | Writer::S3(_) => 1000,
        };
        BatchHints {
            max_items,
            max_bytes: 8 * 1024 * 1024,
            max_wait: Duration::ZERO,
        }
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        if items.is_empty() {
            return Vec::new();
        }
        let lines: Vec<Line> = items.iter().map(|i| Line::of(i, &self.name)).collect();
        match &self.writer {
            Writer::File(w) => w.write(&lines).await,
            Writer::S3(w) => w.write(items, &lines).await,
            Writer::Sqs(w) => w.write(items, &lines).await,
        }
    }
}

/// A dead letter read back, and where it is.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    /// `PATH:LINE` for a file, `s3://BUCKET/KEY#LINE` for S3, `QUEUE_URL#MESSAGE_ID` for
    /// SQS.
    pub location: String,
    pub letter: DeadLetter,
    /// SQS only: the receipt handle of this read, for [`delete_sqs`] once replayed.
    pub receipt_handle: Option<String>,
}

/// An entry that could not be read (a line cut short, a foreign message), and why. It is
/// skipped, never deleted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unreadable {
    pub location: String,
    pub reason: String,
}

/// What [`read_dead_letters`] found.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct DeadLetters {
    /// The entries that match, in the order they were written (oldest first).
    pub found: Vec<Found>,
    /// Entries met on the way that could not be read.
    pub unreadable: Vec<Unreadable>,
    /// True when reading stopped at the limit (there may be more).
    pub truncated: bool,
}

/// Why the dead letters could not be read at all (a missing file, a bucket or queue that
/// cannot be reached).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{location}: {reason}")]
pub struct ReadError {
    /// The file, `s3://bucket/prefix/` or the queue URL.
    pub location: String,
    pub reason: String,
}

/// Reads up to `limit` entries that match `filter`, oldest first.
///
/// - file: the NDJSON file, line by line;
/// - S3: the objects under the prefix, in key (time) order; hour folders that start at or
///   after `until_ms`, and objects last written before `since_ms`, are not read;
/// - SQS: the queue is *peeked, not drained*: messages are received (hidden while the
///   listing runs, so each is seen once) and made visible again before this returns.
///   Nothing is deleted: `dlq replay --delete` removes what it replayed with
///   [`delete_sqs`] and the receipt handles of [`Found`].
pub async fn read_dead_letters(
    config: &DeadLetterConfig,
    filter: &DeadLetterFilter,
    limit: usize,
) -> Result<DeadLetters, ReadError> {
    let mut out = Collect::new(filter, limit);
    match config {
        DeadLetterConfig::File(c) => file::read(c, &mut out).await?,
        DeadLetterConfig::S3(c) => s3::read(c, &mut out).await?,
        DeadLetterConfig::Sqs(c) => sqs::read(c, &mut out).await?,
    }
    Ok(out.done)
}

/// Deletes SQS messages by the receipt handles [`read_dead_letters`] returned (after a
/// replay). Returns how many were deleted; the error names the ones that were not.
pub async fn delete_sqs(
    config: &DeadLetterConfig,
    receipt_handles: &[String],
) -> Result<usize, ReadError> {
    match config {
        DeadLetterConfig::Sqs(c) => sqs::delete(c, receipt_handles).await,
        other => Err(ReadError {
            location: other.describe(),
            reason: "only an SQS dead-letter queue deletes what was replayed".into(),
        }),
    }
}

/// The SDK configuration an S3 or SQS dead-letter client is built from; a region is
/// required (the bucket's or queue's).
async fn load_aws(aws: &AwsConfig) -> Result<aws_config::SdkConfig, String> {
    let sdk = aws.load().await;
    if sdk.region().is_none() {
        return Err(
            "no AWS region: set region in [dead_letter] aws or [aws], or AWS_REGION".into(),
        );
    }
    Ok(sdk)
}

/// What bounds every call of a dead-letter client, so a hung connection cannot hold the
/// writer (or a `dlq` command).
#[derive(Debug, Clone, Copy)]
struct Timeouts {
    /// One try.
    attempt: Duration,
    /// All tries of a call, the SDK's retries included.
    total: Duration,
}

impl Timeouts {
    fn config(self) -> TimeoutConfig {
        TimeoutConfig::builder()
            .operation_attempt_timeout(self.attempt)
            .operation_timeout(self.total)
            .build()
    }
}

/// Gathers what the readers find, up to the limit.
struct Collect<'a> {
    filter: &'a DeadLetterFilter,
    limit: usize,
    done: DeadLetters,
}

impl<'a> Collect<'a> {
    fn new(filter: &'a DeadLetterFilter, limit: usize) -> Self {
        Collect {
            filter,
            limit,
            done: DeadLetters::default(),
        }
    }

    /// True once `limit` entries were found (the reader stops).
    fn full(&self) -> bool {
        self.done.found.len() >= self.limit
    }

    /// One line or message; blank lines are skipped.
    fn entry(&mut self, location: impl FnOnce() -> String, bytes: &[u8], receipt: Option<&str>) {
        let bytes = bytes.trim_ascii();
        if bytes.is_empty() {
            return;
        }
        if self.full() {
            self.done.truncated = true;
            return;
        }
        match DeadLetter::from_json(bytes) {
            Ok(letter) if self.filter.matches(&letter) => self.done.found.push(Found {
                location: location(),
                letter,
                receipt_handle: receipt.map(str::to_owned),
            }),
            Ok(_) => {}
            Err(reason) => self.done.unreadable.push(Unreadable {
                location: location(),
                reason,
            }),
        }
    }
}

impl fmt::Debug for DeadLetterSink {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.writer {
            Writer::File(_) => "file",
            Writer::S3(_) => "s3",
            Writer::Sqs(_) => "sqs",
        };
        f.debug_struct("DeadLetterSink")
            .field("name", &self.name)
            .field("writer", &kind)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn item(kind: ItemKind, payload: &[u8]) -> Item {
        Item {
            id: 1,
            rule: "r".into(),
            sink: "dead_letter".into(),
            key: "k".into(),
            kind,
            payload: Bytes::copy_from_slice(payload),
            event_ms: 5,
            created_ms: 6,
            attempts: 0,
        }
    }

    #[test]
    fn lines_keep_entries_compact_entries_that_span_lines_and_wrap_the_rest() {
        let letter = DeadLetter::from_item(&item(ItemKind::Record, b"{}"), Stage::Sink, "x", 9);
        let json = letter.to_json();
        let line = Line::of(&item(ItemKind::DeadLetter, &json), "dl");
        assert_eq!((line.json, line.at_ms), (json.clone(), 9));

        let pretty =
            serde_json::to_vec_pretty(&serde_json::from_slice::<serde_json::Value>(&json).unwrap())
                .unwrap();
        let line = Line::of(&item(ItemKind::DeadLetter, &pretty), "dl");
        assert!(!line.json.contains(&b'\n'));
        assert_eq!(DeadLetter::from_json(&line.json), Ok(letter));

        let line = Line::of(&item(ItemKind::Transition, br#"{"a":1}"#), "dl");
        let wrapped = DeadLetter::from_json(&line.json).unwrap();
        assert_eq!((wrapped.stage, wrapped.at_ms), (Stage::Sink, 6));
        assert_eq!(wrapped.raw, br#"{"a":1}"#);
        assert!(
            wrapped.reason.contains("not a dead-letter entry"),
            "{}",
            wrapped.reason
        );
    }

    #[test]
    fn collect_stops_at_the_limit_and_reports_unreadable_entries() {
        let filter = DeadLetterFilter::default();
        let mut c = Collect::new(&filter, 1);
        c.entry(|| "f:1".into(), b"garbage", None);
        c.entry(|| "f:2".into(), b"   ", None);
        let json =
            DeadLetter::from_item(&item(ItemKind::Record, b"{}"), Stage::Sink, "x", 9).to_json();
        c.entry(|| "f:3".into(), &json, None);
        assert!(c.full() && !c.done.truncated);
        c.entry(|| "f:4".into(), &json, None);
        assert!(c.done.truncated);
        assert_eq!(c.done.found.len(), 1);
        assert_eq!(c.done.found[0].location, "f:3");
        assert_eq!(c.done.unreadable.len(), 1);
        assert_eq!(c.done.unreadable[0].location, "f:1");
    }
}
