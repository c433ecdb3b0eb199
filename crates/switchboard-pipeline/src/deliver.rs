//! Delivery workers: one task per sink, taking batches out of the durable outbox and
//! settling each item.
//!
//! ```text
//! outbox (store) ──claim──▶ enrich (rule's lookups) ──▶ Sink::deliver ──▶ settle:
//!    delivered / dropped ─▶ removed        retry ─▶ not before now + backoff (or Retry-After)
//!    rejected / lookup failed for good / attempts used up ─▶ dead letter (same outbox)
//! ```
//!
//! A worker claims with a lease (`lease_secs`): while it holds items, no other worker
//! sharing the store takes them; if it dies, the lease runs out and another does. Each
//! item keeps its idempotency key across retries and workers, so a receiver can drop a
//! repeat. A sink that buffers (S3) asks for it through its batch hints: the worker waits
//! until `max_items`, `max_bytes` or the oldest item's `max_wait`, like Firehose.
//!
//! The store is synchronous: every call runs on the blocking pool, on a connection of the
//! worker's own.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_io::lookups::Lookup;
use switchboard_io::problems::{join, Problems};
use switchboard_io::sinks::dead_letter::{DeadLetter, Stage};
use switchboard_io::sinks::retry::Backoff;
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};
use switchboard_store::{OutboxEntry, OutboxRow, Store};
use tokio::sync::{watch, Notify};

use crate::enrich::{
    attributes_need, contact_attributes, enrich, AttributesNeed, Enriched,
    CONTACT_ATTRIBUTES_LOOKUP,
};
use crate::rules::{idempotency_key, Rules};

/// The sink name dead letters are routed to.
pub use switchboard_store::DEAD_LETTER_SINK;

/// `[outbox]`: how routed items wait and are delivered.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutboxConfig {
    /// Items the outbox may hold before the pipeline stops reading its sources
    /// (backpressure: sources are slowed, nothing is dropped). 100 to 100000000.
    #[serde(default = "default_capacity")]
    pub capacity: u64,
    /// How long a worker holds the items it claimed before another worker may take them
    /// (it renews nothing: keep it above a sink's timeout). 5 to 3600.
    #[serde(default = "default_lease_secs")]
    pub lease_secs: u64,
    /// First retry delay, in milliseconds; doubles each attempt, with full jitter.
    #[serde(default = "default_retry_initial_ms")]
    pub retry_initial_ms: u64,
    /// Longest retry delay, in milliseconds.
    #[serde(default = "default_retry_max_ms")]
    pub retry_max_ms: u64,
    /// Attempts before an item that keeps failing goes to the dead letters (the
    /// dead-letter sink itself retries for ever). 1 to 1000.
    #[serde(default = "default_max_attempts")]
    pub max_attempts: u32,
    /// How often an idle worker looks for new items, in milliseconds (a commit also
    /// wakes the workers of the same process at once).
    #[serde(default = "default_poll_ms")]
    pub poll_ms: u64,
}

fn default_capacity() -> u64 {
    1_000_000
}
fn default_lease_secs() -> u64 {
    60
}
fn default_retry_initial_ms() -> u64 {
    1_000
}
fn default_retry_max_ms() -> u64 {
    300_000
}
fn default_max_attempts() -> u32 {
    20
}
fn default_poll_ms() -> u64 {
    1_000
}

impl Default for OutboxConfig {
    fn default() -> Self {
        OutboxConfig {
            capacity: default_capacity(),
            lease_secs: default_lease_secs(),
            retry_initial_ms: default_retry_initial_ms(),
            retry_max_ms: default_retry_max_ms(),
            max_attempts: default_max_attempts(),
            poll_ms: default_poll_ms(),
        }
    }
}

impl OutboxConfig {
    pub fn check(&self, key: &str, problems: &mut Problems) {
        let mut range = |name: &str, v: u64, lo: u64, hi: u64| {
            if !(lo..=hi).contains(&v) {
                problems.push(join(key, name), format!("must be {lo} to {hi}"));
            }
        };
        range("capacity", self.capacity, 100, 100_000_000);
        range("lease_secs", self.lease_secs, 5, 3600);
        range("retry_initial_ms", self.retry_initial_ms, 1, 3_600_000);
        range("retry_max_ms", self.retry_max_ms, 1, 86_400_000);
        range("max_attempts", u64::from(self.max_attempts), 1, 1000);
        range("poll_ms", self.poll_ms, 10, 60_000);
        if self.retry_max_ms < self.retry_initial_ms {
            problems.push(
                join(key, "retry_max_ms"),
                "must not be below retry_initial_ms",
            );
        }
    }

    fn backoff(&self) -> Backoff {
        Backoff {
            initial: Duration::from_millis(self.retry_initial_ms),
            max: Duration::from_millis(self.retry_max_ms),
            multiplier: 2.0,
        }
    }
}

/// Opens a store connection for a worker (each worker has its own).
pub type StoreOpener = Arc<dyn Fn() -> anyhow::Result<Box<dyn Store>> + Send + Sync>;

/// Everything the workers share.
#[derive(Clone)]
pub struct Delivery {
    pub rules: Arc<Rules>,
    pub sinks: Vec<Arc<dyn Sink>>,
    pub lookups: Arc<HashMap<String, Arc<dyn Lookup>>>,
    pub config: OutboxConfig,
    /// This worker's name in claims.
    pub worker: String,
    pub open_store: StoreOpener,
    /// Notified after each commit that routed something.
    pub wake: Arc<Notify>,
    /// Set to send what buffering sinks (S3) hold back at once, without waiting for a
    /// full batch or its interval (the end of a replay).
    pub flush: Arc<AtomicBool>,
}

/// What the workers did (for tests and the benches).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DeliveryStats {
    pub delivered: u64,
    pub retried: u64,
    pub dead_lettered: u64,
    pub dropped: u64,
}

/// Spawns one worker per sink on the current runtime; they stop when `shutdown` turns
/// true (an item being sent is finished first; claimed items not sent are released).
pub fn spawn(
    delivery: Delivery,
    shutdown: watch::Receiver<bool>,
) -> (tokio::task::JoinSet<()>, Arc<Mutex<DeliveryStats>>) {
    let stats = Arc::new(Mutex::new(DeliveryStats::default()));
    let mut set = tokio::task::JoinSet::new();
    for sink in &delivery.sinks {
        let worker = Worker {
            d: delivery.clone(),
            sink: Arc::clone(sink),
            store: None,
            stats: Arc::clone(&stats),
        };
        let shutdown = shutdown.clone();
        set.spawn(worker.run(shutdown));
    }
    (set, stats)
}

struct Worker {
    d: Delivery,
    sink: Arc<dyn Sink>,
    /// The worker's connection, behind a mutex so blocking calls can take it.
    store: Option<Arc<Mutex<Box<dyn Store>>>>,
    stats: Arc<Mutex<DeliveryStats>>,
}

impl Worker {
    async fn run(mut self, mut shutdown: watch::Receiver<bool>) {
        let poll = Duration::from_millis(self.d.config.poll_ms);
        let name = self.sink.name().to_owned();
        let mut failures: u32 = 0;
        while !*shutdown.borrow() {
            let pause = match self.round().await {
                Ok(true) => {
                    failures = 0;
                    continue;
                }
                Ok(false) => poll,
                Err(e) => {
                    // The store is unreachable: the items wait there; try again later.
                    failures = failures.saturating_add(1);
                    tracing::warn!(sink = %name, error = %format!("{e:#}"), "delivery worker cannot reach the store");
                    self.store = None;
                    self.d.config.backoff().delay(failures).max(poll)
                }
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.d.wake.notified() => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    async fn store(&mut self) -> anyhow::Result<Arc<Mutex<Box<dyn Store>>>> {
        if let Some(s) = &self.store {
            return Ok(Arc::clone(s));
        }
        let open = Arc::clone(&self.d.open_store);
        let store = tokio::task::spawn_blocking(move || open()).await??;
        let store = Arc::new(Mutex::new(store));
        self.store = Some(Arc::clone(&store));
        Ok(store)
    }

    /// The contact-attributes step of a rule (`contact_attributes = true`): attributes of
    /// contact records already stored answer first, the Connect API the rest.
    async fn contact_attributes(
        &self,
        store: &Arc<Mutex<Box<dyn Store>>>,
        batch: &[Item],
    ) -> Vec<Enriched> {
        let Some(lookup) = self.d.lookups.get(CONTACT_ATTRIBUTES_LOOKUP) else {
            // The config check requires [connect] for such a rule; a build without the
            // `connect` feature refuses [connect].
            let reason =
                "contact_attributes needs [connect] and a build with the `connect` feature";
            return batch
                .iter()
                .map(|_| Enriched::DeadLetter(reason.into()))
                .collect();
        };
        let ids: Vec<String> = batch
            .iter()
            .filter_map(|i| match attributes_need(&i.payload) {
                AttributesNeed::Contact { id, .. } => Some(id),
                AttributesNeed::Skip => None,
            })
            .collect();
        let stored = if ids.is_empty() {
            HashMap::new()
        } else {
            let read = blocking(store, move |s| {
                let mut found = HashMap::new();
                for id in ids {
                    let record = s.contact(&id)?.and_then(|d| d.record);
                    if let Some(attributes) = record.and_then(|r| r.attributes) {
                        found.insert(id, serde_json::json!(attributes));
                    }
                }
                Ok(found)
            })
            .await;
            read.unwrap_or_else(|e| {
                tracing::debug!(error = %format!("{e:#}"), "stored contact records not read; asking Connect");
                HashMap::new()
            })
        };
        contact_attributes(lookup.as_ref(), &stored, batch).await
    }

    /// One batch. `Ok(true)` if it did something (look again at once).
    async fn round(&mut self) -> anyhow::Result<bool> {
        let store = self.store().await?;
        let name = self.sink.name().to_owned();
        let hints = self.sink.hints();
        let now = now_ms();

        if !hints.max_wait.is_zero() && !self.d.flush.load(Ordering::Acquire) {
            // Firehose-style buffering: send when the batch is full or the oldest item
            // has waited long enough.
            let depth = blocking(&store, move |s| s.outbox_depth(now)).await?;
            let Some(d) = depth.into_iter().find(|d| d.sink == name) else {
                return Ok(false);
            };
            let oldest_age = d.oldest_created_ms.map_or(0, |o| now - o);
            let full = d.ready as usize >= hints.max_items || d.bytes as usize >= hints.max_bytes;
            if d.ready == 0 || (!full && oldest_age < hints.max_wait.as_millis() as i64) {
                return Ok(false);
            }
        }

        let (sink_name, worker) = (name.clone(), self.d.worker.clone());
        let lease = (self.d.config.lease_secs * 1000) as i64;
        let rows = blocking(&store, move |s| {
            s.outbox_claim(
                &sink_name,
                &worker,
                hints.max_items.max(1),
                hints.max_bytes.max(1),
                now,
                lease,
            )
        })
        .await?;
        if rows.is_empty() {
            return Ok(false);
        }
        let items: Vec<Item> = rows.iter().map(to_item).collect();

        // Enrichment per rule, then one delivery for everything still going.
        let mut states: Vec<Enriched> = Vec::with_capacity(items.len());
        let mut by_rule: HashMap<&str, Vec<usize>> = HashMap::new();
        for (i, item) in items.iter().enumerate() {
            by_rule.entry(item.rule.as_str()).or_default().push(i);
            states.push(Enriched::Ready(item.payload.clone()));
        }
        for (rule, idx) in by_rule {
            let (steps, attributes) = match self.d.rules.get(rule) {
                Some(r) if !r.enrich.is_empty() || r.contact_attributes => {
                    (r.enrich.clone(), r.contact_attributes)
                }
                _ => continue,
            };
            let mut batch: Vec<Item> = idx.iter().map(|&i| items[i].clone()).collect();
            let mut results: Vec<Enriched> = batch
                .iter()
                .map(|i| Enriched::Ready(i.payload.clone()))
                .collect();
            if attributes {
                results = self.contact_attributes(&store, &batch).await;
                for (item, r) in batch.iter_mut().zip(&results) {
                    if let Enriched::Ready(p) = r {
                        item.payload = p.clone();
                    }
                }
            }
            if !steps.is_empty() {
                // The steps run on what is still going, after the attributes.
                let going: Vec<usize> = (0..batch.len())
                    .filter(|&k| matches!(results[k], Enriched::Ready(_)))
                    .collect();
                let sub: Vec<Item> = going.iter().map(|&k| batch[k].clone()).collect();
                let more = enrich(&steps, &self.d.lookups, &sub).await;
                for (k, r) in going.into_iter().zip(more) {
                    results[k] = r;
                }
            }
            for (i, r) in idx.into_iter().zip(results) {
                states[i] = r;
            }
        }
        let ready: Vec<usize> = (0..items.len())
            .filter(|&i| matches!(states[i], Enriched::Ready(_)))
            .collect();
        let send: Vec<Item> = ready
            .iter()
            .map(|&i| {
                let mut item = items[i].clone();
                if let Enriched::Ready(p) = &states[i] {
                    item.payload = p.clone();
                }
                item
            })
            .collect();
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
        if !send.is_empty() {
            let results = self.sink.deliver(&send).await;
            for (k, &i) in ready.iter().enumerate() {
                outcomes[i] =
                    Some(results.get(k).cloned().unwrap_or_else(|| {
                        Outcome::retry("the sink gave no outcome for this item")
                    }));
            }
        }

        // Settle.
        let mut done = Vec::new();
        let mut retries = Vec::new();
        let mut dead_ids = Vec::new();
        let mut dead = Vec::new();
        let mut stats = DeliveryStats::default();
        let mut newest_event = None::<i64>;
        let is_dead_letter_sink = self.sink.name() == DEAD_LETTER_SINK;
        for (i, item) in items.iter().enumerate() {
            let verdict = match (&states[i], &outcomes[i]) {
                (Enriched::Drop, _) => {
                    switchboard_telemetry::enrich_dropped(&item.rule);
                    stats.dropped += 1;
                    done.push(item.id);
                    continue;
                }
                (Enriched::DeadLetter(reason), _) => Err((Stage::Enrich, reason.clone())),
                (Enriched::Retry(reason), _) => Ok(Some((reason.clone(), None))),
                (Enriched::Ready(_), Some(Outcome::Delivered)) => Ok(None),
                (Enriched::Ready(_), Some(Outcome::Retry { reason, after })) => {
                    Ok(Some((reason.clone(), *after)))
                }
                (Enriched::Ready(_), Some(Outcome::Reject { reason })) => {
                    Err((Stage::Sink, reason.clone()))
                }
                (Enriched::Ready(_), None) => Ok(Some(("not sent".to_owned(), None))),
            };
            match verdict {
                Ok(None) => {
                    stats.delivered += 1;
                    newest_event =
                        Some(newest_event.map_or(item.event_ms, |n| n.max(item.event_ms)));
                    done.push(item.id);
                }
                Ok(Some((reason, after))) => {
                    let attempts = item.attempts + 1;
                    if attempts >= self.d.config.max_attempts && !is_dead_letter_sink {
                        let stage = if matches!(states[i], Enriched::Retry(_)) {
                            Stage::Enrich
                        } else {
                            Stage::Sink
                        };
                        let reason = format!("gave up after {attempts} attempts: {reason}");
                        dead_ids.push(item.id);
                        dead.push(dead_letter(item, stage, &reason, now));
                        stats.dead_lettered += 1;
                    } else {
                        let backoff = self.d.config.backoff().delay(attempts);
                        let wait = after.unwrap_or(backoff);
                        switchboard_telemetry::sink_retry(self.sink.name());
                        retries.push((item.id, now + wait.as_millis() as i64, reason));
                        stats.retried += 1;
                    }
                }
                Err((stage, reason)) => {
                    if is_dead_letter_sink {
                        // The dead letters' own writer never gives anything up.
                        let wait = self.d.config.backoff().delay(item.attempts + 1);
                        retries.push((item.id, now + wait.as_millis() as i64, reason));
                        stats.retried += 1;
                        continue;
                    }
                    tracing::warn!(sink = %self.sink.name(), rule = %item.rule, key = %item.key, reason = %reason, "dead-lettered");
                    switchboard_telemetry::delivery::dead_letters(stage_label(stage), 1);
                    dead_ids.push(item.id);
                    dead.push(dead_letter(item, stage, &reason, now));
                    stats.dead_lettered += 1;
                }
            }
        }
        let lag = newest_event.map(|e| (now_ms() - e) as f64 / 1000.0);
        switchboard_telemetry::delivery::delivered(self.sink.name(), stats.delivered, lag);
        blocking(&store, move |s| {
            if !done.is_empty() {
                s.outbox_delivered(&done)?;
            }
            if !retries.is_empty() {
                s.outbox_retry(&retries)?;
            }
            if !dead_ids.is_empty() {
                s.outbox_dead(&dead_ids, &dead)?;
            }
            Ok(())
        })
        .await?;
        if let Ok(mut total) = self.stats.lock() {
            total.delivered += stats.delivered;
            total.retried += stats.retried;
            total.dead_lettered += stats.dead_lettered;
            total.dropped += stats.dropped;
        }
        Ok(true)
    }
}

fn stage_label(stage: Stage) -> &'static str {
    use switchboard_telemetry::delivery::stage;
    match stage {
        Stage::Decode => stage::DECODE,
        Stage::Validate => stage::VALIDATE,
        Stage::Enrich => stage::ENRICH,
        Stage::Sink => stage::SINK,
    }
}

/// The dead-letter outbox entry for an item that failed at `stage`.
pub fn dead_letter(item: &Item, stage: Stage, reason: &str, now: i64) -> OutboxEntry {
    let letter = DeadLetter::from_item(item, stage, reason, now);
    dead_letter_entry(&letter, now)
}

/// The outbox entry that carries `letter` to the dead-letter sink.
pub fn dead_letter_entry(letter: &DeadLetter, now: i64) -> OutboxEntry {
    // A record that did not decode has no item key: where it was found (shard and
    // sequence number, file and line) tells two of them apart within one millisecond.
    let identity = format!(
        "{}:{}:{}:{}:{}",
        letter.key.as_deref().unwrap_or(""),
        letter.sink.as_deref().unwrap_or(""),
        letter.at_ms,
        letter.reason,
        letter
            .source
            .as_ref()
            .map(|s| s.to_string())
            .unwrap_or_default()
    );
    OutboxEntry {
        rule: letter.rule.clone().unwrap_or_default(),
        sink: DEAD_LETTER_SINK.to_owned(),
        key: idempotency_key("dead_letter", DEAD_LETTER_SINK, &identity),
        kind: ItemKind::DeadLetter.as_str().to_owned(),
        payload: letter.to_json(),
        event_ms: letter.event_ms.unwrap_or(now),
        created_ms: now,
    }
}

fn to_item(row: &OutboxRow) -> Item {
    Item {
        id: row.id,
        rule: row.entry.rule.clone(),
        sink: row.entry.sink.clone(),
        key: row.entry.key.clone(),
        kind: ItemKind::parse(&row.entry.kind).unwrap_or(ItemKind::Record),
        payload: bytes::Bytes::from(row.entry.payload.clone()),
        event_ms: row.entry.event_ms,
        created_ms: row.entry.created_ms,
        attempts: row.attempts,
    }
}

async fn blocking<T: Send + 'static>(
    store: &Arc<Mutex<Box<dyn Store>>>,
    f: impl FnOnce(&mut dyn Store) -> Result<T, switchboard_store::StoreError> + Send + 'static,
) -> anyhow::Result<T> {
    let store = Arc::clone(store);
    let result = tokio::task::spawn_blocking(move || {
        let mut guard = store.lock().unwrap_or_else(|e| e.into_inner());
        f(guard.as_mut())
    })
    .await?;
    Ok(result?)
}

pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Every few seconds, publishes the outbox depth and oldest age of each sink (and of the
/// dead letters) as metrics, until `shutdown`.
pub async fn monitor(
    open_store: StoreOpener,
    sinks: Vec<String>,
    mut shutdown: watch::Receiver<bool>,
) {
    let mut store: Option<Arc<Mutex<Box<dyn Store>>>> = None;
    while !*shutdown.borrow() {
        if store.is_none() {
            let open = Arc::clone(&open_store);
            store = match tokio::task::spawn_blocking(move || open()).await {
                Ok(Ok(s)) => Some(Arc::new(Mutex::new(s))),
                _ => None,
            };
        }
        if let Some(s) = &store {
            let now = now_ms();
            match blocking(s, move |s| s.outbox_depth(now)).await {
                Ok(depth) => {
                    let mut names = sinks.clone();
                    names.push(DEAD_LETTER_SINK.to_owned());
                    for name in names {
                        let d = depth.iter().find(|d| d.sink == name);
                        let items = d.map_or(0, |d| d.items);
                        let oldest = d
                            .and_then(|d| d.oldest_created_ms)
                            .map_or(0.0, |o| (now - o).max(0) as f64 / 1000.0);
                        switchboard_telemetry::delivery::outbox(&name, items, oldest);
                    }
                }
                Err(e) => {
                    tracing::debug!(error = %format!("{e:#}"), "cannot read the outbox depth");
                    store = None;
                }
            }
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(5)) => {}
            _ = shutdown.changed() => {}
        }
    }
}

/// Runs the workers of `delivery` on `runtime` until the outbox holds nothing for their
/// sinks or `drain` has passed, then stops them. Returns what they did and how many items
/// are still waiting (they stay in the outbox for `switchboard run`).
pub fn run_until_drained(
    runtime: &tokio::runtime::Runtime,
    delivery: Delivery,
    drain: Duration,
) -> anyhow::Result<(DeliveryStats, u64)> {
    run_workers(runtime, delivery, drain, Until::Empty)
}

/// Runs the workers of `delivery` on `runtime` until no item of their sinks is ready to
/// be claimed (items waiting for a retry's backoff do not count) or `budget` has passed,
/// then stops them; a batch being sent is finished first. Returns what they did and how
/// many items are still in the outbox. For a process that may be frozen once it answers
/// (a Lambda invocation): what is left waits in the outbox for the next one.
pub fn deliver_ready(
    runtime: &tokio::runtime::Runtime,
    delivery: Delivery,
    budget: Duration,
) -> anyhow::Result<(DeliveryStats, u64)> {
    run_workers(runtime, delivery, budget, Until::NothingReady)
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Until {
    Empty,
    NothingReady,
}

fn run_workers(
    runtime: &tokio::runtime::Runtime,
    delivery: Delivery,
    drain: Duration,
    until: Until,
) -> anyhow::Result<(DeliveryStats, u64)> {
    let names: Vec<String> = delivery.sinks.iter().map(|s| s.name().to_owned()).collect();
    if names.is_empty() {
        return Ok((DeliveryStats::default(), 0));
    }
    let open = Arc::clone(&delivery.open_store);
    delivery.flush.store(true, Ordering::Release);
    delivery.wake.notify_waiters();
    let (stop, stop_rx) = watch::channel(false);
    let (mut workers, stats) = {
        let _entered = runtime.enter();
        spawn(delivery, stop_rx)
    };
    let store = open()?;
    let deadline = std::time::Instant::now() + drain;
    let (poll, count): (u64, fn(&switchboard_store::OutboxDepth) -> u64) = match until {
        Until::Empty => (50, |d| d.items),
        Until::NothingReady => (5, |d| d.ready),
    };
    let waiting = |store: &dyn Store| -> anyhow::Result<(u64, u64)> {
        let depth = store.outbox_depth(now_ms())?;
        let mine = depth.iter().filter(|d| names.contains(&d.sink));
        Ok(mine.fold((0, 0), |(n, all), d| (n + count(d), all + d.items)))
    };
    loop {
        let (left, _) = waiting(store.as_ref())?;
        if left == 0 || std::time::Instant::now() >= deadline {
            break;
        }
        std::thread::sleep(Duration::from_millis(poll));
    }
    let _ = stop.send(true);
    runtime.block_on(async { while workers.join_next().await.is_some() {} });
    let (_, undelivered) = waiting(store.as_ref())?;
    let stats = *stats.lock().unwrap_or_else(|e| e.into_inner());
    Ok((stats, undelivered))
}
