//! `switchboard aws setup | status | teardown`: Connect data streaming in one command,
//! with a price on it.
//!
//! Setup reads what is there, makes a [`plan::Plan`] (create or reuse each stream, queue,
//! rule, bucket and role; associate each with the instance), prints it with a monthly
//! [`cost`] estimate from the [`prices`] table, and, unless it is a dry run, carries it
//! out, tagging everything it makes ([`tags`]) so that teardown finds exactly that and
//! nothing else, then writes a `switchboard.toml` ([`config_file`]).
//!
//! - [`plan`], [`cost`], [`prices`], [`tags`], [`config_file`]: pure, always built;
//! - `clients`, `resources` (one file per service), `setup`, `status`, `teardown`: the AWS
//!   calls, behind the `connect` feature (aws-sdk-connect, -firehose, -iam and
//!   -eventbridge are slow to build).

pub mod config_file;
pub mod cost;
pub mod error;
pub mod plan;
pub mod prices;
pub mod tags;

pub use error::SetupError;

#[cfg(feature = "connect")]
pub mod apply;
#[cfg(feature = "connect")]
pub mod clients;
#[cfg(feature = "connect")]
pub mod resources;
#[cfg(feature = "connect")]
pub mod status;
#[cfg(feature = "connect")]
pub mod teardown;
