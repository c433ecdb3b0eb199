//! `type = "slack"`: a Slack-compatible incoming webhook.
//!
//! ```toml
//! [[sinks]]
//! name = "supervisors"
//! type = "slack"
//! webhook_url_env = "SLACK_WEBHOOK_URL"   # the URL is a secret: keep it out of the file
//! ```
//!
//! Each item is one POST of `{"text": "..."}` (plus `channel` and `username` when set),
//! with an `Idempotency-Key` header. Slack answers 200 `ok`; a 4xx (`invalid_payload`,
//! `invalid_token`, `channel_not_found`, `no_service`) sends the item to the dead letters,
//! a 429 or 5xx is retried after Slack's `Retry-After`.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::HeaderMap;
use serde::{Deserialize, Serialize};

use super::text::Style;
use super::{message, one_by_one};
use crate::problems::{join, Problems};
use crate::sinks::retry::env_references;
use crate::sinks::retry::fail_on_problems;
use crate::sinks::webhook::client::{HttpSender, SenderSettings};
use crate::sinks::webhook::template::TextTemplate;
use crate::sinks::webhook::{check_rate, check_timeout, check_url, resolve_url};
use crate::sinks::{BatchHints, BuildError, Item, Outcome, Sink};

/// `type = "slack"`: readable messages to a Slack-compatible incoming webhook.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SlackConfig {
    /// The incoming webhook's URL (`https://hooks.slack.com/services/...`). Anyone who
    /// has it can post to the channel, so prefer `webhook_url_env`. Set exactly one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url: Option<String>,
    /// The environment variable holding the webhook's URL, read when switchboard starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub webhook_url_env: Option<String>,
    /// Post to this channel instead of the webhook's own (`#supervisors`; honoured by
    /// legacy webhooks and Slack-compatible servers, ignored by Slack app webhooks).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub channel: Option<String>,
    /// The name the message shows as (same caveat as `channel`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    /// The message, as a text template: `{{$text}}` is switchboard's readable text
    /// (":warning: Long hold — agent jdoe on hold for 6m 12s, queue Sales"), `{{path}}`
    /// any field of the item (`{{alert.queue}}`), `{{$kind}}`, `{{$rule}}`, `{{$key}}`.
    /// E.g. `"{{$text}} <!here>"`. Unset: the readable text alone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub text: Option<String>,
    /// Milliseconds a request may take before it is retried. 1 to 300000; default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// At most this many messages per second. Slack allows about one per second per
    /// webhook and answers 429 with `Retry-After` beyond that (which is honoured); set
    /// `1` to stay under it. Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_sec: Option<f64>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

impl SlackConfig {
    /// The seed's supervisor alerts, the URL from `SLACK_WEBHOOK_URL`.
    pub fn example() -> Self {
        SlackConfig {
            webhook_url: None,
            webhook_url_env: Some("SLACK_WEBHOOK_URL".into()),
            channel: None,
            username: Some("switchboard".into()),
            text: None,
            timeout_ms: default_timeout_ms(),
            rate_limit_per_sec: Some(1.0),
        }
    }

    /// Reports every problem under `key` (e.g. `sinks[1]`).
    pub fn check(&self, key: &str, problems: &mut Problems) {
        match (&self.webhook_url, &self.webhook_url_env) {
            (Some(_), Some(_)) => problems.push(
                join(key, "webhook_url"),
                "set webhook_url or webhook_url_env, not both",
            ),
            (None, None) => problems.push(
                join(key, "webhook_url_env"),
                "missing: set webhook_url_env to the environment variable holding the \
                 incoming webhook's URL (or webhook_url)",
            ),
            (Some(url), None) => check_url(url, &join(key, "webhook_url"), problems),
            (None, Some(var)) => check_var_name(var, &join(key, "webhook_url_env"), problems),
        }
        if let Some(channel) = &self.channel {
            if channel.trim().is_empty() {
                problems.push(
                    join(key, "channel"),
                    "is empty (leave it out for the webhook's own)",
                );
            }
        }
        if let Some(text) = &self.text {
            if let Err(e) = TextTemplate::compile(text) {
                problems.push(join(key, "text"), e);
            }
        }
        check_timeout(self.timeout_ms, &join(key, "timeout_ms"), problems);
        check_rate(
            self.rate_limit_per_sec,
            &join(key, "rate_limit_per_sec"),
            problems,
        );
    }

    /// Builds the sink: reads the URL (from the environment when `webhook_url_env`),
    /// starts the HTTP client.
    pub async fn build(&self, name: &str) -> Result<SlackSink, BuildError> {
        fail_on_problems(name, |p| self.check("", p))?;
        let url = match (&self.webhook_url, &self.webhook_url_env) {
            (Some(url), _) => resolve_url(name, "webhook_url", url)?,
            (None, Some(var)) => {
                let url = read_secret_var(name, "webhook_url_env", var)?;
                reqwest::Url::parse(url.trim())
                    .ok()
                    .filter(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some())
                    .ok_or_else(|| {
                        BuildError::sink(
                            name,
                            format!(
                                "the environment variable {var} (webhook_url_env) does not hold \
                                 an http(s) URL"
                            ),
                        )
                    })?
            }
            (None, None) => return Err(BuildError::sink(name, "webhook_url_env is not set")),
        };
        let text = match &self.text {
            Some(t) => Some(
                TextTemplate::compile(t)
                    .map_err(|e| BuildError::sink(name, format!("text: {e}")))?,
            ),
            None => None,
        };
        let sender = HttpSender::new(
            name,
            SenderSettings {
                method: reqwest::Method::POST,
                url,
                headers: HeaderMap::new(),
                timeout: Duration::from_millis(self.timeout_ms),
                rate_limit_per_sec: self.rate_limit_per_sec,
                concurrency: 1,
            },
        )?;
        switchboard_telemetry::register_sink(name);
        let rounds = (30_000 / self.timeout_ms.max(1)).clamp(1, 10) as usize;
        Ok(SlackSink {
            name: name.to_owned(),
            sender,
            channel: self.channel.clone(),
            username: self.username.clone(),
            text,
            hints: BatchHints {
                max_items: rounds,
                ..BatchHints::default()
            },
        })
    }
}

/// Checks an environment variable's name as written in the config.
pub(crate) fn check_var_name(var: &str, at: &str, problems: &mut Problems) {
    if env_references(&format!("${{{var}}}")).is_err() {
        problems.push(
            at,
            format!("{var:?} is not an environment variable name (letters, digits and _)"),
        );
    }
}

/// The value of a secret's environment variable; the error names the variable only.
pub(crate) fn read_secret_var(sink: &str, field: &str, var: &str) -> Result<String, BuildError> {
    match std::env::var(var) {
        Ok(v) if !v.trim().is_empty() => Ok(v),
        Ok(_) => Err(BuildError::sink(
            sink,
            format!("the environment variable {var} ({field}) is empty"),
        )),
        Err(_) => Err(BuildError::sink(
            sink,
            format!("the environment variable {var} ({field}) is not set: set it before starting switchboard"),
        )),
    }
}

/// A running Slack sink.
#[derive(Debug)]
pub struct SlackSink {
    name: String,
    sender: Arc<HttpSender>,
    channel: Option<String>,
    username: Option<String>,
    text: Option<TextTemplate>,
    hints: BatchHints,
}

impl SlackSink {
    /// The request body of one item.
    fn body(&self, item: &Item) -> Bytes {
        let mut body = serde_json::Map::new();
        body.insert(
            "text".into(),
            message(item, self.text.as_ref(), Style::Slack).into(),
        );
        if let Some(c) = &self.channel {
            body.insert("channel".into(), c.clone().into());
        }
        if let Some(u) = &self.username {
            body.insert("username".into(), u.clone().into());
        }
        Bytes::from(serde_json::Value::Object(body).to_string())
    }
}

#[async_trait::async_trait]
impl Sink for SlackSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        self.hints
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        one_by_one(items, |item| {
            self.sender.send(&item.key, self.body(item), 1)
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &SlackConfig) -> Vec<(String, String)> {
        let mut p = Problems::new("t.toml");
        config.check("sinks[1]", &mut p);
        p.list.into_iter().map(|p| (p.key, p.message)).collect()
    }

    #[test]
    fn the_example_is_valid() {
        assert_eq!(problems(&SlackConfig::example()), vec![]);
    }

    #[test]
    fn the_url_comes_from_exactly_one_place() {
        let both = SlackConfig {
            webhook_url: Some("https://hooks.slack.com/services/T/B/X".into()),
            ..SlackConfig::example()
        };
        assert_eq!(problems(&both)[0].0, "sinks[1].webhook_url");
        let neither = SlackConfig {
            webhook_url_env: None,
            ..SlackConfig::example()
        };
        assert_eq!(problems(&neither)[0].0, "sinks[1].webhook_url_env");
        let bad = SlackConfig {
            webhook_url_env: Some("NOT A NAME".into()),
            text: Some("{{$text".into()),
            timeout_ms: 0,
            rate_limit_per_sec: Some(-1.0),
            ..SlackConfig::example()
        };
        let keys: Vec<String> = problems(&bad).into_iter().map(|p| p.0).collect();
        assert_eq!(
            keys,
            [
                "sinks[1].webhook_url_env",
                "sinks[1].text",
                "sinks[1].timeout_ms",
                "sinks[1].rate_limit_per_sec"
            ]
        );
    }

    #[tokio::test]
    async fn an_unset_url_variable_is_named_and_the_url_never_shown() {
        let config = SlackConfig {
            webhook_url_env: Some("SB_SLACK_TEST_UNSET".into()),
            ..SlackConfig::example()
        };
        let err = config.build("supervisors").await.unwrap_err();
        assert!(err.reason.contains("SB_SLACK_TEST_UNSET"), "{err}");
        std::env::set_var("SB_SLACK_TEST_NOT_URL", "hooks.slack.com/secret-part");
        let config = SlackConfig {
            webhook_url_env: Some("SB_SLACK_TEST_NOT_URL".into()),
            ..SlackConfig::example()
        };
        let err = config.build("supervisors").await.unwrap_err();
        assert!(!err.to_string().contains("secret-part"), "{err}");
    }
}
