//! `switchboard replay`: runs Connect data files through the pipeline into a store, and
//! resumes where it stopped when run again (see `switchboard_pipeline::files::replay`).
//! With `--config`, the config's engine thresholds, rules, sinks, lookups and dead-letter
//! writer apply, as in `run`.
//!
//! Exit status: 0 when every record decoded, 2 when some were bad (they are counted,
//! reported and dead-lettered, and never stop the replay), 1 on an error that stops it
//! (an unreadable input, a store failure).

use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context;
use switchboard_io::sinks::dead_letter::DeadLetterConfig;
use switchboard_model::decode::Format;
use switchboard_pipeline::deliver::DEAD_LETTER_SINK;
use switchboard_pipeline::outputs::Outputs;
use switchboard_store::StoreUrl;

pub use switchboard_pipeline::files::replay::{replay, Options, Summary};

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders of Connect data (folders are read recursively, in name order; any
    /// layout `decode` reads, gzip included).
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// The store to replay into, e.g. `sqlite:switchboard.db` (created if missing).
    /// Default: the config's `[store]`.
    #[arg(long, value_name = "URL", required_unless_present = "config")]
    store: Option<StoreUrl>,
    /// A `switchboard.toml` whose engine thresholds, rules, sinks, lookups and dead-letter
    /// writer apply (its sources are not read).
    #[arg(long, short, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Seconds the sinks get at the end to deliver what the replay routed (the rest
    /// waits in the store's outbox for `switchboard run`).
    #[arg(long, default_value_t = 30, value_name = "SECS")]
    drain_secs: u64,
    /// Layout of the input instead of detecting it (see `switchboard decode --help`).
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    format: Format,
    /// Records per commit: a restart resumes after the last commit.
    #[arg(long, default_value_t = 5000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Append bad records to this NDJSON file (Firehose error-record shape, with the
    /// original bytes in `rawData` and the position in `source`), so they can be fixed
    /// and replayed. Overrides the config's `[dead_letter]`.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match &args.config {
        Some(path) => match switchboard_pipeline::config::load(path) {
            Ok(c) => Some(c),
            Err(problems) => {
                eprint!("{problems}");
                eprintln!(
                    "{} problem(s) in {}: nothing replayed",
                    problems.len(),
                    path.display()
                );
                return Ok(ExitCode::FAILURE);
            }
        },
        None => None,
    };
    let url = match (&args.store, &config) {
        (Some(url), _) => url.clone(),
        (None, Some(c)) => c.store.url.parse().context("store.url")?,
        (None, None) => anyhow::bail!("give --store URL or --config FILE"),
    };
    let mut options = Options::new(args.format, args.batch);
    options.progress = true;
    options.drain = Duration::from_secs(args.drain_secs);
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    if let Some(c) = &config {
        options.engine = c.engine.clone();
        options.worker = c.worker().to_owned();
        options.outbox = c.outbox.clone();
        options.retention = c.store.retention;
        let mut c = c.clone();
        if args.dead_letter.is_some() {
            c.dead_letter = None;
        }
        options.outputs = runtime.block_on(Outputs::build(&c))?;
    }
    if let Some(path) = &args.dead_letter {
        let writer = DeadLetterConfig::from_legacy_path(path.clone());
        let sink = runtime.block_on(writer.build(DEAD_LETTER_SINK))?;
        options.outputs.sinks.push(std::sync::Arc::new(sink));
    }
    drop(runtime);
    let summary = replay(&args.inputs, &url, &options)?;
    print_summary(&summary, &url.to_string());
    Ok(if summary.bad > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}

/// The closing lines on stderr.
pub fn print_summary(s: &Summary, store: &str) {
    let secs = s.elapsed.as_secs_f64().max(1e-9);
    let mb = s.bytes as f64 / 1e6;
    let kinds: Vec<String> = s.records.iter().map(|(k, n)| format!("{n} {k}")).collect();
    let kinds = if kinds.is_empty() {
        "none".to_owned()
    } else {
        kinds.join(", ")
    };
    eprintln!(
        "replayed {} files into {store} ({} already done earlier)",
        s.files, s.files_already_done
    );
    eprintln!(
        "records: {} ({kinds}); {} resumed past",
        s.record_count(),
        s.resumed_past
    );
    eprintln!(
        "duplicates: {}, out of order: {}, bad records: {}, transitions: {}, alerts: {}",
        s.duplicates, s.stale, s.bad, s.transitions, s.alerts
    );
    eprintln!(
        "{} commits, {:.2} s writing to the store",
        s.commits,
        s.commit_time.as_secs_f64()
    );
    eprintln!(
        "{mb:.1} MB in {secs:.2} s: {:.1} MB/s, {:.0} events/s",
        mb / secs,
        s.record_count() as f64 / secs
    );
    if s.delivery != Default::default() || s.undelivered > 0 {
        eprintln!(
            "sinks: {} delivered, {} retried, {} dead-lettered, {} dropped; {} waiting in the outbox",
            s.delivery.delivered,
            s.delivery.retried,
            s.delivery.dead_lettered,
            s.delivery.dropped,
            s.undelivered
        );
    }
    if s.bad > 0 {
        eprintln!(
            "{} bad records: see the dead letters (--dead-letter FILE, or `switchboard dlq list`)",
            s.bad
        );
    }
}
