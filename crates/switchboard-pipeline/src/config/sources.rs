//! `[[sources]]`: one table per source, its `type` saying which.
//!
//! Each type's fields are its own `…Config` (the AWS and HTTP sources live in
//! `switchboard-io`; `files` is here, since it reuses `replay`'s resumable reading).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};
use switchboard_io::aws::AwsConfig;
use switchboard_io::sources::eventbridge_http::EventBridgeHttpConfig;
use switchboard_io::sources::firehose_http::FirehoseHttpConfig;
use switchboard_io::sources::kinesis::KinesisConfig;
use switchboard_io::sources::sqs::SqsConfig;

use super::parse::section;
use super::problems::{join, Problems};

/// One source, by `type`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum SourceConfig {
    /// A Kinesis data stream (Connect's agent event stream, or the contact record
    /// stream), its shards shared between workers through a DynamoDB lease table.
    Kinesis(KinesisConfig),
    /// Amazon Data Firehose's HTTP endpoint destination, served at `path`.
    FirehoseHttp(FirehoseHttpConfig),
    /// An EventBridge API destination (contact events), served at `path`.
    EventbridgeHttp(EventBridgeHttpConfig),
    /// An SQS queue an EventBridge rule sends contact events to.
    Sqs(SqsConfig),
    /// Files or folders of Connect data, read once (resuming where an earlier run
    /// stopped), e.g. to load history before going live.
    Files(FilesConfig),
}

/// The `type` names, in the order the docs list them.
pub const TYPES: &[&str] = &[
    "kinesis",
    "firehose_http",
    "eventbridge_http",
    "sqs",
    "files",
];

impl SourceConfig {
    /// A short description for logs: type and what it reads.
    pub fn describe(&self) -> String {
        match self {
            SourceConfig::Kinesis(k) => format!("kinesis {}", k.stream_name()),
            SourceConfig::FirehoseHttp(f) => format!("firehose_http POST {}", f.path),
            SourceConfig::EventbridgeHttp(e) => format!("eventbridge_http POST {}", e.path),
            SourceConfig::Sqs(s) => format!("sqs {}", s.queue_url),
            SourceConfig::Files(f) => format!("files ({} paths)", f.paths.len()),
        }
    }

    /// The URL path an HTTP source is served at.
    pub fn http_path(&self) -> Option<&str> {
        match self {
            SourceConfig::FirehoseHttp(f) => Some(&f.path),
            SourceConfig::EventbridgeHttp(e) => Some(&e.path),
            _ => None,
        }
    }
}

/// The `files` source (`type = "files"`): Connect data files read once through the
/// pipeline, in any layout `switchboard decode` reads (gzip included). How far each file
/// was read is committed with its records, so a restarted `run` resumes after the last
/// commit and skips finished files; once every file is read the source ends and the
/// others go on.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FilesConfig {
    /// Files or folders (read recursively, in name order). Relative paths are taken from
    /// the config file's folder.
    pub paths: Vec<PathBuf>,
    /// Layout of the input instead of detecting it: `auto` (default) or any
    /// `switchboard decode --format` name.
    #[serde(default = "default_format")]
    pub format: String,
    /// Items per delivery (each delivery's position is committed with it).
    #[serde(default = "default_batch")]
    pub batch: usize,
}

fn default_format() -> String {
    "auto".into()
}

fn default_batch() -> usize {
    1000
}

impl FilesConfig {
    /// A folder of exports, layout detected.
    pub fn example() -> Self {
        FilesConfig {
            paths: vec!["exports".into()],
            format: default_format(),
            batch: default_batch(),
        }
    }
}

/// Parses one `[[sources]]` table: its `type`, then that type's fields.
pub fn parse_source(
    value: toml::Value,
    path: &str,
    problems: &mut Problems,
) -> Option<SourceConfig> {
    let toml::Value::Table(mut table) = value else {
        problems.push(path, "expected a table");
        return None;
    };
    let kind = match table.remove("type") {
        Some(toml::Value::String(kind)) => kind,
        Some(_) => {
            problems.push(join(path, "type"), "expected a string");
            return None;
        }
        None => {
            problems.push(
                join(path, "type"),
                format!("missing key (one of {})", TYPES.join(", ")),
            );
            return None;
        }
    };
    let value = toml::Value::Table(table);
    match kind.as_str() {
        "kinesis" => section(value, path, problems).map(SourceConfig::Kinesis),
        "firehose_http" => section(value, path, problems).map(SourceConfig::FirehoseHttp),
        "eventbridge_http" => section(value, path, problems).map(SourceConfig::EventbridgeHttp),
        "sqs" => section(value, path, problems).map(SourceConfig::Sqs),
        "files" => section(value, path, problems).map(SourceConfig::Files),
        other => {
            problems.push(
                join(path, "type"),
                format!(
                    "unknown source type {other:?}, expected one of {}",
                    TYPES.join(", ")
                ),
            );
            None
        }
    }
}

/// Fills `source`'s unset AWS fields from `defaults` (`[aws]`).
pub fn inherit_aws(source: &mut SourceConfig, defaults: &AwsConfig) {
    let aws = match source {
        SourceConfig::Kinesis(k) => &mut k.aws,
        SourceConfig::Sqs(s) => &mut s.aws,
        _ => return,
    };
    if aws.region.is_none() {
        aws.region.clone_from(&defaults.region);
    }
    if aws.profile.is_none() {
        aws.profile.clone_from(&defaults.profile);
    }
    if aws.endpoint_url.is_none() {
        aws.endpoint_url.clone_from(&defaults.endpoint_url);
    }
}
