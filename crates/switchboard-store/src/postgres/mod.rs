//! The shared store: PostgreSQL, for several switchboard workers writing one database
//! (one consuming agent events from some Kinesis shards, another contact records, a third
//! contact events...), and for reporting from outside.
//!
//! It keeps the [`Store`] semantics of the SQLite store — one transaction per batch,
//! additive metric deltas with the longest wait as a maximum, the newest contact record
//! by `LastUpdateTimestamp`, triggers kept once, alerts upserted, a canonical dump — and
//! makes every write safe when workers commit at the same time:
//!
//! - **metric cells** are upserted with `value = value + delta` (and `GREATEST` for the
//!   longest wait): deltas from any number of workers add up;
//! - **transitions** are appended; their sequence numbers are taken at commit under an
//!   `EXCLUSIVE` lock on the table (readers are not blocked), so they follow commit order
//!   with no gaps and a reader paging with `after_seq` never skips a row that commits
//!   later with a smaller number;
//! - **agents** are written whole by the worker that owns the agent's shard; after a
//!   lease moves, the new owner reads the agent back with [`Store::agent`];
//! - **contacts** may be written by several workers (agent events on one, contact events
//!   or records on another): a commit locks the stored rows (`SELECT ... FOR UPDATE`, in
//!   key order), merges its view into them (see [`merge`]) and writes the result, while
//!   the timeline entries are rows of their own keyed by their content, inserted with
//!   `ON CONFLICT DO NOTHING`, so each worker's entries add to the others';
//! - **contact records**, **triggers**, **alerts** and **positions** are keyed upserts
//!   that do not depend on what else is stored;
//! - **engine meta** (clocks, counters, waiting contacts, alert timers) is per worker:
//!   each restores its own;
//! - the **outbox** is shared: any worker's pipeline queues into it, and sink workers on
//!   any host claim from it with `FOR UPDATE SKIP LOCKED` and a lease (see [`crate::outbox`]),
//!   each row held by one worker at a time.
//!
//! Rows are written in one fixed table order and in key order within a table, which keeps
//! two commits from waiting on each other in a cycle; if PostgreSQL still reports a
//! deadlock or a serialization failure, the whole commit is retried.
//!
//! TLS is not built in (no OpenSSL, no rustls here): connect over a private network, a
//! Unix socket or an SSH tunnel, or put a TLS-terminating proxy (pgbouncer, stunnel) in
//! front. A URL that asks for `sslmode=require` is refused by the driver with a message
//! that says so.
//!
//! The client is the synchronous `postgres` crate: call the store from a plain thread or
//! `spawn_blocking`, never from inside an async task.

mod dump;
mod merge;
mod outbox;
mod prune;
mod read;
pub mod schema;
#[cfg(test)]
mod tests;
mod write;

use std::cell::RefCell;
use std::str::FromStr;
use std::time::Duration;

use postgres::{Client, Config, NoTls};
use switchboard_engine::{AgentState, Alert, ContactTimeline};

pub use merge::merge;

use crate::query::{
    AgentFilter, ContactDetail, ContactFilter, MetricQuery, MetricRow, TransitionFilter,
    TransitionRow,
};
use crate::{Batch, Loaded, OutboxDepth, OutboxEntry, OutboxRow, Positions, Store, StoreError};

/// The worker name used when none is given.
pub const DEFAULT_WORKER: &str = "default";

/// How long to wait for the server when connecting, unless the URL says otherwise.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

/// A store in a PostgreSQL database.
pub struct PostgresStore {
    /// A `RefCell` because the query methods take `&self` while the client needs `&mut`;
    /// the store is `Send` but not shared between threads without a lock.
    client: RefCell<Client>,
    config: Config,
    /// The URL without its password, for messages.
    url: String,
    /// Whose engine meta this handle reads and writes.
    worker: String,
}

impl std::fmt::Debug for PostgresStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresStore")
            .field("url", &self.url)
            .field("worker", &self.worker)
            .finish()
    }
}

impl PostgresStore {
    /// Connects to `url` (`postgres://user:password@host:port/database?options...`, any
    /// form libpq accepts), creating or migrating the schema, as worker `worker`.
    ///
    /// Tables are created in the first schema of the connection's `search_path`; to keep
    /// them apart from other tables, give the URL `options=-csearch_path%3Dswitchboard`
    /// (the schema must exist) or use a database of their own.
    pub fn open(url: &str, worker: &str) -> Result<Self, StoreError> {
        let shown = redact(url);
        let mut config = Config::from_str(url).map_err(|e| StoreError::Url {
            url: shown.clone(),
            reason: e.to_string(),
        })?;
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(CONNECT_TIMEOUT);
        }
        if config.get_application_name().is_none() {
            config.application_name("switchboard");
        }
        let client = connect(&config, &shown)?;
        let store = PostgresStore {
            client: RefCell::new(client),
            config,
            url: shown,
            worker: worker.to_owned(),
        };
        store.migrate()?;
        Ok(store)
    }

    /// The URL this store was opened with, password hidden.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The worker whose engine meta this handle reads and writes.
    pub fn worker(&self) -> &str {
        &self.worker
    }

    /// The schema version of the open store.
    pub fn schema_version(&self) -> Result<i64, StoreError> {
        let mut client = self.client()?;
        let row = client
            .query_one("SELECT max(version) FROM schema_version", &[])
            .map_err(self.err("reading the schema version"))?;
        Ok(row.get::<_, Option<i32>>(0).map_or(0, i64::from))
    }

    fn migrate(&self) -> Result<(), StoreError> {
        let mut client = self.client()?;
        let err = self.err("migrating the schema");
        let mut tx = client.transaction().map_err(&err)?;
        tx.execute(
            "SELECT pg_advisory_xact_lock($1)",
            &[&schema::MIGRATION_LOCK],
        )
        .map_err(&err)?;
        tx.batch_execute("CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL)")
            .map_err(&err)?;
        let found = tx
            .query_one("SELECT max(version) FROM schema_version", &[])
            .map_err(&err)?
            .get::<_, Option<i32>>(0)
            .map_or(0, i64::from);
        if found > schema::VERSION {
            return Err(StoreError::PostgresNewerSchema {
                url: self.url.clone(),
                found,
                supported: schema::VERSION,
            });
        }
        for sql in &schema::MIGRATIONS[found.max(0) as usize..] {
            tx.batch_execute(sql).map_err(&err)?;
        }
        if found < schema::VERSION {
            let version = schema::VERSION as i32;
            tx.execute("DELETE FROM schema_version", &[])
                .map_err(&err)?;
            tx.execute(
                "INSERT INTO schema_version (version) VALUES ($1)",
                &[&version],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)
    }

    /// The client, reconnected first if the connection was lost (a server restart, an
    /// idle timeout): a long-running pipeline survives both.
    fn client(&self) -> Result<std::cell::RefMut<'_, Client>, StoreError> {
        let mut client = self.client.borrow_mut();
        if client.is_closed() {
            tracing::warn!(store = %self.url, "connection to PostgreSQL lost, reconnecting");
            *client = connect(&self.config, &self.url)?;
        }
        Ok(client)
    }

    /// Maps a PostgreSQL error to a [`StoreError`] naming this store and `context`.
    fn err(&self, context: &'static str) -> impl Fn(postgres::Error) -> StoreError + '_ {
        move |source| StoreError::Postgres {
            url: self.url.clone(),
            context,
            source,
        }
    }

    fn corrupt(&self, table: &'static str, key: &str, source: serde_json::Error) -> StoreError {
        StoreError::PostgresCorrupt {
            url: self.url.clone(),
            table,
            key: key.to_owned(),
            source,
        }
    }
}

fn connect(config: &Config, shown: &str) -> Result<Client, StoreError> {
    config
        .connect(NoTls)
        .map_err(|source| StoreError::PostgresConnect {
            url: shown.to_owned(),
            source,
        })
}

/// `url` with the password (if any) replaced by `***`, for logs and messages.
pub fn redact(url: &str) -> String {
    let Some(scheme_end) = url.find("://") else {
        // The key=value form: hide a password=... pair.
        return url
            .split(' ')
            .map(|kv| {
                if kv.starts_with("password=") {
                    "password=***"
                } else {
                    kv
                }
            })
            .collect::<Vec<_>>()
            .join(" ");
    };
    let rest = &url[scheme_end + 3..];
    let authority_end = rest.find(['/', '?']).unwrap_or(rest.len());
    let authority = &rest[..authority_end];
    let Some(at) = authority.rfind('@') else {
        return url.to_owned();
    };
    let userinfo = &authority[..at];
    let Some(colon) = userinfo.find(':') else {
        return url.to_owned();
    };
    format!(
        "{}{}:***{}",
        &url[..scheme_end + 3],
        &userinfo[..colon],
        &rest[at..]
    )
}

impl Store for PostgresStore {
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
        retention: &crate::Retention,
        limit: usize,
    ) -> Result<crate::Pruned, StoreError> {
        prune::prune(self, now_ms, retention, limit)
    }

    fn table_stats(&self) -> Result<Vec<crate::TableStats>, StoreError> {
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
mod redact_tests {
    use super::redact;

    #[test]
    fn hides_passwords_only() {
        assert_eq!(
            redact("postgres://sb:s3cret@db:5432/sb?sslmode=disable"),
            "postgres://sb:***@db:5432/sb?sslmode=disable"
        );
        assert_eq!(redact("postgres://sb@db/sb"), "postgres://sb@db/sb");
        assert_eq!(redact("postgresql://db/sb"), "postgresql://db/sb");
        assert_eq!(
            redact("host=db user=sb password=x dbname=sb"),
            "host=db user=sb password=*** dbname=sb"
        );
        // An @ in the query is not a password separator.
        assert_eq!(
            redact("postgres://db/sb?application_name=a@b"),
            "postgres://db/sb?application_name=a@b"
        );
    }
}
