//! The heart of switchboard: what hand-written Lambdas try to do with `if` chains over
//! agent-event snapshots, done right.
//!
//! - [`agent`]: the per-agent state machine (transitions, effective state);
//! - [`contact`]: contact timelines joining contact events, agent transitions and records,
//!   with post-contact triggers;
//! - [`metrics`]: per-queue and per-agent interval metrics as additive cells;
//! - [`alerts`]: long hold, long ACW, long custom status, long queue wait;
//! - [`check`]: plausibility checks a record passes before it touches any state;
//! - [`engine`]: applies records to all of the above and hands back what changed.
//!
//! Pure and deterministic: no I/O, no clock, no async. Bytes are decoded by
//! `switchboard-model` before they get here; state is persisted by `switchboard-store`.

pub mod agent;
pub mod alerts;
pub mod check;
pub mod contact;
pub mod engine;
pub mod metrics;
pub mod transition;

pub use agent::{AgentState, EffectiveState};
pub use alerts::{Alert, AlertConfig, AlertEvent, AlertKind};
pub use contact::{ContactTimeline, EntrySource, NewEntry, TimelineEntry, Trigger, TriggerKind};
pub use engine::{AcceptedRecord, Applied, Changes, Engine, EngineConfig, EngineMeta};
pub use metrics::{Interval, MetricCell, MetricKey};
pub use transition::{Transition, TransitionKind};
