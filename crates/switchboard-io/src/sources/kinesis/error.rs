//! Why the Kinesis source stopped or could not start.

use crate::leases::LeaseError;

#[derive(Debug, thiserror::Error)]
pub enum KinesisError {
    #[error("kinesis source: {0}")]
    Config(String),
    #[error("kinesis stream {stream}: {operation} failed: {message}")]
    Stream {
        stream: String,
        operation: &'static str,
        message: String,
    },
    #[error("kinesis stream {stream}, {shard}: {operation} failed: {message}")]
    Shard {
        stream: String,
        shard: String,
        operation: &'static str,
        message: String,
    },
    #[error(
        "kinesis stream {stream}, {shard}: sequence number {sequence:?} from GetRecords is not one"
    )]
    BadSequence {
        stream: String,
        shard: String,
        sequence: String,
    },
    #[error("kinesis stream {stream}: {source}")]
    Lease {
        stream: String,
        #[source]
        source: LeaseError,
    },
    #[error("kinesis stream {stream}: the pipeline stopped before the source was told to")]
    PipelineClosed { stream: String },
}
