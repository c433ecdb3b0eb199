//! `replay`: files through the one pipeline into a store, resumably. It is the `files`
//! source feeding the pipeline thread, committing every `batch` items with the position
//! reached, so a replay killed at any point and started again ends with the same store as
//! one that never stopped: nothing applied twice, nothing skipped.
//!
//! With outputs (a config's rules and sinks, or just a dead-letter writer), the delivery
//! workers run alongside; at the end they get `drain` to deliver what was routed. What
//! they could not deliver by then stays in the outbox for `switchboard run`.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_engine::EngineConfig;
use switchboard_io::SourceContext;
use switchboard_model::decode::Format;
use switchboard_model::RecordKind;
use switchboard_store::StoreUrl;
use tokio::sync::watch;

use crate::config::FilesConfig;
use crate::deliver::{self, DeliveryStats, OutboxConfig};
use crate::ingest::{Ingest, Settings};
use crate::outputs::{open_store, Outputs};
use crate::pipeline::Pipeline;

/// How to replay.
#[derive(Clone)]
pub struct Options {
    pub format: Format,
    /// Items (records and bad records) per commit.
    pub batch: u64,
    /// Show a progress bar on stderr (only drawn when stderr is a terminal).
    pub progress: bool,
    pub engine: EngineConfig,
    /// The worker name the store is opened as.
    pub worker: String,
    /// Rules, sinks and lookups (the dead-letter writer among the sinks).
    pub outputs: Outputs,
    pub outbox: OutboxConfig,
    /// How long the delivery workers get at the end.
    pub drain: Duration,
    /// How long history is kept.
    pub retention: switchboard_store::Retention,
}

impl Options {
    pub fn new(format: Format, batch: u64) -> Self {
        Options {
            format,
            batch,
            progress: false,
            engine: EngineConfig::default(),
            worker: switchboard_store::postgres::DEFAULT_WORKER.to_owned(),
            outputs: Outputs::default(),
            outbox: OutboxConfig::default(),
            drain: Duration::from_secs(30),
            retention: Default::default(),
        }
    }
}

/// What a replay did.
#[derive(Debug, Clone, Default)]
pub struct Summary {
    /// Files read in this run.
    pub files: u64,
    /// Files skipped because an earlier run finished them.
    pub files_already_done: u64,
    /// Records applied in this run, by kind.
    pub records: BTreeMap<RecordKind, u64>,
    /// Items skipped because an earlier run applied them.
    pub resumed_past: u64,
    pub duplicates: u64,
    /// Agent events older than one already applied for the agent.
    pub stale: u64,
    pub bad: u64,
    pub transitions: u64,
    pub alerts: u64,
    /// Bytes read (compressed size for gzip files).
    pub bytes: u64,
    pub commits: u64,
    /// Time spent writing to the store (included in `elapsed`).
    pub commit_time: Duration,
    pub elapsed: Duration,
    pub delivery: DeliveryStats,
    /// Items left in the outbox for sinks with a worker when the drain ended.
    pub undelivered: u64,
}

impl Summary {
    pub fn record_count(&self) -> u64 {
        self.records.values().sum()
    }
}

/// Replays `inputs` (files or folders) into the store at `url`, resuming where it stopped.
pub fn replay(inputs: &[PathBuf], url: &StoreUrl, options: &Options) -> anyhow::Result<Summary> {
    let started = Instant::now();
    for input in inputs {
        if input.as_os_str() == "-" {
            bail!("replay reads files (standard input could not be resumed)");
        }
        if !input.exists() {
            bail!("cannot read {}: no such file or folder", input.display());
        }
    }
    let store = url
        .open_as(&options.worker)
        .with_context(|| format!("cannot open store {url}"))?;
    let mut pipeline =
        Pipeline::open(store, options.engine.clone())?.with_rules(options.outputs.rules.clone());
    pipeline.set_retention(options.retention);
    let saved = pipeline.positions().clone();
    let stop = Arc::new(AtomicBool::new(false));
    let (tx, rx) = switchboard_io::delivery::channel(4);
    let settings = Settings {
        commit_interval: Duration::from_secs(3600),
        max_batch_records: options.batch.max(1) as usize,
        live_clock: false,
        commit_when_idle: false,
        outbox_capacity: options.outbox.capacity,
        backpressure_sinks: options.outputs.sink_names(),
    };
    // Counted from the changes the pipeline publishes.
    let counts = Arc::new(std::sync::Mutex::new((0u64, 0u64)));
    let mut pipeline = pipeline;
    {
        let counts = Arc::clone(&counts);
        pipeline.on_changes(Box::new(move |_, changes| {
            if let Ok(mut c) = counts.lock() {
                c.0 += changes.transitions.len() as u64;
                c.1 += changes.alerts.len() as u64;
            }
        }));
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let wake = Arc::clone(&wake);
        pipeline.on_routed(Box::new(move || wake.notify_waiters()));
    }
    let delivery = deliver::Delivery {
        rules: Arc::new(options.outputs.rules.clone()),
        sinks: options.outputs.sinks.clone(),
        lookups: Arc::new(options.outputs.lookups.clone()),
        config: options.outbox.clone(),
        worker: options.worker.clone(),
        open_store: open_store(url, &options.worker),
        wake,
        flush: Default::default(),
    };
    // Workers run while the files are read (the outbox does not pile up), and get
    // `drain` at the end.
    let (workers_stop, workers_stop_rx) = watch::channel(false);
    let (mut workers, during) = {
        let _entered = runtime.enter();
        deliver::spawn(delivery.clone(), workers_stop_rx)
    };

    let ingest = Ingest::new(pipeline, rx, settings, Arc::clone(&stop))?;
    let thread = std::thread::Builder::new()
        .name("switchboard-pipeline".into())
        .spawn(move || ingest.run())
        .context("cannot start the pipeline thread")?;

    let (_shutdown, shutdown_rx) = watch::channel(false);
    let ctx = SourceContext::new(tx, shutdown_rx);
    let files = FilesConfig {
        paths: inputs.to_vec(),
        format: options.format.to_string(),
        batch: 1000.min(options.batch.max(1) as usize),
    };
    let read = super::run_with_progress(&files, &saved, &ctx, options.progress);
    drop(ctx);
    let ingest = match thread.join() {
        Ok(result) => result?,
        Err(_) => bail!("the pipeline thread panicked"),
    };
    let read = read?;

    let _ = workers_stop.send(true);
    runtime.block_on(async { while workers.join_next().await.is_some() {} });
    let (after, undelivered) = deliver::run_until_drained(&runtime, delivery, options.drain)?;
    runtime.shutdown_timeout(Duration::from_secs(1));
    let during = *during.lock().unwrap_or_else(|e| e.into_inner());
    let delivery = DeliveryStats {
        delivered: during.delivered + after.delivered,
        retried: during.retried + after.retried,
        dead_lettered: during.dead_lettered + after.dead_lettered,
        dropped: during.dropped + after.dropped,
    };

    let (transitions, alerts) = *counts.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Summary {
        files: read.files,
        files_already_done: read.already_done,
        records: ingest.by_kind,
        resumed_past: read.resumed_past,
        duplicates: ingest.duplicates,
        stale: ingest.stale,
        bad: ingest.bad,
        transitions,
        alerts,
        bytes: read.bytes,
        commits: ingest.commits,
        commit_time: ingest.commit_time,
        elapsed: started.elapsed(),
        delivery,
        undelivered,
    })
}
