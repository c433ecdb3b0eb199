//! The embedded store: one SQLite file in WAL mode.
//!
//! WAL with `synchronous=NORMAL` makes each commit one append to the write-ahead log:
//! a killed process loses nothing committed, and readers (reports, the API) never block
//! the writer. A busy timeout lets a second process (a report while a replay runs) wait
//! for a lock instead of failing.
//!
//! - [`schema`]: tables and migrations;
//! - `write`: [`Store::commit`], one transaction per batch, metric deltas added in SQL;
//! - `read`: [`Store::load`] and the query methods;
//! - `outbox`: the outbox methods, each write in an `IMMEDIATE` transaction;
//! - `prune`: retention and table sizes;
//! - `dump`: the canonical text of the whole store.

mod compact;
pub(crate) mod dump;
mod outbox;
mod prune;
mod read;
pub mod schema;
mod write;

use std::path::Path;
use std::time::Duration;

use rusqlite::Connection;
use switchboard_engine::{AgentState, Alert, ContactTimeline};

use crate::query::{
    AgentFilter, ContactDetail, ContactFilter, MetricQuery, MetricRow, TransitionFilter,
    TransitionRow,
};
use crate::{
    Batch, Loaded, OutboxDepth, OutboxEntry, OutboxRow, Positions, Pruned, Retention, Store,
    StoreError, TableStats,
};

/// How long to wait for another connection's lock (another process, or the pipeline's
/// commit while a sink worker claims) before giving up.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in one SQLite file.
pub struct SqliteStore {
    conn: Connection,
    /// The file, for error messages.
    path: String,
    /// Ids of names (agent ARNs, usernames) committed in the `names` table, which never
    /// changes or loses a row: each is looked up once per process, not once per commit.
    names: compact::NameIds,
}

impl std::fmt::Debug for SqliteStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SqliteStore")
            .field("path", &self.path)
            .finish()
    }
}

impl SqliteStore {
    /// Opens the store at `path`, creating the file and its schema if needed and
    /// migrating an older schema.
    pub fn open(path: &Path) -> Result<Self, StoreError> {
        let name = path.display().to_string();
        let open_err = |source| StoreError::Open {
            path: name.clone(),
            source,
        };
        let conn = Connection::open(path).map_err(open_err)?;
        conn.busy_timeout(BUSY_TIMEOUT).map_err(open_err)?;
        // journal_mode returns the mode as a row; the others return nothing.
        let _: String = conn
            .query_row("PRAGMA journal_mode = WAL", [], |r| r.get(0))
            .map_err(open_err)?;
        // A 32 MiB page cache keeps the indexes of a large replay in memory.
        conn.execute_batch(
            "PRAGMA synchronous = NORMAL; PRAGMA foreign_keys = OFF; PRAGMA cache_size = -32768;
             PRAGMA wal_autocheckpoint = 10000;",
        )
        .map_err(open_err)?;
        let mut store = SqliteStore {
            conn,
            path: name,
            names: Default::default(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        self.conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(self.err("reading the schema version"))
    }

    fn migrate(&mut self) -> Result<(), StoreError> {
        let found = self.schema_version()?;
        if found > schema::VERSION {
            return Err(StoreError::NewerSchema {
                path: self.path.clone(),
                found,
                supported: schema::VERSION,
            });
        }
        if found == schema::VERSION {
            return Ok(());
        }
        if (1..schema::COMPACT).contains(&found) && self.holds_history()? {
            return Err(StoreError::OldSchema {
                path: self.path.clone(),
                found,
                supported: schema::VERSION,
            });
        }
        let path = self.path.clone();
        let err = move |source| StoreError::Sqlite {
            path: path.clone(),
            context: "migrating the schema",
            source,
        };
        let tx = self.conn.transaction().map_err(&err)?;
        for sql in &schema::MIGRATIONS[found.max(0) as usize..] {
            tx.execute_batch(sql).map_err(&err)?;
        }
        tx.pragma_update(None, "user_version", schema::VERSION)
            .map_err(&err)?;
        tx.commit().map_err(&err)
    }

    /// Whether a store of the old layout has rows in the tables the compact one replaces.
    fn holds_history(&self) -> Result<bool, StoreError> {
        self.conn
            .query_row(
                "SELECT EXISTS (SELECT 1 FROM contacts) OR EXISTS (SELECT 1 FROM transitions)
                 OR EXISTS (SELECT 1 FROM contact_records) OR EXISTS (SELECT 1 FROM triggers)",
                [],
                |r| r.get(0),
            )
            .map_err(self.err("checking an older store for data"))
    }

    /// Maps an SQLite error to a [`StoreError`] naming this store and `context`.
    fn err(&self, context: &'static str) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
        move |source| StoreError::Sqlite {
            path: self.path.clone(),
            context,
            source,
        }
    }
}

impl Store for SqliteStore {
    fn load(&self) -> Result<Loaded, StoreError> {
        read::load(self)
    }

    fn commit(&mut self, batch: &Batch<'_>) -> Result<(), StoreError> {
        write::commit(self, batch)
    }

    fn positions(&self) -> Result<Positions, StoreError> {
        read::positions(self)
    }

    fn agent(&self, agent_arn: &str) -> Result<Option<AgentState>, StoreError> {
        read::agent(self, agent_arn)
    }

    fn agents(&self, filter: &AgentFilter) -> Result<Vec<AgentState>, StoreError> {
        read::agents(self, filter)
    }

    fn contacts(&self, filter: &ContactFilter) -> Result<Vec<ContactTimeline>, StoreError> {
        read::contacts(self, filter)
    }

    fn contact_timeline(&self, contact_id: &str) -> Result<Option<ContactTimeline>, StoreError> {
        read::contact_timeline(self, contact_id)
    }

    fn contact(&self, contact_id: &str) -> Result<Option<ContactDetail>, StoreError> {
        read::contact(self, contact_id)
    }

    fn transitions(&self, filter: &TransitionFilter) -> Result<Vec<TransitionRow>, StoreError> {
        read::transitions(self, filter)
    }

    fn metrics(&self, query: &MetricQuery) -> Result<Vec<MetricRow>, StoreError> {
        read::metrics(self, query)
    }

    fn alerts(&self, active_only: bool) -> Result<Vec<Alert>, StoreError> {
        read::alerts(self, active_only)
    }

    fn dump(&self) -> Result<String, StoreError> {
        dump::dump(self)
    }

    fn prune(
        &mut self,
        now_ms: i64,
        retention: &Retention,
        limit: usize,
    ) -> Result<Pruned, StoreError> {
        prune::prune(self, now_ms, retention, limit)
    }

    fn table_stats(&self) -> Result<Vec<TableStats>, StoreError> {
        prune::table_stats(self)
    }

    fn outbox_insert(&mut self, entries: &[OutboxEntry]) -> Result<u64, StoreError> {
        outbox::insert(self, entries)
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
        outbox::claim(self, sink, worker, max_items, max_bytes, now_ms, lease_ms)
    }

    fn outbox_delivered(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        outbox::delivered(self, ids)
    }

    fn outbox_retry(&mut self, retries: &[(i64, i64, String)]) -> Result<(), StoreError> {
        outbox::retry(self, retries)
    }

    fn outbox_dead(&mut self, ids: &[i64], dead_letters: &[OutboxEntry]) -> Result<(), StoreError> {
        outbox::dead(self, ids, dead_letters)
    }

    fn outbox_release(&mut self, ids: &[i64]) -> Result<(), StoreError> {
        outbox::release(self, ids)
    }

    fn outbox_depth(&self, now_ms: i64) -> Result<Vec<OutboxDepth>, StoreError> {
        outbox::depth(self, now_ms)
    }

    fn outbox_len(&self) -> Result<u64, StoreError> {
        outbox::len(self)
    }

    fn outbox_peek(&self, sink: Option<&str>, limit: usize) -> Result<Vec<OutboxRow>, StoreError> {
        outbox::peek(self, sink, limit)
    }
}

#[cfg(test)]
mod tests;
