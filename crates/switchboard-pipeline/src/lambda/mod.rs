//! The Lambda handlers: an event in, a response out, driven through the same pipeline
//! thread as `switchboard run` ([`crate::ingest`]), so apply, commit and acknowledge
//! exist once. `switchboard lambda kinesis|sqs|eventbridge|firehose` puts a [`Handler`]
//! under the Lambda runtime; tests call it directly.
//!
//! ```text
//! cold start: config checked, store opened, engine restored, sinks and lookups built,
//!             pipeline thread started (it lives as long as the execution environment)
//! invocation: records ─▶ one Delivery each ─▶ pipeline thread: apply, route, commit
//!             (engine changes + outbox, one transaction) ─▶ acknowledgements
//!             ─▶ delivery workers send what is ready in the outbox until the deadline
//!                minus `[lambda] deliver_reserve_ms` ─▶ response
//! ```
//!
//! What "failed" means. A record that is not Connect data (not JSON, not a known record,
//! bad gzip) is **not** a failure: it is dead-lettered (through the outbox, in the same
//! commit as its neighbours), counted and logged, and the batch goes on, as everywhere
//! in switchboard. A record **fails** when its effect cannot be made durable: the commit
//! that holds it is refused (store down), the pipeline thread is gone, or no commit came
//! before the deadline. Writing a dead letter is part of that commit (it goes into the
//! outbox with the engine's changes), so a dead letter that cannot be written fails its
//! record like any other; once written, the `[dead_letter]` sink (file, S3, SQS) sending
//! it on is retried from the outbox and does not fail the batch.
//!
//! - Kinesis: records are applied in order; on failure `batchItemFailures` holds the
//!   sequence number of the first record that failed (Lambda retries from it, and the
//!   engine drops what it already applied); empty when all succeeded.
//! - SQS: `batchItemFailures` lists the message ids of the first message that failed and
//!   of every message after it (what a FIFO queue needs; harmless on a standard queue).
//! - EventBridge: one event; a failure is an error (Lambda's async retries, then the
//!   target's dead-letter queue).
//! - Firehose: a transformation ([`firehose`]), every recordId answered once.
//!
//! State lives in the store: a cold start restores the engine from it, and since any
//! warm execution environment may get any shard's batch next, every invocation is a new
//! epoch of its [`Partition`]: an agent (or a contact record's contact) is reloaded from
//! the store the first time the invocation sees it, so another environment's newer state
//! is never overwritten with a stale one. Use PostgreSQL: a SQLite file under `/tmp`
//! lives only as long as one execution environment, and a cold start forgets it.
//!
//! Routed items are delivered inside the invocation because Lambda freezes the process
//! between invocations: a background worker would stall mid-request. What cannot be sent
//! in time (or waits for a retry) stays in the durable outbox for the next invocation.

mod apply;
pub mod config;
pub mod firehose;
#[cfg(test)]
mod tests;

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{anyhow, Context};
use switchboard_io::delivery::Partition;
use switchboard_io::{Delivery, DeliverySender};
use switchboard_model::decode::{DecodeError, Decoded};
use switchboard_store::StoreUrl;

pub use apply::{KinesisOutcome, SqsOutcome};
pub use config::{FirehoseTransformConfig, LambdaConfig};
pub use firehose::Transformed;

use crate::config::Config;
use crate::deliver::{self, DeliveryStats};
use crate::ingest::{self, Ingest};
use crate::outputs::Outputs;
use crate::pipeline::Pipeline;

/// The handlers' shared state, built once per execution environment (cold start).
pub struct Handler {
    config: Config,
    /// Delivery workers and lookups run here; the pipeline thread and the store are
    /// synchronous.
    runtime: tokio::runtime::Runtime,
    /// Into the pipeline thread; `None` once shut down.
    tx: Mutex<Option<DeliverySender>>,
    ingest: Mutex<Option<std::thread::JoinHandle<anyhow::Result<ingest::Summary>>>>,
    stop: Arc<AtomicBool>,
    outputs: Outputs,
    delivery: deliver::Delivery,
    /// Invocations so far: the epoch of each invocation's partitions.
    invocations: AtomicU64,
}

/// One unit the pipeline acknowledges: a Kinesis record, an SQS message, an event.
pub(crate) struct Unit {
    pub items: Vec<Result<Decoded, DecodeError>>,
    /// The partition (shard, queue) it belongs to, for agent reloads.
    pub partition: String,
    /// (input, position) saved with the commit.
    pub position: Option<(String, String)>,
}

/// How the units of one invocation came out.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Applied {
    /// Index of the first unit whose commit failed (or that was not committed in time),
    /// with the reason.
    pub first_failed: Option<(usize, String)>,
    /// Records decoded and applied (duplicates included).
    pub records: u64,
    /// Items that did not decode: dead-lettered, not failed.
    pub bad: u64,
    /// What the delivery workers did in this invocation.
    pub delivered: DeliveryStats,
    /// Outbox items left for later invocations.
    pub undelivered: u64,
}

impl Handler {
    /// The cold start: builds sinks and lookups, opens the store, restores the engine and
    /// starts the pipeline thread. `[[sources]]` and `[server]` are not used here.
    pub fn open(config: &Config) -> anyhow::Result<Handler> {
        let url = StoreUrl::from_str(&config.store.url).context("store.url")?;
        let worker = config.worker().to_owned();
        if matches!(url, StoreUrl::Sqlite(_)) {
            tracing::warn!(store = %url, "a SQLite store lives only as long as this execution environment: a cold start forgets it; use PostgreSQL for Lambda");
        }
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("switchboard-lambda-io")
            .enable_all()
            .build()
            .context("cannot start the async runtime")?;
        let outputs = runtime.block_on(Outputs::build(config))?;
        let store = url
            .open_as(&worker)
            .with_context(|| format!("cannot open store {url}"))?;
        let pipeline =
            Pipeline::open(store, config.engine.clone())?.with_rules(outputs.rules.clone());
        let wake = Arc::new(tokio::sync::Notify::new());
        let delivery = outputs.delivery(config, &url, wake);
        let (tx, rx) = switchboard_io::delivery::channel(config.pipeline.channel_capacity);
        let settings = ingest::Settings {
            commit_interval: Duration::from_millis(config.pipeline.commit_interval_ms),
            max_batch_records: config.pipeline.max_batch_records,
            live_clock: true,
            commit_when_idle: true,
            // No backpressure: the invocation itself delivers what it routed.
            outbox_capacity: u64::MAX,
            backpressure_sinks: Vec::new(),
        };
        let stop = Arc::new(AtomicBool::new(false));
        let ingest = Ingest::new(pipeline, rx, settings, Arc::clone(&stop))?;
        let ingest = std::thread::Builder::new()
            .name("switchboard-pipeline".into())
            .spawn(move || ingest.run())
            .context("cannot start the pipeline thread")?;
        tracing::info!(store = %url, worker, sinks = outputs.sinks.len(), lookups = outputs.lookups.len(), "switchboard lambda ready");
        Ok(Handler {
            config: config.clone(),
            runtime,
            tx: Mutex::new(Some(tx)),
            ingest: Mutex::new(Some(ingest)),
            stop,
            outputs,
            delivery,
            invocations: AtomicU64::new(0),
        })
    }

    /// The `[lambda]` section.
    pub fn settings(&self) -> &LambdaConfig {
        &self.config.lambda
    }

    /// Applies `units` in order through the pipeline thread and waits for their
    /// acknowledgements until `deadline` minus the reserve; then delivers the outbox.
    pub(crate) fn apply(&self, source: &str, units: Vec<Unit>, deadline: Instant) -> Applied {
        let epoch = self.invocations.fetch_add(1, Ordering::Relaxed) + 1;
        let reserve = Duration::from_millis(self.config.lambda.deliver_reserve_ms);
        let commit_by = deadline.checked_sub(reserve).unwrap_or(deadline);
        let mut applied = Applied::default();
        let tx = self.tx.lock().unwrap_or_else(|e| e.into_inner()).clone();
        let mut waiting = Vec::with_capacity(units.len());
        for (i, unit) in units.into_iter().enumerate() {
            for item in &unit.items {
                match item {
                    Ok(_) => applied.records += 1,
                    Err(e) => {
                        applied.bad += 1;
                        if applied.bad <= 5 {
                            tracing::warn!(error = %e, "bad record: dead-lettered, the batch goes on");
                        }
                    }
                }
            }
            let (mut delivery, ack) = Delivery::acked(source, unit.items);
            delivery.position = unit.position;
            delivery.partition = Some(Partition::new(unit.partition, epoch));
            let sent = match &tx {
                Some(tx) => tx
                    .blocking_send(delivery)
                    .map_err(|_| "the pipeline thread has stopped".to_owned()),
                None => Err("the handler is shut down".to_owned()),
            };
            if let Err(reason) = sent {
                applied.first_failed = Some((i, reason));
                break;
            }
            waiting.push(ack);
        }
        // Acknowledgements come in order of the commits; the first refusal is the answer.
        let acks = self.runtime.block_on(async {
            let mut outcomes = Vec::with_capacity(waiting.len());
            for ack in waiting {
                let left = commit_by.saturating_duration_since(Instant::now());
                let outcome = match tokio::time::timeout(left, ack).await {
                    Ok(Ok(Ok(()))) => Ok(()),
                    Ok(Ok(Err(e))) => Err(e.0),
                    Ok(Err(_)) => Err("the pipeline dropped the record unacknowledged".into()),
                    Err(_) => Err("not committed before the invocation's deadline".into()),
                };
                let failed = outcome.is_err();
                outcomes.push(outcome);
                if failed {
                    break;
                }
            }
            outcomes
        });
        if let Some(i) = acks.iter().position(Result::is_err) {
            let reason = acks[i].clone().err().unwrap_or_default();
            if applied.first_failed.as_ref().is_none_or(|(j, _)| i < *j) {
                applied.first_failed = Some((i, reason));
            }
        }
        if let Some((i, reason)) = &applied.first_failed {
            tracing::error!(first_failed = i, reason = %reason, "records not committed: Lambda retries from the first");
            return applied;
        }
        let (delivered, undelivered) = self.deliver(deadline);
        applied.delivered = delivered;
        applied.undelivered = undelivered;
        applied
    }

    /// Delivers what is ready in the outbox until `deadline` minus the reserve (at most
    /// `deliver_max_ms`). Failures stay in the outbox.
    fn deliver(&self, deadline: Instant) -> (DeliveryStats, u64) {
        if self.outputs.sinks.is_empty() {
            return (DeliveryStats::default(), 0);
        }
        let l = &self.config.lambda;
        let budget = deadline
            .saturating_duration_since(Instant::now())
            .saturating_sub(Duration::from_millis(l.deliver_reserve_ms))
            .min(Duration::from_millis(l.deliver_max_ms));
        if budget.is_zero() {
            return (DeliveryStats::default(), 0);
        }
        match deliver::deliver_ready(&self.runtime, self.delivery.clone(), budget) {
            Ok(done) => done,
            Err(e) => {
                // Committed items are safe in the outbox; the next invocation tries again.
                tracing::warn!(error = %format!("{e:#}"), "cannot deliver the outbox now; the items wait there");
                (DeliveryStats::default(), 0)
            }
        }
    }

    /// Stops the pipeline thread after its last commit (tests, the end of a bench).
    pub fn shutdown(&self) -> anyhow::Result<ingest::Summary> {
        self.stop.store(true, Ordering::Release);
        drop(self.tx.lock().unwrap_or_else(|e| e.into_inner()).take());
        let thread = self.ingest.lock().unwrap_or_else(|e| e.into_inner()).take();
        match thread {
            Some(t) => t
                .join()
                .map_err(|_| anyhow!("the pipeline thread panicked"))?,
            None => Ok(ingest::Summary::default()),
        }
    }
}

impl Drop for Handler {
    fn drop(&mut self) {
        let _ = self.shutdown();
    }
}
