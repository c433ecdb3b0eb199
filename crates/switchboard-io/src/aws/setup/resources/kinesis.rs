//! Kinesis data streams: find (with mode and tags), create tagged and wait until
//! ACTIVE, list tagged, newest record age, delete.

use std::time::Duration;

use aws_sdk_kinesis::types::{ShardIteratorType, StreamMode as KMode, StreamModeDetails};

use super::{err, is_missing};
use crate::aws::setup::cost::StreamMode;
use crate::aws::setup::error::SetupError;

/// A stream that exists.
#[derive(Debug, Clone)]
pub struct Found {
    pub arn: String,
    pub mode: StreamMode,
    pub tags: Vec<(String, String)>,
}

/// The stream `name`, or `None`.
pub async fn find(c: &aws_sdk_kinesis::Client, name: &str) -> Result<Option<Found>, SetupError> {
    let summary = match c.describe_stream_summary().stream_name(name).send().await {
        Ok(out) => out.stream_description_summary,
        Err(e) if is_missing(&e) => return Ok(None),
        Err(e) => return Err(err(format!("DescribeStreamSummary {name}"))(e)),
    };
    let Some(s) = summary else { return Ok(None) };
    let mode = match s.stream_mode_details.map(|d| d.stream_mode) {
        Some(KMode::OnDemand) => StreamMode::OnDemand,
        _ => StreamMode::Provisioned {
            shards: u32::try_from(s.open_shard_count.max(0)).unwrap_or(0),
        },
    };
    Ok(Some(Found {
        arn: s.stream_arn,
        mode,
        tags: tags(c, name).await?,
    }))
}

/// The stream's tags.
pub async fn tags(
    c: &aws_sdk_kinesis::Client,
    name: &str,
) -> Result<Vec<(String, String)>, SetupError> {
    let out = c
        .list_tags_for_stream()
        .stream_name(name)
        .send()
        .await
        .map_err(err(format!("ListTagsForStream {name}")))?;
    Ok(out
        .tags
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect())
}

/// Creates the stream with `tags`, waits until it is ACTIVE, and returns its ARN.
pub async fn create(
    c: &aws_sdk_kinesis::Client,
    name: &str,
    mode: StreamMode,
    tags: &[(String, String)],
) -> Result<String, SetupError> {
    let mut req = c.create_stream().stream_name(name);
    req = match mode {
        StreamMode::Provisioned { shards } => req
            .shard_count(i32::try_from(shards).unwrap_or(i32::MAX))
            .stream_mode_details(
                StreamModeDetails::builder()
                    .stream_mode(KMode::Provisioned)
                    .build()
                    .map_err(|e| SetupError::aws("CreateStream", e))?,
            ),
        StreamMode::OnDemand => req.stream_mode_details(
            StreamModeDetails::builder()
                .stream_mode(KMode::OnDemand)
                .build()
                .map_err(|e| SetupError::aws("CreateStream", e))?,
        ),
    };
    for (k, v) in tags {
        req = req.tags(k, v);
    }
    req.send()
        .await
        .map_err(err(format!("CreateStream {name}")))?;
    // A stream takes a few seconds to become ACTIVE (tags can be added only then).
    for _ in 0..120 {
        let s = c
            .describe_stream_summary()
            .stream_name(name)
            .send()
            .await
            .map_err(err(format!("DescribeStreamSummary {name}")))?;
        if let Some(s) = s.stream_description_summary {
            if s.stream_status == aws_sdk_kinesis::types::StreamStatus::Active {
                add_tags(c, name, tags).await?;
                return Ok(s.stream_arn);
            }
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    Err(SetupError::Aws {
        action: format!("CreateStream {name}"),
        message: "the stream did not become ACTIVE within a minute".into(),
    })
}

/// Adds `tags` to the stream (creation tags are not kept by every implementation).
pub async fn add_tags(
    c: &aws_sdk_kinesis::Client,
    name: &str,
    tags: &[(String, String)],
) -> Result<(), SetupError> {
    let mut req = c.add_tags_to_stream().stream_name(name);
    for (k, v) in tags {
        req = req.tags(k, v);
    }
    req.send()
        .await
        .map_err(err(format!("AddTagsToStream {name}")))?;
    Ok(())
}

/// Removes the tag `key` from the stream.
pub async fn remove_tag(
    c: &aws_sdk_kinesis::Client,
    name: &str,
    key: &str,
) -> Result<(), SetupError> {
    c.remove_tags_from_stream()
        .stream_name(name)
        .tag_keys(key)
        .send()
        .await
        .map_err(err(format!("RemoveTagsFromStream {name}")))?;
    Ok(())
}

/// Every stream name in the account and region.
pub async fn list(c: &aws_sdk_kinesis::Client) -> Result<Vec<String>, SetupError> {
    let mut names = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let out = c
            .list_streams()
            .set_next_token(token.clone())
            .send()
            .await
            .map_err(err("ListStreams"))?;
        names.extend(out.stream_names);
        match out.next_token {
            Some(t) if out.has_more_streams => token = Some(t),
            _ => return Ok(names),
        }
    }
}

/// Deletes the stream (gone already is fine).
pub async fn delete(c: &aws_sdk_kinesis::Client, name: &str) -> Result<(), SetupError> {
    match c
        .delete_stream()
        .stream_name(name)
        .enforce_consumer_deletion(true)
        .send()
        .await
    {
        Ok(_) => Ok(()),
        Err(e) if is_missing(&e) => Ok(()),
        Err(e) => Err(err(format!("DeleteStream {name}"))(e)),
    }
}

/// Seconds since the newest record of the last `window_secs` arrived, over every shard,
/// or `None` when none arrived in that window. Reads from `AT_TIMESTAMP` (now minus the
/// window) until `MillisBehindLatest` is 0, at most 20 reads a shard.
pub async fn newest_record_age(
    c: &aws_sdk_kinesis::Client,
    name: &str,
    window_secs: u64,
) -> Result<Option<f64>, SetupError> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64());
    let from = aws_sdk_kinesis::primitives::DateTime::from_secs_f64(now - window_secs as f64);
    let shards = c
        .list_shards()
        .stream_name(name)
        .send()
        .await
        .map_err(err(format!("ListShards {name}")))?
        .shards
        .unwrap_or_default();
    let mut newest: Option<f64> = None;
    for shard in shards {
        let mut iterator = c
            .get_shard_iterator()
            .stream_name(name)
            .shard_id(&shard.shard_id)
            .shard_iterator_type(ShardIteratorType::AtTimestamp)
            .timestamp(from)
            .send()
            .await
            .map_err(err(format!("GetShardIterator {name}/{}", shard.shard_id)))?
            .shard_iterator;
        for _ in 0..20 {
            let Some(it) = iterator.take() else { break };
            let out = c
                .get_records()
                .shard_iterator(it)
                .limit(10_000)
                .send()
                .await
                .map_err(err(format!("GetRecords {name}/{}", shard.shard_id)))?;
            for r in &out.records {
                if let Some(t) = r.approximate_arrival_timestamp {
                    let t = t.as_secs_f64();
                    newest = Some(newest.map_or(t, |n: f64| n.max(t)));
                }
            }
            if out.millis_behind_latest.unwrap_or(0) == 0 && out.records.is_empty() {
                break;
            }
            iterator = out.next_shard_iterator;
        }
    }
    Ok(newest.map(|t| (now - t).max(0.0)))
}
