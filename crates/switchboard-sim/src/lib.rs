//! A deterministic discrete-event simulation of an Amazon Connect contact center that
//! writes the three Connect data streams exactly as Connect does: agent events (Kinesis),
//! EventBridge contact events and contact records (CTRs), all built from the
//! `switchboard-model` types.
//!
//! ```no_run
//! use switchboard_sim::{SimConfig, Simulator};
//!
//! let sim = Simulator::new(SimConfig::new(50)).expect("valid config");
//! for emission in sim {
//!     // emission.at: delivery time; emission.record: a switchboard_model::Record
//!     let _ = emission;
//! }
//! ```
//!
//! How it fits together:
//! - [`config`]: what to simulate; `center` derives queues, routing profiles, hierarchy
//!   groups and agents from it; `demand` derives shifts and the daily arrival curve.
//! - [`sim`]: the event loop; handlers in `agents` (logins, statuses, heartbeats),
//!   `contacts` (a contact's life) and `routing` (matching contacts and agents)
//!   change the `state` and write records through `emit`.
//! - [`delivery`]: records leave in delivery order, with Connect's delivery artefacts.
//! - [`summary`]: a live view for dashboards; [`writer`]: NDJSON or Firehose-style files.
//!
//! The same config and seed always give byte-identical output, however it is consumed.
//! Durations in contact records are rounded from the exact millisecond spans the agent
//! and contact events show, so the three streams agree to within half a second.

mod agents;
mod center;
pub mod config;
mod contacts;
pub mod delivery;
mod demand;
mod emit;
mod names;
mod rng;
mod routing;
pub mod sim;
mod state;
pub mod summary;
pub mod writer;

pub use config::{parse_duration, ArtefactRates, ConfigError, SimConfig};
pub use delivery::Emission;
pub use sim::Simulator;
pub use summary::{Activity, QueueSummary, Summary, Totals};
pub use writer::{OutputFormat, OutputWriter, StreamStats, WriteError, WriteStats};
