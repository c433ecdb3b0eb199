//! Lookups: the tables enrichment reads (a DynamoDB customer table, a PostgreSQL query, a
//! CSV or JSON file), behind one trait and one cache.
//!
//! Enrichment runs in the delivery workers, never on the pipeline thread: a rule's item
//! waits in the durable outbox while its key is looked up, so a slow or failing table
//! delays delivery but never ingest. A lookup answers many keys at once (DynamoDB's
//! BatchGetItem takes 100); [`cache::Cached`] keeps answers, misses included, for a TTL
//! under a size bound.
//!
//! - [`config`]: `[[lookups]]` entries, dispatched on `type`;
//! - [`cache`]: TTL and size-bounded cache in front of any lookup;
//! - one module per table kind.

pub mod cache;
pub mod config;
pub mod dynamodb;
pub mod file;
pub mod postgres;

use std::collections::HashMap;

/// Why a lookup failed (the whole request: a table that answers "no such key" is a miss,
/// not an error).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("lookup {lookup} failed: {reason}")]
pub struct LookupError {
    pub lookup: String,
    pub reason: String,
    /// Worth trying again (throttling, a timeout, the server unreachable) rather than a
    /// mistake in the config (no such table, a query that does not parse).
    pub retryable: bool,
}

/// A table of JSON values by string key.
#[async_trait::async_trait]
pub trait Lookup: Send + Sync {
    /// The lookup's configured name.
    fn name(&self) -> &str;

    /// The values of those `keys` the table has (a key it lacks is simply absent from the
    /// answer). `keys` holds no duplicates.
    async fn get_many(
        &self,
        keys: &[String],
    ) -> Result<HashMap<String, serde_json::Value>, LookupError>;
}
