//! `switchboard bench latency`: how long an event takes from entering the engine to
//! being pushed on the live feed, at a steady input rate.
//!
//! Records from the simulator are fed to the real pipeline (engine, publish hook, SQLite
//! store committed about once a second, as `switchboard demo` runs it) at `--rate`
//! records per second. A client reads `/api/events` over a real socket on 127.0.0.1,
//! as the dashboard does. Each record's start time is taken just before it enters the
//! engine; the frame the hub publishes for it carries a sequence number (the SSE `id`),
//! and the client notes when each id arrives. Latency is arrival minus start, for every
//! record that changed something (duplicates publish nothing); percentiles are printed.
//!
//! Build with `--release` for figures that mean anything.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_engine::EngineConfig;
use switchboard_model::Record;
use switchboard_server::client::EventStream;
use switchboard_server::{AppState, Hub, ServerHandle, ServerOptions};
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::{SqliteStore, Store};
use tempfile::TempDir;

use super::simulate::parse_duration;
use switchboard_pipeline::Pipeline;

#[derive(clap::Args)]
pub struct Args {
    /// Records per second fed to the engine.
    #[arg(long, default_value_t = 2000)]
    rate: u32,
    /// How long to feed them, e.g. 20s, 1m.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: u64,
    /// Agents of the simulated center the records come from.
    #[arg(long, default_value_t = 500)]
    agents: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
}

/// How long the feed may take to deliver the last frame once feeding stopped.
const DRAIN: Duration = Duration::from_secs(10);

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.rate == 0 || args.duration == 0 {
        bail!("--rate and --duration must be above 0");
    }
    let n = usize::try_from(u64::from(args.rate) * args.duration)?;
    let mut config = SimConfig::new(args.agents);
    config.seed = args.seed;
    config.start = switchboard_model::Timestamp::from_millis(config.start.millis() + 8 * 3_600_000);
    let records: Vec<Record> = Simulator::new(config)
        .context("invalid simulator options")?
        .take(n)
        .map(|e| e.record)
        .collect();
    if records.len() < n {
        bail!(
            "the simulator gave {} records, fewer than the {n} needed: use more --agents",
            records.len()
        );
    }

    let dir = TempDir::new()?;
    let path = dir.path().join("bench.db");
    let mut pipeline =
        Pipeline::open(Box::new(SqliteStore::open(&path)?), EngineConfig::default())?;
    let hub = Hub::default();
    let reader: Box<dyn Store> = Box::new(SqliteStore::open(&path)?);
    let state =
        AppState::new(pipeline.engine(), hub.clone(), ServerOptions::default()).with_store(reader);
    {
        let hub = hub.clone();
        pipeline.on_changes(Box::new(move |engine, changes| {
            hub.publish(engine, changes);
        }));
    }
    let server = ServerHandle::start("127.0.0.1:0".parse()?, state)?;
    let mut stream = EventStream::connect(server.local_addr(), "/api/events", &[])
        .context("cannot open the live feed")?;
    let hello = stream.next_event()?.context("the feed closed at once")?;
    anyhow::ensure!(hello.event == "hello", "the feed began with {hello:?}");

    let origin = Instant::now();
    let last_seen = Arc::new(AtomicU64::new(0));
    let client = {
        let last_seen = Arc::clone(&last_seen);
        thread::Builder::new()
            .name("bench-feed-client".into())
            .spawn(move || read_feed(stream, origin, &last_seen))?
    };

    // Feed at a steady rate; note when each published frame's record entered the engine.
    let mut sent: HashMap<u64, Duration> = HashMap::with_capacity(n);
    // When each store commit ran (it runs on the feeding thread, as in the demo).
    let mut commit_windows: Vec<(Duration, Duration)> = Vec::new();
    let started = Instant::now();
    let per_record = Duration::from_secs_f64(1.0 / f64::from(args.rate));
    for (i, record) in records.iter().enumerate() {
        let due = started + per_record * u32::try_from(i)?;
        let now = Instant::now();
        if due > now {
            thread::sleep(due - now);
        }
        let before = hub.seq();
        let entered = origin.elapsed();
        pipeline.apply(record);
        let seq = hub.seq();
        if seq != before {
            sent.insert(seq, entered);
        }
        let commits = pipeline.stats().commits;
        let commit_start = origin.elapsed();
        pipeline.maybe_commit()?;
        if pipeline.stats().commits != commits {
            commit_windows.push((commit_start, origin.elapsed()));
        }
    }
    let fed_for = started.elapsed();
    pipeline.commit()?;
    let last = hub.seq();

    // Wait for the last frame; shutting the server down then ends the feed, and with it
    // the client thread.
    let drain_until = Instant::now() + DRAIN;
    while !client.is_finished()
        && Instant::now() < drain_until
        && last_seen.load(Ordering::Acquire) < last
    {
        thread::sleep(Duration::from_millis(10));
    }
    server.shutdown().context("the HTTP server failed")?;
    let received = client
        .join()
        .map_err(|_| anyhow::anyhow!("the feed client panicked"))??;

    let mut latencies: Vec<Duration> = received
        .iter()
        .filter_map(|(seq, at)| Some(at.saturating_sub(*sent.get(seq)?)))
        .collect();
    latencies.sort();
    if latencies.is_empty() {
        bail!("no frame arrived on the feed");
    }
    let pct = |p: f64| {
        let i = ((latencies.len() as f64 * p).ceil() as usize).clamp(1, latencies.len()) - 1;
        latencies[i]
    };
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!("latency, event entering the engine -> pushed on the live feed (SSE on 127.0.0.1):");
    println!(
        "  {} records from {} simulated agents at {} per second (achieved {:.0}/s), SQLite commits about once a second",
        records.len(),
        args.agents,
        args.rate,
        records.len() as f64 / fed_for.as_secs_f64()
    );
    println!(
        "  frames published {}, received {}",
        sent.len(),
        received.len()
    );
    println!(
        "  p50 {:.2} ms   p90 {:.2} ms   p99 {:.2} ms   p99.9 {:.2} ms   max {:.2} ms",
        ms(pct(0.50)),
        ms(pct(0.90)),
        ms(pct(0.99)),
        ms(pct(0.999)),
        ms(latencies[latencies.len() - 1])
    );
    // Frames still on their way when a commit began wait for a core the commit holds:
    // show the distribution without them, and what the commits cost.
    let near_commit = |entered: Duration, arrived: Duration| {
        commit_windows
            .iter()
            .any(|(start, end)| entered <= *end && arrived >= *start)
    };
    let mut apart: Vec<Duration> = received
        .iter()
        .filter_map(|(seq, at)| {
            let entered = *sent.get(seq)?;
            (!near_commit(entered, *at)).then(|| at.saturating_sub(entered))
        })
        .collect();
    apart.sort();
    let commit_ms: Vec<f64> = commit_windows
        .iter()
        .map(|(s, e)| ms(e.saturating_sub(*s)))
        .collect();
    if !apart.is_empty() && !commit_ms.is_empty() {
        let p = |q: f64| {
            let i = ((apart.len() as f64 * q).ceil() as usize).clamp(1, apart.len()) - 1;
            ms(apart[i])
        };
        println!(
            "  {} store commits, {:.1} ms each on average, {:.1} ms the longest; frames not overlapping one ({}): p50 {:.2} ms   p99 {:.2} ms",
            commit_ms.len(),
            commit_ms.iter().sum::<f64>() / commit_ms.len() as f64,
            commit_ms.iter().cloned().fold(0.0, f64::max),
            apart.len(),
            p(0.50),
            p(0.99)
        );
    }
    if received.len() < sent.len() {
        bail!("{} frames never arrived", sent.len() - received.len());
    }
    Ok(ExitCode::SUCCESS)
}

/// Reads frames until the server ends the feed; returns when each frame id first
/// arrived (since `origin`), and keeps `last_seen` at the highest id so far.
fn read_feed(
    mut stream: EventStream,
    origin: Instant,
    last_seen: &AtomicU64,
) -> anyhow::Result<HashMap<u64, Duration>> {
    let mut seen = HashMap::new();
    while let Some(event) = stream.next_event().context("reading the live feed")? {
        if let Some(id) = event.id {
            seen.entry(id).or_insert_with(|| origin.elapsed());
            last_seen.fetch_max(id, Ordering::AcqRel);
        }
    }
    Ok(seen)
}
