//! The dead-letter writer and readers against real destinations: a file in a fresh
//! folder, and S3 and SQS on moto. Entries from every stage go through the `Sink` as the
//! delivery worker sends them (`dead_letter` items whose payload is the entry's JSON),
//! come back equal through `read_dead_letters` with its filters, and a decode-stage
//! dead-letter file decodes again into the original records.

mod support;

use std::ops::ControlFlow;
use std::path::PathBuf;

use bytes::Bytes;
use switchboard_io::aws::AwsConfig;
use switchboard_io::sinks::dead_letter::{
    delete_sqs, read_dead_letters, DeadLetter, DeadLetterConfig, DeadLetterFilter,
    FileDeadLetterConfig, S3DeadLetterConfig, SqsDeadLetterConfig, Stage,
    DEFAULT_MAX_MESSAGE_BYTES,
};
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};
use switchboard_model::decode::{DecodeError, Source};
use switchboard_model::{Decoder, RecordKind};

use support::{create_queue, sample, unique, Moto};

const HOUR_MS: i64 = 3_600_000;
/// 2024-06-10T07:00:00Z.
const T0: i64 = 1_718_002_800_000;

fn read_sample(name: &str) -> Vec<u8> {
    std::fs::read(sample(name)).unwrap()
}

fn item(id: i64, kind: ItemKind, sink: &str, payload: Vec<u8>) -> Item {
    Item {
        id,
        rule: "contacts".into(),
        sink: sink.into(),
        key: format!("key-{id}"),
        kind,
        payload: Bytes::from(payload),
        event_ms: T0 - 60_000,
        created_ms: T0,
        attempts: 4,
    }
}

/// One dead letter of each stage, an hour apart, oldest first: a record that did not
/// decode (an agent event the store refused: its bytes are a good record), garbage that
/// did not decode, a contact record that failed validation, a contact event whose lookup
/// kept failing, a transition a webhook refused.
fn letters() -> Vec<DeadLetter> {
    let agent_event = read_sample("agent-event-state-change-contact-ended.json");
    let decode = DecodeError {
        source: Source {
            file: Some("exports/agents.ndjson".into()),
            line: Some(12),
            shard_id: Some("shardId-000000000001".into()),
            sequence_number: Some(
                "49590338271490256608559692538361571095921575989136588898".into(),
            ),
            ..Source::default()
        },
        reason: "invalid agent event: missing field `EventType`".into(),
        raw: agent_event,
    };
    let garbage = DecodeError {
        source: Source {
            file: Some("exports/agents.ndjson".into()),
            line: Some(13),
            ..Source::default()
        },
        reason: "not JSON".into(),
        raw: b"\x00\x01 not json at all".to_vec(),
    };
    let ctr = item(
        11,
        ItemKind::Record,
        "bi",
        read_sample("ctr-voice-inbound-2022.json"),
    );
    let event = item(
        12,
        ItemKind::Record,
        "kibana",
        read_sample("eventbridge-contact-disconnected.json"),
    );
    let transition = item(
        13,
        ItemKind::Transition,
        "crm",
        br#"{"agent":"jdoe","from":"Available","to":"OnContact","at":"2024-06-10T10:59:00Z"}"#
            .to_vec(),
    );
    vec![
        DeadLetter::from_decode_error(&decode, T0),
        DeadLetter::from_decode_error(&garbage, T0 + HOUR_MS),
        DeadLetter::from_item(
            &ctr,
            Stage::Validate,
            "ContactId is empty",
            T0 + 2 * HOUR_MS,
        ),
        DeadLetter::from_item(
            &event,
            Stage::Enrich,
            "lookup customers failed 5 times: timed out after 2000 ms",
            T0 + 3 * HOUR_MS,
        ),
        DeadLetter::from_item(
            &transition,
            Stage::Sink,
            "HTTP 400 Bad Request: {\"error\":\"unknown agent\"}",
            T0 + 4 * HOUR_MS,
        ),
    ]
}

/// The outbox items that carry `letters` to the dead-letter sink.
fn dead_letter_items(letters: &[DeadLetter], first_id: i64) -> Vec<Item> {
    letters
        .iter()
        .enumerate()
        .map(|(i, l)| {
            let mut it = item(
                first_id + i as i64,
                ItemKind::DeadLetter,
                "dead_letter",
                l.to_json(),
            );
            it.rule = l.rule.clone().unwrap_or_default();
            it.attempts = 0;
            it
        })
        .collect()
}

async fn deliver_all(sink: &dyn Sink, items: &[Item]) {
    let outcomes = sink.deliver(items).await;
    assert_eq!(outcomes, vec![Outcome::Delivered; items.len()]);
}

async fn read(config: &DeadLetterConfig, filter: DeadLetterFilter) -> Vec<DeadLetter> {
    let got = read_dead_letters(config, &filter, usize::MAX)
        .await
        .unwrap();
    assert!(got.unreadable.is_empty(), "{:?}", got.unreadable);
    got.found.into_iter().map(|f| f.letter).collect()
}

/// The filters `dlq list` offers, checked against what was written.
async fn check_filters(config: &DeadLetterConfig, written: &[DeadLetter]) {
    let all = DeadLetterFilter::default();
    assert_eq!(read(config, all.clone()).await, written);
    let by_stage = read(
        config,
        DeadLetterFilter {
            stage: Some(Stage::Decode),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(by_stage, written[..2]);
    let by_sink = read(
        config,
        DeadLetterFilter {
            sink: Some("crm".into()),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(by_sink, written[4..]);
    let by_time = read(
        config,
        DeadLetterFilter {
            since_ms: Some(T0 + HOUR_MS),
            until_ms: Some(T0 + 3 * HOUR_MS),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(by_time, written[1..3]);
    let by_key = read(
        config,
        DeadLetterFilter {
            key: Some("key-12".into()),
            rule: Some("contacts".into()),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(by_key, written[3..4]);
    let first_two = read_dead_letters(config, &all, 2).await.unwrap();
    assert_eq!(first_two.found.len(), 2);
    assert!(first_two.truncated);
    assert_eq!(first_two.found[1].letter, written[1]);
    let everything = read_dead_letters(config, &all, written.len())
        .await
        .unwrap();
    assert_eq!(everything.found.len(), written.len());
}

/// A fresh folder under the system's temporary folder, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        let dir = std::env::temp_dir().join(unique("switchboard-dead-letter"));
        std::fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[tokio::test]
async fn file_entries_from_every_stage_round_trip_and_filter() {
    let dir = TempDir::new();
    let path = dir.0.join("dead-letters.ndjson");
    let config = DeadLetterConfig::File(FileDeadLetterConfig { path: path.clone() });
    let sink = config.build("dead_letter").await.unwrap();
    assert_eq!(sink.name(), "dead_letter");
    assert!(path.exists(), "build creates the file");
    let written = letters();
    let items = dead_letter_items(&written, 100);
    deliver_all(&sink, &items[..3]).await;
    deliver_all(&sink, &items[3..]).await;

    let text = std::fs::read_to_string(&path).unwrap();
    assert_eq!(text.lines().count(), written.len());
    for (line, item) in text.lines().zip(&items) {
        assert_eq!(
            line.as_bytes(),
            &item.payload[..],
            "entries are written as sent"
        );
    }
    check_filters(&config, &written).await;
    let found = read_dead_letters(&config, &DeadLetterFilter::default(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(found.found[2].location, format!("{}:3", path.display()));
    assert!(found.found.iter().all(|f| f.receipt_handle.is_none()));

    // A line cut short (a full disk) is reported with its number; the next batch starts
    // on a fresh line and the entries around it still read.
    use std::io::Write;
    std::fs::OpenOptions::new()
        .append(true)
        .open(&path)
        .unwrap()
        .write_all(b"{\"attemptsMade\":1,\"rawD")
        .unwrap();
    let later = DeadLetter::from_item(
        &item(
            14,
            ItemKind::AlertRaised,
            "supervisors",
            b"{\"alert\":\"long_hold\"}".to_vec(),
        ),
        Stage::Sink,
        "HTTP 404",
        T0 + 5 * HOUR_MS,
    );
    deliver_all(&sink, &dead_letter_items(std::slice::from_ref(&later), 200)).await;
    let got = read_dead_letters(&config, &DeadLetterFilter::default(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(got.found.len(), written.len() + 1);
    assert_eq!(got.found[written.len()].letter, later);
    assert_eq!(got.unreadable.len(), 1, "{:?}", got.unreadable);
    assert_eq!(got.unreadable[0].location, format!("{}:6", path.display()));
    assert!(got.unreadable[0].reason.contains("not a dead-letter entry"));
}

#[tokio::test]
async fn a_dead_letter_file_decodes_again_into_the_original_records() {
    let dir = TempDir::new();
    let path = dir.0.join("dead-letters.ndjson");
    let config = DeadLetterConfig::from_legacy_path(path.clone());
    let sink = config.build("dead_letter").await.unwrap();
    let written = letters();
    deliver_all(&sink, &dead_letter_items(&written, 1)).await;

    // `switchboard replay dead-letters.ndjson`: the model's decoder, layout detected.
    let mut records = Vec::new();
    let mut errors = Vec::new();
    let file = std::fs::File::open(&path).unwrap();
    Decoder::default().decode_reader(Some("dead-letters.ndjson"), file, &mut |r| {
        match r {
            Ok(d) => records.push(d),
            Err(e) => errors.push(e),
        }
        ControlFlow::Continue(())
    });
    let kinds: Vec<RecordKind> = records.iter().map(|d| d.kind).collect();
    assert_eq!(
        kinds,
        [
            RecordKind::AgentEvent,
            RecordKind::ContactRecord,
            RecordKind::ContactEvent
        ]
    );
    // Byte for byte the original bytes (the sample files end with a newline, which is
    // not part of the JSON value), found in the Firehose-error layout.
    for (record, letter) in records.iter().zip([&written[0], &written[2], &written[3]]) {
        assert!(
            record.raw == letter.raw.trim_ascii_end(),
            "{:?}",
            record.kind
        );
    }
    assert!(records
        .iter()
        .all(|d| d.source.envelope == Some("firehose-error")));
    let direct = {
        let mut one = None;
        Decoder::default().decode_slice(None, &written[0].raw, &mut |r| {
            one = r.ok();
            ControlFlow::Break(())
        });
        one.unwrap()
    };
    assert_eq!(
        serde_json::to_value(records[0].record().unwrap()).unwrap(),
        serde_json::to_value(direct.record().unwrap()).unwrap()
    );
    // The garbage and the transition are not Connect records: they stay errors.
    assert_eq!(errors.len(), 2, "{errors:?}");
    assert_eq!(errors[0].raw, written[1].raw);
    assert_eq!(errors[1].raw, written[4].raw);
}

// ---------------------------------------------------------------------------------------
// S3

async fn s3_client(aws: &AwsConfig) -> aws_sdk_s3::Client {
    let sdk = aws.load().await;
    let conf = aws_sdk_s3::config::Builder::from(&sdk)
        .force_path_style(true)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

async fn object_keys(client: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = client
        .list_objects_v2()
        .bucket(bucket)
        .send()
        .await
        .unwrap();
    out.contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_objects_per_batch_by_hour_read_back_with_filters() {
    let moto = Moto::start();
    let aws = moto.aws();
    let client = s3_client(&aws).await;
    let bucket = unique("dead-letters").to_lowercase();
    client.create_bucket().bucket(&bucket).send().await.unwrap();
    let config = DeadLetterConfig::S3(S3DeadLetterConfig {
        bucket: bucket.clone(),
        prefix: "switchboard/dlq".into(),
        aws: aws.clone(),
    });
    let sink = config.build("dead_letter").await.unwrap();
    let written = letters();
    let items = dead_letter_items(&written, 100);
    deliver_all(&sink, &items[..2]).await;
    deliver_all(&sink, &items[2..]).await;
    // A batch delivered again (its confirmation lost) replaces its object.
    deliver_all(&sink, &items[2..]).await;

    let keys = object_keys(&client, &bucket).await;
    assert_eq!(keys.len(), 2, "{keys:?}");
    assert!(
        keys[0].starts_with("switchboard/dlq/2024/06/10/07/dead-letters-100-")
            && keys[0].ends_with(".ndjson"),
        "{keys:?}"
    );
    assert!(
        keys[1].starts_with("switchboard/dlq/2024/06/10/09/dead-letters-102-"),
        "{keys:?}"
    );
    check_filters(&config, &written).await;
    let found = read_dead_letters(&config, &DeadLetterFilter::default(), usize::MAX)
        .await
        .unwrap();
    assert_eq!(
        found.found[3].location,
        format!("s3://{bucket}/{}#2", keys[1])
    );

    // Hour folders starting at or after `until` are not even read: an unreadable object
    // there goes unnoticed, one before it is reported.
    for key in [
        "switchboard/dlq/2024/06/10/08/garbage.ndjson",
        "switchboard/dlq/2030/01/01/00/garbage.ndjson",
    ] {
        client
            .put_object()
            .bucket(&bucket)
            .key(key)
            .body(b"not an entry\n".to_vec().into())
            .send()
            .await
            .unwrap();
    }
    let filter = DeadLetterFilter {
        until_ms: Some(T0 + 2 * HOUR_MS),
        ..DeadLetterFilter::default()
    };
    let got = read_dead_letters(&config, &filter, usize::MAX)
        .await
        .unwrap();
    let got_letters: Vec<_> = got.found.iter().map(|f| f.letter.clone()).collect();
    assert_eq!(got_letters, written[..2]);
    assert_eq!(got.unreadable.len(), 1, "{:?}", got.unreadable);
    assert_eq!(
        got.unreadable[0].location,
        format!("s3://{bucket}/switchboard/dlq/2024/06/10/08/garbage.ndjson#1")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreachable_destinations_are_retried_never_rejected() {
    let moto = Moto::start();
    let aws = moto.aws();
    let items = dead_letter_items(&letters(), 1);
    let retried = |outcomes: Vec<Outcome>| {
        assert_eq!(outcomes.len(), items.len());
        assert!(
            outcomes.iter().all(|o| matches!(o, Outcome::Retry { .. })),
            "{outcomes:?}"
        );
    };
    let s3 = DeadLetterConfig::S3(S3DeadLetterConfig {
        bucket: unique("no-such-bucket").to_lowercase(),
        prefix: String::new(),
        aws: aws.clone(),
    });
    retried(s3.build("dead_letter").await.unwrap().deliver(&items).await);
    let sqs = DeadLetterConfig::Sqs(SqsDeadLetterConfig {
        queue_url: format!("{}/123456789012/{}", moto.url, unique("no-such-queue")),
        max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        aws,
    });
    retried(
        sqs.build("dead_letter")
            .await
            .unwrap()
            .deliver(&items)
            .await,
    );
    let dir = TempDir::new();
    let folder = dir.0.join("gone");
    std::fs::create_dir(&folder).unwrap();
    let file = DeadLetterConfig::from_legacy_path(folder.join("dl.ndjson"));
    let sink = file.build("dead_letter").await.unwrap();
    std::fs::remove_dir_all(&folder).unwrap();
    retried(sink.deliver(&items).await);
    let e = read_dead_letters(&file, &DeadLetterFilter::default(), 10)
        .await
        .unwrap_err();
    assert!(e.to_string().contains("no such file"), "{e}");
}

// ---------------------------------------------------------------------------------------
// SQS

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sqs_messages_are_peeked_filtered_and_deleted_after_replay() {
    let moto = Moto::start();
    let aws = moto.aws();
    let queue_url = create_queue(&moto.sqs().await, &unique("dead-letters")).await;
    let config = DeadLetterConfig::Sqs(SqsDeadLetterConfig {
        queue_url: queue_url.clone(),
        max_message_bytes: DEFAULT_MAX_MESSAGE_BYTES,
        aws: aws.clone(),
    });
    let sink = config.build("dead_letter").await.unwrap();
    let mut written = letters();
    // Twelve more sink-stage letters: more than one batch call and one receive.
    for i in 0..12 {
        written.push(DeadLetter::from_item(
            &item(
                50 + i,
                ItemKind::Transition,
                "crm",
                format!("{{\"n\":{i}}}").into_bytes(),
            ),
            Stage::Sink,
            "HTTP 422",
            T0 + 5 * HOUR_MS + i,
        ));
    }
    deliver_all(&sink, &dead_letter_items(&written, 100)).await;

    // SQS gives messages in no set order: compare sorted by time.
    let sorted = |mut v: Vec<DeadLetter>| {
        v.sort_by_key(|l| l.at_ms);
        v
    };
    let all = DeadLetterFilter::default();
    assert_eq!(sorted(read(&config, all.clone()).await), written);
    // Peeked, not drained: a second listing sees the same.
    assert_eq!(sorted(read(&config, all.clone()).await), written);
    let decode = read(
        &config,
        DeadLetterFilter {
            stage: Some(Stage::Decode),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(sorted(decode), written[..2]);
    let window = read(
        &config,
        DeadLetterFilter {
            since_ms: Some(T0 + HOUR_MS),
            until_ms: Some(T0 + 3 * HOUR_MS),
            ..all.clone()
        },
    )
    .await;
    assert_eq!(sorted(window), written[1..3]);
    let some = read_dead_letters(&config, &all, 3).await.unwrap();
    assert_eq!(some.found.len(), 3);
    assert!(some.truncated);
    assert!(some.found[0].location.starts_with(&format!("{queue_url}#")));

    // `dlq replay --delete`: replay the crm letters, then delete exactly those.
    let crm = read_dead_letters(
        &config,
        &DeadLetterFilter {
            sink: Some("crm".into()),
            ..all.clone()
        },
        usize::MAX,
    )
    .await
    .unwrap();
    assert_eq!(crm.found.len(), 13);
    let receipts: Vec<String> = crm
        .found
        .iter()
        .map(|f| f.receipt_handle.clone().unwrap())
        .collect();
    assert_eq!(delete_sqs(&config, &receipts).await.unwrap(), 13);
    assert_eq!(sorted(read(&config, all.clone()).await), written[..4]);
    let file = DeadLetterConfig::from_legacy_path("x.ndjson".into());
    assert!(delete_sqs(&file, &receipts).await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_entry_too_large_for_a_message_is_sent_without_its_bytes() {
    let moto = Moto::start();
    let aws = moto.aws();
    let queue_url = create_queue(&moto.sqs().await, &unique("dead-letters-small")).await;
    let config = DeadLetterConfig::Sqs(SqsDeadLetterConfig {
        queue_url,
        max_message_bytes: 2048,
        aws,
    });
    let sink = config.build("dead_letter").await.unwrap();
    let big = DeadLetter::from_item(
        &item(1, ItemKind::Record, "kibana", vec![b'x'; 4000]),
        Stage::Sink,
        "HTTP 413",
        T0,
    );
    let small = DeadLetter::from_item(
        &item(2, ItemKind::Record, "kibana", b"{}".to_vec()),
        Stage::Sink,
        "HTTP 400",
        T0 + 1,
    );
    let items = dead_letter_items(&[big.clone(), small.clone()], 1);
    deliver_all(&sink, &items).await;
    let mut got = read(&config, DeadLetterFilter::default()).await;
    got.sort_by_key(|l| l.at_ms);
    let expected_big = DeadLetter {
        raw: Vec::new(),
        raw_truncated: true,
        ..big
    };
    assert_eq!(got, [expected_big, small]);
}
