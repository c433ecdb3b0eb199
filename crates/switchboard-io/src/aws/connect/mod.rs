//! The Amazon Connect API, for what the data streams do not carry: every agent's
//! current state at start-up and for agents gone silent (GetCurrentUserData), contact
//! attributes for rules on contact events (GetContactAttributes), and the names of
//! users, queues and routing profiles (ListUsers, ListQueues, ListRoutingProfiles).
//!
//! - [`config`]: `[connect]` (always compiled, so `validate` can explain it);
//! - `api`: the calls, through token buckets, retried with backoff when throttled;
//! - `agents`: an agent's current data as an agent event for the one pipeline loop;
//! - `attributes`: GetContactAttributes as a cached lookup.
//!
//! Everything but `config` needs the Cargo feature `connect` (aws-sdk-connect adds
//! minutes to a clean build).

pub mod config;

#[cfg(feature = "connect")]
pub mod agents;
#[cfg(feature = "connect")]
pub mod api;
#[cfg(feature = "connect")]
pub mod attributes;

pub use config::{ConnectConfig, RateConfig, CONTACT_ATTRIBUTES_LOOKUP};

#[cfg(feature = "connect")]
pub use api::{ApiError, ConnectApi, Named, Names, User};
