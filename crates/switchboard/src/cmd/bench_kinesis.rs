//! `switchboard bench kinesis`: Kinesis records per second one worker sustains against a
//! local Kinesis (kinesalite) and DynamoDB (dynalite), through the real source, decoder,
//! engine and SQLite store.
//!
//! Simulator records (agent events, contact events and contact records, with Connect's
//! partition keys) are put into a new stream first; then one worker (`switchboard-io`'s
//! Kinesis source with its lease table) reads them while a pipeline thread applies each
//! delivery, commits (as soon as the waiting deliveries are applied) and acknowledges,
//! which is when the worker checkpoints. The figure is the records applied per second,
//! from the first delivery to the last record stored. `--source-only` acknowledges
//! without applying, for the source's own ceiling.
//!
//! The servers come from `--kinesis-endpoint` and `--dynamodb-endpoint`, or are started
//! from `.tools/servers/node_modules` (where scripts/servers.sh installs them) and
//! stopped at the end. Build with `--release` for figures that mean anything; the local
//! server (one Node.js thread) is usually the limit, not switchboard.

use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_engine::EngineConfig;
use switchboard_io::delivery::{self, DeliveryReceiver};
use switchboard_io::sources::kinesis::producer::{
    local_clients, partition_key, LocalServer, Producer,
};
use switchboard_io::sources::kinesis::{self, KinesisConfig};
use switchboard_io::SourceContext;
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::SqliteStore;
use tempfile::TempDir;

use std::sync::atomic::AtomicBool;
use switchboard_pipeline::ingest::{Ingest, Settings};
use switchboard_pipeline::Pipeline;

#[derive(clap::Args)]
pub struct Args {
    /// Records put into the stream, then read.
    #[arg(long, default_value_t = 50_000)]
    records: usize,
    /// Shards of the stream (one worker reads them all).
    #[arg(long, default_value_t = 1)]
    shards: i32,
    /// Records per GetRecords (Kinesis returns at most 10 MB: about 2,800 of Connect's
    /// 3.5 KB records).
    #[arg(long, default_value_t = 2_000)]
    limit: u32,
    /// Agents of the simulated center the records come from.
    #[arg(long, default_value_t = 500)]
    agents: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Acknowledge deliveries without applying them: the source's own ceiling.
    #[arg(long)]
    source_only: bool,
    /// A running Kinesis (kinesalite, moto) instead of starting kinesalite.
    #[arg(long, value_name = "URL")]
    kinesis_endpoint: Option<String>,
    /// A running DynamoDB (dynalite, moto) instead of starting dynalite.
    #[arg(long, value_name = "URL")]
    dynamodb_endpoint: Option<String>,
    /// Where kinesalite and dynalite are installed, to start them.
    #[arg(
        long,
        default_value = ".tools/servers/node_modules",
        value_name = "DIR"
    )]
    tools: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.records == 0 || args.shards < 1 || !(1..=10_000).contains(&args.limit) {
        bail!("--records and --shards must be above 0, --limit 1 to 10000");
    }
    // Servers started here stop when these are dropped, at the end.
    let mut started = Vec::new();
    let mut server = |given: &Option<String>, module, options| -> anyhow::Result<String> {
        if let Some(url) = given {
            return Ok(url.clone());
        }
        let s = LocalServer::start(&args.tools, module, options)
            .with_context(|| format!("cannot start {module}: or pass its endpoint"))?;
        let url = s.url.clone();
        started.push(s);
        Ok(url)
    };
    let kinesis_url = server(
        &args.kinesis_endpoint,
        "kinesalite",
        r#"{"shardLimit": 1000}"#,
    )?;
    let dynamo_url = server(&args.dynamodb_endpoint, "dynalite", "{}")?;

    let needed = args.records;
    let mut sim = SimConfig::new(args.agents);
    sim.seed = args.seed;
    sim.duration_secs = 7 * 24 * 3600;
    let records: Vec<(String, Vec<u8>)> = Simulator::new(sim)
        .context("invalid simulator options")?
        .take(needed)
        .map(|e| {
            let key = partition_key(&e.record).to_string();
            serde_json::to_vec(&e.record).map(|data| (key, data))
        })
        .collect::<Result<_, _>>()?;
    if records.len() < needed {
        bail!(
            "the simulator gave {} records, fewer than the {needed} asked: use more --agents",
            records.len()
        );
    }
    let bytes: usize = records.iter().map(|(_, d)| d.len()).sum();

    let dir = TempDir::new()?;
    let store = SqliteStore::open(&dir.path().join("bench.db"))?;
    let pipeline = Pipeline::open(Box::new(store), EngineConfig::default())?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;

    let stream = format!("switchboard-bench-{}", std::process::id());
    let (kinesis_client, dynamo_client) =
        runtime.block_on(local_clients(&kinesis_url, &dynamo_url));
    let producer = Producer::new(kinesis_client.clone(), &stream);
    let put_started = Instant::now();
    runtime
        .block_on(async {
            producer.create(args.shards).await?;
            producer.put(&records).await
        })
        .with_context(|| format!("cannot fill stream {stream} at {kinesis_url}"))?;
    let put_secs = put_started.elapsed().as_secs_f64();
    println!(
        "stream {stream}: {} shard(s), {needed} records ({:.1} MB, {:.1} KB average) put in {put_secs:.1} s",
        args.shards,
        bytes as f64 / 1e6,
        bytes as f64 / needed as f64 / 1e3,
    );

    // The pipeline thread: applies, commits, acknowledges; notes when the last record is
    // stored.
    let (tx, rx) = delivery::channel(64);
    let stored = Arc::new(AtomicU64::new(0));
    let progress = Arc::clone(&stored);
    let source_only = args.source_only;
    let applier = std::thread::Builder::new()
        .name("bench-pipeline".into())
        .spawn(move || {
            if source_only {
                ack_loop(rx, needed as u64, &progress)
            } else {
                apply_loop(pipeline, rx, needed as u64, progress)
            }
        })?;

    let mut config = KinesisConfig::new(&stream, format!("{stream}-leases"));
    config.get_records_limit = args.limit;
    config.poll_interval_ms = 200;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let worker = runtime.spawn(kinesis::run_with_clients(
        kinesis_client,
        dynamo_client,
        config,
        SourceContext::new(tx, shutdown),
    ));

    // Wait for the last record to be stored (or the worker to fail).
    let deadline = Instant::now() + Duration::from_secs(600);
    while stored.load(Ordering::Acquire) < needed as u64 {
        if worker.is_finished() || Instant::now() > deadline {
            let _ = stop.send(true);
            let outcome = runtime.block_on(worker);
            bail!("the worker stopped before reading every record: {outcome:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stop.send(true);
    runtime
        .block_on(worker)
        .context("the worker task failed")?
        .context("the Kinesis source failed")?;
    runtime.block_on(producer.delete());
    drop(runtime);
    let report = applier
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))??;

    let secs = report.elapsed.as_secs_f64().max(1e-9);
    let what = if source_only {
        "acknowledged without applying"
    } else {
        "decoded, applied and stored in SQLite"
    };
    println!(
        "worker: {:.0} records/s ({:.1} MB/s) {what}: {} records in {secs:.2} s from the first delivery, \
         {} deliveries, {} commits, first delivery {:.2} s after the worker started",
        report.records as f64 / secs,
        bytes as f64 / 1e6 / secs,
        report.records,
        report.deliveries,
        report.commits,
        report.first_after.as_secs_f64(),
    );
    if !source_only {
        println!(
            "engine: {} applied, {} duplicates or stale, {} did not decode",
            report.applied, report.duplicates, report.undecoded
        );
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(Debug)]
struct Report {
    records: u64,
    deliveries: u64,
    commits: u64,
    applied: u64,
    duplicates: u64,
    undecoded: u64,
    /// From the first delivery to the last record stored.
    elapsed: Duration,
    /// From the pipeline's start to the first delivery (worker start-up: table, lease).
    first_after: Duration,
}

/// The pipeline thread as `run` has it ([`Ingest`]): applies, commits, acknowledges;
/// notes the totals after each commit, and when `needed` records are stored.
fn apply_loop(
    pipeline: Pipeline,
    rx: DeliveryReceiver,
    needed: u64,
    stored: Arc<AtomicU64>,
) -> anyhow::Result<Report> {
    let started = Instant::now();
    let timing = Arc::new(std::sync::Mutex::new((None::<Instant>, Duration::ZERO)));
    let mut ingest = Ingest::new(
        pipeline,
        rx,
        Settings::default(),
        Arc::new(AtomicBool::new(false)),
    )?;
    {
        let timing = Arc::clone(&timing);
        ingest.on_commit(Box::new(move |summary| {
            let mut t = timing.lock().unwrap_or_else(|e| e.into_inner());
            let first = *t.0.get_or_insert_with(Instant::now);
            stored.store(summary.records, Ordering::Release);
            if summary.records >= needed && t.1.is_zero() {
                t.1 = first.elapsed();
            }
        }));
    }
    let summary = ingest.run()?;
    let (first, elapsed) = *timing.lock().unwrap_or_else(|e| e.into_inner());
    Ok(Report {
        records: summary.records,
        deliveries: summary.deliveries,
        commits: summary.commits,
        applied: summary.records - summary.duplicates - summary.stale,
        duplicates: summary.duplicates + summary.stale,
        undecoded: summary.bad,
        elapsed,
        first_after: first.map_or(Duration::ZERO, |f| f.duration_since(started)),
    })
}

/// `--source-only`: acknowledges every delivery at once, without applying anything: the
/// source's own ceiling.
fn ack_loop(mut rx: DeliveryReceiver, needed: u64, stored: &AtomicU64) -> anyhow::Result<Report> {
    let started = Instant::now();
    let mut first: Option<Instant> = None;
    let mut report = Report {
        records: 0,
        deliveries: 0,
        commits: 0,
        applied: 0,
        duplicates: 0,
        undecoded: 0,
        elapsed: Duration::ZERO,
        first_after: Duration::ZERO,
    };
    while let Some(mut d) = rx.blocking_recv() {
        let first = *first.get_or_insert_with(Instant::now);
        report.deliveries += 1;
        report.records += d.items.len() as u64;
        if let Some(ack) = d.ack.take() {
            ack.send(Ok(()));
        }
        stored.store(report.records, Ordering::Release);
        if report.records >= needed && report.elapsed.is_zero() {
            report.elapsed = first.elapsed();
            report.first_after = first.duration_since(started);
        }
    }
    Ok(report)
}
