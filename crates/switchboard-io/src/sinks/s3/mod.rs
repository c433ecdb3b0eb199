//! The S3 sink (`type = "s3"`): routed items archived as NDJSON objects, the way Firehose
//! writes them to S3, but with a newline after every record and keys chosen by the item's
//! own time.
//!
//! The delivery worker buffers for it (the sink's [`BatchHints`] are Firehose's size and
//! interval hints), so one call to [`Sink::deliver`] is one buffer flush: [`layout::plan`]
//! splits the batch by folder (partitions and UTC hour), and each folder's items become
//! one object, written with `PutObject` (several at once). An object's name depends on
//! its items only, so a batch retried after a lost answer overwrites what it wrote.
//!
//! Items that cannot be partitioned (the value missing, the payload not JSON) are not
//! refused: they are written under `error_prefix` as Firehose error records and count as
//! delivered, as Firehose does with records it cannot partition. S3's own errors are
//! classified by [`classify`]: throttling, 5xx, timeouts and connection errors retry;
//! a missing bucket or denied access rejects (the items go to the dead letters, where
//! they can be replayed once the bucket or policy is fixed).

mod config;
pub mod layout;

use std::sync::Arc;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use switchboard_telemetry::requests::outcome as outcome_label;
use tokio::task::JoinSet;

pub use config::{
    PartitionField, S3Config, TimeBasis, BUFFER_MAX_BYTES_RANGE, DEFAULT_BUFFER_INTERVAL_SECS,
    DEFAULT_BUFFER_MAX_BYTES, MAX_BATCH_ITEMS, MAX_BUFFER_INTERVAL_SECS,
};

use super::{BatchHints, Item, Outcome, Sink};

/// Objects written at once.
pub const MAX_CONCURRENT_PUTS: usize = 8;

/// S3 error codes that mean "try again" whatever their status.
const RETRY_CODES: &[&str] = &[
    "SlowDown",
    "RequestTimeout",
    "InternalError",
    "ServiceUnavailable",
    "Throttling",
    "ThrottlingException",
    "RequestLimitExceeded",
    "OperationAborted",
    // Credentials that expired or a clock that drifted: fixed without touching the items.
    "ExpiredToken",
    "TokenRefreshRequired",
    "RequestTimeTooSkewed",
    "InvalidAccessKeyId",
    "SignatureDoesNotMatch",
];

/// The running S3 sink.
pub struct S3Sink {
    name: String,
    config: S3Config,
    client: aws_sdk_s3::Client,
}

impl S3Sink {
    /// A sink writing with `client` (see [`S3Config::build`]).
    pub fn new(name: &str, config: S3Config, client: aws_sdk_s3::Client) -> Self {
        S3Sink {
            name: name.to_owned(),
            config,
            client,
        }
    }

    pub fn config(&self) -> &S3Config {
        &self.config
    }
}

#[async_trait::async_trait]
impl Sink for S3Sink {
    fn name(&self) -> &str {
        &self.name
    }

    fn hints(&self) -> BatchHints {
        self.config.hints()
    }

    async fn deliver(&self, items: &[Item]) -> Vec<Outcome> {
        let mut outcomes = vec![Outcome::Delivered; items.len()];
        if items.is_empty() {
            return outcomes;
        }
        let now_ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        let groups = layout::plan(&self.config, &self.name, items);
        let mut puts = JoinSet::new();
        let mut pending = groups.into_iter();
        loop {
            while puts.len() < MAX_CONCURRENT_PUTS {
                let Some(group) = pending.next() else { break };
                let mut body = layout::body(&group, items, &self.name, now_ms);
                if self.config.gzip {
                    match layout::gzip(&body) {
                        Ok(zipped) => body = zipped,
                        Err(e) => {
                            // Compressing into memory fails only when memory does.
                            let outcome = Outcome::retry(format!("cannot gzip an object: {e}"));
                            for &i in &group.items {
                                outcomes[i] = outcome.clone();
                            }
                            continue;
                        }
                    }
                }
                let put = self.put(&group, body);
                puts.spawn(async move { (group, put.await) });
            }
            let Some(done) = puts.join_next().await else {
                break;
            };
            match done {
                Ok((group, result)) => {
                    let outcome = match result {
                        Ok(()) => Outcome::Delivered,
                        Err(outcome) => outcome,
                    };
                    if let Outcome::Delivered = outcome {
                        tracing::debug!(
                            sink = %self.name, key = %group.key, items = group.items.len(),
                            errors = group.errors.is_some(), "object written"
                        );
                    }
                    if let Outcome::Reject { .. } = outcome {
                        switchboard_telemetry::sink_rejected(&self.name, group.items.len() as u64);
                    }
                    for &i in &group.items {
                        outcomes[i] = outcome.clone();
                    }
                }
                Err(e) => {
                    // A put task that panicked or was cancelled: its items cannot be told
                    // apart here, so every item not yet settled is retried. An object
                    // written twice is overwritten (same name), never duplicated.
                    tracing::error!(sink = %self.name, error = %e, "S3 put task failed");
                    let reason = format!("an S3 put task failed: {e}");
                    puts.abort_all();
                    return outcomes
                        .into_iter()
                        .map(|_| Outcome::retry(reason.clone()))
                        .collect();
                }
            }
        }
        outcomes
    }
}

impl S3Sink {
    /// A `PutObject` of `body` at the group's key, as a future that owns what it needs.
    fn put(
        &self,
        group: &layout::Group,
        body: Vec<u8>,
    ) -> impl std::future::Future<Output = Result<(), Outcome>> + Send + 'static {
        let mut request = self
            .client
            .put_object()
            .bucket(&self.config.bucket)
            .key(&group.key)
            .content_type("application/x-ndjson")
            .metadata("switchboard-sink", layout::sanitize(&self.name))
            .metadata("switchboard-items", group.items.len().to_string())
            .body(ByteStream::from(body));
        if self.config.gzip {
            request = request.content_encoding("gzip");
        }
        if group.errors.is_some() {
            request = request.metadata("switchboard-error-records", "true");
        }
        let bucket = Arc::<str>::from(self.config.bucket.as_str());
        let key = group.key.clone();
        let sink = self.name.clone();
        async move {
            let started = Instant::now();
            let result = request.send().await.map(|_| ()).map_err(|e| {
                let outcome = classify(&e);
                tracing::warn!(
                    bucket = %bucket, key = %key, error = %DisplayErrorContext(&e),
                    "S3 PutObject failed"
                );
                outcome
            });
            let label = match &result {
                Ok(()) => outcome_label::DELIVERED,
                Err(Outcome::Reject { .. }) => outcome_label::REJECT,
                Err(_) => outcome_label::RETRY,
            };
            switchboard_telemetry::sink_request(&sink, label, started.elapsed().as_secs_f64());
            result
        }
    }
}

/// What a failed S3 call means for its items: retry what time can fix (throttling, 5xx,
/// timeouts, the network, credentials being refreshed), reject what it cannot (the
/// bucket missing, access denied, a request S3 refuses).
pub fn classify<E>(error: &SdkError<E, HttpResponse>) -> Outcome
where
    E: ProvideErrorMetadata + std::error::Error + 'static,
{
    let text = DisplayErrorContext(error).to_string();
    match error {
        SdkError::ServiceError(service) => {
            let code = service.err().code().unwrap_or("");
            let status = service.raw().status().as_u16();
            let message = service.err().message().unwrap_or("");
            let reason = format!(
                "S3 answered HTTP {status}{}{}",
                if code.is_empty() {
                    String::new()
                } else {
                    format!(" {code}")
                },
                if message.is_empty() {
                    String::new()
                } else {
                    format!(": {message}")
                },
            );
            let retry =
                RETRY_CODES.contains(&code) || status >= 500 || status == 429 || status == 408;
            match code {
                "NoSuchBucket" => Outcome::reject(format!(
                    "{reason} (create the bucket, or fix `bucket`, then replay the dead letters)"
                )),
                "AccessDenied" | "AllAccessDisabled" | "AccountProblem" => {
                    Outcome::reject(format!(
                        "{reason} (allow s3:PutObject on the bucket, then replay the dead letters)"
                    ))
                }
                _ if retry => Outcome::retry(reason),
                _ => Outcome::reject(reason),
            }
        }
        SdkError::TimeoutError(_) => Outcome::retry(format!("S3 timed out: {text}")),
        SdkError::DispatchFailure(_) => Outcome::retry(format!("cannot reach S3: {text}")),
        SdkError::ResponseError(_) => {
            Outcome::retry(format!("S3's answer could not be read: {text}"))
        }
        // Building or signing the request failed, e.g. no credentials yet: retried, so a
        // credential source that comes up later (a role, SSO) is waited for.
        _ => Outcome::retry(format!("cannot send to S3: {text}")),
    }
}
