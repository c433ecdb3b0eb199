//! Series of the requests sinks make to their destinations (an HTTP call, an SNS publish,
//! a file write and fsync), recorded by the sinks themselves. The delivery workers count
//! what they settle ([`crate::delivery`]); these say what each destination answered and
//! how fast. Label values are dynamic (sink names from the config).

use crate::label;

/// Requests a sink made, by `sink` and `outcome` (see [`outcome`]).
pub const SINK_REQUESTS: &str = "switchboard_sink_requests_total";
/// Duration of the requests a sink made, in seconds, by `sink`.
pub const SINK_REQUEST_SECONDS: &str = "switchboard_sink_request_seconds";
/// Items a destination refused for good (they go to the dead letters), by `sink`.
pub const SINK_REJECTED: &str = "switchboard_sink_rejected_total";

/// Label names of this module.
pub mod labels {
    pub const OUTCOME: &str = "outcome";
}

/// Values of the `outcome` label of [`SINK_REQUESTS`].
pub mod outcome {
    /// The destination took it.
    pub const DELIVERED: &str = "delivered";
    /// A timeout, a 5xx, a throttle, the destination unreachable: tried again later.
    pub const RETRY: &str = "retry";
    /// Refused for good.
    pub const REJECT: &str = "reject";
    pub const ALL: [&str; 3] = [DELIVERED, RETRY, REJECT];
}

pub(crate) fn describe() {
    use metrics::{describe_counter, describe_histogram, Unit};
    describe_counter!(
        SINK_REQUESTS,
        "Requests sinks made to their destinations, by sink and outcome (delivered, retry, reject)."
    );
    describe_histogram!(
        SINK_REQUEST_SECONDS,
        Unit::Seconds,
        "Duration of the requests sinks made to their destinations, by sink."
    );
    describe_counter!(
        SINK_REJECTED,
        "Items a destination refused for good (dead-lettered), by sink."
    );
}

/// `sink` made a request that ended with `outcome` (one of [`outcome`]) after `seconds`.
pub fn sink_request(sink: &str, outcome: &'static str, seconds: f64) {
    metrics::counter!(SINK_REQUESTS, label::SINK => sink.to_owned(), labels::OUTCOME => outcome)
        .increment(1);
    metrics::histogram!(SINK_REQUEST_SECONDS, label::SINK => sink.to_owned()).record(seconds);
}

/// `n` items `sink`'s destination refused for good.
pub fn sink_rejected(sink: &str, n: u64) {
    metrics::counter!(SINK_REJECTED, label::SINK => sink.to_owned()).increment(n);
}

/// Creates `sink`'s series at zero when the sink is built, so `/metrics` lists them before
/// its first request.
pub fn register_sink(sink: &str) {
    for o in outcome::ALL {
        metrics::counter!(SINK_REQUESTS, label::SINK => sink.to_owned(), labels::OUTCOME => o)
            .increment(0);
    }
    metrics::counter!(SINK_REJECTED, label::SINK => sink.to_owned()).increment(0);
}
