//! `S3Config`: the bucket, the key layout (prefix, hour folders by event or arrival time,
//! Hive-style partitions), gzip, Firehose-style buffering hints and the error prefix.

use std::collections::BTreeSet;
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::S3Sink;
use crate::aws::AwsConfig;
use crate::problems::{first_problem, join, Problems};
use crate::sinks::{BatchHints, BuildError};

/// Default of `buffer_max_bytes`: 5 MiB, Firehose's default buffer size.
pub const DEFAULT_BUFFER_MAX_BYTES: u64 = 5 * 1024 * 1024;
/// Default of `buffer_interval_secs`: 300, Firehose's default buffer interval.
pub const DEFAULT_BUFFER_INTERVAL_SECS: u64 = 300;
/// Smallest `buffer_max_bytes` (1 MiB) and largest (128 MiB): Firehose's bounds.
pub const BUFFER_MAX_BYTES_RANGE: (u64, u64) = (1024 * 1024, 128 * 1024 * 1024);
/// Largest `buffer_interval_secs` (15 minutes): Firehose's bound.
pub const MAX_BUFFER_INTERVAL_SECS: u64 = 900;
/// Items one batch holds at most, whatever their size (bounds the work of one delivery).
pub const MAX_BATCH_ITEMS: usize = 10_000;
/// Longest prefix accepted (Firehose evaluates prefixes up to 512 characters).
pub const MAX_PREFIX_CHARS: usize = 512;
/// Default of `timeout_secs`.
pub const DEFAULT_TIMEOUT_SECS: u64 = 60;
/// Most partition fields (each one is a folder level).
pub const MAX_PARTITIONS: usize = 8;

/// Amazon S3 (`type = "s3"`): NDJSON objects, one item a line, under
/// `prefix/[name=value/...]YYYY/MM/DD/HH/`, written in batches as Firehose would.
///
/// ```toml
/// [[sinks]]
/// name = "archive"
/// type = "s3"
/// bucket = "acme-connect-archive"
/// prefix = "ctr/"
/// gzip = true
/// partition_by = [{ name = "queue", path = "Queue.Name" }]
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3Config {
    /// The bucket's name (not its ARN), e.g. `acme-connect-archive`.
    pub bucket: String,
    /// Where object keys start, e.g. `connect/ctr/`; a `/` is added when it does not end
    /// with one. Empty: at the top of the bucket.
    #[serde(default)]
    pub prefix: String,
    /// Which time picks an object's `YYYY/MM/DD/HH/` folder (UTC): `event`, the time the
    /// item describes (a contact record's last update, an agent event's timestamp), so a
    /// late or replayed record lands where its hour is; or `arrival`, when switchboard
    /// routed it, as Firehose does.
    #[serde(default)]
    pub time: TimeBasis,
    /// Hive-style partition folders before the date folders, in this order, each read
    /// from the item's JSON by a dotted path: `{ name = "queue", path = "Queue.Name" }`
    /// puts a Sales contact under `prefix/queue=Sales/YYYY/MM/DD/HH/`. Values are escaped
    /// as Hive escapes partition values (`/`, `=`, `:` ... as `%2F`...), so Athena and Glue
    /// read them back. An item without the value (or not JSON) goes to `error_prefix`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub partition_by: Vec<PartitionField>,
    /// Compress each object with gzip (`.gz` suffix, `Content-Encoding: gzip`).
    #[serde(default)]
    pub gzip: bool,
    /// Bytes of items (before compression) that make an object: the delivery worker
    /// sends a batch when this much is waiting, or when `buffer_interval_secs` has passed
    /// since the oldest item came, whichever is first (Firehose's buffering hints).
    /// 1 MiB to 128 MiB.
    #[serde(default = "default_buffer_max_bytes")]
    pub buffer_max_bytes: u64,
    /// Seconds the oldest item may wait for a batch to fill. 0 to 900; 0 writes at once.
    #[serde(default = "default_buffer_interval_secs")]
    pub buffer_interval_secs: u64,
    /// Where items that cannot be partitioned go (same `YYYY/MM/DD/HH/` folders below it),
    /// each wrapped in a Firehose error record (`errorCode`, `errorMessage`, `rawData` =
    /// base64 of the item), so they can be replayed once fixed.
    #[serde(default = "default_error_prefix")]
    pub error_prefix: String,
    /// Address the bucket in the path (`https://host/bucket/key`) rather than the host
    /// name: for S3-compatible servers (MinIO, moto, s3rver) that need it. Always on when
    /// `aws.endpoint_url` is set.
    #[serde(default)]
    pub force_path_style: bool,
    /// Seconds one `PutObject` may take, retries of the SDK included; past it the
    /// object's items are retried later. 1 to 900.
    #[serde(default = "default_timeout_secs")]
    pub timeout_secs: u64,
    /// Region, profile and endpoint.
    #[serde(default)]
    pub aws: AwsConfig,
}

/// Which timestamp files an item into its hour folder.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TimeBasis {
    /// The time the item describes.
    #[default]
    Event,
    /// When switchboard routed the item.
    Arrival,
}

/// One partition folder level: `name=value/`, the value read at `path`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartitionField {
    /// The folder's name before `=`, e.g. `queue` (letters, digits, `_`, `-`).
    pub name: String,
    /// A dotted path into the item's JSON, e.g. `Queue.Name` or
    /// `SystemEndpoint.Address`; a number picks an array element (`MediaStreams.0.Type`).
    pub path: String,
}

fn default_buffer_max_bytes() -> u64 {
    DEFAULT_BUFFER_MAX_BYTES
}
fn default_buffer_interval_secs() -> u64 {
    DEFAULT_BUFFER_INTERVAL_SECS
}
fn default_timeout_secs() -> u64 {
    DEFAULT_TIMEOUT_SECS
}
fn default_error_prefix() -> String {
    "errors/".into()
}

impl S3Config {
    /// Contact records archived by hour and queue, gzipped.
    pub fn example() -> Self {
        S3Config {
            bucket: "acme-connect-archive".into(),
            prefix: "connect/ctr/".into(),
            time: TimeBasis::Event,
            partition_by: vec![PartitionField {
                name: "queue".into(),
                path: "Queue.Name".into(),
            }],
            gzip: true,
            buffer_max_bytes: DEFAULT_BUFFER_MAX_BYTES,
            buffer_interval_secs: DEFAULT_BUFFER_INTERVAL_SECS,
            error_prefix: default_error_prefix(),
            force_path_style: false,
            timeout_secs: DEFAULT_TIMEOUT_SECS,
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
        }
    }

    /// Reports every problem under `key` (`sinks[2]`): the bucket name, prefixes,
    /// partition fields, buffer bounds, the AWS settings.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        if let Err(why) = check_bucket(&self.bucket) {
            problems.push(join(key, "bucket"), why);
        }
        if let Err(why) = check_prefix(&self.prefix) {
            problems.push(join(key, "prefix"), why);
        }
        if self.error_prefix.is_empty() {
            problems.push(
                join(key, "error_prefix"),
                "is empty: items that cannot be partitioned need a prefix of their own, e.g. \
                 \"errors/\"",
            );
        } else if let Err(why) = check_prefix(&self.error_prefix) {
            problems.push(join(key, "error_prefix"), why);
        } else if folder(&self.error_prefix) == folder(&self.prefix) {
            problems.push(
                join(key, "error_prefix"),
                "is the same as prefix: give failed items a folder of their own",
            );
        }
        let mut names = BTreeSet::new();
        for (i, p) in self.partition_by.iter().enumerate() {
            let at = format!("{}[{i}]", join(key, "partition_by"));
            let name_ok = !p.name.is_empty()
                && p.name.len() <= 64
                && p.name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
            if !name_ok {
                problems.push(
                    join(&at, "name"),
                    "must be 1 to 64 letters, digits, '_' or '-' (it becomes a folder name)",
                );
            } else if !names.insert(p.name.as_str()) {
                problems.push(join(&at, "name"), format!("{:?} is used twice", p.name));
            }
            if p.path.is_empty() || p.path.split('.').any(str::is_empty) {
                problems.push(
                    join(&at, "path"),
                    "must be a dotted field path such as Queue.Name",
                );
            }
        }
        if self.partition_by.len() > MAX_PARTITIONS {
            problems.push(
                join(key, "partition_by"),
                format!(
                    "has {} fields; at most {MAX_PARTITIONS}",
                    self.partition_by.len()
                ),
            );
        }
        let (lo, hi) = BUFFER_MAX_BYTES_RANGE;
        problems.check_range(
            join(key, "buffer_max_bytes"),
            self.buffer_max_bytes,
            lo..=hi,
            &format!("{lo} (1 MiB) to {hi} (128 MiB)"),
        );
        problems.check_range(
            join(key, "buffer_interval_secs"),
            self.buffer_interval_secs,
            0..=MAX_BUFFER_INTERVAL_SECS,
            &format!("0 to {MAX_BUFFER_INTERVAL_SECS}"),
        );
        let timeout = join(key, "timeout_secs");
        problems.check_range(timeout, self.timeout_secs, 1..=900, "1 to 900");
        check_aws(&self.aws, &join(key, "aws"), problems);
    }

    /// The batching the delivery worker should use: Firehose's size and interval hints.
    pub fn hints(&self) -> BatchHints {
        BatchHints {
            max_items: MAX_BATCH_ITEMS,
            max_bytes: usize::try_from(self.buffer_max_bytes).unwrap_or(usize::MAX),
            max_wait: Duration::from_secs(self.buffer_interval_secs),
        }
    }

    /// Builds the sink: loads the AWS configuration (credentials are resolved on the
    /// first write, so a bucket that is unreachable now delays delivery, not startup).
    pub async fn build(&self, name: &str) -> Result<S3Sink, BuildError> {
        if let Some(reason) = first_problem(|p| self.check("", p)) {
            return Err(BuildError::sink(name, reason));
        }
        let sdk = self.aws.load().await;
        let s3 = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(self.force_path_style || self.aws.endpoint_url.is_some())
            .timeout_config(
                aws_sdk_s3::config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(self.timeout_secs.min(10)))
                    .operation_timeout(Duration::from_secs(self.timeout_secs))
                    .build(),
            )
            .build();
        switchboard_telemetry::register_sink(name);
        Ok(S3Sink::new(
            name,
            self.clone(),
            aws_sdk_s3::Client::from_conf(s3),
        ))
    }
}

/// `prefix` as the start of a key: empty, or ending with `/`.
pub(crate) fn folder(prefix: &str) -> String {
    if prefix.is_empty() || prefix.ends_with('/') {
        prefix.to_owned()
    } else {
        format!("{prefix}/")
    }
}

/// S3's bucket naming rules (general purpose buckets).
fn check_bucket(bucket: &str) -> Result<(), String> {
    if bucket.starts_with("arn:") || bucket.starts_with("s3://") {
        return Err("give the bucket's name alone, not an ARN or s3:// URL".into());
    }
    let ok_chars = bucket
        .chars()
        .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-');
    let edges = bucket
        .chars()
        .next()
        .zip(bucket.chars().last())
        .is_some_and(|(a, z)| a.is_ascii_alphanumeric() && z.is_ascii_alphanumeric());
    if !(3..=63).contains(&bucket.len()) || !ok_chars || !edges || bucket.contains("..") {
        return Err(format!(
            "{bucket:?} is not a bucket name: 3 to 63 lower-case letters, digits, '.' and '-', \
             starting and ending with a letter or digit"
        ));
    }
    Ok(())
}

fn check_prefix(prefix: &str) -> Result<(), String> {
    if prefix.starts_with('/') {
        return Err("must not start with '/' (S3 keys have no leading slash)".into());
    }
    if prefix.chars().count() > MAX_PREFIX_CHARS {
        return Err(format!("is longer than {MAX_PREFIX_CHARS} characters"));
    }
    if prefix.chars().any(char::is_control) {
        return Err("contains a control character".into());
    }
    if prefix.split('/').any(|part| part == "." || part == "..") {
        return Err("contains a '.' or '..' folder".into());
    }
    Ok(())
}

/// The checks every AWS component makes of its `aws` table.
fn check_aws(aws: &AwsConfig, key: &str, problems: &mut Problems) {
    if let Some(url) = &aws.endpoint_url {
        let ok = ["http://", "https://"]
            .iter()
            .any(|s| url.strip_prefix(s).is_some_and(|rest| !rest.is_empty()));
        if !ok {
            problems.push(
                join(key, "endpoint_url"),
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
    }
    for (field, value) in [("region", &aws.region), ("profile", &aws.profile)] {
        if value.as_deref().is_some_and(|v| v.trim().is_empty()) {
            problems.push(join(key, field), "is empty");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn example_checks_clean_and_round_trips() {
        let example = S3Config::example();
        let mut problems = Problems::new("t.toml");
        example.check("sinks[0]", &mut problems);
        assert!(problems.is_empty(), "{problems}");
        let json = serde_json::to_string(&example).unwrap();
        assert_eq!(serde_json::from_str::<S3Config>(&json).unwrap(), example);
    }

    #[test]
    fn defaults_are_firehose_like() {
        let c: S3Config = serde_json::from_str(r#"{"bucket": "abc"}"#).unwrap();
        assert_eq!(c.time, TimeBasis::Event);
        assert_eq!(c.error_prefix, "errors/");
        let hints = c.hints();
        assert_eq!(hints.max_bytes, 5 * 1024 * 1024);
        assert_eq!(hints.max_wait, Duration::from_secs(300));
        assert!(serde_json::from_str::<S3Config>(r#"{"bucket": "abc", "gz": true}"#).is_err());
        assert!(
            serde_json::from_str::<S3Config>(r#"{"bucket": "abc", "time": "processing"}"#).is_err()
        );
    }

    #[test]
    fn reports_every_problem_with_its_key() {
        let c = S3Config {
            bucket: "Bad_Bucket".into(),
            prefix: "/abs".into(),
            partition_by: vec![
                PartitionField {
                    name: "queue".into(),
                    path: "Queue..Name".into(),
                },
                PartitionField {
                    name: "queue".into(),
                    path: "Channel".into(),
                },
                PartitionField {
                    name: "a=b".into(),
                    path: "x".into(),
                },
            ],
            buffer_max_bytes: 10,
            buffer_interval_secs: 901,
            error_prefix: String::new(),
            aws: AwsConfig {
                region: Some(" ".into()),
                profile: None,
                endpoint_url: Some("localhost:9000".into()),
            },
            ..S3Config::example()
        };
        let mut problems = Problems::new("t.toml");
        c.check("sinks[3]", &mut problems);
        let keys: Vec<&str> = problems.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sinks[3].bucket",
                "sinks[3].prefix",
                "sinks[3].error_prefix",
                "sinks[3].partition_by[0].path",
                "sinks[3].partition_by[1].name",
                "sinks[3].partition_by[2].name",
                "sinks[3].buffer_max_bytes",
                "sinks[3].buffer_interval_secs",
                "sinks[3].aws.endpoint_url",
                "sinks[3].aws.region",
            ],
            "{problems}"
        );
        let same = S3Config {
            prefix: "data".into(),
            error_prefix: "data/".into(),
            ..S3Config::example()
        };
        let mut problems = Problems::new("t.toml");
        same.check("s", &mut problems);
        assert_eq!(problems.list[0].key, "s.error_prefix");
    }

    #[test]
    fn bucket_names() {
        for ok in ["abc", "my-bucket.logs", "a1b"] {
            assert!(check_bucket(ok).is_ok(), "{ok}");
        }
        for bad in [
            "ab",
            "-abc",
            "abc-",
            "a..b",
            "ABC",
            "arn:aws:s3:::abc",
            "s3://abc",
        ] {
            assert!(check_bucket(bad).is_err(), "{bad}");
        }
    }
}
