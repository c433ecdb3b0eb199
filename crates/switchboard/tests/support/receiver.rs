//! A real HTTP receiver on 127.0.0.1 for sink tests: a CRM or chat webhook as a sink meets
//! it. It applies each `Idempotency-Key` once (as a careful receiver does), records every
//! call, can fail its first calls, and can be started late on a port chosen early (a sink
//! that is down, then comes back).

use std::collections::BTreeMap;
use std::net::{SocketAddr, TcpListener};
use std::sync::{Arc, Mutex};

use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use axum::Router;

/// What the receiver saw.
#[derive(Debug, Default)]
pub struct Seen {
    /// Every call: (path, idempotency key, status answered).
    pub calls: Vec<(String, Option<String>, u16)>,
    /// The body of each key, as first applied.
    pub applied: BTreeMap<String, Vec<u8>>,
    /// Calls that repeated an applied key (acknowledged, not applied again).
    pub repeats: u64,
    /// Statuses to answer the next calls with before succeeding.
    pub fail_first: Vec<u16>,
}

/// A receiver listening on its own thread.
pub struct Receiver {
    pub addr: SocketAddr,
    pub seen: Arc<Mutex<Seen>>,
}

/// A free port on 127.0.0.1 (nothing listens on it until [`Receiver::start_on`]).
pub fn free_port() -> SocketAddr {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap()
}

/// Serves `app` on `listener` from a thread of its own, for the rest of the test.
pub fn serve_in_thread(listener: TcpListener, app: Router) {
    listener.set_nonblocking(true).unwrap();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
}

impl Receiver {
    pub fn start() -> Self {
        Self::start_on(free_port())
    }

    pub fn start_on(addr: SocketAddr) -> Self {
        let seen = Arc::new(Mutex::new(Seen::default()));
        let app = Router::new()
            .route("/{*path}", post(receive))
            .with_state(Arc::clone(&seen));
        serve_in_thread(TcpListener::bind(addr).unwrap(), app);
        Receiver { addr, seen }
    }

    pub fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    pub fn applied(&self) -> BTreeMap<String, Vec<u8>> {
        self.seen.lock().unwrap().applied.clone()
    }
}

async fn receive(
    State(seen): State<Arc<Mutex<Seen>>>,
    uri: axum::http::Uri,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> impl IntoResponse {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let mut seen = seen.lock().unwrap();
    let path = uri.path().to_owned();
    if !seen.fail_first.is_empty() {
        let status = seen.fail_first.remove(0);
        seen.calls.push((path, key, status));
        return StatusCode::from_u16(status).unwrap().into_response();
    }
    seen.calls.push((path, key.clone(), 200));
    match key {
        Some(key) if seen.applied.contains_key(&key) => seen.repeats += 1,
        Some(key) => {
            seen.applied.insert(key, body.to_vec());
        }
        None => {
            let n = seen.applied.len();
            seen.applied.insert(format!("no-key-{n}"), body.to_vec());
        }
    }
    (StatusCode::OK, "ok").into_response()
}
