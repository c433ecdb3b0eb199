//! The pipeline as a library: the one apply -> commit -> acknowledge loop every command
//! drives (run, demo, replay, the benches, the Lambda handlers), the topology that wires a
//! config into running parts, the routing rules that select what leaves the box,
//! enrichment, and the durable outbox sink workers deliver from.
//!
//! ```text
//! sources ─▶ Delivery channel ─▶ [ingest] thread ─▶ [pipeline]: engine apply, rules route
//!                                     │                 └─ commit: changes + outbox, one txn
//!                                     └─ acknowledgements after the commit
//! outbox ─▶ [deliver] workers: claim ─▶ [enrich] ─▶ sink ─▶ delivered / retry / dead letter
//! ```
//!
//! - [`pipeline`]: apply, route, commit; [`ingest`]: the thread that drives it from
//!   sources; [`service`]: `switchboard run` wired from a [`config`];
//! - [`rules`]: routing rules and EventBridge patterns; [`enrich`]: lookups before delivery;
//!   [`deliver`]: the outbox workers; [`outputs`]: sinks, lookups and rules built;
//! - [`files`]: the `files` source and `replay`; [`http`]: the shared HTTP listener;
//! - [`lambda`]: the Lambda handlers (Kinesis, SQS, EventBridge, Firehose transformation).

pub mod config;
#[cfg(feature = "connect")]
pub mod connect;
pub mod deliver;
pub mod enrich;
pub mod files;
pub mod http;
pub mod ingest;
pub mod lambda;
pub mod outputs;
pub mod pipeline;
pub mod rules;
pub mod service;

pub use pipeline::{lock, Pipeline, PipelineStats, PublishHook};
