//! The service `switchboard run` runs: sources, the pipeline thread, delivery workers and
//! the HTTP listener, wired from one config (see [`crate::config`]).
//!
//! ```text
//! kinesis ──┐                                   ┌─ commit ≈1/s ─▶ store (SQLite | PostgreSQL)
//! sqs ──────┤ Delivery  ┌──────────────────┐    │   engine changes + routed items (outbox)
//! files ────┼──────────▶│ bounded channel  ├──▶ pipeline thread ─┼─ then acknowledgements ─▶ sources
//! firehose ─┤ (HTTP)    └──────────────────┘    └─ publish ─▶ Hub ─▶ dashboard feed
//! eventbridge┘
//!                 outbox ──▶ delivery workers (one per sink) ──▶ S3, OpenSearch, webhooks...
//!                                                   └─ failures ─▶ dead letters
//! ```
//!
//! Start-up: the config is loaded and checked whole (nothing starts if any problem is
//! found), sinks and lookups built, the store opened and the engine restored from it; with
//! `[connect]`, the instance's names are listed and every agent's current state loaded
//! (see [`crate::connect`]); then the pipeline thread starts (and applies those states
//! first), then the delivery workers, the sources and the HTTP listener. A
//! source that fails stops the process with its error; the `files` source ending is normal.
//!
//! Shutdown, on SIGINT or SIGTERM (a second signal exits at once): the sources are told
//! to stop and given `pipeline.shutdown_timeout_secs` to finish, while the pipeline goes
//! on committing and acknowledging (a Kinesis shard checkpoints and hands its lease over,
//! an HTTP request in flight gets its answer); then the HTTP listener stops, the pipeline
//! makes its last commit and fires the last acknowledgements, the delivery workers finish
//! the batch in hand, and the process exits. What is still in the outbox waits there.

use std::str::FromStr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use axum::Router;
use switchboard_io::sources::{kinesis, sqs};
use switchboard_io::SourceContext;
use switchboard_server::{AppState, Clock, Hub, ServerOptions};
use switchboard_store::StoreUrl;
use tokio::sync::watch;
use tokio::task::JoinSet;

use crate::config::{check, Config, SourceConfig};
use crate::deliver::{self, DeliveryStats};
use crate::http;
use crate::ingest;
use crate::outputs::{open_store, Outputs};
use crate::pipeline::Pipeline;

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    /// A source failed (the process exits with status 1).
    pub failed: bool,
    pub ingest: ingest::Summary,
    /// What the delivery workers did.
    pub delivery: DeliveryStats,
}

/// Runs the service described by `config` until a signal, or until a source fails.
pub fn serve(config: &Config) -> anyhow::Result<Outcome> {
    let url = StoreUrl::from_str(&config.store.url).context("store.url")?;
    let worker = config.worker().to_owned();
    let store = url
        .open_as(&worker)
        .with_context(|| format!("cannot open store {url}"))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .thread_name("switchboard-io")
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let outputs = runtime.block_on(Outputs::build(config))?;
    let mut pipeline =
        Pipeline::open(store, config.engine.clone())?.with_rules(outputs.rules.clone());
    pipeline.set_retention(config.store.retention);
    let saved_positions = pipeline.positions().clone();
    tracing::info!(store = %url, worker, "store opened, engine restored");
    #[cfg(feature = "connect")]
    let connect = connect_startup(config, &outputs, &pipeline, &runtime);
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let wake = Arc::clone(&wake);
        pipeline.on_routed(Box::new(move || wake.notify_waiters()));
    }

    let app = if config.server.enabled {
        let auth = check::server_auth(&config.server)
            .map_err(|(key, message)| anyhow::anyhow!("{key}: {message}"))?;
        let reader = url
            .open_as(&worker)
            .with_context(|| format!("cannot open store {url} for reading"))?;
        let hub = Hub::default();
        let options = ServerOptions {
            auth,
            mask_phone_numbers: config.server.mask_phone_numbers,
        };
        let state = AppState::new(pipeline.engine(), hub.clone(), options)
            .with_store(reader)
            .with_clock(Clock::wall());
        pipeline.on_changes(Box::new(move |engine, changes| {
            hub.publish(engine, changes);
        }));
        Some(state)
    } else {
        None
    };

    let (deliveries, receiver) =
        switchboard_io::delivery::channel(config.pipeline.channel_capacity);
    let (shutdown, shutdown_rx) = watch::channel(false);
    let ctx = SourceContext::new(deliveries, shutdown_rx);
    let stop = Arc::new(AtomicBool::new(false));
    let live_clock = config
        .sources
        .iter()
        .any(|s| !matches!(s, SourceConfig::Files(_)));
    let settings = ingest::Settings {
        commit_interval: Duration::from_millis(config.pipeline.commit_interval_ms),
        max_batch_records: config.pipeline.max_batch_records,
        live_clock,
        commit_when_idle: true,
        outbox_capacity: config.outbox.capacity,
        backpressure_sinks: outputs.sink_names(),
    };
    let ingest = ingest::Ingest::new(pipeline, receiver, settings, Arc::clone(&stop))?;
    let ingest = std::thread::Builder::new()
        .name("switchboard-pipeline".into())
        .spawn(move || ingest.run())
        .context("cannot start the pipeline thread")?;

    // The agents' current states go through the pipeline before any source starts.
    #[cfg(feature = "connect")]
    let extra = match connect {
        Some((api, c, startup, engine)) => {
            runtime.block_on(crate::connect::seed(&ctx.deliveries, startup.events))?;
            let task = crate::connect::recheck(
                api,
                c,
                startup.names,
                engine,
                ctx.deliveries.clone(),
                ctx.shutdown.clone(),
            );
            Some(Box::pin(task) as Task)
        }
        None => None,
    };
    #[cfg(not(feature = "connect"))]
    let extra: Option<Task> = None;

    let (workers_stop, workers_stop_rx) = watch::channel(false);
    let (mut workers, delivery) = {
        let _entered = runtime.enter();
        let (set, stats) = deliver::spawn(outputs.delivery(config, &url, wake), workers_stop_rx);
        let monitor = deliver::monitor(
            open_store(&url, config.worker()),
            outputs.sink_names(),
            workers_stop.subscribe(),
        );
        let mut set = set;
        set.spawn(monitor);
        (set, stats)
    };
    let failed = runtime.block_on(supervise(
        config,
        app,
        ctx,
        shutdown,
        saved_positions,
        extra,
    ));
    // Every source and the listener are done (or given up on): the pipeline drains what
    // is left, commits and acknowledges.
    stop.store(true, Ordering::Release);
    let summary = match ingest.join() {
        Ok(result) => result?,
        Err(_) => bail!("the pipeline thread panicked"),
    };
    // The last commit is in: let the workers finish what they hold, then stop them.
    let _ = workers_stop.send(true);
    runtime.block_on(async {
        let grace = Duration::from_secs(config.pipeline.shutdown_timeout_secs);
        if tokio::time::timeout(grace, async { while workers.join_next().await.is_some() {} })
            .await
            .is_err()
        {
            tracing::warn!("delivery workers did not finish in time; their claims expire and the items are delivered later");
            workers.abort_all();
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(1));
    let failed = failed?;
    let delivery = *delivery.lock().unwrap_or_else(|e| e.into_inner());
    tracing::info!(failed, "stopped");
    Ok(Outcome {
        failed,
        ingest: summary,
        delivery,
    })
}

/// A task that runs beside the sources until shutdown (the Connect re-checks).
type Task = std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<()>> + Send>>;

/// `[connect]` at start-up: the names and the agents' states, loaded before the pipeline
/// thread starts (a failure is logged and the run goes on without them).
#[cfg(feature = "connect")]
fn connect_startup(
    config: &Config,
    outputs: &Outputs,
    pipeline: &Pipeline,
    runtime: &tokio::runtime::Runtime,
) -> Option<(
    switchboard_io::aws::connect::ConnectApi,
    switchboard_io::aws::connect::ConnectConfig,
    crate::connect::Startup,
    Arc<std::sync::Mutex<switchboard_engine::Engine>>,
)> {
    let (c, api) = (config.connect.as_ref()?, outputs.connect.as_ref()?);
    let engine = pipeline.engine();
    let startup = match runtime.block_on(crate::connect::startup(api, c, &engine)) {
        Ok(s) => {
            tracing::info!(
                instance = api.instance(),
                users = s.users,
                logged_in = s.reported,
                "Connect API: names listed, agents' states loaded"
            );
            s
        }
        Err(e) => {
            tracing::error!(
                error = %e,
                "cannot load the agents' states from the Connect API: starting without them \
                 (check [connect] instance_id, region and the IAM actions in the README)"
            );
            crate::connect::Startup::default()
        }
    };
    Some((api.clone(), c.clone(), startup, engine))
}

/// Starts the sources and the listener, waits for a signal or a failing source, then
/// stops them in order. `Ok(true)` if a source failed.
async fn supervise(
    config: &Config,
    app: Option<AppState>,
    ctx: SourceContext,
    shutdown: watch::Sender<bool>,
    saved: switchboard_store::Positions,
    extra: Option<Task>,
) -> anyhow::Result<bool> {
    // Handled from here on: a signal during start-up stops the run cleanly too.
    let mut signals = Signals::new()?;
    let mut tasks: JoinSet<(String, anyhow::Result<()>)> = JoinSet::new();
    let mut routes = Router::new();
    for (i, source) in config.sources.iter().enumerate() {
        let name = format!("sources[{i}] {}", source.describe());
        let ctx = ctx.clone();
        match source.clone() {
            SourceConfig::Kinesis(k) => {
                tasks.spawn(async move { (name, kinesis::run(k, ctx).await.map_err(Into::into)) });
            }
            SourceConfig::Sqs(s) => {
                tasks.spawn(async move { (name, sqs::run(s, ctx).await.map_err(Into::into)) });
            }
            SourceConfig::FirehoseHttp(f) => {
                routes = routes.merge(f.router(ctx).with_context(|| name.clone())?);
            }
            SourceConfig::EventbridgeHttp(e) => {
                routes = routes.merge(e.router(ctx).with_context(|| name.clone())?);
            }
            SourceConfig::Files(f) => {
                let saved = saved.clone();
                tasks.spawn_blocking(move || {
                    let result = crate::files::run(&f, &saved, &ctx).map(|s| {
                        tracing::info!(
                            files = s.files,
                            already_done = s.already_done,
                            items = s.items,
                            "files source finished"
                        );
                    });
                    (name, result)
                });
            }
        }
        tracing::info!(source = %source.describe(), "source started");
    }
    if let Some(task) = extra {
        tasks.spawn(async move { ("connect re-checks".to_owned(), task.await) });
    }
    // Only the sources hold the channel now: when they are all gone, it closes.
    drop(ctx);

    let has_routes = config.sources.iter().any(|s| s.http_path().is_some());
    let http = if app.is_some() || has_routes {
        let http = http::start(config.server.listen, app, routes).await?;
        tracing::info!(addr = %http.addr, "listening on http://{}/", http.addr);
        Some(http)
    } else {
        None
    };

    let mut failed = false;
    loop {
        tokio::select! {
            signal = signals.next() => {
                tracing::info!(signal, "stopping");
                break;
            }
            Some(joined) = tasks.join_next() => match joined {
                Ok((_, Ok(()))) => {}
                Ok((name, Err(e))) => {
                    tracing::error!(source = %name, error = %format!("{e:#}"), "source failed");
                    failed = true;
                    break;
                }
                Err(e) => {
                    tracing::error!(error = %e, "a source task panicked");
                    failed = true;
                    break;
                }
            },
        }
    }

    let _ = shutdown.send(true);
    // A second signal does not wait for anyone.
    tokio::spawn(async move {
        let signal = signals.next().await;
        tracing::warn!(signal, "second signal: exiting without waiting");
        std::process::exit(130);
    });
    let grace = Duration::from_secs(config.pipeline.shutdown_timeout_secs);
    let drained = tokio::time::timeout(grace, async {
        while let Some(joined) = tasks.join_next().await {
            if let Ok((name, Err(e))) = joined {
                tracing::warn!(source = %name, error = %format!("{e:#}"), "source stopped with an error");
            }
        }
    })
    .await;
    if drained.is_err() {
        tracing::warn!(
            left = tasks.len(),
            "sources did not finish within pipeline.shutdown_timeout_secs"
        );
        tasks.abort_all();
    }
    if let Some(http) = http {
        if let Err(e) = http.shutdown().await {
            tracing::warn!(error = %format!("{e:#}"), "HTTP server");
        }
    }
    Ok(failed)
}

/// SIGINT and SIGTERM.
struct Signals {
    interrupt: tokio::signal::unix::Signal,
    terminate: tokio::signal::unix::Signal,
}

impl Signals {
    fn new() -> anyhow::Result<Self> {
        use tokio::signal::unix::{signal, SignalKind};
        Ok(Signals {
            interrupt: signal(SignalKind::interrupt()).context("cannot handle SIGINT")?,
            terminate: signal(SignalKind::terminate()).context("cannot handle SIGTERM")?,
        })
    }

    async fn next(&mut self) -> &'static str {
        tokio::select! {
            _ = self.interrupt.recv() => "SIGINT",
            _ = self.terminate.recv() => "SIGTERM",
        }
    }
}
