//! GetContactAttributes as a lookup keyed by initial contact id, behind the lookups' cache
//! ([`Cached`]: answers kept for a TTL under a size bound, concurrent asks of one contact
//! shared). The delivery workers call it for rules with `contact_attributes = true`, off
//! the pipeline thread; the token bucket and the retries are [`ConnectApi`]'s.

use std::collections::HashMap;
use std::sync::Arc;

use serde_json::Value;

use super::api::ConnectApi;
use crate::lookups::cache::Cached;
use crate::lookups::config::CacheSettings;
use crate::lookups::{Lookup, LookupError};

/// The name the lookup goes by (in metrics and in the delivery workers' lookup map).
pub use super::config::CONTACT_ATTRIBUTES_LOOKUP as LOOKUP_NAME;

/// Contact attributes by initial contact id; a contact Connect does not know is a miss.
pub struct ContactAttributes {
    api: ConnectApi,
}

impl ContactAttributes {
    /// The lookup behind its cache.
    pub fn cached(api: ConnectApi, cache: &CacheSettings) -> Arc<dyn Lookup> {
        Arc::new(Cached::new(ContactAttributes { api }, cache))
    }
}

#[async_trait::async_trait]
impl Lookup for ContactAttributes {
    fn name(&self) -> &str {
        LOOKUP_NAME
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
        let mut out = HashMap::new();
        for key in keys {
            match self.api.contact_attributes(key).await {
                Ok(Some(attributes)) => {
                    let map = attributes
                        .into_iter()
                        .map(|(k, v)| (k, Value::String(v)))
                        .collect();
                    out.insert(key.clone(), Value::Object(map));
                }
                Ok(None) => {}
                Err(e) => {
                    return Err(LookupError {
                        lookup: LOOKUP_NAME.into(),
                        reason: e.to_string(),
                        retryable: e.retryable,
                    })
                }
            }
        }
        Ok(out)
    }
}
