//! Historical metrics per queue and per agent, in 15-minute cells.
//!
//! Cells hold sums, counts and a maximum, never averages, so cells add up into hours and
//! days exactly, and averages (handle time, hold, ACW) and ratios (service level,
//! abandonment) are computed at read time. The engine emits *deltas*: a contact record
//! adds its contribution; an updated copy of the record subtracts the old contribution
//! and adds the new one. The store applies deltas additively.
//!
//! Metrics come from contact records: they are complete and authoritative (Connect's own
//! historical reports use them), and they carry the durations.

use serde::{Deserialize, Serialize};
use switchboard_model::view::{self, ContactRecordView};
use switchboard_model::Timestamp;

/// Width of a stored cell.
pub const CELL_MS: i64 = 15 * 60 * 1000;

/// What a metric row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DimensionKind {
    Queue,
    Agent,
}

impl DimensionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Queue => "queue",
            Self::Agent => "agent",
        }
    }
}

/// A cell: a 15-minute interval of one queue or agent.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct MetricKey {
    /// Interval start, epoch ms, aligned to [`CELL_MS`].
    pub start_ms: i64,
    pub kind: DimensionKind,
    /// Queue name or agent ARN.
    pub id: String,
}

/// Sums and counts of one cell (or of several cells added together).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MetricCell {
    /// Contacts that entered the queue.
    pub offered: i64,
    /// Contacts an agent handled.
    pub handled: i64,
    /// Contacts that left the queue without reaching an agent.
    pub abandoned: i64,
    /// Handled contacts answered within the queue's service-level threshold.
    pub answered_in_sl: i64,
    /// Interaction + hold + ACW, seconds.
    pub handle_s: i64,
    pub talk_s: i64,
    pub hold_s: i64,
    pub holds: i64,
    pub acw_s: i64,
    /// Time in queue of handled contacts, seconds.
    pub answer_wait_s: i64,
    /// Time in queue of abandoned contacts, seconds.
    pub abandon_wait_s: i64,
    /// Longest time in queue (a maximum: it does not subtract).
    pub longest_wait_s: i64,
}

impl MetricCell {
    /// Adds `other` (`sign` -1 subtracts; the maximum only grows). Saturating: a cell
    /// never wraps around, whatever a record (or a cell an older version stored) holds.
    pub fn add(&mut self, other: &MetricCell, sign: i64) {
        let add = |a: &mut i64, b: i64| *a = a.saturating_add(sign.saturating_mul(b));
        add(&mut self.offered, other.offered);
        add(&mut self.handled, other.handled);
        add(&mut self.abandoned, other.abandoned);
        add(&mut self.answered_in_sl, other.answered_in_sl);
        add(&mut self.handle_s, other.handle_s);
        add(&mut self.talk_s, other.talk_s);
        add(&mut self.hold_s, other.hold_s);
        add(&mut self.holds, other.holds);
        add(&mut self.acw_s, other.acw_s);
        add(&mut self.answer_wait_s, other.answer_wait_s);
        add(&mut self.abandon_wait_s, other.abandon_wait_s);
        self.longest_wait_s = self.longest_wait_s.max(other.longest_wait_s);
    }

    fn avg(sum: i64, n: i64) -> Option<f64> {
        (n > 0).then(|| sum as f64 / n as f64)
    }

    /// Average handle time, seconds.
    pub fn average_handle_time(&self) -> Option<f64> {
        Self::avg(self.handle_s, self.handled)
    }
    pub fn average_hold_time(&self) -> Option<f64> {
        Self::avg(self.hold_s, self.handled)
    }
    pub fn average_acw_time(&self) -> Option<f64> {
        Self::avg(self.acw_s, self.handled)
    }
    pub fn average_answer_wait(&self) -> Option<f64> {
        Self::avg(self.answer_wait_s, self.handled)
    }
    /// Share of offered contacts answered within the threshold, in percent.
    pub fn service_level(&self) -> Option<f64> {
        (self.offered > 0).then(|| 100.0 * self.answered_in_sl as f64 / self.offered as f64)
    }
    /// Share of offered contacts abandoned, in percent.
    pub fn abandonment_rate(&self) -> Option<f64> {
        (self.offered > 0).then(|| 100.0 * self.abandoned as f64 / self.offered as f64)
    }
}

/// The metric-relevant facts of a contact record, kept so that an updated copy can take
/// back what the previous copy contributed.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RecordSummary {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enqueued_at: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue_s: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub agent_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connected_at: Option<Timestamp>,
    pub talk_s: i64,
    pub hold_s: i64,
    pub holds: i64,
    pub acw_s: i64,
}

impl RecordSummary {
    pub fn of(r: &ContactRecordView<'_>) -> Self {
        let agent = r.agent.as_ref();
        let queue = r.queue.as_ref();
        RecordSummary {
            queue: queue.and_then(|q| view::owned(&q.name)),
            enqueued_at: queue.and_then(|q| q.enqueue_timestamp),
            queue_s: queue.and_then(|q| {
                q.duration.or_else(|| {
                    Some(
                        q.dequeue_timestamp?
                            .secs()
                            .saturating_sub(q.enqueue_timestamp?.secs()),
                    )
                })
            }),
            agent_arn: agent.and_then(|a| view::owned(&a.arn)),
            connected_at: agent.and_then(|a| a.connected_to_agent_timestamp),
            talk_s: agent
                .and_then(|a| a.agent_interaction_duration)
                .unwrap_or(0),
            hold_s: agent.and_then(|a| a.customer_hold_duration).unwrap_or(0),
            holds: agent.and_then(|a| a.number_of_holds).unwrap_or(0),
            acw_s: agent
                .and_then(|a| a.after_contact_work_duration)
                .unwrap_or(0),
        }
    }

    /// The cells this record adds to. Queue cells are placed by enqueue time (or by
    /// connect time for contacts that were never queued, such as outbound calls); agent
    /// cells by connect time.
    pub fn contributions(&self, sl_threshold_s: i64) -> Vec<(MetricKey, MetricCell)> {
        let mut out = Vec::with_capacity(2);
        let handled = self.connected_at.is_some();
        let mut work = MetricCell::default();
        if handled {
            work.handled = 1;
            work.talk_s = self.talk_s;
            work.hold_s = self.hold_s;
            work.holds = self.holds;
            work.acw_s = self.acw_s;
            work.handle_s = self
                .talk_s
                .saturating_add(self.hold_s)
                .saturating_add(self.acw_s);
        }
        if let Some(queue) = &self.queue {
            let mut cell = work;
            let at = match self.enqueued_at {
                Some(enq) => {
                    let wait = self.queue_s.unwrap_or(0).max(0);
                    cell.offered = 1;
                    cell.longest_wait_s = wait;
                    if handled {
                        cell.answer_wait_s = wait;
                        cell.answered_in_sl = i64::from(wait <= sl_threshold_s);
                    } else {
                        cell.abandoned = 1;
                        cell.abandon_wait_s = wait;
                    }
                    Some(enq)
                }
                None => self.connected_at,
            };
            if let Some(at) = at {
                out.push((key(at, DimensionKind::Queue, queue), cell));
            }
        }
        if let (Some(agent), Some(at)) = (&self.agent_arn, self.connected_at) {
            out.push((key(at, DimensionKind::Agent, agent), work));
        }
        out
    }
}

fn key(at: Timestamp, kind: DimensionKind, id: &str) -> MetricKey {
    MetricKey {
        start_ms: at.millis().div_euclid(CELL_MS) * CELL_MS,
        kind,
        id: id.to_owned(),
    }
}

/// Reporting interval.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum Interval {
    #[serde(rename = "15m")]
    Min15,
    #[serde(rename = "1h")]
    Hour,
    #[serde(rename = "1d")]
    Day,
}

impl Interval {
    pub fn millis(self) -> i64 {
        match self {
            Self::Min15 => CELL_MS,
            Self::Hour => 3_600_000,
            Self::Day => 86_400_000,
        }
    }

    /// The start of the interval holding `ms`.
    pub fn align(self, ms: i64) -> i64 {
        ms.div_euclid(self.millis()) * self.millis()
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Min15 => "15m",
            Self::Hour => "1h",
            Self::Day => "1d",
        }
    }
}

impl std::str::FromStr for Interval {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "15m" | "15min" => Ok(Self::Min15),
            "1h" | "hour" | "60m" => Ok(Self::Hour),
            "1d" | "day" | "24h" => Ok(Self::Day),
            other => Err(format!(
                "unknown interval {other:?}; expected 15m, 1h or 1d"
            )),
        }
    }
}

/// Adds 15-minute cells up into `interval`s: (interval start, kind, id) → cell.
pub fn roll_up<'a>(
    cells: impl IntoIterator<Item = (&'a MetricKey, &'a MetricCell)>,
    interval: Interval,
) -> std::collections::BTreeMap<(i64, DimensionKind, String), MetricCell> {
    let mut out = std::collections::BTreeMap::new();
    for (k, c) in cells {
        let slot: &mut MetricCell = out
            .entry((interval.align(k.start_ms), k.kind, k.id.clone()))
            .or_default();
        slot.add(c, 1);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn summary(enq: &str, wait: i64, connected: Option<&str>) -> RecordSummary {
        RecordSummary {
            queue: Some("Sales".into()),
            enqueued_at: Some(Timestamp::parse(enq).unwrap()),
            queue_s: Some(wait),
            agent_arn: connected.map(|_| "agent-1".into()),
            connected_at: connected.map(|c| Timestamp::parse(c).unwrap()),
            talk_s: 100,
            hold_s: 20,
            holds: 1,
            acw_s: 30,
        }
    }

    #[test]
    fn handled_and_abandoned_contributions() {
        let handled =
            summary("2026-01-05T09:14:50Z", 15, Some("2026-01-05T09:15:05Z")).contributions(20);
        assert_eq!(handled.len(), 2);
        let (qk, qc) = &handled[0];
        assert_eq!(qk.start_ms % CELL_MS, 0);
        assert_eq!(
            Timestamp::from_millis(qk.start_ms).to_string(),
            "2026-01-05T09:00:00.000Z"
        );
        assert_eq!(
            (qc.offered, qc.handled, qc.answered_in_sl, qc.handle_s),
            (1, 1, 1, 150)
        );
        let (ak, _) = &handled[1];
        assert_eq!(
            Timestamp::from_millis(ak.start_ms).to_string(),
            "2026-01-05T09:15:00.000Z"
        );

        let abandoned = summary("2026-01-05T09:14:50Z", 95, None).contributions(20);
        assert_eq!(abandoned.len(), 1);
        let c = abandoned[0].1;
        assert_eq!(
            (
                c.offered,
                c.handled,
                c.abandoned,
                c.abandon_wait_s,
                c.longest_wait_s
            ),
            (1, 0, 1, 95, 95)
        );
    }

    #[test]
    fn huge_and_negative_values_saturate_instead_of_wrapping() {
        let mut huge = summary("2026-01-05T09:14:50Z", 15, Some("2026-01-05T09:15:05Z"));
        huge.talk_s = i64::MAX;
        huge.hold_s = i64::MAX;
        let c = huge.contributions(20)[0].1;
        assert_eq!(c.handle_s, i64::MAX);
        let mut cell = MetricCell::default();
        cell.add(&c, 1);
        cell.add(&c, 1);
        assert_eq!((cell.hold_s, cell.handled), (i64::MAX, 2));
        let mut low = MetricCell {
            hold_s: i64::MIN,
            ..MetricCell::default()
        };
        low.add(&c, -1);
        assert_eq!(low.hold_s, i64::MIN);
    }

    #[test]
    fn cells_add_up_across_intervals() {
        let mut cells = std::collections::BTreeMap::new();
        for (i, enq) in [
            "2026-01-05T09:01:00Z",
            "2026-01-05T09:20:00Z",
            "2026-01-05T09:59:00Z",
            "2026-01-05T10:01:00Z",
        ]
        .iter()
        .enumerate()
        {
            for (k, c) in summary(enq, 10 + i as i64 * 20, Some(enq)).contributions(20) {
                cells
                    .entry(k)
                    .or_insert_with(MetricCell::default)
                    .add(&c, 1);
            }
        }
        let hours = roll_up(&cells, Interval::Hour);
        let nine = &hours[&(
            Timestamp::parse("2026-01-05T09:00:00Z").unwrap().millis(),
            DimensionKind::Queue,
            "Sales".into(),
        )];
        assert_eq!(
            (nine.offered, nine.answered_in_sl, nine.longest_wait_s),
            (3, 1, 50)
        );
        let day = roll_up(&cells, Interval::Day);
        let total: i64 = day
            .values()
            .filter(|c| c.offered > 0)
            .map(|c| c.offered)
            .sum();
        assert_eq!(total, 4);
        assert_eq!(nine.service_level().unwrap().round(), 33.0);
    }
}
