//! How engine enums are written in the indexed columns, shared by every store so the
//! same filter means the same thing in SQLite and PostgreSQL.

use switchboard_engine::contact::ContactPhase;
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::TriggerKind;

/// `contacts.phase`.
pub(crate) fn phase_str(p: ContactPhase) -> &'static str {
    match p {
        ContactPhase::Initiated => "initiated",
        ContactPhase::Queued => "queued",
        ContactPhase::Connected => "connected",
        ContactPhase::Disconnected => "disconnected",
        ContactPhase::Completed => "completed",
    }
}

/// `triggers.kind`.
pub(crate) fn trigger_kind_str(k: TriggerKind) -> &'static str {
    match k {
        TriggerKind::ContactCompleted => "contact_completed",
        TriggerKind::ContactRecordReady => "contact_record_ready",
    }
}

/// `metric_cells.kind` read back; `None` for a kind written by a newer switchboard.
pub(crate) fn dimension(s: &str) -> Option<DimensionKind> {
    match s {
        "queue" => Some(DimensionKind::Queue),
        "agent" => Some(DimensionKind::Agent),
        _ => None,
    }
}
