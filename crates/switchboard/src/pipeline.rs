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

use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard_engine::{Applied, Changes, Engine, EngineConfig};
use switchboard_model::{Record, Timestamp};
use switchboard_server::telemetry;
use switchboard_store::{Batch, Positions, Store};

/// Called with the engine and the changes of each applied record (or tick).
pub type PublishHook = Box<dyn Fn(&Engine, &Changes) + Send>;

/// Counts since the pipeline started.
#[derive(Debug, Clone, Copy, Default)]
pub struct PipelineStats {
    pub applied: u64,
    pub duplicates: u64,
    pub stale: u64,
    pub commits: u64,
}

pub struct Pipeline {
    engine: Arc<Mutex<Engine>>,
    store: Box<dyn Store>,
    pending: Changes,
    /// Input positions, saved with every commit (sources that resume set them).
    positions: Positions,
    hooks: Vec<PublishHook>,
    commit_every: Duration,
    last_commit: Instant,
    stats: PipelineStats,
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
            hooks: Vec::new(),
            commit_every: Duration::from_secs(1),
            last_commit: Instant::now(),
            stats: PipelineStats::default(),
        })
    }

    /// The shared engine, for readers.
    pub fn engine(&self) -> Arc<Mutex<Engine>> {
        Arc::clone(&self.engine)
    }

    pub fn stats(&self) -> PipelineStats {
        self.stats
    }

    /// Adds a hook called after each applied record with the changes it made.
    pub fn on_changes(&mut self, hook: PublishHook) {
        self.hooks.push(hook);
    }

    /// Applies one record and publishes what it changed.
    pub fn apply(&mut self, record: &Record) -> Applied {
        let source = telemetry::source::of(record.kind());
        telemetry::event_in(source);
        let engine = Arc::clone(&self.engine);
        let mut engine = lock(&engine);
        let applied = engine.apply(record);
        match applied {
            Applied::Applied => self.stats.applied += 1,
            Applied::Duplicate => self.stats.duplicates += 1,
            Applied::Stale => self.stats.stale += 1,
        }
        if applied != Applied::Applied {
            telemetry::dedupe_drop(source);
        }
        let changes = engine.take_changes();
        if !changes.is_empty() {
            for hook in &self.hooks {
                hook(&engine, &changes);
            }
            self.pending.merge(changes);
        }
        applied
    }

    /// Advances the engine's clocks (alerts on time, not only on events).
    pub fn tick(&mut self, now: Timestamp) {
        let engine = Arc::clone(&self.engine);
        let mut engine = lock(&engine);
        engine.tick(now);
        let changes = engine.take_changes();
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

    /// Writes the pending changes, the states they touched and the positions, in one
    /// transaction.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
        let shared = Arc::clone(&self.engine);
        let engine = lock(&shared);
        let batch = Batch::new(&engine, &pending, &self.positions);
        let started = Instant::now();
        let items = (pending.transitions.len() + pending.records.len() + batch.agents.len()) as u64;
        self.store
            .commit(&batch)
            .inspect_err(|_| telemetry::error(telemetry::error_kind::STORE))
            .context("cannot commit to the store")?;
        drop(engine);
        telemetry::store_commit(started.elapsed().as_secs_f64());
        telemetry::events_out(telemetry::sink::STORE, items);
        self.stats.commits += 1;
        Ok(())
    }
}

/// Locks the engine. A panic while the lock was held cannot leave the engine in a state
/// readers could not survive (each record is applied whole or not at all from their point
/// of view), so a poisoned lock is taken over rather than propagated.
pub fn lock(engine: &Mutex<Engine>) -> MutexGuard<'_, Engine> {
    engine.lock().unwrap_or_else(|e| e.into_inner())
}
