//! The price table (`prices.toml`, compiled in; another file can replace it) that the
//! cost estimate reads: one region's list prices with their date and sources.

use std::path::Path;

use serde::Deserialize;

use super::error::SetupError;

/// The table shipped with switchboard.
pub const BUILT_IN: &str = include_str!("prices.toml");

/// One region's prices, as written in `prices.toml`.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Prices {
    /// The day the figures were written down (`YYYY-MM-DD`).
    pub date: String,
    /// The region they are for.
    pub region: String,
    /// Currency of every figure.
    pub currency: String,
    /// Hours in a billing month (AWS uses 730).
    pub hours_per_month: f64,
    /// Where the figures come from.
    pub sources: Vec<String>,
    pub kinesis_provisioned: KinesisProvisioned,
    pub kinesis_on_demand: KinesisOnDemand,
    pub firehose: Firehose,
    pub s3: S3,
    pub sqs: Sqs,
    pub eventbridge: EventBridge,
}

/// Kinesis Data Streams, provisioned mode.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisProvisioned {
    pub shard_hour: f64,
    pub put_units_per_million: f64,
    pub put_unit_bytes: u64,
}

/// Kinesis Data Streams, on-demand mode.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct KinesisOnDemand {
    pub stream_hour: f64,
    pub ingress_per_gb: f64,
    pub egress_per_gb: f64,
    pub record_rounding_bytes: u64,
}

/// Firehose Direct PUT ingestion.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Firehose {
    pub ingest_per_gb: f64,
    pub record_rounding_bytes: u64,
}

/// S3 Standard.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct S3 {
    pub storage_per_gb_month: f64,
    pub put_per_thousand: f64,
}

/// SQS standard queues.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Sqs {
    pub requests_per_million: f64,
}

/// EventBridge default bus.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventBridge {
    pub aws_service_events_per_million: f64,
}

impl Prices {
    /// The table shipped with switchboard.
    pub fn built_in() -> Prices {
        Prices::parse(BUILT_IN, "prices.toml (built in)").expect("the built-in price table parses")
    }

    /// A table from `path` (same layout as the built-in one).
    pub fn read(path: &Path) -> Result<Prices, SetupError> {
        let text = std::fs::read_to_string(path).map_err(|e| SetupError::Prices {
            file: path.display().to_string(),
            message: e.to_string(),
        })?;
        Prices::parse(&text, &path.display().to_string())
    }

    fn parse(text: &str, file: &str) -> Result<Prices, SetupError> {
        toml::from_str(text).map_err(|e| SetupError::Prices {
            file: file.to_owned(),
            message: e.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_table_has_the_documented_kinesis_prices() {
        let p = Prices::built_in();
        assert_eq!(p.region, "us-east-1");
        assert_eq!(p.hours_per_month, 730.0);
        // formats.md §h: $0.015 per shard-hour, $0.014 per million PUT payload units.
        assert_eq!(p.kinesis_provisioned.shard_hour, 0.015);
        assert_eq!(p.kinesis_provisioned.put_units_per_million, 0.014);
        assert_eq!(p.firehose.record_rounding_bytes, 5120);
        assert!(!p.sources.is_empty());
    }
}
