//! The PostgreSQL sink (`type = "postgres"`): routed items written into documented tables
//! for BI tools ([`schema`]): contact records upserted by ContactId so the newest
//! `LastUpdateTimestamp` wins, agent transitions, 15-minute metric intervals, and every
//! other item as an event.
//!
//! One [`Sink::deliver`] is one transaction. [`rows`] turns the items into rows first and
//! rejects those that cannot be rows (not JSON, a contact record that does not parse);
//! `write` then sends one multi-row statement per table. If the server refuses a row
//! (a data error: a `\u0000` that `jsonb` cannot hold, a value out of range), the
//! transaction is rolled back and written again item by item, each under a savepoint, so
//! only the items at fault are rejected. Anything else (the server unreachable, a
//! dropped connection, a deadlock, a timeout) retries the whole batch, on a new
//! connection: the sink reconnects on the next batch (and sets the tables up again), so a
//! restarted database delays delivery without losing a row.
//!
//! Connections are made without TLS, as the PostgreSQL store's are.

mod config;
pub mod rows;
pub mod schema;
mod write;

use std::time::{Duration, Instant};

use switchboard_telemetry::requests::outcome as outcome_label;
use tokio::sync::Mutex;
use tokio_postgres::Client;

pub use config::{PostgresSinkConfig, DEFAULT_MAX_ITEMS, DEFAULT_SCHEMA, DEFAULT_TIMEOUT_SECS};

use self::rows::Rows;
use self::write::Statements;
use super::{count_rejected, BatchHints, Item, Outcome, Sink};
use crate::pg::{self, describe, Owner};

/// The running PostgreSQL sink.
pub struct PostgresSink {
    name: String,
    config: PostgresSinkConfig,
    pg: tokio_postgres::Config,
    statements: Statements,
    /// The open connection (set up), if any; held for the whole of a batch.
    client: Mutex<Option<Client>>,
}

impl PostgresSink {
    /// A sink connecting with `pg` (see [`PostgresSinkConfig::build`]).
    pub fn new(name: &str, config: PostgresSinkConfig, pg: tokio_postgres::Config) -> Self {
        PostgresSink {
            name: name.to_owned(),
            statements: Statements::new(&config.schema),
            config,
            pg,
            client: Mutex::new(None),
        }
    }

    pub fn config(&self) -> &PostgresSinkConfig {
        &self.config
    }

    /// A new connection, with the tables set up (or checked).
    async fn connect(&self) -> Result<Client, Outcome> {
        // The connection ends when the client is dropped (a failed batch, the sink) or
        // the server goes away; the next batch then connects again.
        let mut client = pg::connect(&self.pg, Owner::Sink(self.name.clone()))
            .await
            .map_err(|e| {
                Outcome::retry(format!("cannot connect to PostgreSQL: {}", describe(&e)))
            })?;
        let schema = &self.config.schema;
        if self.config.create_tables {
            schema::create(&mut client, schema).await.map_err(|e| {
                Outcome::retry(format!(
                    "cannot create the tables in schema {schema}: {} (grant the user CREATE, \
                     or create them from the documented SQL and set create_tables = false)",
                    describe(&e)
                ))
            })?;
        } else {
            let missing = schema::missing(&client, schema).await.map_err(|e| {
                Outcome::retry(format!("cannot look for the tables: {}", describe(&e)))
            })?;
            if !missing.is_empty() {
                return Err(Outcome::retry(format!(
                    "schema {schema} lacks the tables {}: create them from the documented SQL, \
                     or set create_tables = true",
                    missing.join(", ")
                )));
            }
        }
        tracing::info!(sink = %self.name, schema = %schema, "connected to PostgreSQL");
        Ok(client)
    }

    /// Writes `rows` on the held connection (connecting first when there is none),
    /// settling `outcomes` of items rejected one by one. `Err` is the outcome of every
    /// item not settled; the connection is then dropped.
    async fn write(
        &self,
        held: &mut Option<Client>,
        rows: &Rows,
        outcomes: &mut [Option<Outcome>],
    ) -> Result<(), Outcome> {
        if held.as_ref().is_some_and(Client::is_closed) {
            tracing::info!(sink = %self.name, "postgres connection closed; reconnecting");
            *held = None;
        }
        let client = match held {
            Some(client) => client,
            None => held.insert(self.connect().await?),
        };
        // All rows in one statement per table.
        let tx = client.transaction().await.map_err(batch_failure)?;
        match self.statements.write(&tx, &rows.deduplicated()).await {
            Ok(()) => return tx.commit().await.map_err(batch_failure),
            Err(e) if is_row_error(&e) => {
                tracing::info!(
                    sink = %self.name, error = %describe(&e),
                    "a row was refused; writing the batch item by item"
                );
                tx.rollback().await.map_err(batch_failure)?;
            }
            Err(e) => return Err(batch_failure(e)),
        }
        // Item by item, each under a savepoint, rejecting the items the server refuses.
        let tx = client.transaction().await.map_err(batch_failure)?;
        for (i, outcome) in outcomes.iter_mut().enumerate() {
            if outcome.is_some() {
                continue;
            }
            let own = rows.only(|item| item == i);
            if own.is_empty() {
                continue;
            }
            tx.batch_execute("SAVEPOINT switchboard_item")
                .await
                .map_err(batch_failure)?;
            match self.statements.write(&tx, &own).await {
                Ok(()) => tx
                    .batch_execute("RELEASE SAVEPOINT switchboard_item")
                    .await
                    .map_err(batch_failure)?,
                Err(e) if is_row_error(&e) => {
                    tx.batch_execute("ROLLBACK TO SAVEPOINT switchboard_item")
                        .await
                        .map_err(batch_failure)?;
                    *outcome = Some(Outcome::reject(format!(
                        "PostgreSQL refused the row: {}",
                        describe(&e)
                    )));
                }
                Err(e) => return Err(batch_failure(e)),
            }
        }
        tx.commit().await.map_err(batch_failure)
    }
}

#[async_trait::async_trait]
impl Sink for PostgresSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        self.config.hints()
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        let (rows, mut outcomes) = rows::rows(items);
        if !rows.is_empty() {
            let timeout = Duration::from_secs(self.config.timeout_secs);
            let mut held = self.client.lock().await;
            let started = Instant::now();
            let result =
                tokio::time::timeout(timeout, self.write(&mut held, &rows, &mut outcomes)).await;
            let label = match result {
                Ok(Ok(())) => outcome_label::DELIVERED,
                _ => outcome_label::RETRY,
            };
            switchboard_telemetry::sink_request(&self.name, label, started.elapsed().as_secs_f64());
            let failure = match result {
                Ok(Ok(())) => None,
                Ok(Err(outcome)) => Some(outcome),
                Err(_) => Some(Outcome::retry(format!(
                    "PostgreSQL did not finish the batch within {} s",
                    self.config.timeout_secs
                ))),
            };
            if let Some(outcome) = failure {
                // The connection's state is unknown (mid-transaction, broken): a new one
                // next time. Dropping it rolls back what the server had.
                *held = None;
                tracing::warn!(sink = %self.name, outcome = ?outcome, "postgres batch failed");
                for o in outcomes.iter_mut().filter(|o| o.is_none()) {
                    *o = Some(outcome.clone());
                }
            }
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or(Outcome::Delivered))
            .collect();
        count_rejected(&self.name, &outcomes);
        outcomes
    }
}

/// A failure of the whole batch: retried.
fn batch_failure(e: tokio_postgres::Error) -> Outcome {
    Outcome::retry(format!("PostgreSQL: {}", describe(&e)))
}

/// Whether the server refused a row for what it holds (data exceptions, constraint
/// violations, program limits such as an index row too large), rather than for the
/// state of the server or the connection.
fn is_row_error(e: &tokio_postgres::Error) -> bool {
    e.code()
        .is_some_and(|code| matches!(&code.code()[..2], "22" | "23" | "54"))
}
