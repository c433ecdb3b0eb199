//! `type = "sns"`: an Amazon SNS topic.
//!
//! ```toml
//! [[sinks]]
//! name = "alerts-topic"
//! type = "sns"
//! topic_arn = "arn:aws:sns:us-east-1:123456789012:contact-center-alerts"
//! ```
//!
//! Each item is one Publish: the readable text as the message (the same text as Slack's,
//! without emoji), a subject for email subscribers, and the message attributes `kind`
//! (`alert_raised`...) and `rule`, so a subscription's filter policy can pick what it
//! wants. On a FIFO topic (`.fifo`) the message group is the rule and the deduplication id
//! the item's idempotency key, so SNS itself drops a re-sent item within its five-minute
//! window.
//!
//! Throttling, internal errors, timeouts and unreachable endpoints are retried; an invalid
//! parameter, a topic that does not exist or a refused authorization sends the item to the
//! dead letters.

use std::time::Duration;

use aws_sdk_sns::config::timeout::TimeoutConfig;
use aws_sdk_sns::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_sns::types::MessageAttributeValue;
use aws_sdk_sns::Client;
use serde::{Deserialize, Serialize};

use super::text::Style;
use super::{message, one_by_one};
use crate::aws::AwsConfig;
use crate::problems::{join, Problems};
use crate::sinks::retry::fail_on_problems;
use crate::sinks::webhook::check_timeout;
use crate::sinks::webhook::template::TextTemplate;
use crate::sinks::{BatchHints, BuildError, Item, Outcome, Sink};
use switchboard_telemetry::requests::outcome as outcome_label;

/// SNS's largest message, in bytes.
pub const MAX_MESSAGE_BYTES: usize = 256 * 1024;
/// SNS's subjects are shorter than this many characters.
pub const MAX_SUBJECT_CHARS: usize = 100;

/// `type = "sns"`: readable messages to an Amazon SNS topic.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SnsConfig {
    /// The topic's ARN, e.g. `arn:aws:sns:us-east-1:123456789012:contact-center-alerts`
    /// (a `.fifo` topic gets a message group and a deduplication id per item).
    pub topic_arn: String,
    /// The subject (email subscriptions show it), as a text template like Slack's `text`:
    /// `"Contact center: {{$kind}}"`. Unset: the start of the message. SNS wants ASCII
    /// under 100 characters on one line: other characters are replaced, the rest cut.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subject: Option<String>,
    /// The message, as a text template (`{{$text}}` is switchboard's readable text, e.g.
    /// "Long hold — agent jdoe on hold for 6m 12s, queue Sales"). Unset: that text.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Milliseconds one Publish attempt may take before it is tried again. 1 to 300000;
    /// default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// Region, profile and endpoint (unset fields come from `[aws]`).
    #[serde(default)]
    pub aws: AwsConfig,
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl SnsConfig {
    pub fn example() -> Self {
        SnsConfig {
            topic_arn: "arn:aws:sns:us-east-1:123456789012:contact-center-alerts".into(),
            subject: None,
            text: None,
            timeout_ms: default_timeout_ms(),
            aws: AwsConfig {
                region: Some("us-east-1".into()),
                ..AwsConfig::default()
            },
        }
    }

    /// Reports every problem under `key` (e.g. `sinks[3]`).
    pub fn check(&self, key: &str, problems: &mut Problems) {
        if let Err(e) = check_topic_arn(&self.topic_arn) {
            problems.push(join(key, "topic_arn"), e);
        }
        for (field, template) in [("subject", &self.subject), ("text", &self.text)] {
            if let Some(t) = template {
                if let Err(e) = TextTemplate::compile(t) {
                    problems.push(join(key, field), e);
                }
            }
        }
        check_timeout(self.timeout_ms, &join(key, "timeout_ms"), problems);
    }

    /// Builds the sink: loads the AWS configuration (credentials are read when the first
    /// message is published).
    pub async fn build(&self, name: &str) -> Result<SnsSink, BuildError> {
        fail_on_problems(name, |p| self.check("", p))?;
        let compile = |field: &str, t: &Option<String>| {
            t.as_deref()
                .map(TextTemplate::compile)
                .transpose()
                .map_err(|e| BuildError::sink(name, format!("{field}: {e}")))
        };
        let subject = compile("subject", &self.subject)?;
        let text = compile("text", &self.text)?;
        let sdk = self.aws.load().await;
        if sdk.region().is_none() {
            return Err(BuildError::sink(
                name,
                "no AWS region: set region in the sink's aws table or in [aws], or AWS_REGION \
                 (the topic's region)",
            ));
        }
        let attempt = Duration::from_millis(self.timeout_ms);
        let timeouts = TimeoutConfig::builder()
            .operation_attempt_timeout(attempt)
            .operation_timeout(attempt * 3)
            .build();
        let client = Client::from_conf(
            aws_sdk_sns::config::Builder::from(&sdk)
                .timeout_config(timeouts)
                .build(),
        );
        switchboard_telemetry::register_sink(name);
        Ok(SnsSink {
            name: name.to_owned(),
            client,
            topic_arn: self.topic_arn.clone(),
            fifo: self.topic_arn.ends_with(".fifo"),
            subject,
            text,
        })
    }
}

/// `arn:PARTITION:sns:REGION:ACCOUNT:NAME`.
fn check_topic_arn(arn: &str) -> Result<(), String> {
    let parts: Vec<&str> = arn.split(':').collect();
    let ok = parts.len() == 6
        && parts[0] == "arn"
        && parts[1].starts_with("aws")
        && parts[2] == "sns"
        && !parts[3].is_empty()
        && parts[4].len() == 12
        && parts[4].bytes().all(|b| b.is_ascii_digit())
        && !parts[5].is_empty()
        && parts[5].len() <= 256
        && parts[5]
            .trim_end_matches(".fifo")
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{arn:?} is not an SNS topic ARN (arn:aws:sns:REGION:ACCOUNT:NAME, e.g. \
             arn:aws:sns:us-east-1:123456789012:alerts)"
        ))
    }
}

/// A running SNS sink.
#[derive(Debug)]
pub struct SnsSink {
    name: String,
    client: Client,
    topic_arn: String,
    fifo: bool,
    subject: Option<TextTemplate>,
    text: Option<TextTemplate>,
}

impl SnsSink {
    async fn publish(&self, item: &Item) -> Outcome {
        let body = message(item, self.text.as_ref(), Style::Plain);
        if body.is_empty() {
            return Outcome::reject("the message is empty (SNS refuses empty messages)");
        }
        if body.len() > MAX_MESSAGE_BYTES {
            return Outcome::reject(format!(
                "the message is {} bytes, above SNS's {MAX_MESSAGE_BYTES}",
                body.len()
            ));
        }
        let subject = match &self.subject {
            Some(t) => message(item, Some(t), Style::Plain),
            None => body.clone(),
        };
        let attribute = |value: &str| {
            MessageAttributeValue::builder()
                .data_type("String")
                .string_value(value)
                .build()
        };
        let (kind, rule) = match (attribute(item.kind.as_str()), attribute(&item.rule)) {
            (Ok(k), Ok(r)) => (k, r),
            (Err(e), _) | (_, Err(e)) => {
                return Outcome::reject(format!("cannot build the message attributes: {e}"))
            }
        };
        let mut request = self
            .client
            .publish()
            .topic_arn(&self.topic_arn)
            .message(body)
            .message_attributes("kind", kind);
        // SNS refuses an attribute with an empty value.
        if !item.rule.is_empty() {
            request = request.message_attributes("rule", rule);
        }
        if let Some(subject) = subject_line(&subject) {
            request = request.subject(subject);
        }
        if self.fifo {
            let group = if item.rule.is_empty() {
                "switchboard"
            } else {
                &item.rule
            };
            request = request
                .message_group_id(group)
                .message_deduplication_id(dedup_id(&item.key));
        }
        let started = std::time::Instant::now();
        let outcome = match request.send().await {
            Ok(_) => Outcome::Delivered,
            Err(e) => classify(&e),
        };
        let label = match &outcome {
            Outcome::Delivered => outcome_label::DELIVERED,
            Outcome::Retry { .. } => outcome_label::RETRY,
            Outcome::Reject { .. } => {
                switchboard_telemetry::sink_rejected(&self.name, 1);
                outcome_label::REJECT
            }
        };
        switchboard_telemetry::sink_request(&self.name, label, started.elapsed().as_secs_f64());
        outcome
    }
}

/// A subject SNS accepts: ASCII, one line, under 100 characters, starting with a letter,
/// digit or punctuation; `None` when nothing is left.
pub fn subject_line(text: &str) -> Option<String> {
    let mut out = String::new();
    for c in text.chars() {
        match c {
            '—' | '–' => out.push('-'),
            '→' => out.push_str("->"),
            '…' => out.push_str("..."),
            c if c.is_control() || c.is_whitespace() => {
                if !out.ends_with(' ') {
                    out.push(' ');
                }
            }
            c if c.is_ascii() => out.push(c),
            _ => out.push('?'),
        }
    }
    let trimmed =
        out.trim_start_matches(|c: char| !c.is_ascii_alphanumeric() && !c.is_ascii_punctuation());
    let cut: String = trimmed.chars().take(MAX_SUBJECT_CHARS - 1).collect();
    let cut = cut.trim_end().to_owned();
    (!cut.is_empty()).then_some(cut)
}

/// A FIFO deduplication id: at most 128 characters of letters, digits and punctuation.
fn dedup_id(key: &str) -> String {
    let clean: String = key
        .chars()
        .filter(|c| c.is_ascii_alphanumeric() || c.is_ascii_punctuation())
        .take(128)
        .collect();
    if clean.is_empty() {
        "switchboard".into()
    } else {
        clean
    }
}

/// The outcome of a failed Publish.
fn classify<E: ProvideErrorMetadata + std::error::Error + 'static>(
    error: &SdkError<E, aws_sdk_sns::config::http::HttpResponse>,
) -> Outcome {
    let detail = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(e) => classify_code(
            e.err().code(),
            e.raw().status().as_u16(),
            e.err().message().unwrap_or(&detail),
        ),
        SdkError::ConstructionFailure(_) => {
            Outcome::reject(format!("cannot build the Publish request: {detail}"))
        }
        SdkError::TimeoutError(_) => Outcome::retry(format!("SNS timed out: {detail}")),
        _ => Outcome::retry(format!(
            "SNS unreachable or its answer unreadable: {detail}"
        )),
    }
}

/// The outcome of an SNS error code and HTTP status: throttling, internal errors, expired
/// credentials and 5xx are retried; the rest (invalid parameter, topic not found,
/// authorization refused, KMS key disabled...) rejected.
fn classify_code(code: Option<&str>, status: u16, message: &str) -> Outcome {
    let name = code.unwrap_or("").trim_end_matches("Exception");
    let reason = match code {
        Some(c) => format!("SNS {c} (HTTP {status}): {message}"),
        None => format!("SNS answered HTTP {status}: {message}"),
    };
    let transient = matches!(
        name,
        "Throttled"
            | "Throttling"
            | "KMSThrottling"
            | "KmsThrottling"
            | "RequestLimitExceeded"
            | "TooManyRequests"
            | "InternalError"
            | "InternalFailure"
            | "ServiceUnavailable"
            | "RequestTimeout"
            | "ExpiredToken"
    );
    if transient || status >= 500 || status == 429 || status == 408 {
        Outcome::retry(reason)
    } else {
        Outcome::reject(reason)
    }
}

#[async_trait::async_trait]
impl Sink for SnsSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        BatchHints {
            max_items: 10,
            ..BatchHints::default()
        }
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        one_by_one(items, |item| self.publish(item)).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_example_is_valid_and_bad_fields_are_named() {
        let mut p = Problems::new("t.toml");
        SnsConfig::example().check("sinks[3]", &mut p);
        assert!(p.is_empty(), "{p}");
        let bad = SnsConfig {
            topic_arn: "arn:aws:sqs:us-east-1:123456789012:q".into(),
            subject: Some("{{".into()),
            timeout_ms: 0,
            ..SnsConfig::example()
        };
        bad.check("sinks[3]", &mut p);
        let keys: Vec<&str> = p.list.iter().map(|p| p.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "sinks[3].topic_arn",
                "sinks[3].subject",
                "sinks[3].timeout_ms"
            ]
        );
        assert!(check_topic_arn("arn:aws:sns:us-east-1:123456789012:alerts.fifo").is_ok());
        assert!(check_topic_arn("arn:aws-us-gov:sns:us-gov-west-1:123456789012:a_b-c").is_ok());
        assert!(check_topic_arn("alerts").is_err());
    }

    #[test]
    fn errors_are_retried_or_rejected_by_code() {
        let retry = |code: Option<&str>, status| {
            matches!(classify_code(code, status, "m"), Outcome::Retry { .. })
        };
        assert!(retry(Some("Throttled"), 400));
        assert!(retry(Some("ThrottlingException"), 400));
        assert!(retry(Some("KMSThrottling"), 400));
        assert!(retry(Some("InternalError"), 500));
        assert!(retry(None, 503));
        assert!(retry(Some("Whatever"), 502));
        for code in [
            "InvalidParameter",
            "InvalidParameterValue",
            "NotFound",
            "AuthorizationError",
            "KMSDisabled",
        ] {
            assert!(!retry(Some(code), 400), "{code}");
        }
        assert_eq!(
            classify_code(Some("NotFound"), 404, "Topic does not exist"),
            Outcome::reject("SNS NotFound (HTTP 404): Topic does not exist")
        );
    }

    #[test]
    fn subjects_are_ascii_one_line_and_short() {
        assert_eq!(
            subject_line("Long hold — agent José\non hold").as_deref(),
            Some("Long hold - agent Jos? on hold")
        );
        assert_eq!(subject_line("   ").as_deref(), None);
        assert_eq!(subject_line(&"x".repeat(300)).map(|s| s.len()), Some(99));
        assert_eq!(dedup_id("sb1-abc def"), "sb1-abcdef");
        assert_eq!(dedup_id(&"k".repeat(200)).len(), 128);
    }
}
