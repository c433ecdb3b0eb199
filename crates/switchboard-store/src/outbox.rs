//! The durable outbox: items that routing rules selected, waiting for their sink.
//!
//! The pipeline hands [`OutboxEntry`]s to [`Store::commit`](crate::Store::commit) in the
//! [`Batch`](crate::Batch), so they are stored in the same transaction as the engine's
//! changes and the input positions: a record acknowledged to its source is either routed
//! or will be read again, never half done. Sink delivery workers, each with a store
//! connection of its own, then work through the `outbox_*` methods of
//! [`Store`](crate::Store):
//!
//! 1. [`outbox_claim`](crate::Store::outbox_claim) takes the oldest ready rows of one
//!    sink and marks them claimed by the worker until a lease runs out, so a second worker
//!    (or a second `switchboard run` on the same PostgreSQL store) skips them, and a
//!    worker that dies only holds its rows until the lease ends;
//! 2. after sending, [`outbox_delivered`](crate::Store::outbox_delivered) removes what the
//!    destination took, [`outbox_retry`](crate::Store::outbox_retry) puts the rest back
//!    with a time before which it is not tried again, and
//!    [`outbox_dead`](crate::Store::outbox_dead) replaces what was refused for good by
//!    dead-letter entries, in one transaction;
//! 3. on shutdown, [`outbox_release`](crate::Store::outbox_release) gives unsent claims
//!    back without counting an attempt.
//!
//! An entry's `key` is unique per sink while the entry is queued: storing an entry whose
//! sink and key are already queued does nothing, so a source record delivered twice and
//! routed twice is queued once. Once delivered the row is gone; an idempotent destination
//! (the key travels with every delivery) takes care of a later copy.
//!
//! A claim is not checked again when a worker reports back: a worker must finish (or give
//! up on) a batch within its lease, so the lease should be well above the sink's timeout.

/// The sink dead letters are routed to: the dead-letter writer when one is configured;
/// without one they stay in the outbox under this name (`switchboard dlq list` reads them).
pub const DEAD_LETTER_SINK: &str = "dead_letter";

use std::borrow::Cow;

/// A routed item on its way to a sink.
///
/// Text fields cannot hold NUL characters in PostgreSQL; both stores write each NUL as
/// U+FFFD instead, so an odd byte in a record never fails a commit and both stores keep
/// the same text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxEntry {
    /// The routing rule that selected the item.
    pub rule: String,
    /// The sink it goes to (never empty: the store refuses an entry without one).
    pub sink: String,
    /// Idempotency key, stable across retries and restarts, unique per sink while queued
    /// (never empty).
    pub key: String,
    /// What the item is (`record`, `transition`, `dead_letter`...), which also says what
    /// the payload holds.
    pub kind: String,
    /// What to send, byte for byte.
    pub payload: Vec<u8>,
    /// The time the item describes, in milliseconds since the epoch.
    pub event_ms: i64,
    /// When it was routed, in milliseconds since the epoch (the oldest-undelivered age is
    /// measured from here).
    pub created_ms: i64,
}

/// An entry as stored, with its delivery state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxRow {
    /// The row's number: increasing in insertion order, never reused.
    pub id: i64,
    pub entry: OutboxEntry,
    /// Failed deliveries so far (a released claim does not count).
    pub attempts: u32,
    /// Not claimed before this instant (ms since the epoch); 0 for an entry never retried.
    pub not_before_ms: i64,
    /// Why the last delivery failed, if one did.
    pub last_error: Option<String>,
}

/// How much one sink has waiting.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OutboxDepth {
    pub sink: String,
    /// Rows queued, claimed or not.
    pub items: u64,
    /// Payload bytes of those rows.
    pub bytes: u64,
    /// The oldest `created_ms` among them (`None` only for a sink with no rows).
    pub oldest_created_ms: Option<i64>,
    /// Rows a worker could claim now: `not_before_ms` reached and no live claim.
    pub ready: u64,
}

/// Text as both stores write it: NUL characters become U+FFFD (see [`OutboxEntry`]).
pub(crate) fn text(s: &str) -> Cow<'_, str> {
    if s.contains('\0') {
        Cow::Owned(s.replace('\0', "\u{FFFD}"))
    } else {
        Cow::Borrowed(s)
    }
}

/// `ids` sorted, each once: the same rows are touched whatever the caller's order, and
/// PostgreSQL locks them in one order whoever asks.
pub(crate) fn unique_ids(ids: &[i64]) -> Vec<i64> {
    let mut ids = ids.to_vec();
    ids.sort_unstable();
    ids.dedup();
    ids
}

/// Retries sorted by id, the last one given for an id winning, so a row is counted once
/// per call in both stores.
pub(crate) fn unique_retries(retries: &[(i64, i64, String)]) -> Vec<&(i64, i64, String)> {
    let mut by_id = std::collections::BTreeMap::new();
    for r in retries {
        by_id.insert(r.0, r);
    }
    by_id.into_values().collect()
}

/// A count or size passed as a SQL integer: values beyond `i64` are as good as unlimited.
pub(crate) fn sql_limit(n: usize) -> i64 {
    i64::try_from(n).unwrap_or(i64::MAX)
}

/// A stored attempt count back as `u32`, saturating (the stores only ever add one to 0).
pub(crate) fn attempts(n: i64) -> u32 {
    u32::try_from(n.max(0)).unwrap_or(u32::MAX)
}

/// A stored count or byte total back as `u64` (never negative in a sane store).
pub(crate) fn count(n: i64) -> u64 {
    u64::try_from(n).unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_replaces_nul_only() {
        assert!(matches!(text("plain"), Cow::Borrowed("plain")));
        assert_eq!(text("a\0b\0"), "a\u{FFFD}b\u{FFFD}");
    }

    #[test]
    fn ids_and_retries_are_sorted_and_taken_once() {
        assert_eq!(unique_ids(&[3, 1, 3, 2]), [1, 2, 3]);
        let retries = [
            (5, 10, "first".to_owned()),
            (2, 20, "other".to_owned()),
            (5, 30, "last".to_owned()),
        ];
        let got: Vec<_> = unique_retries(&retries)
            .into_iter()
            .map(|(id, at, e)| (*id, *at, e.as_str()))
            .collect();
        assert_eq!(got, [(2, 20, "other"), (5, 30, "last")]);
    }

    #[test]
    fn conversions_saturate() {
        assert_eq!(sql_limit(usize::MAX), i64::MAX);
        assert_eq!(sql_limit(7), 7);
        assert_eq!(attempts(-1), 0);
        assert_eq!(attempts(i64::MAX), u32::MAX);
        assert_eq!(attempts(3), 3);
        assert_eq!(count(-5), 0);
        assert_eq!(count(9), 9);
    }
}
