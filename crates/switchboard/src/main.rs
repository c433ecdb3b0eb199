//! The `switchboard` binary: command-line parsing and wiring. Every capability lives in a
//! library crate; this file only routes subcommands to them.

mod cmd;
mod inputs;

use switchboard_pipeline::config;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Amazon Connect data streams, understood.
#[derive(Parser)]
#[command(name = "switchboard", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Decode Connect data in any envelope and print one NDJSON line per record.
    Decode(cmd::decode::Args),
    /// Simulate a contact center and write its three Connect streams to files.
    Simulate(cmd::simulate::Args),
    /// Run the simulated contact center live through the engine, with the dashboard and a terminal summary.
    Demo(cmd::demo::Args),
    /// Derive agent transitions (login, status, offered, connected, hold, ACW...) as NDJSON.
    Transitions(cmd::transitions::Args),
    /// Run Connect data files through the engine into a store; resumes where it stopped.
    Replay(cmd::replay::Args),
    /// Print interval metrics per queue and agent from a store.
    Report(cmd::report::Args),
    /// Measure throughput, latency and memory (`bench replay`, `latency`, `kinesis`, `firehose`).
    Bench(cmd::bench::Args),
    /// Run the service from a config file: sources, engine, store, dashboard and API.
    Run(cmd::run::Args),
    /// Check a config file without starting anything; print every problem.
    Validate(cmd::validate::Args),
    /// Look into a store (`store stats`: rows and bytes per table).
    Store(cmd::store::Args),
    /// List, show and replay dead letters (records that did not decode, items a sink refused).
    Dlq(cmd::dlq::Args),
    /// Set up, inspect and remove Connect data streaming (`aws setup | status | teardown`).
    #[cfg(feature = "connect")]
    Aws(Box<cmd::aws::Args>),
    /// Run as an AWS Lambda function: `kinesis`, `firehose`, `eventbridge` or `sqs` (config from SWITCHBOARD_CONFIG).
    Lambda(cmd::lambda::Args),
}

fn main() -> ExitCode {
    let cli = Cli::parse_from(cmd::lambda::bootstrap_args(std::env::args_os().collect()));
    let result = match cli.command {
        Command::Decode(args) => cmd::decode::run(args),
        Command::Simulate(args) => cmd::simulate::run(args),
        Command::Demo(args) => cmd::demo::run(args),
        Command::Transitions(args) => cmd::transitions::run(args),
        Command::Replay(args) => cmd::replay::run(args),
        Command::Report(args) => cmd::report::run(args),
        Command::Bench(args) => cmd::bench::run(args),
        Command::Run(args) => cmd::run::run(args),
        Command::Validate(args) => cmd::validate::run(args),
        Command::Dlq(args) => cmd::dlq::run(args),
        #[cfg(feature = "connect")]
        Command::Aws(args) => cmd::aws::run(*args),
        Command::Lambda(args) => cmd::lambda::run(args),
        Command::Store(args) => cmd::store::run(args),
    };
    match result {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
