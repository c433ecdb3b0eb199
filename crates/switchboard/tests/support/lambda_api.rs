//! A FAKE of the AWS Lambda Runtime API (no local Lambda runs here): the small HTTP
//! protocol a custom runtime speaks, served so a test can run `switchboard lambda ...` as
//! Lambda would. Faithful to the published protocol
//! (docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html):
//!
//! - `GET /2018-06-01/runtime/invocation/next` blocks until an event is queued, then
//!   answers 200 with the event as the body and the headers `Lambda-Runtime-Aws-Request-Id`,
//!   `Lambda-Runtime-Deadline-Ms` (epoch milliseconds), `Lambda-Runtime-Invoked-Function-Arn`
//!   and `Lambda-Runtime-Trace-Id`;
//! - `POST /2018-06-01/runtime/invocation/{id}/response` and `.../{id}/error` answer 202
//!   `{"status":"OK"}` (400 for an unknown request id, as Lambda does);
//! - `POST /2018-06-01/runtime/init/error` answers 202.

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::Router;
use tokio::sync::Notify;

pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:switchboard";

/// What the function answered to one invocation.
#[derive(Debug, Clone)]
pub enum Answer {
    Response(serde_json::Value),
    /// The error body (`errorType`, `errorMessage`) and the error-type header.
    Error(serde_json::Value, Option<String>),
}

#[derive(Default)]
struct Inner {
    queue: VecDeque<(String, Vec<u8>, u64)>,
    in_flight: HashMap<String, ()>,
    answers: HashMap<String, Answer>,
    init_error: Option<serde_json::Value>,
    /// When /next was first asked for (the end of the cold start).
    first_next: Option<Instant>,
    next_id: u64,
}

#[derive(Clone, Default)]
struct Shared {
    inner: Arc<Mutex<Inner>>,
    queued: Arc<Notify>,
    answered: Arc<Notify>,
}

/// The fake, served on a thread of its own.
pub struct FakeRuntimeApi {
    pub addr: SocketAddr,
    shared: Shared,
}

impl FakeRuntimeApi {
    pub fn start() -> Self {
        let shared = Shared::default();
        let app = Router::new()
            .route("/2018-06-01/runtime/invocation/next", get(next))
            .route(
                "/2018-06-01/runtime/invocation/{id}/response",
                post(response),
            )
            .route("/2018-06-01/runtime/invocation/{id}/error", post(error))
            .route("/2018-06-01/runtime/init/error", post(init_error))
            .with_state(shared.clone());
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        super::receiver::serve_in_thread(listener, app);
        FakeRuntimeApi { addr, shared }
    }

    /// The value of `AWS_LAMBDA_RUNTIME_API`.
    pub fn host(&self) -> String {
        self.addr.to_string()
    }

    /// Queues an event with `timeout` to run; returns its request id.
    pub fn queue(&self, event: &[u8], timeout: Duration) -> String {
        let mut inner = self.shared.inner.lock().unwrap();
        inner.next_id += 1;
        let id = format!("req-{:04}", inner.next_id);
        let deadline = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap()
            + timeout;
        inner
            .queue
            .push_back((id.clone(), event.to_vec(), deadline.as_millis() as u64));
        drop(inner);
        self.shared.queued.notify_waiters();
        self.shared.queued.notify_one();
        id
    }

    /// Queues an event and waits (at most `limit`) for the function's answer.
    pub fn invoke(&self, event: &[u8], limit: Duration) -> Answer {
        let id = self.queue(event, Duration::from_secs(60));
        self.wait(&id, limit)
    }

    pub fn wait(&self, id: &str, limit: Duration) -> Answer {
        let start = Instant::now();
        loop {
            if let Some(a) = self.shared.inner.lock().unwrap().answers.get(id) {
                return a.clone();
            }
            assert!(start.elapsed() < limit, "no answer to {id} in {limit:?}");
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Waits for a POST to /runtime/init/error.
    pub fn wait_init_error(&self, limit: Duration) -> serde_json::Value {
        let start = Instant::now();
        loop {
            if let Some(e) = &self.shared.inner.lock().unwrap().init_error {
                return e.clone();
            }
            assert!(start.elapsed() < limit, "no init error in {limit:?}");
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// When the function first asked for an event, if it has.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.inner.lock().unwrap().first_next
    }

    /// Waits until the function asks for its first event; returns when that was.
    pub fn wait_first_next(&self, limit: Duration) -> Instant {
        let start = Instant::now();
        loop {
            if let Some(at) = self.first_next() {
                return at;
            }
            assert!(
                start.elapsed() < limit,
                "the function never asked for an event"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

async fn next(State(s): State<Shared>) -> Response {
    loop {
        let notified = s.queued.notified();
        {
            let mut inner = s.inner.lock().unwrap();
            inner.first_next.get_or_insert_with(Instant::now);
            if let Some((id, body, deadline)) = inner.queue.pop_front() {
                inner.in_flight.insert(id.clone(), ());
                return (
                    StatusCode::OK,
                    [
                        ("Lambda-Runtime-Aws-Request-Id", id.clone()),
                        ("Lambda-Runtime-Deadline-Ms", deadline.to_string()),
                        (
                            "Lambda-Runtime-Invoked-Function-Arn",
                            FUNCTION_ARN.to_owned(),
                        ),
                        (
                            "Lambda-Runtime-Trace-Id",
                            format!("Root=1-00000000-{id};Sampled=0"),
                        ),
                        ("Content-Type", "application/json".to_owned()),
                    ],
                    body,
                )
                    .into_response();
            }
        }
        notified.await;
    }
}

fn accept(s: &Shared, id: &str, answer: Answer) -> Response {
    let mut inner = s.inner.lock().unwrap();
    if inner.in_flight.remove(id).is_none() {
        return (
            StatusCode::BAD_REQUEST,
            r#"{"errorMessage":"Invalid request ID","errorType":"InvalidRequestID"}"#,
        )
            .into_response();
    }
    inner.answers.insert(id.to_owned(), answer);
    drop(inner);
    s.answered.notify_waiters();
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}

async fn response(State(s): State<Shared>, Path(id): Path<String>, body: Bytes) -> Response {
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    accept(&s, &id, Answer::Response(value))
}

async fn error(
    State(s): State<Shared>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    let kind = headers
        .get("Lambda-Runtime-Function-Error-Type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    accept(&s, &id, Answer::Error(value, kind))
}

async fn init_error(State(s): State<Shared>, body: Bytes) -> Response {
    let value = serde_json::from_slice(&body).unwrap_or(serde_json::Value::Null);
    s.inner.lock().unwrap().init_error = Some(value);
    (StatusCode::ACCEPTED, r#"{"status":"OK"}"#).into_response()
}
