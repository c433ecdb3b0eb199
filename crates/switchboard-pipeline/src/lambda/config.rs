//! `[lambda]`: what the Lambda handlers need beyond the rest of `switchboard.toml` (the
//! store, the engine, rules, sinks and lookups are the same sections `run` reads).
//!
//! ```toml
//! [lambda]
//! deliver_reserve_ms = 1500        # stop delivering the outbox this long before the deadline
//!
//! [lambda.firehose]                # `switchboard lambda firehose` (data transformation)
//! append_newline = true
//! enrich = [{ lookup = "customers", key = "CustomerEndpoint.Address", into = "Customer" }]
//! partition_keys = { channel = "Channel", company = "Customer.company" }
//! ```

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_io::problems::{join, Problems};

use crate::enrich::EnrichStep;

/// `[lambda]`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LambdaConfig {
    /// Milliseconds kept back from an invocation's deadline: the Kinesis, SQS and
    /// EventBridge handlers deliver what their records routed (the outbox) until this long
    /// before it, then answer; what is left waits in the outbox for the next invocation.
    /// Also the time left for the commit before records are reported failed. 100 to 60000.
    #[serde(default = "default_deliver_reserve_ms")]
    pub deliver_reserve_ms: u64,
    /// The longest time one invocation spends delivering the outbox, in milliseconds
    /// (whatever the function's timeout). 0 to 900000; 0 leaves every item to later
    /// invocations (or to a `switchboard run` sharing the store).
    #[serde(default = "default_deliver_max_ms")]
    pub deliver_max_ms: u64,
    /// The Firehose data-transformation handler.
    #[serde(default)]
    pub firehose: FirehoseTransformConfig,
}

fn default_deliver_reserve_ms() -> u64 {
    1500
}
fn default_deliver_max_ms() -> u64 {
    60_000
}

impl Default for LambdaConfig {
    fn default() -> Self {
        LambdaConfig {
            deliver_reserve_ms: default_deliver_reserve_ms(),
            deliver_max_ms: default_deliver_max_ms(),
            firehose: FirehoseTransformConfig::default(),
        }
    }
}

/// `[lambda.firehose]`: how `switchboard lambda firehose` transforms each record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirehoseTransformConfig {
    /// End every record returned `Ok` with a newline (unless it has one), so the S3
    /// objects Firehose writes hold one record a line instead of `{…}{…}`. Compressed
    /// (gzip) records are returned as they came.
    #[serde(default)]
    pub append_newline: bool,
    /// Enrichment steps, as a rule's `enrich`: each adds one top-level key from a
    /// `[[lookups]]` entry and never overwrites one the record has. A record whose
    /// enrichment fails (lookup down, `on_miss = "dead_letter"`) is answered
    /// `ProcessingFailed` (Firehose writes it under its `processing-failed/` prefix); a
    /// miss with `on_miss = "drop"` is answered `Dropped`.
    #[serde(default)]
    pub enrich: Vec<EnrichStep>,
    /// Dynamic-partitioning keys returned in `metadata.partitionKeys`: name -> dotted
    /// field path in the record after enrichment, e.g. `{ channel = "Channel" }`, used in
    /// the S3 prefix as `!{partitionKeyFromLambda:channel}`.
    #[serde(default)]
    pub partition_keys: BTreeMap<String, String>,
    /// The value of a partition key whose field the record lacks (Firehose needs every
    /// key the prefix names). Default `unknown`.
    #[serde(default = "default_missing")]
    pub missing_partition_value: String,
    /// Also apply the records to the engine and commit them to the store (the seat map
    /// and history follow a Firehose-only deployment). A failed commit fails the
    /// invocation, and Firehose retries it.
    #[serde(default)]
    pub apply: bool,
}

fn default_missing() -> String {
    "unknown".into()
}

impl Default for FirehoseTransformConfig {
    fn default() -> Self {
        FirehoseTransformConfig {
            append_newline: false,
            enrich: Vec::new(),
            partition_keys: BTreeMap::new(),
            missing_partition_value: default_missing(),
            apply: false,
        }
    }
}

impl LambdaConfig {
    /// An example with every Firehose option set.
    pub fn example() -> Self {
        LambdaConfig {
            firehose: FirehoseTransformConfig {
                append_newline: true,
                enrich: vec![EnrichStep {
                    lookup: "customers".into(),
                    key: "CustomerEndpoint.Address".into(),
                    into: "Customer".into(),
                    on_miss: Default::default(),
                }],
                partition_keys: BTreeMap::from([("channel".into(), "Channel".into())]),
                missing_partition_value: default_missing(),
                apply: false,
            },
            ..LambdaConfig::default()
        }
    }

    /// Checks ranges, the lookups the steps name, and the partition keys.
    pub fn check(&self, key: &str, lookups: &BTreeSet<String>, problems: &mut Problems) {
        if !(100..=60_000).contains(&self.deliver_reserve_ms) {
            problems.push(join(key, "deliver_reserve_ms"), "must be 100 to 60000");
        }
        if self.deliver_max_ms > 900_000 {
            problems.push(join(key, "deliver_max_ms"), "must be 0 to 900000");
        }
        let fh = join(key, "firehose");
        for (i, step) in self.firehose.enrich.iter().enumerate() {
            step.check(&format!("{fh}.enrich[{i}]"), lookups, problems);
        }
        for (name, path) in &self.firehose.partition_keys {
            let at = join(&join(&fh, "partition_keys"), name);
            if name.is_empty() || !name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                problems.push(
                    at.clone(),
                    "a partition key name is letters, digits and _ (it goes in an S3 prefix as !{partitionKeyFromLambda:NAME})",
                );
            }
            if path.is_empty() || path.split('.').any(str::is_empty) {
                problems.push(at, "must be a dotted field path such as Queue.Name");
            }
        }
        if self.firehose.missing_partition_value.is_empty() {
            problems.push(
                join(&fh, "missing_partition_value"),
                "must not be empty (Firehose refuses an empty partition key value)",
            );
        }
    }
}
