//! The four Kinesis calls the source makes, behind a trait so the shard consumer can be
//! tested against a scripted stream, and their errors sorted into what the consumer does
//! about them: back off (throttling), get a new iterator (expired), or give up on the
//! shard (gone).

use std::future::Future;

use aws_sdk_kinesis::error::{DisplayErrorContext, ProvideErrorMetadata, SdkError};
use aws_sdk_kinesis::primitives::DateTime;
use aws_sdk_kinesis::types::ShardIteratorType;
use aws_sdk_kinesis::Client;
use switchboard_model::{SequenceNumber, Timestamp};

/// One shard in a listing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ShardInfo {
    pub id: String,
    /// `ParentShardId` and `AdjacentParentShardId` (a merge has two).
    pub parents: Vec<String>,
    /// Closed by a split or merge: no new records, readable to its end.
    pub closed: bool,
}

/// One record as `GetRecords` returns it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RawRecord {
    pub sequence: String,
    pub partition_key: String,
    pub data: Vec<u8>,
}

/// One `GetRecords` answer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Page {
    pub records: Vec<RawRecord>,
    /// `None`: the shard is closed and was read to its end.
    pub next_iterator: Option<String>,
    pub millis_behind: Option<i64>,
    /// `ChildShards` at the end of a closed shard (not every server sends them).
    pub children: Vec<String>,
}

/// Where a shard iterator starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StartAt {
    TrimHorizon,
    Latest,
    AtTimestamp(Timestamp),
    After(SequenceNumber),
}

/// A failed call, sorted by what to do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ApiError {
    /// `ProvisionedThroughputExceeded`, `LimitExceeded`, KMS throttling: back off.
    #[error("throttled: {0}")]
    Throttled(String),
    /// The shard iterator is older than 5 minutes: get a new one.
    #[error("shard iterator expired")]
    ExpiredIterator,
    /// The stream or shard does not exist (any more).
    #[error("not found: {0}")]
    NotFound(String),
    #[error("{0}")]
    Other(String),
}

impl ApiError {
    fn from_sdk<E, R>(e: SdkError<E, R>) -> Self
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
        R: std::fmt::Debug,
    {
        let code = e.code().unwrap_or_default().to_string();
        let message = DisplayErrorContext(&e).to_string();
        match code.as_str() {
            "ProvisionedThroughputExceededException"
            | "LimitExceededException"
            | "KMSThrottlingException"
            | "ThrottlingException" => Self::Throttled(message),
            "ExpiredIteratorException" => Self::ExpiredIterator,
            "ResourceNotFoundException" => Self::NotFound(message),
            _ => Self::Other(message),
        }
    }
}

/// What the source needs from Kinesis for one stream.
pub trait KinesisApi: Send + Sync + 'static {
    /// Every shard of the stream, open and closed (not yet expired).
    fn list_shards(&self) -> impl Future<Output = Result<Vec<ShardInfo>, ApiError>> + Send;

    fn shard_iterator(
        &self,
        shard: &str,
        start: &StartAt,
    ) -> impl Future<Output = Result<String, ApiError>> + Send;

    fn get_records(
        &self,
        iterator: &str,
        limit: u32,
    ) -> impl Future<Output = Result<Page, ApiError>> + Send;
}

/// The stream as the Kinesis API describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamIdentity {
    pub name: String,
    pub arn: String,
}

/// [`KinesisApi`] over the AWS SDK, for one stream.
#[derive(Debug, Clone)]
pub struct SdkKinesis {
    client: Client,
    name: String,
    /// Set when the stream was configured by ARN: calls then name it by ARN (the way to
    /// reach a stream of another account). Otherwise by name (kinesalite knows no ARNs).
    arn: Option<String>,
}

impl SdkKinesis {
    pub fn new(client: Client, name: impl Into<String>, arn: Option<String>) -> Self {
        Self {
            client,
            name: name.into(),
            arn,
        }
    }

    /// `DescribeStreamSummary`: the stream's name and ARN.
    pub async fn describe(&self) -> Result<StreamIdentity, ApiError> {
        let mut call = self.client.describe_stream_summary();
        call = match &self.arn {
            Some(arn) => call.stream_arn(arn),
            None => call.stream_name(&self.name),
        };
        let out = call.send().await.map_err(ApiError::from_sdk)?;
        let summary = out
            .stream_description_summary()
            .ok_or_else(|| ApiError::Other("DescribeStreamSummary returned no summary".into()))?;
        Ok(StreamIdentity {
            name: summary.stream_name().to_string(),
            arn: summary.stream_arn().to_string(),
        })
    }
}

impl KinesisApi for SdkKinesis {
    async fn list_shards(&self) -> Result<Vec<ShardInfo>, ApiError> {
        let mut shards = Vec::new();
        let mut token: Option<String> = None;
        loop {
            let mut call = self.client.list_shards();
            call = match (&token, &self.arn) {
                // A continuation names nothing else.
                (Some(t), _) => call.next_token(t),
                (None, Some(arn)) => call.stream_arn(arn),
                (None, None) => call.stream_name(&self.name),
            };
            let out = call.send().await.map_err(ApiError::from_sdk)?;
            for s in out.shards() {
                let parents = [s.parent_shard_id(), s.adjacent_parent_shard_id()]
                    .into_iter()
                    .flatten()
                    .map(str::to_string)
                    .collect();
                let closed = s
                    .sequence_number_range()
                    .and_then(|r| r.ending_sequence_number())
                    .is_some();
                shards.push(ShardInfo {
                    id: s.shard_id().to_string(),
                    parents,
                    closed,
                });
            }
            match out.next_token {
                Some(t) if !t.is_empty() && token.as_deref() != Some(t.as_str()) => token = Some(t),
                _ => break,
            }
        }
        // Kinesalite ignores paging and may repeat itself.
        shards.sort_by(|a, b| a.id.cmp(&b.id));
        shards.dedup_by(|a, b| a.id == b.id);
        Ok(shards)
    }

    async fn shard_iterator(&self, shard: &str, start: &StartAt) -> Result<String, ApiError> {
        let mut call = self.client.get_shard_iterator().shard_id(shard);
        call = match &self.arn {
            Some(arn) => call.stream_arn(arn),
            None => call.stream_name(&self.name),
        };
        call = match start {
            StartAt::TrimHorizon => call.shard_iterator_type(ShardIteratorType::TrimHorizon),
            StartAt::Latest => call.shard_iterator_type(ShardIteratorType::Latest),
            StartAt::AtTimestamp(t) => call
                .shard_iterator_type(ShardIteratorType::AtTimestamp)
                .timestamp(DateTime::from_millis(t.millis())),
            StartAt::After(seq) => call
                .shard_iterator_type(ShardIteratorType::AfterSequenceNumber)
                .starting_sequence_number(seq.as_str()),
        };
        let out = call.send().await.map_err(ApiError::from_sdk)?;
        out.shard_iterator
            .ok_or_else(|| ApiError::Other("GetShardIterator returned no iterator".into()))
    }

    async fn get_records(&self, iterator: &str, limit: u32) -> Result<Page, ApiError> {
        let mut call = self
            .client
            .get_records()
            .shard_iterator(iterator)
            .limit(limit.min(10_000) as i32);
        if let Some(arn) = &self.arn {
            call = call.stream_arn(arn);
        }
        let out = call.send().await.map_err(ApiError::from_sdk)?;
        let records = out
            .records
            .into_iter()
            .map(|r| RawRecord {
                sequence: r.sequence_number,
                partition_key: r.partition_key.unwrap_or_default(),
                data: r.data.into_inner(),
            })
            .collect();
        Ok(Page {
            records,
            next_iterator: out.next_shard_iterator.filter(|i| !i.is_empty()),
            millis_behind: out.millis_behind_latest,
            children: out
                .child_shards
                .unwrap_or_default()
                .into_iter()
                .map(|c| c.shard_id)
                .collect(),
        })
    }
}
