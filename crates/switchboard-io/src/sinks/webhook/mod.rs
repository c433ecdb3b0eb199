//! The webhook sink (`type = "webhook"`): what a CRM receives. Each item becomes a JSON
//! request (POST or PUT) to one URL, or with `batch` a JSON array of several items in one
//! request; every request carries an `Idempotency-Key` header that stays the same across
//! retries and restarts, so a receiver can apply each item once.
//!
//! ```toml
//! [[sinks]]
//! name = "crm"
//! type = "webhook"
//! url = "https://crm.example.com/api/contacts"
//! headers = { Authorization = "Bearer ${CRM_TOKEN}" }
//! rate_limit_per_sec = 20
//! body = { contactId = "{{contact_id}}", queue = "{{timeline.queue}}", key = "{{$key}}" }
//! ```
//!
//! Only a 2xx is a delivery. 408, 429, 5xx, timeouts and unreachable servers are retried
//! by the delivery worker (after the server's `Retry-After` when it sends one); any other
//! answer sends the item to the dead letters with the status and the start of the body
//! ([`super::retry`] has the table).
//!
//! - [`template`]: the body template (also used by the notification sinks);
//! - [`client`]: the HTTP client, rate limit and in-flight bound, shared with Slack.

pub mod client;
pub mod template;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use bytes::{BufMut, Bytes, BytesMut};
use serde::{Deserialize, Serialize};
use serde_json::Value;
use tokio::task::JoinSet;

use self::client::{check_header, header_map, HttpSender, SenderSettings};
use self::template::{Context, Template};
use super::retry::{batch_key, env_references, expand_env, fail_on_problems};
use super::{BatchHints, BuildError, Item, Outcome, Sink};
use crate::problems::{join, Problems};

/// The HTTP method of a webhook.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum Method {
    #[default]
    #[serde(rename = "POST", alias = "post")]
    Post,
    #[serde(rename = "PUT", alias = "put")]
    Put,
}

impl Method {
    fn http(self) -> reqwest::Method {
        match self {
            Method::Post => reqwest::Method::POST,
            Method::Put => reqwest::Method::PUT,
        }
    }
}

/// `type = "webhook"`: an HTTP endpoint that receives each item as JSON.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WebhookConfig {
    /// The endpoint, `https://` (or `http://`). May hold `${VAR}` (e.g. a token in the
    /// query string), expanded from the environment when switchboard starts.
    pub url: String,
    /// `POST` (the default) or `PUT`.
    #[serde(default)]
    pub method: Method,
    /// Extra request headers. Values may hold `${VAR}`, expanded from the environment
    /// when switchboard starts (an unset variable stops it with the variable's name), so
    /// secrets stay out of the config file: `Authorization = "Bearer ${CRM_TOKEN}"`.
    /// `Idempotency-Key` and `Content-Type: application/json` are always sent and cannot
    /// be set here. `$${` writes a literal `${`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub headers: BTreeMap<String, String>,
    /// The JSON to send, as a template: a string that is exactly `"{{path.to.field}}"`
    /// becomes the item's value at that path with its type (missing: `null`), `"{{$}}"`
    /// the whole item, `"{{$key}}"` its idempotency key, `"{{$kind}}"` its kind,
    /// `"{{$rule}}"` its rule; placeholders amid text (`"Call {{ContactId}} ended"`)
    /// are written as text. Unset: the item is sent as it is, byte for byte.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub body: Option<Value>,
    /// Milliseconds a request may take (connecting, sending, and the answer) before it
    /// counts as failed and is retried. 1 to 300000; default 10000.
    #[serde(default = "default_timeout_ms")]
    pub timeout_ms: u64,
    /// At most this many requests per second (fractions allowed: `0.5` is one every two
    /// seconds), spaced evenly, across every delivery of this sink in the process.
    /// Unset: no limit.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_limit_per_sec: Option<f64>,
    /// Requests in flight at once. 1 to 256; default 4.
    #[serde(default = "default_concurrency")]
    pub concurrency: usize,
    /// Send up to this many items in one request, as a JSON array (each element the item,
    /// or the `body` template applied to it). The request's `Idempotency-Key` is then
    /// derived from its items' keys; use `"{{$key}}"` in `body` to give the receiver each
    /// item's own key. A batch is delivered or retried as a whole. Unset: one request per
    /// item. 1 to 10000.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<usize>,
}

fn default_timeout_ms() -> u64 {
    10_000
}

fn default_concurrency() -> usize {
    4
}

/// The longest request timeout allowed, in milliseconds.
pub const MAX_TIMEOUT_MS: u64 = 300_000;
/// The most requests in flight allowed.
pub const MAX_CONCURRENCY: usize = 256;
/// The largest `batch`.
pub const MAX_BATCH: usize = 10_000;

/// About how long one delivery (one claim of the worker) should take at worst: a claim is
/// sized so that its requests finish well within the worker's lease.
const CLAIM_BUDGET: Duration = Duration::from_secs(30);

impl WebhookConfig {
    /// The seed's CRM call: each contact, as it ends.
    pub fn example() -> Self {
        WebhookConfig {
            url: "https://crm.example.com/api/contacts/disconnected".into(),
            method: Method::Post,
            headers: BTreeMap::from([("Authorization".into(), "Bearer ${CRM_TOKEN}".into())]),
            body: Some(serde_json::json!({
                "contactId": "{{contact_id}}",
                "disconnectedAt": "{{at}}",
                "channel": "{{timeline.channel}}",
                "queue": "{{timeline.queue}}",
                "agent": "{{timeline.agent_username}}",
            })),
            timeout_ms: default_timeout_ms(),
            rate_limit_per_sec: Some(20.0),
            concurrency: default_concurrency(),
            batch: None,
        }
    }

    /// Reports every problem under `key` (e.g. `sinks[2]`).
    pub fn check(&self, key: &str, problems: &mut Problems) {
        check_url(&self.url, &join(key, "url"), problems);
        for (name, value) in &self.headers {
            let at = join(&join(key, "headers"), name);
            if let Err(e) = check_header(name, value) {
                problems.push(&at, e);
            }
            if let Err(e) = env_references(value) {
                problems.push(&at, e);
            }
        }
        if let Some(body) = &self.body {
            match Template::compile(body) {
                Ok(t) if t.uses_text() => problems.push(
                    join(key, "body"),
                    "{{$text}} is only for the notification sinks (slack, sns)",
                ),
                Ok(_) => {}
                Err(errors) => {
                    for e in errors {
                        problems.push(join(&join(key, "body"), &e.at), e.message);
                    }
                }
            }
        }
        check_timeout(self.timeout_ms, &join(key, "timeout_ms"), problems);
        check_rate(
            self.rate_limit_per_sec,
            &join(key, "rate_limit_per_sec"),
            problems,
        );
        if !(1..=MAX_CONCURRENCY).contains(&self.concurrency) {
            problems.push(
                join(key, "concurrency"),
                format!("must be 1 to {MAX_CONCURRENCY}, not {}", self.concurrency),
            );
        }
        if let Some(n) = self.batch {
            if !(1..=MAX_BATCH).contains(&n) {
                problems.push(
                    join(key, "batch"),
                    format!("must be 1 to {MAX_BATCH} items, not {n} (leave it out for one request per item)"),
                );
            }
        }
    }

    /// Builds the sink: checks the config, expands `${VAR}` in the URL and headers, and
    /// starts the HTTP client.
    pub async fn build(&self, name: &str) -> Result<WebhookSink, BuildError> {
        fail_on_problems(name, |p| self.check("", p))?;
        let url = resolve_url(name, "url", &self.url)?;
        let headers = self
            .headers
            .iter()
            .map(|(h, v)| Ok((h.as_str(), expand_env(name, &format!("headers.{h}"), v)?)))
            .collect::<Result<Vec<_>, BuildError>>()?;
        let template = match &self.body {
            None => None,
            Some(body) => Some(Template::compile(body).map_err(|errors| {
                BuildError::sink(name, format!("body: {}", errors[0].message))
            })?),
        };
        let sender = HttpSender::new(
            name,
            SenderSettings {
                method: self.method.http(),
                url,
                headers: header_map(name, "headers", headers)?,
                timeout: Duration::from_millis(self.timeout_ms),
                rate_limit_per_sec: self.rate_limit_per_sec,
                concurrency: self.concurrency,
            },
        )?;
        switchboard_telemetry::register_sink(name);
        Ok(WebhookSink {
            name: name.to_owned(),
            sender,
            template: template.map(Arc::new),
            batch: self.batch,
            hints: BatchHints {
                max_items: claim_size(
                    self.concurrency,
                    self.timeout_ms,
                    self.rate_limit_per_sec,
                    self.batch.unwrap_or(1),
                ),
                ..BatchHints::default()
            },
        })
    }
}

/// Items per claim: as many requests as can run at once, times the rounds that fit in
/// [`CLAIM_BUDGET`] at the timeout (at most 4), fewer when the rate limit would stretch
/// them past it; times the items per request. So a claim finishes well within the
/// worker's lease even when every request times out.
fn claim_size(concurrency: usize, timeout_ms: u64, rate: Option<f64>, per_request: usize) -> usize {
    let rounds = (CLAIM_BUDGET.as_millis() as u64 / timeout_ms.max(1)).clamp(1, 4) as usize;
    let mut requests = concurrency.max(1) * rounds;
    if let Some(rate) = rate.filter(|r| r.is_finite() && *r > 0.0) {
        let by_rate = (rate * CLAIM_BUDGET.as_secs_f64()).floor().max(1.0);
        requests = requests.min(by_rate as usize);
    }
    requests.max(1).saturating_mul(per_request.max(1))
}

/// Checks an endpoint URL as written (`${VAR}` allowed): it parses, is http or https and
/// names a host.
pub(crate) fn check_url(url: &str, at: &str, problems: &mut Problems) {
    let names = match env_references(url) {
        Ok(names) => names,
        Err(e) => {
            problems.push(at, e);
            return;
        }
    };
    // Stand-ins for the variables, to see whether the rest is a URL.
    let mut probe = url.replace("$${", "{");
    for name in &names {
        probe = probe.replace(&format!("${{{name}}}"), "x");
    }
    if let Err(e) = parse_endpoint(&probe) {
        problems.push(at, e);
    }
}

fn parse_endpoint(url: &str) -> Result<reqwest::Url, String> {
    // The URL itself is not quoted: it may be a secret (a Slack webhook's is).
    let parsed = reqwest::Url::parse(url).map_err(|e| format!("not a URL ({e})"))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(format!(
            "the scheme must be https or http, not {:?}",
            parsed.scheme()
        ));
    }
    if parsed.host_str().is_none_or(str::is_empty) {
        return Err("the URL names no host".into());
    }
    Ok(parsed)
}

/// Expands and parses an endpoint URL at build time. Errors never quote the expanded URL
/// (it may hold a secret).
pub(crate) fn resolve_url(sink: &str, field: &str, url: &str) -> Result<reqwest::Url, BuildError> {
    let expanded = expand_env(sink, field, url)?;
    let had_vars = expanded != url;
    parse_endpoint(&expanded).map_err(|e| {
        if had_vars {
            BuildError::sink(
                sink,
                format!("{field}: after expanding ${{VAR}}, not a valid http(s) URL"),
            )
        } else {
            BuildError::sink(sink, format!("{field}: {e}"))
        }
    })
}

pub(crate) fn check_timeout(ms: u64, at: &str, problems: &mut Problems) {
    if !(1..=MAX_TIMEOUT_MS).contains(&ms) {
        problems.push(
            at,
            format!("must be 1 to {MAX_TIMEOUT_MS} milliseconds, not {ms}"),
        );
    }
}

pub(crate) fn check_rate(rate: Option<f64>, at: &str, problems: &mut Problems) {
    if let Some(rate) = rate {
        if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) {
            problems.push(
                at,
                format!(
                    "must be above 0 and at most 1000000 requests per second, not {rate} \
                     (leave it out for no limit)"
                ),
            );
        }
    }
}

/// A running webhook sink.
#[derive(Debug)]
pub struct WebhookSink {
    name: String,
    sender: Arc<HttpSender>,
    template: Option<Arc<Template>>,
    batch: Option<usize>,
    hints: BatchHints,
}

/// One request to make: which items it carries, its key and its body.
struct Request {
    items: Vec<usize>,
    key: String,
    body: Bytes,
}

impl WebhookSink {
    /// What to send for one item: its bytes as they are, or the template rendered.
    fn element(&self, item: &Item) -> Result<Bytes, Outcome> {
        match &self.template {
            None => {
                if let Err(e) = serde_json::from_slice::<serde::de::IgnoredAny>(&item.payload) {
                    return Err(Outcome::reject(format!("the item is not JSON: {e}")));
                }
                Ok(item.payload.clone())
            }
            Some(template) => {
                let payload = if template.needs_payload() {
                    item.json()
                        .map_err(|e| Outcome::reject(format!("the item is not JSON: {e}")))?
                } else {
                    Value::Null
                };
                let value = template.render(&Context {
                    payload: &payload,
                    item,
                    text: None,
                });
                serde_json::to_vec(&value)
                    .map(Bytes::from)
                    .map_err(|e| Outcome::reject(format!("cannot write the body: {e}")))
            }
        }
    }

    /// The requests for `items`, and the outcomes already known (items that cannot be
    /// sent).
    fn requests(&self, items: &[Item], outcomes: &mut [Option<Outcome>]) -> Vec<Request> {
        let mut requests = Vec::new();
        let per_request = self.batch.unwrap_or(1).max(1);
        let mut pending: Vec<(usize, Bytes)> = Vec::new();
        let flush = |pending: &mut Vec<(usize, Bytes)>, requests: &mut Vec<Request>| {
            if pending.is_empty() {
                return;
            }
            let indices: Vec<usize> = pending.iter().map(|(i, _)| *i).collect();
            let key = match indices.as_slice() {
                [one] => items[*one].key.clone(),
                _ => batch_key(
                    &indices
                        .iter()
                        .map(|i| items[*i].clone())
                        .collect::<Vec<_>>(),
                ),
            };
            let body = if self.batch.is_none() {
                pending[0].1.clone()
            } else {
                let len = pending.iter().map(|(_, b)| b.len() + 1).sum::<usize>() + 1;
                let mut array = BytesMut::with_capacity(len);
                array.put_u8(b'[');
                for (n, (_, element)) in pending.iter().enumerate() {
                    if n > 0 {
                        array.put_u8(b',');
                    }
                    array.extend_from_slice(element);
                }
                array.put_u8(b']');
                array.freeze()
            };
            requests.push(Request {
                items: indices,
                key,
                body,
            });
            pending.clear();
        };
        for (i, item) in items.iter().enumerate() {
            match self.element(item) {
                Ok(bytes) => pending.push((i, bytes)),
                Err(outcome) => {
                    switchboard_telemetry::sink_rejected(&self.name, 1);
                    outcomes[i] = Some(outcome);
                }
            }
            if pending.len() >= per_request {
                flush(&mut pending, &mut requests);
            }
        }
        flush(&mut pending, &mut requests);
        requests
    }
}

#[async_trait::async_trait]
impl Sink for WebhookSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        self.hints
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
        let requests = self.requests(items, &mut outcomes);
        let mut tasks = JoinSet::new();
        for request in requests {
            let sender = Arc::clone(&self.sender);
            tasks.spawn(async move {
                let outcome = sender
                    .send(&request.key, request.body, request.items.len())
                    .await;
                (request.items, outcome)
            });
        }
        while let Some(done) = tasks.join_next().await {
            match done {
                Ok((indices, outcome)) => {
                    for i in indices {
                        outcomes[i] = Some(outcome.clone());
                    }
                }
                Err(e) => tracing::error!(sink = %self.name, error = %e, "a request task failed"),
            }
        }
        outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::retry("the request task failed")))
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problems(config: &WebhookConfig) -> Vec<(String, String)> {
        let mut p = Problems::new("test.toml");
        config.check("sinks[2]", &mut p);
        p.list.into_iter().map(|p| (p.key, p.message)).collect()
    }

    #[test]
    fn the_example_is_valid_and_reads_back() {
        let example = WebhookConfig::example();
        assert_eq!(problems(&example), vec![]);
        let written = serde_json::to_value(&example).unwrap();
        assert!(
            written.get("batch").is_none(),
            "unset options are left out: {written}"
        );
        let read: WebhookConfig = serde_json::from_value(written).unwrap();
        assert_eq!(read, example);
    }

    #[test]
    fn unknown_keys_are_refused() {
        let err = serde_json::from_value::<WebhookConfig>(serde_json::json!({
            "url": "https://x.example", "timeout": 5
        }))
        .unwrap_err();
        assert!(err.to_string().contains("unknown field `timeout`"), "{err}");
        let put: WebhookConfig = serde_json::from_value(
            serde_json::json!({"url": "https://x.example", "method": "PUT"}),
        )
        .unwrap();
        assert_eq!(
            (put.method, put.timeout_ms, put.concurrency, put.batch),
            (Method::Put, 10_000, 4, None)
        );
    }

    #[test]
    fn every_problem_is_reported_with_its_key() {
        let config = WebhookConfig {
            url: "ftp://crm.example.com/x".into(),
            method: Method::Post,
            headers: BTreeMap::from([
                ("Idempotency-Key".into(), "x".into()),
                ("X-Token".into(), "${UNCLOSED".into()),
            ]),
            body: Some(serde_json::json!({"a": "{{open", "b": ["{{$what}}"]})),
            timeout_ms: 0,
            rate_limit_per_sec: Some(0.0),
            concurrency: 0,
            batch: Some(0),
        };
        let keys: Vec<String> = problems(&config).into_iter().map(|(k, _)| k).collect();
        assert_eq!(
            keys,
            [
                "sinks[2].url",
                "sinks[2].headers.Idempotency-Key",
                "sinks[2].headers.X-Token",
                "sinks[2].body.a",
                "sinks[2].body.b[0]",
                "sinks[2].timeout_ms",
                "sinks[2].rate_limit_per_sec",
                "sinks[2].concurrency",
                "sinks[2].batch",
            ]
        );
        let bad_url = WebhookConfig {
            url: "not a url".into(),
            ..WebhookConfig::example()
        };
        assert!(problems(&bad_url)[0].1.contains("not a URL"));
        let with_var = WebhookConfig {
            url: "https://crm.example.com/hook?token=${CRM_HOOK_TOKEN}".into(),
            ..WebhookConfig::example()
        };
        assert_eq!(problems(&with_var), vec![]);
    }

    #[test]
    fn claims_fit_the_lease_and_the_rate() {
        assert_eq!(claim_size(4, 10_000, None, 1), 12);
        assert_eq!(claim_size(4, 1_000, None, 1), 16);
        assert_eq!(claim_size(4, 300_000, None, 1), 4);
        assert_eq!(claim_size(4, 10_000, Some(0.1), 1), 3);
        assert_eq!(claim_size(4, 10_000, Some(0.01), 1), 1);
        assert_eq!(claim_size(2, 10_000, None, 50), 300);
    }

    #[tokio::test]
    async fn build_names_an_unset_variable() {
        let config = WebhookConfig {
            headers: BTreeMap::from([(
                "Authorization".into(),
                "Bearer ${SB_WEBHOOK_TEST_UNSET}".into(),
            )]),
            ..WebhookConfig::example()
        };
        let err = config.build("crm").await.unwrap_err();
        assert!(err.reason.contains("SB_WEBHOOK_TEST_UNSET"), "{err}");
        assert!(err.reason.contains("headers.Authorization"), "{err}");
    }
}
