//! The HTTP side of the webhook and Slack sinks: one `reqwest` client per sink, its
//! headers resolved once at build time, a rate limiter and a bound on requests in flight
//! shared by every delivery of the sink, and one call that sends a JSON body and says
//! what became of it ([`super::super::retry::outcome_of`]), recording the sink's request
//! series.
//!
//! Redirects are not followed: a POST that a server redirects is not delivered, and
//! silently turning it into a GET elsewhere would be worse; a 3xx is a rejection whose
//! reason says to configure the final URL.

use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use governor::{DefaultDirectRateLimiter, Quota, RateLimiter};
use http::header::{HeaderMap, HeaderName, HeaderValue, CONTENT_TYPE};
use tokio::sync::Semaphore;

use crate::sinks::retry::outcome_of;
use crate::sinks::{BuildError, Outcome};
use switchboard_telemetry::requests::outcome as outcome_label;

/// The header every request carries with the item's (or batch's) idempotency key.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Headers the sink sets itself, which a config may not set.
pub const RESERVED_HEADERS: &[&str] = &[
    IDEMPOTENCY_KEY,
    "content-type",
    "content-length",
    "transfer-encoding",
    "host",
    "connection",
];

/// How a sender is set up (already resolved: secrets expanded, URL parsed).
#[derive(Debug, Clone)]
pub struct SenderSettings {
    pub method: reqwest::Method,
    pub url: reqwest::Url,
    pub headers: HeaderMap,
    pub timeout: Duration,
    /// Requests per second, spaced evenly; `None` for no limit.
    pub rate_limit_per_sec: Option<f64>,
    /// Requests in flight at once, across every delivery of the sink.
    pub concurrency: usize,
}

/// Sends JSON bodies for one sink.
pub struct HttpSender {
    sink: String,
    client: reqwest::Client,
    method: reqwest::Method,
    url: reqwest::Url,
    headers: HeaderMap,
    limiter: Option<DefaultDirectRateLimiter>,
    in_flight: Semaphore,
}

impl std::fmt::Debug for HttpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Neither the URL nor the headers: both may hold secrets.
        f.debug_struct("HttpSender")
            .field("sink", &self.sink)
            .field("method", &self.method)
            .field("rate_limited", &self.limiter.is_some())
            .finish_non_exhaustive()
    }
}

impl HttpSender {
    pub fn new(sink: &str, settings: SenderSettings) -> Result<Arc<Self>, BuildError> {
        let client = reqwest::Client::builder()
            .timeout(settings.timeout)
            .connect_timeout(settings.timeout.min(Duration::from_secs(10)))
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("switchboard/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| BuildError::sink(sink, format!("cannot start the HTTP client: {e}")))?;
        let limiter = match settings.rate_limit_per_sec {
            None => None,
            Some(rate) => Some(RateLimiter::direct(quota(rate).ok_or_else(|| {
                BuildError::sink(
                    sink,
                    format!("rate_limit_per_sec must be above 0 and at most 1000000, not {rate}"),
                )
            })?)),
        };
        Ok(Arc::new(HttpSender {
            sink: sink.to_owned(),
            client,
            method: settings.method,
            url: settings.url,
            headers: settings.headers,
            limiter,
            in_flight: Semaphore::new(settings.concurrency.max(1)),
        }))
    }

    /// Sends `body` (JSON) with `key` as its `Idempotency-Key`, waiting first for a free
    /// slot and the rate limit. `items` is how many items the body holds (for the
    /// rejected-items count).
    pub async fn send(&self, key: &str, body: Bytes, items: usize) -> Outcome {
        let Ok(key) = HeaderValue::from_str(key) else {
            return Outcome::reject(format!(
                "the idempotency key {key:?} cannot be sent as a header value"
            ));
        };
        // The semaphore is never closed; if it were, sending without a slot is harmless.
        let _slot = self.in_flight.acquire().await;
        if let Some(limiter) = &self.limiter {
            limiter.until_ready().await;
        }
        let started = Instant::now();
        let result = self
            .client
            .request(self.method.clone(), self.url.clone())
            .headers(self.headers.clone())
            .header(IDEMPOTENCY_KEY, key)
            .header(CONTENT_TYPE, HeaderValue::from_static("application/json"))
            .body(body)
            .send()
            .await;
        let outcome = outcome_of(result).await;
        let label = match &outcome {
            Outcome::Delivered => outcome_label::DELIVERED,
            Outcome::Retry { reason, .. } => {
                tracing::debug!(sink = %self.sink, %reason, "request to retry");
                outcome_label::RETRY
            }
            Outcome::Reject { reason } => {
                tracing::debug!(sink = %self.sink, %reason, "request rejected");
                switchboard_telemetry::sink_rejected(&self.sink, items as u64);
                outcome_label::REJECT
            }
        };
        switchboard_telemetry::sink_request(&self.sink, label, started.elapsed().as_secs_f64());
        outcome
    }
}

/// A quota of `rate` requests per second with a burst of one (evenly spaced, so no
/// second sees more than `rate`); `None` when the rate is not positive and finite.
fn quota(rate: f64) -> Option<Quota> {
    if !(rate.is_finite() && rate > 0.0 && rate <= 1_000_000.0) {
        return None;
    }
    if rate.fract() == 0.0 && rate <= f64::from(u32::MAX) {
        // Whole rates: governor's own arithmetic, burst one.
        let per_second = NonZeroU32::new(rate as u32)?;
        return Some(Quota::per_second(per_second).allow_burst(NonZeroU32::MIN));
    }
    Quota::with_period(Duration::from_secs_f64(1.0 / rate))
}

/// Checks one configured header (name and the value as written, `${VAR}` unexpanded);
/// `Err` says what is wrong.
pub fn check_header(name: &str, value: &str) -> Result<(), String> {
    let parsed = HeaderName::from_bytes(name.as_bytes())
        .map_err(|_| format!("{name:?} is not a valid header name"))?;
    if RESERVED_HEADERS.contains(&parsed.as_str()) {
        return Err(format!(
            "{name} is set by the sink itself (Idempotency-Key, Content-Type: application/json)"
        ));
    }
    HeaderValue::from_str(value).map_err(|_| {
        format!(
            "the value of {name} holds characters a header cannot (control characters, newlines)"
        )
    })?;
    Ok(())
}

/// Builds the header map from resolved (expanded) values; `field` names the config key
/// for errors. Values are marked sensitive so no debug output shows them.
pub fn header_map<'a>(
    sink: &str,
    field: &str,
    headers: impl IntoIterator<Item = (&'a str, String)>,
) -> Result<HeaderMap, BuildError> {
    let mut map = HeaderMap::new();
    for (name, value) in headers {
        let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
            BuildError::sink(sink, format!("{field}.{name}: not a valid header name"))
        })?;
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            BuildError::sink(
                sink,
                format!(
                    "{field}.{name}: the value (after expanding ${{VAR}}) holds characters a \
                     header cannot"
                ),
            )
        })?;
        value.set_sensitive(true);
        map.append(header, value);
    }
    Ok(map)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotas_accept_whole_and_fractional_rates_only_when_positive() {
        assert!(quota(20.0).is_some());
        assert!(quota(0.5).is_some());
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY, 2_000_000.0] {
            assert!(quota(bad).is_none(), "{bad}");
        }
        let q = quota(4.0).unwrap();
        assert_eq!(q.burst_size().get(), 1);
        assert_eq!(q.replenish_interval(), Duration::from_millis(250));
        assert_eq!(
            quota(0.5).unwrap().replenish_interval(),
            Duration::from_secs(2)
        );
    }

    #[test]
    fn headers_are_checked_and_reserved_ones_refused() {
        assert!(check_header("Authorization", "Bearer ${TOKEN}").is_ok());
        assert!(check_header("X-Api-Key", "abc").is_ok());
        assert!(check_header("Idempotency-Key", "x")
            .unwrap_err()
            .contains("set by the sink"));
        assert!(check_header("content-type", "x").is_err());
        assert!(check_header("bad name", "x")
            .unwrap_err()
            .contains("not a valid header name"));
        assert!(check_header("X-Evil", "a\r\nb").is_err());
    }
}
