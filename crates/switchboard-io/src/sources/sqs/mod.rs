//! An SQS queue fed by an EventBridge rule (target: the queue) with Connect's contact
//! events, long-polled and drained.
//!
//! Each receive asks for up to `batch_size` messages, waiting up to `wait_time_secs` for
//! them (long polling), and hides them for `visibility_timeout_secs`. Each message is
//! [classified](classify): its body decoded (an EventBridge event, as a rule's SQS target
//! delivers it), its events filtered by type, its receive count checked. Then:
//!
//! - records to keep go to the pipeline in one delivery per receive; the messages are
//!   deleted (in a batch) only after the acknowledgement that they are stored. While the
//!   commit is awaited, their visibility is extended so another consumer does not get
//!   them; if it fails or never comes they are not deleted, and SQS gives them again
//!   after the visibility timeout;
//! - messages the filter drops entirely are deleted at once;
//! - poison messages (received more than `max_receives` times: the pipeline keeps failing
//!   on them) and messages that do not decode are sent to `dead_letter_queue_url` with
//!   the reason in message attributes, then deleted. Without a dead-letter queue they go
//!   to the pipeline's dead letters instead, and are deleted once those are stored.
//!
//! Up to `max_in_flight` receives wait for their commits at once, so a pipeline that
//! commits once a second still drains many messages a second. Errors from SQS are retried
//! with exponential backoff; a queue that does not exist ends the source with an error.
//! On shutdown, the source stops receiving, waits for the commits it is owed, deletes
//! what they stored and returns.

mod batch;
mod classify;

use std::collections::HashMap;
use std::time::Duration;

use aws_sdk_sqs::error::DisplayErrorContext;
use aws_sdk_sqs::types::{Message, MessageAttributeValue, MessageSystemAttributeName};
use aws_sdk_sqs::Client;
use serde::{Deserialize, Serialize};
use switchboard_model::decode::DecodeError;
use tokio::sync::oneshot;
use tokio::task::JoinSet;
use tokio::time::Instant;

pub(crate) use self::batch::{change_visibility_batch, delete_batch, BATCH};
use self::classify::{classify, Verdict};
use super::filter::EventTypeFilter;
use crate::aws::AwsConfig;
use crate::context::SourceContext;
use crate::delivery::{AckError, Delivery};

/// The SQS source (`type = "sqs"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsConfig {
    /// The queue's URL, e.g.
    /// `https://sqs.us-east-1.amazonaws.com/123456789012/connect-contact-events`.
    pub queue_url: String,
    /// Long polling: seconds a receive waits for messages (0 to 20).
    #[serde(default = "default_wait_time_secs")]
    pub wait_time_secs: u8,
    /// Messages per receive (1 to 10).
    #[serde(default = "default_batch_size")]
    pub batch_size: u8,
    /// Seconds received messages stay hidden from other consumers; extended while their
    /// commit is awaited.
    #[serde(default = "default_visibility_timeout_secs")]
    pub visibility_timeout_secs: u32,
    /// A message is given to the pipeline at most this many times; received once more
    /// (its `ApproximateReceiveCount` above this), it is dead-lettered as poison.
    #[serde(default = "default_max_receives")]
    pub max_receives: u32,
    /// Where poison and undecodable messages go (a standard queue), with the reason in
    /// the `switchboard-reason` message attribute. Without it, they go to the pipeline's
    /// dead letters.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dead_letter_queue_url: Option<String>,
    /// Which contact events to keep; messages holding none are deleted unprocessed.
    #[serde(default)]
    pub event_types: EventTypeFilter,
    /// Receives whose commit may be awaited at once.
    #[serde(default = "default_max_in_flight")]
    pub max_in_flight: usize,
    /// Seconds to wait for a delivery's commit before leaving its messages to reappear.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: u64,
    /// Region, profile and endpoint.
    #[serde(default)]
    pub aws: AwsConfig,
}

fn default_wait_time_secs() -> u8 {
    20
}
fn default_batch_size() -> u8 {
    10
}
fn default_visibility_timeout_secs() -> u32 {
    60
}
fn default_max_receives() -> u32 {
    5
}
fn default_max_in_flight() -> usize {
    8
}
fn default_ack_timeout_secs() -> u64 {
    300
}

/// Why the SQS source stopped, or could not start.
#[derive(Debug, thiserror::Error)]
pub enum SqsError {
    #[error("sqs source: {0}")]
    Config(String),
    #[error("sqs source: queue {queue} does not exist: {message}")]
    QueueDoesNotExist { queue: String, message: String },
    #[error("sqs source {queue}: the pipeline stopped before the source was told to")]
    PipelineClosed { queue: String },
}

impl SqsConfig {
    /// A queue in us-east-1 with a dead-letter queue, `CONTACT_DATA_UPDATED` dropped.
    pub fn example() -> Self {
        Self {
            queue_url: "https://sqs.us-east-1.amazonaws.com/123456789012/connect-contact-events"
                .into(),
            wait_time_secs: default_wait_time_secs(),
            batch_size: default_batch_size(),
            visibility_timeout_secs: default_visibility_timeout_secs(),
            max_receives: default_max_receives(),
            dead_letter_queue_url: Some(
                "https://sqs.us-east-1.amazonaws.com/123456789012/connect-contact-events-dlq"
                    .into(),
            ),
            event_types: EventTypeFilter {
                include: vec![],
                exclude: vec!["CONTACT_DATA_UPDATED".into()],
            },
            max_in_flight: default_max_in_flight(),
            ack_timeout_secs: default_ack_timeout_secs(),
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
        }
    }

    /// A config for `queue_url` with every other field at its default.
    pub fn new(queue_url: impl Into<String>) -> Self {
        Self {
            queue_url: queue_url.into(),
            dead_letter_queue_url: None,
            event_types: EventTypeFilter::default(),
            aws: AwsConfig::default(),
            ..Self::example()
        }
    }

    /// Checks the ranges SQS accepts.
    pub fn validate(&self) -> Result<(), SqsError> {
        let err = |m: &str| Err(SqsError::Config(m.to_owned()));
        if self.queue_url.trim().is_empty() {
            return err("queue_url is empty");
        }
        if self.wait_time_secs > 20 {
            return err("wait_time_secs must be 0 to 20");
        }
        if !(1..=10).contains(&self.batch_size) {
            return err("batch_size must be 1 to 10");
        }
        if !(1..=43_200).contains(&self.visibility_timeout_secs) {
            return err("visibility_timeout_secs must be 1 to 43200");
        }
        if self.max_receives == 0 || self.max_in_flight == 0 || self.ack_timeout_secs == 0 {
            return err("max_receives, max_in_flight and ack_timeout_secs must be positive");
        }
        if self.dead_letter_queue_url.as_deref() == Some(self.queue_url.as_str()) {
            return err("dead_letter_queue_url is the queue itself");
        }
        self.event_types.validate().map_err(SqsError::Config)
    }

    /// `sqs:<queue name>`, the name of this source's deliveries.
    fn source_name(&self) -> String {
        let name = self.queue_url.rsplit('/').next().unwrap_or(&self.queue_url);
        format!("sqs:{name}")
    }
}

/// Runs the source until `ctx.shutdown`: an SQS client from `config.aws`, then
/// [`run_with_client`].
pub async fn run(config: SqsConfig, ctx: SourceContext) -> Result<(), SqsError> {
    config.validate()?;
    let sdk = config.aws.load().await;
    run_with_client(Client::new(&sdk), config, ctx).await
}

/// Runs the source with a given client until `ctx.shutdown`.
pub async fn run_with_client(
    client: Client,
    config: SqsConfig,
    ctx: SourceContext,
) -> Result<(), SqsError> {
    config.validate()?;
    let poller = Poller {
        source: config.source_name(),
        client,
        config,
        ctx,
    };
    poller.run().await
}

struct Poller {
    client: Client,
    config: SqsConfig,
    ctx: SourceContext,
    source: String,
}

/// Backoff after a failed receive: 200 ms doubling to 30 s.
const BACKOFF_MIN: Duration = Duration::from_millis(200);
const BACKOFF_MAX: Duration = Duration::from_secs(30);

impl Poller {
    async fn run(&self) -> Result<(), SqsError> {
        let queue = &self.config.queue_url;
        tracing::info!(queue, "sqs source started");
        // Receives waiting for their commit: owned here, drained before returning.
        let mut settling: JoinSet<()> = JoinSet::new();
        let mut backoff = BACKOFF_MIN;
        let result = loop {
            while settling.len() >= self.config.max_in_flight {
                settling.join_next().await;
            }
            while settling.try_join_next().is_some() {}
            let received = tokio::select! {
                biased;
                _ = self.ctx.shutdown_signalled() => break Ok(()),
                r = self.receive() => r,
            };
            let messages = match received {
                Ok(messages) => {
                    backoff = BACKOFF_MIN;
                    messages
                }
                Err(Fatal(e)) => break Err(e),
                Err(Retry(message)) => {
                    tracing::warn!(
                        queue,
                        error = message,
                        ?backoff,
                        "sqs receive failed; retrying"
                    );
                    tokio::select! {
                        _ = self.ctx.shutdown_signalled() => break Ok(()),
                        _ = tokio::time::sleep(backoff) => {}
                    }
                    backoff = (backoff * 2).min(BACKOFF_MAX);
                    continue;
                }
            };
            if messages.is_empty() {
                continue;
            }
            match self.handle(messages).await {
                Ok(Some(settle)) => {
                    settling.spawn(settle);
                }
                Ok(None) => {}
                Err(e) => break Err(e),
            }
        };
        while settling.join_next().await.is_some() {}
        tracing::info!(queue, "sqs source stopped");
        result
    }

    async fn receive(&self) -> Result<Vec<Message>, ReceiveError> {
        let out = self
            .client
            .receive_message()
            .queue_url(&self.config.queue_url)
            .max_number_of_messages(i32::from(self.config.batch_size))
            .wait_time_seconds(i32::from(self.config.wait_time_secs))
            .visibility_timeout(self.config.visibility_timeout_secs as i32)
            .message_system_attribute_names(MessageSystemAttributeName::ApproximateReceiveCount)
            .message_system_attribute_names(MessageSystemAttributeName::SentTimestamp)
            .send()
            .await;
        match out {
            Ok(out) => Ok(out.messages.unwrap_or_default()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_queue_does_not_exist()) =>
            {
                Err(Fatal(SqsError::QueueDoesNotExist {
                    queue: self.config.queue_url.clone(),
                    message: DisplayErrorContext(&e).to_string(),
                }))
            }
            Err(e) => Err(Retry(DisplayErrorContext(&e).to_string())),
        }
    }

    /// Sorts one receive's messages; deletes the filtered ones, dead-letters the poison
    /// and undecodable ones, and hands the rest to the pipeline. Returns the task that
    /// waits for their commit and deletes them, if there is one.
    async fn handle(
        &self,
        messages: Vec<Message>,
    ) -> Result<Option<impl std::future::Future<Output = ()> + Send + 'static>, SqsError> {
        let mut delete_now = Vec::new();
        let mut after_commit = Vec::new();
        let mut items = Vec::new();
        let oldest = messages
            .iter()
            .filter_map(|m| {
                m.attributes
                    .as_ref()?
                    .get(&MessageSystemAttributeName::SentTimestamp)
            })
            .filter_map(|t| t.parse::<i64>().ok())
            .min();
        if let Some(sent) = oldest {
            let age = crate::sources::http::now_ms().saturating_sub(sent) as f64 / 1000.0;
            switchboard_telemetry::input::lag("sqs", &self.source, age);
        }
        for message in messages {
            let Some(receipt) = message.receipt_handle.clone() else {
                continue;
            };
            let count = message
                .attributes
                .as_ref()
                .and_then(|a| a.get(&MessageSystemAttributeName::ApproximateReceiveCount))
                .and_then(|c| c.parse().ok());
            let body = message.body.as_deref().unwrap_or("");
            let id = message.message_id.as_deref();
            match classify(
                body,
                id,
                count,
                self.config.max_receives,
                &self.config.event_types,
            ) {
                Verdict::Filtered => delete_now.push(receipt),
                Verdict::Deliver(records) => {
                    items.extend(records.into_iter().map(Ok));
                    after_commit.push(receipt);
                }
                Verdict::DeadLetter(error) => match &self.config.dead_letter_queue_url {
                    Some(dlq) => {
                        // Refused here, never seen by the pipeline: counted here.
                        switchboard_telemetry::input::refused(
                            "sqs",
                            switchboard_telemetry::input::reason::DECODE,
                        );
                        if self.dead_letter(dlq, &message, &error, count).await {
                            delete_now.push(receipt);
                        }
                    }
                    None => {
                        tracing::warn!(queue = self.config.queue_url, error = %error, "sqs message to the dead letters");
                        items.push(Err(*error));
                        after_commit.push(receipt);
                    }
                },
            }
        }
        delete(&self.client, &self.config.queue_url, delete_now).await;
        if items.is_empty() {
            return Ok(None);
        }
        let (delivery, ack) = Delivery::acked(self.source.clone(), items);
        tokio::select! {
            // Not handed over: the messages reappear after their visibility timeout.
            _ = self.ctx.shutdown_signalled() => return Ok(None),
            sent = self.ctx.deliveries.send(delivery) => if sent.is_err() {
                if self.ctx.is_shutting_down() {
                    return Ok(None);
                }
                return Err(SqsError::PipelineClosed { queue: self.config.queue_url.clone() });
            }
        }
        Ok(Some(settle(
            self.client.clone(),
            self.config.queue_url.clone(),
            after_commit,
            ack,
            Duration::from_secs(u64::from(self.config.visibility_timeout_secs)),
            Duration::from_secs(self.config.ack_timeout_secs),
        )))
    }

    /// Sends a message to the dead-letter queue with why; true when it is there (and the
    /// original may be deleted).
    async fn dead_letter(
        &self,
        dlq: &str,
        message: &Message,
        error: &DecodeError,
        count: Option<u32>,
    ) -> bool {
        let queue = &self.config.queue_url;
        let attr = |v: String| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(v)
                .build()
        };
        let mut reason = error.reason.clone();
        truncate(&mut reason, 4096);
        let mut attributes = HashMap::new();
        let pairs = [
            ("switchboard-reason", Some(reason)),
            ("switchboard-source-queue", Some(queue.clone())),
            ("switchboard-message-id", message.message_id.clone()),
            ("switchboard-receive-count", count.map(|c| c.to_string())),
        ];
        for (name, value) in pairs {
            if let Some(Ok(v)) = value.map(attr) {
                attributes.insert(name.to_owned(), v);
            }
        }
        // SQS refuses an empty body; an empty message is dead-lettered as a marker.
        let body = message.body.clone().filter(|b| !b.is_empty());
        let sent = self
            .client
            .send_message()
            .queue_url(dlq)
            .message_body(body.unwrap_or_else(|| "(empty message body)".into()))
            .set_message_attributes(Some(attributes))
            .send()
            .await;
        match sent {
            Ok(_) => {
                tracing::warn!(queue, dlq, error = %error, "sqs message dead-lettered");
                true
            }
            Err(e) => {
                tracing::warn!(queue, dlq, error = %DisplayErrorContext(&e), "cannot send to the dead-letter queue; the message stays");
                false
            }
        }
    }
}

enum ReceiveError {
    Fatal(SqsError),
    Retry(String),
}
use ReceiveError::{Fatal, Retry};

/// Waits for a delivery's commit, keeping its messages hidden meanwhile, and deletes them
/// once stored. If the commit fails or never comes, they are left to reappear.
async fn settle(
    client: Client,
    queue: String,
    receipts: Vec<String>,
    mut ack: oneshot::Receiver<Result<(), AckError>>,
    visibility: Duration,
    ack_timeout: Duration,
) {
    let deadline = Instant::now() + ack_timeout;
    let every = (visibility / 2).max(Duration::from_millis(500));
    let mut extend_at = Instant::now() + every;
    let outcome = loop {
        tokio::select! {
            r = &mut ack => break r,
            _ = tokio::time::sleep_until(deadline) => {
                tracing::warn!(queue, messages = receipts.len(), "sqs delivery not stored in time; messages will reappear");
                return;
            }
            _ = tokio::time::sleep_until(extend_at) => {
                extend_visibility(&client, &queue, &receipts, visibility).await;
                extend_at += every;
            }
        }
    };
    match outcome {
        Ok(Ok(())) => delete(&client, &queue, receipts).await,
        Ok(Err(e)) => {
            tracing::warn!(queue, error = %e, "sqs delivery not stored; messages will reappear")
        }
        Err(_) => tracing::warn!(
            queue,
            "pipeline stopped before storing; messages will reappear"
        ),
    }
}

/// Deletes messages in batches of 10 (SQS's limit), logging the ones that fail.
async fn delete(client: &Client, queue: &str, receipts: Vec<String>) {
    for chunk in receipts.chunks(BATCH) {
        match delete_batch(client, queue, chunk).await {
            Ok(out) => {
                for failed in out.failed {
                    tracing::warn!(
                        queue,
                        id = failed.id,
                        code = failed.code,
                        message = failed.message,
                        "sqs delete failed; the message will reappear"
                    );
                }
            }
            Err(e) => {
                tracing::warn!(queue, error = %DisplayErrorContext(&e), "sqs delete failed; the messages will reappear")
            }
        }
    }
}

/// Hides messages for another `visibility` while their commit is awaited.
async fn extend_visibility(
    client: &Client,
    queue: &str,
    receipts: &[String],
    visibility: Duration,
) {
    let seconds = visibility.as_secs() as i32;
    for chunk in receipts.chunks(BATCH) {
        if let Err(e) = change_visibility_batch(client, queue, chunk, seconds).await {
            tracing::warn!(queue, error = %DisplayErrorContext(&e), "cannot extend sqs visibility");
        }
    }
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn config_example_and_validation() {
        let example = SqsConfig::example();
        assert!(example.validate().is_ok());
        let back: SqsConfig =
            serde_json::from_str(&serde_json::to_string(&example).unwrap()).unwrap();
        assert_eq!(back, example);
        let minimal: SqsConfig =
            serde_json::from_value(serde_json::json!({"queue_url": "https://q/x"})).unwrap();
        assert_eq!(minimal, SqsConfig::new("https://q/x"));
        assert_eq!(minimal.source_name(), "sqs:x");
        assert!(serde_json::from_value::<SqsConfig>(
            serde_json::json!({"queue_url": "q", "wait_time": 20})
        )
        .is_err());
        for bad in [
            SqsConfig {
                wait_time_secs: 21,
                ..SqsConfig::new("q")
            },
            SqsConfig {
                batch_size: 11,
                ..SqsConfig::new("q")
            },
            SqsConfig {
                max_receives: 0,
                ..SqsConfig::new("q")
            },
            SqsConfig {
                dead_letter_queue_url: Some("q".into()),
                ..SqsConfig::new("q")
            },
            SqsConfig::new(" "),
        ] {
            assert!(bad.validate().is_err(), "{bad:?}");
        }
    }
}
