//! What the sink tests share: a real HTTP receiver on 127.0.0.1 (axum, port 0) that
//! answers its first calls as a test scripts (a 500, a 429 with `Retry-After`, a hang
//! past the client's timeout, a 400 with a body) and then 200, recording every call (its
//! method, path, headers, body, when it arrived) and the most calls it had in flight at
//! once; items to deliver; temporary folders.

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::Router;
use switchboard_io::sinks::{Item, ItemKind};

/// How the receiver answers one call.
#[derive(Debug, Clone)]
pub enum Answer {
    /// This status, no body.
    Status(u16),
    /// This status with `Retry-After: VALUE`.
    RetryAfter(u16, &'static str),
    /// This status with this body.
    Body(u16, &'static str),
    /// A redirect elsewhere.
    Redirect(&'static str),
    /// Nothing for this long, then 200 (the client should have given up).
    Hang(Duration),
}

/// One call the receiver saw.
#[derive(Debug, Clone)]
pub struct Call {
    pub method: String,
    pub path: String,
    pub headers: HeaderMap,
    pub body: Bytes,
    /// When it arrived.
    pub at: Instant,
    /// The status it got (0 while unanswered, or when the client gave up first).
    pub status: u16,
}

impl Call {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| {
            panic!(
                "body is not JSON ({e}): {:?}",
                String::from_utf8_lossy(&self.body)
            )
        })
    }
}

#[derive(Default)]
struct Seen {
    script: VecDeque<Answer>,
    calls: Vec<Call>,
    in_flight: usize,
    max_in_flight: usize,
    /// How long each successful answer takes.
    delay: Duration,
}

/// A receiver serving on a task of the test's runtime.
pub struct Receiver {
    pub addr: SocketAddr,
    seen: Arc<Mutex<Seen>>,
}

impl Receiver {
    pub async fn start() -> Receiver {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = Router::new()
            .fallback(receive)
            .with_state(Arc::clone(&seen));
        tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Receiver { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Answers the next calls like this, then 200 again.
    pub fn answer_first(&self, answers: impl IntoIterator<Item = Answer>) {
        self.seen.lock().unwrap().script.extend(answers);
    }

    /// Makes each successful answer take `delay`.
    pub fn slow(&self, delay: Duration) {
        self.seen.lock().unwrap().delay = delay;
    }

    pub fn calls(&self) -> Vec<Call> {
        self.seen.lock().unwrap().calls.clone()
    }

    pub fn max_in_flight(&self) -> usize {
        self.seen.lock().unwrap().max_in_flight
    }
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    // Recorded on arrival: a call the client gives up on may never be answered (the
    // server drops its handler when the connection closes).
    let (index, answer, delay) = {
        let mut s = seen.lock().unwrap();
        s.in_flight += 1;
        s.max_in_flight = s.max_in_flight.max(s.in_flight);
        s.calls.push(Call {
            method: method.to_string(),
            path: uri.path().to_owned(),
            headers,
            body,
            at: Instant::now(),
            status: 0,
        });
        (s.calls.len() - 1, s.script.pop_front(), s.delay)
    };
    let _leave = InFlight(Arc::clone(&seen));
    let (code, response) = match answer {
        None => {
            tokio::time::sleep(delay).await;
            (200, (StatusCode::OK, "ok").into_response())
        }
        Some(Answer::Status(code)) => (code, status(code).into_response()),
        Some(Answer::RetryAfter(code, after)) => (
            code,
            (
                status(code),
                [("retry-after", HeaderValue::from_static(after))],
            )
                .into_response(),
        ),
        Some(Answer::Body(code, text)) => (code, (status(code), text).into_response()),
        Some(Answer::Redirect(to)) => (
            302,
            (
                StatusCode::FOUND,
                [("location", HeaderValue::from_static(to))],
            )
                .into_response(),
        ),
        Some(Answer::Hang(d)) => {
            tokio::time::sleep(d).await;
            (200, (StatusCode::OK, "too late").into_response())
        }
    };
    seen.lock().unwrap().calls[index].status = code;
    response
}

/// Counts a call out of flight however its handler ends.
struct InFlight(Arc<Mutex<Seen>>);

impl Drop for InFlight {
    fn drop(&mut self) {
        let mut s = self.0.lock().unwrap_or_else(|e| e.into_inner());
        s.in_flight -= 1;
    }
}

fn status(code: u16) -> StatusCode {
    StatusCode::from_u16(code).unwrap()
}

/// An item of `kind` for sink `sink`, its key `key-ID`.
pub fn item(id: i64, kind: ItemKind, payload: &[u8]) -> Item {
    Item {
        id,
        rule: "rule-a".into(),
        sink: "sink-a".into(),
        key: format!("key-{id}"),
        kind,
        payload: Bytes::copy_from_slice(payload),
        event_ms: 1_700_000_000_000 + id,
        created_ms: 1_700_000_000_500 + id,
        attempts: 0,
    }
}

/// A fresh, empty folder under the system's temporary folder, removed when dropped.
pub struct TempDir(pub PathBuf);

impl TempDir {
    pub fn new(name: &str) -> TempDir {
        static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("sb-{name}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }

    pub fn path(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
