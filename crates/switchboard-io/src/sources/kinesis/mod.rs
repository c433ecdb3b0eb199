//! The Kinesis Data Streams source: Connect's agent event stream (or contact record
//! stream) read with `GetRecords`, one task per shard, by one or more `switchboard run`
//! workers that share the shards through a DynamoDB lease table in the KCL's schema.
//!
//! How the parts fit:
//! - [`KinesisConfig`] (`config`): the stream, the application (lease table) name, where
//!   new shards start, lease and polling timings;
//! - `worker`: lists shards and creates their leases (`shards`: parents before
//!   children), takes, renews and balances leases (`crate::leases`), runs the shard tasks;
//! - `consumer`: one shard task — read, decode, deliver, checkpoint after the pipeline's
//!   acknowledgement (`acks`), back off when throttled (`backoff`), renew expired
//!   iterators, hand a shard over gracefully;
//! - `api`: the Kinesis calls, behind a trait for tests;
//! - [`producer`]: the writing end (create a stream, put records with Connect's partition
//!   keys), for benches and tests against local servers.
//!
//! Delivery guarantees: every record is delivered at least once. A checkpoint is written
//! only for records the pipeline has stored, so a crash or a lease moving to another
//! worker replays at most the records after the last checkpoint; the engine drops those it
//! already applied (EventId dedupe and stale-event checks, against the agent state the
//! pipeline reloads from the shared store when a shard arrives: see
//! [`Partition`](crate::delivery::Partition)). Per partition key (agent ARN, contact id),
//! records are delivered in order, across splits and merges too: a child shard is read
//! only after its parents were read to their end.
//!
//! Run [`run`] while the pipeline keeps committing: on shutdown the shard tasks wait (up
//! to a third of the lease duration) for the acknowledgements they are owed, checkpoint
//! and release their leases, so the pipeline must still be committing then.

mod acks;
mod api;
mod backoff;
mod config;
mod consumer;
mod error;
pub mod producer;
mod shards;
mod worker;

/// The SDK clients [`run_with_clients`] takes.
pub use aws_sdk_dynamodb::Client as DynamoClient;
pub use aws_sdk_kinesis::Client as KinesisClient;

pub use api::{
    ApiError, KinesisApi, Page, RawRecord, SdkKinesis, ShardInfo, StartAt, StreamIdentity,
};
pub use config::{KinesisConfig, StartPosition};
pub use consumer::decode_records;
pub use error::KinesisError;

use crate::context::SourceContext;
use crate::leases::LeaseTable;

/// Runs the source until `ctx.shutdown`: Kinesis and DynamoDB clients from
/// `config.aws` (and `dynamodb_endpoint_url`), then [`run_with_clients`].
pub async fn run(config: KinesisConfig, ctx: SourceContext) -> Result<(), KinesisError> {
    config.validate()?;
    let sdk = config.aws.load().await;
    let dynamo = match &config.dynamodb_endpoint_url {
        Some(url) => DynamoClient::from_conf(
            aws_sdk_dynamodb::config::Builder::from(&sdk)
                .endpoint_url(url)
                .build(),
        ),
        None => DynamoClient::new(&sdk),
    };
    run_with_clients(KinesisClient::new(&sdk), dynamo, config, ctx).await
}

/// Runs the source with given clients until `ctx.shutdown`: describes the stream, opens
/// (or creates) the lease table and checks it belongs to this stream, then works.
pub async fn run_with_clients(
    kinesis: KinesisClient,
    dynamo: DynamoClient,
    config: KinesisConfig,
    ctx: SourceContext,
) -> Result<(), KinesisError> {
    config.validate()?;
    let api = SdkKinesis::new(
        kinesis,
        config.stream_name(),
        config.stream_arn().map(str::to_string),
    );
    let stream = api.describe().await.map_err(|e| KinesisError::Stream {
        stream: config.stream.clone(),
        operation: "DescribeStreamSummary",
        message: e.to_string(),
    })?;
    let table = LeaseTable::open(dynamo, &config.application, &stream.arn)
        .await
        .map_err(|source| KinesisError::Lease {
            stream: stream.name.clone(),
            source,
        })?;
    worker::Worker::new(config, stream, table, api, ctx)
        .run()
        .await
}
