//! One module per subcommand: `Args` (clap) and `run`.

#[cfg(feature = "connect")]
pub mod aws;
pub mod bench;
pub mod bench_ceiling;
pub mod bench_firehose;
pub mod bench_kinesis;
pub mod bench_latency;
pub mod bench_memory;
pub mod bench_sinks;
pub mod decode;
pub mod demo;
pub mod dlq;
pub mod lambda;
pub mod replay;
pub mod report;
pub mod run;
pub mod serve_args;
pub mod simulate;
pub mod store;
pub mod transitions;
pub mod validate;
