//! switchboard's HTTP side: the JSON API, the live feed, the dashboard and `/metrics`.
//!
//! ```text
//! pipeline ──apply──▶ Engine (Arc<Mutex>) ◀──read── /api/agents, /api/queues, /api/alerts?active
//!     │                                      
//!     ├──publish(&engine, &changes)──▶ Hub ──broadcast──▶ /api/events (SSE) ──▶ dashboard
//!     └──commit ≈1/s──▶ Store ◀──read (2nd handle, blocking pool)── /api/contacts, /api/metrics,
//!                                                                   /api/outbox
//! ```
//!
//! - [`router`] builds the whole app from an [`AppState`]; tests call it in-process;
//!   [`serve`] runs it with graceful shutdown, [`ServerHandle`] on its own thread for
//!   synchronous callers (the `switchboard` commands);
//! - [`hub`]: the feed's broadcaster and the message types; [`feed`]: the SSE route;
//! - [`api`]: the JSON routes; [`views`]: the shapes they answer with; [`outbox`]: what
//!   the durable outbox holds per sink (the dashboard's Delivery card);
//! - [`openapi`]: the OpenAPI document and the validator tests check answers with;
//! - [`auth`]: bearer or basic auth, required off loopback; [`mask`]: phone masking;
//! - [`telemetry`]: Prometheus metric names and recording helpers;
//! - [`assets`]: the embedded dashboard; [`client`]: a minimal HTTP and SSE client for
//!   tests and the latency benchmark.

pub mod api;
pub mod assets;
pub mod auth;
pub mod client;
pub mod error;
pub mod feed;
pub mod hub;
pub use switchboard_telemetry::mask;
pub mod openapi;
pub mod outbox;
mod state;
pub mod telemetry;
pub mod views;

use std::future::Future;
use std::net::SocketAddr;
use std::thread::JoinHandle;

use axum::middleware;
use axum::routing::get;
use axum::Router;
use tokio::sync::oneshot;

pub use auth::{Auth, AuthError};
pub use error::ApiError;
pub use hub::Hub;
pub use state::{AppState, Clock, ServerOptions};

/// The whole app: API, feed, dashboard, metrics and probes, behind the auth layer.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/agents", get(api::agents))
        .route("/api/queues", get(api::queues))
        .route("/api/contacts", get(api::contacts))
        .route("/api/contacts/{id}", get(api::contact))
        .route("/api/metrics", get(api::metrics))
        .route("/api/alerts", get(api::alerts))
        .route("/api/outbox", get(outbox::outbox))
        .route("/api/events", get(feed::events))
        .route("/api/openapi.json", get(openapi::document))
        .route("/metrics", get(api::prometheus))
        .route("/healthz", get(api::healthz))
        .route("/readyz", get(api::readyz))
        .route("/", get(assets::index))
        .route("/assets/{*path}", get(assets::asset))
        .fallback(api::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), auth::require))
        .layer(middleware::from_fn(count_refused))
        .with_state(state)
}

/// Counts `router`'s answers with an error status (see [`count_refused`]): for routes
/// served beside [`router`]'s, such as the HTTP sources' endpoints.
pub fn counting_refused<S: Clone + Send + Sync + 'static>(router: Router<S>) -> Router<S> {
    router.layer(middleware::from_fn(count_refused))
}

/// Counts every answer with an error status (401, 403, 413, 503...) in
/// `switchboard_http_refused_total{status}` and `switchboard_errors_total{kind="http"}`,
/// whichever layer or handler gave it.
async fn count_refused(
    request: axum::extract::Request,
    next: middleware::Next,
) -> axum::response::Response {
    let response = next.run(request).await;
    let status = response.status();
    if status.is_client_error() || status.is_server_error() {
        telemetry::input::http_refused(status.as_u16());
    }
    response
}

/// Serves the app on `listener` until `shutdown` completes; then ends the feed streams
/// and waits for requests in flight.
pub async fn serve(
    listener: tokio::net::TcpListener,
    state: AppState,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> std::io::Result<()> {
    let hub = state.hub().clone();
    axum::serve(listener, router(state))
        .with_graceful_shutdown(async move {
            shutdown.await;
            hub.close();
        })
        .await
}

/// Why the server did not start.
#[derive(Debug, thiserror::Error)]
pub enum ServerError {
    #[error(transparent)]
    Auth(#[from] AuthError),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
    #[error("cannot start the HTTP runtime: {0}")]
    Runtime(std::io::Error),
}

/// The server running on a thread of its own (with its own small tokio runtime), for
/// callers that are not async. Dropping it shuts the server down and waits for it.
pub struct ServerHandle {
    addr: SocketAddr,
    shutdown: Option<oneshot::Sender<()>>,
    thread: Option<JoinHandle<std::io::Result<()>>>,
}

impl ServerHandle {
    /// Binds `addr` (port 0 picks a free port) and starts serving. Refuses a non-loopback
    /// address without authentication.
    pub fn start(addr: SocketAddr, state: AppState) -> Result<Self, ServerError> {
        auth::check_bind(addr, &state.options().auth)?;
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .thread_name("switchboard-http")
            .enable_all()
            .build()
            .map_err(ServerError::Runtime)?;
        let bind_err = |source| ServerError::Bind { addr, source };
        let std_listener = std::net::TcpListener::bind(addr).map_err(bind_err)?;
        std_listener.set_nonblocking(true).map_err(bind_err)?;
        let local = std_listener.local_addr().map_err(bind_err)?;
        let listener = {
            let _entered = runtime.enter();
            tokio::net::TcpListener::from_std(std_listener).map_err(bind_err)?
        };
        let (tx, rx) = oneshot::channel::<()>();
        let thread = std::thread::Builder::new()
            .name("switchboard-http-main".into())
            .spawn(move || {
                runtime.block_on(serve(listener, state, async move {
                    // A dropped sender means the handle is gone: shut down too.
                    let _ = rx.await;
                }))
            })
            .map_err(ServerError::Runtime)?;
        Ok(ServerHandle {
            addr: local,
            shutdown: Some(tx),
            thread: Some(thread),
        })
    }

    /// The address the server listens on.
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR/`.
    pub fn url(&self) -> String {
        format!("http://{}/", self.addr)
    }

    /// Stops accepting, ends the feed streams, waits for requests in flight.
    pub fn shutdown(mut self) -> std::io::Result<()> {
        self.stop()
    }

    fn stop(&mut self) -> std::io::Result<()> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match self.thread.take() {
            Some(t) => t
                .join()
                .unwrap_or_else(|_| Err(std::io::Error::other("the HTTP server thread panicked"))),
            None => Ok(()),
        }
    }
}

impl Drop for ServerHandle {
    fn drop(&mut self) {
        if let Err(e) = self.stop() {
            tracing::error!(error = %e, "HTTP server stopped with an error");
        }
    }
}
