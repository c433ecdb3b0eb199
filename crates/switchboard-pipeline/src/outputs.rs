//! The outputs a config describes, built: compiled rules, running sinks (the dead-letter
//! writer among them) and lookups, and what the delivery workers need.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::Context;
use switchboard_io::lookups::Lookup;
use switchboard_io::sinks::Sink;
use switchboard_store::StoreUrl;
use tokio::sync::Notify;

use crate::config::Config;
use crate::deliver::{Delivery, StoreOpener, DEAD_LETTER_SINK};
use crate::rules::Rules;

/// Rules, sinks and lookups, ready.
#[derive(Clone, Default)]
pub struct Outputs {
    pub rules: Rules,
    /// Every sink with a worker, the dead-letter writer included when configured.
    pub sinks: Vec<Arc<dyn Sink>>,
    pub lookups: HashMap<String, Arc<dyn Lookup>>,
    /// The Connect API client, when `[connect]` is configured.
    #[cfg(feature = "connect")]
    pub connect: Option<switchboard_io::aws::connect::ConnectApi>,
}

impl Outputs {
    /// Builds everything `config` names (clients, connections): the first failure stops
    /// it, with the component named.
    pub async fn build(config: &Config) -> anyhow::Result<Outputs> {
        let rules = Rules::compile(&config.rules).map_err(anyhow::Error::msg)?;
        let mut sinks: Vec<Arc<dyn Sink>> = Vec::new();
        for sink in &config.sinks {
            sinks.push(sink.kind.build(&sink.name).await?);
        }
        if let Some(dead) = &config.dead_letter {
            sinks.push(Arc::new(dead.build(DEAD_LETTER_SINK).await?));
        }
        let mut lookups = HashMap::new();
        for lookup in &config.lookups {
            lookups.insert(lookup.name().to_owned(), lookup.build().await?);
        }
        #[cfg(feature = "connect")]
        let connect = match &config.connect {
            Some(c) => {
                let api = switchboard_io::aws::connect::ConnectApi::new(c).await;
                // Rules with `contact_attributes = true` ask through this lookup.
                lookups.insert(
                    switchboard_io::aws::connect::CONTACT_ATTRIBUTES_LOOKUP.to_owned(),
                    switchboard_io::aws::connect::attributes::ContactAttributes::cached(
                        api.clone(),
                        &c.contact_attributes_cache,
                    ),
                );
                Some(api)
            }
            None => None,
        };
        Ok(Outputs {
            rules,
            sinks,
            lookups,
            #[cfg(feature = "connect")]
            connect,
        })
    }

    /// The names of the sinks that have a worker.
    pub fn sink_names(&self) -> Vec<String> {
        self.sinks.iter().map(|s| s.name().to_owned()).collect()
    }

    /// What the delivery workers of this process share.
    pub fn delivery(&self, config: &Config, url: &StoreUrl, wake: Arc<Notify>) -> Delivery {
        Delivery {
            rules: Arc::new(self.rules.clone()),
            sinks: self.sinks.clone(),
            lookups: Arc::new(self.lookups.clone()),
            config: config.outbox.clone(),
            worker: config.worker().to_owned(),
            open_store: open_store(url, config.worker()),
            wake,
            flush: Default::default(),
        }
    }
}

/// Opens a connection to `url` as `worker`, for a delivery worker.
pub fn open_store(url: &StoreUrl, worker: &str) -> StoreOpener {
    let url = url.clone();
    let worker = worker.to_owned();
    Arc::new(move || {
        url.open_as(&worker)
            .with_context(|| format!("cannot open store {url}"))
    })
}
