//! What the two HTTP sources (the Firehose endpoint and the EventBridge API-destination
//! target) share: the shared-key check, done in constant time; keys that come from the
//! config or from an environment variable and never show in logs; reading a body under a
//! size limit (gzip decoded under the same limit); and handing a delivery to the pipeline
//! and waiting for its acknowledgement under a deadline.

use std::fmt;
use std::io::Read;
use std::pin::Pin;

use axum::body::{Body, HttpBody};
use axum::http::HeaderValue;
use serde::{Deserialize, Serialize};
use subtle::ConstantTimeEq;
use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::delivery::{AckError, Delivery, DeliverySender};

/// A secret from the config file: kept out of `Debug` output.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(..)")
    }
}

/// Resolves a key given inline or by the name of an environment variable holding it.
/// `Ok(None)` when neither is set (the caller decides whether that is allowed).
pub fn resolve_key(
    inline: Option<&Secret>,
    env: Option<&str>,
    field: &str,
) -> Result<Option<Vec<u8>>, String> {
    match (inline, env) {
        (Some(_), Some(_)) => Err(format!("set {field} or {field}_env, not both")),
        (Some(key), None) => non_empty(key.0.clone().into_bytes(), field).map(Some),
        (None, Some(var)) => match std::env::var(var) {
            Ok(key) => non_empty(key.into_bytes(), field).map(Some),
            Err(_) => Err(format!(
                "{field}_env names {var}, which is not set (or not UTF-8)"
            )),
        },
        (None, None) => Ok(None),
    }
}

fn non_empty(key: Vec<u8>, field: &str) -> Result<Vec<u8>, String> {
    if key.is_empty() {
        Err(format!("{field} is empty"))
    } else {
        Ok(key)
    }
}

/// Why a request's key was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyRefused {
    /// No key header: 401.
    Missing,
    /// A key that is not the configured one: 403.
    Wrong,
}

/// Compares the presented key with the expected one in constant time (the time taken
/// does not depend on how many leading bytes match; only the length may show).
pub fn check_key(expected: &[u8], presented: Option<&HeaderValue>) -> Result<(), KeyRefused> {
    let presented = presented.ok_or(KeyRefused::Missing)?;
    if bool::from(presented.as_bytes().ct_eq(expected)) {
        Ok(())
    } else {
        Err(KeyRefused::Wrong)
    }
}

/// Why a body could not be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BodyError {
    #[error("request body is larger than the limit of {limit} bytes")]
    TooLarge { limit: usize },
    #[error("cannot read the request body: {0}")]
    Read(String),
    #[error("request body is not valid gzip: {0}")]
    Gzip(String),
}

/// Reads a whole body, refusing it as soon as it passes `limit` bytes (a body without a
/// `Content-Length`, chunked, is counted as it arrives).
pub async fn read_body(
    mut body: Body,
    content_length: Option<usize>,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    if content_length.is_some_and(|n| n > limit) {
        return Err(BodyError::TooLarge { limit });
    }
    let mut buf = Vec::with_capacity(content_length.unwrap_or(0));
    while let Some(frame) = std::future::poll_fn(|cx| Pin::new(&mut body).poll_frame(cx)).await {
        let frame = frame.map_err(|e| BodyError::Read(e.to_string()))?;
        if let Ok(data) = frame.into_data() {
            if buf.len() + data.len() > limit {
                return Err(BodyError::TooLarge { limit });
            }
            buf.extend_from_slice(&data);
        }
    }
    Ok(buf)
}

/// Decompresses a gzip body (several members allowed), refusing output over `limit`.
pub fn gunzip(body: &[u8], limit: usize) -> Result<Vec<u8>, BodyError> {
    let mut out = Vec::with_capacity(body.len().saturating_mul(4).min(limit));
    flate2::read::MultiGzDecoder::new(body)
        .take(limit as u64 + 1)
        .read_to_end(&mut out)
        .map_err(|e| BodyError::Gzip(e.to_string()))?;
    if out.len() > limit {
        return Err(BodyError::TooLarge { limit });
    }
    Ok(out)
}

/// Why a delivery was not acknowledged as stored.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AckWaitError {
    /// The pipeline's channel is closed: it has stopped.
    #[error("the pipeline is not running")]
    Closed,
    /// The deadline passed, before the pipeline took the delivery or before it
    /// acknowledged it.
    #[error("not stored before the deadline")]
    Timeout,
    /// The pipeline took the delivery and reported it could not be stored.
    #[error(transparent)]
    NotStored(#[from] AckError),
    /// The pipeline dropped the acknowledgement without answering (it stopped).
    #[error("the pipeline stopped before storing the delivery")]
    Dropped,
}

/// Hands a delivery to the pipeline, waiting no later than `deadline` for room in the
/// channel. The delivery is gone (not sent) if this fails.
pub async fn send(
    deliveries: &DeliverySender,
    delivery: Delivery,
    deadline: Instant,
) -> Result<(), AckWaitError> {
    match tokio::time::timeout_at(deadline, deliveries.send(delivery)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(_)) => Err(AckWaitError::Closed),
        Err(_) => Err(AckWaitError::Timeout),
    }
}

/// Waits for an acknowledgement until `deadline`. Takes the receiver by reference so a
/// caller that times out can keep it and wait again later (a retry of the same request).
pub async fn wait_ack(
    ack: &mut oneshot::Receiver<Result<(), AckError>>,
    deadline: Instant,
) -> Result<(), AckWaitError> {
    match tokio::time::timeout_at(deadline, ack).await {
        Ok(Ok(Ok(()))) => Ok(()),
        Ok(Ok(Err(e))) => Err(AckWaitError::NotStored(e)),
        Ok(Err(_)) => Err(AckWaitError::Dropped),
        Err(_) => Err(AckWaitError::Timeout),
    }
}

/// The `Content-Length` header as a number, if present and valid.
pub fn content_length(headers: &axum::http::HeaderMap) -> Option<usize> {
    headers
        .get(axum::http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .parse()
        .ok()
}

/// Milliseconds since the Unix epoch, now.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

#[cfg(test)]
pub(crate) mod tests_support {
    //! Helpers for the sources' unit tests.

    use std::path::PathBuf;

    use crate::delivery::{Delivery, DeliveryReceiver};

    /// A published Connect sample (`../shared/connect/samples`, or `SWITCHBOARD_SAMPLES`).
    pub fn sample(name: &str) -> PathBuf {
        let dir = match std::env::var("SWITCHBOARD_SAMPLES") {
            Ok(dir) => PathBuf::from(dir),
            Err(_) => {
                PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
            }
        };
        assert!(
            dir.is_dir(),
            "samples not found at {}: set SWITCHBOARD_SAMPLES",
            dir.display()
        );
        dir.join(name)
    }

    /// Receives the next delivery, failing the test if none comes.
    pub async fn next(rx: &mut DeliveryReceiver) -> Delivery {
        rx.recv().await.expect("the source sent no delivery")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_check() {
        let key = b"s3cret-key";
        assert_eq!(check_key(key, None), Err(KeyRefused::Missing));
        let wrong = HeaderValue::from_static("s3cret-kez");
        assert_eq!(check_key(key, Some(&wrong)), Err(KeyRefused::Wrong));
        let short = HeaderValue::from_static("s3cret");
        assert_eq!(check_key(key, Some(&short)), Err(KeyRefused::Wrong));
        let right = HeaderValue::from_static("s3cret-key");
        assert_eq!(check_key(key, Some(&right)), Ok(()));
    }

    #[test]
    fn keys_from_config_or_env() {
        let inline = Secret("abc".into());
        assert_eq!(
            resolve_key(Some(&inline), None, "access_key"),
            Ok(Some(b"abc".to_vec()))
        );
        assert!(resolve_key(Some(&inline), Some("X"), "access_key").is_err());
        assert_eq!(resolve_key(None, None, "access_key"), Ok(None));
        assert!(resolve_key(None, Some("SWITCHBOARD_TEST_SURELY_UNSET_VAR"), "k").is_err());
        assert!(resolve_key(Some(&Secret(String::new())), None, "k").is_err());
        assert_eq!(format!("{inline:?}"), "Secret(..)");
    }

    #[tokio::test]
    async fn body_limit_counts_chunks_and_content_length() {
        let body = Body::from(vec![b'x'; 100]);
        assert_eq!(read_body(body, Some(100), 100).await.unwrap().len(), 100);
        let body = Body::from(vec![b'x'; 101]);
        assert_eq!(
            read_body(body, None, 100).await,
            Err(BodyError::TooLarge { limit: 100 })
        );
        // A lying Content-Length is refused before the body is read.
        let body = Body::from(vec![b'x'; 10]);
        assert_eq!(
            read_body(body, Some(1_000), 100).await,
            Err(BodyError::TooLarge { limit: 100 })
        );
    }

    #[test]
    fn gunzip_limit() {
        use flate2::write::GzEncoder;
        use std::io::Write;
        let mut gz = GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&[b'a'; 1000]).unwrap();
        let gz = gz.finish().unwrap();
        assert_eq!(gunzip(&gz, 1000).unwrap().len(), 1000);
        assert_eq!(gunzip(&gz, 999), Err(BodyError::TooLarge { limit: 999 }));
        assert!(matches!(gunzip(b"not gzip", 1000), Err(BodyError::Gzip(_))));
    }
}
