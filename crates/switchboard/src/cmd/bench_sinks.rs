//! `switchboard bench sinks`: how fast routed records reach S3 and PostgreSQL through the
//! outbox, and how long after its commit an item reaches a webhook.
//!
//! 1. A simulator corpus (agent events, contact events, contact records) is written to a
//!    temporary folder and replayed once without sinks: the pipeline's own figure.
//! 2. The same corpus replayed with a rule sending every record to S3 (a local S3: moto,
//!    started from `.tools/venv` unless `--s3-endpoint` names one), then to PostgreSQL
//!    (`--pg URL` or `SWITCHBOARD_TEST_PG_URL`; skipped without one): records/s from the
//!    start of the replay until the last item is delivered, with the batch settings.
//! 3. Latency: agent events fed at `--rate` records/s through the pipeline thread `run`
//!    uses (commit about every `--commit-ms`), a rule sending each to a webhook served
//!    in-process; for each record, the time from the commit that stored it to its arrival
//!    at the webhook, p50 and p99.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use switchboard_engine::EngineConfig;
use switchboard_model::decode::{Decoder, Format};
use switchboard_model::RecordView;
use switchboard_pipeline::config::load_str;
use switchboard_pipeline::deliver;
use switchboard_pipeline::files::replay::{replay, Options};
use switchboard_pipeline::ingest::{Ingest, Settings};
use switchboard_pipeline::outputs::{open_store, Outputs};
use switchboard_pipeline::Pipeline;
use switchboard_sim::{OutputFormat, OutputWriter, SimConfig, Simulator};
use switchboard_store::StoreUrl;
use tempfile::TempDir;

#[derive(clap::Args)]
pub struct Args {
    /// Agents of the simulated corpus.
    #[arg(long, default_value_t = 100)]
    agents: u32,
    /// Simulated time span of the corpus, e.g. 30m, 2h.
    #[arg(long, default_value = "2h", value_parser = super::simulate::parse_duration)]
    duration: u64,
    /// A running S3 (moto, s3rver...) instead of starting moto.
    #[arg(long, value_name = "URL")]
    s3_endpoint: Option<String>,
    /// PostgreSQL for the BI sink (default: SWITCHBOARD_TEST_PG_URL; skipped without).
    #[arg(long, value_name = "URL")]
    pg: Option<String>,
    /// Where moto is installed, to start it.
    #[arg(
        long,
        default_value = ".tools/venv/bin/moto_server",
        value_name = "PATH"
    )]
    moto: PathBuf,
    /// Records per second fed for the webhook latency.
    #[arg(long, default_value_t = 500)]
    rate: u32,
    /// Records fed for the webhook latency.
    #[arg(long, default_value_t = 3000)]
    latency_records: usize,
    /// The pipeline's commit interval for the latency run, in milliseconds.
    #[arg(long, default_value_t = 1000)]
    commit_ms: u64,
}

/// S3 buffering used: Firehose-style hints.
const S3_BUFFER_BYTES: u64 = 5 * 1024 * 1024;
const S3_BUFFER_SECS: u64 = 1;

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let dir = TempDir::new()?;
    let corpus = dir.path().join("corpus");
    let mut sim = SimConfig::new(args.agents);
    sim.duration_secs = args.duration;
    sim.start = switchboard_model::Timestamp::from_millis(1_772_442_000_000);
    let mut writer = OutputWriter::create(&corpus, OutputFormat::Ndjson, 1)?;
    let mut records = 0u64;
    for emission in Simulator::new(sim).context("invalid simulator options")? {
        writer.write(&emission)?;
        records += 1;
    }
    writer.finish()?;
    println!(
        "corpus: {records} records ({} agents, {} s simulated)",
        args.agents, args.duration
    );

    // 1. The pipeline alone.
    let alone = timed_replay(dir.path(), "alone", &corpus, "")?;
    println!(
        "replay without sinks: {:.0} records/s ({records} in {:.2} s)",
        records as f64 / alone.0,
        alone.0
    );

    // 2. S3.
    let mut moto = None;
    let s3 = match &args.s3_endpoint {
        Some(url) => url.clone(),
        None => {
            // moto takes any credentials; the SDK still wants some.
            for (var, value) in [
                ("AWS_ACCESS_KEY_ID", "test"),
                ("AWS_SECRET_ACCESS_KEY", "test"),
            ] {
                if std::env::var_os(var).is_none() {
                    std::env::set_var(var, value);
                }
            }
            let server = Moto::start(&args.moto)?;
            let url = server.url.clone();
            moto = Some(server);
            url
        }
    };
    let bucket = format!("switchboard-bench-{}", std::process::id());
    create_bucket(&s3, &bucket)?;
    let sinks = format!(
        r#"
[aws]
region = "us-east-1"
endpoint_url = "{s3}"

[[sinks]]
name = "archive"
type = "s3"
bucket = "{bucket}"
prefix = "archive/"
buffer_max_bytes = {S3_BUFFER_BYTES}
buffer_interval_secs = {S3_BUFFER_SECS}

[[rules]]
name = "all"
kinds = ["record"]
sinks = ["archive"]
"#
    );
    let (secs, delivered) = timed_replay(dir.path(), "s3", &corpus, &sinks)?;
    println!(
        "into S3: {:.0} records/s ({delivered} delivered in {secs:.2} s, replay included; \
         buffer {} MiB or {} s per object, NDJSON)",
        delivered as f64 / secs,
        S3_BUFFER_BYTES / (1024 * 1024),
        S3_BUFFER_SECS
    );
    drop(moto);

    // PostgreSQL.
    let pg = args
        .pg
        .clone()
        .or_else(|| std::env::var("SWITCHBOARD_TEST_PG_URL").ok());
    match pg {
        Some(url) => {
            let schema = format!("bench_{}", std::process::id());
            let sinks = format!(
                r#"
[[sinks]]
name = "bi"
type = "postgres"
url = "{url}"
schema = "{schema}"

[[rules]]
name = "all"
kinds = ["record", "transition"]
sinks = ["bi"]
"#
            );
            let (secs, delivered) = timed_replay(dir.path(), "pg", &corpus, &sinks)?;
            println!(
                "into PostgreSQL: {:.0} items/s ({delivered} records and transitions in {secs:.2} s, \
                 replay included; up to 100 items per transaction)",
                delivered as f64 / secs
            );
            drop_schema(&url, &schema);
        }
        None => println!("into PostgreSQL: skipped (give --pg URL)"),
    }

    // 3. Commit to webhook.
    let (p50, p99, n) = webhook_latency(&args, &corpus)?;
    println!(
        "commit → webhook: p50 {:.1} ms, p99 {:.1} ms ({n} records at {}/s, commits every {} ms, \
         one request per record)",
        p50 * 1e3,
        p99 * 1e3,
        args.rate,
        args.commit_ms
    );
    Ok(ExitCode::SUCCESS)
}

/// Replays `corpus` into a fresh store with `outputs` (TOML sections) and waits until
/// everything routed is delivered: (seconds, items delivered).
fn timed_replay(
    dir: &Path,
    name: &str,
    corpus: &Path,
    outputs: &str,
) -> anyhow::Result<(f64, u64)> {
    let db = dir.join(format!("{name}.db"));
    let text = format!(
        "[store]\nurl = \"sqlite:{}\"\n\n[outbox]\npoll_ms = 20\n{outputs}",
        db.display()
    );
    let config = load_str(&text, name, dir).map_err(|p| anyhow::anyhow!("{p}"))?;
    let runtime = tokio::runtime::Runtime::new()?;
    let built = runtime.block_on(Outputs::build(&config))?;
    drop(runtime);
    let url: StoreUrl = config.store.url.parse()?;
    let mut options = Options::new(Format::Auto, 5000);
    options.outputs = built;
    options.outbox = config.outbox.clone();
    options.drain = Duration::from_secs(600);
    let started = Instant::now();
    let summary = replay(&[corpus.to_path_buf()], &url, &options)?;
    if summary.undelivered > 0 {
        bail!(
            "{} items were not delivered within 10 minutes",
            summary.undelivered
        );
    }
    Ok((started.elapsed().as_secs_f64(), summary.delivery.delivered))
}

/// moto started from its virtualenv, stopped on drop.
struct Moto {
    url: String,
    child: std::process::Child,
}

impl Moto {
    fn start(path: &Path) -> anyhow::Result<Moto> {
        if !path.exists() {
            bail!(
                "{} not found: install it (source scripts/servers.sh && install_servers) or give --s3-endpoint",
                path.display()
            );
        }
        let port = std::net::TcpListener::bind("127.0.0.1:0")?
            .local_addr()?
            .port();
        let child = std::process::Command::new(path)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .with_context(|| format!("cannot start {}", path.display()))?;
        let url = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            if Instant::now() > deadline {
                bail!("moto did not start within 30 s");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(Moto { url, child })
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn create_bucket(endpoint: &str, bucket: &str) -> anyhow::Result<()> {
    let runtime = tokio::runtime::Runtime::new()?;
    runtime.block_on(async {
        let aws = switchboard_io::aws::AwsConfig {
            region: Some("us-east-1".into()),
            profile: None,
            endpoint_url: Some(endpoint.to_owned()),
        };
        let sdk = aws.load().await;
        let config = aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build();
        aws_sdk_s3::Client::from_conf(config)
            .create_bucket()
            .bucket(bucket)
            .send()
            .await
            .with_context(|| format!("cannot create bucket {bucket} at {endpoint}"))?;
        Ok(())
    })
}

fn drop_schema(url: &str, schema: &str) {
    if let Ok(mut client) = postgres::Client::connect(url, postgres::NoTls) {
        let _ = client.batch_execute(&format!("DROP SCHEMA IF EXISTS {schema} CASCADE"));
    }
}

/// Feeds agent events at `args.rate` through the pipeline thread with a webhook rule;
/// (p50 s, p99 s, records).
fn webhook_latency(args: &Args, corpus: &Path) -> anyhow::Result<(f64, f64, usize)> {
    // Agent events, decoded from their bytes (so records carry their original bytes).
    let bytes = std::fs::read(corpus.join("agent-events.ndjson"))
        .context("the corpus has no agent events")?;
    let mut events = Vec::new();
    Decoder::new(Format::Auto).decode_slice(None, &bytes, &mut |item| {
        if let Ok(d) = item {
            if events.len() < args.latency_records {
                events.push(d);
            }
        }
        std::ops::ControlFlow::Continue(())
    });
    let ids: HashMap<String, usize> = events
        .iter()
        .enumerate()
        .filter_map(|(i, d)| match d.view() {
            Ok(RecordView::AgentEvent(e)) => Some((e.event_id.to_string(), i)),
            _ => None,
        })
        .collect();

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let arrivals: Arc<Mutex<HashMap<String, Instant>>> = Arc::default();
    let addr = runtime.block_on(receiver(Arc::clone(&arrivals)))?;

    let dir = TempDir::new()?;
    let text = format!(
        r#"
[store]
url = "sqlite:{}"

[outbox]
poll_ms = 1000

[[sinks]]
name = "crm"
type = "webhook"
url = "http://{addr}/hook"
concurrency = 16
body = {{ id = "{{{{EventId}}}}" }}

[[rules]]
name = "every-event"
kinds = ["record"]
sinks = ["crm"]
"#,
        dir.path().join("latency.db").display()
    );
    let config = load_str(&text, "latency", dir.path()).map_err(|p| anyhow::anyhow!("{p}"))?;
    let outputs = runtime.block_on(Outputs::build(&config))?;
    let url: StoreUrl = config.store.url.parse()?;
    let store = url.open()?;
    let mut pipeline =
        Pipeline::open(store, EngineConfig::default())?.with_rules(outputs.rules.clone());
    let wake = Arc::new(tokio::sync::Notify::new());
    {
        let wake = Arc::clone(&wake);
        pipeline.on_routed(Box::new(move || wake.notify_waiters()));
    }
    let delivery = deliver::Delivery {
        rules: Arc::new(outputs.rules.clone()),
        sinks: outputs.sinks.clone(),
        lookups: Arc::new(outputs.lookups.clone()),
        config: config.outbox.clone(),
        worker: config.worker().to_owned(),
        open_store: open_store(&url, config.worker()),
        wake,
        flush: Default::default(),
    };
    let (stop, stop_rx) = tokio::sync::watch::channel(false);
    let (mut workers, _) = {
        let _entered = runtime.enter();
        deliver::spawn(delivery, stop_rx)
    };

    let commits: Arc<Mutex<Vec<(Instant, u64)>>> = Arc::default();
    let (tx, rx) = switchboard_io::delivery::channel(64);
    let mut ingest = Ingest::new(
        pipeline,
        rx,
        Settings {
            commit_interval: Duration::from_millis(args.commit_ms),
            commit_when_idle: false,
            ..Settings::default()
        },
        Arc::new(AtomicBool::new(false)),
    )?;
    {
        let commits = Arc::clone(&commits);
        ingest.on_commit(Box::new(move |s| {
            if let Ok(mut c) = commits.lock() {
                c.push((Instant::now(), s.records));
            }
        }));
    }
    let thread = std::thread::spawn(move || ingest.run());

    // Feed at the rate, in 10 ms slices.
    let total = events.len();
    let started = Instant::now();
    let mut sent = 0;
    let mut events = events.into_iter();
    while sent < total {
        let due = ((started.elapsed().as_secs_f64() * f64::from(args.rate)) as usize).min(total);
        if due > sent {
            let chunk: Vec<_> = events.by_ref().take(due - sent).map(Ok).collect();
            sent += chunk.len();
            if tx
                .blocking_send(switchboard_io::Delivery::new("bench", chunk))
                .is_err()
            {
                bail!("the pipeline thread stopped");
            }
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    drop(tx);
    match thread.join() {
        Ok(r) => {
            r?;
        }
        Err(_) => bail!("the pipeline thread panicked"),
    }
    let deadline = Instant::now() + Duration::from_secs(120);
    while arrivals.lock().map_or(0, |a| a.len()) < ids.len() {
        if Instant::now() > deadline {
            bail!("the webhook did not get every record within 2 minutes");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = stop.send(true);
    runtime.block_on(async { while workers.join_next().await.is_some() {} });

    let commits = commits.lock().map(|c| c.clone()).unwrap_or_default();
    let arrivals = arrivals.lock().map(|a| a.clone()).unwrap_or_default();
    let mut latencies: Vec<f64> = Vec::with_capacity(arrivals.len());
    for (id, at) in &arrivals {
        let Some(&i) = ids.get(id) else { continue };
        let Some((committed, _)) = commits.iter().find(|(_, n)| *n > i as u64) else {
            continue;
        };
        latencies.push(at.saturating_duration_since(*committed).as_secs_f64());
    }
    if latencies.is_empty() {
        bail!("no latency measured");
    }
    latencies.sort_by(f64::total_cmp);
    let pct = |p: f64| latencies[((latencies.len() - 1) as f64 * p).round() as usize];
    Ok((pct(0.5), pct(0.99), latencies.len()))
}

/// A webhook receiver noting when each record's id first arrives.
async fn receiver(
    arrivals: Arc<Mutex<HashMap<String, Instant>>>,
) -> anyhow::Result<std::net::SocketAddr> {
    use axum::routing::post;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let app = axum::Router::new().route(
        "/hook",
        post(move |body: axum::body::Bytes| {
            let arrivals = Arc::clone(&arrivals);
            async move {
                let now = Instant::now();
                if let Ok(v) = serde_json::from_slice::<serde_json::Value>(&body) {
                    if let Some(id) = v["id"].as_str() {
                        if let Ok(mut a) = arrivals.lock() {
                            a.entry(id.to_owned()).or_insert(now);
                        }
                    }
                }
                "ok"
            }
        }),
    );
    tokio::spawn(async move {
        let _ = axum::serve(listener, app).await;
    });
    Ok(addr)
}
