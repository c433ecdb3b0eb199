//! How long history stays in a store, and how big each table is.
//!
//! [`Retention`] is `[store] retention`: days kept per kind of row, counted in *event
//! time* (the engine's clock, not the wall clock), so a replay of last year's archives
//! keeps what a live service would have kept and a test passes the time in.
//! [`Store::prune`](crate::Store::prune) removes what is older, at most a given number of
//! rows per table per call, each table in a short transaction of its own: the pipeline
//! calls it between commits, so pruning a backlog never holds a commit up.
//!
//! [`TableStats`] is what `switchboard store stats` prints.

use serde::{Deserialize, Serialize};

const DAY_MS: i64 = 24 * 3600 * 1000;

/// `[store.retention]`: days of history kept per kind (0 keeps it forever).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Retention {
    /// Agent transitions, by the time they happened.
    #[serde(default = "default_transitions")]
    pub transitions_days: u32,
    /// Ended contacts with their timeline entries and contact records, by initiation
    /// time (a contact still live is never pruned).
    #[serde(default = "default_contacts")]
    pub contacts_days: u32,
    /// Post-contact triggers, by the time they fired.
    #[serde(default = "default_triggers")]
    pub triggers_days: u32,
    /// Cleared alerts, by the time they cleared (active ones are kept).
    #[serde(default = "default_alerts")]
    pub alerts_days: u32,
    /// 15-minute metric cells, by interval start: reports reach back this far.
    #[serde(default = "default_metric_cells")]
    pub metric_cells_days: u32,
}

fn default_transitions() -> u32 {
    90
}
fn default_contacts() -> u32 {
    90
}
fn default_triggers() -> u32 {
    30
}
fn default_alerts() -> u32 {
    90
}
fn default_metric_cells() -> u32 {
    400
}

impl Default for Retention {
    fn default() -> Self {
        Retention {
            transitions_days: default_transitions(),
            contacts_days: default_contacts(),
            triggers_days: default_triggers(),
            alerts_days: default_alerts(),
            metric_cells_days: default_metric_cells(),
        }
    }
}

impl Retention {
    /// Keeps everything.
    pub fn forever() -> Self {
        Retention {
            transitions_days: 0,
            contacts_days: 0,
            triggers_days: 0,
            alerts_days: 0,
            metric_cells_days: 0,
        }
    }

    /// The cutoffs (epoch milliseconds; older rows go) as of `now_ms`, per kind, in the
    /// order of [`Pruned`]'s fields; `None` where the kind is kept forever.
    pub fn cutoffs(&self, now_ms: i64) -> Cutoffs {
        let cut = |days: u32| (days > 0).then(|| now_ms - i64::from(days) * DAY_MS);
        Cutoffs {
            transitions: cut(self.transitions_days),
            contacts: cut(self.contacts_days),
            triggers: cut(self.triggers_days),
            alerts: cut(self.alerts_days),
            metric_cells: cut(self.metric_cells_days),
        }
    }
}

/// Per kind, the time before which rows go (`None`: kept).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cutoffs {
    pub transitions: Option<i64>,
    pub contacts: Option<i64>,
    pub triggers: Option<i64>,
    pub alerts: Option<i64>,
    pub metric_cells: Option<i64>,
}

/// Rows one [`Store::prune`](crate::Store::prune) removed, per kind (`contacts` counts
/// contacts; their entries and records go with them).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Pruned {
    pub transitions: u64,
    pub contacts: u64,
    pub triggers: u64,
    pub alerts: u64,
    pub metric_cells: u64,
}

impl Pruned {
    pub fn total(&self) -> u64 {
        self.transitions + self.contacts + self.triggers + self.alerts + self.metric_cells
    }

    /// Whether some kind hit the per-call limit (more may be waiting).
    pub fn hit(&self, limit: usize) -> bool {
        let l = limit as u64;
        [
            self.transitions,
            self.contacts,
            self.triggers,
            self.alerts,
            self.metric_cells,
        ]
        .iter()
        .any(|n| *n >= l)
    }

    pub fn add(&mut self, other: &Pruned) {
        self.transitions += other.transitions;
        self.contacts += other.contacts;
        self.triggers += other.triggers;
        self.alerts += other.alerts;
        self.metric_cells += other.metric_cells;
    }
}

/// One table's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct TableStats {
    pub table: String,
    pub rows: u64,
    /// Bytes on disk, its indexes included.
    pub bytes: u64,
}
