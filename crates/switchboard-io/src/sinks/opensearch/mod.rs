//! The OpenSearch / Elasticsearch sink (`type = "opensearch"`): routed items indexed with
//! `_bulk`, so Kibana or OpenSearch Dashboards can chart contact records, agent
//! transitions, alerts and metric intervals, as the seeds' Lambdas did one record at a
//! time.
//!
//! One [`Sink::deliver`] is one `_bulk` request (the worker batches by the sink's
//! `max_items` and `max_bytes`), preceded once per process by the index template
//! ([`template`]) when `template` is on. [`bulk`] decides each item's index and id and
//! reads the answer item by item:
//!
//! | answer | outcome |
//! |---|---|
//! | item 2xx | delivered |
//! | item 409 `version_conflict_engine_exception` on a versioned contact record | delivered (the index has this copy or a newer one) |
//! | item 429, 5xx | retried |
//! | item other 4xx (`mapper_parsing_exception`...) | rejected with the error's type and reason |
//! | request 429, 5xx, timeout, connection error | every item retried (after `Retry-After`) |
//! | request 401, 403, 404 | every item retried: credentials, permissions or the URL are wrong, and fixing them must not cost the data (after `max_attempts` the items are dead-lettered) |
//! | request 413 | the batch split in halves and sent again; a single document too large is rejected |
//! | request other 4xx | every item rejected |
//!
//! Requests carry a basic `Authorization` header or an AWS Signature Version 4 ([`auth`]).

pub mod auth;
pub mod bulk;
mod config;
pub mod template;

use std::time::Instant;

use switchboard_telemetry::requests::outcome as outcome_label;
use tokio::sync::Mutex;

pub use config::{
    OpenSearchAuth, OpenSearchConfig, SigV4Service, DEFAULT_INDEX_PREFIX, DEFAULT_MAX_BYTES,
    DEFAULT_MAX_ITEMS, DEFAULT_TIMEOUT_SECS,
};

use self::auth::Signer;
use self::bulk::Doc;
use super::retry::{
    classify_reqwest_error, classify_status, read_capped, retry_after, snippet, SNIPPET_CHARS,
};
use super::{all, count_rejected, BatchHints, Item, Outcome, Sink};

/// The most of a `_bulk` answer read (about 300 bytes per item for 10,000 items, with
/// room to spare); a longer answer is treated as unreadable and the batch retried.
pub const MAX_ANSWER_BYTES: usize = 32 * 1024 * 1024;

const NDJSON: &str = "application/x-ndjson";
const JSON: &str = "application/json";

/// The running OpenSearch sink.
pub struct OpenSearchSink {
    name: String,
    config: OpenSearchConfig,
    /// The cluster's URL without a trailing `/`.
    base: String,
    signer: Signer,
    client: reqwest::Client,
    /// Whether the template is installed (held while installing, so one request does it).
    template_ready: Mutex<bool>,
}

/// An HTTP answer, read.
struct Answer {
    status: u16,
    retry_after: Option<std::time::Duration>,
    body: bytes::Bytes,
}

impl OpenSearchSink {
    /// A sink for `url` (see [`OpenSearchConfig::build`]).
    pub fn new(
        name: &str,
        config: OpenSearchConfig,
        url: reqwest::Url,
        signer: Signer,
        client: reqwest::Client,
    ) -> Self {
        OpenSearchSink {
            name: name.to_owned(),
            template_ready: Mutex::new(!config.template),
            config,
            base: url.as_str().trim_end_matches('/').to_owned(),
            signer,
            client,
        }
    }

    pub fn config(&self) -> &OpenSearchConfig {
        &self.config
    }

    /// Sends one request; `Err` is the outcome of a request that got no answer.
    async fn send(
        &self,
        method: reqwest::Method,
        path: &str,
        content_type: &str,
        body: Vec<u8>,
    ) -> Result<Answer, Outcome> {
        let url = format!("{}/{path}", self.base);
        let auth = self
            .signer
            .headers(method.as_str(), &url, content_type, &body)
            .await
            .map_err(Outcome::retry)?;
        let mut request = self
            .client
            .request(method, &url)
            .header(http::header::CONTENT_TYPE, content_type)
            .body(body);
        for (name, value) in auth {
            request = request.header(name, value);
        }
        let response = request
            .send()
            .await
            .map_err(|e| labelled("OpenSearch", classify_reqwest_error(&e)))?;
        let status = response.status().as_u16();
        let retry_after = retry_after(response.headers());
        let body = read_capped(response, MAX_ANSWER_BYTES).await;
        Ok(Answer {
            status,
            retry_after,
            body,
        })
    }

    /// Installs the index template unless done already; `Err` is the outcome for the
    /// whole batch (it waits: documents indexed into a daily index created without the
    /// template would keep the wrong mappings for the whole day).
    async fn ensure_template(&self) -> Result<(), Outcome> {
        let mut ready = self.template_ready.lock().await;
        if *ready {
            return Ok(());
        }
        let prefix = &self.config.index_prefix;
        let body = serde_json::to_vec(&template::body(prefix)).unwrap_or_default();
        let path = format!("_index_template/{}", template::name(prefix));
        let started = Instant::now();
        let answer = self.send(reqwest::Method::PUT, &path, JSON, body).await;
        let ok = answer
            .as_ref()
            .is_ok_and(|a| (200..300).contains(&a.status));
        let label = if ok {
            outcome_label::DELIVERED
        } else {
            outcome_label::RETRY
        };
        self.record(label, started);
        let answer = answer?;
        if ok {
            tracing::info!(sink = %self.name, template = %prefix, "index template installed");
            *ready = true;
            return Ok(());
        }
        let said = snippet(&answer.body, SNIPPET_CHARS);
        tracing::warn!(
            sink = %self.name, status = answer.status, answer = %said,
            "cannot install the index template"
        );
        Err(Outcome::Retry {
            reason: format!(
                "cannot install the index template {path}: HTTP {}: {said} (documents wait \
                 for it; set `template = false` to manage the template yourself)",
                answer.status
            ),
            after: answer.retry_after,
        })
    }

    /// One `_bulk` request for `docs`: their outcomes, or the outcome of all of them.
    async fn bulk(&self, docs: &[&Doc]) -> Result<Vec<Outcome>, BulkFailure> {
        let started = Instant::now();
        let result = self.bulk_request(docs).await;
        let label = match &result {
            Ok(_) => outcome_label::DELIVERED,
            Err(BulkFailure::All(Outcome::Reject { .. })) => outcome_label::REJECT,
            Err(_) => outcome_label::RETRY,
        };
        self.record(label, started);
        result
    }

    /// Counts a request to the cluster by how it ended (`label`, of
    /// [`outcome_label`]).
    fn record(&self, label: &'static str, started: Instant) {
        switchboard_telemetry::sink_request(&self.name, label, started.elapsed().as_secs_f64());
    }

    async fn bulk_request(&self, docs: &[&Doc]) -> Result<Vec<Outcome>, BulkFailure> {
        let body = bulk::request_body(docs);
        let answer = self
            .send(reqwest::Method::POST, "_bulk", NDJSON, body)
            .await
            .map_err(BulkFailure::All)?;
        let said = || snippet(&answer.body, SNIPPET_CHARS);
        match answer.status {
            200..=299 => bulk::outcomes(&answer.body, docs)
                .map_err(|e| BulkFailure::All(Outcome::retry(format!("OpenSearch: {e}")))),
            413 => Err(BulkFailure::TooLarge),
            401 | 403 | 404 => Err(BulkFailure::All(Outcome::Retry {
                reason: format!(
                    "OpenSearch answered HTTP {} to _bulk: {} (check the sink's url and \
                     auth, and that the user may write to {}-*)",
                    answer.status,
                    said(),
                    self.config.index_prefix
                ),
                after: answer.retry_after,
            })),
            status => Err(BulkFailure::All(labelled(
                "OpenSearch _bulk",
                classify_status(status, answer.retry_after, &said()),
            ))),
        }
    }
}

/// `outcome` with its reason starting `what: `.
fn labelled(what: &str, outcome: Outcome) -> Outcome {
    match outcome {
        Outcome::Retry { reason, after } => Outcome::Retry {
            reason: format!("{what}: {reason}"),
            after,
        },
        Outcome::Reject { reason } => Outcome::reject(format!("{what}: {reason}")),
        Outcome::Delivered => Outcome::Delivered,
    }
}

/// Why a whole `_bulk` request failed.
enum BulkFailure {
    /// Every document of the request gets this outcome.
    All(Outcome),
    /// HTTP 413: split the request.
    TooLarge,
}

#[async_trait::async_trait]
impl Sink for OpenSearchSink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        self.config.hints()
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        if items.is_empty() {
            return Vec::new();
        }
        let mut outcomes: Vec<Option<Outcome>> = vec![None; items.len()];
        let mut docs: Vec<(usize, Doc)> = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            match bulk::doc(&self.config.index_prefix, item) {
                Ok(doc) => docs.push((i, doc)),
                Err(reason) => outcomes[i] = Some(Outcome::reject(reason)),
            }
        }
        if !docs.is_empty() {
            if let Err(outcome) = self.ensure_template().await {
                return all(items, outcome)
                    .into_iter()
                    .zip(outcomes)
                    .map(|(template, own)| own.unwrap_or(template))
                    .collect();
            }
        }
        // Ranges of `docs` still to send; a range the cluster finds too large is split.
        let mut pending: Vec<std::ops::Range<usize>> = Vec::with_capacity(8);
        pending.push(0..docs.len());
        while let Some(range) = pending.pop() {
            if range.is_empty() {
                continue;
            }
            let batch: Vec<&Doc> = docs[range.clone()].iter().map(|(_, d)| d).collect();
            match self.bulk(&batch).await {
                Ok(answers) => {
                    for ((i, _), outcome) in docs[range].iter().zip(answers) {
                        outcomes[*i] = Some(outcome);
                    }
                }
                Err(BulkFailure::All(outcome)) => {
                    for (i, _) in &docs[range] {
                        outcomes[*i] = Some(outcome.clone());
                    }
                }
                Err(BulkFailure::TooLarge) if range.len() > 1 => {
                    let mid = range.start + range.len() / 2;
                    tracing::info!(
                        sink = %self.name, documents = range.len(),
                        "_bulk request too large (HTTP 413); splitting it"
                    );
                    pending.push(mid..range.end);
                    pending.push(range.start..mid);
                }
                Err(BulkFailure::TooLarge) => {
                    let (i, doc) = &docs[range.start];
                    outcomes[*i] = Some(Outcome::reject(format!(
                        "{}/{}: the document alone is larger than the cluster accepts \
                         (HTTP 413; http.max_content_length)",
                        doc.index, doc.id
                    )));
                }
            }
        }
        let outcomes: Vec<Outcome> = outcomes
            .into_iter()
            .map(|o| o.unwrap_or_else(|| Outcome::retry("not sent")))
            .collect();
        count_rejected(&self.name, &outcomes);
        outcomes
    }
}
