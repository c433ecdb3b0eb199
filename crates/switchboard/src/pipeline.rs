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
use switchboard_engine::{AgentState, Applied, Changes, ContactTimeline, Engine, EngineConfig};
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
    /// Input positions as of the last commit plus those moved since.
    positions: Positions,
    /// Positions moved since the last commit: only these are written, so a worker never
    /// writes back another worker's position it loaded at start.
    moved: Positions,
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
            moved: Positions::new(),
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

    /// Writes the pending changes, the states they touched and the moved positions, in
    /// one transaction. If the store refuses, nothing is lost: the changes stay pending
    /// (the engine already holds their effect) and the next commit writes them.
    pub fn commit(&mut self) -> anyhow::Result<()> {
        self.last_commit = Instant::now();
        if self.pending.is_empty() && self.moved.is_empty() {
            return Ok(());
        }
        let pending = std::mem::take(&mut self.pending);
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
        let batch = Batch {
            changes: &pending,
            agents: agents.iter().collect(),
            contacts: contacts.iter().collect(),
            meta: &meta,
            positions: &self.moved,
        };
        let started = Instant::now();
        let items = (pending.transitions.len() + pending.records.len() + batch.agents.len()) as u64;
        let result = self.store.commit(&batch);
        if let Err(e) = result {
            telemetry::error(telemetry::error_kind::STORE);
            self.pending = pending;
            return Err(e).context("cannot commit to the store");
        }
        self.moved.clear();
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
