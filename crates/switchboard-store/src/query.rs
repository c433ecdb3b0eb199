//! Filters and rows of the [`Store`](crate::Store) query methods, shared by every store
//! implementation so reports and the API do not depend on which one is behind them.

use serde::Serialize;
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{ContactTimeline, Interval, MetricCell, Transition};
use switchboard_model::{ContactRecord, Timestamp};

/// Which agents to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct AgentFilter {
    pub username: Option<String>,
    /// Effective state name (`available`, `on_contact`, or a custom status name).
    pub state: Option<String>,
    /// Routing profile name.
    pub routing_profile: Option<String>,
}

/// Which contacts to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct ContactFilter {
    /// `Some(true)`: not disconnected yet; `Some(false)`: disconnected or completed.
    pub active: Option<bool>,
    /// Queue name.
    pub queue: Option<String>,
    /// Agent ARN.
    pub agent_arn: Option<String>,
    /// Initiated at or after this instant.
    pub since: Option<Timestamp>,
    pub limit: Option<usize>,
}

/// One contact with everything known about it.
#[derive(Debug, Clone, Serialize)]
pub struct ContactDetail {
    pub timeline: ContactTimeline,
    /// The newest copy of its contact record, if one arrived.
    pub record: Option<ContactRecord>,
}

/// Which transitions to list. Empty fields match everything.
#[derive(Debug, Clone, Default)]
pub struct TransitionFilter {
    pub agent_arn: Option<String>,
    pub contact_id: Option<String>,
    /// Event time at or after this instant.
    pub from: Option<Timestamp>,
    /// Event time before this instant.
    pub to: Option<Timestamp>,
    /// Only transitions stored after this sequence number (for paging).
    pub after_seq: Option<i64>,
    pub limit: Option<usize>,
}

/// A stored transition and its sequence number (its position in derivation order).
#[derive(Debug, Clone, Serialize)]
pub struct TransitionRow {
    pub seq: i64,
    pub transition: Transition,
}

/// Which metrics to report.
///
/// `queue` and `agent` pick one queue (by name) or one agent (by ARN). Naming only one of
/// them reports only that dimension; naming neither reports every queue and agent.
#[derive(Debug, Clone)]
pub struct MetricQuery {
    pub interval: Interval,
    /// From the start of the interval holding this instant.
    pub from: Option<Timestamp>,
    /// Up to the end of the interval holding the instant just before this one.
    pub to: Option<Timestamp>,
    pub queue: Option<String>,
    pub agent: Option<String>,
}

impl MetricQuery {
    pub fn new(interval: Interval) -> Self {
        MetricQuery {
            interval,
            from: None,
            to: None,
            queue: None,
            agent: None,
        }
    }

    /// Cell start bounds `[from, to)` in epoch ms, widened to whole intervals.
    pub fn bounds_ms(&self) -> (i64, i64) {
        let ms = self.interval.millis();
        let from = self
            .from
            .map_or(i64::MIN, |t| self.interval.align(t.millis()));
        let to = self.to.map_or(i64::MAX, |t| {
            self.interval
                .align(t.millis().saturating_sub(1))
                .saturating_add(ms)
        });
        (from, to)
    }
}

/// Metrics of one queue or agent over one interval.
#[derive(Debug, Clone, Serialize)]
pub struct MetricRow {
    /// Interval start.
    pub start: Timestamp,
    pub kind: DimensionKind,
    /// Queue name or agent ARN.
    pub id: String,
    pub cell: MetricCell,
}
