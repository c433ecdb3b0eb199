//! Telemetry every switchboard component shares: metric names and label values in one
//! place, and the helpers sources, the pipeline, sinks and lookups call to record.
//!
//! Recording goes through the `metrics` facade, so no component needs to know about
//! Prometheus: `switchboard-server` installs the `metrics-exporter-prometheus` recorder
//! once per process and renders it at `/metrics`. Without a recorder (a library user, a
//! unit test) recording is a no-op.
//!
//! Every series is listed in [`SERIES`] with its help text; [`register_known_series`]
//! creates those whose labels are known in advance at zero.
//!
//! [`input`]: what each kind of input delivered and had refused, its lag, and the HTTP
//! requests refused. [`mask`]: phone-number masking for logs, views and sinks. [`requests`]: what the
//! destinations of sinks answered, and how fast.

pub mod delivery;
pub mod input;
pub mod mask;
pub mod requests;

pub use delivery::{enrich_conflict, enrich_dropped, enrich_skipped};
pub use requests::{register_sink, sink_rejected, sink_request};

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
/// Keys enrichment asked a lookup for, by `lookup` (the configured name).
pub const LOOKUP_REQUESTS: &str = "switchboard_lookup_requests_total";
/// Keys a lookup found, by `lookup` (answered by the cache or the table).
pub const LOOKUP_HITS: &str = "switchboard_lookup_hits_total";
/// Keys a lookup's table does not have, by `lookup`.
pub const LOOKUP_MISSES: &str = "switchboard_lookup_misses_total";
/// Keys answered from a lookup's cache (found or known missing), by `lookup`.
pub const LOOKUP_CACHE_HITS: &str = "switchboard_lookup_cache_hits_total";
/// Lookup calls that failed (table unreachable, throttled past retries, timed out, bad
/// query), by `lookup`.
pub const LOOKUP_ERRORS: &str = "switchboard_lookup_errors_total";

/// Label names.
pub mod label {
    pub const SOURCE: &str = "source";
    pub const SINK: &str = "sink";
    pub const KIND: &str = "kind";
    pub const LOOKUP: &str = "lookup";
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
    /// A record that decoded but failed a plausibility check (dead-lettered).
    pub const VALIDATE: &str = "validate";
    pub const STORE: &str = "store";
    pub const HTTP: &str = "http";
    /// A call to the Amazon Connect API was throttled (and retried).
    pub const CONNECT_THROTTLED: &str = "connect_throttled";
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
pub fn sink_retry(sink: &str) {
    metrics::counter!(SINK_RETRIES, label::SINK => sink.to_owned()).increment(1);
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

/// `n` keys asked of `lookup`.
pub fn lookup_requests(lookup: &str, n: u64) {
    metrics::counter!(LOOKUP_REQUESTS, label::LOOKUP => lookup.to_owned()).increment(n);
}

/// `n` keys `lookup` found.
pub fn lookup_hits(lookup: &str, n: u64) {
    metrics::counter!(LOOKUP_HITS, label::LOOKUP => lookup.to_owned()).increment(n);
}

/// `n` keys `lookup`'s table does not have.
pub fn lookup_misses(lookup: &str, n: u64) {
    metrics::counter!(LOOKUP_MISSES, label::LOOKUP => lookup.to_owned()).increment(n);
}

/// `n` keys of `lookup` answered from its cache.
pub fn lookup_cache_hits(lookup: &str, n: u64) {
    metrics::counter!(LOOKUP_CACHE_HITS, label::LOOKUP => lookup.to_owned()).increment(n);
}

/// A call to `lookup` failed.
pub fn lookup_error(lookup: &str) {
    metrics::counter!(LOOKUP_ERRORS, label::LOOKUP => lookup.to_owned()).increment(1);
}

/// Describes every series (help text and unit) to the installed recorder.
pub fn describe() {
    delivery::describe();
    input::describe();
    requests::describe();
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
    describe_counter!(LOOKUP_REQUESTS, "Keys asked of a lookup, by lookup.");
    describe_counter!(LOOKUP_HITS, "Keys a lookup found, by lookup.");
    describe_counter!(
        LOOKUP_MISSES,
        "Keys a lookup's table does not have, by lookup."
    );
    describe_counter!(
        LOOKUP_CACHE_HITS,
        "Keys answered from a lookup's cache (found or known missing), by lookup."
    );
    describe_counter!(LOOKUP_ERRORS, "Lookup calls that failed, by lookup.");
}

/// Creates every series whose labels are known in advance at zero, so `/metrics` lists
/// them (a scraper sees `0` instead of nothing before the first error or retry).
pub fn register_known_series() {
    delivery::register();
    input::register();
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
    for kind in [
        error_kind::DECODE,
        error_kind::VALIDATE,
        error_kind::STORE,
        error_kind::HTTP,
    ] {
        metrics::counter!(ERRORS, label::KIND => kind).increment(0);
    }
    metrics::gauge!(FEED_SUBSCRIBERS).set(0.0);
    metrics::counter!(FEED_LAGGED).increment(0);
}
