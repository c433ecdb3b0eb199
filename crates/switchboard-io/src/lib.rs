//! switchboard's I/O: sources (where Connect data comes in), sinks (where what the rules
//! route goes out), lookups (what enrichment reads), and the contract between a source and
//! the pipeline that applies what it delivers.
//!
//! A source decodes what it receives (with `switchboard-model`'s decoder) and hands the
//! pipeline [`Delivery`]s through a bounded channel. Each delivery may carry an
//! acknowledgement that the pipeline fires only after the commit that includes the
//! delivery's records is durable in the store. That is when a source may checkpoint:
//! a Kinesis lease moves forward, a Firehose request gets its 200, an SQS message is
//! deleted. Everything is at-least-once up to that point, and the engine dedupes.
//!
//! - [`delivery`]: the contract;
//! - [`aws`]: the AWS client configuration every AWS source shares;
//! - [`context`]: what every source is given (the delivery channel, the shutdown signal);
//! - [`leases`]: the DynamoDB lease table (KCL schema) that shares Kinesis shards
//!   between workers;
//! - `sources/`: one module per source;
//! - `sinks/`: where routed items go (S3, OpenSearch, PostgreSQL, webhooks, notifications,
//!   stdout and files, dead letters), delivered from the pipeline's durable outbox;
//! - `lookups/`: enrichment tables (DynamoDB, PostgreSQL, CSV/JSON files) behind a cache;
//! - `pg`: what the PostgreSQL sink and lookup share (their `url` / `url_env`, connecting,
//!   describing errors);
//! - [`problems`]: configuration problems, each with its key path.

pub mod aws;
mod civil;
pub mod context;
pub mod delivery;
pub mod leases;
pub mod lookups;
mod pg;
pub mod problems;
pub mod sinks;
pub mod sources;

pub use context::SourceContext;
pub use delivery::{Ack, AckError, Delivery, DeliveryReceiver, DeliverySender, Partition};
pub use problems::{Problem, Problems};
