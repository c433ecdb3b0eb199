//! `switchboard validate --config switchboard.toml`: loads and checks a config exactly as
//! `run` does, without opening the store, binding a port or calling AWS, and prints every
//! problem as `FILE: KEY: MESSAGE`. Exit status 0 when it is fine, 1 otherwise.
//!
//! It does read what the config names on this machine: the environment variables that
//! hold secrets, and the folders of files to read or write.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Context;

use crate::config;

#[derive(clap::Args)]
pub struct Args {
    /// The configuration file to check.
    #[arg(long, short, value_name = "FILE", default_value = "switchboard.toml")]
    config: PathBuf,
    /// Print an example config with every section and one source of each type, and exit.
    #[arg(long, conflicts_with = "config")]
    example: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.example {
        let text = config::Config::example()
            .to_toml()
            .context("cannot write the example as TOML")?;
        print!("# switchboard.toml: every key is documented in examples/*.toml\n\n{text}");
        return Ok(ExitCode::SUCCESS);
    }
    match config::load(&args.config) {
        Ok(c) => {
            let c = &c;
            println!("{}: OK", args.config.display());
            println!("  store: {}", store_shown(&c.store.url));
            if c.server.enabled {
                println!("  dashboard and API: http://{}/", c.server.listen);
            }
            for (i, source) in c.sources.iter().enumerate() {
                println!("  sources[{i}]: {}", source.describe());
            }
            if c.sources.is_empty() {
                println!("  no sources: the dashboard serves what the store holds");
            }
            for (i, sink) in c.sinks.iter().enumerate() {
                println!("  sinks[{i}]: {} ({})", sink.name, sink.kind.type_name());
            }
            for (i, lookup) in c.lookups.iter().enumerate() {
                println!("  lookups[{i}]: {}", lookup.name());
            }
            for (i, rule) in c.rules.iter().enumerate() {
                println!("  rules[{i}]: {} -> {}", rule.name, rule.sinks.join(", "));
            }
            if let Some(connect) = &c.connect {
                let recheck = match connect.recheck_silent_after_secs {
                    0 => "off".to_owned(),
                    s => format!("after {s} s of silence"),
                };
                println!(
                    "  connect: instance {} (agent states at start: {}, names: {}, re-checks: {recheck})",
                    connect.id(),
                    connect.load_agent_states,
                    connect.list_names
                );
            }
            match &c.dead_letter {
                Some(d) => println!("  dead letters: {}", d.describe()),
                None => {
                    println!("  dead letters: kept in the store (switchboard dlq list --store URL)")
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(problems) => {
            eprint!("{problems}");
            eprintln!("{} problem(s) in {}", problems.len(), args.config.display());
            Ok(ExitCode::FAILURE)
        }
    }
}

/// The store URL without its password.
fn store_shown(url: &str) -> String {
    switchboard_store::postgres::redact(url)
}
