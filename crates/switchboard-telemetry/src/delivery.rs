//! Series of routing and delivery: the outbox, the delivery workers, enrichment and dead
//! letters. Label values are dynamic (sink and rule names from the config).

use crate::label;

/// Items routed into the outbox, by `sink`.
pub const ROUTED: &str = "switchboard_routed_total";
/// Items waiting in the outbox, by `sink`.
pub const OUTBOX_DEPTH: &str = "switchboard_outbox_depth";
/// Age of the oldest item waiting in the outbox, in seconds, by `sink` (0 when empty).
pub const OUTBOX_OLDEST_SECONDS: &str = "switchboard_outbox_oldest_seconds";
/// Now minus the event time of the newest item a sink delivered, in seconds, by `sink`.
pub const SINK_LAG_SECONDS: &str = "switchboard_sink_lag_seconds";
/// Items a sink delivered, by `sink`.
pub const DELIVERED: &str = "switchboard_delivered_total";
/// Items dead-lettered, by `stage` (`decode`, `validate`, `enrich`, `sink`).
pub const DEAD_LETTERS: &str = "switchboard_dead_letters_total";
/// Items dropped by an enrichment miss policy `drop`, by `rule`.
pub const ENRICH_DROPPED: &str = "switchboard_enrich_dropped_total";
/// Enrichment steps skipped because the item already had the key, by `lookup`.
pub const ENRICH_CONFLICTS: &str = "switchboard_enrich_conflicts_total";
/// Enrichment steps not needed because the item (or its stored contact record) already
/// carried what they add, by `lookup`.
pub const ENRICH_SKIPPED: &str = "switchboard_enrich_skipped_total";
/// Times the pipeline paused its sources because the outbox was full.
pub const BACKPRESSURE: &str = "switchboard_backpressure_total";

/// Label names of this module.
pub mod labels {
    pub const STAGE: &str = "stage";
    pub const RULE: &str = "rule";
    pub const LOOKUP: &str = "lookup";
}

/// Dead-letter stages.
pub mod stage {
    pub const DECODE: &str = "decode";
    pub const VALIDATE: &str = "validate";
    pub const ENRICH: &str = "enrich";
    pub const SINK: &str = "sink";
    pub const ALL: [&str; 4] = [DECODE, VALIDATE, ENRICH, SINK];
}

pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(ROUTED, "Items routed into the outbox, by sink.");
    describe_gauge!(OUTBOX_DEPTH, "Items waiting in the outbox, by sink.");
    describe_gauge!(
        OUTBOX_OLDEST_SECONDS,
        Unit::Seconds,
        "Age of the oldest item waiting in the outbox, by sink."
    );
    describe_gauge!(
        SINK_LAG_SECONDS,
        Unit::Seconds,
        "Now minus the event time of the newest item delivered, by sink."
    );
    describe_counter!(DELIVERED, "Items delivered, by sink.");
    describe_counter!(DEAD_LETTERS, "Items dead-lettered, by stage.");
    describe_counter!(
        ENRICH_DROPPED,
        "Items dropped by an enrichment miss policy, by rule."
    );
    describe_counter!(
        ENRICH_CONFLICTS,
        "Enrichment steps skipped because the item already had the key, by lookup."
    );
    describe_counter!(
        ENRICH_SKIPPED,
        "Enrichment steps not needed because the item or its stored record carried the data, by lookup."
    );
    describe_counter!(BACKPRESSURE, "Times the outbox bound paused the sources.");
}

pub(crate) fn register() {
    for s in stage::ALL {
        metrics::counter!(DEAD_LETTERS, labels::STAGE => s).increment(0);
    }
    metrics::counter!(BACKPRESSURE).increment(0);
}

/// `n` items routed to `sink`.
pub fn routed(sink: &str, n: u64) {
    metrics::counter!(ROUTED, label::SINK => sink.to_owned()).increment(n);
}

/// The outbox of `sink` holds `items`, the oldest `oldest_s` old.
pub fn outbox(sink: &str, items: u64, oldest_s: f64) {
    metrics::gauge!(OUTBOX_DEPTH, label::SINK => sink.to_owned()).set(items as f64);
    metrics::gauge!(OUTBOX_OLDEST_SECONDS, label::SINK => sink.to_owned()).set(oldest_s);
}

/// `n` items delivered by `sink`, the newest describing a time `lag_s` ago.
pub fn delivered(sink: &str, n: u64, lag_s: Option<f64>) {
    metrics::counter!(DELIVERED, label::SINK => sink.to_owned()).increment(n);
    if let Some(lag) = lag_s {
        metrics::gauge!(SINK_LAG_SECONDS, label::SINK => sink.to_owned()).set(lag);
    }
}

/// `n` items dead-lettered at `stage`.
pub fn dead_letters(stage: &'static str, n: u64) {
    metrics::counter!(DEAD_LETTERS, labels::STAGE => stage).increment(n);
}

/// An item of `rule` dropped by a miss policy.
pub fn enrich_dropped(rule: &str) {
    metrics::counter!(ENRICH_DROPPED, labels::RULE => rule.to_owned()).increment(1);
}

/// An enrichment step of `lookup` skipped to avoid overwriting.
pub fn enrich_conflict(lookup: &str) {
    metrics::counter!(ENRICH_CONFLICTS, labels::LOOKUP => lookup.to_owned()).increment(1);
}

/// An enrichment step of `lookup` not needed: the item already carried the data.
pub fn enrich_skipped(lookup: &str) {
    metrics::counter!(ENRICH_SKIPPED, labels::LOOKUP => lookup.to_owned()).increment(1);
}

/// The pipeline paused its sources for the outbox.
pub fn backpressure() {
    metrics::counter!(BACKPRESSURE).increment(1);
}
