//! `switchboard bench memory`: does a long-running switchboard stay within bounded memory?
//!
//! Days (the default): one pipeline (engine with eviction, SQLite store with retention)
//! lives through `--days` simulated days (at most 31) of an `--agents` center, simulated
//! as one run (default delivery artefacts: duplicates, late events, updated records) and
//! applied record by record as the simulator streams them, so no corpus is kept on disk
//! or in memory. After each day it prints the resident set
//! (`VmRSS` of `/proc/self/status`), the contacts the engine holds, the commit times of
//! the day's batches and the store's size; at the end, the largest resident set after
//! the first day beside the ceiling.
//!
//! `--demo`: runs `switchboard demo --agents N --speed S --for D` as a child process (its
//! stdout is not a terminal, so it prints a line a second) and samples the child's
//! resident set every `--sample-every`; prints the series and its growth from the first
//! sample after warm-up to the last.

use std::path::PathBuf;
use std::process::{Command, ExitCode, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context;
use switchboard_engine::EngineConfig;
use switchboard_model::Timestamp;
use switchboard_pipeline::{lock, Pipeline};
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::{SqliteStore, StoreUrl};
use tempfile::TempDir;

use super::bench::{resident_bytes, resident_bytes_of};
use super::simulate::parse_duration;

#[derive(clap::Args)]
pub struct Args {
    /// Agents on the payroll.
    #[arg(long, default_value_t = 1000)]
    agents: u32,
    /// Simulated days, each generated and applied in turn.
    #[arg(long, default_value_t = 30)]
    days: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Records per store commit.
    #[arg(long, default_value_t = 2000, value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// The SQLite file to fill; default a new one in a temporary folder.
    #[arg(long, value_name = "FILE")]
    store: Option<PathBuf>,
    /// Resident-set ceiling to print the figure beside, in MB.
    #[arg(long, default_value_t = 150)]
    ceiling_mb: u64,
    /// Sample `switchboard demo` instead (see `--demo-for`, `--speed`).
    #[arg(long)]
    demo: bool,
    /// How long the demo runs, wall clock (e.g. 10m, 1h).
    #[arg(long, default_value = "1h", value_parser = parse_duration)]
    demo_for: u64,
    /// Simulated seconds per wall-clock second in the demo.
    #[arg(long, default_value_t = 600.0)]
    speed: f64,
    /// Time between two samples of the demo's memory, wall clock.
    #[arg(long, default_value = "1m", value_parser = parse_duration)]
    sample_every: u64,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.demo {
        demo(&args)
    } else {
        days(&args)
    }
}

const MB: f64 = 1024.0 * 1024.0;

fn days(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = TempDir::new()?;
    let path = args
        .store
        .clone()
        .unwrap_or_else(|| dir.path().join("memory.db"));
    let url: StoreUrl = format!("sqlite:{}", path.display()).parse()?;
    let store = SqliteStore::open(&path).with_context(|| format!("cannot open {url}"))?;
    let mut pipeline = Pipeline::open(Box::new(store), EngineConfig::default())?;
    let engine = pipeline.engine();
    let start = Timestamp::parse("2026-01-05T00:00:00Z").expect("a valid time");
    println!(
        "{} agents, {} days, batches of {} records, store {url}; resident at start {:.0} MB",
        args.agents,
        args.days,
        args.batch,
        resident_bytes()? as f64 / MB
    );
    println!(
        "day  records  contacts-held  commits  commit-ms(mean/p99/max)  store-MB  resident-MB"
    );
    let mut peak_after_first = 0u64;
    let mut all_commits: Vec<f64> = Vec::new();
    let started = Instant::now();
    let mut config = SimConfig::new(args.agents);
    config.start = start;
    config.duration_secs = u64::from(args.days) * 86_400;
    config.seed = args.seed;
    let sim = Simulator::new(config).context("invalid simulation options")?;
    let mut day = 0u32;
    let mut records = 0u64;
    let mut commits: Vec<f64> = Vec::new();
    let commit = |pipeline: &mut Pipeline, commits: &mut Vec<f64>| -> anyhow::Result<()> {
        let t = Instant::now();
        pipeline.commit()?;
        commits.push(t.elapsed().as_secs_f64() * 1000.0);
        Ok(())
    };
    let mut report = |pipeline: &mut Pipeline,
                      day: u32,
                      records: u64,
                      commits: &mut Vec<f64>|
     -> anyhow::Result<()> {
        let held = lock(&engine).contacts().count();
        let resident = resident_bytes()?;
        if day > 0 {
            peak_after_first = peak_after_first.max(resident);
        }
        let store_bytes: u64 = pipeline
            .store()
            .table_stats()?
            .iter()
            .map(|t| t.bytes)
            .sum();
        let (mean, p99, max) = spread(commits);
        println!(
            "{:>3}  {records:>7}  {held:>13}  {:>7}  {mean:>9.1} / {p99:>6.1} / {max:>6.1}  {:>8.1}  {:>11.1}",
            day + 1,
            commits.len(),
            store_bytes as f64 / MB,
            resident as f64 / MB
        );
        all_commits.append(commits);
        Ok(())
    };
    // The simulator streams all days in delivery order; a day is reported when the first
    // record of the next one arrives (the day's last batch committed first).
    for emission in sim {
        let d = ((emission.at.millis() - start.millis()) / 86_400_000).max(0) as u32;
        if d > day {
            commit(&mut pipeline, &mut commits)?;
            report(&mut pipeline, day, records, &mut commits)?;
            day = d;
            records = 0;
        }
        pipeline.apply(&emission.record);
        records += 1;
        if records.is_multiple_of(args.batch) {
            commit(&mut pipeline, &mut commits)?;
        }
    }
    commit(&mut pipeline, &mut commits)?;
    report(&mut pipeline, day, records, &mut commits)?;
    let stats = pipeline.stats();
    let (mean, p99, max) = spread(&mut all_commits);
    println!(
        "{} commits of {} records: {mean:.1} ms mean, {p99:.1} ms p99, {max:.1} ms max",
        all_commits.len(),
        args.batch
    );
    println!(
        "contacts evicted {}, read back from the store {}; rows pruned {}; {:.0} s in all",
        stats.evicted,
        stats.reloaded,
        stats.pruned.total(),
        started.elapsed().as_secs_f64()
    );
    let tables = pipeline.store().table_stats()?;
    print!("{}", super::store::render(&tables));
    if args.days > 1 {
        let peak = peak_after_first as f64 / MB;
        println!(
            "resident after the first day: at most {peak:.1} MB (ceiling {} MB){}",
            args.ceiling_mb,
            if peak <= args.ceiling_mb as f64 {
                ""
            } else {
                "  ABOVE THE CEILING"
            }
        );
    }
    Ok(ExitCode::SUCCESS)
}

/// Mean, 99th percentile and maximum.
fn spread(v: &mut [f64]) -> (f64, f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0, 0.0);
    }
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len() as f64;
    let p99 = v[((v.len() - 1) as f64 * 0.99).round() as usize];
    (mean, p99, v[v.len() - 1])
}

fn demo(args: &Args) -> anyhow::Result<ExitCode> {
    let dir = TempDir::new()?;
    let store = format!("sqlite:{}", dir.path().join("demo.db").display());
    let exe = std::env::current_exe().context("cannot find this executable")?;
    let mut child = Command::new(exe)
        .args([
            "demo",
            "--agents",
            &args.agents.to_string(),
            "--speed",
            &args.speed.to_string(),
            "--for",
            &format!("{}s", args.demo_for),
            "--store",
            &store,
            "--port",
            "0",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("cannot start switchboard demo")?;
    let pid = child.id().to_string();
    println!(
        "switchboard demo --agents {} --speed {} for {} s (pid {pid}), resident sampled every {} s",
        args.agents, args.speed, args.demo_for, args.sample_every
    );
    println!("wall-s  simulated-h  resident-MB");
    let started = Instant::now();
    let every = Duration::from_secs(args.sample_every.max(1));
    let mut samples: Vec<(f64, f64)> = Vec::new();
    loop {
        std::thread::sleep(every);
        if child.try_wait()?.is_some() {
            break;
        }
        let Ok(rss) = resident_bytes_of(&pid) else {
            break;
        };
        let wall = started.elapsed().as_secs_f64();
        let mb = rss as f64 / MB;
        println!(
            "{wall:>6.0}  {:>11.1}  {mb:>11.1}",
            wall * args.speed / 3600.0
        );
        samples.push((wall, mb));
    }
    let status = child.wait()?;
    // Warm-up: the first tenth of the run (the center's first shifts log in).
    let warm = samples.len() / 10;
    if let (Some(first), Some(last)) = (samples.get(warm), samples.last()) {
        let peak = samples[warm..].iter().map(|s| s.1).fold(0.0, f64::max);
        println!(
            "after warm-up: {:.1} MB at {:.0} s, {:.1} MB at {:.0} s, peak {peak:.1} MB: {:+.1} MB over {:.1} simulated days",
            first.1,
            first.0,
            last.1,
            last.0,
            last.1 - first.1,
            (last.0 - first.0) * args.speed / 86_400.0
        );
    }
    if !status.success() {
        anyhow::bail!("switchboard demo ended with {status}");
    }
    Ok(ExitCode::SUCCESS)
}
