//! `switchboard store stats`: rows and bytes on disk per table of a store (SQLite: the
//! pages of each table and its indexes, from `dbstat`; PostgreSQL:
//! `pg_total_relation_size`), with the bytes per contact that retention and the compact
//! layout are measured by.

use std::process::ExitCode;

use anyhow::Context;
use switchboard_store::{StoreUrl, TableStats};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// Rows and bytes per table, indexes included.
    Stats(StatsArgs),
}

#[derive(clap::Args)]
struct StatsArgs {
    /// The store to measure, e.g. `sqlite:switchboard.db`.
    #[arg(long, value_name = "URL")]
    store: StoreUrl,
    /// Print JSON instead of a table.
    #[arg(long)]
    json: bool,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    match args.what {
        What::Stats(a) => stats(a),
    }
}

fn stats(args: StatsArgs) -> anyhow::Result<ExitCode> {
    let store = args
        .store
        .open()
        .with_context(|| format!("cannot open store {}", args.store))?;
    let tables = store
        .table_stats()
        .with_context(|| format!("cannot measure store {}", args.store))?;
    if args.json {
        println!("{}", serde_json::to_string_pretty(&tables)?);
    } else {
        print!("{}", render(&tables));
    }
    Ok(ExitCode::SUCCESS)
}

/// The table as printed: one line per table, then the total and bytes per contact.
pub fn render(tables: &[TableStats]) -> String {
    let mut out = format!("{:<20} {:>12} {:>14}\n", "table", "rows", "bytes");
    for t in tables {
        out.push_str(&format!("{:<20} {:>12} {:>14}\n", t.table, t.rows, t.bytes));
    }
    let bytes: u64 = tables.iter().map(|t| t.bytes).sum();
    let rows: u64 = tables.iter().map(|t| t.rows).sum();
    out.push_str(&format!("{:<20} {:>12} {:>14}\n", "total", rows, bytes));
    if let Some(c) = tables.iter().find(|t| t.table == "contacts" && t.rows > 0) {
        out.push_str(&format!(
            "{:.0} bytes per contact ({} contacts)\n",
            bytes as f64 / c.rows as f64,
            c.rows
        ));
    }
    out
}
