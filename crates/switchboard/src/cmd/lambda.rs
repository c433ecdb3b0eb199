//! `switchboard lambda kinesis|sqs|eventbridge|firehose`: the binary as a Lambda function
//! (the `bootstrap` of a `provided.al2023` runtime; see the README's "Deploy as Lambda").
//!
//! The cold start loads and checks `switchboard.toml` (path in `SWITCHBOARD_CONFIG`),
//! opens the store and builds sinks and lookups ([`Handler::open`]); a problem there is
//! reported to the Runtime API's `/runtime/init/error`, so the function's first
//! invocation fails with the reason instead of a timeout. Then `lambda_runtime` polls
//! `/runtime/invocation/next`, and each event runs on the blocking pool through the
//! handler, which is synchronous (the store is).

use std::io::{Read, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use anyhow::{bail, Context};
use aws_lambda_events::event::firehose::{KinesisFirehoseEvent, KinesisFirehoseResponse};
use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::sqs::{SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::KinesisEventResponse;
use lambda_runtime::{service_fn, LambdaEvent};
use serde_json::value::RawValue;
use switchboard_pipeline::config;
use switchboard_pipeline::lambda::Handler;

/// The environment variable naming the config file.
pub const CONFIG_ENV: &str = "SWITCHBOARD_CONFIG";

#[derive(clap::Args)]
pub struct Args {
    /// Which trigger this function serves.
    #[arg(value_enum)]
    handler: Which,
    /// The configuration file (the same `switchboard.toml` as `run`; its `[lambda]`
    /// section holds the handlers' own settings). In a deployment package, e.g.
    /// `/var/task/switchboard.toml`.
    #[arg(long, short, value_name = "FILE", env = CONFIG_ENV, default_value = "switchboard.toml")]
    config: PathBuf,
}

#[derive(Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    /// A Kinesis event source mapping (agent events or contact records); answers
    /// `batchItemFailures` (set `FunctionResponseTypes: ReportBatchItemFailures`).
    Kinesis,
    /// A Firehose data transformation (enrichment, newline, dynamic partitioning keys).
    Firehose,
    /// An EventBridge rule's target (contact events).
    Eventbridge,
    /// An SQS event source mapping (contact events through a queue); answers
    /// `batchItemFailures` by message id.
    Sqs,
}

/// The command line, or, when the binary runs as a Lambda `bootstrap` (no arguments,
/// `AWS_LAMBDA_RUNTIME_API` set), `lambda HANDLER` with the function's configured handler
/// (`_HANDLER`: `kinesis`, `firehose`, `eventbridge` or `sqs`).
pub fn bootstrap_args(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    let handler = std::env::var("_HANDLER").unwrap_or_default();
    if args.len() == 1 && std::env::var_os("AWS_LAMBDA_RUNTIME_API").is_some() {
        let mut args = args;
        args.push("lambda".into());
        args.push(handler.into());
        return args;
    }
    args
}

/// The Lambda environment `lambda_runtime` needs (it panics without them).
const LAMBDA_ENV: &[&str] = &[
    "AWS_LAMBDA_RUNTIME_API",
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

pub fn run(args: Args) -> anyhow::Result<ExitCode> {
    let missing: Vec<&str> = LAMBDA_ENV
        .iter()
        .copied()
        .filter(|v| std::env::var_os(v).is_none())
        .collect();
    if !missing.is_empty() {
        bail!(
            "{} not set: `switchboard lambda` runs inside AWS Lambda (or under a local Runtime API such as cargo lambda watch), which sets them",
            missing.join(", ")
        );
    }
    // To stderr, which Lambda sends to CloudWatch Logs (not a terminal: no colours).
    super::run::init_tracing();
    let handler = match open(&args.config) {
        Ok(h) => Arc::new(h),
        Err(e) => {
            let message = format!("{e:#}");
            tracing::error!(error = %message, "cold start failed");
            if let Err(report) = report_init_error(&message) {
                tracing::error!(error = %format!("{report:#}"), "cannot report the error to /runtime/init/error");
            }
            return Ok(ExitCode::FAILURE);
        }
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the Lambda runtime's event loop")?;
    let which = args.handler;
    let h = Arc::clone(&handler);
    let result = runtime.block_on(async move {
        match which {
            Which::Kinesis => {
                lambda_runtime::run(service_fn(move |e: LambdaEvent<KinesisEvent>| {
                    let h = Arc::clone(&h);
                    blocking(move || -> anyhow::Result<KinesisEventResponse> {
                        Ok(h.kinesis(e.payload, deadline(&e.context)).response)
                    })
                }))
                .await
            }
            Which::Sqs => {
                lambda_runtime::run(service_fn(move |e: LambdaEvent<SqsEvent>| {
                    let h = Arc::clone(&h);
                    blocking(move || -> anyhow::Result<SqsBatchResponse> {
                        Ok(h.sqs(e.payload, deadline(&e.context)).response)
                    })
                }))
                .await
            }
            Which::Eventbridge => {
                lambda_runtime::run(service_fn(move |e: LambdaEvent<Box<RawValue>>| {
                    let h = Arc::clone(&h);
                    blocking(move || -> anyhow::Result<serde_json::Value> {
                        let a = h.eventbridge(e.payload.get().as_bytes(), deadline(&e.context))?;
                        Ok(serde_json::json!({"records": a.records, "bad": a.bad}))
                    })
                }))
                .await
            }
            Which::Firehose => {
                lambda_runtime::run(service_fn(move |e: LambdaEvent<KinesisFirehoseEvent>| {
                    let h = Arc::clone(&h);
                    blocking(move || -> anyhow::Result<KinesisFirehoseResponse> {
                        Ok(h.firehose(e.payload, deadline(&e.context))?.response)
                    })
                }))
                .await
            }
        }
    });
    drop(runtime);
    // The pipeline thread makes its last commit (a Runtime API that went away).
    if let Err(e) = handler.shutdown() {
        tracing::warn!(error = %format!("{e:#}"), "pipeline stopped with an error");
    }
    match result {
        Ok(()) => Ok(ExitCode::SUCCESS),
        Err(e) => bail!("the Lambda runtime stopped: {e}"),
    }
}

/// Loads and checks the config, then the cold start proper.
fn open(path: &std::path::Path) -> anyhow::Result<Handler> {
    let started = Instant::now();
    let config = config::load(path).map_err(|problems| {
        anyhow::anyhow!(
            "{} problem(s) in {} (set {CONFIG_ENV} to the config's path in the package):\n{problems}",
            problems.len(),
            path.display()
        )
    })?;
    let handler = Handler::open(&config)?;
    tracing::info!(
        config = %path.display(),
        cold_start_ms = started.elapsed().as_millis() as u64,
        "cold start done"
    );
    Ok(handler)
}

/// Runs a synchronous handler on the blocking pool; its error is the invocation's.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> anyhow::Result<T> + Send + 'static,
) -> Result<T, lambda_runtime::Error> {
    match tokio::task::spawn_blocking(f).await {
        Ok(Ok(v)) => Ok(v),
        Ok(Err(e)) => Err(format!("{e:#}").into()),
        Err(e) => Err(format!("the handler panicked: {e}").into()),
    }
}

/// The invocation's deadline as an `Instant`.
fn deadline(ctx: &lambda_runtime::Context) -> Instant {
    let left = ctx
        .deadline()
        .duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO);
    Instant::now() + left
}

/// POSTs a cold-start failure to `/runtime/init/error` (Lambda then fails the invocation
/// with it). A plain HTTP/1.1 request: the Runtime API is local and unencrypted.
fn report_init_error(message: &str) -> anyhow::Result<()> {
    let api = std::env::var("AWS_LAMBDA_RUNTIME_API").context("AWS_LAMBDA_RUNTIME_API")?;
    let body = serde_json::json!({
        "errorMessage": message,
        "errorType": "Runtime.ConfigError",
        "stackTrace": [],
    })
    .to_string();
    let mut stream = std::net::TcpStream::connect(&api)
        .with_context(|| format!("cannot connect to the Runtime API at {api}"))?;
    stream.set_read_timeout(Some(Duration::from_secs(5)))?;
    write!(
        stream,
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\nLambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    )?;
    let mut answer = String::new();
    let _ = stream.read_to_string(&mut answer);
    let status = answer.split_whitespace().nth(1).unwrap_or("");
    if !status.starts_with('2') {
        bail!(
            "the Runtime API answered {:?}",
            answer.lines().next().unwrap_or("")
        );
    }
    Ok(())
}
