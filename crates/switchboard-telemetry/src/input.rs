//! Series of the inputs: what each kind of input (Kinesis, Firehose, EventBridge, SQS,
//! files...) delivered, what of it was refused before it touched any state and why, how
//! far behind its newest data each input is, and the HTTP requests the listeners refused.
//!
//! The `input` label is the kind of input, never a file name or a shard: see [`of`].

use crate::label;

/// Records (decoded or not) an input delivered to the pipeline, by `input`.
pub const RECORDS: &str = "switchboard_input_records_total";
/// Records refused before they touched any state (dead-lettered), by `input` and
/// `reason` (see [`reason`]).
pub const REFUSED: &str = "switchboard_input_refused_total";
/// How far behind its newest data an input is, in seconds, by `input` and `partition`:
/// Kinesis `MillisBehindLatest` per shard, the age of a Firehose request (its
/// `timestamp`), the age of the oldest SQS message of the last receive.
pub const LAG_SECONDS: &str = "switchboard_input_lag_seconds";
/// HTTP requests answered with an error status (401, 403, 413, 503...), by `status`.
pub const HTTP_REFUSED: &str = "switchboard_http_refused_total";

/// Label names of this module.
pub mod labels {
    pub const INPUT: &str = "input";
    pub const REASON: &str = "reason";
    pub const PARTITION: &str = "partition";
    pub const STATUS: &str = "status";
}

/// Values of the `reason` label of [`REFUSED`].
pub mod reason {
    /// The bytes are not a Connect record (or not one the engine can read).
    pub const DECODE: &str = "decode";
    /// A required id or ARN is empty.
    pub const EMPTY_ID: &str = "empty_id";
    /// An id, ARN or name longer than its limit.
    pub const LONG_ID: &str = "long_id";
    /// A duration or count below zero.
    pub const NEGATIVE: &str = "negative";
    /// A duration or count above its limit.
    pub const TOO_LARGE: &str = "too_large";
    /// A timestamp outside its plausible window.
    pub const TIMESTAMP: &str = "timestamp";
    pub const ALL: [&str; 6] = [DECODE, EMPTY_ID, LONG_ID, NEGATIVE, TOO_LARGE, TIMESTAMP];
}

/// Values of the `input` label: the kinds of input.
pub const INPUTS: [&str; 9] = [
    "kinesis",
    "firehose-http",
    "eventbridge-http",
    "sqs",
    "files",
    "lambda",
    "connect-api",
    "simulator",
    "other",
];

/// The kind of input of a delivery's source name (`kinesis:stream/shard` → `kinesis`,
/// `files:/data/x.ndjson` → `files`), one of [`INPUTS`].
pub fn of(source: &str) -> &'static str {
    let kind = source.split(':').next().unwrap_or("");
    INPUTS
        .iter()
        .find(|k| **k == kind)
        .copied()
        .unwrap_or("other")
}

pub(crate) fn describe() {
    use metrics::{describe_counter, describe_gauge, Unit};
    describe_counter!(RECORDS, "Records an input delivered, by kind of input.");
    describe_counter!(
        REFUSED,
        "Records refused before they touched any state (dead-lettered), by kind of input and reason."
    );
    describe_gauge!(
        LAG_SECONDS,
        Unit::Seconds,
        "How far behind its newest data an input is (Kinesis MillisBehindLatest, Firehose request age, oldest SQS message age), by input and partition."
    );
    describe_counter!(
        HTTP_REFUSED,
        "HTTP requests answered with an error status, by status."
    );
}

pub(crate) fn register() {
    for status in ["401", "403", "413"] {
        metrics::counter!(HTTP_REFUSED, labels::STATUS => status).increment(0);
    }
}

/// Creates `input`'s series at zero (called the first time the pipeline sees it), so a
/// rate over them is defined before the first refusal.
pub fn register_input(input: &'static str) {
    metrics::counter!(RECORDS, labels::INPUT => input).increment(0);
    for r in reason::ALL {
        metrics::counter!(REFUSED, labels::INPUT => input, labels::REASON => r).increment(0);
    }
}

/// `n` records delivered by `input`.
pub fn records(input: &'static str, n: u64) {
    metrics::counter!(RECORDS, labels::INPUT => input).increment(n);
}

/// A record of `input` refused for `reason` (one of [`reason`]).
pub fn refused(input: &'static str, reason: &'static str) {
    metrics::counter!(REFUSED, labels::INPUT => input, labels::REASON => reason).increment(1);
}

/// `input` (its `partition`: a shard, a queue; empty when it has none) is `seconds`
/// behind its newest data.
pub fn lag(input: &'static str, partition: &str, seconds: f64) {
    metrics::gauge!(LAG_SECONDS, labels::INPUT => input, labels::PARTITION => partition.to_owned())
        .set(seconds.max(0.0));
}

/// An HTTP request answered with `status` (4xx or 5xx).
pub fn http_refused(status: u16) {
    metrics::counter!(HTTP_REFUSED, labels::STATUS => status.to_string()).increment(1);
    metrics::counter!(crate::ERRORS, label::KIND => crate::error_kind::HTTP).increment(1);
}

#[cfg(test)]
mod tests {
    #[test]
    fn inputs_are_kinds_not_names() {
        assert_eq!(super::of("kinesis:agents/shardId-000000000001"), "kinesis");
        assert_eq!(super::of("files:/tmp/a:b.ndjson"), "files");
        assert_eq!(super::of("firehose-http"), "firehose-http");
        assert_eq!(super::of("lambda:sqs"), "lambda");
        assert_eq!(super::of("whatever"), "other");
    }
}
