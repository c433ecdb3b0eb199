//! `[[sinks]]`: one table per sink, its `type` saying which, its `name` what rules call
//! it.
//!
//! ```toml
//! [[sinks]]
//! name = "crm"
//! type = "webhook"          # webhook | slack | sns | s3 | opensearch | postgres | stdout | file
//! url = "https://crm.example.com/hooks/contact"
//! ```
//!
//! Each type's fields are its own `…Config`, in the sink's module; this file only
//! dispatches: adding a sink is its module plus one line in each `match` here.

use std::sync::Arc;

use serde::{Deserialize, Serialize};

use super::file::{FileConfig, StdoutConfig};
use super::notify::{SlackConfig, SnsConfig};
use super::opensearch::OpenSearchConfig;
use super::postgres::PostgresSinkConfig;
use super::s3::S3Config;
use super::webhook::WebhookConfig;
use super::{BuildError, Sink};
use crate::aws::AwsConfig;
use crate::problems::Problems;

/// One sink's settings, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SinkKind {
    /// An HTTP endpoint (a CRM): one JSON POST per item (or per batch), with an
    /// `Idempotency-Key` header, retries honouring `Retry-After`.
    Webhook(WebhookConfig),
    /// A Slack-compatible incoming webhook: readable alert text.
    Slack(SlackConfig),
    /// An Amazon SNS topic: readable alert text.
    Sns(SnsConfig),
    /// Amazon S3: NDJSON objects under `prefix/YYYY/MM/DD/HH/`, buffered like Firehose.
    S3(S3Config),
    /// OpenSearch or Elasticsearch `_bulk`: an index per day, mappings for dashboards.
    Opensearch(OpenSearchConfig),
    /// PostgreSQL tables for BI tools (contact records upserted by ContactId).
    Postgres(PostgresSinkConfig),
    /// Standard output, NDJSON (for piping and debugging).
    Stdout(StdoutConfig),
    /// A local NDJSON file.
    File(FileConfig),
}

/// The `type` names, in the order the docs list them.
pub const TYPES: &[&str] = &[
    "webhook",
    "slack",
    "sns",
    "s3",
    "opensearch",
    "postgres",
    "stdout",
    "file",
];

/// `[[sinks]]` entry: a name and a kind.
#[derive(Debug, Clone, PartialEq)]
pub struct SinkConfig {
    /// What rules call it; unique; also the outbox column and the metrics label.
    pub name: String,
    pub kind: SinkKind,
}

impl SinkKind {
    /// The `type` name.
    pub fn type_name(&self) -> &'static str {
        match self {
            SinkKind::Webhook(_) => "webhook",
            SinkKind::Slack(_) => "slack",
            SinkKind::Sns(_) => "sns",
            SinkKind::S3(_) => "s3",
            SinkKind::Opensearch(_) => "opensearch",
            SinkKind::Postgres(_) => "postgres",
            SinkKind::Stdout(_) => "stdout",
            SinkKind::File(_) => "file",
        }
    }

    /// Checks what a parsed config can still get wrong, every problem with its key path.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        match self {
            SinkKind::Webhook(c) => c.check(key, problems),
            SinkKind::Slack(c) => c.check(key, problems),
            SinkKind::Sns(c) => c.check(key, problems),
            SinkKind::S3(c) => c.check(key, problems),
            SinkKind::Opensearch(c) => c.check(key, problems),
            SinkKind::Postgres(c) => c.check(key, problems),
            SinkKind::Stdout(c) => c.check(key, problems),
            SinkKind::File(c) => c.check(key, problems),
        }
    }

    /// Builds the running sink.
    pub async fn build(&self, name: &str) -> Result<Arc<dyn Sink>, BuildError> {
        Ok(match self {
            SinkKind::Webhook(c) => Arc::new(c.build(name).await?),
            SinkKind::Slack(c) => Arc::new(c.build(name).await?),
            SinkKind::Sns(c) => Arc::new(c.build(name).await?),
            SinkKind::S3(c) => Arc::new(c.build(name).await?),
            SinkKind::Opensearch(c) => Arc::new(c.build(name).await?),
            SinkKind::Postgres(c) => Arc::new(c.build(name).await?),
            SinkKind::Stdout(c) => Arc::new(c.build(name).await?),
            SinkKind::File(c) => Arc::new(c.build(name).await?),
        })
    }

    /// The AWS settings of an AWS sink, for inheriting `[aws]`.
    pub fn aws_mut(&mut self) -> Option<&mut AwsConfig> {
        match self {
            SinkKind::Sns(c) => Some(&mut c.aws),
            SinkKind::S3(c) => Some(&mut c.aws),
            _ => None,
        }
    }

    /// One example of every type, for `switchboard validate --example`.
    pub fn examples() -> Vec<(String, SinkKind)> {
        vec![
            ("crm".into(), SinkKind::Webhook(WebhookConfig::example())),
            (
                "supervisors".into(),
                SinkKind::Slack(SlackConfig::example()),
            ),
            ("alerts-topic".into(), SinkKind::Sns(SnsConfig::example())),
            ("archive".into(), SinkKind::S3(S3Config::example())),
            (
                "kibana".into(),
                SinkKind::Opensearch(OpenSearchConfig::example()),
            ),
            (
                "bi".into(),
                SinkKind::Postgres(PostgresSinkConfig::example()),
            ),
            ("debug".into(), SinkKind::Stdout(StdoutConfig::example())),
            ("local".into(), SinkKind::File(FileConfig::example())),
        ]
    }
}
