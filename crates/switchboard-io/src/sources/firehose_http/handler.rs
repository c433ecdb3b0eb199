//! One Firehose request, from headers to response: key, protocol version and encoding
//! checks, the body under its size limit, the request id's slot (so a retry is not
//! applied twice), decoding, delivery, and waiting for the commit.

use std::ops::ControlFlow;

use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use std::sync::Arc;
use switchboard_model::decode::{DecodeError, Decoded, Decoder, Format, Source};
use switchboard_model::envelope::{decode_base64, FirehoseHttpRequest, FirehoseHttpResponse};
use tokio::time::Instant;

use super::requests::RequestLog;
use super::{
    Settings, ACCESS_KEY_HEADER, COMMON_ATTRIBUTES_HEADER, PROTOCOL_VERSION_HEADER,
    REQUEST_ID_HEADER, SOURCE_ARN_HEADER,
};
use crate::context::SourceContext;
use crate::delivery::Delivery;
use crate::sources::http::{
    check_key, content_length, gunzip, now_ms, read_body, send, wait_ack, AckWaitError, BodyError,
    KeyRefused,
};

/// The name deliveries and logs give this source.
pub(super) const SOURCE: &str = "firehose-http";

/// Bodies above this are decoded on a blocking thread, off the async workers.
const BLOCKING_ABOVE: usize = 256 * 1024;

/// Firehose reads at most 8192 characters of `errorMessage`.
const MAX_ERROR_MESSAGE: usize = 8192;

pub(super) struct Endpoint {
    pub settings: Settings,
    pub requests: RequestLog,
    pub ctx: SourceContext,
}

/// Why a request was not a success, and the status Firehose gets for it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RequestError {
    #[error("missing X-Amz-Firehose-Access-Key header")]
    MissingKey,
    #[error("invalid access key")]
    WrongKey,
    #[error("unsupported X-Amz-Firehose-Protocol-Version {0:?} (1.0 is supported)")]
    ProtocolVersion(String),
    #[error("unsupported Content-Encoding {0:?} (gzip is supported)")]
    Encoding(String),
    #[error(transparent)]
    Body(#[from] BodyError),
    #[error("request body is not a Firehose request: {0}")]
    Malformed(String),
    #[error("request id header {header:?} and body requestId {body:?} differ")]
    RequestIdMismatch { header: String, body: String },
    #[error("shutting down; retry later")]
    ShuttingDown,
    #[error("not stored: {0}")]
    Delivery(#[from] AckWaitError),
    #[error("decoding failed: {0}")]
    Internal(String),
}

impl RequestError {
    pub fn status(&self) -> StatusCode {
        match self {
            Self::MissingKey => StatusCode::UNAUTHORIZED,
            Self::WrongKey => StatusCode::FORBIDDEN,
            Self::ProtocolVersion(_) | Self::Malformed(_) | Self::RequestIdMismatch { .. } => {
                StatusCode::BAD_REQUEST
            }
            Self::Encoding(_) => StatusCode::UNSUPPORTED_MEDIA_TYPE,
            Self::Body(BodyError::TooLarge { .. }) => StatusCode::PAYLOAD_TOO_LARGE,
            Self::Body(_) => StatusCode::BAD_REQUEST,
            Self::ShuttingDown => StatusCode::SERVICE_UNAVAILABLE,
            Self::Delivery(AckWaitError::NotStored(_)) | Self::Internal(_) => {
                StatusCode::INTERNAL_SERVER_ERROR
            }
            Self::Delivery(_) => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// What Firehose is told (and writes to its error records): 4xx say what was wrong,
    /// 5xx hide internals.
    fn public_message(&self) -> String {
        match self.status() {
            StatusCode::INTERNAL_SERVER_ERROR => "internal error".to_owned(),
            StatusCode::SERVICE_UNAVAILABLE => format!("{self}; retry"),
            _ => self.to_string(),
        }
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

/// `POST {path}`.
pub(super) async fn handle(
    State(endpoint): State<Arc<Endpoint>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let started = Instant::now();
    let header_id = header_str(&headers, REQUEST_ID_HEADER).map(str::to_owned);
    let (request_id, outcome) = endpoint.process(header_id, &headers, body, started).await;
    let request_id = request_id.unwrap_or_default();
    match outcome {
        Ok(Outcome::Stored { records, errors }) => {
            // Common attributes are the delivery stream's own labels: logged, not stored.
            let source_arn = header_str(&headers, SOURCE_ARN_HEADER).unwrap_or("");
            let attributes = header_str(&headers, COMMON_ATTRIBUTES_HEADER).unwrap_or("");
            tracing::debug!(
                request_id,
                records,
                errors,
                source_arn,
                attributes,
                "firehose request stored"
            );
            respond(StatusCode::OK, request_id, None)
        }
        Ok(Outcome::Retry) => {
            tracing::info!(
                request_id,
                "firehose retry of a stored request: not applied again"
            );
            respond(StatusCode::OK, request_id, None)
        }
        Err(e) => {
            let status = e.status();
            let source_arn = header_str(&headers, SOURCE_ARN_HEADER).unwrap_or("");
            if status.is_server_error() {
                tracing::warn!(request_id, source_arn, error = %e, %status, "firehose request not stored");
            } else {
                tracing::info!(request_id, source_arn, error = %e, %status, "firehose request refused");
            }
            let mut message = e.public_message();
            truncate(&mut message, MAX_ERROR_MESSAGE);
            respond(status, request_id, Some(message))
        }
    }
}

/// What a successful request did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Outcome {
    /// Delivered now (or a pending delivery of an earlier attempt) and stored.
    Stored { records: usize, errors: usize },
    /// Stored by an earlier attempt; nothing applied.
    Retry,
}

impl Endpoint {
    /// Runs the request; returns the request id (header, else body) for the response.
    async fn process(
        &self,
        header_id: Option<String>,
        headers: &HeaderMap,
        body: Body,
        started: Instant,
    ) -> (Option<String>, Result<Outcome, RequestError>) {
        if let Err(e) = self.check_headers(headers) {
            return (header_id, Err(e));
        }
        let body = match self.read(headers, body).await {
            Ok(body) => body,
            Err(e) => return (header_id, Err(e)),
        };
        let request = match parse(body).await {
            Ok(r) => r,
            Err(e) => return (header_id, Err(e)),
        };
        if request.request_id.is_empty() {
            let e = RequestError::Malformed("requestId is empty".into());
            return (header_id, Err(e));
        }
        let id = match header_id {
            Some(h) if h != request.request_id => {
                let e = RequestError::RequestIdMismatch {
                    header: h.clone(),
                    body: request.request_id,
                };
                return (Some(h), Err(e));
            }
            _ => request.request_id.clone(),
        };
        if let Some(sent) = request.timestamp {
            // How old the request is: how far behind Firehose's delivery runs. (Milliseconds;
            // some emulators send seconds.)
            let sent = if sent < 100_000_000_000 {
                sent * 1000
            } else {
                sent
            };
            let age = now_ms().saturating_sub(sent) as f64 / 1000.0;
            switchboard_telemetry::input::lag(SOURCE, "", age);
        }
        let outcome = self.deliver(&id, request, started).await;
        (Some(id), outcome)
    }

    fn check_headers(&self, headers: &HeaderMap) -> Result<(), RequestError> {
        if let Some(key) = &self.settings.key {
            check_key(key, headers.get(ACCESS_KEY_HEADER))?;
        }
        if let Some(v) = headers.get(PROTOCOL_VERSION_HEADER) {
            if v.as_bytes() != b"1.0" {
                return Err(RequestError::ProtocolVersion(
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ));
            }
        }
        Ok(())
    }

    /// The body, gzip decoded when `Content-Encoding` says so, under the size limit.
    async fn read(&self, headers: &HeaderMap, body: Body) -> Result<Vec<u8>, RequestError> {
        let limit = self.settings.max_body_bytes;
        let gzip = match headers.get(axum::http::header::CONTENT_ENCODING) {
            None => false,
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"gzip") => true,
            Some(v) if v.as_bytes().eq_ignore_ascii_case(b"identity") => false,
            Some(v) => {
                return Err(RequestError::Encoding(
                    String::from_utf8_lossy(v.as_bytes()).into_owned(),
                ))
            }
        };
        let raw = read_body(body, content_length(headers), limit).await?;
        if !gzip {
            return Ok(raw);
        }
        off_the_runtime(raw.len(), move || gunzip(&raw, limit))
            .await?
            .map_err(RequestError::from)
    }

    /// Delivers the request's records unless an earlier attempt with the same id did, and
    /// waits for them to be stored.
    async fn deliver(
        &self,
        id: &str,
        request: FirehoseHttpRequest,
        started: Instant,
    ) -> Result<Outcome, RequestError> {
        let deadline = started + self.settings.ack_timeout;
        let slot = self.requests.slot(id);
        // Attempts with one id take turns; a retry waits here for the first attempt.
        let mut slot = tokio::time::timeout_at(deadline, slot.lock())
            .await
            .map_err(|_| AckWaitError::Timeout)?;
        if slot.stored {
            return Ok(Outcome::Retry);
        }
        let (mut records, mut errors) = (0, 0);
        if slot.pending.is_none() {
            // The delivery is handed over only while running: a pipeline that is
            // stopping may never commit it.
            if *self.ctx.shutdown.borrow() {
                return Err(RequestError::ShuttingDown);
            }
            let format = self.settings.record_format;
            let count: usize = request.records.iter().map(|r| r.data.len()).sum();
            let items = off_the_runtime(count, move || decode_records(request, format)).await?;
            errors = items.iter().filter(|i| i.is_err()).count();
            records = items.len() - errors;
            let (delivery, ack) = Delivery::acked(SOURCE, items);
            send(&self.ctx.deliveries, delivery, deadline).await?;
            slot.pending = Some(ack);
        }
        let result = match slot.pending.as_mut() {
            Some(ack) => wait_ack(ack, deadline).await,
            None => Err(AckWaitError::Dropped),
        };
        if result != Err(AckWaitError::Timeout) {
            // Answered: the next attempt either gets 200 or delivers afresh.
            slot.pending = None;
        }
        result?;
        slot.stored = true;
        Ok(Outcome::Stored { records, errors })
    }
}

/// Parses the body as a Firehose request (400 when it is not one).
async fn parse(body: Vec<u8>) -> Result<FirehoseHttpRequest, RequestError> {
    off_the_runtime(body.len(), move || {
        serde_json::from_slice::<FirehoseHttpRequest>(&body)
            .map_err(|e| RequestError::Malformed(e.to_string()))
    })
    .await?
}

/// Runs CPU work inline when small, on a blocking thread when large (a 64 MiB body takes
/// a fraction of a second to decode, which would stall other requests).
async fn off_the_runtime<T: Send + 'static>(
    size: usize,
    work: impl FnOnce() -> T + Send + 'static,
) -> Result<T, RequestError> {
    if size <= BLOCKING_ABOVE {
        return Ok(work());
    }
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|e| RequestError::Internal(e.to_string()))
}

/// Decodes each record's base64 `data` as Connect data (one record, or several
/// concatenated), with the request id and record index as its position.
pub(super) fn decode_records(
    request: FirehoseHttpRequest,
    format: Format,
) -> Vec<Result<Decoded, DecodeError>> {
    let decoder = Decoder::new(format);
    let id = request.request_id;
    let mut items = Vec::with_capacity(request.records.len());
    for (i, record) in request.records.into_iter().enumerate() {
        let at = Source {
            envelope: Some(SOURCE),
            index: Some(i),
            record_id: Some(id.clone()),
            ..Source::default()
        };
        let fail = |reason: String, raw: Vec<u8>| DecodeError {
            source: at.clone(),
            reason,
            raw,
        };
        let payload = match decode_base64(&record.data) {
            Ok(p) => p,
            Err(e) => {
                items.push(Err(fail(
                    format!("record data is not valid base64: {e}"),
                    record.data.into_bytes(),
                )));
                continue;
            }
        };
        let before = items.len();
        decoder.decode_slice(None, &payload, &mut |item| {
            items.push(match item {
                Ok(mut d) => {
                    d.source = position(d.source, &at);
                    Ok(d)
                }
                Err(mut e) => {
                    e.source = position(e.source, &at);
                    Err(e)
                }
            });
            ControlFlow::Continue(())
        });
        if items.len() == before {
            items.push(Err(fail(
                "empty payload: no Connect record".into(),
                payload,
            )));
        }
    }
    items
}

/// The position of something decoded from a record's payload: the request id and
/// record index, with the place inside the payload (line, offset, part).
fn position(inner: Source, at: &Source) -> Source {
    Source {
        part: inner.part.or(inner.index),
        line: inner.line,
        offset: inner.offset,
        shard_id: inner.shard_id,
        sequence_number: inner.sequence_number,
        partition_key: inner.partition_key,
        ..at.clone()
    }
}

fn header_str<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name)?.to_str().ok()
}

/// The response Firehose expects: JSON with the request id and an integer ms timestamp
/// (axum's `Json` sets `Content-Type: application/json`; the body has a known length, so
/// `Content-Length` is set).
fn respond(status: StatusCode, request_id: String, error_message: Option<String>) -> Response {
    let body = FirehoseHttpResponse {
        request_id,
        timestamp: now_ms(),
        error_message,
    };
    (status, Json(body)).into_response()
}

fn truncate(s: &mut String, max: usize) {
    if s.len() > max {
        let mut end = max;
        while !s.is_char_boundary(end) {
            end -= 1;
        }
        s.truncate(end);
    }
}
