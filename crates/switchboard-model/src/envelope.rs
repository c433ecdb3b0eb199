//! The envelopes Connect data travels in, as AWS puts them on the wire: Lambda events
//! from Kinesis and SQS, Kinesis API records, Firehose transformation and HTTP endpoint
//! requests (and their responses), and the records Firehose writes to its S3 error
//! prefix. Field names follow each protocol exactly; see formats.md sections e and f.

use std::collections::BTreeMap;

use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use base64::Engine as _;
use serde::{Deserialize, Serialize};

use crate::common::Extra;

/// Standard base64, tolerant of missing padding (some producers strip it).
pub const BASE64: GeneralPurpose = GeneralPurpose::new(
    &base64::alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// Decodes a base64 payload.
pub fn decode_base64(data: &str) -> Result<Vec<u8>, base64::DecodeError> {
    BASE64.decode(data.as_bytes())
}

/// Encodes a payload as padded standard base64, as AWS writes it.
pub fn encode_base64(data: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(data)
}

// ---------------------------------------------------------------------------------------
// Kinesis

/// The event a Lambda function receives from a Kinesis event source mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KinesisEvent {
    #[serde(rename = "Records")]
    pub records: Vec<KinesisEventRecord>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One record of a Lambda Kinesis event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisEventRecord {
    pub kinesis: KinesisEventData,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_version: Option<String>,
    /// `shardId-000000000000:<sequenceNumber>`.
    #[serde(rename = "eventID", default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub invoke_identity_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws_region: Option<String>,
    #[serde(
        rename = "eventSourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source_arn: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

impl KinesisEventRecord {
    /// The shard id, from `eventID` (`shardId-…:<sequence>`).
    pub fn shard_id(&self) -> Option<&str> {
        self.event_id.as_deref()?.split_once(':').map(|(s, _)| s)
    }
}

/// The `kinesis` object of a Lambda Kinesis record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisEventData {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_schema_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    pub sequence_number: String,
    /// Base64 payload.
    pub data: String,
    /// Epoch seconds, fractional (unlike Firehose, which uses integer milliseconds).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Partial-batch response of a Lambda Kinesis (or SQS) handler
/// (`FunctionResponseTypes: ["ReportBatchItemFailures"]`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailures {
    pub batch_item_failures: Vec<BatchItemFailure>,
}

/// One failed item: the Kinesis sequence number or SQS message id.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BatchItemFailure {
    pub item_identifier: String,
}

/// Records as the Kinesis API returns them (`GetRecords`, `aws kinesis get-records`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct KinesisRecords {
    #[serde(rename = "Records")]
    pub records: Vec<KinesisRecord>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One Kinesis API record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct KinesisRecord {
    pub sequence_number: String,
    /// Epoch seconds, fractional.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<f64>,
    /// Base64 payload.
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_type: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------
// Firehose

/// What Firehose sends a data-transformation Lambda.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseTransformRequest {
    pub invocation_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub delivery_stream_arn: Option<String>,
    /// Only when the delivery stream reads from a Kinesis stream.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_kinesis_stream_arn: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    pub records: Vec<FirehoseTransformRecord>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One record of a transformation request.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseTransformRecord {
    pub record_id: String,
    /// Epoch milliseconds (integer).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<i64>,
    /// Base64 payload.
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kinesis_record_metadata: Option<KinesisRecordMetadata>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// Where a transformation record came from, when the source is a Kinesis stream.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct KinesisRecordMetadata {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub approximate_arrival_timestamp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sequence_number: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsequence_number: Option<i64>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// What a transformation Lambda returns: every input `recordId` exactly once.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirehoseTransformResponse {
    pub records: Vec<FirehoseTransformResult>,
}

/// One transformed record.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseTransformResult {
    pub record_id: String,
    pub result: TransformResult,
    /// Base64 payload (required by Firehose for `Ok`; echo the input otherwise).
    pub data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metadata: Option<TransformMetadata>,
}

/// The wire values Firehose accepts (`TRANSFORMED_STATE_OK` seen in SDK fixtures is not one).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TransformResult {
    Ok,
    Dropped,
    ProcessingFailed,
}

/// Dynamic-partitioning keys returned by a transformation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TransformMetadata {
    pub partition_keys: BTreeMap<String, String>,
}

/// Body of a Firehose HTTP endpoint delivery (protocol 1.0).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseHttpRequest {
    /// Same as the `X-Amz-Firehose-Request-Id` header; stable across retries.
    pub request_id: String,
    /// Epoch milliseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timestamp: Option<i64>,
    pub records: Vec<FirehoseHttpRecord>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One record of an HTTP endpoint delivery.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FirehoseHttpRecord {
    /// Base64 payload; may be empty.
    pub data: String,
}

/// The response an HTTP endpoint owes Firehose (`timestamp` an integer, in ms).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseHttpResponse {
    pub request_id: String,
    pub timestamp: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
}

/// A record Firehose wrote to its S3 error prefix (`processing-failed/`,
/// `http-endpoint-failed/`...): the original payload is in `rawData`, so these can be
/// replayed. Numeric fields are kept as JSON values because AWS's own documented schema
/// shows them as strings.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FirehoseErrorRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempts_made: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_timestamp: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_code: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error_message: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attempt_ending_timestamp: Option<serde_json::Value>,
    /// Base64 of the original record.
    pub raw_data: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subsequence_number: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lambda_arn: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

// ---------------------------------------------------------------------------------------
// SQS

/// The event a Lambda function receives from an SQS event source mapping.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqsEvent {
    #[serde(rename = "Records")]
    pub records: Vec<SqsEventRecord>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One message of a Lambda SQS event.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SqsEventRecord {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_handle: Option<String>,
    pub body: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_source: Option<String>,
    #[serde(
        rename = "eventSourceARN",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub event_source_arn: Option<String>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// `ReceiveMessage` output (`aws sqs receive-message`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SqsMessages {
    #[serde(rename = "Messages", default)]
    pub messages: Vec<SqsMessage>,
    #[serde(flatten)]
    pub extra: Extra,
}

/// One SQS message as the SQS API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SqsMessage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub receipt_handle: Option<String>,
    pub body: String,
    #[serde(flatten)]
    pub extra: Extra,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transform_result_wire_values() {
        let r: TransformResult = serde_json::from_str("\"ProcessingFailed\"").unwrap();
        assert_eq!(r, TransformResult::ProcessingFailed);
        assert!(serde_json::from_str::<TransformResult>("\"TRANSFORMED_STATE_OK\"").is_err());
        assert_eq!(
            serde_json::to_string(&TransformResult::Ok).unwrap(),
            "\"Ok\""
        );
    }

    #[test]
    fn base64_tolerates_missing_padding() {
        assert_eq!(decode_base64("aGVsbG8=").unwrap(), b"hello");
        assert_eq!(decode_base64("aGVsbG8").unwrap(), b"hello");
        assert_eq!(encode_base64(b"hello"), "aGVsbG8=");
    }
}
