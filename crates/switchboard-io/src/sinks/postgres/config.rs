//! `PostgresSinkConfig`: where the database is, which schema the tables live in, and
//! whether the sink creates them.

use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::PostgresSink;
use crate::pg;
use crate::problems::{first_problem, join, Problems};
use crate::sinks::{BatchHints, BuildError};

/// Default of `schema`.
pub const DEFAULT_SCHEMA: &str = "switchboard_bi";
/// Default of `max_items`: rows per transaction.
pub const DEFAULT_MAX_ITEMS: usize = 1000;
/// Default of `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 30;

/// PostgreSQL tables for BI tools (`type = "postgres"`): contact records upserted by
/// ContactId (the newest `LastUpdateTimestamp` wins), agent transitions, 15-minute metric
/// intervals, and every other item as an event. The tables are documented in
/// [`super::schema`].
///
/// ```toml
/// [[sinks]]
/// name = "bi"
/// type = "postgres"
/// url_env = "BI_DATABASE_URL"
/// schema = "switchboard_bi"
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PostgresSinkConfig {
    /// Connection URL, e.g. `postgres://bi_writer:secret@db.internal:5432/analytics`.
    /// Prefer `url_env` to keep the password out of the config. Connections are made
    /// without TLS, as the PostgreSQL store's are: reach a remote server through a local
    /// proxy or tunnel.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Environment variable holding the connection URL (instead of `url`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url_env: Option<String>,
    /// The schema holding the tables (created when missing, with `create_tables`):
    /// lower-case letters, digits and `_`, not starting with a digit.
    #[serde(default = "default_schema")]
    pub schema: String,
    /// Create the schema, tables and indexes when the sink connects (idempotent). Turn
    /// it off when a DBA creates them from the documented SQL; the sink then checks that
    /// they exist.
    #[serde(default = "default_true")]
    pub create_tables: bool,
    /// Items written per transaction, 1 to 10000.
    #[serde(default = "default_max_items")]
    pub max_items: usize,
    /// Seconds a batch (connecting included) may take before it is abandoned and
    /// retried later, 1 to 600.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
}

fn default_schema() -> String {
    DEFAULT_SCHEMA.into()
}
fn default_true() -> bool {
    true
}
fn default_max_items() -> usize {
    DEFAULT_MAX_ITEMS
}
fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}

impl PostgresSinkConfig {
    /// A BI database whose URL is in `BI_DATABASE_URL`.
    pub fn example() -> Self {
        PostgresSinkConfig {
            url: None,
            url_env: Some("BI_DATABASE_URL".into()),
            schema: DEFAULT_SCHEMA.into(),
            create_tables: true,
            max_items: DEFAULT_MAX_ITEMS,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
        }
    }

    /// Reports every problem under `key` (`sinks[4]`): exactly one of `url` and
    /// `url_env`, a URL that parses, the schema name, the bounds.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        pg::check_url(self.url.as_deref(), self.url_env.as_deref(), key, problems);
        if let Err(why) = check_schema(&self.schema) {
            problems.push(join(key, "schema"), why);
        }
        let max_items = join(key, "max_items");
        problems.check_range(max_items, self.max_items, 1..=10_000, "1 to 10000");
        let timeout = join(key, "timeout_secs");
        problems.check_range(timeout, self.timeout_secs, 1..=600, "1 to 600");
    }

    /// Transactions of up to `max_items`, written as soon as items wait.
    pub fn hints(&self) -> BatchHints {
        BatchHints {
            max_items: self.max_items,
            max_bytes: 16 * 1024 * 1024,
            max_wait: Duration::ZERO,
        }
    }

    /// Builds the sink: reads `url_env` and parses the URL. The connection opens at the
    /// first batch (and again after it drops), so a database that is down delays
    /// delivery, not startup.
    pub async fn build(&self, name: &str) -> Result<PostgresSink, BuildError> {
        if let Some(reason) = first_problem(|p| self.check("", p)) {
            return Err(BuildError::sink(name, reason));
        }
        let mut config = pg::resolve_url(self.url.as_deref(), self.url_env.as_deref())
            .map_err(|e| BuildError::sink(name, e))?;
        if config.get_application_name().is_none() {
            config.application_name(format!("switchboard sink {name}"));
        }
        if config.get_connect_timeout().is_none() {
            config.connect_timeout(Duration::from_secs(self.timeout_secs.min(10)));
        }
        switchboard_telemetry::register_sink(name);
        Ok(PostgresSink::new(name, self.clone(), config))
    }
}

fn check_schema(schema: &str) -> Result<(), String> {
    let ok = schema.len() <= 63
        && schema
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_lowercase() || c == '_')
        && schema
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_');
    if !ok || schema.starts_with("pg_") {
        return Err(format!(
            "{schema:?} is not a schema name the sink uses: 1 to 63 lower-case letters, digits \
             and '_', not starting with a digit or pg_"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_checks_clean_and_round_trips() {
        let example = PostgresSinkConfig::example();
        let mut problems = Problems::new("t.toml");
        example.check("sinks[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        let json = serde_json::to_string(&example).unwrap();
        assert_eq!(
            serde_json::from_str::<PostgresSinkConfig>(&json).unwrap(),
            example
        );
        let c: PostgresSinkConfig =
            serde_json::from_str(r#"{"url": "postgres://u@h/db"}"#).unwrap();
        assert_eq!(c.schema, "switchboard_bi");
        assert!(c.create_tables);
        assert!(
            serde_json::from_str::<PostgresSinkConfig>(r#"{"url": "x", "table": "t"}"#).is_err()
        );
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let c = PostgresSinkConfig {
            url: Some("mysql://x".into()),
            url_env: None,
            schema: "BI".into(),
            create_tables: true,
            max_items: 0,
            timeout_secs: 0,
        };
        let mut problems = Problems::new("t.toml");
        c.check("sinks[4]", &mut problems);
        let keys: Vec<&str> = problems.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sinks[4].url",
                "sinks[4].schema",
                "sinks[4].max_items",
                "sinks[4].timeout_secs"
            ],
            "{problems}"
        );
        let both = PostgresSinkConfig {
            url: Some("postgres://h/db".into()),
            ..PostgresSinkConfig::example()
        };
        let mut problems = Problems::new("t.toml");
        both.check("s", &mut problems);
        assert_eq!(problems.list[0].key, "s.url");
        for bad in ["", "1abc", "pg_catalog", "a-b", &"a".repeat(64)] {
            assert!(check_schema(bad).is_err(), "{bad:?}");
        }
    }

    #[tokio::test]
    async fn build_needs_the_url_variable() {
        let c = PostgresSinkConfig {
            url_env: Some("SWITCHBOARD_TEST_UNSET_BI_URL".into()),
            ..PostgresSinkConfig::example()
        };
        let e = c.build("bi").await.err().unwrap();
        assert!(
            e.to_string().contains("SWITCHBOARD_TEST_UNSET_BI_URL"),
            "{e}"
        );
    }
}
