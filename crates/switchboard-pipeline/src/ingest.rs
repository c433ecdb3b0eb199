//! The pipeline thread of `switchboard run`: deliveries in, engine, store, acknowledgements
//! out.
//!
//! Sources send [`Delivery`]s into one bounded channel. This thread takes them one by one
//! and applies their records (the engine, the publish hooks: the dashboard's feed, the
//! routing rules), routes the items that did not decode to the dead letters (through the
//! outbox, in the same commit), and notes their positions and acknowledgements. It commits when the channel runs dry, when `max_batch_records` are
//! pending, or `commit_interval` after the last commit; after the commit it fires the
//! acknowledgements of every delivery the commit included, so a source checkpoints (a
//! Kinesis lease moves, Firehose gets its 200, an SQS message is deleted) only what is
//! durable. If the commit fails they are failed with the reason, the changes stay pending
//! for the next commit, and the sources deliver again (the engine drops what it already
//! applied).
//!
//! Deliveries of a partition shared by workers (a Kinesis shard under a lease) carry a
//! [`Partition`]: the first time an agent appears in a partition's new epoch (the shard
//! just moved here), its state is reloaded from the store, where the previous owner left
//! it (for a contact record, what the store knows of that contact's record, so a replayed
//! record is not counted twice); deliveries of a partition already lost are dropped, their
//! acknowledgement failed.
//!
//! Backpressure: when the outbox holds more than its capacity (sinks down or slow), the
//! thread stops taking deliveries until the delivery workers bring it back under; the
//! bounded channel then fills and the sources wait. Nothing is dropped.
//!
//! The thread is a plain one, not an async task: the stores are synchronous (the
//! PostgreSQL client runs its own runtime). It waits on the channel through a small
//! runtime of its own, entered only for that wait.

use std::collections::{BTreeMap, HashSet};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::Context;
use switchboard_engine::check::{check, Invalid};
use switchboard_io::delivery::Partition;
use switchboard_io::{Ack, AckError, Delivery, DeliveryReceiver};
use switchboard_model::decode::{DecodeError, Decoded};
use switchboard_model::{RecordKind, RecordView, Timestamp};
use switchboard_telemetry as telemetry;
use tokio::sync::mpsc::error::TryRecvError;

use crate::pipeline::Pipeline;

/// How often the stop flag is looked at while nothing arrives.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// How often the outbox's depth is read for backpressure.
const OUTBOX_CHECK_EVERY: Duration = Duration::from_millis(250);
/// Bad records logged one by one; the rest are only counted.
const LOGGED_BAD: u64 = 20;

/// How the thread batches.
#[derive(Debug, Clone)]
pub struct Settings {
    pub commit_interval: Duration,
    pub max_batch_records: usize,
    /// Advance the engine's clocks with the wall clock (alerts fire on time while live).
    /// Off when only files are read: their alerts follow event time, as in `replay`.
    pub live_clock: bool,
    /// Commit as soon as the channel runs dry (live sources: acknowledge quickly). Off
    /// for bulk reading (`replay`): commit every `max_batch_records` only.
    pub commit_when_idle: bool,
    /// Stop taking deliveries while the outbox holds more than this many items (only
    /// items of sinks that have a worker count: `backpressure_sinks`).
    pub outbox_capacity: u64,
    /// The sinks whose outbox items count towards `outbox_capacity` (those delivered by
    /// a worker of some process). Empty: no backpressure.
    pub backpressure_sinks: Vec<String>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            commit_interval: Duration::from_secs(1),
            max_batch_records: 5000,
            live_clock: false,
            commit_when_idle: true,
            outbox_capacity: u64::MAX,
            backpressure_sinks: Vec::new(),
        }
    }
}

/// What the thread did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Summary {
    pub deliveries: u64,
    pub records: u64,
    /// Records by Connect stream.
    pub by_kind: BTreeMap<RecordKind, u64>,
    pub duplicates: u64,
    /// Agent events older than one already applied for the agent.
    pub stale: u64,
    /// Records that did not decode, or failed a plausibility check (dead-lettered).
    pub bad: u64,
    /// Of `bad`, those that decoded but failed a plausibility check
    /// (`switchboard_engine::check`).
    pub invalid: u64,
    pub commits: u64,
    pub failed_commits: u64,
    /// Deliveries dropped because their partition had moved to another worker.
    pub revoked: u64,
    /// Time spent in store commits.
    pub commit_time: Duration,
    /// Times the outbox bound paused the sources.
    pub backpressure: u64,
}

/// The pipeline thread's state.
/// How many refreshed subjects [`Ingest`] remembers before it forgets the contacts.
const MAX_REFRESHED: usize = 100_000;

pub struct Ingest {
    pipeline: Pipeline,
    rx: DeliveryReceiver,
    settings: Settings,
    /// Set by `run` once the sources are done: drain what is left, commit, return.
    stop: Arc<AtomicBool>,
    /// Acknowledgements owed after the next commit.
    acks: Vec<Ack>,
    /// Records applied since the last commit.
    pending: usize,
    /// Since when records are pending.
    pending_since: Option<Instant>,
    /// (partition, epoch, agent) already reloaded from the store.
    refreshed: HashSet<(String, u64, String)>,
    last_tick: Instant,
    summary: Summary,
    /// Called after each successful commit with the totals so far (benches, progress).
    on_commit: Option<CommitHook>,
    /// The outbox's fullness as last read, and when (reading it costs a query).
    outbox_checked: Option<(Instant, bool)>,
    /// Kinds of input seen so far (their series are created at zero on first sight).
    inputs_seen: Vec<&'static str>,
}

/// Called after each successful commit with the totals so far.
pub type CommitHook = Box<dyn FnMut(&Summary) + Send>;

impl Ingest {
    pub fn new(
        pipeline: Pipeline,
        rx: DeliveryReceiver,
        settings: Settings,
        stop: Arc<AtomicBool>,
    ) -> anyhow::Result<Self> {
        Ok(Ingest {
            pipeline,
            rx,
            settings,
            stop,
            acks: Vec::new(),
            pending: 0,
            pending_since: None,
            refreshed: HashSet::new(),
            last_tick: Instant::now(),
            summary: Summary::default(),
            on_commit: None,
            outbox_checked: None,
            inputs_seen: Vec::new(),
        })
    }

    /// Runs until the channel closes (every source gone) or the stop flag is set; makes
    /// the last commit and fires the last acknowledgements before returning.
    pub fn run(mut self) -> anyhow::Result<Summary> {
        let waiter = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .context("cannot start the pipeline's timer")?;
        loop {
            let wait = match self.pending_since {
                Some(since) => self
                    .settings
                    .commit_interval
                    .saturating_sub(since.elapsed())
                    .min(IDLE_WAIT),
                None => IDLE_WAIT,
            };
            if self.outbox_full() {
                // Sinks are behind: take nothing new until the workers catch up.
                self.summary.backpressure += 1;
                switchboard_telemetry::delivery::backpressure();
                while self.outbox_full() && !self.stop.load(Ordering::Acquire) {
                    std::thread::sleep(IDLE_WAIT);
                    self.tick();
                    self.commit();
                }
            }
            let next = waiter.block_on(async { tokio::time::timeout(wait, self.rx.recv()).await });
            match next {
                Ok(Some(delivery)) => {
                    self.take(delivery);
                    // Whatever else is already waiting goes into the same commit.
                    let closed = self.drain();
                    self.tick();
                    if self.settings.commit_when_idle
                        || closed
                        || self.pending >= self.settings.max_batch_records
                    {
                        self.commit();
                    }
                    if closed {
                        break;
                    }
                }
                Ok(None) => break,
                Err(_elapsed) => {
                    self.tick();
                    let due = self
                        .pending_since
                        .is_some_and(|s| s.elapsed() >= self.settings.commit_interval);
                    if due {
                        self.commit();
                    }
                    if self.stop.load(Ordering::Acquire) {
                        self.drain();
                        break;
                    }
                }
            }
        }
        self.commit();
        // A delivery that arrives now finds the receiver gone: its source sees the send
        // fail and does not count it delivered.
        self.rx.close();
        while let Ok(d) = self.rx.try_recv() {
            if let Some(ack) = d.ack {
                ack.send(Err(AckError("the pipeline stopped".into())));
            }
        }
        let stats = self.pipeline.stats();
        self.summary.duplicates = stats.duplicates;
        self.summary.stale = stats.stale;
        tracing::info!(
            deliveries = self.summary.deliveries,
            records = self.summary.records,
            bad = self.summary.bad,
            commits = self.summary.commits,
            "pipeline stopped"
        );
        Ok(self.summary)
    }

    /// Calls `hook` after each successful commit with the totals so far.
    pub fn on_commit(&mut self, hook: CommitHook) {
        self.on_commit = Some(hook);
    }

    /// The pipeline, once the thread is done with it (tests, benches).
    pub fn pipeline(&self) -> &Pipeline {
        &self.pipeline
    }

    /// Whether the outbox is over its capacity, read from the store at most every
    /// [`OUTBOX_CHECK_EVERY`] (a count over a large outbox costs milliseconds).
    fn outbox_full(&mut self) -> bool {
        if self.settings.backpressure_sinks.is_empty() || self.settings.outbox_capacity == u64::MAX
        {
            return false;
        }
        if let Some((at, full)) = self.outbox_checked {
            if at.elapsed() < OUTBOX_CHECK_EVERY {
                return full;
            }
        }
        let full = match self.pipeline.store().outbox_depth(now_ms()) {
            Ok(depth) => {
                let waiting: u64 = depth
                    .iter()
                    .filter(|d| self.settings.backpressure_sinks.contains(&d.sink))
                    .map(|d| d.items)
                    .sum();
                waiting > self.settings.outbox_capacity
            }
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the outbox depth");
                false
            }
        };
        self.outbox_checked = Some((Instant::now(), full));
        full
    }

    /// Takes deliveries already waiting, up to a full batch. True if the channel closed.
    fn drain(&mut self) -> bool {
        while self.pending < self.settings.max_batch_records {
            match self.rx.try_recv() {
                Ok(d) => self.take(d),
                Err(TryRecvError::Empty) => return false,
                Err(TryRecvError::Disconnected) => return true,
            }
        }
        false
    }

    /// Applies one delivery.
    fn take(&mut self, delivery: Delivery) {
        self.summary.deliveries += 1;
        let Delivery {
            source,
            items,
            position,
            ack,
            partition,
            clock,
        } = delivery;
        if let Some(p) = &partition {
            if p.is_revoked() {
                self.summary.revoked += 1;
                if let Some(ack) = ack {
                    ack.send(Err(AckError(format!(
                        "{} moved to another worker before this delivery was applied",
                        p.key
                    ))));
                }
                return;
            }
        }
        let input = telemetry::input::of(&source);
        if !self.inputs_seen.contains(&input) {
            self.inputs_seen.push(input);
            telemetry::input::register_input(input);
        }
        telemetry::input::records(input, items.len() as u64);
        // When the records arrived: the simulated clock of a demo, the wall clock else.
        let arrival = clock.unwrap_or_else(|| Timestamp::from_millis(now_ms()));
        let mut newest: [Option<Timestamp>; 3] = [None; 3];
        for item in items {
            match item {
                Ok(decoded) => {
                    // Parsed once, here; the engine reads it borrowed from the bytes.
                    let view = match decoded.view() {
                        Ok(view) => view,
                        Err(e) => {
                            let error = DecodeError {
                                source: decoded.source.clone(),
                                reason: e.to_string(),
                                raw: decoded.raw.to_vec(),
                            };
                            self.bad(&source, input, &error);
                            continue;
                        }
                    };
                    // Checked before it touches any state: a poison record goes to the
                    // dead letters, and the rest of the delivery flows on.
                    if let Err(invalid) = check(&view, Some(arrival)) {
                        self.refuse(&source, input, &decoded, &invalid);
                        continue;
                    }
                    if let Some(p) = &partition {
                        if let Err(e) = self.refresh(p, &view) {
                            // The store is unreachable: apply on what the engine knows;
                            // the commit will most likely fail too and the delivery come
                            // again.
                            tracing::warn!(error = %format!("{e:#}"), "cannot refresh an agent");
                        }
                    }
                    let at = event_time(&view);
                    let slot = &mut newest[stream_index(decoded.kind)];
                    if at.is_some() && *slot < at {
                        *slot = at;
                    }
                    self.pipeline.apply_view(&view, &decoded);
                    self.summary.records += 1;
                    *self.summary.by_kind.entry(decoded.kind).or_default() += 1;
                    self.pending += 1;
                }
                Err(e) => self.bad(&source, input, &e),
            }
        }
        for (kind, at) in STREAMS.iter().zip(newest) {
            if let Some(at) = at {
                let lag = arrival.millis().saturating_sub(at.millis()) as f64 / 1000.0;
                telemetry::lag(telemetry::source::of(*kind), lag);
            }
        }
        if let Some(at) = clock {
            self.pipeline.tick(at);
        }
        if let Some((input, at)) = position {
            self.pipeline.set_position(input, at);
        }
        if let Some(ack) = ack {
            self.acks.push(ack);
        }
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// Reloads the agent of `record` (or what the store knows of a contact record's
    /// contact) from the store the first time it shows in this epoch of partition `p`.
    fn refresh(&mut self, p: &Partition, record: &RecordView<'_>) -> anyhow::Result<()> {
        let subject = match record {
            RecordView::AgentEvent(event) => event.agent_arn.to_string(),
            RecordView::ContactRecord(r) => format!("contact {}", r.contact_id),
            RecordView::ContactEvent(_) => return Ok(()),
        };
        let key = (p.key.clone(), p.epoch, subject);
        if self.refreshed.contains(&key) {
            return Ok(());
        }
        match record {
            RecordView::AgentEvent(event) => self.pipeline.refresh_agent(&event.agent_arn)?,
            RecordView::ContactRecord(r) => self.pipeline.refresh_contact_record(&r.contact_id)?,
            RecordView::ContactEvent(_) => {}
        }
        if self.refreshed.len() >= MAX_REFRESHED {
            self.trim_refreshed();
        }
        self.refreshed.insert(key);
        Ok(())
    }

    /// Keeps the set of refreshed subjects bounded: entries of an epoch a partition has
    /// left can never match again, and a contact refreshed twice only reads the store
    /// once more (taking what it knows of the record is idempotent), so both go.
    fn trim_refreshed(&mut self) {
        let mut newest: std::collections::HashMap<String, u64> = Default::default();
        for (p, epoch, _) in &self.refreshed {
            let e = newest.entry(p.clone()).or_default();
            *e = (*e).max(*epoch);
        }
        self.refreshed.retain(|(p, epoch, subject)| {
            newest.get(p) == Some(epoch) && !subject.starts_with("contact ")
        });
    }

    fn bad(&mut self, source: &str, input: &'static str, e: &DecodeError) {
        self.summary.bad += 1;
        telemetry::input::refused(input, telemetry::input::reason::DECODE);
        if self.summary.bad <= LOGGED_BAD {
            tracing::warn!(source, error = %e, "bad record");
        } else if self.summary.bad == LOGGED_BAD + 1 {
            tracing::warn!("more bad records: counted, and dead-lettered if configured");
        }
        self.pipeline.dead_letter(e);
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// A record that decoded but failed a plausibility check: dead-lettered (stage
    /// `validate`) with the field and the reason, never applied.
    fn refuse(&mut self, source: &str, input: &'static str, decoded: &Decoded, why: &Invalid) {
        self.summary.bad += 1;
        self.summary.invalid += 1;
        telemetry::input::refused(input, why.reason());
        if self.summary.bad <= LOGGED_BAD {
            tracing::warn!(source, error = %why, "record refused");
        } else if self.summary.bad == LOGGED_BAD + 1 {
            tracing::warn!("more bad records: counted, and dead-lettered if configured");
        }
        self.pipeline.refuse(decoded, why);
        self.pending_since.get_or_insert_with(Instant::now);
    }

    /// Advances the engine's clocks with the wall clock, about once a second.
    fn tick(&mut self) {
        if self.settings.live_clock && self.last_tick.elapsed() >= Duration::from_secs(1) {
            self.last_tick = Instant::now();
            self.pipeline.tick(Timestamp::from_millis(now_ms()));
            self.pending_since.get_or_insert_with(Instant::now);
        }
    }

    /// Commits what is pending and settles the acknowledgements it covered.
    fn commit(&mut self) {
        if self.pending_since.is_none() && self.acks.is_empty() {
            return;
        }
        let started = Instant::now();
        let result = self.pipeline.commit();
        self.summary.commit_time += started.elapsed();
        let acks = std::mem::take(&mut self.acks);
        match result {
            Ok(()) => {
                self.summary.commits += 1;
                self.pending = 0;
                self.pending_since = None;
                for ack in acks {
                    ack.send(Ok(()));
                }
                if let Some(hook) = &mut self.on_commit {
                    hook(&self.summary);
                }
                // The commit may have filled the outbox: read it again before taking more.
                self.outbox_checked = None;
            }
            Err(e) => {
                self.summary.failed_commits += 1;
                let reason = format!("{e:#}");
                tracing::error!(error = %reason, "commit failed; the sources will deliver again");
                // Try again at the next deadline rather than at once.
                self.pending_since = Some(Instant::now());
                for ack in acks {
                    ack.send(Err(AckError(reason.clone())));
                }
            }
        }
    }
}

/// The three Connect streams, in the order of the per-delivery lag slots.
const STREAMS: [RecordKind; 3] = [
    RecordKind::AgentEvent,
    RecordKind::ContactEvent,
    RecordKind::ContactRecord,
];

fn stream_index(kind: RecordKind) -> usize {
    match kind {
        RecordKind::AgentEvent => 0,
        RecordKind::ContactEvent => 1,
        RecordKind::ContactRecord => 2,
    }
}

/// The time a record describes, for the lag: the agent event's timestamp, the contact
/// event's time, the contact record's last update.
fn event_time(view: &RecordView<'_>) -> Option<Timestamp> {
    match view {
        RecordView::AgentEvent(e) => Some(e.event_timestamp),
        RecordView::ContactEvent(e) => e.detail.event_time().or(e.time),
        RecordView::ContactRecord(r) => Some(r.last_update_timestamp),
    }
    .filter(|t| !t.is_unset())
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

#[cfg(test)]
mod tests {
    //! The pipeline thread against a real SQLite store, wrapped so a test can make its
    //! commits fail; deliveries come from the example data.

    use std::ops::ControlFlow;
    use std::sync::atomic::AtomicBool;
    use std::sync::Arc;

    use switchboard_engine::{AgentState, Alert, ContactTimeline, EngineConfig};
    use switchboard_io::delivery::{channel, Partition};
    use switchboard_model::decode::{Decoded, Decoder, Format};
    use switchboard_store::{
        AgentFilter, Batch, ContactDetail, ContactFilter, Loaded, MetricQuery, MetricRow,
        OutboxDepth, OutboxEntry, OutboxRow, Positions, SqliteStore, Store, StoreError,
        TransitionFilter, TransitionRow,
    };
    use tokio::sync::oneshot;

    use super::*;

    /// An SQLite store whose commits fail while `broken` is set.
    struct Flaky {
        inner: SqliteStore,
        broken: Arc<AtomicBool>,
    }

    impl Store for Flaky {
        fn load(&self) -> Result<Loaded, StoreError> {
            self.inner.load()
        }
        fn commit(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
            if self.broken.load(Ordering::SeqCst) {
                return Err(StoreError::Url {
                    url: "flaky".into(),
                    reason: "the disk is on fire".into(),
                });
            }
            self.inner.commit(batch)
        }
        fn positions(&self) -> Result<Positions, StoreError> {
            self.inner.positions()
        }
        fn agent(&self, arn: &str) -> Result<Option<AgentState>, StoreError> {
            self.inner.agent(arn)
        }
        fn agents(&self, f: &AgentFilter) -> Result<Vec<AgentState>, StoreError> {
            self.inner.agents(f)
        }
        fn contacts(&self, f: &ContactFilter) -> Result<Vec<ContactTimeline>, StoreError> {
            self.inner.contacts(f)
        }
        fn contact(&self, id: &str) -> Result<Option<ContactDetail>, StoreError> {
            self.inner.contact(id)
        }
        fn transitions(&self, f: &TransitionFilter) -> Result<Vec<TransitionRow>, StoreError> {
            self.inner.transitions(f)
        }
        fn metrics(&self, q: &MetricQuery) -> Result<Vec<MetricRow>, StoreError> {
            self.inner.metrics(q)
        }
        fn alerts(&self, active_only: bool) -> Result<Vec<Alert>, StoreError> {
            self.inner.alerts(active_only)
        }
        fn dump(&self) -> Result<String, StoreError> {
            self.inner.dump()
        }
        fn outbox_insert(&mut self, entries: &[OutboxEntry]) -> Result<u64, StoreError> {
            self.inner.outbox_insert(entries)
        }
        fn outbox_claim(
            &mut self,
            sink: &str,
            worker: &str,
            max_items: usize,
            max_bytes: usize,
            now_ms: i64,
            lease_ms: i64,
        ) -> Result<Vec<OutboxRow>, StoreError> {
            self.inner
                .outbox_claim(sink, worker, max_items, max_bytes, now_ms, lease_ms)
        }
        fn outbox_delivered(&mut self, ids: &[i64]) -> Result<(), StoreError> {
            self.inner.outbox_delivered(ids)
        }
        fn outbox_retry(&mut self, retries: &[(i64, i64, String)]) -> Result<(), StoreError> {
            self.inner.outbox_retry(retries)
        }
        fn outbox_dead(&mut self, ids: &[i64], dead: &[OutboxEntry]) -> Result<(), StoreError> {
            self.inner.outbox_dead(ids, dead)
        }
        fn outbox_release(&mut self, ids: &[i64]) -> Result<(), StoreError> {
            self.inner.outbox_release(ids)
        }
        fn outbox_depth(&self, now_ms: i64) -> Result<Vec<OutboxDepth>, StoreError> {
            self.inner.outbox_depth(now_ms)
        }
        fn outbox_len(&self) -> Result<u64, StoreError> {
            self.inner.outbox_len()
        }
        fn outbox_peek(
            &self,
            sink: Option<&str>,
            limit: usize,
        ) -> Result<Vec<OutboxRow>, StoreError> {
            self.inner.outbox_peek(sink, limit)
        }
    }

    /// The example's agent events, decoded.
    fn agent_events() -> Vec<Decoded> {
        let path = concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../examples/data/agent-events.ndjson"
        );
        let bytes = std::fs::read(path).unwrap();
        let mut out = Vec::new();
        Decoder::new(Format::Auto).decode_slice(Some(path), &bytes, &mut |item| {
            out.push(item.unwrap());
            ControlFlow::Continue(())
        });
        assert!(out.len() > 10);
        out
    }

    struct Harness {
        _dir: tempfile::TempDir,
        path: std::path::PathBuf,
        broken: Arc<AtomicBool>,
        stop: Arc<AtomicBool>,
    }

    impl Harness {
        fn new() -> Self {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("sb.db");
            Harness {
                _dir: dir,
                path,
                broken: Arc::new(AtomicBool::new(false)),
                stop: Arc::new(AtomicBool::new(false)),
            }
        }

        /// Starts a pipeline thread on the store; returns its sender and thread.
        fn start(
            &self,
        ) -> (
            switchboard_io::DeliverySender,
            std::thread::JoinHandle<anyhow::Result<Summary>>,
        ) {
            let store = Flaky {
                inner: SqliteStore::open(&self.path).unwrap(),
                broken: Arc::clone(&self.broken),
            };
            let pipeline = Pipeline::open(Box::new(store), EngineConfig::default()).unwrap();
            let (tx, rx) = channel(4);
            let settings = Settings {
                // Long: commits happen when the channel runs dry, so a test decides when.
                commit_interval: Duration::from_secs(60),
                max_batch_records: 1000,
                live_clock: false,
                ..Settings::default()
            };
            let ingest = Ingest::new(pipeline, rx, settings, Arc::clone(&self.stop)).unwrap();
            (tx, std::thread::spawn(move || ingest.run()))
        }

        fn store(&self) -> SqliteStore {
            SqliteStore::open(&self.path).unwrap()
        }
    }

    fn send(
        tx: &switchboard_io::DeliverySender,
        items: Vec<Decoded>,
        partition: Option<Partition>,
    ) -> oneshot::Receiver<Result<(), AckError>> {
        let (mut d, ack) = Delivery::acked("test", items.into_iter().map(Ok).collect());
        d.partition = partition;
        tx.blocking_send(d).unwrap();
        ack
    }

    #[test]
    fn acknowledges_after_the_commit_and_fails_acks_when_the_store_refuses() {
        let h = Harness::new();
        let events = agent_events();
        let (first, rest) = events.split_at(5);
        let (tx, thread) = h.start();

        h.broken.store(true, Ordering::SeqCst);
        let refused = send(&tx, first.to_vec(), None).blocking_recv().unwrap();
        let reason = refused.unwrap_err().0;
        assert!(reason.contains("the disk is on fire"), "{reason}");
        assert!(h
            .store()
            .agents(&AgentFilter::default())
            .unwrap()
            .is_empty());

        // The store is back: the first records' changes were kept pending, so the next
        // commit writes them with the rest, and the re-sent copies change nothing.
        h.broken.store(false, Ordering::SeqCst);
        send(&tx, first.to_vec(), None)
            .blocking_recv()
            .unwrap()
            .unwrap();
        send(&tx, rest.to_vec(), None)
            .blocking_recv()
            .unwrap()
            .unwrap();
        drop(tx);
        let summary = thread.join().unwrap().unwrap();
        assert_eq!(summary.failed_commits, 1);

        // Exactly what one replay of the same events stores.
        let dir = tempfile::tempdir().unwrap();
        let mut once = SqliteStore::open(&dir.path().join("once.db")).unwrap();
        let mut engine = switchboard_engine::Engine::new(EngineConfig::default());
        for e in &events {
            engine.apply_view(&e.view().unwrap(), &e.raw);
        }
        let changes = engine.take_changes();
        once.commit(&Batch::new(&engine, &changes, &Positions::new()))
            .unwrap();
        let strip_meta = |dump: String| {
            // Counters differ: the re-sent copies were counted as duplicates.
            dump.lines()
                .filter(|l| !l.starts_with("1\t{"))
                .collect::<Vec<_>>()
                .join("\n")
        };
        assert_eq!(
            strip_meta(h.store().dump().unwrap()),
            strip_meta(once.dump().unwrap())
        );
    }

    #[test]
    fn a_revoked_partition_is_not_applied_and_a_new_epoch_reloads_its_agents() {
        let h = Harness::new();
        let events = agent_events();
        let arn = match events[0].view().unwrap() {
            RecordView::AgentEvent(e) => e.agent_arn.to_string(),
            _ => unreachable!(),
        };
        let (tx, thread) = h.start();

        let lost = Partition::new("kinesis:agents/shardId-0", 1);
        lost.revoked.store(true, Ordering::SeqCst);
        let refused = send(&tx, events[..3].to_vec(), Some(lost))
            .blocking_recv()
            .unwrap();
        assert!(refused.unwrap_err().0.contains("another worker"));

        // Another worker stores a newer state of the agent meanwhile.
        let mut other = h.store();
        let mut engine = switchboard_engine::Engine::new(EngineConfig::default());
        for e in &events {
            engine.apply_view(&e.view().unwrap(), &e.raw);
        }
        let changes = engine.take_changes();
        other
            .commit(&Batch::new(&engine, &changes, &Positions::new()))
            .unwrap();
        let theirs = engine.agent(&arn).unwrap().clone();

        // The shard comes here (epoch 2): its first record is checked against the stored
        // state, so the other worker's events are not applied twice.
        let here = Partition::new("kinesis:agents/shardId-0", 2);
        send(&tx, events.clone(), Some(here))
            .blocking_recv()
            .unwrap()
            .unwrap();
        drop(tx);
        let summary = thread.join().unwrap().unwrap();
        assert_eq!(summary.revoked, 1);
        let stored = h.store().agent(&arn).unwrap().unwrap();
        assert_eq!(stored.last_event_at, theirs.last_event_at);
        let transitions = h.store().transitions(&TransitionFilter::default()).unwrap();
        assert_eq!(
            transitions.len(),
            changes.transitions.len(),
            "nothing derived twice"
        );
    }

    #[test]
    fn a_full_outbox_pauses_the_sources_until_the_sinks_catch_up() {
        let h = Harness::new();
        let store = Flaky {
            inner: SqliteStore::open(&h.path).unwrap(),
            broken: Arc::clone(&h.broken),
        };
        let rule = crate::rules::RuleConfig {
            name: "all".into(),
            kinds: vec!["record".into()],
            streams: Vec::new(),
            queues: Vec::new(),
            channels: Vec::new(),
            dialled_numbers: Vec::new(),
            pattern: None,
            enrich: Vec::new(),
            contact_attributes: false,
            sinks: vec!["crm".into()],
        };
        let rules = crate::rules::Rules::compile(&[rule]).unwrap();
        let pipeline = Pipeline::open(Box::new(store), EngineConfig::default())
            .unwrap()
            .with_rules(rules);
        let (tx, rx) = channel(1);
        let settings = Settings {
            commit_interval: Duration::from_secs(60),
            outbox_capacity: 5,
            backpressure_sinks: vec!["crm".into()],
            ..Settings::default()
        };
        let ingest = Ingest::new(pipeline, rx, settings, Arc::clone(&h.stop)).unwrap();
        let thread = std::thread::spawn(move || ingest.run());

        let events = agent_events();
        // Ten records routed: the outbox is over its capacity of 5.
        send(&tx, events[..10].to_vec(), None)
            .blocking_recv()
            .unwrap()
            .unwrap();
        assert_eq!(h.store().outbox_len().unwrap(), 10);
        // The next delivery waits: the thread takes nothing while the outbox is full.
        let mut waiting = send(&tx, events[10..12].to_vec(), None);
        std::thread::sleep(Duration::from_millis(500));
        assert!(
            matches!(waiting.try_recv(), Err(oneshot::error::TryRecvError::Empty)),
            "not taken while the outbox is full"
        );
        // A sink worker delivers: the thread goes on.
        let mut worker = h.store();
        let claimed = worker
            .outbox_claim("crm", "w", 100, 1 << 20, 0, 60_000)
            .unwrap();
        let ids: Vec<i64> = claimed.iter().map(|r| r.id).collect();
        worker.outbox_delivered(&ids).unwrap();
        waiting.blocking_recv().unwrap().unwrap();
        drop(tx);
        let summary = thread.join().unwrap().unwrap();
        assert!(summary.backpressure >= 1);
        assert_eq!(h.store().outbox_len().unwrap(), 2);
    }

    #[test]
    fn stops_when_told_and_fails_what_it_did_not_take() {
        let h = Harness::new();
        let (tx, thread) = h.start();
        h.stop.store(true, Ordering::SeqCst);
        let summary = thread.join().unwrap().unwrap();
        assert_eq!(summary.deliveries, 0);
        assert_eq!(summary.records, 0);
        let (d, ack) = Delivery::acked("late", vec![]);
        // The receiver is gone: the source sees its send fail.
        assert!(tx.blocking_send(d).is_err());
        assert!(ack.blocking_recv().is_err(), "never acknowledged as stored");
    }
}
