//! Prometheus metrics: every metric name and label in one place, the helpers the pipeline
//! and the sinks call, and the recorder `/metrics` renders.
//!
//! Recording goes through the `metrics` facade, so the library crates that will record
//! (sources, sinks) need not know about Prometheus; this crate installs the
//! `metrics-exporter-prometheus` recorder once per process ([`install`]) and renders its
//! text in the `/metrics` handler. Nothing listens on a port of its own.

use std::sync::OnceLock;

use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use switchboard_model::{Record, Timestamp};

/// Records read from an input, by `source` (the Connect stream: see [`source`]).
pub const EVENTS_IN: &str = "switchboard_events_in_total";
/// Items written to an output, by `sink` (`store`, `feed`, later S3, OpenSearch...).
pub const EVENTS_OUT: &str = "switchboard_events_out_total";
/// Errors, by `kind` (see [`error_kind`]).
pub const ERRORS: &str = "switchboard_errors_total";
/// Records the engine dropped as duplicates or stale re-deliveries, by `source`.
pub const DEDUPE_DROPS: &str = "switchboard_dedupe_drops_total";
/// Now minus the event time of the newest record applied, in seconds, by `source`.
pub const LAG_SECONDS: &str = "switchboard_lag_seconds";
/// Retried writes, by `sink`.
pub const SINK_RETRIES: &str = "switchboard_sink_retries_total";
/// Clients connected to the live feed.
pub const FEED_SUBSCRIBERS: &str = "switchboard_feed_subscribers";
/// Feed frames a slow client missed (it is told to reload).
pub const FEED_LAGGED: &str = "switchboard_feed_lagged_total";
/// Store commits, and how long they took.
pub const STORE_COMMIT_SECONDS: &str = "switchboard_store_commit_seconds";

/// Label names.
pub mod label {
    pub const SOURCE: &str = "source";
    pub const SINK: &str = "sink";
    pub const KIND: &str = "kind";
}

/// Values of the `source` label: the three Connect streams.
pub mod source {
    use switchboard_model::RecordKind;

    pub const AGENT_EVENTS: &str = "agent_events";
    pub const CONTACT_EVENTS: &str = "contact_events";
    pub const CONTACT_RECORDS: &str = "contact_records";

    /// The source label of a record kind.
    pub fn of(kind: RecordKind) -> &'static str {
        match kind {
            RecordKind::AgentEvent => AGENT_EVENTS,
            RecordKind::ContactEvent => CONTACT_EVENTS,
            RecordKind::ContactRecord => CONTACT_RECORDS,
        }
    }
}

/// Values of the `sink` label.
pub mod sink {
    pub const STORE: &str = "store";
    pub const FEED: &str = "feed";
}

/// Values of the `kind` label of [`ERRORS`].
pub mod error_kind {
    pub const DECODE: &str = "decode";
    pub const STORE: &str = "store";
    pub const HTTP: &str = "http";
}

/// Installs the Prometheus recorder as the process's `metrics` recorder (once; later
/// calls return the same handle). If another recorder was installed first, the handle of
/// a private recorder is returned, so `/metrics` still answers, only emptier.
pub fn install() -> PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE
        .get_or_init(|| {
            let recorder = PrometheusBuilder::new().build_recorder();
            let handle = recorder.handle();
            if metrics::set_global_recorder(recorder).is_err() {
                tracing::warn!("a metrics recorder was already installed: /metrics will be empty");
            }
            describe();
            register_known_series();
            handle
        })
        .clone()
}

fn describe() {
    use metrics::{describe_counter, describe_gauge, describe_histogram, Unit};
    describe_counter!(EVENTS_IN, "Records read, by Connect stream.");
    describe_counter!(EVENTS_OUT, "Items written, by sink.");
    describe_counter!(ERRORS, "Errors, by kind.");
    describe_counter!(
        DEDUPE_DROPS,
        "Records dropped as duplicates or stale re-deliveries, by Connect stream."
    );
    describe_gauge!(
        LAG_SECONDS,
        Unit::Seconds,
        "Now minus the event time of the newest record applied, by Connect stream."
    );
    describe_counter!(SINK_RETRIES, "Retried writes, by sink.");
    describe_gauge!(FEED_SUBSCRIBERS, "Clients connected to the live feed.");
    describe_counter!(FEED_LAGGED, "Feed frames slow clients missed.");
    describe_histogram!(
        STORE_COMMIT_SECONDS,
        Unit::Seconds,
        "Duration of store commits."
    );
}

/// Creates every series whose labels are known in advance at zero, so `/metrics` lists
/// them (a scraper sees `0` instead of nothing before the first error or retry).
fn register_known_series() {
    for source in [
        source::AGENT_EVENTS,
        source::CONTACT_EVENTS,
        source::CONTACT_RECORDS,
    ] {
        metrics::counter!(EVENTS_IN, label::SOURCE => source).increment(0);
        metrics::counter!(DEDUPE_DROPS, label::SOURCE => source).increment(0);
    }
    for sink in [sink::STORE, sink::FEED] {
        metrics::counter!(EVENTS_OUT, label::SINK => sink).increment(0);
        metrics::counter!(SINK_RETRIES, label::SINK => sink).increment(0);
    }
    for kind in [error_kind::DECODE, error_kind::STORE, error_kind::HTTP] {
        metrics::counter!(ERRORS, label::KIND => kind).increment(0);
    }
    metrics::gauge!(FEED_SUBSCRIBERS).set(0.0);
    metrics::counter!(FEED_LAGGED).increment(0);
}

/// A record read from `source`.
pub fn event_in(source: &'static str) {
    metrics::counter!(EVENTS_IN, label::SOURCE => source).increment(1);
}

/// `n` items written to `sink`.
pub fn events_out(sink: &'static str, n: u64) {
    metrics::counter!(EVENTS_OUT, label::SINK => sink).increment(n);
}

/// An error of `kind`.
pub fn error(kind: &'static str) {
    metrics::counter!(ERRORS, label::KIND => kind).increment(1);
}

/// A record from `source` dropped as a duplicate or stale.
pub fn dedupe_drop(source: &'static str) {
    metrics::counter!(DEDUPE_DROPS, label::SOURCE => source).increment(1);
}

/// The lag of the newest record applied from `source`, in seconds.
pub fn lag(source: &'static str, seconds: f64) {
    metrics::gauge!(LAG_SECONDS, label::SOURCE => source).set(seconds);
}

/// A write to `sink` retried.
pub fn sink_retry(sink: &'static str) {
    metrics::counter!(SINK_RETRIES, label::SINK => sink).increment(1);
}

/// The time a record describes, for [`lag`]: the agent event's timestamp, the contact
/// event's time, the contact record's last update.
pub fn event_time(record: &Record) -> Option<Timestamp> {
    match record {
        Record::AgentEvent(e) => Some(e.event_timestamp),
        Record::ContactEvent(e) => e.detail.event_time().or(e.time),
        Record::ContactRecord(r) => Some(r.last_update_timestamp),
    }
}

/// A store commit took `seconds`.
pub fn store_commit(seconds: f64) {
    metrics::histogram!(STORE_COMMIT_SECONDS).record(seconds);
}
