//! An HTTP target for an EventBridge API destination: a rule on the bus that receives
//! Connect's contact events (formats.md §c) sends each event to an API destination whose
//! connection carries an API key header; the destination POSTs the event here.
//!
//! The body is one EventBridge event (or, from an input transformer, its `detail`
//! alone), or a JSON array of them. Each event is decoded as a contact event; events whose
//! type the filter drops are answered for but not delivered; an event that does not
//! decode goes to the dead letters with the others' delivery (a retry would not fix it).
//! The response is 200 only after the pipeline's commit (the same acknowledgement as
//! every source), with a small JSON summary.
//!
//! EventBridge retries 401, 407, 409, 429 and 5xx answers, and gives up on other 4xx and
//! on an API destination that takes longer than 5 seconds: hence 401 for a missing key
//! but 403 (not retried) for a wrong one, and a short `ack_timeout_ms` (503 when the
//! commit is late, so the event is retried). Duplicates from those retries carry the same
//! event `id`, which the engine dedupes.

use std::ops::ControlFlow;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, HeaderName, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::json;
use switchboard_model::decode::{Decoder, Format};
use tokio::time::Instant;

use super::filter::EventTypeFilter;
use super::http::{
    check_key, content_length, read_body, resolve_key, send, wait_ack, AckWaitError, BodyError,
    KeyRefused, Secret,
};
use crate::context::SourceContext;
use crate::delivery::Delivery;

/// The name deliveries and logs give this source.
const SOURCE: &str = "eventbridge-http";

/// The EventBridge API-destination target (`type = "eventbridge_http"`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridgeHttpConfig {
    /// The URL path the API destination POSTs to.
    #[serde(default = "default_path")]
    pub path: String,
    /// The header the API destination's connection sends the key in (its API key
    /// authorization's "API key name").
    #[serde(default = "default_header")]
    pub header: String,
    /// The key (the connection's "value"). Prefer `key_env`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key: Option<Secret>,
    /// The name of an environment variable holding the key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub key_env: Option<String>,
    /// Accept requests without any key check (off by default).
    #[serde(default)]
    pub allow_unauthenticated: bool,
    /// Which contact events to keep.
    #[serde(default)]
    pub event_types: EventTypeFilter,
    /// The largest request body in bytes (an EventBridge event is at most 256 KB).
    #[serde(default = "default_max_body_bytes")]
    pub max_body_bytes: usize,
    /// Milliseconds to wait for the store's commit before answering 503 (EventBridge gives
    /// an API destination 5 seconds).
    #[serde(default = "default_ack_timeout_ms")]
    pub ack_timeout_ms: u64,
}

fn default_path() -> String {
    "/eventbridge".into()
}
fn default_header() -> String {
    "x-api-key".into()
}
fn default_max_body_bytes() -> usize {
    1024 * 1024
}
fn default_ack_timeout_ms() -> u64 {
    4000
}

impl Default for EventBridgeHttpConfig {
    fn default() -> Self {
        Self {
            path: default_path(),
            header: default_header(),
            key: None,
            key_env: None,
            allow_unauthenticated: false,
            event_types: EventTypeFilter::default(),
            max_body_bytes: default_max_body_bytes(),
            ack_timeout_ms: default_ack_timeout_ms(),
        }
    }
}

/// A config that cannot be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("eventbridge_http source: {0}")]
pub struct ConfigError(pub String);

impl EventBridgeHttpConfig {
    /// A typical config: key from the environment, `CONTACT_DATA_UPDATED` dropped.
    pub fn example() -> Self {
        Self {
            key_env: Some("SWITCHBOARD_EVENTBRIDGE_KEY".into()),
            event_types: EventTypeFilter {
                include: Vec::new(),
                exclude: vec!["CONTACT_DATA_UPDATED".into()],
            },
            ..Self::default()
        }
    }

    /// Checks the config without building anything (reads the key's variable).
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.resolve().map(|_| ())
    }

    fn resolve(&self) -> Result<Target, ConfigError> {
        let err = |m: String| ConfigError(m);
        if !self.path.starts_with('/') {
            return Err(err(format!("path {:?} must start with '/'", self.path)));
        }
        let header = HeaderName::try_from(self.header.as_str())
            .map_err(|_| err(format!("header {:?} is not a header name", self.header)))?;
        let key = resolve_key(self.key.as_ref(), self.key_env.as_deref(), "key").map_err(err)?;
        match (&key, self.allow_unauthenticated) {
            (Some(_), true) => {
                return Err(err(
                    "allow_unauthenticated contradicts the key that is set".into()
                ))
            }
            (None, false) => {
                return Err(err(
                    "set key_env (or key), or allow_unauthenticated = true".into()
                ))
            }
            _ => {}
        }
        self.event_types.validate().map_err(err)?;
        if self.max_body_bytes == 0 || self.ack_timeout_ms == 0 {
            return Err(err(
                "max_body_bytes and ack_timeout_ms must be positive".into()
            ));
        }
        Ok(Target {
            header,
            key,
            filter: self.event_types.clone(),
            max_body_bytes: self.max_body_bytes,
            ack_timeout: Duration::from_millis(self.ack_timeout_ms),
            ctx: None,
        })
    }

    /// Builds the target: a router serving `POST {path}`.
    pub fn router(&self, ctx: SourceContext) -> Result<Router, ConfigError> {
        let mut target = self.resolve()?;
        target.ctx = Some(ctx);
        Ok(Router::new()
            .route(&self.path, post(handle))
            .layer(DefaultBodyLimit::disable())
            .with_state(Arc::new(target)))
    }
}

/// Builds the target's router: [`EventBridgeHttpConfig::router`].
pub fn router(config: &EventBridgeHttpConfig, ctx: SourceContext) -> Result<Router, ConfigError> {
    config.router(ctx)
}

/// The config, resolved (no `Debug`: it holds the key).
struct Target {
    header: HeaderName,
    key: Option<Vec<u8>>,
    filter: EventTypeFilter,
    max_body_bytes: usize,
    ack_timeout: Duration,
    ctx: Option<SourceContext>,
}

/// Why a request failed, with its status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("missing key header")]
    MissingKey,
    #[error("invalid key")]
    WrongKey,
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("request body is not JSON: {0}")]
    Malformed(String),
    #[error("shutting down; retry later")]
    ShuttingDown,
    #[error("not stored: {0}")]
    Delivery(#[from] AckWaitError),
}

impl RequestError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey => StatusCode::UNAUTHORIZED,
            Self::WrongKey => StatusCode::FORBIDDEN,
            Self::Body(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(_) | Self::Malformed(_) => StatusCode::BAD_REQUEST,
            Self::Delivery(AckWaitError::NotStored(_)) => StatusCode::INTERNAL_SERVER_ERROR,
            Self::ShuttingDown | Self::Delivery(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }
}

impl IntoResponse for RequestError {
    fn into_response(self) -> Response {
        let status = self.status();
        let message = if status == StatusCode::INTERNAL_SERVER_ERROR {
            tracing::warn!(error = %self, "eventbridge request not stored");
            "internal error".to_owned()
        } else {
            tracing::info!(error = %self, %status, "eventbridge request refused");
            self.to_string()
        };
        (status, Json(json!({ "error": message }))).into_response()
    }
}

impl From<KeyRefused> for RequestError {
    fn from(k: KeyRefused) -> Self {
        match k {
            KeyRefused::Missing => Self::MissingKey,
            KeyRefused::Wrong => Self::WrongKey,
        }
    }
}

/// What a request did, in the 200 response.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// Events delivered (stored when this answer is sent).
    pub accepted: usize,
    /// Events the event-type filter dropped.
    pub filtered: usize,
    /// Events that did not decode, sent to the dead letters.
    pub dead_lettered: usize,
}

async fn handle(
    State(target): State<Arc<Target>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Summary>, RequestError> {
    let deadline = Instant::now() + target.ack_timeout;
    if let Some(key) = &target.key {
        check_key(key, headers.get(&target.header))?;
    }
    let body = read_body(body, content_length(&headers), target.max_body_bytes).await?;
    serde_json::from_slice::<serde::de::IgnoredAny>(&body)
        .map_err(|e| RequestError::Malformed(e.to_string()))?;
    let Some(ctx) = &target.ctx else {
        return Err(RequestError::ShuttingDown);
    };
    if *ctx.shutdown.borrow() {
        return Err(RequestError::ShuttingDown);
    }

    let mut summary = Summary::default();
    let mut items = Vec::new();
    Decoder::new(Format::EventBridge).decode_slice(None, &body, &mut |item| {
        match item {
            Ok(d) if !target.filter.accepts_decoded(&d) => summary.filtered += 1,
            Ok(d) => {
                summary.accepted += 1;
                items.push(Ok(d));
            }
            Err(mut e) => {
                summary.dead_lettered += 1;
                e.source.envelope = e.source.envelope.or(Some(SOURCE));
                items.push(Err(e));
            }
        }
        ControlFlow::Continue(())
    });
    if !items.is_empty() {
        let (delivery, mut ack) = Delivery::acked(SOURCE, items);
        send(&ctx.deliveries, delivery, deadline).await?;
        wait_ack(&mut ack, deadline).await?;
    }
    tracing::debug!(?summary, "eventbridge request stored");
    Ok(Json(summary))
}

#[cfg(test)]
mod tests {
    use axum::http::Request;
    use serde_json::Value;
    use tokio::sync::watch;
    use tower::ServiceExt;

    use super::*;
    use crate::delivery::{self, DeliveryReceiver};
    use crate::sources::http::tests_support::{next, sample};

    fn keyed() -> EventBridgeHttpConfig {
        EventBridgeHttpConfig {
            header: "x-switchboard-key".into(),
            key: Some(Secret("eb-key".into())),
            ..EventBridgeHttpConfig::default()
        }
    }

    fn harness(config: EventBridgeHttpConfig) -> (Router, DeliveryReceiver, watch::Sender<bool>) {
        let (tx, rx) = delivery::channel(4);
        let (stop, shutdown) = watch::channel(false);
        let router = config.router(SourceContext::new(tx, shutdown)).unwrap();
        (router, rx, stop)
    }

    fn post(key: Option<&str>, body: Vec<u8>) -> Request<Body> {
        let mut req = Request::post("/eventbridge").header("content-type", "application/json");
        if let Some(key) = key {
            req = req.header("x-switchboard-key", key);
        }
        req.body(Body::from(body)).unwrap()
    }

    async fn call(router: &Router, req: Request<Body>) -> (StatusCode, Value) {
        let res = router.clone().oneshot(req).await.unwrap();
        let status = res.status();
        let bytes = axum::body::to_bytes(res.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, serde_json::from_slice(&bytes).unwrap())
    }

    fn events() -> Vec<Value> {
        [
            "eventbridge-contact-disconnected.json",
            "eventbridge-contact-data-updated.json",
        ]
        .iter()
        .map(|f| {
            let text = std::fs::read_to_string(sample(f)).unwrap();
            serde_json::from_str(&text).unwrap()
        })
        .collect()
    }

    #[tokio::test]
    async fn batch_filtered_decoded_and_acknowledged() {
        let (router, mut rx, _stop) = harness(EventBridgeHttpConfig {
            event_types: EventTypeFilter {
                include: vec![],
                exclude: vec!["CONTACT_DATA_UPDATED".into()],
            },
            ..keyed()
        });
        let mut batch = events();
        batch.push(
            json!({"detail-type": "Amazon Connect Contact Event", "detail": {"eventType": 3}}),
        );
        let body = serde_json::to_vec(&batch).unwrap();
        let call = tokio::spawn(async move { call(&router, post(Some("eb-key"), body)).await });
        let mut d = next(&mut rx).await;
        assert_eq!(d.source, "eventbridge-http");
        assert_eq!(d.items.len(), 2, "the filtered event is not delivered");
        assert!(d.items[0].is_ok());
        assert!(d.items[1].is_err(), "the broken event is dead-lettered");
        d.ack.take().unwrap().send(Ok(()));
        let (status, json) = call.await.unwrap();
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            json,
            json!({"accepted": 1, "filtered": 1, "deadLettered": 1})
        );
    }

    #[tokio::test]
    async fn keys_bodies_and_shutdown() {
        let (router, mut rx, stop) = harness(keyed());
        let body = serde_json::to_vec(&events()[0]).unwrap();
        assert_eq!(
            call(&router, post(None, body.clone())).await.0,
            StatusCode::UNAUTHORIZED
        );
        assert_eq!(
            call(&router, post(Some("eb-kex"), body.clone())).await.0,
            StatusCode::FORBIDDEN
        );
        assert_eq!(
            call(&router, post(Some("eb-key"), b"{not json".to_vec()))
                .await
                .0,
            StatusCode::BAD_REQUEST
        );
        stop.send(true).unwrap();
        assert_eq!(
            call(&router, post(Some("eb-key"), body)).await.0,
            StatusCode::SERVICE_UNAVAILABLE
        );
        assert!(rx.try_recv().is_err());
    }

    #[tokio::test(start_paused = true)]
    async fn late_commit_gets_503() {
        let (router, mut rx, _stop) = harness(keyed());
        let body = serde_json::to_vec(&events()[0]).unwrap();
        let call = tokio::spawn(async move { call(&router, post(Some("eb-key"), body)).await });
        let _held = next(&mut rx).await;
        assert_eq!(call.await.unwrap().0, StatusCode::SERVICE_UNAVAILABLE);
    }

    #[test]
    fn config_example_and_validation() {
        let example = EventBridgeHttpConfig::example();
        let back: EventBridgeHttpConfig =
            serde_json::from_str(&serde_json::to_string(&example).unwrap()).unwrap();
        assert_eq!(back, example);
        assert!(keyed().validate().is_ok());
        assert!(EventBridgeHttpConfig::default().validate().is_err());
        let bad_header = EventBridgeHttpConfig {
            header: "bad header".into(),
            ..keyed()
        };
        assert!(bad_header.validate().is_err());
        assert!(serde_json::from_value::<EventBridgeHttpConfig>(json!({"keys": "x"})).is_err());
    }
}
