//! The handlers that apply records to the engine: Kinesis, SQS and EventBridge. Each turns
//! its event into [`Unit`]s (one per Kinesis record, SQS message, event), hands them to
//! [`Handler::apply`], and answers in its trigger's terms.

use std::ops::ControlFlow;
use std::time::Instant;

use aws_lambda_events::event::kinesis::KinesisEvent;
use aws_lambda_events::event::sqs::{BatchItemFailure, SqsBatchResponse, SqsEvent};
use aws_lambda_events::event::streams::{KinesisBatchItemFailure, KinesisEventResponse};
use switchboard_model::decode::{DecodeError, Decoded, Decoder, Format, Source};

use super::{Applied, Handler, Unit};

/// A Kinesis invocation's response and what happened.
#[derive(Debug, Clone)]
pub struct KinesisOutcome {
    /// `batchItemFailures`: empty, or the sequence number of the first record that failed.
    pub response: KinesisEventResponse,
    pub applied: Applied,
}

/// An SQS invocation's response and what happened.
#[derive(Debug, Clone)]
pub struct SqsOutcome {
    /// `batchItemFailures`: the first message that failed and every one after it.
    pub response: SqsBatchResponse,
    pub applied: Applied,
}

impl Handler {
    /// A batch from a Kinesis event source mapping (agent events or contact records).
    pub fn kinesis(&self, event: KinesisEvent, deadline: Instant) -> KinesisOutcome {
        let mut sequence_numbers = Vec::with_capacity(event.records.len());
        let units: Vec<Unit> = event
            .records
            .into_iter()
            .enumerate()
            .map(|(i, r)| {
                let stream = r
                    .event_source_arn
                    .as_deref()
                    .and_then(|a| a.rsplit_once('/'))
                    .map_or("kinesis", |(_, name)| name)
                    .to_owned();
                let shard = r
                    .event_id
                    .as_deref()
                    .and_then(|id| id.split_once(':'))
                    .map(|(shard, _)| shard.to_owned());
                let seq = r.kinesis.sequence_number.clone();
                sequence_numbers.push(seq.clone());
                let partition = format!("kinesis:{stream}/{}", shard.as_deref().unwrap_or("-"));
                let source = Source {
                    envelope: Some("kinesis-lambda"),
                    index: Some(i),
                    shard_id: shard,
                    sequence_number: Some(seq.clone()),
                    partition_key: Some(r.kinesis.partition_key.clone()),
                    record_id: r.event_id.clone(),
                    ..Source::default()
                };
                Unit {
                    items: decode(&r.kinesis.data.0, Format::Auto, source),
                    position: Some((format!("lambda:{partition}"), seq)),
                    partition,
                }
            })
            .collect();
        let applied = self.apply("lambda:kinesis", units, deadline);
        let mut response = KinesisEventResponse::default();
        if let Some((i, _)) = &applied.first_failed {
            let mut failure = KinesisBatchItemFailure::default();
            failure.item_identifier = Some(sequence_numbers[*i].clone());
            response.batch_item_failures.push(failure);
        }
        summary("kinesis", &applied);
        KinesisOutcome { response, applied }
    }

    /// A batch from an SQS event source mapping: each body an EventBridge contact event
    /// (an EventBridge rule's SQS target) or Connect records.
    pub fn sqs(&self, event: SqsEvent, deadline: Instant) -> SqsOutcome {
        let mut ids = Vec::with_capacity(event.records.len());
        let units: Vec<Unit> = event
            .records
            .into_iter()
            .enumerate()
            .map(|(i, m)| {
                let queue = m
                    .event_source_arn
                    .as_deref()
                    .and_then(|a| a.rsplit(':').next())
                    .unwrap_or("sqs")
                    .to_owned();
                let id = m.message_id.clone().unwrap_or_default();
                ids.push(id.clone());
                let source = Source {
                    envelope: Some("sqs-lambda"),
                    index: Some(i),
                    record_id: m.message_id.clone(),
                    ..Source::default()
                };
                let body = m.body.unwrap_or_default();
                Unit {
                    items: decode(body.as_bytes(), Format::Auto, source),
                    partition: format!("sqs:{queue}"),
                    position: None,
                }
            })
            .collect();
        let applied = self.apply("lambda:sqs", units, deadline);
        let mut response = SqsBatchResponse::default();
        if let Some((first, _)) = &applied.first_failed {
            for id in &ids[*first..] {
                let mut failure = BatchItemFailure::default();
                failure.item_identifier = id.clone();
                response.batch_item_failures.push(failure);
            }
        }
        summary("sqs", &applied);
        SqsOutcome { response, applied }
    }

    /// One EventBridge event (a rule's Lambda target), as its original bytes so what is
    /// routed keeps them. `Err` when it cannot be committed: Lambda retries the event.
    pub fn eventbridge(&self, event: &[u8], deadline: Instant) -> anyhow::Result<Applied> {
        let source = Source {
            envelope: Some("eventbridge-lambda"),
            ..Source::default()
        };
        let unit = Unit {
            items: decode(event, Format::EventBridge, source),
            partition: "eventbridge".into(),
            position: None,
        };
        let applied = self.apply("lambda:eventbridge", vec![unit], deadline);
        summary("eventbridge", &applied);
        match &applied.first_failed {
            Some((_, reason)) => Err(anyhow::anyhow!(
                "the event was not committed ({reason}); Lambda retries it"
            )),
            None => Ok(applied),
        }
    }
}

/// Decodes one payload; every record and error carries `source`'s envelope fields. A
/// payload with nothing in it is one error (an empty Kinesis record is not nothing).
pub(crate) fn decode(
    payload: &[u8],
    format: Format,
    source: Source,
) -> Vec<Result<Decoded, DecodeError>> {
    let mut items = Vec::new();
    Decoder::new(format).decode_slice(None, payload, &mut |item| {
        items.push(
            item.map_err(|mut e| {
                e.source = merge(&source, e.source);
                e
            })
            .map(|mut d| {
                d.source = merge(&source, d.source);
                d
            }),
        );
        ControlFlow::Continue(())
    });
    if items.is_empty() {
        items.push(Err(DecodeError {
            source,
            reason: "empty payload: no Connect record in it".into(),
            raw: payload.to_vec(),
        }));
    }
    items
}

/// `outer`'s envelope fields with `inner`'s positions inside the payload.
fn merge(outer: &Source, inner: Source) -> Source {
    Source {
        line: inner.line,
        offset: inner.offset,
        part: inner.part.or(inner.index),
        envelope: inner.envelope.or(outer.envelope),
        ..outer.clone()
    }
}

fn summary(handler: &str, a: &Applied) {
    tracing::info!(
        handler,
        records = a.records,
        bad = a.bad,
        failed = a.first_failed.is_some(),
        delivered = a.delivered.delivered,
        retried = a.delivered.retried,
        dead_lettered = a.delivered.dead_lettered,
        undelivered = a.undelivered,
        "invocation done"
    );
}
