//! `[[lookups]]`: one table per lookup, its `type` saying which kind of table it reads.
//!
//! Each kind's fields are its own `…LookupConfig` (in the kind's module), and each of
//! those carries the settings every lookup shares: its `name` (what rules refer to and
//! what metrics are labelled with), a `timeout_ms` and a `cache` sub-table. A config
//! checks itself ([`LookupConfig::check`], every problem with its key path) without
//! touching the network, and [`LookupConfig::build`] returns the running lookup: the
//! table behind the timeout, behind the [`Cached`] layer.
//!
//! The enum is internally tagged (`type = "dynamodb"`), and each kind's struct denies
//! unknown fields. A config loader that wants exact key paths in its errors can also
//! remove `type` itself, look it up in [`TYPES`], and deserialize that kind's struct.

use std::sync::Arc;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::cache::Cached;
use super::dynamodb::{DynamoDbLookup, DynamoDbLookupConfig};
use super::file::{FileLookup, FileLookupConfig};
use super::postgres::{PostgresLookup, PostgresLookupConfig};
use super::{Lookup, LookupError};
use crate::problems::{first_problem, join, Problems};
use crate::sinks::BuildError;

/// One lookup, by `type`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum LookupConfig {
    /// A DynamoDB table read with BatchGetItem (up to 100 keys a request), e.g. a
    /// customer table keyed by phone number.
    Dynamodb(DynamoDbLookupConfig),
    /// A parameterised PostgreSQL query run for each key (`$1`), its first row the answer.
    Postgres(PostgresLookupConfig),
    /// A CSV or JSON file held in memory, reloaded when it changes.
    File(FileLookupConfig),
}

/// The `type` names, in the order the docs list them.
pub const TYPES: &[&str] = &["dynamodb", "postgres", "file"];

/// Longest TTL accepted (a year): longer is a mistake, and keeps deadlines representable.
pub const MAX_TTL_SECS: u64 = 365 * 24 * 3600;

/// Default of `timeout_ms`.
pub const DEFAULT_TIMEOUT_MS: u64 = 5_000;

pub(crate) fn default_timeout_ms() -> u64 {
    DEFAULT_TIMEOUT_MS
}

/// How long a lookup's answers are kept (`cache = { ttl_secs = 300, ... }`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CacheSettings {
    /// Seconds a value found in the table is kept before it is asked for again. 0 keeps
    /// nothing.
    #[serde(default = "default_ttl_secs")]
    pub ttl_secs: u64,
    /// Seconds a key the table does not have is remembered as missing (usually shorter
    /// than `ttl_secs`, so a customer added to the table is found soon). 0 asks again
    /// every time.
    #[serde(default = "default_miss_ttl_secs")]
    pub miss_ttl_secs: u64,
    /// Most keys held (found and missing together); beyond it the least recently used
    /// are dropped. 0 turns the cache off.
    #[serde(default = "default_max_entries")]
    pub max_entries: usize,
}

fn default_ttl_secs() -> u64 {
    300
}
fn default_miss_ttl_secs() -> u64 {
    60
}
fn default_max_entries() -> usize {
    100_000
}

impl Default for CacheSettings {
    fn default() -> Self {
        CacheSettings {
            ttl_secs: default_ttl_secs(),
            miss_ttl_secs: default_miss_ttl_secs(),
            max_entries: default_max_entries(),
        }
    }
}

impl CacheSettings {
    /// No caching: every key goes to the table (metrics are still recorded).
    pub const OFF: CacheSettings = CacheSettings {
        ttl_secs: 0,
        miss_ttl_secs: 0,
        max_entries: 0,
    };

    pub fn ttl(&self) -> Duration {
        Duration::from_secs(self.ttl_secs.min(MAX_TTL_SECS))
    }

    pub fn miss_ttl(&self) -> Duration {
        Duration::from_secs(self.miss_ttl_secs.min(MAX_TTL_SECS))
    }

    /// Reports TTLs beyond [`MAX_TTL_SECS`]; `key` is the path of the `cache` table.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        for (field, value) in [
            ("ttl_secs", self.ttl_secs),
            ("miss_ttl_secs", self.miss_ttl_secs),
        ] {
            if value > MAX_TTL_SECS {
                problems.push(
                    join(key, field),
                    format!("{value} is more than a year; at most {MAX_TTL_SECS}"),
                );
            }
        }
    }
}

/// Reports an empty or badly formed lookup name (rules refer to it, metrics carry it).
pub(crate) fn check_name(name: &str, key: &str, problems: &mut Problems) {
    let path = join(key, "name");
    if name.trim().is_empty() {
        problems.push(path, "is empty: give the lookup a name rules can refer to");
    } else if !name
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
    {
        problems.push(
            path,
            format!("{name:?}: use letters, digits, `_`, `-` and `.` only"),
        );
    }
}

/// Reports a zero or absurd `timeout_ms`.
pub(crate) fn check_timeout(timeout_ms: u64, key: &str, problems: &mut Problems) {
    if timeout_ms == 0 {
        problems.push(join(key, "timeout_ms"), "must be positive");
    } else if timeout_ms > 600_000 {
        problems.push(
            join(key, "timeout_ms"),
            format!("{timeout_ms} is more than 10 minutes; at most 600000"),
        );
    }
}

impl LookupConfig {
    /// The configured name.
    pub fn name(&self) -> &str {
        match self {
            LookupConfig::Dynamodb(c) => &c.name,
            LookupConfig::Postgres(c) => &c.name,
            LookupConfig::File(c) => &c.name,
        }
    }

    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            LookupConfig::Dynamodb(_) => "dynamodb",
            LookupConfig::Postgres(_) => "postgres",
            LookupConfig::File(_) => "file",
        }
    }

    /// One example of each kind, as `switchboard validate --example` prints them.
    pub fn examples() -> Vec<LookupConfig> {
        vec![
            LookupConfig::Dynamodb(DynamoDbLookupConfig::example()),
            LookupConfig::Postgres(PostgresLookupConfig::example()),
            LookupConfig::File(FileLookupConfig::example()),
        ]
    }

    /// Reports every problem of this config under `key` (e.g. `lookups[0]`), without
    /// touching the network or the file system.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        match self {
            LookupConfig::Dynamodb(c) => c.check(key, problems),
            LookupConfig::Postgres(c) => c.check(key, problems),
            LookupConfig::File(c) => c.check(key, problems),
        }
    }

    /// The running lookup: the table, each call bounded by `timeout_ms`, behind the
    /// cache. A file is read here (a missing or unreadable file fails the build); the
    /// PostgreSQL connection is opened on first use, so a database that is down at start
    /// delays enrichment instead of stopping switchboard.
    pub async fn build(&self) -> Result<Arc<dyn Lookup>, BuildError> {
        if let Some(reason) = first_problem(|p| self.check("", p)) {
            return Err(BuildError::lookup(self.name(), reason));
        }
        Ok(match self {
            LookupConfig::Dynamodb(c) => {
                let table = DynamoDbLookup::new(c).await?;
                Arc::new(Cached::new(
                    Timeout::new(table, Duration::from_millis(c.timeout_ms)),
                    &c.cache,
                ))
            }
            LookupConfig::Postgres(c) => {
                let table = PostgresLookup::new(c)?;
                Arc::new(Cached::new(
                    Timeout::new(table, Duration::from_millis(c.timeout_ms)),
                    &c.cache,
                ))
            }
            // In memory already: a cache would only delay what a reload brings.
            LookupConfig::File(c) => {
                Arc::new(Cached::new(FileLookup::open(c).await?, &CacheSettings::OFF))
            }
        })
    }
}

/// A lookup whose every call is bounded: past `limit` the call is abandoned (its
/// in-flight requests dropped) and fails as retryable.
pub struct Timeout<L> {
    inner: L,
    limit: Duration,
}

impl<L: Lookup> Timeout<L> {
    pub fn new(inner: L, limit: Duration) -> Self {
        Timeout { inner, limit }
    }
}

#[async_trait::async_trait]
impl<L: Lookup> Lookup for Timeout<L> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<std::collections::HashMap<String, serde_json::Value>, LookupError> {
        match tokio::time::timeout(self.limit, self.inner.get_many(keys)).await {
            Ok(answer) => answer,
            Err(_) => Err(LookupError {
                lookup: self.inner.name().to_owned(),
                reason: format!(
                    "no answer for {} keys within {} ms (timeout_ms)",
                    keys.len(),
                    self.limit.as_millis()
                ),
                retryable: true,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn examples_round_trip_and_check_clean() {
        for example in LookupConfig::examples() {
            let value = serde_json::to_value(&example).unwrap();
            assert_eq!(value["type"], example.type_name());
            let back: LookupConfig = serde_json::from_value(value).unwrap();
            assert_eq!(back, example);
            let mut problems = Problems::new("switchboard.toml");
            example.check("lookups[0]", &mut problems);
            assert!(problems.is_empty(), "{problems}");
        }
        let types: Vec<_> = LookupConfig::examples()
            .iter()
            .map(|e| e.type_name())
            .collect();
        assert_eq!(types, TYPES);
    }

    #[test]
    fn unknown_fields_and_types_are_refused() {
        let unknown = json!({"type": "dynamodb", "name": "customers", "table": "t",
            "key_attribute": "phone", "colour": "blue"});
        let err = serde_json::from_value::<LookupConfig>(unknown).unwrap_err();
        assert!(err.to_string().contains("colour"), "{err}");
        let bad_cache = json!({"type": "file", "name": "f", "path": "a.csv", "key": "k",
            "cache": {"ttl": 5}});
        assert!(serde_json::from_value::<LookupConfig>(bad_cache).is_err());
        let bad_type = json!({"type": "redis", "name": "x"});
        assert!(serde_json::from_value::<LookupConfig>(bad_type).is_err());
    }

    #[test]
    fn defaults_fill_the_shared_settings() {
        let minimal = json!({"type": "dynamodb", "name": "customers", "table": "customers",
            "key_attribute": "phone"});
        let LookupConfig::Dynamodb(c) = serde_json::from_value(minimal).unwrap() else {
            panic!("not dynamodb");
        };
        assert_eq!(c.cache, CacheSettings::default());
        assert_eq!(c.timeout_ms, DEFAULT_TIMEOUT_MS);
        assert_eq!(c.cache.ttl(), Duration::from_secs(300));
    }

    #[test]
    fn check_reports_each_problem_with_its_path() {
        let config = json!({"type": "postgres", "name": "", "query": "SELECT 1",
            "timeout_ms": 0, "cache": {"ttl_secs": MAX_TTL_SECS + 1}});
        let config: LookupConfig = serde_json::from_value(config).unwrap();
        let mut problems = Problems::new("switchboard.toml");
        config.check("lookups[2]", &mut problems);
        let keys: Vec<_> = problems.list.iter().map(|p| p.key.as_str()).collect();
        for expected in [
            "lookups[2].name",
            "lookups[2].url",
            "lookups[2].query",
            "lookups[2].timeout_ms",
            "lookups[2].cache.ttl_secs",
        ] {
            assert!(keys.contains(&expected), "{expected} missing in {problems}");
        }
    }

    #[test]
    fn bad_names_are_reported() {
        for (name, ok) in [
            ("customers", true),
            ("crm-v2.db", true),
            ("", false),
            ("a b", false),
        ] {
            let mut problems = Problems::new("f");
            check_name(name, "lookups[0]", &mut problems);
            assert_eq!(problems.is_empty(), ok, "{name:?}: {problems}");
        }
    }

    struct Slow;

    #[async_trait::async_trait]
    impl Lookup for Slow {
        fn name(&self) -> &str {
            "slow"
        }
        async fn get_many(
            &self,
            _keys: &[String],
        ) -> Result<std::collections::HashMap<String, serde_json::Value>, LookupError> {
            tokio::time::sleep(Duration::from_secs(60)).await;
            Ok(Default::default())
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_timeout_is_a_retryable_error() {
        let lookup = Timeout::new(Slow, Duration::from_millis(250));
        let err = lookup.get_many(&["a".into()]).await.unwrap_err();
        assert!(err.retryable);
        assert_eq!(err.lookup, "slow");
        assert!(err.reason.contains("250 ms"), "{}", err.reason);
    }

    #[tokio::test]
    async fn build_refuses_a_config_that_does_not_check() {
        let config = LookupConfig::File(FileLookupConfig {
            name: "bad name".into(),
            ..FileLookupConfig::example()
        });
        let err = config.build().await.err().expect("a build error");
        assert_eq!(err.component, "lookup");
        assert!(err.reason.contains("name"), "{}", err.reason);
    }
}
