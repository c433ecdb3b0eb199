//! `switchboard report`: interval metrics per queue and agent from a store — offered,
//! handled, abandoned, abandonment, average handle/hold/ACW time, longest wait, service
//! level — as an aligned table, CSV or JSON.
//!
//! The store keeps 15-minute cells of sums and counts ([`MetricCell`]); this command adds
//! them up into the chosen interval and computes the averages and ratios at the end, so
//! an hour is exactly its four quarters.

use std::collections::HashMap;
use std::io::{self, Write};
use std::process::ExitCode;

use anyhow::{bail, Context};
use serde::Serialize;
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{Interval, MetricCell};
use switchboard_model::Timestamp;
use switchboard_store::{AgentFilter, MetricQuery, MetricRow, Store, StoreUrl};

#[derive(clap::Args)]
pub struct Args {
    /// The store to read, e.g. `sqlite:switchboard.db`.
    #[arg(long, value_name = "URL")]
    store: StoreUrl,
    /// Interval to add the 15-minute cells up into: 15m, 1h or 1d.
    #[arg(long, default_value = "1h", value_name = "INTERVAL")]
    interval: Interval,
    #[arg(long, value_enum, default_value = "table")]
    format: ReportFormat,
    /// Only this queue (by name). With `--agent` too, both are shown.
    #[arg(long, value_name = "NAME")]
    queue: Option<String>,
    /// Only this agent (username or agent ARN). With `--queue` too, both are shown.
    #[arg(long, value_name = "AGENT")]
    agent: Option<String>,
    /// From the interval holding this time (RFC 3339, or a date: 2026-01-05).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    from: Option<Timestamp>,
    /// Up to this time, exclusive (whole intervals).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    to: Option<Timestamp>,
}

#[derive(Clone, Copy, clap::ValueEnum)]
enum ReportFormat {
    Table,
    Json,
    Csv,
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    let full = if s.len() == 10 {
        format!("{s}T00:00:00Z")
    } else {
        s.to_owned()
    };
    Timestamp::parse(&full).map_err(|e| format!("{e} (expected RFC 3339 or YYYY-MM-DD)"))
}

/// One line of the report.
#[derive(Serialize)]
struct Line {
    interval_start: String,
    dimension: &'static str,
    /// Queue name, or agent username (ARN when unknown).
    name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_arn: Option<String>,
    offered: i64,
    handled: i64,
    abandoned: i64,
    abandonment_pct: Option<f64>,
    average_handle_s: Option<f64>,
    average_hold_s: Option<f64>,
    average_acw_s: Option<f64>,
    longest_wait_s: i64,
    service_level_pct: Option<f64>,
}

fn round(x: Option<f64>) -> Option<f64> {
    x.map(|v| (v * 10.0).round() / 10.0)
}

impl Line {
    fn new(row: &MetricRow, names: &HashMap<String, String>) -> Self {
        let c: &MetricCell = &row.cell;
        let agent = row.kind == DimensionKind::Agent;
        Line {
            interval_start: row.start.to_second_precision().to_string(),
            dimension: row.kind.as_str(),
            name: names
                .get(&row.id)
                .cloned()
                .unwrap_or_else(|| row.id.clone()),
            agent_arn: agent.then(|| row.id.clone()),
            offered: c.offered,
            handled: c.handled,
            abandoned: c.abandoned,
            abandonment_pct: round(c.abandonment_rate()),
            average_handle_s: round(c.average_handle_time()),
            average_hold_s: round(c.average_hold_time()),
            average_acw_s: round(c.average_acw_time()),
            longest_wait_s: c.longest_wait_s,
            service_level_pct: round(c.service_level()),
        }
    }

    fn cells(&self) -> Vec<String> {
        let opt = |x: Option<f64>| x.map_or_else(|| "-".to_owned(), |v| format!("{v:.1}"));
        vec![
            self.interval_start.clone(),
            self.dimension.to_owned(),
            self.name.clone(),
            self.offered.to_string(),
            self.handled.to_string(),
            self.abandoned.to_string(),
            opt(self.abandonment_pct),
            opt(self.average_handle_s),
            opt(self.average_hold_s),
            opt(self.average_acw_s),
            self.longest_wait_s.to_string(),
            opt(self.service_level_pct),
        ]
    }
}

const HEADER: [&str; 12] = [
    "interval",
    "dimension",
    "name",
    "offered",
    "handled",
    "abandoned",
    "abandon_%",
    "aht_s",
    "hold_s",
    "acw_s",
    "longest_wait_s",
    "sl_%",
];
/// Columns written left-aligned in the table (the rest are numbers).
const TEXT_COLUMNS: usize = 3;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    // Opening an SQLite store creates it: a mistyped path would report nothing, quietly.
    if let StoreUrl::Sqlite(path) = &args.store {
        if !path.exists() {
            bail!("no store at {}", path.display());
        }
    }
    let store = args
        .store
        .open()
        .with_context(|| format!("cannot open store {}", args.store))?;
    let agent = match &args.agent {
        Some(a) => Some(agent_arn(store.as_ref(), a)?),
        None => None,
    };
    let query = MetricQuery {
        from: args.from,
        to: args.to,
        queue: args.queue.clone(),
        agent,
        ..MetricQuery::new(args.interval)
    };
    let rows = store.metrics(&query).context("cannot read metrics")?;
    let names = if rows.iter().any(|r| r.kind == DimensionKind::Agent) {
        agent_names(store.as_ref())?
    } else {
        HashMap::new()
    };
    let lines: Vec<Line> = rows.iter().map(|r| Line::new(r, &names)).collect();
    if lines.is_empty() {
        eprintln!("no metrics in {} for this selection", args.store);
    }
    let stdout = io::stdout();
    let mut out = io::BufWriter::new(stdout.lock());
    let written = match args.format {
        ReportFormat::Table => write_table(&mut out, &lines),
        ReportFormat::Csv => write_csv(&mut out, &lines),
        ReportFormat::Json => write_json(&mut out, &lines),
    };
    match written.and_then(|()| out.flush()) {
        Err(e) if e.kind() == io::ErrorKind::BrokenPipe => {}
        other => other.context("cannot write to standard output")?,
    }
    Ok(ExitCode::SUCCESS)
}

/// An agent ARN given as such, or looked up by username.
fn agent_arn(store: &dyn Store, agent: &str) -> anyhow::Result<String> {
    if agent.starts_with("arn:") {
        return Ok(agent.to_owned());
    }
    let found = store.agents(&AgentFilter {
        username: Some(agent.to_owned()),
        ..AgentFilter::default()
    })?;
    match found.as_slice() {
        [one] => Ok(one.agent_arn.clone()),
        [] => bail!("no agent with username {agent:?} in the store"),
        _ => bail!("several agents have username {agent:?}; give the agent ARN"),
    }
}

fn agent_names(store: &dyn Store) -> anyhow::Result<HashMap<String, String>> {
    Ok(store
        .agents(&AgentFilter::default())?
        .into_iter()
        .filter_map(|a| Some((a.agent_arn, a.username?)))
        .collect())
}

fn write_table(out: &mut impl Write, lines: &[Line]) -> io::Result<()> {
    let rows: Vec<Vec<String>> = lines.iter().map(Line::cells).collect();
    let mut widths: Vec<usize> = HEADER.iter().map(|h| h.len()).collect();
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let header: Vec<String> = HEADER.iter().map(|h| h.to_string()).collect();
    for row in std::iter::once(&header).chain(&rows) {
        let mut text = String::new();
        for (i, (cell, w)) in row.iter().zip(&widths).enumerate() {
            if i > 0 {
                text.push_str("  ");
            }
            let pad = w - cell.chars().count();
            if i < TEXT_COLUMNS {
                text.push_str(cell);
                if i + 1 < row.len() {
                    text.push_str(&" ".repeat(pad));
                }
            } else {
                text.push_str(&" ".repeat(pad));
                text.push_str(cell);
            }
        }
        writeln!(out, "{text}")?;
    }
    Ok(())
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_owned()
    }
}

fn write_csv(out: &mut impl Write, lines: &[Line]) -> io::Result<()> {
    writeln!(out, "{}", HEADER.join(","))?;
    for line in lines {
        let cells: Vec<String> = line
            .cells()
            .into_iter()
            .map(|c| {
                if c == "-" {
                    String::new()
                } else {
                    csv_field(&c)
                }
            })
            .collect();
        writeln!(out, "{}", cells.join(","))?;
    }
    Ok(())
}

fn write_json(out: &mut impl Write, lines: &[Line]) -> io::Result<()> {
    writeln!(out, "[")?;
    for (i, line) in lines.iter().enumerate() {
        serde_json::to_writer(&mut *out, line)?;
        writeln!(out, "{}", if i + 1 < lines.len() { "," } else { "" })?;
    }
    writeln!(out, "]")
}
