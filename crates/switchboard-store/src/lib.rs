//! Where switchboard keeps what the engine works out: current agent states, contact
//! timelines and records, transitions, post-contact triggers, metric cells, alerts, the
//! engine's own state and how far each input has been read.
//!
//! The engine (`switchboard-engine`) is pure: it hands back [`Changes`] and keeps its state
//! in memory. A [`Store`] makes that durable. [`Store::commit`] writes one [`Batch`] — the
//! changes, the current state of every agent and contact they touched, the engine meta and
//! the input positions — in one transaction, so after a crash [`Store::load`] gives back an
//! engine state and positions that agree exactly: no record applied twice, none skipped.
//! The query methods serve reports and, later, the API.
//!
//! What routing rules select rides in the same batch ([`Batch::outbox`]) into the durable
//! [`outbox`], from which sink workers claim, deliver and retire it (the `outbox_*`
//! methods of [`Store`]).
//!
//! - [`url`] turns `sqlite:PATH` and `postgres://...` into a store;
//! - [`query`] holds the filters and rows of the query methods;
//! - [`outbox`] holds the outbox's entries, rows and depths;
//! - [`retention`] holds how long history is kept ([`Store::prune`]) and table sizes;
//! - [`sqlite`] is the embedded default, [`SqliteStore`];
//! - [`postgres`] is the shared store for several workers, [`PostgresStore`];
//! - [`error`] holds [`StoreError`].

mod columns;
pub mod error;
pub mod outbox;
pub mod postgres;
pub mod query;
pub mod retention;
pub mod sqlite;
#[cfg(test)]
mod suite;
pub mod url;

use std::collections::BTreeMap;

use switchboard_engine::{AgentState, Alert, Changes, ContactTimeline, Engine, EngineMeta};

pub use error::StoreError;
pub use outbox::{OutboxDepth, OutboxEntry, OutboxRow, DEAD_LETTER_SINK};
pub use postgres::PostgresStore;
pub use query::{
    AgentFilter, ContactDetail, ContactFilter, MetricQuery, MetricRow, TransitionFilter,
    TransitionRow,
};
pub use retention::{Pruned, Retention, TableStats};
pub use sqlite::SqliteStore;
pub use url::StoreUrl;

/// Input name (a file path, a stream and shard) → how far it has been read. The format of
/// the position string belongs to the input; the store keeps it verbatim.
pub type Positions = BTreeMap<String, String>;

/// Everything written by one [`Store::commit`].
#[derive(Debug)]
pub struct Batch<'a> {
    /// What changed since the previous batch.
    pub changes: &'a Changes,
    /// Current state of the agents named in `changes.dirty_agents`.
    pub agents: Vec<&'a AgentState>,
    /// Current state of the contacts named in `changes.dirty_contacts`.
    pub contacts: Vec<&'a ContactTimeline>,
    pub meta: &'a EngineMeta,
    /// Positions that moved in this batch (others keep their stored value).
    pub positions: &'a Positions,
    /// What routing rules selected from this batch, in routing order; an entry whose
    /// sink and key are already queued is skipped.
    pub outbox: &'a [OutboxEntry],
}

impl<'a> Batch<'a> {
    /// A batch of `changes` (just taken from `engine`) with the current states of the
    /// agents and contacts they mark dirty, and nothing for the outbox (see
    /// [`Batch::with_outbox`]).
    pub fn new(engine: &'a Engine, changes: &'a Changes, positions: &'a Positions) -> Self {
        Batch {
            changes,
            agents: changes
                .dirty_agents
                .iter()
                .filter_map(|a| engine.agent(a))
                .collect(),
            contacts: changes
                .dirty_contacts
                .iter()
                .filter_map(|c| engine.contact(c))
                .collect(),
            meta: engine.meta(),
            positions,
            outbox: &[],
        }
    }

    /// The same batch with `outbox` to store along with it.
    pub fn with_outbox(self, outbox: &'a [OutboxEntry]) -> Self {
        Batch { outbox, ..self }
    }
}

/// What [`Store::load`] gives back: enough for `Engine::restore`, plus input positions.
#[derive(Debug, Default)]
pub struct Loaded {
    pub agents: Vec<AgentState>,
    pub contacts: Vec<ContactTimeline>,
    /// `None` for a store nothing was committed to yet.
    pub meta: Option<EngineMeta>,
    pub positions: Positions,
}

/// A durable home for the engine's output and state. Implemented by [`SqliteStore`] and
/// [`PostgresStore`], with the same semantics (one shared test suite runs on both).
pub trait Store: Send {
    /// Everything needed to resume, as of the last commit: agent states, the contacts
    /// still live (not ended; ended ones are read back one by one when a record names
    /// them, see [`Store::contact_timeline`]), engine meta and input positions.
    fn load(&self) -> Result<Loaded, StoreError>;

    /// Writes a whole batch atomically, outbox entries included: either all of it is
    /// stored, or none of it.
    fn commit(&mut self, batch: &Batch<'_>) -> Result<(), StoreError>;

    /// Input positions as of the last commit.
    fn positions(&self) -> Result<Positions, StoreError>;

    /// The current state of one agent, if stored (a worker that takes over an agent's
    /// shard refreshes the agent from here). The default lists every agent; the stores
    /// here look the one up by key.
    fn agent(&self, agent_arn: &str) -> Result<Option<AgentState>, StoreError> {
        Ok(self
            .agents(&AgentFilter::default())?
            .into_iter()
            .find(|a| a.agent_arn == agent_arn))
    }

    /// Current agent states, by agent ARN.
    fn agents(&self, filter: &AgentFilter) -> Result<Vec<AgentState>, StoreError>;

    /// Contact timelines, newest initiation first.
    fn contacts(&self, filter: &ContactFilter) -> Result<Vec<ContactTimeline>, StoreError>;

    /// One contact: its timeline and its newest contact record.
    fn contact(&self, contact_id: &str) -> Result<Option<ContactDetail>, StoreError>;

    /// One contact's timeline alone (the pipeline reads evicted contacts back with it).
    /// The default goes through [`Store::contact`]; the stores here skip the record.
    fn contact_timeline(&self, contact_id: &str) -> Result<Option<ContactTimeline>, StoreError> {
        Ok(self.contact(contact_id)?.map(|d| d.timeline))
    }

    /// Transitions in the order they were derived.
    fn transitions(&self, filter: &TransitionFilter) -> Result<Vec<TransitionRow>, StoreError>;

    /// Metric cells added up into the query's interval.
    fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricRow>, StoreError>;

    /// Alerts, newest first; only those not cleared yet if `active_only`.
    fn alerts(&self, active_only: bool) -> Result<Vec<Alert>, StoreError>;

    /// The whole contents as canonical text: every table, every row sorted by key. Two
    /// stores with equal dumps hold the same data (used to compare stores in tests).
    fn dump(&self) -> Result<String, StoreError>;

    /// Removes history older than `retention` allows as of `now_ms` (event time): at most
    /// `limit` rows of each kind, each kind in a short transaction of its own, so a
    /// commit never waits long behind it. Call again while [`Pruned::hit`] says more may
    /// be waiting. A store that cannot prune keeps everything.
    fn prune(
        &mut self,
        now_ms: i64,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, StoreError> {
        let _ = (now_ms, retention, limit);
        Ok(Pruned::default())
    }

    /// Rows and bytes on disk (indexes included) per table, by table name.
    fn table_stats(&self) -> Result<Vec<TableStats>, StoreError> {
        Ok(Vec::new())
    }

    /// Stores `entries` outside a commit (dead-letter replay), in one transaction, and
    /// returns how many were added: an entry whose sink and key are already queued is
    /// skipped.
    fn outbox_insert(&mut self, entries: &[OutboxEntry]) -> Result<u64, StoreError>;

    /// Claims up to `max_items` rows of `sink` for `worker`, oldest (lowest id) first:
    /// rows whose `not_before_ms` is at or before `now_ms` and that no worker holds (no
    /// claim, or one that ended at or before `now_ms`). It stops before the payloads add
    /// up to more than `max_bytes`, but always takes the first row, however large. The
    /// rows are held until `now_ms + lease_ms`; other workers skip them until then (on
    /// PostgreSQL without waiting for this claim to finish), and take them again after.
    /// Returned in id order.
    fn outbox_claim(
        &mut self,
        sink: &str,
        worker: &str,
        max_items: usize,
        max_bytes: usize,
        now_ms: i64,
        lease_ms: i64,
    ) -> Result<Vec<OutboxRow>, StoreError>;

    /// Removes the rows the destination took. Ids no longer stored are ignored.
    fn outbox_delivered(&mut self, ids: &[i64]) -> Result<(), StoreError>;

    /// Puts rows back after a failed delivery, each as `(id, not_before_ms, error)`: one
    /// more attempt counted, the claim released, not claimed again before `not_before_ms`
    /// (a time before the epoch counts as 0: at once), the error kept as `last_error`. In
    /// one transaction; an id given twice counts once, with its last values.
    fn outbox_retry(&mut self, retries: &[(i64, i64, String)]) -> Result<(), StoreError>;

    /// Retires rows the destination refused for good: in one transaction, removes `ids`
    /// and stores `dead_letters` (entries for the dead-letter sink, delivered from the
    /// outbox like any other), so an item is never both gone and not dead-lettered.
    fn outbox_dead(&mut self, ids: &[i64], dead_letters: &[OutboxEntry]) -> Result<(), StoreError>;

    /// Gives claims back without counting an attempt (a worker shutting down with rows it
    /// did not send): the rows are ready for any worker at once.
    fn outbox_release(&mut self, ids: &[i64]) -> Result<(), StoreError>;

    /// How much each sink has waiting, sorted by sink name (byte order); `ready` is
    /// counted as of `now_ms`. Sinks with nothing queued are not listed.
    fn outbox_depth(&self, now_ms: i64) -> Result<Vec<OutboxDepth>, StoreError>;

    /// How many rows are queued in all, claimed or not (the pipeline's backpressure
    /// check). An exact count, so its cost grows with the outbox: next to nothing in
    /// SQLite, tens of milliseconds per 100,000 rows in PostgreSQL; the outbox's
    /// configured bound keeps it in check.
    fn outbox_len(&self) -> Result<u64, StoreError>;

    /// Up to `limit` rows, of one sink or all, oldest first, claimed or not (for
    /// inspection; does not claim).
    fn outbox_peek(&self, sink: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>, StoreError>;
}
