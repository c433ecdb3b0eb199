//! `switchboard bench replay`: our throughput beside the parser's ceiling, per stream, and
//! how much memory the engine needs per tracked agent. Figures printed, never asserted.
//!
//! 1. Memory: 100,000 agents (by default) each get a LOGIN and a STATE_CHANGE with a
//!    connected contact, built from the model types; the resident set growth (from
//!    `/proc/self/status`) divided by the agent count is the cost of one agent with one
//!    live contact. Measured first, on a fresh heap, and released before the rest.
//! 2. A simulator corpus (`switchboard-sim`) is written to a temporary folder (or
//!    `--corpus` names one).
//! 3. Per stream ([`super::bench_ceiling`]): serde_json into `IgnoredAny` and into the
//!    engine's borrowed view, our decode-only and replay (into SQLite), and a seed-style
//!    Python handler, with the targets beside the figures: replay at least 50% and decode
//!    only at least 70% of the borrowed-struct figure, replay at least 5x Python; 100,000
//!    agents in less than 256 MB.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::Context;
use serde_json::json;
use switchboard_engine::{Engine, EngineConfig};
use switchboard_model::{AgentEvent, Record, Timestamp};
use switchboard_sim::{OutputFormat, OutputWriter, SimConfig, Simulator};

use crate::inputs::expand;

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Decode-only vs replay (decode + engine + SQLite) throughput, and memory per agent.
    Replay(ReplayArgs),
    /// Latency from a record entering the engine to its push on the live feed.
    Latency(super::bench_latency::Args),
    /// Firehose HTTP endpoint requests per second and latency percentiles under wrk.
    Firehose(super::bench_firehose::Args),
    /// Kinesis records per second one worker sustains against a local Kinesis.
    Kinesis(super::bench_kinesis::Args),
    /// Records per second into S3 and PostgreSQL through the outbox, and commit-to-webhook
    /// latency.
    Sinks(super::bench_sinks::Args),
    /// Resident memory over days of a running pipeline (or of `switchboard demo`), with
    /// commit times and store size.
    Memory(super::bench_memory::Args),
}

#[derive(clap::Args)]
struct ReplayArgs {
    /// Agents in the simulated corpus.
    #[arg(long, default_value_t = 200)]
    agents: u32,
    /// Simulated time span of the corpus, e.g. 30m, 8h, 1d.
    #[arg(long, default_value = "8h", value_parser = parse_duration)]
    duration: u64,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Simulated start time (RFC 3339; the simulator's default is midnight UTC).
    #[arg(long, value_parser = super::simulate::parse_start)]
    start: Option<Timestamp>,
    /// Corpus layout: Firehose-to-S3 objects (records concatenated) or NDJSON files.
    #[arg(long, value_enum, default_value_t = Layout::Firehose)]
    layout: Layout,
    /// Records per store commit.
    #[arg(long, default_value_t = 5000)]
    batch: u64,
    /// Agents for the memory measurement (0 skips it).
    #[arg(long, default_value_t = 100_000)]
    memory_agents: u32,
    /// Measure this corpus (a folder `switchboard simulate` wrote) instead of simulating
    /// one.
    #[arg(long)]
    corpus: Option<PathBuf>,
    /// The Python that runs the seed-style handler (`scripts/seed_handler.py`).
    #[arg(long, default_value = "python3")]
    python: String,
    /// Skip the Python handler.
    #[arg(long)]
    no_python: bool,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Layout {
    Firehose,
    Ndjson,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Replay(a) => bench_replay(a),
        What::Latency(a) => super::bench_latency::run(a),
        What::Firehose(a) => super::bench_firehose::run(a),
        What::Kinesis(a) => super::bench_kinesis::run(a),
        What::Sinks(a) => super::bench_sinks::run(a),
        What::Memory(a) => super::bench_memory::run(a),
    }
}

fn bench_replay(args: ReplayArgs) -> anyhow::Result<ExitCode> {
    if args.memory_agents > 0 {
        memory_per_agent(args.memory_agents)?.print();
    }

    let dir = TempDir::new()?;
    let corpus = match &args.corpus {
        Some(corpus) => corpus.clone(),
        None => simulate(&args, &dir.path().join("corpus"))?,
    };
    let files = expand(&corpus).context("cannot list the corpus")?;
    let python = (!args.no_python).then_some(args.python.as_str());
    super::bench_ceiling::compare(&files, dir.path(), args.batch, python)?;
    Ok(ExitCode::SUCCESS)
}

/// Writes the simulator corpus the options describe into `out`.
fn simulate(args: &ReplayArgs, out: &Path) -> anyhow::Result<PathBuf> {
    let started = Instant::now();
    let mut config = SimConfig::new(args.agents);
    config.duration_secs = args.duration;
    config.seed = args.seed;
    if let Some(start) = args.start {
        config.start = start;
    }
    let sim = Simulator::new(config).context("invalid simulation options")?;
    let layout = match args.layout {
        Layout::Firehose => OutputFormat::Firehose,
        Layout::Ndjson => OutputFormat::Ndjson,
    };
    let mut writer = OutputWriter::create(out, layout, args.seed)?;
    for emission in sim {
        writer.write(&emission)?;
    }
    let written = writer.finish()?;
    println!(
        "corpus: {} agents, {} s simulated, seed {}: {} records, {:.1} MB ({:.1} s to write)",
        args.agents,
        args.duration,
        args.seed,
        written.records(),
        written.bytes() as f64 / 1e6,
        started.elapsed().as_secs_f64()
    );
    Ok(out.to_path_buf())
}

fn parse_duration(text: &str) -> Result<u64, String> {
    switchboard_sim::parse_duration(text).map_err(|e| e.to_string())
}

/// Resident set size of this process, bytes (`VmRSS` of `/proc/self/status`).
pub(crate) fn resident_bytes() -> anyhow::Result<u64> {
    resident_bytes_of("self")
}

/// Resident set size of process `pid` (or `self`), bytes (`VmRSS` of its
/// `/proc/PID/status`).
pub(crate) fn resident_bytes_of(pid: &str) -> anyhow::Result<u64> {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).with_context(|| format!("cannot read {path}"))?;
    let kb = status
        .lines()
        .find_map(|l| l.strip_prefix("VmRSS:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
        .with_context(|| format!("no VmRSS in {path} (memory is measured on Linux only)"))?;
    Ok(kb * 1024)
}

/// Resident growth from tracking agents.
struct Memory {
    agents: u32,
    /// After every agent logged in.
    logged_in: u64,
    /// After every agent also got a connected contact.
    on_contact: u64,
}

/// Feeds `n` agents a LOGIN each, then a STATE_CHANGE to a connected call each, and
/// measures the resident set after each round.
fn memory_per_agent(n: u32) -> anyhow::Result<Memory> {
    let (login, connected) = agent_event_templates()?;
    let before = resident_bytes()?;
    let mut engine = Engine::new(EngineConfig::default());
    let base = Timestamp::parse("2026-01-05T08:00:00.000Z")
        .map_err(|e| anyhow::anyhow!("{e}"))?
        .millis();
    let mut after = [0u64; 2];
    for (k, template) in [&login, &connected].into_iter().enumerate() {
        for i in 0..n {
            let mut e = template.clone();
            e.agent_arn =
                format!("arn:aws:connect:us-east-1:123456789012:instance/bench/agent/{i:08}");
            e.event_id = format!("bench-{i}-{k}");
            e.event_timestamp = Timestamp::from_millis(base + i64::from(i) + k as i64 * 3_600_000);
            for snap in [e.current.as_mut(), e.previous.as_mut()]
                .into_iter()
                .flatten()
            {
                if let Some(cfg) = snap.configuration.as_mut() {
                    cfg.username = Some(format!("agent{i:06}"));
                }
                for c in snap.contacts.iter_mut().flatten() {
                    c.contact_id = format!("bench-contact-{i:08}");
                }
            }
            engine.apply(&Record::AgentEvent(Box::new(e)));
            if i % 1000 == 999 {
                // A live engine hands its changes to the store at every commit.
                drop(engine.take_changes());
            }
        }
        drop(engine.take_changes());
        after[k] = resident_bytes()?;
    }
    let (agents, contacts) = (engine.agents().count(), engine.contacts().count());
    anyhow::ensure!(
        agents == n as usize && contacts == n as usize,
        "expected {n} agents and contacts in the engine, found {agents} and {contacts}"
    );
    drop(engine);
    Ok(Memory {
        agents: n,
        logged_in: after[0].saturating_sub(before),
        on_contact: after[1].saturating_sub(before),
    })
}

impl Memory {
    fn print(&self) {
        let n = f64::from(self.agents);
        println!(
            "memory: {} agents logged in: +{:.1} MB resident ({:.0} bytes/agent); each also on \
             a call: +{:.1} MB ({:.0} bytes/agent) (target: 100,000 agents < 256 MB)",
            self.agents,
            self.logged_in as f64 / 1e6,
            self.logged_in as f64 / n,
            self.on_contact as f64 / 1e6,
            self.on_contact as f64 / n
        );
    }
}

/// A LOGIN (Available, no contacts) and a STATE_CHANGE to a connected inbound call.
fn agent_event_templates() -> anyhow::Result<(AgentEvent, AgentEvent)> {
    let queue = "arn:aws:connect:us-east-1:123456789012:instance/bench/queue/sales";
    let snapshot = |contacts: serde_json::Value| {
        json!({
            "AgentStatus": {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/bench/agent-state/available",
                            "Name": "Available", "StartTimestamp": "2026-01-05T08:00:00.000Z", "Type": "ROUTABLE"},
            "Configuration": {"Username": "agent", "FirstName": "Bench", "LastName": "Agent",
                "AgentHierarchyGroups": null,
                "RoutingProfile": {"ARN": "arn:aws:connect:us-east-1:123456789012:instance/bench/routing-profile/basic",
                    "Name": "Basic Routing Profile",
                    "InboundQueues": [{"ARN": queue, "Name": "Sales", "Channels": ["VOICE"]}],
                    "DefaultOutboundQueue": {"ARN": queue, "Name": "Sales", "Channels": ["VOICE"]},
                    "Concurrency": [{"AvailableSlots": 1, "Channel": "VOICE", "MaximumSlots": 1}]}},
            "Contacts": contacts,
        })
    };
    let call = json!([{
        "ContactId": "c", "InitialContactId": null, "Channel": "VOICE", "InitiationMethod": "INBOUND",
        "State": "CONNECTED", "StateStartTimestamp": "2026-01-05T08:01:00.000Z",
        "ConnectedToAgentTimestamp": "2026-01-05T08:01:00.000Z", "QueueTimestamp": "2026-01-05T08:00:40.000Z",
        "Queue": {"ARN": queue, "Name": "Sales"},
    }]);
    let event = |kind: &str, prev: serde_json::Value, cur: serde_json::Value| {
        serde_json::from_value::<AgentEvent>(json!({
            "AWSAccountId": "123456789012", "AgentARN": "a", "EventId": "e",
            "EventTimestamp": "2026-01-05T08:00:00.000Z", "EventType": kind,
            "InstanceARN": "arn:aws:connect:us-east-1:123456789012:instance/bench",
            "PreviousAgentSnapshot": prev, "CurrentAgentSnapshot": cur, "Version": "2019-05-25",
        }))
    };
    let login = event("LOGIN", serde_json::Value::Null, snapshot(json!([])))?;
    let connected = event("STATE_CHANGE", snapshot(json!([])), snapshot(call))?;
    Ok((login, connected))
}

/// A temporary folder removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> anyhow::Result<Self> {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let path =
            std::env::temp_dir().join(format!("switchboard-bench-{}-{nanos}", std::process::id()));
        std::fs::create_dir_all(&path)
            .with_context(|| format!("cannot create {}", path.display()))?;
        Ok(TempDir(path))
    }

    fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
