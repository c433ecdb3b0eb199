//! `switchboard lambda firehose`: a Firehose data transformation. Every input `recordId`
//! is answered exactly once, in order:
//!
//! - `Ok`: a Connect record, enriched by `[lambda.firehose] enrich` (keys added, never
//!   overwritten), its original bytes when nothing was added, a newline appended when
//!   `append_newline` is on, with `metadata.partitionKeys` from `partition_keys`;
//! - `Dropped`: a lookup miss whose step says `on_miss = "drop"`;
//! - `ProcessingFailed`: not Connect data, or enrichment failed (the lookup is down, a
//!   miss with `on_miss = "dead_letter"`), or the answer would not fit in Lambda's 6 MB
//!   response. Firehose writes these under its `processing-failed/` prefix; the reason is
//!   logged with the recordId and returned in [`Transformed::failures`].
//!
//! With `apply = true` the records also go through the pipeline (engine, store, rules);
//! a commit that fails makes the invocation fail, and Firehose retries it.

use std::collections::HashMap;
use std::time::Instant;

use aws_lambda_events::event::firehose::{
    KinesisFirehoseEvent, KinesisFirehoseResponse, KinesisFirehoseResponseRecord,
    KinesisFirehoseResponseRecordMetadata,
};
use bytes::Bytes;
use serde_json::Value;
use switchboard_io::sinks::{Item, ItemKind};
use switchboard_model::decode::{Format, Source};

use super::apply::decode;
use super::{Handler, Unit};
use crate::enrich::{enrich, Enriched};

/// Firehose's wire values.
pub const OK: &str = "Ok";
pub const DROPPED: &str = "Dropped";
pub const PROCESSING_FAILED: &str = "ProcessingFailed";

/// The most a response may weigh: Lambda's synchronous limit is 6 MB (6,291,456 bytes);
/// this keeps room for the envelope and rounding.
pub const RESPONSE_LIMIT: usize = 6_000_000;

/// A transformation's response and what happened.
#[derive(Debug, Clone, Default)]
pub struct Transformed {
    pub response: KinesisFirehoseResponse,
    pub ok: u64,
    pub dropped: u64,
    /// (recordId, reason) of every record answered `ProcessingFailed`.
    pub failures: Vec<(String, String)>,
    /// `Ok` records enrichment added something to.
    pub enriched: u64,
}

/// One record on its way: the bytes as received, the JSON to enrich, the verdict.
struct Pending {
    id: String,
    original: Vec<u8>,
    /// The decoded JSON (gzip undone): what enrichment works on.
    json: Option<Bytes>,
    verdict: Result<(), String>,
}

impl Handler {
    /// Transforms one Firehose batch. `Err` only when `apply` is on and the commit
    /// failed (Firehose retries the whole invocation).
    pub fn firehose(
        &self,
        event: KinesisFirehoseEvent,
        deadline: Instant,
    ) -> anyhow::Result<Transformed> {
        let config = &self.config.lambda.firehose;
        let mut units = Vec::new();
        let mut pending: Vec<Pending> = Vec::with_capacity(event.records.len());
        for (i, record) in event.records.into_iter().enumerate() {
            let id = record.record_id.clone().unwrap_or_default();
            let source = Source {
                envelope: Some("firehose-lambda"),
                index: Some(i),
                record_id: record.record_id.clone(),
                ..Source::default()
            };
            let items = decode(&record.data.0, Format::Auto, source);
            let bad: Vec<String> = items
                .iter()
                .filter_map(|r| r.as_ref().err().map(|e| e.reason.clone()))
                .collect();
            let verdict = match (bad.first(), items.len()) {
                (Some(reason), _) => Err(format!("not a Connect record: {reason}")),
                (None, n) if n > 1 && !config.enrich.is_empty() => Err(format!(
                    "the record holds {n} Connect records; enrichment needs one per Firehose record"
                )),
                _ => Ok(()),
            };
            let json = match (&verdict, items.first()) {
                (Ok(()), Some(Ok(d))) if items.len() == 1 => Some(d.raw.clone()),
                _ => None,
            };
            if config.apply && verdict.is_ok() {
                units.push(Unit {
                    items: items.into_iter().filter(Result::is_ok).collect(),
                    partition: "firehose".into(),
                    position: None,
                });
            }
            pending.push(Pending {
                id,
                original: record.data.0,
                json,
                verdict,
            });
        }
        if config.apply && !units.is_empty() {
            let applied = self.apply("lambda:firehose", units, deadline);
            if let Some((_, reason)) = applied.first_failed {
                anyhow::bail!(
                    "the records were not committed ({reason}); Firehose retries the batch"
                );
            }
        }

        // Enrichment, all records of the batch at once (one lookup call per step).
        let now = crate::deliver::now_ms();
        let (idx, items): (Vec<usize>, Vec<Item>) = pending
            .iter()
            .enumerate()
            .filter_map(|(i, p)| {
                let payload = p.json.clone()?;
                Some((
                    i,
                    Item {
                        id: i as i64,
                        rule: "lambda.firehose".into(),
                        sink: "firehose".into(),
                        key: p.id.clone(),
                        kind: ItemKind::Record,
                        payload,
                        event_ms: now,
                        created_ms: now,
                        attempts: 0,
                    },
                ))
            })
            .unzip();
        let mut enriched: HashMap<usize, Enriched> = HashMap::new();
        if !config.enrich.is_empty() && !items.is_empty() {
            let results =
                self.runtime
                    .block_on(enrich(&config.enrich, &self.outputs.lookups, &items));
            enriched.extend(idx.into_iter().zip(results));
        }

        let mut out = Transformed::default();
        let mut size = 16usize;
        for (i, p) in pending.into_iter().enumerate() {
            let (result, data, keys) = match (&p.verdict, enriched.remove(&i)) {
                (Err(reason), _) => {
                    out.failures.push((p.id.clone(), reason.clone()));
                    (PROCESSING_FAILED, p.original, None)
                }
                (Ok(()), Some(Enriched::Drop)) => (DROPPED, Vec::new(), None),
                (Ok(()), Some(Enriched::DeadLetter(reason) | Enriched::Retry(reason))) => {
                    out.failures
                        .push((p.id.clone(), format!("enrichment failed: {reason}")));
                    (PROCESSING_FAILED, p.original, None)
                }
                (Ok(()), ready) => {
                    let mut data = match ready {
                        Some(Enriched::Ready(b)) if Some(&b) != p.json.as_ref() => {
                            out.enriched += 1;
                            b.to_vec()
                        }
                        _ => p.original,
                    };
                    let keys = partition_keys(config, &data);
                    let gzip = data.starts_with(&[0x1f, 0x8b]);
                    if config.append_newline && !gzip && !data.ends_with(b"\n") {
                        data.push(b'\n');
                    }
                    (OK, data, Some(keys))
                }
            };
            let mut record = KinesisFirehoseResponseRecord::default();
            record.record_id = Some(p.id.clone());
            let mut metadata = KinesisFirehoseResponseRecordMetadata::default();
            metadata.partition_keys = keys.unwrap_or_default();
            // Base64 weighs 4/3; the rest is the record's keys and partition keys.
            let weight = |data: &[u8], m: &KinesisFirehoseResponseRecordMetadata| {
                data.len().div_ceil(3) * 4
                    + p.id.len()
                    + 80
                    + m.partition_keys
                        .iter()
                        .map(|(k, v)| k.len() + v.len() + 6)
                        .sum::<usize>()
            };
            let mut result = result;
            let mut data = data;
            if size + weight(&data, &metadata) > RESPONSE_LIMIT {
                // Over Lambda's limit the whole response would be refused: answer this
                // record ProcessingFailed without its bytes (Firehose keeps its own copy).
                if result == OK {
                    out.failures.push((
                        p.id.clone(),
                        "the transformed batch would exceed Lambda's 6 MB response limit; lower the Firehose processor's BufferSizeInMBs".into(),
                    ));
                    result = PROCESSING_FAILED;
                }
                data = Vec::new();
                metadata.partition_keys.clear();
            }
            size += weight(&data, &metadata);
            match result {
                OK => out.ok += 1,
                DROPPED => out.dropped += 1,
                _ => {}
            }
            record.result = Some(result.to_owned());
            record.data.0 = data;
            record.metadata = metadata;
            out.response.records.push(record);
        }
        for (id, reason) in out.failures.iter().take(20) {
            tracing::warn!(record_id = %id, reason = %reason, "ProcessingFailed");
        }
        tracing::info!(
            handler = "firehose",
            ok = out.ok,
            dropped = out.dropped,
            failed = out.failures.len(),
            enriched = out.enriched,
            "invocation done"
        );
        Ok(out)
    }
}

/// `partition_keys` read from the (enriched) record.
fn partition_keys(config: &super::FirehoseTransformConfig, data: &[u8]) -> HashMap<String, String> {
    if config.partition_keys.is_empty() {
        return HashMap::new();
    }
    let doc: Value = serde_json::from_slice(data).unwrap_or(Value::Null);
    config
        .partition_keys
        .iter()
        .map(|(name, path)| {
            let value = path
                .split('.')
                .try_fold(&doc, |at, part| match at {
                    Value::Object(m) => m.get(part),
                    Value::Array(a) => part.parse::<usize>().ok().and_then(|i| a.get(i)),
                    _ => None,
                })
                .and_then(|v| match v {
                    Value::String(s) if !s.is_empty() => Some(s.clone()),
                    Value::Number(n) => Some(n.to_string()),
                    Value::Bool(b) => Some(b.to_string()),
                    _ => None,
                })
                .unwrap_or_else(|| config.missing_partition_value.clone());
            (name.clone(), value)
        })
        .collect()
}
