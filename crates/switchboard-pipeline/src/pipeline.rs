//! The live pipeline: decoded records in, engine, store out, and a publish hook for live
//! views.
//!
//! Each record is applied as it arrives and its changes are handed to the publish hooks
//! at once (a live feed pushes them within the second); the changes also accumulate into
//! a batch that is committed to the store about once a second, together with the input
//! positions, in one transaction. On open, the engine is restored from the store, so a
//! restarted pipeline continues where the last commit left it.
//!
//! The engine sits behind a mutex shared with readers (the HTTP API reads the seat map
//! from it); the pipeline holds the lock only while applying one record.
//!
//! Routing happens here too: each record applied (as received, with its original
//! bytes) and everything it made the engine derive (transitions, triggers, alerts), plus
//! metric intervals as the event clock passes them, is offered to the routing rules;
//! what they select goes into the store's outbox in the same transaction as the
//! engine's changes, so an item is routed if and only if its effect is committed.
//! Records that did not decode go the same way to the dead letters.

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use anyhow::Context;
use bytes::Bytes;
use switchboard_engine::check::Invalid;
use switchboard_engine::metrics::CELL_MS;
use switchboard_engine::{
    AgentState, Applied, Changes, ContactTimeline, Engine, EngineConfig, Interval,
};
use switchboard_io::sinks::dead_letter::{DeadLetter, Stage};
use switchboard_io::sinks::ItemKind;
use switchboard_model::decode::{DecodeError, Decoded, Source};
use switchboard_model::{Record, RecordError, RecordView, Timestamp};
use switchboard_store::{Batch, MetricQuery, OutboxEntry, Positions, Pruned, Retention, Store};
use switchboard_telemetry as telemetry;

use crate::deliver::{dead_letter_entry, now_ms};
use crate::rules::{Routable, Rules};

/// The position key under which the end of the last metric interval routed is kept.
pub const METRIC_INTERVALS_KEY: &str = "switchboard:metric-intervals-routed";
/// How long after an interval's end (in event time) it is taken as closed: contact
/// records arrive about a minute after their contact ends and still count in it.
pub const METRIC_CLOSE_GRACE_MS: i64 = 5 * 60 * 1000;
/// At most this many intervals are closed per commit (a replay that jumps months ahead
/// catches up over several commits).
const MAX_INTERVALS_PER_COMMIT: usize = 96;
/// Rows of each kind one pruning pass removes at most: a few milliseconds of work, so
/// the next commit does not wait behind it.
pub const PRUNE_BATCH: usize = 500;
/// How often pruning runs while it finds little to do (it runs after every commit while
/// a backlog lasts).
const PRUNE_EVERY: Duration = Duration::from_secs(30);

/// Called with the engine and the changes of each applied record (or tick).
pub type PublishHook = Box<dyn Fn(&Engine, &Changes) + Send>;

/// Counts since the pipeline started.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineStats {
    pub applied: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub commits: u64,
    /// Contacts dropped from memory after their changes were stored.
    pub evicted: u64,
    /// Contacts read back from the store for a record that named them.
    pub reloaded: u64,
    /// Rows retention removed.
    pub pruned: Pruned,
}

pub struct Pipeline {
    engine: Arc<Mutex<Engine>>,
    store: Box<dyn Store>,
    pending: Changes,
    /// Input positions as of the last commit plus those moved since.
    positions: Positions,
    /// Positions moved since the last commit: only these are written, so a worker never
    /// writes back another worker's position it loaded at start.
    moved: Positions,
    hooks: Vec<PublishHook>,
    commit_every: Duration,
    last_commit: Instant,
    stats: PipelineStats,
    rules: Rules,
    /// Outbox entries routed since the last commit.
    outbox: Vec<OutboxEntry>,
    /// Called after each commit that wrote outbox entries (wakes the delivery workers).
    on_routed: Option<Box<dyn Fn() + Send>>,
    retention: Retention,
    /// When pruning last ran, and whether it left rows behind (then it runs again at
    /// the next commit).
    last_prune: Option<(Instant, bool)>,
}

impl Pipeline {
    /// Opens a pipeline on `store`, restoring the engine from what it holds.
    pub fn open(store: Box<dyn Store>, config: EngineConfig) -> anyhow::Result<Self> {
        let loaded = store
            .load()
            .context("cannot load the engine state from the store")?;
        let engine = match loaded.meta {
            Some(meta) => Engine::restore(config, loaded.agents, loaded.contacts, meta),
            None => Engine::new(config),
        };
        Ok(Self {
            engine: Arc::new(Mutex::new(engine)),
            store,
            pending: Changes::default(),
            positions: loaded.positions,
            moved: Positions::new(),
            hooks: Vec::new(),
            commit_every: Duration::from_secs(1),
            last_commit: Instant::now(),
            stats: PipelineStats::default(),
            rules: Rules::default(),
            outbox: Vec::new(),
            on_routed: None,
            retention: Retention::default(),
            last_prune: None,
        })
    }

    /// Keeps history as long as `retention` says (default: [`Retention::default`]).
    pub fn set_retention(&mut self, retention: Retention) {
        self.retention = retention;
    }

    /// Routes what `rules` select into the outbox from now on.
    pub fn with_rules(mut self, rules: Rules) -> Self {
        self.rules = rules;
        self
    }

    /// Called after each commit that wrote outbox entries.
    pub fn on_routed(&mut self, hook: Box<dyn Fn() + Send>) {
        self.on_routed = Some(hook);
    }

    /// Sets how often [`Pipeline::maybe_commit`] commits.
    pub fn set_commit_every(&mut self, every: Duration) {
        self.commit_every = every;
    }

    /// Outbox entries waiting for the next commit.
    pub fn pending_outbox(&self) -> usize {
        self.outbox.len()
    }

    /// The store (for reads between commits: outbox depth, positions).
    pub fn store(&self) -> &dyn Store {
        self.store.as_ref()
    }

    /// The shared engine, for readers.
    pub fn engine(&self) -> Arc<Mutex<Engine>> {
        Arc::clone(&self.engine)
    }

    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Input positions as of the last commit, with those moved since.
    pub fn positions(&self) -> &Positions {
        &self.positions
    }

    /// Records how far an input was read; saved by the next commit, together with the
    /// records applied before it.
    pub fn set_position(&mut self, source: String, position: String) {
        self.positions.insert(source.clone(), position.clone());
        self.moved.insert(source, position);
    }

    /// Reloads one agent's state from the store into the engine, if the store has it
    /// (another worker sharing the store may have moved it on; see
    /// `switchboard_io::delivery::Partition`).
    pub fn refresh_agent(&mut self, agent_arn: &str) -> anyhow::Result<()> {
        let stored = self
            .store
            .agent(agent_arn)
            .with_context(|| format!("cannot read agent {agent_arn} from the store"))?;
        if let Some(state) = stored {
            lock(&self.engine).replace_agent(state);
        }
        Ok(())
    }

    /// Takes what the store knows of one contact's record into the engine (another worker
    /// sharing the store may have applied a newer one; see
    /// `Engine::adopt_contact_record`).
    pub fn refresh_contact_record(&mut self, contact_id: &str) -> anyhow::Result<()> {
        let stored = self
            .store
            .contact(contact_id)
            .with_context(|| format!("cannot read contact {contact_id} from the store"))?;
        if let Some(detail) = stored {
            lock(&self.engine).adopt_contact_record(&detail.timeline);
        }
        Ok(())
    }

    /// Adds a hook called after each applied record with the changes it made.
    pub fn on_changes(&mut self, hook: PublishHook) {
        self.hooks.push(hook);
    }

    /// Applies one record made in memory (the simulator's) and publishes what it changed;
    /// a rule that routes records gets its JSON encoding. Decoded records go through
    /// [`Pipeline::apply_decoded`].
    pub fn apply(&mut self, record: &Record) -> Applied {
        let decoded = Decoded::from_record(record, Source::default());
        match decoded.view() {
            Ok(view) => self.apply_view(&view, &decoded),
            // A model always re-reads as its view (its required fields are the view's).
            Err(_) => Applied::Duplicate,
        }
    }

    /// Applies one decoded record: parses the fields the engine reads from its bytes
    /// (borrowed, once), applies them and publishes what changed; rules that route records
    /// get the original bytes. `Err` when those fields do not parse: the record is bad,
    /// and the caller dead-letters it.
    pub fn apply_decoded(&mut self, decoded: &Decoded) -> Result<Applied, RecordError> {
        let view = decoded.view()?;
        Ok(self.apply_view(&view, decoded))
    }

    /// Applies a decoded record whose view the caller already parsed.
    pub fn apply_view(&mut self, view: &RecordView<'_>, decoded: &Decoded) -> Applied {
        let source = telemetry::source::of(view.kind());
        telemetry::event_in(source);
        let engine = Arc::clone(&self.engine);
        let mut engine = lock(&engine);
        self.reload_missing(&mut engine, view);
        let applied = engine.apply_view(view, &decoded.raw);
        match applied {
            Applied::Applied => self.stats.applied += 1,
            Applied::Duplicate => self.stats.duplicates += 1,
            Applied::Stale => self.stats.stale += 1,
        }
        if applied != Applied::Applied {
            telemetry::dedupe_drop(source);
        }
        if self.hooks.is_empty() && self.rules.is_empty() {
            // Nobody reads a record's own changes: they gather in the engine and the
            // commit takes them all at once.
            return applied;
        }
        let changes = engine.take_changes();
        if applied == Applied::Applied && !self.rules.is_empty() {
            let now = now_ms();
            if self.rules.wants(ItemKind::Record) {
                Routable::record(decoded, view).route(&self.rules, now, &mut self.outbox);
            }
            route_changes(
                &self.rules,
                &engine,
                &changes,
                Some((decoded, view)),
                now,
                &mut self.outbox,
            );
        }
        if !changes.is_empty() {
            for hook in &self.hooks {
                hook(&engine, &changes);
            }
            self.pending.merge(changes);
        }
        applied
    }

    /// Reads back from the store the contacts `record` names that the engine does not
    /// hold (evicted ones, or those of a store restarted with only its live contacts), so
    /// the record applies exactly as if they had never left memory. A store that cannot
    /// answer is logged and counted; the record is applied all the same.
    fn reload_missing(&mut self, engine: &mut Engine, record: &RecordView<'_>) {
        for id in engine.missing_contacts(record) {
            match self.store.contact_timeline(&id) {
                Ok(Some(timeline)) => {
                    engine.insert_contact(timeline);
                    self.stats.reloaded += 1;
                }
                Ok(None) => {}
                Err(e) => {
                    telemetry::error(telemetry::error_kind::STORE);
                    tracing::warn!(contact = %id, error = %e, "cannot read an evicted contact back from the store; applying the record without it");
                }
            }
        }
    }

    /// Sends a record that did not decode to the dead letters (with the next commit).
    pub fn dead_letter(&mut self, error: &DecodeError) {
        let now = now_ms();
        let letter = DeadLetter::from_decode_error(error, now);
        self.outbox.push(dead_letter_entry(&letter, now));
        telemetry::delivery::dead_letters(telemetry::delivery::stage::DECODE, 1);
        telemetry::error(telemetry::error_kind::DECODE);
    }

    /// Sends a record that decoded but failed a plausibility check
    /// ([`switchboard_engine::check`]) to the dead letters (stage `validate`, with the
    /// field and the reason; with the next commit). It is never applied.
    pub fn refuse(&mut self, decoded: &Decoded, why: &Invalid) {
        let now = now_ms();
        let error = DecodeError {
            source: decoded.source.clone(),
            reason: why.to_string(),
            raw: decoded.raw.to_vec(),
        };
        let mut letter = DeadLetter::from_decode_error(&error, now);
        letter.stage = Stage::Validate;
        self.outbox.push(dead_letter_entry(&letter, now));
        telemetry::delivery::dead_letters(telemetry::delivery::stage::VALIDATE, 1);
        telemetry::error(telemetry::error_kind::VALIDATE);
    }

    /// Advances the engine's clocks (alerts on time, not only on events).
    pub fn tick(&mut self, now: Timestamp) {
        let engine = Arc::clone(&self.engine);
        let mut engine = lock(&engine);
        engine.tick(now);
        let changes = engine.take_changes();
        if !self.rules.is_empty() {
            route_changes(
                &self.rules,
                &engine,
                &changes,
                None,
                now_ms(),
                &mut self.outbox,
            );
        }
        if !changes.is_empty() {
            for hook in &self.hooks {
                hook(&engine, &changes);
            }
            self.pending.merge(changes);
        }
    }

    /// Commits if a second has passed since the last commit.
    pub fn maybe_commit(&mut self) -> anyhow::Result<()> {
        if self.last_commit.elapsed() >= self.commit_every {
            self.commit()?;
        }
        Ok(())
    }

    /// Writes the pending changes, the states they touched and the moved positions, in
    /// one transaction. If the store refuses, nothing is lost: the changes stay pending
    /// (the engine already holds their effect) and the next commit writes them.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        self.last_commit = Instant::now();
        self.take_engine_changes();
        if self.rules.wants(ItemKind::MetricInterval) {
            if let Err(e) = self.close_metric_intervals() {
                tracing::warn!(error = %format!("{e:#}"), "cannot route closed metric intervals; trying again at the next commit");
            }
        }
        if self.pending.is_empty() && self.moved.is_empty() && self.outbox.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let outbox = std::mem::take(&mut self.outbox);
        if Arc::strong_count(&self.engine) == 1 {
            // Nobody else can read the engine (no API, no dashboard): write straight
            // from it, without copies.
            return self.commit_unshared(pending, outbox);
        }
        // Copy what the batch needs and let go of the engine before writing: a store
        // commit takes tens of milliseconds, and API readers would wait on the lock all
        // that time. Only this thread changes the engine, so the copy stays current.
        let (agents, contacts, meta) = {
            let engine = lock(&self.engine);
            let agents: Vec<AgentState> = pending
                .dirty_agents
                .iter()
                .filter_map(|a| engine.agent(a).cloned())
                .collect();
            let contacts: Vec<ContactTimeline> = pending
                .dirty_contacts
                .iter()
                .filter_map(|c| engine.contact(c).cloned())
                .collect();
            (agents, contacts, engine.meta().clone())
        };
        let items = (pending.transitions.len() + pending.records.len() + agents.len()) as u64;
        let started = Instant::now();
        let result = self.store.commit(&Batch {
            changes: &pending,
            agents: agents.iter().collect(),
            contacts: contacts.iter().collect(),
            meta: &meta,
            positions: &self.moved,
            outbox: &outbox,
        });
        if let Err(e) = result {
            telemetry::error(telemetry::error_kind::STORE);
            self.pending = pending;
            // Routed entries wait with the changes they came from; newer ones after them.
            let newer = std::mem::replace(&mut self.outbox, outbox);
            self.outbox.extend(newer);
            return Err(e).context("cannot commit to the store");
        }
        telemetry::events_out(telemetry::sink::STORE, items);
        self.committed(outbox, started);
        Ok(())
    }

    /// [`Pipeline::commit`] when this pipeline holds the only reference to the engine:
    /// the batch borrows the states it writes instead of copying them.
    fn commit_unshared(
        &mut self,
        pending: Changes,
        outbox: Vec<OutboxEntry>,
    ) -> anyhow::Result<()> {
        let engine_ref = Arc::clone(&self.engine);
        let engine = lock(&engine_ref);
        let agents: Vec<&AgentState> = pending
            .dirty_agents
            .iter()
            .filter_map(|a| engine.agent(a))
            .collect();
        let contacts: Vec<&ContactTimeline> = pending
            .dirty_contacts
            .iter()
            .filter_map(|c| engine.contact(c))
            .collect();
        let items = (pending.transitions.len() + pending.records.len() + agents.len()) as u64;
        let started = Instant::now();
        let result = self.store.commit(&Batch {
            changes: &pending,
            agents,
            contacts,
            meta: engine.meta(),
            positions: &self.moved,
            outbox: &outbox,
        });
        drop(engine);
        if let Err(e) = result {
            telemetry::error(telemetry::error_kind::STORE);
            self.pending = pending;
            let newer = std::mem::replace(&mut self.outbox, outbox);
            self.outbox.extend(newer);
            return Err(e).context("cannot commit to the store");
        }
        telemetry::events_out(telemetry::sink::STORE, items);
        self.committed(outbox, started);
        Ok(())
    }

    /// Moves the engine's gathered changes (those no hook took one record at a time) to
    /// the pending ones.
    fn take_engine_changes(&mut self) {
        let changes = lock(&self.engine).take_changes();
        if changes.is_empty() {
            return;
        }
        if self.pending.is_empty() {
            self.pending = changes;
        } else {
            self.pending.merge(changes);
        }
    }

    /// What follows a successful commit: eviction, routing figures, telemetry, pruning.
    fn committed(&mut self, outbox: Vec<OutboxEntry>, started: Instant) {
        self.moved.clear();
        {
            // Everything the engine holds is stored now: contacts done with can go.
            let mut engine = lock(&self.engine);
            if let Some(now) = engine.clock() {
                self.stats.evicted += engine.evict(now) as u64;
            }
        }
        if !outbox.is_empty() {
            let mut by_sink: BTreeMap<&str, u64> = BTreeMap::new();
            for e in &outbox {
                *by_sink.entry(e.sink.as_str()).or_default() += 1;
            }
            for (sink, n) in by_sink {
                telemetry::delivery::routed(sink, n);
            }
            if let Some(hook) = &self.on_routed {
                hook();
            }
        }
        telemetry::store_commit(started.elapsed().as_secs_f64());
        self.stats.commits += 1;
        self.maybe_prune();
    }

    /// Prunes what retention no longer keeps, [`PRUNE_BATCH`] rows of a kind at most, by
    /// the engine's event clock: every [`PRUNE_EVERY`], and after every commit while a
    /// backlog lasts. A failure is logged and tried again later; it never fails a commit.
    fn maybe_prune(&mut self) {
        let due = match self.last_prune {
            None => true,
            Some((at, more)) => more || at.elapsed() >= PRUNE_EVERY,
        };
        if !due {
            return;
        }
        let Some(now) = lock(&self.engine).clock() else {
            return;
        };
        self.prune_at(now);
    }

    /// One pruning pass as of `now` (event time); returns what it removed.
    pub fn prune_at(&mut self, now: Timestamp) -> Pruned {
        match self.store.prune(now.millis(), &self.retention, PRUNE_BATCH) {
            Ok(p) => {
                self.last_prune = Some((Instant::now(), p.hit(PRUNE_BATCH)));
                self.stats.pruned.add(&p);
                p
            }
            Err(e) => {
                self.last_prune = Some((Instant::now(), false));
                telemetry::error(telemetry::error_kind::STORE);
                tracing::warn!(error = %e, "cannot prune old history; trying again later");
                Pruned::default()
            }
        }
    }
}

impl Pipeline {
    /// Routes every 15-minute interval the event clock has left behind (by
    /// [`METRIC_CLOSE_GRACE_MS`]) since the last one routed: its cells as stored plus
    /// what is pending, one item per interval. How far it got is a position, committed
    /// with the items, so a restart neither skips nor repeats an interval.
    fn close_metric_intervals(&mut self) -> anyhow::Result<()> {
        let clock = {
            let engine = lock(&self.engine);
            let meta = engine.meta();
            meta.agent_clock.max(meta.contact_clock)
        };
        let Some(clock) = clock else { return Ok(()) };
        let closed_until = (clock.millis() - METRIC_CLOSE_GRACE_MS).div_euclid(CELL_MS) * CELL_MS;
        let from = match self.positions.get(METRIC_INTERVALS_KEY) {
            Some(v) => v
                .parse::<i64>()
                .context("stored metric-interval position")?,
            None => match self.pending.metric_deltas.keys().map(|k| k.start_ms).min() {
                Some(first) => first,
                None => return Ok(()),
            },
        };
        let mut start = from;
        let mut closed = 0;
        while start + CELL_MS <= closed_until && closed < MAX_INTERVALS_PER_COMMIT {
            let mut query = MetricQuery::new(Interval::Min15);
            query.from = Some(Timestamp::from_millis(start));
            query.to = Some(Timestamp::from_millis(start + CELL_MS));
            let mut rows: BTreeMap<(String, String), switchboard_engine::MetricCell> = self
                .store
                .metrics(&query)
                .context("cannot read metric cells")?
                .into_iter()
                .map(|r| ((r.kind.as_str().to_owned(), r.id), r.cell))
                .collect();
            for (key, cell) in self.pending.metric_deltas.range(
                switchboard_engine::MetricKey {
                    start_ms: start,
                    kind: switchboard_engine::metrics::DimensionKind::Queue,
                    id: String::new(),
                }..,
            ) {
                if key.start_ms != start {
                    break;
                }
                rows.entry((key.kind.as_str().to_owned(), key.id.clone()))
                    .or_default()
                    .add(cell, 1);
            }
            if !rows.is_empty() {
                let rows: Vec<serde_json::Value> = rows
                    .into_iter()
                    .map(|((kind, id), cell)| {
                        serde_json::json!({"dimension": kind, "id": id, "cell": cell})
                    })
                    .collect();
                let payload = serde_json::json!({
                    "interval_start": Timestamp::from_millis(start),
                    "interval_end": Timestamp::from_millis(start + CELL_MS),
                    "rows": rows,
                });
                let payload = Bytes::from(serde_json::to_vec(&payload)?);
                Routable::metric_interval(start, payload).route(
                    &self.rules,
                    now_ms(),
                    &mut self.outbox,
                );
            }
            start += CELL_MS;
            closed += 1;
        }
        // Saved from the first interval seen on, so an interval still open at this commit
        // is routed by a later one even once its deltas are committed.
        if start != from || !self.positions.contains_key(METRIC_INTERVALS_KEY) {
            self.set_position(METRIC_INTERVALS_KEY.to_owned(), start.to_string());
        }
        Ok(())
    }
}

/// Routes what one record (or tick) made the engine derive.
fn route_changes(
    rules: &Rules,
    engine: &Engine,
    changes: &Changes,
    decoded: Option<(&Decoded, &RecordView<'_>)>,
    now: i64,
    out: &mut Vec<OutboxEntry>,
) {
    if rules.wants(ItemKind::Transition) {
        for t in &changes.transitions {
            Routable::transition(t).route(rules, now, out);
        }
    }
    if rules.wants(ItemKind::ContactCompleted) || rules.wants(ItemKind::ContactRecordReady) {
        for trigger in &changes.triggers {
            // The record that made the trigger, if it is this contact's record.
            let record = decoded.and_then(|(d, view)| match view {
                RecordView::ContactRecord(r) if *r.contact_id == *trigger.contact_id => {
                    Some((&d.raw, r))
                }
                _ => None,
            });
            let dialled = decoded.and_then(|(_, view)| match view {
                RecordView::ContactRecord(r) => r
                    .system_endpoint
                    .as_ref()
                    .and_then(|e| e.address.as_deref().map(str::to_owned)),
                _ => None,
            });
            Routable::trigger(
                trigger,
                engine.contact(&trigger.contact_id),
                record.map(|(raw, _)| raw),
                dialled,
            )
            .route(rules, now, out);
        }
    }
    if rules.wants(ItemKind::AlertRaised) || rules.wants(ItemKind::AlertCleared) {
        for alert in &changes.alerts {
            Routable::alert(alert).route(rules, now, out);
        }
    }
}

/// Locks the engine. A panic while the lock was held cannot leave the engine in a state
/// readers could not survive (each record is applied whole or not at all from their point
/// of view), so a poisoned lock is taken over rather than propagated.
pub fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|e| e.into_inner())
}
