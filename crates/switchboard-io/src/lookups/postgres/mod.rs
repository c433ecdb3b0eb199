//! A PostgreSQL query as a lookup (`type = "postgres"`), e.g.
//! `SELECT name AS company, tier FROM customers WHERE phone = $1`.
//!
//! The query is prepared once per connection and run for each key with the key as `$1`;
//! the queries of one call go out together on one connection (tokio-postgres pipelines
//! them), at most [`MAX_IN_FLIGHT`] at a time. The first row a key returns is its answer,
//! as a JSON object of its columns ([`column_to_json`]); no row is a miss.
//!
//! The connection opens on first use and again after it drops (a restarted server, an
//! idle timeout), so a database that is down delays enrichment without stopping
//! anything; a call that finds its connection gone mid-way tries once more, at once, on
//! a new one. Errors reaching the server, and server errors of the classes that pass
//! (connection, resources, operator intervention, serialization), are retryable; errors
//! in the query itself (a missing column, a type that does not match) are not.
//!
//! Connections are made without TLS, as the PostgreSQL store's are: reach a remote
//! server through a local proxy or tunnel.

use std::collections::HashMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use tokio::sync::Mutex;
use tokio::task::JoinSet;
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Row, Statement};

use super::config::{check_name, check_timeout, default_timeout_ms, CacheSettings};
use super::{Lookup, LookupError};
use crate::pg::{self, describe, Owner};
use crate::problems::{join, Problems};
use crate::sinks::BuildError;

mod query;
mod values;

pub use self::query::check_query;
use self::values::{column_kind, column_to_json, Column, Raw};

/// Queries of one call in flight on the connection at once.
pub const MAX_IN_FLIGHT: usize = 64;

/// The PostgreSQL lookup (`type = "postgres"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresLookupConfig {
    /// The lookup's name, which rules refer to (metrics carry it as `lookup`).
    pub name: String,
    /// Connection URL, e.g. `postgres://user:password@host:5432/crm`. Prefer `url_env`
    /// to keep the password out of the config.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Environment variable holding the connection URL (instead of `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// The query, with `$1` standing for the key and no other parameter, e.g.
    /// `SELECT name AS company, tier FROM customers WHERE phone = $1`. Its first row is
    /// the answer (add `LIMIT 1` when several may match), its columns the fields. Column
    /// types converted: text, integers, floats, numeric (as a string, exact), bool,
    /// json/jsonb, timestamps (RFC 3339; `timestamp` without time zone read as UTC),
    /// date, uuid, bytea (base64), enums; cast others to text (`col::text`).
    pub query: String,
    /// Milliseconds one lookup call (connecting included) may take; past it the call
    /// fails and enrichment retries it later.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long answers are kept.
    #[serde(default)]
    pub cache: CacheSettings,
}

impl PostgresLookupConfig {
    /// A CRM's customer table, the URL in `CRM_DATABASE_URL`.
    pub fn example() -> Self {
        PostgresLookupConfig {
            name: "crm".into(),
            url: None,
            url_env: Some("CRM_DATABASE_URL".into()),
            query: "SELECT name AS company, tier FROM customers WHERE phone = $1".into(),
            timeout_ms: default_timeout_ms(),
            cache: CacheSettings::default(),
        }
    }

    /// Reports every problem under `key`: exactly one of `url` and `url_env`, a URL
    /// that parses, a query with `$1` and no other parameter.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        check_name(&self.name, key, problems);
        pg::check_url(self.url.as_deref(), self.url_env.as_deref(), key, problems);
        if let Err(reason) = check_query(&self.query) {
            problems.push(join(key, "query"), reason);
        }
        check_timeout(self.timeout_ms, key, problems);
        self.cache.check(&join(key, "cache"), problems);
    }
}

/// A query answering lookups.
pub struct PostgresLookup {
    name: String,
    config: tokio_postgres::Config,
    query: String,
    /// The open connection, with the query prepared on it.
    session: Mutex<Option<Arc<Session>>>,
}

struct Session {
    client: Client,
    statement: Statement,
    param: Param,
    columns: Vec<(String, Column)>,
}

/// How the key is passed, by the type the server inferred for `$1`.
#[derive(Debug, Clone, Copy)]
enum Param {
    Text,
    Int2,
    Int4,
    Int8,
}

impl PostgresLookup {
    /// The lookup, its connection opened on first use. Fails when `url_env` is unset or
    /// a URL does not parse, or the query's placeholders are wrong.
    pub fn new(config: &PostgresLookupConfig) -> Result<Self, BuildError> {
        let fail = |reason: String| BuildError::lookup(&config.name, reason);
        let parsed =
            pg::resolve_url(config.url.as_deref(), config.url_env.as_deref()).map_err(fail)?;
        check_query(&config.query).map_err(|e| fail(format!("query {e}")))?;
        Ok(PostgresLookup {
            name: config.name.clone(),
            config: parsed,
            query: config.query.clone(),
            session: Mutex::new(None),
        })
    }

    fn error(&self, reason: impl Into<String>, retryable: bool) -> LookupError {
        LookupError {
            lookup: self.name.clone(),
            reason: reason.into(),
            retryable,
        }
    }

    fn pg_error(&self, doing: &str, e: &tokio_postgres::Error) -> LookupError {
        self.error(format!("{doing}: {}", describe(e)), retryable(e))
    }

    /// The open session, connecting (and preparing) when there is none or it dropped.
    async fn session(&self) -> Result<Arc<Session>, LookupError> {
        let mut held = self.session.lock().await;
        if let Some(session) = held.as_ref() {
            if !session.client.is_closed() {
                return Ok(Arc::clone(session));
            }
            tracing::info!(lookup = %self.name, "postgres connection closed; reconnecting");
        }
        *held = None;
        // The connection ends when the client is dropped (the lookup, or a replaced
        // session) or the server goes away; the next call then reconnects.
        let client = pg::connect(&self.config, Owner::Lookup(self.name.clone()))
            .await
            .map_err(|e| self.pg_error("cannot connect to PostgreSQL", &e))?;
        let statement = client
            .prepare(&self.query)
            .await
            .map_err(|e| self.pg_error("the query does not prepare", &e))?;
        let session = Arc::new(self.describe_statement(client, statement)?);
        *held = Some(Arc::clone(&session));
        Ok(session)
    }

    /// Checks the prepared query's parameter and column types.
    fn describe_statement(
        &self,
        client: Client,
        statement: Statement,
    ) -> Result<Session, LookupError> {
        let [param] = statement.params() else {
            return Err(self.error(
                format!(
                    "the query takes {} parameters; it must take exactly one, $1",
                    statement.params().len()
                ),
                false,
            ));
        };
        let param = match *param {
            Type::INT2 => Param::Int2,
            Type::INT4 => Param::Int4,
            Type::INT8 => Param::Int8,
            ref t if <&str as ToSql>::accepts(t) => Param::Text,
            ref t => {
                return Err(self.error(
                    format!(
                        "the query compares $1 as {t}, but keys are text: write `$1::text` \
                         and cast in SQL where needed (e.g. `WHERE id = ($1::text)::{t}`)"
                    ),
                    false,
                ))
            }
        };
        let mut columns = Vec::new();
        for column in statement.columns() {
            let Some(kind) = column_kind(column.type_()) else {
                return Err(self.error(
                    format!(
                        "column {} is of type {}, which the lookup does not convert: cast it \
                         in the query, e.g. `{0}::text`",
                        column.name(),
                        column.type_()
                    ),
                    false,
                ));
            };
            columns.push((column.name().to_owned(), kind));
        }
        Ok(Session {
            client,
            statement,
            param,
            columns,
        })
    }

    /// Forgets `session` if it is still the current one (its connection failed).
    async fn drop_session(&self, session: &Arc<Session>) {
        let mut held = self.session.lock().await;
        if held.as_ref().is_some_and(|s| Arc::ptr_eq(s, session)) {
            *held = None;
        }
    }
}

#[async_trait::async_trait]
impl Lookup for PostgresLookup {
    fn name(&self) -> &str {
        &self.name
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
        if keys.is_empty() {
            return Ok(HashMap::new());
        }
        match self.run(keys).await {
            // The connection died under the call (a restarted server, an idle timeout):
            // once more, on a new one.
            Err(Failure::ConnectionLost(e)) => {
                tracing::info!(lookup = %self.name, reason = %e.reason, "postgres connection lost; retrying on a new one");
                self.run(keys).await.map_err(Failure::into_error)
            }
            other => other.map_err(Failure::into_error),
        }
    }
}

/// Why a call failed, telling a connection lost mid-call (worth one more try at once)
/// from everything else.
enum Failure {
    ConnectionLost(LookupError),
    Other(LookupError),
}

impl Failure {
    fn into_error(self) -> LookupError {
        match self {
            Failure::ConnectionLost(e) | Failure::Other(e) => e,
        }
    }
}

/// The connection is gone: closed, an I/O error, or the server ending the session
/// (connection exceptions 08, shutdowns 57P01 to 57P03).
fn connection_lost(e: &tokio_postgres::Error) -> bool {
    match e.as_db_error() {
        None => true,
        Some(db) => {
            let code = db.code().code();
            code.starts_with("08") || code.starts_with("57P0")
        }
    }
}

impl PostgresLookup {
    /// Runs the query for every key on the current session, [`MAX_IN_FLIGHT`] at once.
    async fn run(&self, keys: &[String]) -> Result<HashMap<String, Value>, Failure> {
        let session = self.session().await.map_err(Failure::Other)?;
        let mut queries = JoinSet::new();
        let mut pending = keys.iter().cloned();
        let mut found = HashMap::new();
        let mut failure: Option<Failure> = None;
        loop {
            while failure.is_none() && queries.len() < MAX_IN_FLIGHT {
                let Some(key) = pending.next() else { break };
                let session = Arc::clone(&session);
                queries.spawn(async move {
                    let row = session.query(&key).await;
                    (key, row)
                });
            }
            let Some(done) = queries.join_next().await else {
                break;
            };
            let (key, row) = match done {
                Ok(done) => done,
                Err(e) => {
                    let e = self.error(format!("query task failed: {e}"), true);
                    failure.get_or_insert(Failure::Other(e));
                    continue;
                }
            };
            match row {
                Ok(Some(row)) => match session.row_to_json(&row) {
                    Ok(value) => {
                        found.insert(key, value);
                    }
                    Err(reason) => {
                        failure.get_or_insert(Failure::Other(self.error(reason, false)));
                    }
                },
                Ok(None) => {}
                Err(e) => {
                    let error = self.pg_error("the query failed", &e);
                    if connection_lost(&e) {
                        self.drop_session(&session).await;
                        failure.get_or_insert(Failure::ConnectionLost(error));
                    } else {
                        failure.get_or_insert(Failure::Other(error));
                    }
                }
            }
        }
        match failure {
            Some(e) => Err(e),
            None => Ok(found),
        }
    }
}

impl Session {
    /// The key's first row; `None` when there is none or the key cannot be a value of an
    /// integer `$1`.
    async fn query(&self, key: &str) -> Result<Option<Row>, tokio_postgres::Error> {
        let rows = match self.param {
            Param::Text => self.client.query(&self.statement, &[&key]).await,
            Param::Int2 => match key.trim().parse::<i16>() {
                Ok(k) => self.client.query(&self.statement, &[&k]).await,
                Err(_) => return Ok(None),
            },
            Param::Int4 => match key.trim().parse::<i32>() {
                Ok(k) => self.client.query(&self.statement, &[&k]).await,
                Err(_) => return Ok(None),
            },
            Param::Int8 => match key.trim().parse::<i64>() {
                Ok(k) => self.client.query(&self.statement, &[&k]).await,
                Err(_) => return Ok(None),
            },
        }?;
        Ok(rows.into_iter().next())
    }

    fn row_to_json(&self, row: &Row) -> Result<Value, String> {
        let mut object = Map::new();
        for (i, (name, kind)) in self.columns.iter().enumerate() {
            let raw: Option<Raw<'_>> = row
                .try_get(i)
                .map_err(|e| format!("column {name}: {}", describe(&e)))?;
            let value = match raw {
                None => Value::Null,
                Some(Raw(bytes)) => column_to_json(*kind, bytes)
                    .ok_or_else(|| format!("column {name}: the server sent a malformed value"))?,
            };
            object.insert(name.clone(), value);
        }
        Ok(Value::Object(object))
    }
}

/// Worth retrying: anything short of a server error, and server errors of the classes
/// that pass (connection 08, serialization 40, resources 53, operator intervention 57,
/// system 58, lock not available 55P03).
fn retryable(e: &tokio_postgres::Error) -> bool {
    let Some(db) = e.as_db_error() else {
        return true;
    };
    let code = db.code().code();
    matches!(&code[..2.min(code.len())], "08" | "40" | "53" | "57" | "58") || code == "55P03"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_wants_one_url_source_that_parses() {
        let mut config = PostgresLookupConfig::example();
        let mut problems = Problems::new("f");
        config.check("lookups[1]", &mut problems);
        assert!(problems.is_empty(), "{problems}");

        config.url = Some("postgres://u:secret@h/db?sslmode=bogus".into());
        config.url_env = None;
        config.query = "SELECT 1 WHERE $2 = 'x'".into();
        let mut problems = Problems::new("f");
        config.check("lookups[1]", &mut problems);
        let text = problems.to_string();
        assert!(text.contains("lookups[1].url:"), "{text}");
        assert!(text.contains("lookups[1].query:"), "{text}");
        assert!(!text.contains("secret"), "the password leaked: {text}");

        config.url_env = Some("X".into());
        let mut problems = Problems::new("f");
        config.check("k", &mut problems);
        assert!(problems.to_string().contains("not both"), "{problems}");
    }

    #[test]
    fn build_needs_the_url_variable() {
        let config = PostgresLookupConfig {
            url_env: Some("SWITCHBOARD_TEST_SURELY_UNSET_VARIABLE".into()),
            ..PostgresLookupConfig::example()
        };
        let err = PostgresLookup::new(&config).err().expect("an error");
        assert!(
            err.reason
                .contains("SWITCHBOARD_TEST_SURELY_UNSET_VARIABLE"),
            "{err}"
        );
    }
}
