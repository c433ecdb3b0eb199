//! `switchboard bench firehose`: Firehose HTTP endpoint requests per second and latency
//! percentiles under wrk, through the real endpoint, decoder, engine and SQLite store.
//!
//! Simulator records are packed into Firehose request bodies (`--records` per request,
//! base64, as Firehose sends them). The endpoint (`switchboard-io`'s `firehose_http`
//! router) is served on 127.0.0.1 by axum; a pipeline thread applies each delivery and
//! acknowledges it after the SQLite commit that includes it, so every 200 wrk counts is a
//! stored request. wrk (Debian package `wrk`) drives it with a Lua script that gives each
//! request its own `X-Amz-Firehose-Request-Id` (the same id would be answered from the
//! dedupe window without being applied). Bodies are cycled, so after the first pass the
//! engine sees duplicates, which it still has to look up.
//!
//! The pipeline commits group-wise: it drains every delivery waiting, applies them,
//! commits once and acknowledges them all (`--commit-every-ms` makes it wait that long
//! between commits instead, as a once-a-second committer would). Build with `--release`
//! for figures that mean anything.

use std::fmt::Write as _;
use std::process::{Command, ExitCode};
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use serde_json::json;
use switchboard_engine::EngineConfig;
use switchboard_io::delivery;
use switchboard_io::sources::firehose_http::FirehoseHttpConfig;
use switchboard_io::sources::http::Secret;
use switchboard_io::SourceContext;
use switchboard_model::envelope::encode_base64;
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::SqliteStore;
use tempfile::TempDir;

use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use switchboard_pipeline::ingest::{Ingest, Settings};
use switchboard_pipeline::Pipeline;

const KEY: &str = "bench-access-key";

#[derive(clap::Args)]
pub struct Args {
    /// How long wrk runs, in seconds.
    #[arg(long, default_value_t = 10)]
    seconds: u32,
    /// wrk connections (concurrent requests).
    #[arg(long, default_value_t = 32)]
    connections: u32,
    /// wrk threads.
    #[arg(long, default_value_t = 2)]
    threads: u32,
    /// Connect records per Firehose request.
    #[arg(long, default_value_t = 50)]
    records: usize,
    /// Distinct request bodies, cycled.
    #[arg(long, default_value_t = 400)]
    bodies: usize,
    /// Agents of the simulated center the records come from.
    #[arg(long, default_value_t = 500)]
    agents: u32,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    /// Wait this long between commits (0: commit as soon as the waiting deliveries are
    /// applied).
    #[arg(long, default_value_t = 0)]
    commit_every_ms: u64,
    /// The wrk binary.
    #[arg(long, default_value = "wrk")]
    wrk: String,
}

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    if args.records == 0 || args.bodies == 0 || args.seconds == 0 || args.connections == 0 {
        bail!("--records, --bodies, --seconds and --connections must be above 0");
    }
    if Command::new(&args.wrk).arg("--version").output().is_err() {
        bail!(
            "{} not found: install wrk (Debian: apt-get install -y wrk) or pass --wrk",
            args.wrk
        );
    }
    let dir = TempDir::new()?;

    // Request bodies: the records arrays of `--bodies` requests, one JSON array a line.
    let needed = args.records * args.bodies;
    let mut config = SimConfig::new(args.agents);
    config.seed = args.seed;
    config.duration_secs = 7 * 24 * 3600;
    let records: Vec<String> = Simulator::new(config)
        .context("invalid simulator options")?
        .take(needed)
        .map(|e| serde_json::to_vec(&e.record).map(|b| encode_base64(&b)))
        .collect::<Result<_, _>>()?;
    if records.len() < needed {
        bail!(
            "the simulator gave {} records, fewer than the {needed} needed: use more --agents",
            records.len()
        );
    }
    let mut lines = String::new();
    let mut body_bytes = 0usize;
    for chunk in records.chunks(args.records) {
        let array: Vec<_> = chunk.iter().map(|d| json!({ "data": d })).collect();
        let line = serde_json::to_string(&array)?;
        body_bytes += line.len();
        lines.push_str(&line);
        lines.push('\n');
    }
    let bodies_path = dir.path().join("bodies.ndjson");
    std::fs::write(&bodies_path, lines)?;
    let script_path = dir.path().join("firehose.lua");
    std::fs::write(&script_path, lua_script(&bodies_path.display().to_string()))?;

    // The endpoint, and a pipeline acknowledging after each commit.
    let pipeline = Pipeline::open(
        Box::new(SqliteStore::open(&dir.path().join("bench.db"))?),
        EngineConfig::default(),
    )?;
    let (tx, rx) = delivery::channel(1024);
    let settings = Settings {
        commit_interval: Duration::from_millis(args.commit_every_ms),
        max_batch_records: usize::MAX,
        commit_when_idle: false,
        ..Settings::default()
    };
    let ingest = Ingest::new(pipeline, rx, settings, Arc::new(AtomicBool::new(false)))?;
    let applier = std::thread::Builder::new()
        .name("bench-pipeline".into())
        .spawn(move || ingest.run())?;

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()?;
    let (stop, shutdown) = tokio::sync::watch::channel(false);
    let endpoint = FirehoseHttpConfig {
        access_key: Some(Secret(KEY.into())),
        ..FirehoseHttpConfig::default()
    };
    let router = endpoint.router(SourceContext::new(tx, shutdown.clone()))?;
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))?;
    let addr = listener.local_addr()?;
    let server = runtime.spawn(async move {
        let mut shutdown = shutdown;
        axum::serve(listener, router)
            .with_graceful_shutdown(async move {
                let _ = shutdown.wait_for(|s| *s).await;
            })
            .await
    });

    println!(
        "firehose endpoint on {addr}: {} bodies of {} records ({:.1} KB average), wrk -t{} -c{} -d{}s",
        args.bodies,
        args.records,
        body_bytes as f64 / args.bodies as f64 / 1e3,
        args.threads,
        args.connections,
        args.seconds
    );
    let started = Instant::now();
    let out = Command::new(&args.wrk)
        .arg(format!("-t{}", args.threads))
        .arg(format!("-c{}", args.connections))
        .arg(format!("-d{}s", args.seconds))
        .arg("--latency")
        .arg("-s")
        .arg(&script_path)
        .arg(format!("http://{addr}/firehose"))
        .output()
        .with_context(|| format!("cannot run {}", args.wrk))?;
    let elapsed = started.elapsed();

    // Stop: the server finishes its requests, dropping the router drops the last
    // delivery sender, and the pipeline thread ends after its last commit.
    let _ = stop.send(true);
    runtime
        .block_on(server)
        .context("the HTTP server task failed")?
        .context("the HTTP server failed")?;
    drop(runtime);
    let stats = applier
        .join()
        .map_err(|_| anyhow::anyhow!("the pipeline thread panicked"))??;

    let stdout = String::from_utf8_lossy(&out.stdout);
    if !out.status.success() {
        bail!(
            "wrk failed ({}): {}{}",
            out.status,
            stdout,
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let figures = WrkFigures::parse(&stdout).context("cannot read wrk's output")?;
    println!("{}", stdout.trim_end());
    println!();
    println!(
        "requests: {:.0}/s ({} in {:.1} s), {} not 2xx",
        figures.requests_per_sec,
        figures.requests,
        elapsed.as_secs_f64(),
        figures.non_2xx
    );
    println!(
        "records:  {:.0}/s into the store ({} applied, {} duplicates, {} dead letters, {} commits)",
        figures.requests_per_sec * args.records as f64,
        stats.records - stats.duplicates - stats.stale,
        stats.duplicates + stats.stale,
        stats.bad,
        stats.commits
    );
    println!(
        "latency:  p50 {}, p90 {}, p99 {} (request sent to 200 after commit)",
        fmt_ms(figures.p50_ms),
        fmt_ms(figures.p90_ms),
        fmt_ms(figures.p99_ms)
    );
    if figures.non_2xx > 0 {
        eprintln!("warning: {} responses were not 2xx", figures.non_2xx);
        return Ok(ExitCode::FAILURE);
    }
    Ok(ExitCode::SUCCESS)
}

/// The wrk script: each thread reads the bodies, and each request gets a fresh request
/// id (header and body agree) and the next body.
fn lua_script(bodies: &str) -> String {
    let mut s = String::new();
    let _ = write!(
        s,
        r#"local bodies = {{}}
for line in io.lines({bodies:?}) do bodies[#bodies + 1] = line end
local counter = 0
local thread_id = 0
local next_thread = 0
function setup(thread)
  next_thread = next_thread + 1
  thread:set("tid", next_thread)
end
function init(args)
  thread_id = tid or 0
end
function request()
  counter = counter + 1
  local id = string.format("bench-%d-%d", thread_id, counter)
  local records = bodies[(counter % #bodies) + 1]
  local body = '{{"requestId":"' .. id .. '","timestamp":1700000000000,"records":' .. records .. '}}'
  local headers = {{}}
  headers["Content-Type"] = "application/json"
  headers["X-Amz-Firehose-Protocol-Version"] = "1.0"
  headers["X-Amz-Firehose-Request-Id"] = id
  headers["X-Amz-Firehose-Access-Key"] = "{KEY}"
  return wrk.format("POST", nil, headers, body)
end
"#
    );
    s
}

/// What wrk printed, in numbers.
#[derive(Debug, Default, PartialEq)]
struct WrkFigures {
    requests: u64,
    requests_per_sec: f64,
    non_2xx: u64,
    p50_ms: f64,
    p90_ms: f64,
    p99_ms: f64,
}

impl WrkFigures {
    fn parse(out: &str) -> anyhow::Result<Self> {
        let mut f = WrkFigures::default();
        let (mut rps, mut p99) = (false, false);
        for line in out.lines().map(str::trim) {
            let words: Vec<&str> = line.split_whitespace().collect();
            match words.as_slice() {
                ["Requests/sec:", v] => {
                    f.requests_per_sec = v.parse()?;
                    rps = true;
                }
                ["50%", v] => f.p50_ms = latency_ms(v)?,
                ["90%", v] => f.p90_ms = latency_ms(v)?,
                ["99%", v] => {
                    f.p99_ms = latency_ms(v)?;
                    p99 = true;
                }
                ["Non-2xx", "or", "3xx", "responses:", n] => f.non_2xx = n.parse()?,
                [n, "requests", "in", ..] => f.requests = n.parse()?,
                _ => {}
            }
        }
        anyhow::ensure!(rps && p99, "no Requests/sec or 99% latency line");
        Ok(f)
    }
}

/// `812.00us`, `3.21ms`, `1.02s`, `2.00m` as milliseconds.
fn latency_ms(v: &str) -> anyhow::Result<f64> {
    let split = v
        .find(|c: char| c.is_ascii_alphabetic())
        .with_context(|| format!("no unit in {v:?}"))?;
    let (n, unit) = v.split_at(split);
    let n: f64 = n.parse()?;
    Ok(match unit {
        "us" => n / 1e3,
        "ms" => n,
        "s" => n * 1e3,
        "m" => n * 60e3,
        other => bail!("unknown unit {other:?} in {v:?}"),
    })
}

fn fmt_ms(ms: f64) -> String {
    if ms < 1.0 {
        format!("{:.0} us", ms * 1e3)
    } else {
        format!("{ms:.1} ms")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const WRK: &str = "Running 10s test @ http://127.0.0.1:41234/firehose
  2 threads and 32 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency    12.34ms    3.21ms  80.00ms   90.00%
    Req/Sec     1.30k   100.00     1.50k    70.00%
  Latency Distribution
     50%   11.90ms
     75%   13.00ms
     90%   15.50ms
     99%    1.02s
  25912 requests in 10.00s, 3.95MB read
  Non-2xx or 3xx responses: 3
Requests/sec:   2590.47
Transfer/sec:    404.47KB
";

    #[test]
    fn reads_wrk_output() {
        let f = WrkFigures::parse(WRK).unwrap();
        assert_eq!(
            f,
            WrkFigures {
                requests: 25912,
                requests_per_sec: 2590.47,
                non_2xx: 3,
                p50_ms: 11.9,
                p90_ms: 15.5,
                p99_ms: 1020.0,
            }
        );
        assert!(WrkFigures::parse("wrk: connection refused").is_err());
        assert_eq!(latency_ms("812.00us").unwrap(), 0.812);
    }

    #[test]
    fn lua_script_sets_matching_ids() {
        let s = lua_script("/tmp/bodies");
        assert!(s.contains("\"/tmp/bodies\""));
        assert!(s.contains(r#"headers["X-Amz-Firehose-Request-Id"] = id"#));
        assert!(s.contains(r#"'{"requestId":"' .. id"#));
    }
}
