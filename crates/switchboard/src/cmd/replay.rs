//! `switchboard replay`: runs Connect data files through the engine into a store, and
//! resumes where it stopped when run again (see [`replayer`] for how, and [`position`]
//! for what is saved per file).
//!
//! Exit status: 0 when every record decoded, 2 when some were bad (they are counted,
//! reported and dead-lettered, and never stop the replay), 1 on an error that stops it
//! (an unreadable input, a store failure).

pub mod position;
pub mod replayer;

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;
use switchboard_model::decode::Format;
use switchboard_store::StoreUrl;

pub use replayer::{replay, Options, Summary};

#[derive(clap::Args)]
pub struct Args {
    /// Files or folders of Connect data (folders are read recursively, in name order; any
    /// layout `decode` reads, gzip included).
    #[arg(required = true, value_name = "PATH")]
    inputs: Vec<PathBuf>,
    /// The store to replay into, e.g. `sqlite:switchboard.db` (created if missing).
    #[arg(long, value_name = "URL")]
    store: StoreUrl,
    /// Layout of the input instead of detecting it (see `switchboard decode --help`).
    #[arg(long, default_value = "auto", value_name = "FORMAT")]
    format: Format,
    /// Records per commit: a restart resumes after the last commit.
    #[arg(long, default_value_t = 5000, value_name = "N",
          value_parser = clap::value_parser!(u64).range(1..))]
    batch: u64,
    /// Append bad records to this NDJSON file (Firehose error-record shape, with the
    /// original bytes in `rawData` and the position in `source`), so they can be fixed
    /// and replayed.
    #[arg(long, value_name = "FILE")]
    dead_letter: Option<PathBuf>,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let mut store = args
        .store
        .open()
        .with_context(|| format!("cannot open store {}", args.store))?;
    let options = Options {
        format: args.format,
        batch: args.batch,
        dead_letter: args.dead_letter,
        progress: true,
    };
    let summary = replay(&args.inputs, store.as_mut(), &options)?;
    print_summary(&summary, &args.store.to_string());
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
    if s.bad > replayer::REPORTED_BAD {
        eprintln!(
            "({} more bad records not shown one by one; see --dead-letter)",
            s.bad - replayer::REPORTED_BAD
        );
    }
}
