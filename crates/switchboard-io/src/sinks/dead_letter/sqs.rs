//! Dead letters in an SQS queue: one message per entry, sent ten at a time
//! (`SendMessageBatch`), each entry's outcome its own.
//!
//! A message holds the entry's JSON. An entry larger than `max_message_bytes` is sent
//! without its `rawData` (and with `rawDataTruncated: true`), and logged as an error with
//! its key: the single case where a dead letter loses its original bytes, documented on
//! the config field. Refusing it would keep it in the outbox for ever, and splitting it
//! would give readers pieces no tool reassembles.
//!
//! Reading peeks: messages are received hidden for [`PEEK_SECS`] (so paging through the
//! queue sees each once), then made visible again; nothing is deleted unless asked.

use std::collections::HashSet;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::SendMessageBatchRequestEntry;
use aws_sdk_sqs::Client;

use super::{load_aws, Collect, DeadLetter, Line, ReadError, SqsDeadLetterConfig, Timeouts};
use crate::aws::AwsConfig;
use crate::sinks::{Item, Outcome};
use crate::sources::sqs::{change_visibility_batch, delete_batch, BATCH};

/// How long a listing hides the messages it received.
pub(super) const PEEK_SECS: i32 = 60;
/// The reason is cut to this many characters when an entry must shrink to fit.
const SHORT_REASON: usize = 4096;

pub(super) struct SqsWriter {
    client: Client,
    queue_url: String,
    max_bytes: usize,
    fifo: bool,
}

impl SqsWriter {
    pub(super) async fn new(config: &SqsDeadLetterConfig) -> Result<SqsWriter, String> {
        Ok(SqsWriter {
            client: client(&config.aws).await?,
            queue_url: config.queue_url.trim().to_owned(),
            max_bytes: config.max_message_bytes,
            fifo: config.queue_url.trim_end_matches('/').ends_with(".fifo"),
        })
    }

    pub(super) async fn write(&self, items: &[Item], lines: &[Line]) -> Vec<Outcome> {
        let bodies: Vec<String> = items
            .iter()
            .zip(lines)
            .map(|(item, line)| self.body(item, line))
            .collect();
        let mut outcomes = Vec::with_capacity(items.len());
        let mut start = 0;
        while start < items.len() {
            // Ten messages, and no more bytes than one message may have, per call.
            let mut end = start;
            let mut size = 0;
            while end < items.len()
                && end - start < BATCH
                && (end == start || size + bodies[end].len() <= self.max_bytes)
            {
                size += bodies[end].len();
                end += 1;
            }
            outcomes.extend(self.send(&items[start..end], &bodies[start..end]).await);
            start = end;
        }
        outcomes
    }

    /// The message body of one entry: its JSON, shrunk to fit when it is too large.
    fn body(&self, item: &Item, line: &Line) -> String {
        let whole = sqs_safe(&String::from_utf8_lossy(&line.json));
        if whole.len() <= self.max_bytes {
            return whole;
        }
        let Ok(mut letter) = DeadLetter::from_json(&line.json) else {
            // Lines are entries by construction (see `Line::of`).
            return whole;
        };
        let size = whole.len();
        letter.raw = Vec::new();
        letter.raw_truncated = true;
        let mut body = sqs_safe(&String::from_utf8_lossy(&letter.to_json()));
        if body.len() > self.max_bytes {
            letter.reason = cut(&letter.reason, SHORT_REASON);
            body = sqs_safe(&String::from_utf8_lossy(&letter.to_json()));
        }
        if body.len() > self.max_bytes {
            letter.source = None;
            letter.reason = cut(&letter.reason, 256);
            body = sqs_safe(&String::from_utf8_lossy(&letter.to_json()));
        }
        tracing::error!(
            key = %item.key,
            queue = %self.queue_url,
            bytes = size,
            max_message_bytes = self.max_bytes,
            stage = %letter.stage,
            sink = letter.sink.as_deref().unwrap_or(""),
            "dead letter too large for an SQS message: sent WITHOUT its original bytes (rawDataTruncated); raise max_message_bytes or use a file or S3"
        );
        body
    }

    async fn send(&self, items: &[Item], bodies: &[String]) -> Vec<Outcome> {
        let mut outcomes = vec![None; items.len()];
        let mut entries = Vec::with_capacity(items.len());
        for (i, (item, body)) in items.iter().zip(bodies).enumerate() {
            let mut entry = SendMessageBatchRequestEntry::builder()
                .id(i.to_string())
                .message_body(body.clone());
            if self.fifo {
                entry = entry
                    .message_group_id("switchboard-dead-letters")
                    .message_deduplication_id(format!("{:016x}", fnv(item.key.as_bytes())));
            }
            match entry.build() {
                Ok(e) => entries.push(e),
                Err(e) => {
                    outcomes[i] = Some(Outcome::retry(format!("cannot build the SQS message: {e}")))
                }
            }
        }
        if !entries.is_empty() {
            let sent = self
                .client
                .send_message_batch()
                .queue_url(&self.queue_url)
                .set_entries(Some(entries))
                .send()
                .await;
            match sent {
                Ok(out) => {
                    for ok in out.successful() {
                        if let Some(o) = ok
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| outcomes.get_mut(i))
                        {
                            *o = Some(Outcome::Delivered);
                        }
                    }
                    for failed in out.failed() {
                        let reason = format!(
                            "SQS refused the message ({}): {}",
                            failed.code(),
                            failed.message().unwrap_or("no message")
                        );
                        tracing::error!(queue = %self.queue_url, %reason, "dead letter not sent; retrying");
                        if let Some(o) = failed
                            .id()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| outcomes.get_mut(i))
                        {
                            *o = Some(Outcome::retry(reason));
                        }
                    }
                }
                Err(e) => {
                    let reason = format!(
                        "cannot send to {}: {}",
                        self.queue_url,
                        DisplayErrorContext(&e)
                    );
                    tracing::error!(%reason, entries = items.len(), "dead letters not sent; retrying");
                    for o in outcomes.iter_mut().filter(|o| o.is_none()) {
                        *o = Some(Outcome::retry(reason.clone()));
                    }
                }
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::retry("SQS did not report on this message")))
            .collect()
    }
}

/// SQS accepts only XML characters in a body: the noncharacters U+FFFE and U+FFFF (which
/// can only sit inside JSON strings) are written as JSON escapes.
fn sqs_safe(json: &str) -> String {
    if !json.contains(['\u{FFFE}', '\u{FFFF}']) {
        return json.to_owned();
    }
    json.replace('\u{FFFE}', "\\ufffe")
        .replace('\u{FFFF}', "\\uffff")
}

fn cut(s: &str, chars: usize) -> String {
    match s.char_indices().nth(chars) {
        Some((at, _)) => format!("{}… (cut)", &s[..at]),
        None => s.to_owned(),
    }
}

fn fnv(bytes: &[u8]) -> u64 {
    bytes.iter().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(*b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// An SQS client for `aws`, every call bounded.
async fn client(aws: &AwsConfig) -> Result<Client, String> {
    let timeouts = Timeouts {
        attempt: Duration::from_secs(30),
        total: Duration::from_secs(90),
    };
    let config = aws_sdk_sqs::config::Builder::from(&load_aws(aws).await?)
        .timeout_config(timeouts.config())
        .build();
    Ok(Client::from_conf(config))
}

/// Peeks at the queue into `out`: receives (hidden for [`PEEK_SECS`]) until the limit or
/// until the queue has nothing more, then makes every received message visible again.
pub(super) async fn read(
    config: &SqsDeadLetterConfig,
    out: &mut Collect<'_>,
) -> Result<(), ReadError> {
    let queue = config.queue_url.trim();
    let error = |reason: String| ReadError {
        location: queue.to_owned(),
        reason,
    };
    let client = client(&config.aws).await.map_err(error)?;
    let mut seen = HashSet::new();
    let mut received = Vec::new();
    let result = loop {
        if out.done.truncated {
            break Ok(());
        }
        let checking = out.full();
        let answer = client
            .receive_message()
            .queue_url(queue)
            .max_number_of_messages(BATCH as i32)
            .visibility_timeout(PEEK_SECS)
            .wait_time_seconds(1)
            .send()
            .await;
        let messages = match answer {
            Ok(a) => a.messages.unwrap_or_default(),
            Err(e) => {
                break Err(error(format!(
                    "cannot receive: {}",
                    DisplayErrorContext(&e)
                )))
            }
        };
        let mut new = 0;
        for m in &messages {
            let receipt = m.receipt_handle();
            if let Some(r) = receipt {
                received.push(r.to_owned());
            }
            let id = m.message_id().unwrap_or("");
            let location = format!("{queue}#{id}");
            if !seen.insert(id.to_owned()) {
                // Seen before the peek expired: only the newest receipt deletes it.
                if let Some(found) = out.done.found.iter_mut().find(|f| f.location == location) {
                    found.receipt_handle = receipt.map(str::to_owned);
                }
                continue;
            }
            new += 1;
            match m.body() {
                Some(body) => out.entry(|| location.clone(), body.as_bytes(), receipt),
                None => out.done.unreadable.push(super::Unreadable {
                    location,
                    reason: "a message without a body".into(),
                }),
            }
        }
        if checking {
            // The limit was reached before this receive: it only tells whether more wait.
            if new > 0 {
                out.done.truncated = true;
            }
            break Ok(());
        }
        if new == 0 {
            break Ok(());
        }
    };
    release(&client, queue, &received).await;
    result
}

/// Makes received messages visible again (else they would reappear after the peek).
async fn release(client: &Client, queue: &str, receipts: &[String]) {
    for chunk in receipts.chunks(BATCH) {
        if let Err(e) = change_visibility_batch(client, queue, chunk, 0).await {
            tracing::warn!(queue, error = %DisplayErrorContext(&e), "cannot make peeked dead letters visible again; they reappear after {PEEK_SECS} s");
        }
    }
}

/// Deletes messages by receipt handle; the count deleted, or which were not.
pub(super) async fn delete(
    config: &SqsDeadLetterConfig,
    receipts: &[String],
) -> Result<usize, ReadError> {
    let queue = config.queue_url.trim();
    let error = |reason: String| ReadError {
        location: queue.to_owned(),
        reason,
    };
    let client = client(&config.aws).await.map_err(error)?;
    let mut deleted = 0;
    let mut failures = Vec::new();
    for chunk in receipts.chunks(BATCH) {
        match delete_batch(&client, queue, chunk).await {
            Ok(out) => {
                deleted += out.successful().len();
                failures.extend(
                    out.failed()
                        .iter()
                        .map(|f| format!("{}: {}", f.code(), f.message().unwrap_or("no message"))),
                );
            }
            Err(e) => failures.push(format!(
                "{} messages: {}",
                chunk.len(),
                DisplayErrorContext(&e)
            )),
        }
    }
    if failures.is_empty() {
        Ok(deleted)
    } else {
        Err(error(format!(
            "deleted {deleted} of {} messages; not deleted: {}",
            receipts.len(),
            failures.join("; ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bodies_escape_what_sqs_refuses_and_reasons_cut_on_characters() {
        assert_eq!(sqs_safe(r#"{"a":"x"}"#), r#"{"a":"x"}"#);
        let escaped = sqs_safe("{\"a\":\"\u{FFFF}\"}");
        assert_eq!(escaped, r#"{"a":"\uffff"}"#);
        let v: serde_json::Value = serde_json::from_str(&escaped).unwrap();
        assert_eq!(v["a"], "\u{FFFF}");
        assert_eq!(cut("ééé", 2), "éé… (cut)");
        assert_eq!(cut("ab", 2), "ab");
    }
}
