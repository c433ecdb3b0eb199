//! `switchboard dlq list | show | replay`: the dead letters of every stage (records that
//! did not decode, enrichment that failed, items a sink refused), read back from where
//! the config's `[dead_letter]` writes them (a file, an S3 prefix, an SQS queue), or from
//! the store's outbox when no writer is configured.
//!
//! `replay` sends each entry back the way it failed: a sink- or enrichment-stage entry goes
//! into the outbox again for its rule and the sink that failed only, with its original
//! idempotency key (a receiver that already applied it drops the repeat); a decode-stage
//! entry's bytes are decoded again and go through the pipeline like a replayed file. The
//! delivery workers then get `--drain-secs` to deliver; what they could not stays in the
//! outbox for `switchboard run`.

use std::path::PathBuf;
use std::process::ExitCode;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context};
use switchboard_io::sinks::dead_letter::{
    delete_sqs, read_dead_letters, DeadLetter, DeadLetterFilter, Found, Stage,
};
use switchboard_model::decode::Format;
use switchboard_model::Timestamp;
use switchboard_pipeline::config::{self, Config};
use switchboard_pipeline::deliver::{self, now_ms, DEAD_LETTER_SINK};
use switchboard_pipeline::files::replay::{replay, Options};
use switchboard_pipeline::outputs::{open_store, Outputs};
use switchboard_store::{OutboxEntry, StoreUrl};

#[derive(clap::Args)]
pub struct Args {
    #[command(subcommand)]
    what: What,
}

#[derive(clap::Subcommand)]
enum What {
    /// List dead letters, oldest first: where, when, stage, rule, sink, reason.
    List(ListArgs),
    /// Show dead letters in full (the original bytes as text when they are UTF-8).
    Show(ListArgs),
    /// Send dead letters back: to the sink that failed (sink and enrichment stages), or
    /// through the pipeline again (decode stage).
    Replay(ReplayArgs),
}

#[derive(clap::Args)]
struct Select {
    /// The config whose `[dead_letter]`, store, rules and sinks apply.
    #[arg(long, short, value_name = "FILE", default_value = "switchboard.toml")]
    config: PathBuf,
    /// Read the dead letters kept in this store's outbox instead of the `[dead_letter]`
    /// writer's destination (where they wait when no writer is configured).
    #[arg(long, value_name = "URL")]
    store: Option<StoreUrl>,
    /// Only this stage: decode, validate, enrich, sink.
    #[arg(long, value_parser = parse_stage)]
    stage: Option<Stage>,
    /// Only entries of this sink.
    #[arg(long)]
    sink: Option<String>,
    /// Only entries of this rule.
    #[arg(long)]
    rule: Option<String>,
    /// Only the entry of this idempotency key.
    #[arg(long)]
    key: Option<String>,
    /// Dead-lettered at or after this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    since: Option<Timestamp>,
    /// Dead-lettered before this time (RFC 3339).
    #[arg(long, value_parser = parse_time)]
    until: Option<Timestamp>,
    /// At most this many entries.
    #[arg(long, default_value_t = 1000)]
    limit: usize,
}

#[derive(clap::Args)]
struct ListArgs {
    #[command(flatten)]
    select: Select,
    /// One JSON object per line instead of a table.
    #[arg(long)]
    json: bool,
}

#[derive(clap::Args)]
struct ReplayArgs {
    #[command(flatten)]
    select: Select,
    /// Seconds the sinks get to deliver what was replayed.
    #[arg(long, default_value_t = 60)]
    drain_secs: u64,
    /// Delete what was replayed from an SQS dead-letter queue (files and S3 objects are
    /// left as they are: a second replay sends the same keys again, which receivers drop).
    #[arg(long)]
    delete: bool,
}

fn parse_stage(s: &str) -> Result<Stage, String> {
    Stage::parse(s).ok_or_else(|| format!("unknown stage {s:?}: decode, validate, enrich or sink"))
}

fn parse_time(s: &str) -> Result<Timestamp, String> {
    Timestamp::from_str(s)
        .map_err(|e| format!("{e}: give an RFC 3339 time such as 2026-03-02T10:00:00Z"))
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    match args.what {
        What::List(a) => list(&runtime, a, false),
        What::Show(a) => list(&runtime, a, true),
        What::Replay(a) => replay_letters(&runtime, a),
    }
}

fn load(path: &std::path::Path) -> anyhow::Result<Config> {
    config::load(path).map_err(|problems| {
        anyhow::anyhow!(
            "{problems}{} problem(s) in {}: fix them, or check with `switchboard validate --config {}`",
            problems.len(),
            path.display(),
            path.display()
        )
    })
}

impl Select {
    fn filter(&self) -> DeadLetterFilter {
        DeadLetterFilter {
            stage: self.stage,
            sink: self.sink.clone(),
            rule: self.rule.clone(),
            key: self.key.clone(),
            since_ms: self.since.map(|t| t.millis()),
            until_ms: self.until.map(|t| t.millis()),
        }
    }

    /// The entries selected, and where they were read from.
    fn read(
        &self,
        runtime: &tokio::runtime::Runtime,
        config: &Config,
    ) -> anyhow::Result<(Vec<Found>, String)> {
        let filter = self.filter();
        if let (Some(dead), None) = (&config.dead_letter, &self.store) {
            let read = runtime
                .block_on(read_dead_letters(dead, &filter, self.limit))
                .context("cannot read the dead letters")?;
            for u in &read.unreadable {
                eprintln!("skipped {}: {}", u.location, u.reason);
            }
            if read.truncated {
                eprintln!("(stopped at --limit {}: there may be more)", self.limit);
            }
            return Ok((read.found, dead.describe()));
        }
        // Kept in the store: the outbox items of the dead-letter sink.
        let url = match &self.store {
            Some(u) => u.clone(),
            None => StoreUrl::from_str(&config.store.url).context("store.url")?,
        };
        let store = url
            .open_as(config.worker())
            .with_context(|| format!("cannot open store {url}"))?;
        let rows = store.outbox_peek(Some(DEAD_LETTER_SINK), usize::MAX)?;
        let mut found = Vec::new();
        for row in rows {
            match DeadLetter::from_json(&row.entry.payload) {
                Ok(letter) if filter.matches(&letter) => found.push(Found {
                    location: format!("outbox#{}", row.id),
                    letter,
                    receipt_handle: None,
                }),
                Ok(_) => {}
                Err(e) => eprintln!("skipped outbox#{}: {e}", row.id),
            }
            if found.len() >= self.limit {
                eprintln!("(stopped at --limit {}: there may be more)", self.limit);
                break;
            }
        }
        Ok((found, format!("the outbox of {url}")))
    }
}

fn list(runtime: &tokio::runtime::Runtime, args: ListArgs, full: bool) -> anyhow::Result<ExitCode> {
    let config = load(&args.select.config)?;
    let (found, from) = args.select.read(runtime, &config)?;
    if args.json {
        for f in &found {
            let mut v: serde_json::Value = serde_json::from_slice(&f.letter.to_json())?;
            v["location"] = f.location.clone().into();
            println!("{v}");
        }
    } else if full {
        for f in &found {
            let l = &f.letter;
            println!("{}", f.location);
            println!("  at:      {}", Timestamp::from_millis(l.at_ms));
            println!("  stage:   {}", l.stage.as_str());
            if let Some(r) = &l.rule {
                println!("  rule:    {r}");
            }
            if let Some(s) = &l.sink {
                println!("  sink:    {s}");
            }
            if let Some(k) = &l.kind {
                println!("  kind:    {k}");
            }
            if let Some(k) = &l.key {
                println!("  key:     {k}");
            }
            println!("  tries:   {}", l.attempts);
            println!("  reason:  {}", l.reason);
            if let Some(s) = &l.source {
                println!("  source:  {s}");
            }
            match std::str::from_utf8(&l.raw) {
                Ok(text) => println!("  bytes:   {text}"),
                Err(_) => println!(
                    "  bytes:   {} bytes, not UTF-8 (see --json: rawData)",
                    l.raw.len()
                ),
            }
            println!();
        }
    } else {
        println!(
            "{:<28} {:<24} {:<8} {:<20} {:<16} reason",
            "where", "at", "stage", "rule", "sink"
        );
        for f in &found {
            let l = &f.letter;
            println!(
                "{:<28} {:<24} {:<8} {:<20} {:<16} {}",
                short(&f.location, 28),
                Timestamp::from_millis(l.at_ms).to_string(),
                l.stage.as_str(),
                short(l.rule.as_deref().unwrap_or("-"), 20),
                short(l.sink.as_deref().unwrap_or("-"), 16),
                short(&l.reason, 100)
            );
        }
    }
    eprintln!("{} dead letter(s) in {from}", found.len());
    Ok(ExitCode::SUCCESS)
}

/// `s` cut to `n` characters (with … when cut).
fn short(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        return s.to_owned();
    }
    let mut out: String = s.chars().take(n.saturating_sub(1)).collect();
    out.push('…');
    out
}

fn replay_letters(runtime: &tokio::runtime::Runtime, args: ReplayArgs) -> anyhow::Result<ExitCode> {
    let config = load(&args.select.config)?;
    let (found, from) = args.select.read(runtime, &config)?;
    if found.is_empty() {
        eprintln!("no dead letters match in {from}: nothing replayed");
        return Ok(ExitCode::SUCCESS);
    }
    let url = match &args.select.store {
        Some(u) => u.clone(),
        None => StoreUrl::from_str(&config.store.url).context("store.url")?,
    };
    let outputs = runtime.block_on(Outputs::build(&config))?;
    let now = now_ms();
    let mut entries = Vec::new();
    let mut decode_again = Vec::new();
    let mut skipped = 0;
    let mut replayed_from_outbox = Vec::new();
    let mut receipts = Vec::new();
    for f in &found {
        let l = &f.letter;
        if l.raw_truncated {
            eprintln!(
                "skipped {}: its bytes were not kept (too large for the queue)",
                f.location
            );
            skipped += 1;
            continue;
        }
        match l.stage {
            Stage::Decode | Stage::Validate => {
                decode_again.extend_from_slice(&l.raw);
                decode_again.push(b'\n');
            }
            Stage::Enrich | Stage::Sink => {
                let (Some(rule), Some(sink), Some(key)) = (&l.rule, &l.sink, &l.key) else {
                    eprintln!(
                        "skipped {}: no rule, sink or key to send it back to",
                        f.location
                    );
                    skipped += 1;
                    continue;
                };
                if outputs.rules.get(rule).is_none()
                    || !config.sinks.iter().any(|s| &s.name == sink)
                {
                    eprintln!(
                        "skipped {}: rule {rule:?} or sink {sink:?} is no longer in {}",
                        f.location,
                        args.select.config.display()
                    );
                    skipped += 1;
                    continue;
                }
                entries.push(OutboxEntry {
                    rule: rule.clone(),
                    sink: sink.clone(),
                    key: key.clone(),
                    kind: l.kind.map_or("record", |k| k.as_str()).to_owned(),
                    payload: l.raw.clone(),
                    event_ms: l.event_ms.unwrap_or(now),
                    created_ms: now,
                });
            }
        }
        if let Some(id) = f
            .location
            .strip_prefix("outbox#")
            .and_then(|i| i.parse::<i64>().ok())
        {
            replayed_from_outbox.push(id);
        }
        if let Some(r) = &f.receipt_handle {
            receipts.push(r.clone());
        }
    }

    // Sink and enrichment stages: back into the outbox, for the sink that failed only.
    let mut store = url
        .open_as(config.worker())
        .with_context(|| format!("cannot open store {url}"))?;
    let queued = store.outbox_insert(&entries)?;
    if !replayed_from_outbox.is_empty() {
        store.outbox_delivered(&replayed_from_outbox)?;
    }
    drop(store);
    let sinks: Vec<String> = entries.iter().map(|e| e.sink.clone()).collect();
    let delivery = deliver::Delivery {
        rules: Arc::new(outputs.rules.clone()),
        sinks: outputs
            .sinks
            .iter()
            .filter(|s| sinks.iter().any(|n| n == s.name()))
            .cloned()
            .collect(),
        lookups: Arc::new(outputs.lookups.clone()),
        config: config.outbox.clone(),
        worker: config.worker().to_owned(),
        open_store: open_store(&url, config.worker()),
        wake: Arc::new(tokio::sync::Notify::new()),
        flush: Default::default(),
    };
    let (stats, waiting) =
        deliver::run_until_drained(runtime, delivery, Duration::from_secs(args.drain_secs))?;
    eprintln!(
        "sink and enrichment stages: {queued} queued again ({} already waiting), {} delivered, {} dead-lettered again, {waiting} still waiting",
        entries.len() as u64 - queued,
        stats.delivered,
        stats.dead_lettered
    );

    // Decode stage: the bytes through the pipeline again.
    let mut bad = 0;
    if !decode_again.is_empty() {
        let dir = tempfile::tempdir().context("cannot create a temporary folder")?;
        let file = dir.path().join("dead-letters-to-decode.ndjson");
        std::fs::write(&file, &decode_again).context("cannot write a temporary file")?;
        let mut options = Options::new(Format::Auto, 5000);
        options.engine = config.engine.clone();
        options.worker = config.worker().to_owned();
        options.outbox = config.outbox.clone();
        options.outputs = outputs;
        options.drain = Duration::from_secs(args.drain_secs);
        let s = replay(&[file], &url, &options)?;
        bad = s.bad;
        eprintln!(
            "decode stage: {} records applied, {} still do not decode (dead-lettered again)",
            s.record_count(),
            s.bad
        );
    }
    if args.delete && !receipts.is_empty() {
        if let Some(dead) = &config.dead_letter {
            let n = runtime.block_on(delete_sqs(dead, &receipts))?;
            eprintln!("deleted {n} replayed message(s) from the dead-letter queue");
        }
    } else if args.delete {
        eprintln!("--delete applies to an SQS dead-letter queue only: nothing deleted");
    }
    eprintln!(
        "{} replayed, {skipped} skipped, from {from}",
        found.len() - skipped
    );
    if waiting > 0 {
        bail!("{waiting} item(s) still wait in the outbox: `switchboard run` delivers them, or run this again with a longer --drain-secs");
    }
    Ok(if bad > 0 || skipped > 0 {
        ExitCode::from(2)
    } else {
        ExitCode::SUCCESS
    })
}
