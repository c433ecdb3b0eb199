//! `[dead_letter]`: where dead letters are written, by `type`.
//!
//! ```toml
//! [dead_letter]
//! type = "s3"                        # file | s3 | sqs
//! bucket = "acme-connect-dead-letters"
//! prefix = "switchboard"
//! ```
//!
//! A table without `type` but with `path` is the file writer, as before `type` existed:
//! `[dead_letter] path = "dead-letters.ndjson"` still works (the config loader maps it
//! with [`DeadLetterConfig::from_legacy_path`]).

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{file, s3, sqs, DeadLetterSink, Writer};
use crate::aws::AwsConfig;
use crate::problems::{first_problem, join, Problems};
use crate::sinks::BuildError;

/// Where dead letters go. A `[dead_letter]` table without `type` but with `path` is the
/// file writer (the form before `type` existed; see [`DeadLetterConfig::from_legacy_path`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum DeadLetterConfig {
    /// A local NDJSON file, one entry a line, appended and fsynced per batch.
    File(FileDeadLetterConfig),
    /// NDJSON objects in S3 under `prefix/YYYY/MM/DD/HH/`, one object per batch.
    S3(S3DeadLetterConfig),
    /// An SQS queue, one message per entry (where the seeds' Lambdas sent what failed).
    Sqs(SqsDeadLetterConfig),
}

/// `type = "file"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileDeadLetterConfig {
    /// The NDJSON file entries are appended to (created if missing; its folder must
    /// exist). Relative paths are taken from the config file's folder. Each line is a
    /// Firehose error record, so `switchboard replay FILE` reads it back.
    pub path: PathBuf,
}

/// `type = "s3"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3DeadLetterConfig {
    /// The bucket.
    pub bucket: String,
    /// Key prefix; objects go under `PREFIX/YYYY/MM/DD/HH/` (UTC, the hour the batch's
    /// oldest entry was dead-lettered). Empty for the bucket's root.
    #[serde(default = "default_prefix")]
    pub prefix: String,
    /// Region, profile and endpoint (unset fields come from `[aws]`).
    #[serde(default)]
    pub aws: AwsConfig,
}

/// `type = "sqs"`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SqsDeadLetterConfig {
    /// The queue's URL, e.g.
    /// `https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dead-letters`
    /// (a `.fifo` queue gets a message group and a deduplication id per entry).
    pub queue_url: String,
    /// The queue's largest message, in bytes (its `MaximumMessageSize`; 1024 to
    /// 1048576). An entry larger than this is sent without its `rawData`, with
    /// `rawDataTruncated: true`, and logged as an error: the one case where a dead letter
    /// loses its original bytes. Raise the queue's limit and this one, or use a file or
    /// S3, if records that large are expected. Keep it at or below the queue's own limit:
    /// SQS refuses larger messages, and the writer retries them (logging why) until the
    /// settings agree.
    #[serde(default = "default_max_message_bytes")]
    pub max_message_bytes: usize,
    /// Region, profile and endpoint (unset fields come from `[aws]`).
    #[serde(default)]
    pub aws: AwsConfig,
}

fn default_prefix() -> String {
    "dead-letters".into()
}

/// SQS's long-standing message limit (queues created before 2025 and most emulators).
pub const DEFAULT_MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SQS's largest message size.
pub const MAX_MESSAGE_BYTES: usize = 1024 * 1024;

fn default_max_message_bytes() -> usize {
    DEFAULT_MAX_MESSAGE_BYTES
}

impl DeadLetterConfig {
    /// `[dead_letter] path = "…"` without `type`: the file writer.
    pub fn from_legacy_path(path: PathBuf) -> DeadLetterConfig {
        DeadLetterConfig::File(FileDeadLetterConfig { path })
    }

    /// The `type` tag.
    pub fn type_name(&self) -> &'static str {
        match self {
            DeadLetterConfig::File(_) => "file",
            DeadLetterConfig::S3(_) => "s3",
            DeadLetterConfig::Sqs(_) => "sqs",
        }
    }

    /// The file writer, the simplest to start with.
    pub fn example() -> DeadLetterConfig {
        Self::from_legacy_path("dead-letters.ndjson".into())
    }

    /// One example of each type, as `switchboard validate --example` prints them.
    pub fn examples() -> Vec<DeadLetterConfig> {
        let aws = AwsConfig {
            region: Some("us-east-1".into()),
            ..AwsConfig::default()
        };
        vec![
            Self::example(),
            DeadLetterConfig::S3(S3DeadLetterConfig {
                bucket: "acme-connect-dead-letters".into(),
                prefix: default_prefix(),
                aws: aws.clone(),
            }),
            DeadLetterConfig::Sqs(SqsDeadLetterConfig {
                queue_url:
                    "https://sqs.us-east-1.amazonaws.com/123456789012/switchboard-dead-letters"
                        .into(),
                max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
                aws,
            }),
        ]
    }

    /// Where entries go, in words (`switchboard validate`).
    pub fn describe(&self) -> String {
        match self {
            DeadLetterConfig::File(c) => format!("file {}", c.path.display()),
            DeadLetterConfig::S3(c) => {
                format!("s3://{}/{}", c.bucket, s3::folder_prefix(&c.prefix))
            }
            DeadLetterConfig::Sqs(c) => format!("sqs {}", c.queue_url),
        }
    }

    /// Takes a relative file path from `base` (the config file's folder).
    pub fn resolve_paths(&mut self, base: &Path) {
        if let DeadLetterConfig::File(c) = self {
            c.path = base.join(&c.path);
        }
    }

    /// The AWS settings of the S3 and SQS writers, for inheriting `[aws]`.
    pub fn aws_mut(&mut self) -> Option<&mut AwsConfig> {
        match self {
            DeadLetterConfig::File(_) => None,
            DeadLetterConfig::S3(c) => Some(&mut c.aws),
            DeadLetterConfig::Sqs(c) => Some(&mut c.aws),
        }
    }

    /// Reports every problem under `key` (e.g. `dead_letter`). The file writer's folder
    /// must exist; nothing else touches the file system or the network.
    pub fn check(&self, key: &str, problems: &mut Problems) {
        match self {
            DeadLetterConfig::File(c) => check_file(c, key, problems),
            DeadLetterConfig::S3(c) => {
                check_bucket(&c.bucket, &join(key, "bucket"), problems);
                if c.prefix.starts_with('/') || c.prefix.contains("//") {
                    problems.push(
                        join(key, "prefix"),
                        format!(
                            "{:?}: S3 keys do not start with `/` or hold `//`; write e.g. \
                             \"dead-letters\"",
                            c.prefix
                        ),
                    );
                }
                check_endpoint(&c.aws, key, problems);
            }
            DeadLetterConfig::Sqs(c) => {
                let url = c.queue_url.trim();
                if url.starts_with("arn:") {
                    problems.push(
                        join(key, "queue_url"),
                        "is an ARN; give the queue's URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
                    );
                } else if !(url.starts_with("https://") || url.starts_with("http://"))
                    || url
                        .trim_end_matches('/')
                        .rsplit('/')
                        .next()
                        .is_none_or(str::is_empty)
                {
                    problems.push(
                        join(key, "queue_url"),
                        format!(
                            "{:?} is not a queue URL (https://sqs.REGION.amazonaws.com/ACCOUNT/NAME)",
                            c.queue_url
                        ),
                    );
                }
                problems.check_range(
                    join(key, "max_message_bytes"),
                    c.max_message_bytes,
                    1024..=MAX_MESSAGE_BYTES,
                    &format!("1024 to {MAX_MESSAGE_BYTES} (SQS's limits)"),
                );
                check_endpoint(&c.aws, key, problems);
            }
        }
    }

    /// The running writer, named `name` (the dead-letter sink's name in the outbox). The
    /// file is created now, so a folder that cannot be written fails the start; S3 and SQS
    /// are first reached when there is something to write.
    pub async fn build(&self, name: &str) -> Result<DeadLetterSink, BuildError> {
        if let Some(reason) = first_problem(|p| self.check("", p)) {
            return Err(BuildError::sink(name, reason));
        }
        let writer = match self {
            DeadLetterConfig::File(c) => Writer::File(
                file::FileWriter::open(&c.path)
                    .await
                    .map_err(|e| BuildError::sink(name, e))?,
            ),
            DeadLetterConfig::S3(c) => Writer::S3(
                s3::S3Writer::new(c)
                    .await
                    .map_err(|e| BuildError::sink(name, e))?,
            ),
            DeadLetterConfig::Sqs(c) => Writer::Sqs(
                sqs::SqsWriter::new(c)
                    .await
                    .map_err(|e| BuildError::sink(name, e))?,
            ),
        };
        Ok(DeadLetterSink {
            name: name.to_owned(),
            writer,
        })
    }
}

fn check_file(c: &FileDeadLetterConfig, key: &str, problems: &mut Problems) {
    let key = join(key, "path");
    if c.path.as_os_str().is_empty() {
        problems.push(key, "is empty: name the file dead letters are appended to");
        return;
    }
    if c.path.is_dir() {
        problems.push(
            key,
            format!("{} is a folder; name a file in it", c.path.display()),
        );
        return;
    }
    let parent = match c.path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    if !parent.is_dir() {
        problems.push(
            key,
            format!(
                "folder {} does not exist (create it first)",
                parent.display()
            ),
        );
    }
}

/// S3's bucket naming rules (3 to 63 lower-case letters, digits, `.` and `-`, starting and
/// ending with a letter or digit).
fn check_bucket(bucket: &str, key: &str, problems: &mut Problems) {
    let edges_ok =
        |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let valid = (3..=63).contains(&bucket.len())
        && bucket
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '.' | '-'))
        && edges_ok(bucket.chars().next())
        && edges_ok(bucket.chars().last())
        && !bucket.contains("..");
    if !valid {
        problems.push(
            key,
            format!(
                "{bucket:?} is not an S3 bucket name (3 to 63 lower-case letters, digits, `.` \
                 and `-`, starting and ending with a letter or digit)"
            ),
        );
    }
}

fn check_endpoint(aws: &AwsConfig, key: &str, problems: &mut Problems) {
    if let Some(url) = &aws.endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) {
            problems.push(
                join(key, "aws.endpoint_url"),
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(value: serde_json::Value) -> Result<DeadLetterConfig, String> {
        serde_json::from_value(value).map_err(|e| e.to_string())
    }

    #[test]
    fn each_type_parses_and_unknown_keys_are_refused() {
        use serde_json::json;
        let c = parse(json!({"type": "file", "path": "x.ndjson"})).unwrap();
        assert_eq!(c, DeadLetterConfig::from_legacy_path("x.ndjson".into()));
        let c = parse(json!({"type": "s3", "bucket": "b-1"})).unwrap();
        assert!(matches!(&c, DeadLetterConfig::S3(s) if s.prefix == "dead-letters"));
        let c = parse(json!({"type": "sqs", "queue_url": "https://q/1/dlq"})).unwrap();
        assert!(matches!(&c, DeadLetterConfig::Sqs(s) if s.max_message_bytes == 262_144));
        let e = parse(json!({"type": "s3", "bucket": "b-1", "path": "x"})).unwrap_err();
        assert!(e.contains("unknown field"), "{e}");
        assert!(parse(json!({"type": "kafka"})).is_err());
        // Without `type`, the loader maps `path` with from_legacy_path.
        assert!(parse(json!({"path": "x.ndjson"})).is_err());
    }

    #[test]
    fn examples_check_clean_and_serialize_back() {
        for example in DeadLetterConfig::examples() {
            let mut problems = Problems::new("x");
            example.check("dead_letter", &mut problems);
            assert!(problems.is_empty(), "{problems}");
            let value = serde_json::to_value(&example).unwrap();
            assert_eq!(parse(value).unwrap(), example);
        }
    }

    #[test]
    fn check_reports_each_problem_with_its_path() {
        let mut p = Problems::new("x");
        DeadLetterConfig::from_legacy_path("/no/such/folder/x.ndjson".into())
            .check("dead_letter", &mut p);
        DeadLetterConfig::S3(S3DeadLetterConfig {
            bucket: "Bad_Bucket".into(),
            prefix: "/dl".into(),
            aws: AwsConfig {
                endpoint_url: Some("localhost:9000".into()),
                ..AwsConfig::default()
            },
        })
        .check("dead_letter", &mut p);
        DeadLetterConfig::Sqs(SqsDeadLetterConfig {
            queue_url: "arn:aws:sqs:us-east-1:1:dlq".into(),
            max_message_bytes: 10,
            aws: AwsConfig::default(),
        })
        .check("dead_letter", &mut p);
        let keys: Vec<&str> = p.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "dead_letter.path",
                "dead_letter.bucket",
                "dead_letter.prefix",
                "dead_letter.aws.endpoint_url",
                "dead_letter.queue_url",
                "dead_letter.max_message_bytes"
            ],
            "{p}"
        );
    }

    #[test]
    fn relative_paths_and_aws_defaults() {
        let mut c = DeadLetterConfig::from_legacy_path("bad.ndjson".into());
        c.resolve_paths(Path::new("/etc/sb"));
        assert_eq!(c.describe(), "file /etc/sb/bad.ndjson");
        assert!(c.aws_mut().is_none());
        let mut s3 = DeadLetterConfig::examples().remove(1);
        assert!(s3.aws_mut().is_some());
        assert_eq!(
            s3.describe(),
            "s3://acme-connect-dead-letters/dead-letters/"
        );
    }
}
