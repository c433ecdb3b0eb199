//! `switchboard demo`: the simulated contact center, live, through the whole engine.
//!
//! The simulator runs in scaled real time; every record it delivers goes through the one
//! pipeline thread `run` uses (engine, then the store, committed about once a second; the
//! simulator's clock rides along with each delivery so alerts follow simulated time), and
//! the terminal shows what the *engine* makes of it, redrawn every second: agents by
//! effective state, contacts waiting per queue, active alerts, records and transitions per
//! second. When stdout is not a terminal it prints one summary line per second instead.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_engine::{Engine, EngineConfig};
use switchboard_model::{RecordKind, Timestamp};
use switchboard_server::Clock;
use switchboard_sim::{Emission, SimConfig, Simulator, Summary};
use switchboard_store::StoreUrl;

use super::serve_args::ServerArgs;
use super::simulate::{parse_duration, parse_start};
use switchboard_io::Delivery;
use switchboard_model::decode::{Decoded, Source};
use switchboard_pipeline::ingest::{Ingest, Settings};
use switchboard_pipeline::{lock, Pipeline};

#[derive(clap::Args)]
pub struct Args {
    /// Number of agents on the payroll.
    #[arg(long, default_value_t = 50)]
    agents: u32,
    /// Simulated seconds per wall-clock second.
    #[arg(long, default_value_t = 10.0)]
    speed: f64,
    /// Seed of the simulation.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated start (RFC 3339); default today at 08:00 UTC, when the morning starts.
    #[arg(long, value_parser = parse_start)]
    start: Option<Timestamp>,
    /// Stop after this much wall-clock time (e.g. 30s, 5m); default: run until Ctrl-C.
    #[arg(long = "for", value_parser = parse_duration)]
    run_for: Option<u64>,
    /// Where the engine keeps its state and history, e.g. `sqlite:demo.db`; default a new
    /// file in the temporary folder (printed at the end, for `switchboard report`).
    #[arg(long, value_name = "URL")]
    store: Option<StoreUrl>,
    #[command(flatten)]
    server: ServerArgs,
}

const TICK: Duration = Duration::from_millis(100);
/// How many ticks of simulated time one delivery may cover when the pipeline is behind.
const MAX_TICKS_BEHIND: f64 = 2.0;
const STREAMS: [RecordKind; 3] = [
    RecordKind::AgentEvent,
    RecordKind::ContactEvent,
    RecordKind::ContactRecord,
];

/// Counts of what the simulator delivered.
#[derive(Default)]
struct Demo {
    total: [u64; 3],
    last_second: [u64; 3],
    transitions_last_second: u64,
}

fn stream_index(kind: RecordKind) -> usize {
    STREAMS.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Demo {
    /// One tick's emissions as a delivery to the pipeline thread, with the simulated
    /// clock.
    /// (The pipeline thread sets the lag gauges from the records and this clock.)
    fn delivery(&mut self, batch: Vec<Emission>, clock: Timestamp) -> Delivery {
        let mut items = Vec::with_capacity(batch.len());
        for emission in batch {
            let i = stream_index(emission.kind());
            self.total[i] += 1;
            self.last_second[i] += 1;
            // The simulator's record in its JSON form, as Connect would send it.
            items.push(Ok(Decoded::from_record(
                &emission.record,
                Source::default(),
            )));
        }
        let mut delivery = Delivery::new("simulator", items);
        delivery.clock = Some(clock);
        delivery
    }

    fn rates(&mut self, elapsed: f64) -> ([f64; 3], f64) {
        let rates = self.last_second.map(|n| n as f64 / elapsed.max(1e-3));
        let transitions = self.transitions_last_second as f64 / elapsed.max(1e-3);
        self.last_second = [0; 3];
        self.transitions_last_second = 0;
        (rates, transitions)
    }
}

/// Today (UTC) at 08:00.
fn default_start() -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_millis(now.div_euclid(86_400_000) * 86_400_000 + 8 * 3_600_000)
}

/// What the engine knows, for one redraw.
struct View {
    now: Timestamp,
    /// Effective state → agents, offline last.
    agents: Vec<(String, usize)>,
    /// Queue → (waiting, oldest wait in seconds).
    queues: BTreeMap<String, (usize, i64)>,
    alerts: usize,
    transitions: u64,
}

impl View {
    fn of(engine: &Engine, now: Timestamp) -> Self {
        let mut by_state: BTreeMap<String, usize> = BTreeMap::new();
        for agent in engine.agents() {
            *by_state
                .entry(agent.effective.as_str().to_owned())
                .or_default() += 1;
        }
        let order = [
            "available",
            "on_contact",
            "on_hold",
            "after_contact_work",
            "missed",
        ];
        let mut agents: Vec<(String, usize)> = order
            .iter()
            .map(|s| (s.to_string(), by_state.remove(*s).unwrap_or(0)))
            .collect();
        let offline = by_state.remove("offline").unwrap_or(0);
        agents.extend(by_state);
        agents.push(("offline".into(), offline));
        let meta = engine.meta();
        let mut queues: BTreeMap<String, (usize, i64)> = meta
            .queue_names
            .values()
            .map(|q| (q.clone(), (0, 0)))
            .collect();
        for (queue, waiting) in &meta.waiting {
            let oldest = waiting
                .iter()
                .map(|w| (now.millis() - w.since.millis()) / 1000)
                .max()
                .unwrap_or(0);
            queues.insert(queue.clone(), (waiting.len(), oldest.max(0)));
        }
        View {
            now,
            agents,
            queues,
            alerts: meta.alerts.active().count(),
            transitions: engine.counters().transitions,
        }
    }
}

fn line(view: &View, rates: [f64; 3], transitions: f64) -> String {
    let agents: Vec<String> = view
        .agents
        .iter()
        .filter(|(s, n)| *n > 0 || s == "available")
        .map(|(s, n)| format!("{n} {s}"))
        .collect();
    let queues: Vec<String> = view
        .queues
        .iter()
        .map(|(q, (n, _))| format!("{q} {n}"))
        .collect();
    format!(
        "{} | agents: {} | waiting: {} | alerts: {} | per s: {:.1} agent events, {:.1} contact events, {:.1} contact records, {:.1} transitions",
        view.now.to_second_precision(),
        agents.join(", "),
        queues.join(", "),
        view.alerts,
        rates[0],
        rates[1],
        rates[2],
        transitions
    )
}

fn screen(
    view: &View,
    sim: &Summary,
    rates: [f64; 3],
    transitions: f64,
    demo: &Demo,
    speed: f64,
    url: Option<&str>,
) -> String {
    let mut s = String::new();
    s.push_str("\x1b[H\x1b[J");
    s.push_str(&format!(
        "switchboard demo   simulated time {}   speed x{speed}\n",
        view.now.to_second_precision()
    ));
    if let Some(url) = url {
        s.push_str(&format!("dashboard and API: {url}\n"));
    }
    s.push('\n');
    s.push_str("Agents (effective state, from the engine)\n");
    for (state, n) in &view.agents {
        s.push_str(&format!("  {state:<20} {n:>6}\n"));
    }
    s.push_str("\nQueues              waiting   oldest\n");
    for (q, (n, oldest)) in &view.queues {
        s.push_str(&format!("  {q:<16} {n:>8} {oldest:>7}s\n"));
    }
    s.push_str(&format!("\nActive alerts: {}\n", view.alerts));
    s.push_str("\nStreams             per second      total\n");
    let names = ["agent events", "contact events", "contact records"];
    for i in 0..3 {
        s.push_str(&format!(
            "  {:<16} {:>12.1} {:>10}\n",
            names[i], rates[i], demo.total[i]
        ));
    }
    s.push_str(&format!(
        "  {:<16} {:>12.1} {:>10}\n",
        "transitions", transitions, view.transitions
    ));
    let t = &sim.totals;
    s.push_str(&format!(
        "\nSimulated: {} contacts initiated, {} handled, {} abandoned, {} transferred, {} outbound, {} missed\n",
        t.initiated, t.handled, t.abandoned, t.transferred, t.outbound, t.missed
    ));
    s.push_str("\nCtrl-C to stop\n");
    s
}

/// A new store file in the temporary folder, unique to this run.
fn default_store() -> StoreUrl {
    let path: PathBuf =
        std::env::temp_dir().join(format!("switchboard-demo-{}.db", std::process::id()));
    StoreUrl::Sqlite(path)
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if !(args.speed.is_finite() && args.speed > 0.0 && args.speed <= 100_000.0) {
        bail!(
            "--speed {} is out of range: use a number above 0 and at most 100000",
            args.speed
        );
    }
    let mut config = SimConfig::new(args.agents);
    config.seed = args.seed;
    config.start = args.start.unwrap_or_else(default_start);
    config.duration_secs = switchboard_sim::config::MAX_DURATION_SECS;
    let mut sim = Simulator::new(config).context("invalid demo options")?;
    let store_url = args.store.clone().unwrap_or_else(default_store);
    let store = store_url
        .open()
        .with_context(|| format!("cannot open store {store_url}"))?;
    let mut pipeline = Pipeline::open(store, EngineConfig::default())?;
    let transitions_seen = Arc::new(std::sync::atomic::AtomicU64::new(0));
    {
        let seen = Arc::clone(&transitions_seen);
        pipeline.on_changes(Box::new(move |_, changes| {
            seen.fetch_add(changes.transitions.len() as u64, Ordering::Relaxed);
        }));
    }
    let engine = pipeline.engine();
    let clock = Clock::scaled(sim.config().start, args.speed);
    let server = args.server.start(&mut pipeline, &store_url, clock)?;
    let url = server.as_ref().map(|s| s.url());
    if let Some(url) = &url {
        // On stderr: stdout carries the summary lines (programs may read them).
        eprintln!("dashboard: {url}");
    }

    // Few deliveries in flight: each holds a tick of records with their bytes.
    let (tx, rx) = switchboard_io::delivery::channel(4);
    let ingest = Ingest::new(
        pipeline,
        rx,
        Settings {
            commit_interval: Duration::from_secs(1),
            commit_when_idle: false,
            ..Settings::default()
        },
        Arc::new(AtomicBool::new(false)),
    )?;
    let pipeline_thread = std::thread::Builder::new()
        .name("switchboard-pipeline".into())
        .spawn(move || ingest.run())
        .context("cannot start the pipeline thread")?;

    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, Arc::clone(&stop))
            .context("cannot install the Ctrl-C handler")?;
    }
    let tty = std::io::stdout().is_terminal();
    let mut out = std::io::stdout().lock();
    let mut demo = Demo::default();
    let started = Instant::now();
    let limit = args.run_for.map(Duration::from_secs);
    let sim_start = sim.config().start.millis();
    let mut last_draw = started;
    loop {
        let elapsed = started.elapsed();
        let wall_until = sim_start + (elapsed.as_secs_f64() * args.speed * 1000.0) as i64;
        // A pipeline that cannot keep up (a speed too high for the machine) slows the
        // simulation down rather than letting ever larger batches queue up: one delivery
        // covers at most MAX_TICKS_BEHIND ticks of simulated time, so memory stays bounded.
        let step = (TICK.as_secs_f64() * MAX_TICKS_BEHIND * args.speed * 1000.0) as i64;
        let until = wall_until.min(sim.now().millis().max(sim_start) + step.max(1));
        let now = Timestamp::from_millis(until);
        let delivery = demo.delivery(sim.next_batch(now), sim.now());
        if tx.blocking_send(delivery).is_err() {
            bail!("the pipeline thread stopped");
        }
        let done = stop.load(Ordering::Relaxed)
            || limit.is_some_and(|l| elapsed >= l)
            || sim.is_finished();
        if last_draw.elapsed() >= Duration::from_secs(1) || done {
            demo.transitions_last_second = transitions_seen.swap(0, Ordering::Relaxed);
            let (rates, transitions) = demo.rates(last_draw.elapsed().as_secs_f64());
            last_draw = Instant::now();
            let view = View::of(&lock(&engine), sim.now());
            let text = if tty {
                screen(
                    &view,
                    &sim.summary(),
                    rates,
                    transitions,
                    &demo,
                    args.speed,
                    url.as_deref(),
                )
            } else {
                line(&view, rates, transitions) + "\n"
            };
            out.write_all(text.as_bytes())
                .context("cannot write to stdout")?;
            out.flush().context("cannot write to stdout")?;
        }
        if done {
            break;
        }
        std::thread::sleep(TICK);
    }
    if let Some(server) = server {
        server.shutdown().context("the HTTP server failed")?;
    }
    // The pipeline thread makes its last commit once the channel closes.
    drop(tx);
    let stats = match pipeline_thread.join() {
        Ok(result) => result?,
        Err(_) => bail!("the pipeline thread panicked"),
    };
    eprintln!(
        "stopped: {} records applied ({} duplicates dropped), {} commits; store: {store_url}",
        stats.records - stats.duplicates - stats.stale,
        stats.duplicates,
        stats.commits
    );
    eprintln!("see the metrics with: switchboard report --store {store_url}");
    Ok(ExitCode::SUCCESS)
}
