//! Alerts: an agent on hold, in ACW or in a custom status for too long, and a queue whose
//! oldest contact has waited too long. Raised and cleared as events.
//!
//! Each watched condition sets a deadline (start + threshold). Deadlines fire when the
//! clock passes them, and the alert is raised *at the deadline*, not at whatever moment
//! the clock was advanced: so replaying the same input in any batch sizes, or resuming
//! after a crash, raises the same alerts at the same times. The clock is event time
//! during replay (one per stream, so a file of agent events read before a file of contact
//! events cannot fire queue alerts early) and wall time in live mode.

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};
use switchboard_model::Timestamp;

/// Alert thresholds, in seconds; `None` turns an alert off.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AlertConfig {
    /// An agent has a contact on hold longer than this.
    #[serde(default)]
    pub long_hold_s: Option<i64>,
    /// An agent is in after-contact work longer than this.
    #[serde(default)]
    pub long_acw_s: Option<i64>,
    /// An agent is in a custom status (Break, Lunch...) longer than this.
    #[serde(default)]
    pub long_custom_status_s: Option<i64>,
    /// Per-status overrides of `long_custom_status_s` (e.g. `Lunch = 3600`).
    #[serde(default)]
    pub custom_status_s: BTreeMap<String, i64>,
    /// The oldest contact in a queue has waited longer than this.
    #[serde(default)]
    pub queue_wait_s: Option<i64>,
}

impl Default for AlertConfig {
    fn default() -> Self {
        Self {
            long_hold_s: Some(120),
            long_acw_s: Some(180),
            long_custom_status_s: Some(1800),
            custom_status_s: BTreeMap::from([("Lunch".to_owned(), 3600)]),
            queue_wait_s: Some(120),
        }
    }
}

impl AlertConfig {
    fn status_threshold(&self, status: &str) -> Option<i64> {
        self.custom_status_s
            .get(status)
            .copied()
            .or(self.long_custom_status_s)
    }
}

/// Kind of alert.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AlertKind {
    LongHold,
    LongAcw,
    LongStatus,
    LongQueueWait,
}

impl AlertKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::LongHold => "long_hold",
            Self::LongAcw => "long_acw",
            Self::LongStatus => "long_status",
            Self::LongQueueWait => "long_queue_wait",
        }
    }
}

/// One alert.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Alert {
    /// Stable id: kind, subject and the condition's start.
    pub id: String,
    pub kind: AlertKind,
    /// Agent ARN, or queue name for queue alerts.
    pub subject: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub contact_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
    /// When the condition began.
    pub since: Timestamp,
    pub threshold_s: i64,
    pub raised_at: Timestamp,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cleared_at: Option<Timestamp>,
}

/// An alert raised or cleared.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AlertEvent {
    /// `raised` or `cleared`.
    pub event: String,
    pub alert: Alert,
}

/// A condition being watched: who, what, since when. Ordered for deterministic firing.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Watch {
    pub kind: AlertKind,
    pub subject: String,
    /// Contact on hold / in ACW / in queue, or status name.
    pub detail: String,
    pub since_ms: i64,
}

impl Watch {
    fn id(&self) -> String {
        format!(
            "{}:{}:{}:{}",
            self.kind.as_str(),
            self.subject,
            self.detail,
            self.since_ms
        )
    }
}

/// Extra facts to put on a raised alert.
#[derive(Debug, Clone, Default)]
pub struct AlertContext {
    pub username: Option<String>,
    pub queue: Option<String>,
}

/// Watched conditions, pending deadlines and raised alerts.
#[derive(Debug, Clone, Default)]
pub struct Alerts {
    /// Deadline (ms) → conditions due then.
    deadlines: BTreeSet<(i64, Watch)>,
    /// Raised, not yet cleared, by watch.
    active: BTreeMap<Watch, Alert>,
    /// Conditions per subject (agent or queue), to tell which ones ended.
    watching: BTreeMap<String, BTreeSet<Watch>>,
}

/// [`Alerts`] as plain lists, for saving.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct AlertsParts {
    pub deadlines: Vec<(i64, Watch)>,
    pub active: Vec<Alert>,
    pub watching: Vec<Watch>,
}

impl Alerts {
    pub fn to_parts(&self) -> AlertsParts {
        AlertsParts {
            deadlines: self.deadlines.iter().cloned().collect(),
            active: self.active.values().cloned().collect(),
            watching: self.watching.values().flatten().cloned().collect(),
        }
    }

    pub fn from_parts(parts: AlertsParts) -> Self {
        let mut a = Alerts {
            deadlines: parts.deadlines.into_iter().collect(),
            ..Alerts::default()
        };
        for w in parts.watching {
            a.watching.entry(w.subject.clone()).or_default().insert(w);
        }
        for alert in parts.active {
            let watch = a
                .watching
                .get(&alert.subject)
                .and_then(|ws| ws.iter().find(|w| w.id() == alert.id))
                .cloned();
            if let Some(w) = watch {
                a.active.insert(w, alert);
            }
        }
        a
    }

    /// Sets the conditions that now hold for `subject` (an agent or queue). Conditions no
    /// longer listed stop being watched; their raised alerts are cleared at `at`.
    pub fn set_conditions(
        &mut self,
        config: &AlertConfig,
        subject: &str,
        now: BTreeSet<Watch>,
        at: Timestamp,
        out: &mut Vec<AlertEvent>,
    ) {
        let before = self.watching.remove(subject).unwrap_or_default();
        for gone in before.difference(&now) {
            if let Some(th) = threshold(config, gone) {
                self.deadlines
                    .remove(&(gone.since_ms + th * 1000, gone.clone()));
            }
            if let Some(mut alert) = self.active.remove(gone) {
                alert.cleared_at = Some(at.max(alert.raised_at));
                out.push(AlertEvent {
                    event: "cleared".into(),
                    alert,
                });
            }
        }
        for new in now.difference(&before) {
            if let Some(th) = threshold(config, new) {
                self.deadlines
                    .insert((new.since_ms + th * 1000, new.clone()));
            }
        }
        if !now.is_empty() {
            self.watching.insert(subject.to_owned(), now);
        }
    }

    /// Raises every alert of `kinds` whose deadline is before `clock` (a condition lasting
    /// exactly its threshold is not "longer than" it).
    pub fn advance(
        &mut self,
        config: &AlertConfig,
        kinds: &[AlertKind],
        clock: Timestamp,
        context: &dyn Fn(&Watch) -> AlertContext,
        out: &mut Vec<AlertEvent>,
    ) {
        let due: Vec<(i64, Watch)> = self
            .deadlines
            .iter()
            .take_while(|(d, _)| *d < clock.millis())
            .filter(|(_, w)| kinds.contains(&w.kind))
            .cloned()
            .collect();
        for (deadline, watch) in due {
            self.deadlines.remove(&(deadline, watch.clone()));
            let ctx = context(&watch);
            let alert = Alert {
                id: watch.id(),
                kind: watch.kind,
                subject: watch.subject.clone(),
                username: ctx.username,
                contact_id: matches!(
                    watch.kind,
                    AlertKind::LongHold | AlertKind::LongAcw | AlertKind::LongQueueWait
                )
                .then(|| watch.detail.clone()),
                queue: ctx.queue,
                status: (watch.kind == AlertKind::LongStatus).then(|| watch.detail.clone()),
                since: Timestamp::from_millis(watch.since_ms),
                threshold_s: threshold(config, &watch).unwrap_or(0),
                raised_at: Timestamp::from_millis(deadline),
                cleared_at: None,
            };
            out.push(AlertEvent {
                event: "raised".into(),
                alert: alert.clone(),
            });
            self.active.insert(watch, alert);
        }
    }

    /// Alerts raised and not yet cleared.
    pub fn active(&self) -> impl Iterator<Item = &Alert> {
        self.active.values()
    }
}

fn threshold(config: &AlertConfig, w: &Watch) -> Option<i64> {
    match w.kind {
        AlertKind::LongHold => config.long_hold_s,
        AlertKind::LongAcw => config.long_acw_s,
        AlertKind::LongStatus => config.status_threshold(&w.detail),
        AlertKind::LongQueueWait => config.queue_wait_s,
    }
}
