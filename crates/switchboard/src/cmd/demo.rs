//! `switchboard demo`: runs the simulated contact center in scaled real time and shows
//! what is going on, redrawn every second (agents by activity, contacts waiting per
//! queue, records per second per stream, simulated clock). When stdout is not a
//! terminal it prints one summary line per second instead.
//!
//! The emissions of each tick pass through [`Demo::deliver`], the one place a processing
//! engine or a live feed will be attached.

use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_model::{RecordKind, Timestamp};
use switchboard_sim::{Activity, Emission, SimConfig, Simulator, Summary};

use super::simulate::{parse_duration, parse_start};

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
}

const TICK: Duration = Duration::from_millis(100);
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
}

fn stream_index(kind: RecordKind) -> usize {
    STREAMS.iter().position(|k| *k == kind).unwrap_or(0)
}

impl Demo {
    /// Takes one tick's emissions.
    fn deliver(&mut self, batch: Vec<Emission>) {
        for emission in batch {
            let i = stream_index(emission.kind());
            self.total[i] += 1;
            self.last_second[i] += 1;
        }
    }

    fn rates(&mut self, elapsed: f64) -> [f64; 3] {
        let rates = self.last_second.map(|n| n as f64 / elapsed.max(1e-3));
        self.last_second = [0; 3];
        rates
    }
}

/// Today (UTC) at 08:00.
fn default_start() -> Timestamp {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64);
    Timestamp::from_millis(now.div_euclid(86_400_000) * 86_400_000 + 8 * 3_600_000)
}

fn line(summary: &Summary, rates: [f64; 3]) -> String {
    let agents: Vec<String> = summary
        .agents
        .iter()
        .filter(|(a, n)| *n > 0 || *a == Activity::Available)
        .map(|(a, n)| format!("{n} {}", a.label()))
        .collect();
    let queues: Vec<String> = summary
        .queues
        .iter()
        .map(|q| format!("{} {}", q.name, q.waiting))
        .collect();
    format!(
        "{} | agents: {} | waiting: {} | per s: {:.1} agent events, {:.1} contact events, {:.1} contact records",
        summary.now.to_second_precision(),
        agents.join(", "),
        queues.join(", "),
        rates[0],
        rates[1],
        rates[2]
    )
}

fn screen(summary: &Summary, rates: [f64; 3], demo: &Demo, speed: f64) -> String {
    let mut s = String::new();
    s.push_str("\x1b[H\x1b[J");
    s.push_str(&format!(
        "switchboard demo   simulated time {}   speed x{speed}\n\n",
        summary.now.to_second_precision()
    ));
    s.push_str(&format!("Agents ({} staffed)\n", summary.staffed()));
    for (activity, n) in &summary.agents {
        s.push_str(&format!("  {:<12} {:>6}\n", activity.label(), n));
    }
    s.push_str("\nQueues              waiting   oldest\n");
    for q in &summary.queues {
        s.push_str(&format!(
            "  {:<16} {:>8} {:>7}s\n",
            q.name, q.waiting, q.oldest_wait_secs
        ));
    }
    s.push_str("\nStreams             per second      total\n");
    let names = ["agent events", "contact events", "contact records"];
    for i in 0..3 {
        s.push_str(&format!(
            "  {:<16} {:>12.1} {:>10}\n",
            names[i], rates[i], demo.total[i]
        ));
    }
    let t = &summary.totals;
    s.push_str(&format!(
        "\nContacts: {} initiated, {} handled, {} abandoned, {} transferred, {} outbound, {} missed\n",
        t.initiated, t.handled, t.abandoned, t.transferred, t.outbound, t.missed
    ));
    s.push_str("\nCtrl-C to stop\n");
    s
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
        let until = sim_start + (elapsed.as_secs_f64() * args.speed * 1000.0) as i64;
        demo.deliver(sim.next_batch(Timestamp::from_millis(until)));
        let done = stop.load(Ordering::Relaxed)
            || limit.is_some_and(|l| elapsed >= l)
            || sim.is_finished();
        if last_draw.elapsed() >= Duration::from_secs(1) || done {
            let rates = demo.rates(last_draw.elapsed().as_secs_f64());
            last_draw = Instant::now();
            let summary = sim.summary();
            let text = if tty {
                screen(&summary, rates, &demo, args.speed)
            } else {
                line(&summary, rates) + "\n"
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
    Ok(ExitCode::SUCCESS)
}
