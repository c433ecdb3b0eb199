//! `switchboard.toml`: what `switchboard run` wires together, and what `switchboard
//! validate` checks without starting anything.
//!
//! ```toml
//! [store]                     # where state and history go (required)
//! url = "sqlite:switchboard.db"
//!
//! [engine]                    # service level and alert thresholds (EngineConfig)
//! [server]                    # dashboard, API, /metrics, and the HTTP sources' listener
//! [pipeline]                  # channel size and commit cadence
//! [dead_letter]               # where what fails goes: a file, an S3 prefix, an SQS queue
//! [aws]                       # region, profile, endpoint_url inherited by AWS components
//! [outbox]                    # capacity (backpressure), leases, retries of sink delivery
//! [connect]                   # the Amazon Connect API: agent states at start, names,
//!                             # contact attributes (Cargo feature `connect`)
//! [lambda]                    # the Lambda handlers' own settings (crate::lambda)
//!
//! [[sources]]                 # one table per source, dispatched on `type`
//! type = "kinesis"            # kinesis | firehose_http | eventbridge_http | sqs | files
//!
//! [[sinks]]                   # where rules send items: name + type
//! [[lookups]]                 # tables enrichment reads: name + type
//! [[rules]]                   # what goes where (see `crate::rules`)
//! ```
//!
//! Every section is a `…Config` struct whose doc comments are the reference, with an
//! `example()` that a test checks. Loading ([`load`]) parses the file, then checks the
//! whole of it before anything starts — unknown keys (every one, with its path), wrong
//! types, missing keys, bad URLs, thresholds out of range, two sources on one path — and
//! reports every problem found, each with the file and the key.
//!
//! Relative paths (the SQLite file, the dead-letter file, the `files` source's inputs)
//! are taken from the folder of the config file, so a config means the same thing
//! whatever folder `switchboard` is started from.
//!
//! - [`parse`]: TOML to these types section by section, collecting every problem;
//! - [`check`]: the checks a value of the right type can still fail;
//! - [`problems`]: the problem list and how it prints;
//! - [`sources`]: the `[[sources]]` entries;
//! - [`outputs`]: `[[rules]]`, `[[sinks]]`, `[[lookups]]`, `[outbox]`, `[dead_letter]`.

pub mod check;
pub mod outputs;
pub mod parse;
pub use switchboard_io::problems;
pub mod sources;
#[cfg(test)]
mod tests;

use std::net::SocketAddr;
use std::path::Path;

use serde::{Deserialize, Serialize};
use switchboard_engine::EngineConfig;
use switchboard_io::aws::connect::ConnectConfig;
use switchboard_io::aws::AwsConfig;
use switchboard_io::lookups::config::LookupConfig;
use switchboard_io::sinks::config::{SinkConfig, SinkKind};
use switchboard_io::sinks::dead_letter::DeadLetterConfig;
use switchboard_io::sources::eventbridge_http::EventBridgeHttpConfig;
use switchboard_io::sources::firehose_http::FirehoseHttpConfig;
use switchboard_io::sources::kinesis::KinesisConfig;
use switchboard_io::sources::sqs::SqsConfig;

pub use problems::{Problem, Problems};
pub use sources::{FilesConfig, SourceConfig};

use crate::deliver::OutboxConfig;
use crate::lambda::LambdaConfig;
use crate::rules::RuleConfig;

/// The whole configuration of `switchboard run`.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where agent states, contact timelines, transitions, metrics and alerts are kept.
    pub store: StoreConfig,
    /// Service level and alert thresholds.
    pub engine: EngineConfig,
    /// The HTTP server: dashboard, API, `/metrics`, and the HTTP sources' endpoints.
    pub server: ServerConfig,
    /// How deliveries are batched into store commits.
    pub pipeline: PipelineConfig,
    /// Where dead letters are written: records that do not decode, items a sink
    /// refused or enrichment could not complete. Without it they stay in the store's
    /// outbox (`switchboard dlq list --store URL` shows them).
    pub dead_letter: Option<DeadLetterConfig>,
    /// AWS defaults for every AWS source, sink and lookup: a component's own `aws`
    /// fields win over these, and unset fields fall back to the SDK's default chain
    /// (`AWS_REGION`, `AWS_PROFILE`, `~/.aws/config`, instance and container roles).
    pub aws: AwsConfig,
    /// What to read. Several of one type are fine (two Kinesis streams, say).
    pub sources: Vec<SourceConfig>,
    /// How routed items wait and are delivered.
    pub outbox: OutboxConfig,
    /// Where rules send items.
    pub sinks: Vec<SinkConfig>,
    /// Tables enrichment reads.
    pub lookups: Vec<LookupConfig>,
    /// What goes where.
    pub rules: Vec<RuleConfig>,
    /// The Amazon Connect API: every agent's state at start-up and for silent agents,
    /// names of users, queues and routing profiles, contact attributes for rules.
    /// Needs a build with the Cargo feature `connect`.
    pub connect: Option<ConnectConfig>,
    /// The Lambda handlers' own settings (`switchboard lambda ...`); `run` ignores them.
    pub lambda: LambdaConfig,
}

/// `[store]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StoreConfig {
    /// `sqlite:PATH` (one process; created if missing) or `postgres://USER:PASSWORD@HOST/DB`
    /// (several workers share it; no TLS: see the README). A relative SQLite path is taken
    /// from the config file's folder.
    pub url: String,
    /// This worker's name when several share a PostgreSQL store: each keeps its own engine
    /// clocks, counters and alert timers under it. Default `default`; give each worker of
    /// a shared store its own, stable across restarts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker: Option<String>,
    /// How long history is kept, per kind, in days of event time (0 keeps it forever):
    /// `transitions_days` (default 90), `contacts_days` (ended contacts with their
    /// entries and records, 90), `triggers_days` (30), `alerts_days` (cleared alerts, 90),
    /// `metric_cells_days` (400). Pruned a few hundred rows at a time between commits.
    #[serde(default)]
    pub retention: switchboard_store::Retention,
}

/// `[server]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServerConfig {
    /// Serve the dashboard, the JSON API and `/metrics`. The HTTP sources are served on
    /// `listen` whatever this says.
    #[serde(default = "default_true")]
    pub enabled: bool,
    /// Address and port to listen on (port 0 picks a free one, logged at start). Anything
    /// but a loopback address needs authentication.
    #[serde(default = "default_listen")]
    pub listen: SocketAddr,
    /// The name of an environment variable holding a bearer token the dashboard and API
    /// require (browsers: open `/?token=TOKEN` once). Default `SWITCHBOARD_AUTH_TOKEN`,
    /// used when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auth_token_env: Option<String>,
    /// The name of an environment variable holding `USER:PASSWORD` for HTTP basic auth
    /// instead. Default `SWITCHBOARD_BASIC_AUTH`, used when set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth_env: Option<String>,
    /// Mask customer phone numbers (all but the last four digits) in the API and the
    /// dashboard.
    #[serde(default)]
    pub mask_phone_numbers: bool,
}

fn default_true() -> bool {
    true
}

fn default_listen() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 8080))
}

impl Default for ServerConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            listen: default_listen(),
            auth_token_env: None,
            basic_auth_env: None,
            mask_phone_numbers: false,
        }
    }
}

/// `[pipeline]`: sources hand deliveries to one pipeline thread through a bounded
/// channel; it applies them and commits to the store when the channel runs dry, when
/// `max_batch_records` are pending, or `commit_interval_ms` after the last commit,
/// whichever comes first. Sources are acknowledged after the commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PipelineConfig {
    /// Deliveries waiting for the pipeline before sources are slowed down (1 to 100000).
    #[serde(default = "default_channel_capacity")]
    pub channel_capacity: usize,
    /// The longest time between two commits while records are pending, in milliseconds
    /// (10 to 60000).
    #[serde(default = "default_commit_interval_ms")]
    pub commit_interval_ms: u64,
    /// Commit once this many records are pending (1 to 1000000).
    #[serde(default = "default_max_batch_records")]
    pub max_batch_records: usize,
    /// Seconds sources get to finish (acknowledge, checkpoint, hand leases over) after
    /// SIGINT or SIGTERM before the last commit (1 to 600).
    #[serde(default = "default_shutdown_timeout_secs")]
    pub shutdown_timeout_secs: u64,
}

fn default_channel_capacity() -> usize {
    64
}
fn default_commit_interval_ms() -> u64 {
    1000
}
fn default_max_batch_records() -> usize {
    5000
}
fn default_shutdown_timeout_secs() -> u64 {
    30
}

impl Default for PipelineConfig {
    fn default() -> Self {
        Self {
            channel_capacity: default_channel_capacity(),
            commit_interval_ms: default_commit_interval_ms(),
            max_batch_records: default_max_batch_records(),
            shutdown_timeout_secs: default_shutdown_timeout_secs(),
        }
    }
}

impl Config {
    /// A production-like config with one source of every type: agent events from
    /// Kinesis, contact events from SQS and from an EventBridge API destination, contact
    /// records from Firehose, history from files; a PostgreSQL store shared by workers.
    pub fn example() -> Self {
        Config {
            store: StoreConfig {
                url: "postgres://switchboard:secret@db.internal:5432/switchboard".into(),
                worker: Some("worker-1".into()),
                retention: switchboard_store::Retention::default(),
            },
            engine: EngineConfig::default(),
            server: ServerConfig {
                listen: SocketAddr::from(([0, 0, 0, 0], 8080)),
                auth_token_env: Some("SWITCHBOARD_AUTH_TOKEN".into()),
                ..ServerConfig::default()
            },
            pipeline: PipelineConfig::default(),
            dead_letter: Some(DeadLetterConfig::from_legacy_path(
                "dead-letters.ndjson".into(),
            )),
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
            sources: vec![
                SourceConfig::Kinesis(KinesisConfig {
                    aws: AwsConfig::default(),
                    ..KinesisConfig::example()
                }),
                SourceConfig::Sqs(SqsConfig {
                    aws: AwsConfig::default(),
                    ..SqsConfig::example()
                }),
                SourceConfig::FirehoseHttp(FirehoseHttpConfig::example()),
                SourceConfig::EventbridgeHttp(EventBridgeHttpConfig::example()),
                SourceConfig::Files(FilesConfig::example()),
            ],
            outbox: OutboxConfig::default(),
            sinks: SinkKind::examples()
                .into_iter()
                .map(|(name, kind)| SinkConfig { name, kind })
                .collect(),
            lookups: LookupConfig::examples(),
            rules: vec![RuleConfig::example()],
            // Only where it can run: a build without the feature refuses [connect].
            connect: cfg!(feature = "connect").then(|| ConnectConfig {
                aws: AwsConfig::default(),
                ..ConnectConfig::example()
            }),
            lambda: LambdaConfig::example(),
        }
    }

    /// The config as TOML text, in the form [`load`] reads (sinks and lookups with their
    /// `name` and `type`).
    pub fn to_toml(&self) -> Result<String, toml::ser::Error> {
        use serde::ser::Error as _;
        fn value<T: Serialize>(v: &T) -> Result<toml::Value, toml::ser::Error> {
            toml::Value::try_from(v)
        }
        let mut t = toml::Table::new();
        t.insert("store".into(), value(&self.store)?);
        t.insert("engine".into(), value(&self.engine)?);
        t.insert("server".into(), value(&self.server)?);
        t.insert("pipeline".into(), value(&self.pipeline)?);
        if let Some(d) = &self.dead_letter {
            t.insert("dead_letter".into(), value(d)?);
        }
        t.insert("aws".into(), value(&self.aws)?);
        t.insert("outbox".into(), value(&self.outbox)?);
        if !self.sources.is_empty() {
            t.insert("sources".into(), value(&self.sources)?);
        }
        if !self.sinks.is_empty() {
            let mut sinks = Vec::new();
            for s in &self.sinks {
                let toml::Value::Table(mut table) = value(&s.kind)? else {
                    return Err(toml::ser::Error::custom("a sink is not a table"));
                };
                table.insert("name".into(), toml::Value::String(s.name.clone()));
                sinks.push(toml::Value::Table(table));
            }
            t.insert("sinks".into(), toml::Value::Array(sinks));
        }
        if !self.lookups.is_empty() {
            t.insert("lookups".into(), value(&self.lookups)?);
        }
        if !self.rules.is_empty() {
            t.insert("rules".into(), value(&self.rules)?);
        }
        if let Some(c) = &self.connect {
            t.insert("connect".into(), value(c)?);
        }
        if self.lambda != LambdaConfig::default() {
            t.insert("lambda".into(), value(&self.lambda)?);
        }
        toml::to_string(&t)
    }

    /// The worker name the store is opened as.
    pub fn worker(&self) -> &str {
        self.store
            .worker
            .as_deref()
            .unwrap_or(switchboard_store::postgres::DEFAULT_WORKER)
    }
}

/// Reads, parses and checks the config at `path`. `Err` lists every problem found.
pub fn load(path: &Path) -> Result<Config, Problems> {
    let file = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|e| {
        Problems::one(
            &file,
            Problem::new("", format!("cannot read the config file: {e}")),
        )
    })?;
    let base = path.parent().unwrap_or(Path::new("")).to_path_buf();
    load_str(&text, &file, &base)
}

/// [`load`] on text: `file` names it in problems, relative paths are taken from `base`.
pub fn load_str(text: &str, file: &str, base: &Path) -> Result<Config, Problems> {
    let mut problems = Problems::new(file);
    // Only a file that is not TOML at all stops here; otherwise every section that
    // parsed is checked too, so one run names every problem.
    let Some(mut parsed) = parse::parse(text, &mut problems) else {
        return Err(problems);
    };
    parsed.inherit_aws();
    parsed.resolve_paths(base);
    check::check(&parsed, &mut problems);
    if !problems.is_empty() {
        return Err(problems);
    }
    parsed.into_config().ok_or_else(|| {
        // Every section parsed without a problem, so every required one is there.
        Problems::one(file, Problem::new("", "incomplete configuration"))
    })
}
