//! `switchboard run --config switchboard.toml`: the long-running service, as
//! `switchboard_pipeline::service` wires it from one config file.
//!
//! See that module for the wiring, start-up and shutdown.

use std::path::PathBuf;
use std::process::ExitCode;

use switchboard_pipeline::config;
pub use switchboard_pipeline::service::serve;

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file (examples/ has one per ingest path; `switchboard validate`
    /// checks one without starting anything).
    #[arg(long, short, value_name = "FILE", default_value = "switchboard.toml")]
    config: PathBuf,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let config = match config::load(&args.config) {
        Ok(config) => config,
        Err(problems) => {
            eprint!("{problems}");
            eprintln!(
                "{} problem(s) in {}: nothing started",
                problems.len(),
                args.config.display()
            );
            return Ok(ExitCode::FAILURE);
        }
    };
    init_tracing();
    tracing::info!(config = %args.config.display(), sources = config.sources.len(), "starting");
    let outcome = serve(&config)?;
    let i = outcome.ingest;
    eprintln!(
        "stopped: {} deliveries, {} records, {} bad, {} commits ({} failed){}",
        i.deliveries,
        i.records,
        i.bad,
        i.commits,
        i.failed_commits,
        if outcome.failed {
            "; a source failed"
        } else {
            ""
        }
    );
    Ok(if outcome.failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// Logs to stderr; `RUST_LOG` filters (default `info`); colours on a terminal only.
pub fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
        .try_init();
}
