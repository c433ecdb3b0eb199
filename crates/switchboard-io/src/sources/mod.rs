//! One module per source. Each has a serde `…Config` (our config: unknown fields are
//! refused) with an `example()`, and an entry point `switchboard run` wires up:
//!
//! - [`firehose_http`]: the Firehose HTTP endpoint destination (an axum `Router`);
//! - [`eventbridge_http`]: an HTTP target for an EventBridge API destination (a `Router`);
//! - [`kinesis`]: a Kinesis data stream, its shards shared by workers through leases
//!   (`run` until shutdown);
//! - [`sqs`]: an SQS queue that EventBridge rules feed, long-polled (`run` until shutdown);
//! - [`http`] and [`filter`]: what the HTTP sources share (the key check, waiting for the
//!   acknowledgement) and the event-type filter of the EventBridge sources.

pub mod eventbridge_http;
pub mod filter;
pub mod firehose_http;
pub mod http;
pub mod kinesis;
pub mod sqs;
