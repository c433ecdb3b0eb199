//! `KinesisConfig`: which stream, which application (lease table), where new shards start,
//! and the timings of leases and polling.

use std::time::Duration;

use serde::{Deserialize, Serialize};
use switchboard_model::Timestamp;

use super::error::KinesisError;
use crate::aws::AwsConfig;

/// The Kinesis Data Streams source (`type = "kinesis"`): Connect's agent event stream or
/// contact record stream, read by one or more workers that share its shards through a
/// DynamoDB lease table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisConfig {
    /// The stream's name, or its ARN (`arn:aws:kinesis:REGION:ACCOUNT:stream/NAME`).
    pub stream: String,
    /// The application: names the DynamoDB lease table (3 to 255 letters, digits, `_`,
    /// `-`, `.`). Every worker of one application shares it; two applications reading the
    /// same stream need two names. A table whose leases belong to another stream is
    /// refused.
    pub application: String,
    /// Where a shard nobody has read yet starts: `TRIM_HORIZON` (the oldest record kept),
    /// `LATEST` (records put from now on) or `AT_TIMESTAMP` (with `start_timestamp`).
    /// Shards created later by a split or merge always start at their beginning.
    #[serde(default)]
    pub start_position: StartPosition,
    /// With `AT_TIMESTAMP`: RFC 3339, e.g. `2025-01-01T08:00:00Z`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_timestamp: Option<Timestamp>,
    /// This worker's name in the lease table; unique per running process. Default: the
    /// host name, the process id and a random suffix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub worker_id: Option<String>,
    /// Seconds a lease stays valid without renewal. Leases are renewed every third of it;
    /// a dead worker's shards are taken over after about this long.
    #[serde(default = "default_lease_duration_secs")]
    pub lease_duration_secs: u64,
    /// The most shards one worker reads at once (unset: no limit).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_leases_per_worker: Option<usize>,
    /// Milliseconds between two `GetRecords` on a shard that returned less than a full
    /// batch. Kinesis allows 5 reads per second per shard, shared by every consumer.
    #[serde(default = "default_poll_interval_ms")]
    pub poll_interval_ms: u64,
    /// Records per `GetRecords` (1 to 10,000).
    #[serde(default = "default_get_records_limit")]
    pub get_records_limit: u32,
    /// Seconds between two listings of the stream's shards (new leases for new shards).
    /// A worker that reads a shard to its end lists at once as well.
    #[serde(default = "default_shard_sync_interval_secs")]
    pub shard_sync_interval_secs: u64,
    /// Region, profile and endpoint (Kinesis and DynamoDB).
    #[serde(default)]
    pub aws: AwsConfig,
    /// The lease table's DynamoDB endpoint, when it is not `aws.endpoint_url`: a local
    /// Kinesis and a local DynamoDB listen on two ports (kinesalite and dynalite, or
    /// DynamoDB Local).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamodb_endpoint_url: Option<String>,
}

/// Where a shard without a checkpoint starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum StartPosition {
    #[default]
    TrimHorizon,
    Latest,
    AtTimestamp,
}

fn default_lease_duration_secs() -> u64 {
    10
}
fn default_poll_interval_ms() -> u64 {
    1000
}
fn default_get_records_limit() -> u32 {
    10_000
}
fn default_shard_sync_interval_secs() -> u64 {
    60
}

impl KinesisConfig {
    /// Connect's agent event stream in us-east-1, read from the oldest record kept.
    pub fn example() -> Self {
        Self {
            stream: "arn:aws:kinesis:us-east-1:123456789012:stream/connect-agent-events".into(),
            application: "switchboard-agent-events".into(),
            start_position: StartPosition::TrimHorizon,
            start_timestamp: None,
            worker_id: None,
            lease_duration_secs: default_lease_duration_secs(),
            max_leases_per_worker: None,
            poll_interval_ms: default_poll_interval_ms(),
            get_records_limit: default_get_records_limit(),
            shard_sync_interval_secs: default_shard_sync_interval_secs(),
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
            dynamodb_endpoint_url: None,
        }
    }

    /// A config for `stream` and `application` with every other field at its default.
    pub fn new(stream: impl Into<String>, application: impl Into<String>) -> Self {
        Self {
            stream: stream.into(),
            application: application.into(),
            aws: AwsConfig::default(),
            ..Self::example()
        }
    }

    /// Checks names and ranges.
    pub fn validate(&self) -> Result<(), KinesisError> {
        let err = |m: String| Err(KinesisError::Config(m));
        if self.stream_name().is_empty() {
            return err(format!("stream {:?} names no stream", self.stream));
        }
        let app = &self.application;
        let table_char = |c: char| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.');
        if !(3..=255).contains(&app.len()) || !app.chars().all(table_char) {
            return err(format!(
                "application {app:?} cannot name a DynamoDB table: 3 to 255 letters, digits, \
                 '_', '-' or '.'"
            ));
        }
        match (self.start_position, self.start_timestamp) {
            (StartPosition::AtTimestamp, None) => {
                return err("start_position AT_TIMESTAMP needs start_timestamp".into())
            }
            (StartPosition::TrimHorizon | StartPosition::Latest, Some(_)) => {
                return err("start_timestamp is only for start_position AT_TIMESTAMP".into())
            }
            _ => {}
        }
        if self
            .worker_id
            .as_deref()
            .is_some_and(|w| w.trim().is_empty())
        {
            return err("worker_id is empty".into());
        }
        if self.lease_duration_secs == 0 {
            return err("lease_duration_secs must be at least 1".into());
        }
        if self.max_leases_per_worker == Some(0) {
            return err("max_leases_per_worker must be at least 1".into());
        }
        if self.poll_interval_ms == 0 || self.shard_sync_interval_secs == 0 {
            return err("poll_interval_ms and shard_sync_interval_secs must be positive".into());
        }
        if !(1..=10_000).contains(&self.get_records_limit) {
            return err("get_records_limit must be 1 to 10000".into());
        }
        if let Some(url) = &self.dynamodb_endpoint_url {
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return err(format!(
                    "dynamodb_endpoint_url {url:?} is not an http(s) URL"
                ));
            }
        }
        Ok(())
    }

    /// The stream's name, from the name or the ARN.
    pub fn stream_name(&self) -> &str {
        match self.stream.strip_prefix("arn:") {
            Some(rest) => rest.rsplit_once(":stream/").map_or("", |(_, name)| name),
            None => self.stream.trim(),
        }
    }

    /// The ARN, if the stream was given as one.
    pub fn stream_arn(&self) -> Option<&str> {
        self.stream
            .starts_with("arn:")
            .then_some(self.stream.as_str())
    }

    pub fn lease_duration(&self) -> Duration {
        Duration::from_secs(self.lease_duration_secs)
    }

    pub fn poll_interval(&self) -> Duration {
        Duration::from_millis(self.poll_interval_ms)
    }

    pub fn shard_sync_interval(&self) -> Duration {
        Duration::from_secs(self.shard_sync_interval_secs)
    }

    /// The configured worker id, or a new one: host name, process id, random suffix.
    pub fn worker_id_or_default(&self) -> String {
        if let Some(id) = &self.worker_id {
            return id.clone();
        }
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .ok()
            .or_else(|| std::env::var("HOSTNAME").ok())
            .map(|h| h.trim().to_string())
            .filter(|h| !h.is_empty())
            .unwrap_or_else(|| "localhost".into());
        let suffix: u32 = rand::random();
        format!("{host}:{}:{suffix:08x}", std::process::id())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_is_valid_and_round_trips() {
        let example = KinesisConfig::example();
        example.validate().unwrap();
        let json = serde_json::to_string(&example).unwrap();
        let back: KinesisConfig = serde_json::from_str(&json).unwrap();
        assert_eq!(back, example);
        assert_eq!(example.stream_name(), "connect-agent-events");
        assert!(example.stream_arn().is_some());
    }

    #[test]
    fn defaults_fill_everything_but_stream_and_application() {
        let c: KinesisConfig =
            serde_json::from_str(r#"{"stream": "agents", "application": "sb-agents"}"#).unwrap();
        c.validate().unwrap();
        assert_eq!(c.stream_name(), "agents");
        assert_eq!(c.stream_arn(), None);
        assert_eq!(c.start_position, StartPosition::TrimHorizon);
        assert_eq!(c.lease_duration(), Duration::from_secs(10));
        let a = c.worker_id_or_default();
        assert_ne!(
            a,
            c.worker_id_or_default(),
            "two processes' ids never collide"
        );
    }

    #[test]
    fn refuses_unknown_fields_and_bad_values() {
        let parse = |s: &str| serde_json::from_str::<KinesisConfig>(s);
        assert!(parse(r#"{"stream": "a", "application": "abc", "shards": 2}"#).is_err());
        assert!(
            parse(r#"{"stream": "a", "application": "abc", "start_position": "OLDEST"}"#).is_err()
        );
        let bad = |f: &dyn Fn(&mut KinesisConfig)| {
            let mut c = KinesisConfig::example();
            f(&mut c);
            c.validate().unwrap_err().to_string()
        };
        assert!(bad(&|c| c.application = "ab".into()).contains("application"));
        assert!(bad(&|c| c.application = "a b c".into()).contains("application"));
        assert!(bad(&|c| c.start_position = StartPosition::AtTimestamp).contains("start_timestamp"));
        assert!(
            bad(&|c| c.start_timestamp = Some(Timestamp::from_secs(0))).contains("start_timestamp")
        );
        assert!(bad(&|c| c.get_records_limit = 10_001).contains("get_records_limit"));
        assert!(bad(&|c| c.lease_duration_secs = 0).contains("lease_duration_secs"));
        assert!(
            bad(&|c| c.stream = "arn:aws:kinesis:us-east-1:1:table/x".into())
                .contains("names no stream")
        );
        let ts: KinesisConfig = parse(
            r#"{"stream": "a", "application": "abc", "start_position": "AT_TIMESTAMP",
                "start_timestamp": "2025-01-01T08:00:00Z"}"#,
        )
        .unwrap();
        ts.validate().unwrap();
    }
}
