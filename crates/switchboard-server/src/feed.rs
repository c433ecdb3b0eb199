//! `GET /api/events`: the live feed as Server-Sent Events.
//!
//! Each client gets a `hello` (the current `seq`, the clock and its rate), then every
//! frame the [`Hub`](crate::hub::Hub) publishes, and a `clock` event every second, which
//! also keeps proxies from closing an idle stream. A client that falls more than the
//! hub's capacity behind gets `resync` and should reload its snapshots. The stream ends
//! when the hub closes (server shutdown), so graceful shutdown never waits on it.

use std::convert::Infallible;
use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use serde_json::json;
use tokio::sync::broadcast::error::{RecvError, TryRecvError};
use tokio::sync::{broadcast, watch};
use tokio::time::{interval, Interval, MissedTickBehavior};

use crate::error::{ApiError, ApiQuery};
use crate::hub::{event, json_or_null, sse_event, Frame};
use crate::telemetry;
use crate::AppState;

/// How often each client gets the clock.
pub const CLOCK_EVERY: Duration = Duration::from_secs(1);

/// Frames sent in one write at most when a client has several waiting.
const MAX_COALESCED: usize = 256;

/// Wait this long before reconnecting (the SSE `retry` field), in milliseconds.
const RETRY_MS: u64 = 2000;

struct FeedStream {
    state: AppState,
    rx: broadcast::Receiver<Frame>,
    closed: watch::Receiver<bool>,
    clock: Interval,
    _subscriber: Subscriber,
}

/// Counts the client in the subscribers gauge while its stream lives.
struct Subscriber;

impl Subscriber {
    fn new() -> Self {
        metrics::gauge!(telemetry::FEED_SUBSCRIBERS).increment(1.0);
        Subscriber
    }
}

impl Drop for Subscriber {
    fn drop(&mut self) {
        metrics::gauge!(telemetry::FEED_SUBSCRIBERS).decrement(1.0);
    }
}

fn clock_event(state: &AppState, event_name: &str) -> Bytes {
    // Never the engine lock here: the pipeline may hold it through a store commit.
    let seq = state.hub().seq();
    let (now, rate) = state.clock_now();
    let mut text = String::new();
    if event_name == event::HELLO {
        text.push_str(&format!("retry: {RETRY_MS}\n"));
    }
    let data = json_or_null(&json!({ "seq": seq, "now": now, "rate": rate }));
    sse_event(&mut text, None, event_name, &data);
    Bytes::from(text)
}

impl FeedStream {
    /// The next bytes to send, or `None` when the stream should end.
    async fn next(&mut self) -> Option<Bytes> {
        if *self.closed.borrow() {
            return None;
        }
        tokio::select! {
            biased;
            changed = self.closed.changed() => {
                // Closed, or the hub is gone: either way, the end.
                let _ = changed;
                None
            }
            // Before frames: under a steady stream of frames the clock must still come.
            _ = self.clock.tick() => Some(clock_event(&self.state, event::CLOCK)),
            received = self.rx.recv() => match received {
                Ok(frame) => Some(self.coalesce(frame)),
                Err(RecvError::Lagged(missed)) => {
                    metrics::counter!(telemetry::FEED_LAGGED).increment(missed);
                    let mut text = String::new();
                    let data = json_or_null(&json!({ "missed": missed }));
                    sse_event(&mut text, None, event::RESYNC, &data);
                    Some(Bytes::from(text))
                }
                Err(RecvError::Closed) => None,
            },
        }
    }

    /// `first` and the frames already waiting behind it, in one write.
    fn coalesce(&mut self, first: Frame) -> Bytes {
        let mut more = Vec::new();
        while more.len() < MAX_COALESCED {
            match self.rx.try_recv() {
                Ok(frame) => more.push(frame),
                // A lag shows up at the next recv(); an empty or closed channel ends the batch.
                Err(TryRecvError::Lagged(_) | TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        if more.is_empty() {
            return first.bytes;
        }
        let len = first.bytes.len() + more.iter().map(|f| f.bytes.len()).sum::<usize>();
        let mut out = Vec::with_capacity(len);
        out.extend_from_slice(&first.bytes);
        for f in &more {
            out.extend_from_slice(&f.bytes);
        }
        Bytes::from(out)
    }
}

pub async fn events(
    State(state): State<AppState>,
    ApiQuery(crate::api::NoParams {}): ApiQuery<crate::api::NoParams>,
) -> Result<Response, ApiError> {
    // Subscribe before anything else: frames published from here on reach this client,
    // and the snapshots it loads after `hello` carry the seq to resume from.
    let rx = state.hub().subscribe();
    let closed = state.hub().closed();
    let mut clock = interval(CLOCK_EVERY);
    clock.set_missed_tick_behavior(MissedTickBehavior::Delay);
    // The first tick is immediate: `hello` already tells the clock.
    clock.reset();
    let hello = clock_event(&state, event::HELLO);
    let stream = FeedStream {
        state,
        rx,
        closed,
        clock,
        _subscriber: Subscriber::new(),
    };
    let body = futures_util::stream::unfold((Some(hello), stream), |(first, mut s)| async move {
        let bytes = match first {
            Some(hello) => hello,
            None => s.next().await?,
        };
        Some((Ok::<_, Infallible>(bytes), (None, s)))
    });
    Ok((
        [
            (header::CONTENT_TYPE, "text/event-stream"),
            (header::CACHE_CONTROL, "no-cache"),
            // Tell buffering proxies (nginx) to pass events on at once.
            (header::HeaderName::from_static("x-accel-buffering"), "no"),
        ],
        Body::from_stream(body),
    )
        .into_response())
}
