//! Sinks: where the items routing rules select go (S3, OpenSearch, PostgreSQL, webhooks,
//! notifications, stdout and files, dead letters).
//!
//! A sink never sees the pipeline. The pipeline writes what a rule routes into the store's
//! durable outbox in the same transaction as the engine's changes; a delivery worker per
//! sink claims batches from there, enriches them when the rule asks for it, and hands them
//! to [`Sink::deliver`], which says per item what happened ([`Outcome`]). The worker then
//! removes delivered items from the outbox, schedules retries with backoff and jitter
//! ([`retry`]), and dead-letters rejected items. So a sink only has to do one thing well:
//! send a batch, and report honestly.
//!
//! Every [`Item`] carries an idempotency key that stays the same across retries and
//! restarts; sinks pass it on where the destination can use it (`Idempotency-Key` header,
//! document id, object name).
//!
//! - [`config`]: `[[sinks]]` entries, dispatched on `type`, each validating itself and
//!   building its sink;
//! - [`retry`]: the shared backoff, `Retry-After` and batching helpers;
//! - one module per sink.

pub mod config;
pub mod dead_letter;
pub mod file;
pub mod notify;
pub mod opensearch;
pub mod postgres;
pub mod retry;
pub mod s3;
pub mod webhook;

use std::time::Duration;

use bytes::Bytes;
use serde::{Deserialize, Serialize};

/// What an item is, which also says what its payload holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// A Connect record exactly as received (its original bytes; JSON).
    Record,
    /// An agent state transition the engine derived (JSON).
    Transition,
    /// A contact disconnected (JSON: the contact's timeline so far).
    ContactCompleted,
    /// A contact's record arrived (JSON: the contact record and its joined timeline).
    ContactRecordReady,
    /// An alert was raised (JSON).
    AlertRaised,
    /// An alert was cleared (JSON).
    AlertCleared,
    /// A 15-minute metric interval closed (JSON: its cells).
    MetricInterval,
    /// A dead letter (JSON: the dead-letter entry; see [`dead_letter::DeadLetter`]).
    DeadLetter,
}

impl ItemKind {
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Record,
        ItemKind::Transition,
        ItemKind::ContactCompleted,
        ItemKind::ContactRecordReady,
        ItemKind::AlertRaised,
        ItemKind::AlertCleared,
        ItemKind::MetricInterval,
        ItemKind::DeadLetter,
    ];

    /// The name used in config and output (`record`, `transition`...).
    pub fn as_str(self) -> &'static str {
        match self {
            ItemKind::Record => "record",
            ItemKind::Transition => "transition",
            ItemKind::ContactCompleted => "contact_completed",
            ItemKind::ContactRecordReady => "contact_record_ready",
            ItemKind::AlertRaised => "alert_raised",
            ItemKind::AlertCleared => "alert_cleared",
            ItemKind::MetricInterval => "metric_interval",
            ItemKind::DeadLetter => "dead_letter",
        }
    }

    pub fn parse(s: &str) -> Option<ItemKind> {
        ItemKind::ALL.into_iter().find(|k| k.as_str() == s)
    }
}

impl std::fmt::Display for ItemKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One item to deliver, as the outbox holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct Item {
    /// The outbox row (unique within one store).
    pub id: i64,
    /// The rule that routed it.
    pub rule: String,
    /// The sink it goes to.
    pub sink: String,
    /// Stable across retries, restarts and workers: a hash of rule, sink and the item's
    /// identity (a record's id and version, a transition's agent and sequence...).
    pub key: String,
    pub kind: ItemKind,
    /// What to send: JSON (one object) for every kind. For [`ItemKind::Record`] these are
    /// the record's original bytes, byte for byte, plus any keys enrichment added.
    pub payload: Bytes,
    /// The time the item describes (event time), in milliseconds since the epoch: S3 keys
    /// and daily indexes go by it.
    pub event_ms: i64,
    /// When the pipeline routed it (arrival time), in milliseconds since the epoch.
    pub created_ms: i64,
    /// Deliveries tried before this one.
    pub attempts: u32,
}

impl Item {
    /// The payload parsed as JSON (sinks that transform or template it).
    pub fn json(&self) -> Result<serde_json::Value, serde_json::Error> {
        serde_json::from_slice(&self.payload)
    }
}

/// What became of one item of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The destination has it.
    Delivered,
    /// Try again later: a timeout, a 5xx, a throttle, the destination unreachable.
    /// `after` is the destination's own wish (`Retry-After`), if it said one.
    Retry {
        reason: String,
        after: Option<Duration>,
    },
    /// The destination refused it for good (a 4xx other than 408/429, a mapping error):
    /// it goes to the dead letters with the reason.
    Reject { reason: String },
}

impl Outcome {
    pub fn retry(reason: impl Into<String>) -> Self {
        Outcome::Retry {
            reason: reason.into(),
            after: None,
        }
    }

    pub fn reject(reason: impl Into<String>) -> Self {
        Outcome::Reject {
            reason: reason.into(),
        }
    }
}

/// How a sink wants its items batched: the worker claims up to `max_items` (and about
/// `max_bytes`) at once, and waits up to `max_wait` for a batch to fill before sending a
/// smaller one (Firehose-style buffering hints; zero sends at once).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BatchHints {
    pub max_items: usize,
    pub max_bytes: usize,
    pub max_wait: Duration,
}

impl Default for BatchHints {
    fn default() -> Self {
        BatchHints {
            max_items: 100,
            max_bytes: 5 * 1024 * 1024,
            max_wait: Duration::ZERO,
        }
    }
}

/// A destination.
#[async_trait::async_trait]
pub trait Sink: Send + Sync {
    /// The sink's configured name (metrics label, outbox column).
    fn name(&self) -> &str;

    /// How the worker should batch for this sink.
    fn hints(&self) -> BatchHints {
        BatchHints::default()
    }

    /// Sends `items` (all for this sink, oldest first) and returns one outcome per item,
    /// in order. Never panics on a bad payload: that is a [`Outcome::Reject`].
    async fn deliver(&self, items: &[Item]) -> Vec<Outcome>;
}

/// Every item of a batch with the same outcome (a sink whose write is all or nothing).
pub fn all(items: &[Item], outcome: Outcome) -> Vec<Outcome> {
    vec![outcome; items.len()]
}

/// Adds the rejections among a batch's `outcomes` to the sink's rejected-items metric (a
/// sink that settles its items one by one calls it once, with all of them).
pub(crate) fn count_rejected(sink: &str, outcomes: &[Outcome]) {
    let rejected = outcomes
        .iter()
        .filter(|o| matches!(o, Outcome::Reject { .. }))
        .count();
    if rejected > 0 {
        switchboard_telemetry::sink_rejected(sink, rejected as u64);
    }
}

/// Why a sink (or lookup) could not be built from its config: a secret's environment
/// variable unset, a client that failed to start. Config mistakes a value can show
/// without starting anything are found earlier, by the config's `check`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{component} {name}: {reason}")]
pub struct BuildError {
    /// `sink` or `lookup`.
    pub component: &'static str,
    pub name: String,
    pub reason: String,
}

impl BuildError {
    pub fn sink(name: &str, reason: impl Into<String>) -> Self {
        BuildError {
            component: "sink",
            name: name.to_owned(),
            reason: reason.into(),
        }
    }

    pub fn lookup(name: &str, reason: impl Into<String>) -> Self {
        BuildError {
            component: "lookup",
            name: name.to_owned(),
            reason: reason.into(),
        }
    }
}
