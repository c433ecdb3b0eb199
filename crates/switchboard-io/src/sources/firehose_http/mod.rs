//! The Firehose HTTP endpoint destination: Amazon Data Firehose POSTs batches of records
//! (Connect contact records, or agent events when the stream is a Kinesis-sourced
//! Firehose) to this endpoint, and counts a batch delivered only on our 200.
//!
//! The protocol is formats.md §f (Firehose's "HTTP endpoint delivery request and response
//! specifications", protocol 1.0):
//!
//! - request: `POST` with `X-Amz-Firehose-Request-Id` (stable across retries),
//!   `X-Amz-Firehose-Access-Key`, `-Protocol-Version`, `-Source-Arn`,
//!   `-Common-Attributes`, optional `Content-Encoding: gzip`, and a JSON body
//!   `{"requestId", "timestamp" (ms), "records": [{"data": base64}]}`;
//! - response: `application/json` with a `Content-Length`,
//!   `{"requestId": <same>, "timestamp": <ms, integer>}` plus `errorMessage` on failure.
//!   Only 200 is success; 413 is a permanent failure (Firehose drops the batch); any
//!   other status, or no answer within 3 minutes, is retried with the same request id.
//!
//! So this endpoint answers 200 only once the records are in the store: it hands the
//! pipeline a [`Delivery`](crate::Delivery) and waits for its acknowledgement, which the
//! pipeline fires after the commit that includes them. If that takes longer than
//! `ack_timeout_secs` (under Firehose's 3 minutes) it answers 503 and Firehose retries.
//! A retry carries the same request id; [`requests`] remembers which ids were stored and
//! which are still waiting for their commit, so a retry is never applied twice: after
//! success it gets 200 at once, while the first attempt is still waiting it waits for
//! that same acknowledgement.
//!
//! A record that does not decode (not base64, not a Connect record) goes to the dead
//! letters in the same delivery; it does not fail the request, since retrying it would
//! not make it decode. Status codes: 401 without the key header, 403 with a wrong key
//! (compared in constant time), 400 for a body that is not a Firehose request, 413 over
//! `max_body_bytes`, 415 for an encoding other than gzip, 503 when the pipeline is
//! stopping or slow, 500 when the store refused the commit.
//!
//! Modelled on Vector's `aws_kinesis_firehose` source (config, router, handler, errors).
//! Unlike Vector, the Firehose headers are optional: moto's Firehose (the test server)
//! sends none of them, and the body's `requestId` is the same value.

mod handler;
mod requests;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::time::Duration;

use axum::extract::DefaultBodyLimit;
use axum::routing::post;
use axum::Router;
use serde::{Deserialize, Serialize};
use switchboard_model::decode::Format;

use super::http::{resolve_key, Secret};
use crate::context::SourceContext;

pub use handler::RequestError;

/// `X-Amz-Firehose-Request-Id`.
pub const REQUEST_ID_HEADER: &str = "x-amz-firehose-request-id";
/// `X-Amz-Firehose-Access-Key`.
pub const ACCESS_KEY_HEADER: &str = "x-amz-firehose-access-key";
/// `X-Amz-Firehose-Protocol-Version`.
pub const PROTOCOL_VERSION_HEADER: &str = "x-amz-firehose-protocol-version";
/// `X-Amz-Firehose-Source-Arn`.
pub const SOURCE_ARN_HEADER: &str = "x-amz-firehose-source-arn";
/// `X-Amz-Firehose-Common-Attributes`.
pub const COMMON_ATTRIBUTES_HEADER: &str = "x-amz-firehose-common-attributes";

/// Firehose's largest HTTP endpoint buffer (64 MiB, uncompressed).
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024 * 1024;

/// The Firehose HTTP endpoint source (`type = "firehose_http"` in `switchboard run`'s
/// config).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirehoseHttpConfig {
    /// The URL path Firehose POSTs to. Firehose itself only calls `https://` URLs on port
    /// 443: put a TLS-terminating proxy or load balancer in front.
    #[serde(default = "default_path")]
    pub path: String,
    /// The access key configured on the delivery stream's HTTP endpoint destination,
    /// sent in `X-Amz-Firehose-Access-Key`. Prefer `access_key_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key: Option<Secret>,
    /// The name of an environment variable holding the access key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_key_env: Option<String>,
    /// Accept requests without any key check. Off by default: without a key, set this to
    /// say so (a local test server such as moto sends no key).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// The largest request body in bytes, after gzip decoding; a larger one gets 413
    /// (Firehose then drops that batch). Default 64 MiB, Firehose's largest buffer.
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// How each record's `data` is decoded: `auto` (the default) detects contact
    /// records, agent events and contact events; any `switchboard decode --format` name
    /// forces one.
    #[serde(default = "default_record_format")]
    pub record_format: String,
    /// Seconds to wait for the store to acknowledge a request before answering 503
    /// (Firehose retries). Must stay under Firehose's 180 s response timeout.
    #[serde(default = "default_ack_timeout_secs")]
    pub ack_timeout_secs: u64,
    /// Seconds a stored request id is remembered, so that a retry of it is answered 200
    /// without applying it again. Default 7200, Firehose's longest retry duration.
    #[serde(default = "default_dedupe_window_secs")]
    pub dedupe_window_secs: u64,
    /// The most request ids remembered (the oldest are forgotten first).
    #[serde(default = "default_dedupe_capacity")]
    pub dedupe_capacity: usize,
}

fn default_path() -> String {
    "/firehose".into()
}
fn default_max_body_bytes() -> usize {
    DEFAULT_MAX_BODY_BYTES
}
fn default_record_format() -> String {
    "auto".into()
}
fn default_ack_timeout_secs() -> u64 {
    120
}
fn default_dedupe_window_secs() -> u64 {
    7200
}
fn default_dedupe_capacity() -> usize {
    100_000
}

impl Default for FirehoseHttpConfig {
    fn default() -> Self {
        Self {
            path: default_path(),
            access_key: None,
            access_key_env: None,
            allow_unauthenticated: false,
            max_body_bytes: default_max_body_bytes(),
            record_format: default_record_format(),
            ack_timeout_secs: default_ack_timeout_secs(),
            dedupe_window_secs: default_dedupe_window_secs(),
            dedupe_capacity: default_dedupe_capacity(),
        }
    }
}

/// A config that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("firehose_http source: {0}")]
pub struct ConfigError(pub String);

impl FirehoseHttpConfig {
    /// A typical config: the key from an environment variable, everything else default.
    pub fn example() -> Self {
        Self {
            access_key_env: Some("SWITCHBOARD_FIREHOSE_ACCESS_KEY".into()),
            ..Self::default()
        }
    }

    /// Checks the config without building anything (reads the key's environment
    /// variable).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }

    fn resolve(&self) -> Result<Settings, ConfigError> {
        let err = |m: String| ConfigError(m);
        if !self.path.starts_with('/') {
            return Err(err(format!("path {:?} must start with '/'", self.path)));
        }
        let key = resolve_key(
            self.access_key.as_ref(),
            self.access_key_env.as_deref(),
            "access_key",
        )
        .map_err(err)?;
        if key.is_some() && self.allow_unauthenticated {
            return Err(err(
                "allow_unauthenticated contradicts the access key that is set".into(),
            ));
        }
        if key.is_none() && !self.allow_unauthenticated {
            return Err(err(
                "set access_key_env (or access_key), or allow_unauthenticated = true".into(),
            ));
        }
        if key.as_ref().is_some_and(|k| k.len() > 4096) {
            return Err(err("access key is longer than Firehose's 4096 bytes".into()));
        }
        if self.max_body_bytes == 0 {
            return Err(err("max_body_bytes must be positive".into()));
        }
        let record_format: Format = self.record_format.parse().map_err(err)?;
        if !(1..180).contains(&self.ack_timeout_secs) {
            return Err(err(
                "ack_timeout_secs must be 1 to 179 (Firehose waits 180 s for an answer)".into(),
            ));
        }
        if self.dedupe_capacity == 0 {
            return Err(err("dedupe_capacity must be positive".into()));
        }
        Ok(Settings {
            key,
            max_body_bytes: self.max_body_bytes,
            record_format,
            ack_timeout: Duration::from_secs(self.ack_timeout_secs),
        })
    }

    /// Builds the endpoint: a router serving `POST {path}`, to mount on the main HTTP
    /// server or to serve on a listener of its own. Deliveries go to `ctx.deliveries`;
    /// once `ctx.shutdown` is signalled, new requests get 503 (Firehose retries them
    /// later) while those already waiting for their commit finish.
    pub fn router(&self, ctx: SourceContext) -> Result<Router, ConfigError> {
        let settings = self.resolve()?;
        let requests = requests::RequestLog::new(
            Duration::from_secs(self.dedupe_window_secs),
            self.dedupe_capacity,
        );
        let endpoint = Arc::new(handler::Endpoint {
            settings,
            requests,
            ctx,
        });
        Ok(Router::new()
            .route(&self.path, post(handler::handle))
            // The handler enforces `max_body_bytes` itself (after gzip too) and answers
            // in Firehose's format; axum's default 2 MB limit would refuse first.
            .layer(DefaultBodyLimit::disable())
            .with_state(endpoint))
    }
}

/// Builds the endpoint's router: [`FirehoseHttpConfig::router`].
pub fn router(config: &FirehoseHttpConfig, ctx: SourceContext) -> Result<Router, ConfigError> {
    config.router(ctx)
}

/// The config, resolved (no `Debug`: it holds the key).
struct Settings {
    key: Option<Vec<u8>>,
    max_body_bytes: usize,
    record_format: Format,
    ack_timeout: Duration,
}
