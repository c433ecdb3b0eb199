//! A DynamoDB table as a lookup (`type = "dynamodb"`), e.g. a customer table keyed by
//! phone number, read with BatchGetItem.
//!
//! A call's keys go out 100 to a request (BatchGetItem's limit), up to
//! [`MAX_CONCURRENT_REQUESTS`] requests at once. Keys DynamoDB leaves unprocessed
//! (throttling, or the 16 MB response limit) are asked again with exponential backoff and
//! jitter, up to [`MAX_ATTEMPTS`] times, after which the call fails as retryable. Errors
//! are sorted the same way: throttling, 5xx and network trouble are worth retrying; a
//! table that does not exist or a key of the wrong type is a config mistake and is not.
//!
//! Items come back as plain JSON ([`item_to_json`]): strings, numbers (exact: a number
//! JSON cannot carry without rounding stays a string), booleans, null, maps, lists; sets
//! become arrays, binary becomes base64.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use aws_sdk_dynamodb::error::{ProvideErrorMetadata, SdkError};
use aws_sdk_dynamodb::operation::batch_get_item::BatchGetItemError;
use aws_sdk_dynamodb::types::{AttributeValue, KeysAndAttributes};
use aws_sdk_dynamodb::Client;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;

use super::config::{check_name, check_timeout, default_timeout_ms, CacheSettings};
use super::{Lookup, LookupError};
use crate::aws::AwsConfig;
use crate::problems::{join, Problems};
use crate::sinks::retry::{with_causes, Backoff};
use crate::sinks::BuildError;

mod convert;

use self::convert::Decimal;
pub use self::convert::{attribute_to_json, item_to_json, number_to_json};

/// Keys per BatchGetItem request (DynamoDB's limit).
pub const KEYS_PER_REQUEST: usize = 100;
/// BatchGetItem requests of one call in flight at once.
pub const MAX_CONCURRENT_REQUESTS: usize = 4;
/// Requests per chunk of keys (the first plus retries of unprocessed keys).
pub const MAX_ATTEMPTS: u32 = 8;
/// Longest partition key DynamoDB stores, in bytes.
const MAX_KEY_BYTES: usize = 2048;
/// The wait before retry `n` of unprocessed keys: between half and all of
/// `50 ms * 2^(n-1)`, capped at 2 s.
const UNPROCESSED_BACKOFF: Backoff = Backoff {
    initial: Duration::from_millis(50),
    max: Duration::from_secs(2),
    multiplier: 2.0,
};

/// The DynamoDB lookup (`type = "dynamodb"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DynamoDbLookupConfig {
    /// The lookup's name, which rules refer to (metrics carry it as `lookup`).
    pub name: String,
    /// The table's name (or ARN).
    pub table: String,
    /// The table's partition key attribute, e.g. `phone`. The table must have no sort
    /// key: a lookup key names one item.
    pub key_attribute: String,
    /// The partition key's type: `S` (string, the default) or `N` (number; keys that are
    /// not numbers are misses, and `0042` finds the item `42`).
    #[serde(default)]
    pub key_type: KeyType,
    /// Top-level attributes to read (all when unset). The key attribute is added to the
    /// request when missing (to match items to keys) and left out of the answer.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub projection: Option<Vec<String>>,
    /// Strongly consistent reads (twice the read capacity): see a write at once rather
    /// than within about a second.
    #[serde(default)]
    pub consistent_read: bool,
    /// Milliseconds one lookup call (all its requests, retries included) may take; past
    /// it the call fails and enrichment retries it later.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// How long answers are kept.
    #[serde(default)]
    pub cache: CacheSettings,
    /// Region, profile and endpoint.
    #[serde(default)]
    pub aws: AwsConfig,
}

/// The type of a table's partition key.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeyType {
    /// String.
    #[default]
    S,
    /// Number.
    N,
}

impl DynamoDbLookupConfig {
    /// The seed's customer table: company and tier by caller phone number.
    pub fn example() -> Self {
        DynamoDbLookupConfig {
            name: "customers".into(),
            table: "customers".into(),
            key_attribute: "phone".into(),
            key_type: KeyType::S,
            projection: Some(vec!["company".into(), "tier".into()]),
            consistent_read: false,
            timeout_ms: default_timeout_ms(),
            cache: CacheSettings::default(),
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
        }
    }

    /// Reports every problem under `key`.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        check_name(&self.name, key, problems);
        let table = self.table.as_str();
        let valid_name = (3..=255).contains(&table.len())
            && table
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        let valid_arn = table.starts_with("arn:") && table.len() <= 1024;
        if !(valid_name || valid_arn) {
            problems.push(
                join(key, "table"),
                format!(
                    "{table:?} is not a DynamoDB table name (3 to 255 letters, digits, `_`, \
                     `-`, `.`) or ARN"
                ),
            );
        }
        if self.key_attribute.is_empty() {
            problems.push(
                join(key, "key_attribute"),
                "is empty: name the table's partition key",
            );
        }
        if let Some(projection) = &self.projection {
            if projection.is_empty() {
                problems.push(
                    join(key, "projection"),
                    "is empty: list attributes, or leave it out to read whole items",
                );
            }
            for (i, attribute) in projection.iter().enumerate() {
                if attribute.is_empty() {
                    problems.push(join(key, &format!("projection[{i}]")), "is empty");
                }
            }
        }
        check_timeout(self.timeout_ms, key, problems);
        self.cache.check(&join(key, "cache"), problems);
    }
}

/// A DynamoDB table answering lookups.
#[derive(Clone)]
pub struct DynamoDbLookup {
    inner: Arc<Inner>,
}

struct Inner {
    name: String,
    client: Client,
    table: String,
    key_attribute: String,
    key_type: KeyType,
    /// `ProjectionExpression` and its `ExpressionAttributeNames`.
    projection: Option<(String, HashMap<String, String>)>,
    /// The key attribute was added to the projection: leave it out of answers.
    strip_key: bool,
    consistent_read: bool,
    region: String,
}

impl DynamoDbLookup {
    /// A client from `config.aws`, then [`DynamoDbLookup::with_client`].
    pub async fn new(config: &DynamoDbLookupConfig) -> Result<Self, BuildError> {
        let sdk = config.aws.load().await;
        if sdk.region().is_none() {
            return Err(BuildError::lookup(
                &config.name,
                "no AWS region: set aws.region, or AWS_REGION in the environment",
            ));
        }
        Ok(Self::with_client(config, Client::new(&sdk)))
    }

    /// The lookup over a given client.
    pub fn with_client(config: &DynamoDbLookupConfig, client: Client) -> Self {
        let mut strip_key = false;
        let projection = config.projection.as_ref().map(|attributes| {
            let mut attributes = attributes.clone();
            if !attributes.contains(&config.key_attribute) {
                attributes.push(config.key_attribute.clone());
                strip_key = true;
            }
            let mut names = HashMap::new();
            let mut placeholders = Vec::new();
            for (i, attribute) in attributes.into_iter().enumerate() {
                let placeholder = format!("#p{i}");
                placeholders.push(placeholder.clone());
                names.insert(placeholder, attribute);
            }
            (placeholders.join(", "), names)
        });
        let region = client
            .config()
            .region()
            .map_or_else(|| "(no region)".to_owned(), |r| r.to_string());
        DynamoDbLookup {
            inner: Arc::new(Inner {
                name: config.name.clone(),
                client,
                table: config.table.clone(),
                key_attribute: config.key_attribute.clone(),
                key_type: config.key_type,
                projection,
                strip_key,
                consistent_read: config.consistent_read,
                region,
            }),
        }
    }
}

#[async_trait::async_trait]
impl Lookup for DynamoDbLookup {
    fn name(&self) -> &str {
        &self.inner.name
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
        // The key as DynamoDB holds it, and the caller's keys it stands for (several for
        // numbers: `42` and `042`).
        let mut wanted: HashMap<String, Vec<&String>> = HashMap::new();
        for key in keys {
            if let Some(wire) = self.inner.wire_key(key) {
                wanted.entry(wire).or_default().push(key);
            }
        }
        let wire: Vec<String> = wanted.keys().cloned().collect();
        let mut chunks = wire.chunks(KEYS_PER_REQUEST).map(<[String]>::to_vec);
        let mut requests = JoinSet::new();
        let mut found = HashMap::new();
        loop {
            while requests.len() < MAX_CONCURRENT_REQUESTS {
                let Some(chunk) = chunks.next() else { break };
                let inner = Arc::clone(&self.inner);
                requests.spawn(async move { inner.fetch(chunk).await });
            }
            let Some(done) = requests.join_next().await else {
                break;
            };
            let items =
                done.map_err(|e| self.inner.error(format!("request task failed: {e}"), true))??;
            for mut item in items {
                let Some(wire) = self.inner.item_key(&item) else {
                    continue;
                };
                let Some(callers) = wanted.get(&wire) else {
                    continue;
                };
                if self.inner.strip_key {
                    item.remove(&self.inner.key_attribute);
                }
                let value = item_to_json(&item);
                for key in callers {
                    found.insert((*key).clone(), value.clone());
                }
            }
        }
        Ok(found)
    }
}

impl Inner {
    fn error(&self, reason: impl Into<String>, retryable: bool) -> LookupError {
        LookupError {
            lookup: self.name.clone(),
            reason: reason.into(),
            retryable,
        }
    }

    /// A caller's key as the table holds it; `None` for a key no item can have (empty or
    /// longer than a partition key may be, or not a number for a number key), which
    /// DynamoDB would refuse with the whole request.
    fn wire_key(&self, key: &str) -> Option<String> {
        match self.key_type {
            KeyType::S => (!key.is_empty() && key.len() <= MAX_KEY_BYTES).then(|| key.to_owned()),
            KeyType::N => Decimal::parse(key)
                .filter(Decimal::fits_dynamodb)
                .map(|d| d.plain()),
        }
    }

    /// An item's key in the form [`Inner::wire_key`] gives.
    fn item_key(&self, item: &HashMap<String, AttributeValue>) -> Option<String> {
        match (self.key_type, item.get(&self.key_attribute)?) {
            (KeyType::S, AttributeValue::S(s)) => Some(s.clone()),
            (KeyType::N, AttributeValue::N(n)) => Decimal::parse(n).map(|d| d.plain()),
            _ => None,
        }
    }

    fn key_value(&self, wire: String) -> AttributeValue {
        match self.key_type {
            KeyType::S => AttributeValue::S(wire),
            KeyType::N => AttributeValue::N(wire),
        }
    }

    /// One chunk of up to 100 keys, unprocessed keys asked again with backoff.
    async fn fetch(
        &self,
        chunk: Vec<String>,
    ) -> Result<Vec<HashMap<String, AttributeValue>>, LookupError> {
        let total = chunk.len();
        let mut pending: Vec<HashMap<String, AttributeValue>> = chunk
            .into_iter()
            .map(|k| HashMap::from([(self.key_attribute.clone(), self.key_value(k))]))
            .collect();
        let mut items = Vec::with_capacity(total);
        for attempt in 0..MAX_ATTEMPTS {
            if attempt > 0 {
                tokio::time::sleep(UNPROCESSED_BACKOFF.delay_at_least_half(attempt)).await;
            }
            let keys = KeysAndAttributes::builder()
                .set_keys(Some(pending))
                .consistent_read(self.consistent_read)
                .set_projection_expression(self.projection.as_ref().map(|(e, _)| e.clone()))
                .set_expression_attribute_names(self.projection.as_ref().map(|(_, n)| n.clone()))
                .build()
                .map_err(|e| self.error(format!("cannot build the request: {e}"), false))?;
            let mut out = self
                .client
                .batch_get_item()
                .request_items(&self.table, keys)
                .send()
                .await
                .map_err(|e| self.classify(e))?;
            if let Some(got) = out.responses.as_mut().and_then(|r| r.remove(&self.table)) {
                items.extend(got);
            }
            pending = out
                .unprocessed_keys
                .and_then(|mut u| u.remove(&self.table))
                .map(|k| k.keys)
                .unwrap_or_default();
            if pending.is_empty() {
                return Ok(items);
            }
        }
        Err(self.error(
            format!(
                "table {}: {} of {total} keys still unprocessed after {MAX_ATTEMPTS} \
                 BatchGetItem requests (read capacity exhausted?)",
                self.table,
                pending.len()
            ),
            true,
        ))
    }

    /// Sorts an SDK error into worth retrying (throttling, 5xx, the network) or not (the
    /// table missing, a malformed request).
    fn classify(&self, e: SdkError<BatchGetItemError>) -> LookupError {
        let table = &self.table;
        let detail = describe(&e);
        match &e {
            SdkError::ServiceError(service) => {
                let status = service.raw().status().as_u16();
                match service.err() {
                    BatchGetItemError::ResourceNotFoundException(_) => self.error(
                        format!(
                            "table {table} does not exist in region {} (or is not ACTIVE): \
                             check `table` and `aws.region`: {detail}",
                            self.region
                        ),
                        false,
                    ),
                    BatchGetItemError::ProvisionedThroughputExceededException(_)
                    | BatchGetItemError::RequestLimitExceeded(_)
                    | BatchGetItemError::ThrottlingException(_)
                    | BatchGetItemError::InternalServerError(_) => self.error(
                        format!("table {table}: throttled or failing: {detail}"),
                        true,
                    ),
                    other => {
                        let code = other.code().unwrap_or("");
                        let retryable = status >= 500
                            || status == 429
                            || code.contains("Throttl")
                            || code == "ServiceUnavailable"
                            || code == "RequestTimeout";
                        let hint = if code == "ValidationException" {
                            format!(
                                " (is `{}` the table's only key attribute, of type {:?}?)",
                                self.key_attribute, self.key_type
                            )
                        } else {
                            String::new()
                        };
                        self.error(
                            format!("table {table}: HTTP {status}{hint}: {detail}"),
                            retryable,
                        )
                    }
                }
            }
            SdkError::ConstructionFailure(_) => self.error(
                format!("table {table}: cannot make the request (credentials, region?): {detail}"),
                false,
            ),
            _ => self.error(
                format!("table {table}: DynamoDB unreachable: {detail}"),
                true,
            ),
        }
    }
}

/// An SDK error in one line: a service's own code and message, or the chain of causes
/// (`dispatch failure: io error: ... Connection refused`), without the SDK's debug dump.
fn describe(e: &SdkError<BatchGetItemError>) -> String {
    if let SdkError::ServiceError(service) = e {
        let err = service.err();
        return format!(
            "{}: {}",
            err.code().unwrap_or("error"),
            err.message().unwrap_or("(no message)")
        );
    }
    with_causes(e.to_string(), std::error::Error::source(e))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn backoff_grows_with_jitter_and_is_capped() {
        for (attempt, ceiling) in [(1, 50), (2, 100), (4, 400), (11, 2000), (41, 2000)] {
            let d = UNPROCESSED_BACKOFF.delay_at_least_half(attempt).as_millis() as u64;
            assert!(d >= ceiling / 2 && d <= ceiling, "{attempt}: {d}");
        }
    }

    #[test]
    fn check_reports_bad_tables_keys_and_projections() {
        let config = DynamoDbLookupConfig {
            table: "ab".into(),
            key_attribute: String::new(),
            projection: Some(vec!["company".into(), String::new()]),
            ..DynamoDbLookupConfig::example()
        };
        let mut problems = Problems::new("f");
        config.check("lookups[0]", &mut problems);
        let keys: Vec<_> = problems.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "lookups[0].table",
                "lookups[0].key_attribute",
                "lookups[0].projection[1]"
            ]
        );
        let arn = DynamoDbLookupConfig {
            table: "arn:aws:dynamodb:us-east-1:123456789012:table/customers".into(),
            ..DynamoDbLookupConfig::example()
        };
        let mut problems = Problems::new("f");
        arn.check("lookups[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
    }

    #[test]
    fn key_type_is_written_as_dynamodb_writes_it() {
        let config: DynamoDbLookupConfig = serde_json::from_value(json!({
            "name": "accounts", "table": "accounts", "key_attribute": "id", "key_type": "N"
        }))
        .unwrap();
        assert_eq!(config.key_type, KeyType::N);
        assert!(serde_json::from_value::<DynamoDbLookupConfig>(json!({
            "name": "accounts", "table": "accounts", "key_attribute": "id", "key_type": "B"
        }))
        .is_err());
    }
}
