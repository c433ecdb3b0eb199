//! Dead letters in S3: one NDJSON object per batch under `PREFIX/YYYY/MM/DD/HH/`.
//!
//! The object's name is `dead-letters-<first outbox id>-<hash of the batch's ids and
//! keys>.ndjson` in the folder of the hour (UTC) the batch's oldest entry was
//! dead-lettered: a batch retried after a failed or unconfirmed `PutObject` writes the same
//! name again and replaces its earlier copy instead of duplicating it. Every entry of an
//! object was dead-lettered at or after its folder's hour and before the object was
//! written, which is what lets the reader skip folders and objects by time.

use std::io::Read;
use std::time::Duration;

use aws_sdk_s3::error::{DisplayErrorContext, SdkError};
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::Client;

use super::{load_aws, Collect, Line, ReadError, S3DeadLetterConfig, Timeouts, Unreadable};
use crate::aws::AwsConfig;
use crate::civil::days_from_civil;
use crate::sinks::s3::layout::UtcHour;
use crate::sinks::{Item, Outcome};

/// How far S3's clock (an object's `LastModified`) may be behind ours.
const CLOCK_SKEW_MS: i64 = 15 * 60 * 1000;

pub(super) struct S3Writer {
    client: Client,
    bucket: String,
    prefix: String,
}

impl S3Writer {
    pub(super) async fn new(config: &S3DeadLetterConfig) -> Result<S3Writer, String> {
        Ok(S3Writer {
            client: client(&config.aws).await?,
            bucket: config.bucket.clone(),
            prefix: folder_prefix(&config.prefix),
        })
    }

    pub(super) async fn write(&self, items: &[Item], lines: &[Line]) -> Vec<Outcome> {
        let oldest = lines.iter().map(|l| l.at_ms).min().unwrap_or(0);
        let first_id = items.first().map_or(0, |i| i.id);
        let key = object_key(&self.prefix, oldest, first_id, batch_hash(items));
        let mut body = Vec::with_capacity(lines.iter().map(|l| l.json.len() + 1).sum());
        for line in lines {
            body.extend_from_slice(&line.json);
            body.push(b'\n');
        }
        let sent = self
            .client
            .put_object()
            .bucket(&self.bucket)
            .key(&key)
            .content_type("application/x-ndjson")
            .body(ByteStream::from(body))
            .send()
            .await;
        match sent {
            Ok(_) => vec![Outcome::Delivered; lines.len()],
            Err(e) => {
                let reason = format!(
                    "cannot write s3://{}/{key}: {}",
                    self.bucket,
                    DisplayErrorContext(&e)
                );
                tracing::error!(%reason, entries = lines.len(), "dead letters not written; retrying");
                vec![Outcome::retry(reason); lines.len()]
            }
        }
    }
}

/// An S3 client for `aws`: path-style addressing when an endpoint is set (local servers),
/// every call bounded so a hung connection cannot hold the writer.
async fn client(aws: &AwsConfig) -> Result<Client, String> {
    let timeouts = Timeouts {
        attempt: Duration::from_secs(60),
        total: Duration::from_secs(180),
    };
    let config = aws_sdk_s3::config::Builder::from(&load_aws(aws).await?)
        .force_path_style(aws.endpoint_url.is_some())
        .timeout_config(timeouts.config())
        .build();
    Ok(Client::from_conf(config))
}

/// `prefix/` without leading or doubled slashes; empty for the bucket's root.
pub(super) fn folder_prefix(prefix: &str) -> String {
    let p = prefix.trim_matches('/');
    if p.is_empty() {
        String::new()
    } else {
        format!("{p}/")
    }
}

fn object_key(folder_prefix: &str, at_ms: i64, first_id: i64, hash: u64) -> String {
    let folder = hour_of(at_ms).folder();
    format!("{folder_prefix}{folder}dead-letters-{first_id}-{hash:016x}.ndjson")
}

/// FNV-1a over the batch's ids and keys: stable across processes and versions.
fn batch_hash(items: &[Item]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for b in bytes {
            hash ^= u64::from(*b);
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        }
    };
    for item in items {
        eat(&item.id.to_le_bytes());
        eat(item.key.as_bytes());
        eat(&[0]);
    }
    hash
}

/// The UTC hour of `ms` (clamped to years 1970 to 9999).
fn hour_of(ms: i64) -> UtcHour {
    const MAX_MS: i64 = 253_402_300_799_999; // 9999-12-31T23:59:59.999Z
    UtcHour::of(ms.clamp(0, MAX_MS))
}

/// The start of the hour folder of `key` (`PREFIX/YYYY/MM/DD/HH/...`), in milliseconds.
fn folder_hour_ms(folder_prefix: &str, key: &str) -> Option<i64> {
    let mut parts = key.strip_prefix(folder_prefix)?.splitn(5, '/');
    let mut next = |len: usize| {
        parts
            .next()
            .filter(|p| p.len() == len && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u32>().ok())
    };
    let (y, m, d, h) = (next(4)?, next(2)?, next(2)?, next(2)?);
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) || h > 23 {
        return None;
    }
    Some(days_from_civil(i64::from(y), m, d) * 86_400_000 + i64::from(h) * 3_600_000)
}

/// Reads the objects under the prefix, oldest folder first, into `out`.
pub(super) async fn read(
    config: &S3DeadLetterConfig,
    out: &mut Collect<'_>,
) -> Result<(), ReadError> {
    let base = folder_prefix(&config.prefix);
    let bucket = config.bucket.as_str();
    let location = format!("s3://{bucket}/{base}");
    let client = client(&config.aws).await.map_err(|reason| ReadError {
        location: location.clone(),
        reason,
    })?;
    let (since, until) = (out.filter.since_ms, out.filter.until_ms);
    let mut token = None;
    loop {
        let page = client
            .list_objects_v2()
            .bucket(bucket)
            .prefix(&base)
            .set_continuation_token(token.take())
            .send()
            .await
            .map_err(|e| ReadError {
                location: location.clone(),
                reason: format!("cannot list the objects: {}", DisplayErrorContext(&e)),
            })?;
        for object in page.contents() {
            let Some(key) = object.key() else { continue };
            // Every entry of an object is at or after its folder's hour...
            if let (Some(until), Some(hour)) = (until, folder_hour_ms(&base, key)) {
                if hour >= until {
                    continue;
                }
            }
            // ...and before the object was written.
            let modified = object.last_modified().and_then(|t| t.to_millis().ok());
            if let (Some(since), Some(modified)) = (since, modified) {
                if modified < since.saturating_sub(CLOCK_SKEW_MS) {
                    continue;
                }
            }
            if out.full() {
                out.done.truncated = true;
                return Ok(());
            }
            read_object(&client, bucket, key, out).await?;
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_owned()),
            _ => return Ok(()),
        }
    }
}

async fn read_object(
    client: &Client,
    bucket: &str,
    key: &str,
    out: &mut Collect<'_>,
) -> Result<(), ReadError> {
    let location = format!("s3://{bucket}/{key}");
    let unreadable = |out: &mut Collect<'_>, reason: String| {
        out.done.unreadable.push(Unreadable {
            location: location.clone(),
            reason,
        })
    };
    let object = match client.get_object().bucket(bucket).key(key).send().await {
        Ok(o) => o,
        // Gone since the listing, or not ours to read: that object only.
        Err(e @ SdkError::ServiceError(_)) => {
            unreadable(out, format!("cannot read: {}", DisplayErrorContext(&e)));
            return Ok(());
        }
        Err(e) => {
            return Err(ReadError {
                location,
                reason: format!("cannot read: {}", DisplayErrorContext(&e)),
            })
        }
    };
    let body = match object.body.collect().await {
        Ok(b) => b.into_bytes(),
        Err(e) => {
            return Err(ReadError {
                location,
                reason: format!("reading the object was cut short: {e}"),
            })
        }
    };
    let text = if body.starts_with(&[0x1f, 0x8b]) {
        let mut text = Vec::new();
        if let Err(e) = flate2::read::MultiGzDecoder::new(&body[..]).read_to_end(&mut text) {
            unreadable(out, format!("not valid gzip: {e}"));
            return Ok(());
        }
        text
    } else {
        body.to_vec()
    };
    for (i, line) in text.split(|b| *b == b'\n').enumerate() {
        out.entry(|| format!("{location}#{}", i + 1), line, None);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_go_by_the_hour_and_parse_back() {
        let at = 1_718_003_723_456; // 2024-06-10T07:15:23.456Z
        let key = object_key(&folder_prefix("/dl/"), at, 42, 0xabc);
        assert_eq!(
            key,
            "dl/2024/06/10/07/dead-letters-42-0000000000000abc.ndjson"
        );
        assert_eq!(folder_hour_ms("dl/", &key), Some(1_718_002_800_000));
        assert_eq!(folder_hour_ms("dl/", "dl/notes.txt"), None);
        assert_eq!(folder_hour_ms("dl/", "dl/2024/13/10/07/x"), None);
        assert_eq!(
            object_key("", 0, 1, 1),
            "1970/01/01/00/dead-letters-1-0000000000000001.ndjson"
        );
        assert_eq!(
            hour_of(i64::MAX),
            UtcHour {
                year: 9999,
                month: 12,
                day: 31,
                hour: 23
            }
        );
        assert_eq!(hour_of(-1).folder(), "1970/01/01/00/");
    }

    #[test]
    fn the_hash_is_stable_and_tells_batches_apart() {
        use crate::sinks::ItemKind;
        let item = |id: i64, key: &str| Item {
            id,
            rule: String::new(),
            sink: String::new(),
            key: key.into(),
            kind: ItemKind::DeadLetter,
            payload: bytes::Bytes::new(),
            event_ms: 0,
            created_ms: 0,
            attempts: 0,
        };
        let a = [item(1, "a"), item(2, "b")];
        assert_eq!(batch_hash(&a), batch_hash(&a.clone()));
        assert_ne!(batch_hash(&a), batch_hash(&a[..1]));
        assert_ne!(
            batch_hash(&[item(1, "ab")]),
            batch_hash(&[item(1, "a"), item(1, "b")])
        );
        assert_eq!(batch_hash(&[]), 0xcbf2_9ce4_8422_2325);
    }
}
