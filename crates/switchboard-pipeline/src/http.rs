//! The HTTP listener of `switchboard run`: the dashboard, API and `/metrics` (the
//! `switchboard-server` router, behind its own authentication) and, beside them, the HTTP
//! sources' endpoints at their configured paths (each checks its own key).

use std::net::SocketAddr;

use anyhow::Context;
use axum::Router;
use switchboard_server::auth::check_bind;
use switchboard_server::{AppState, Hub};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

/// A running listener.
pub struct Http {
    pub addr: SocketAddr,
    stop: oneshot::Sender<()>,
    task: JoinHandle<std::io::Result<()>>,
}

/// Binds `listen` and serves `sources` (the HTTP sources' routes) and, with `app`, the
/// dashboard and API.
pub async fn start(
    listen: SocketAddr,
    app: Option<AppState>,
    sources: Router,
) -> anyhow::Result<Http> {
    let hub: Option<Hub> = app.as_ref().map(|s| s.hub().clone());
    let router = match app {
        Some(state) => {
            check_bind(listen, &state.options().auth)?;
            // The sources' routes stay outside the dashboard's auth layer: Firehose and
            // EventBridge authenticate with their own keys.
            switchboard_server::router(state).merge(switchboard_server::counting_refused(sources))
        }
        None => switchboard_server::counting_refused(sources),
    };
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("cannot listen on {listen}"))?;
    let addr = listener
        .local_addr()
        .context("cannot read the bound address")?;
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
                // Ends the feed's streams, which would otherwise keep the shutdown waiting.
                if let Some(hub) = hub {
                    hub.close();
                }
            })
            .await
    });
    Ok(Http { addr, stop, task })
}

impl Http {
    /// Stops accepting connections and waits for the requests in flight (an HTTP source's
    /// request waits for its commit, so the pipeline must still be running).
    pub async fn shutdown(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.task
            .await
            .context("the HTTP server task failed")?
            .context("the HTTP server failed")
    }
}
