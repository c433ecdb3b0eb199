//! `switchboard simulate`: runs the contact-center simulator as fast as it goes and
//! writes its three Connect streams (agent events, contact events, contact records) to a
//! directory, as NDJSON files or as the objects a Firehose S3 destination would write.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{bail, Context};
use switchboard_model::{RecordKind, Timestamp};
use switchboard_sim::writer::stream_name;
use switchboard_sim::{OutputFormat, OutputWriter, SimConfig, Simulator};

#[derive(clap::Args)]
pub struct Args {
    /// Number of agents on the payroll (shifts spread them over the day).
    #[arg(long, default_value_t = 100)]
    agents: u32,
    /// Simulated time span, e.g. 90s, 30m, 2h, 1d or 1h30m.
    #[arg(long, default_value = "1d", value_parser = parse_duration)]
    duration: u64,
    /// Seed: the same seed and options give byte-identical output.
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Directory to write into (created if missing; must be empty if it exists).
    #[arg(long)]
    out: PathBuf,
    /// Start of the simulated window (RFC 3339), default 2026-01-05T00:00:00Z.
    #[arg(long, value_parser = parse_start)]
    start: Option<Timestamp>,
    /// Output layout: one NDJSON file per stream, or Firehose-to-S3 objects.
    #[arg(long, value_enum, default_value_t = Format::Ndjson)]
    format: Format,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum Format {
    /// agent-events.ndjson, contact-events.ndjson, contact-records.ndjson
    Ndjson,
    /// <stream>/YYYY/MM/dd/HH/<stream>-1-YYYY-MM-dd-HH-mm-ss-<uuid>, records concatenated
    Firehose,
}

pub(crate) fn parse_duration(text: &str) -> Result<u64, String> {
    switchboard_sim::parse_duration(text).map_err(|e| e.to_string())
}

pub(crate) fn parse_start(text: &str) -> Result<Timestamp, String> {
    Timestamp::parse(text).map_err(|e| format!("{e}; write it like 2026-01-05T08:00:00Z"))
}

/// Refuses to mix a new run into an old one's files.
fn check_out_dir(dir: &Path) -> anyhow::Result<()> {
    if dir.exists() {
        if !dir.is_dir() {
            bail!("--out {} is a file: name a directory", dir.display());
        }
        let mut entries = dir
            .read_dir()
            .with_context(|| format!("cannot read --out {}", dir.display()))?;
        if entries.next().is_some() {
            bail!(
                "--out {} is not empty: choose a new directory or empty this one",
                dir.display()
            );
        }
    }
    Ok(())
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut config = SimConfig::new(args.agents);
    config.duration_secs = args.duration;
    config.seed = args.seed;
    if let Some(start) = args.start {
        config.start = start;
    }
    let mut sim = Simulator::new(config).context("invalid simulation options")?;
    check_out_dir(&args.out)?;
    let format = match args.format {
        Format::Ndjson => OutputFormat::Ndjson,
        Format::Firehose => OutputFormat::Firehose,
    };
    let started = Instant::now();
    let mut writer = OutputWriter::create(&args.out, format, args.seed)?;
    for emission in sim.by_ref() {
        writer.write(&emission)?;
    }
    let stats = writer.finish()?;
    let elapsed = started.elapsed().as_secs_f64();

    let totals = sim.summary().totals;
    println!(
        "simulated {} agents from {} to {} (seed {})",
        args.agents,
        sim.config().start,
        sim.end(),
        args.seed
    );
    println!(
        "contacts: {} initiated, {} handled, {} abandoned, {} transferred, {} outbound, {} completed",
        totals.initiated, totals.handled, totals.abandoned, totals.transferred, totals.outbound, totals.completed
    );
    for kind in [
        RecordKind::AgentEvent,
        RecordKind::ContactEvent,
        RecordKind::ContactRecord,
    ] {
        let s = stats.get(kind);
        println!(
            "{:>16}: {:>9} records {:>13} bytes {:>6} files",
            stream_name(kind),
            s.records,
            s.bytes,
            s.files
        );
    }
    println!(
        "wrote {} records, {:.1} MB to {} in {elapsed:.2} s ({:.0} records/s)",
        stats.records(),
        stats.bytes() as f64 / 1e6,
        args.out.display(),
        stats.records() as f64 / elapsed.max(1e-9)
    );
    Ok(ExitCode::SUCCESS)
}
