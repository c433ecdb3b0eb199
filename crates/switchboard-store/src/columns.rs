//! How engine enums are written in the indexed columns, shared by every store so the
//! same filter means the same thing in SQLite and PostgreSQL.

use switchboard_engine::contact::ContactPhase;
use switchboard_engine::metrics::{roll_up, DimensionKind, Interval, MetricCell, MetricKey};
use switchboard_engine::TriggerKind;
use switchboard_model::Timestamp;

use crate::query::MetricRow;

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

/// Reads a metric cell from its columns in the order both schemas select them (offered,
/// handled, abandoned, answered_in_sl, handle_s, talk_s, hold_s, holds, acw_s,
/// answer_wait_s, abandon_wait_s, longest_wait_s), starting at column `first`.
pub(crate) fn metric_cell<E>(
    first: usize,
    get: impl Fn(usize) -> Result<i64, E>,
) -> Result<MetricCell, E> {
    // Sums and counts never go below zero; a negative value (written by a version that
    // took records' negative durations) reads as zero, so no average comes out negative.
    let get = |i: usize| get(first + i).map(|v| v.max(0));
    Ok(MetricCell {
        offered: get(0)?,
        handled: get(1)?,
        abandoned: get(2)?,
        answered_in_sl: get(3)?,
        handle_s: get(4)?,
        talk_s: get(5)?,
        hold_s: get(6)?,
        holds: get(7)?,
        acw_s: get(8)?,
        answer_wait_s: get(9)?,
        abandon_wait_s: get(10)?,
        longest_wait_s: get(11)?,
    })
}

/// Adds 15-minute cells up into the query's interval, as rows.
pub(crate) fn metric_rows(cells: &[(MetricKey, MetricCell)], interval: Interval) -> Vec<MetricRow> {
    roll_up(cells.iter().map(|(k, c)| (k, c)), interval)
        .into_iter()
        .map(|((start, kind, id), cell)| MetricRow {
            start: Timestamp::from_millis(start),
            kind,
            id,
            cell,
        })
        .collect()
}
