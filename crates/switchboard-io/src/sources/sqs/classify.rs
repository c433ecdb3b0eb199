//! What to do with one SQS message, decided from its body and receive count alone (no
//! I/O, so it is tested without a queue): deliver its records, delete it as filtered
//! out, or dead-letter it.

use std::ops::ControlFlow;

use switchboard_model::decode::{DecodeError, Decoded, Decoder, Format, Source};

use crate::sources::filter::EventTypeFilter;

/// The envelope name of records that came from an SQS message.
pub(crate) const ENVELOPE: &str = "sqs";

/// The fate of one message.
#[derive(Debug)]
pub(crate) enum Verdict {
    /// Records to deliver (at least one); the message is deleted after their commit.
    Deliver(Vec<Decoded>),
    /// Nothing the filter keeps: delete at once.
    Filtered,
    /// Poison (received too often) or undecodable: to the dead-letter queue, or to the
    /// pipeline's dead letters when there is no queue.
    DeadLetter(Box<DecodeError>),
}

/// Decides what to do with a message. `receive_count` is SQS's
/// `ApproximateReceiveCount` (this receive included): a message is given to the pipeline
/// at most `max_receives` times, and dead-lettered when received once more.
pub(crate) fn classify(
    body: &str,
    message_id: Option<&str>,
    receive_count: Option<u32>,
    max_receives: u32,
    filter: &EventTypeFilter,
) -> Verdict {
    let at = Source {
        envelope: Some(ENVELOPE),
        record_id: message_id.map(str::to_owned),
        ..Source::default()
    };
    let dead = |reason: String| {
        Verdict::DeadLetter(Box::new(DecodeError {
            source: at.clone(),
            reason,
            raw: body.as_bytes().to_vec(),
        }))
    };
    if let Some(count) = receive_count.filter(|&c| c > max_receives) {
        return dead(format!(
            "received {count} times without being stored (max_receives {max_receives})"
        ));
    }
    // The body is an EventBridge event as a rule's SQS target sends it (or a record, or
    // an array: anything the decoder detects).
    let mut records = Vec::new();
    let mut reasons = Vec::new();
    Decoder::new(Format::Auto).decode_slice(None, body.as_bytes(), &mut |item| {
        match item {
            Ok(mut d) => {
                d.source = Source {
                    line: d.source.line,
                    offset: d.source.offset,
                    part: d.source.index,
                    ..at.clone()
                };
                records.push(d);
            }
            Err(e) => reasons.push(e.reason),
        }
        ControlFlow::Continue(())
    });
    if !reasons.is_empty() {
        // The message is the unit: its good records wait with it in the dead-letter queue
        // rather than being applied without the rest.
        return dead(reasons.join("; "));
    }
    if records.is_empty() {
        return dead("empty message body: no Connect record".into());
    }
    records.retain(|d| filter.accepts_decoded(d));
    if records.is_empty() {
        Verdict::Filtered
    } else {
        Verdict::Deliver(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sources::http::tests_support::sample;

    fn event() -> String {
        std::fs::read_to_string(sample("eventbridge-contact-disconnected.json")).unwrap()
    }

    fn exclude(t: &str) -> EventTypeFilter {
        EventTypeFilter {
            include: vec![],
            exclude: vec![t.into()],
        }
    }

    #[test]
    fn event_delivered_with_its_message_id() {
        let v = classify(
            &event(),
            Some("m-1"),
            Some(1),
            5,
            &EventTypeFilter::default(),
        );
        let Verdict::Deliver(records) = v else {
            panic!("{v:?}")
        };
        assert_eq!(records.len(), 1);
        assert_eq!(records[0].source.envelope, Some("sqs"));
        assert_eq!(records[0].source.record_id.as_deref(), Some("m-1"));
    }

    #[test]
    fn filtered_event_is_dropped() {
        let v = classify(&event(), None, Some(1), 5, &exclude("DISCONNECTED"));
        assert!(matches!(v, Verdict::Filtered), "{v:?}");
    }

    #[test]
    fn poison_after_max_receives() {
        let ok = classify(&event(), None, Some(3), 3, &EventTypeFilter::default());
        assert!(
            matches!(ok, Verdict::Deliver(_)),
            "the third receive is still delivered"
        );
        let v = classify(&event(), Some("m"), Some(4), 3, &EventTypeFilter::default());
        let Verdict::DeadLetter(e) = v else {
            panic!("{v:?}")
        };
        assert!(e.reason.contains("received 4 times"), "{}", e.reason);
        assert_eq!(e.raw, event().as_bytes());
    }

    #[test]
    fn undecodable_bodies_are_dead_lettered_whole() {
        for body in ["not json", "{\"hello\": 1}", "", "   "] {
            let v = classify(body, None, Some(1), 5, &EventTypeFilter::default());
            assert!(matches!(v, Verdict::DeadLetter(_)), "{body:?}: {v:?}");
        }
        // One good and one bad event in an array: the message goes whole.
        let body = format!("[{}, {{\"x\": 1}}]", event());
        let v = classify(&body, None, Some(1), 5, &EventTypeFilter::default());
        assert!(matches!(v, Verdict::DeadLetter(_)), "{v:?}");
    }
}
