//! The S3 sink against moto's S3 (`SWITCHBOARD_TEST_MOTO_URL`, or a moto of the test's
//! own): objects by event hour and partition, bodies byte for byte with a newline after
//! each record, gzip, items that cannot be partitioned under the error prefix as
//! Firehose error records, a retried batch overwriting its object, and S3's errors
//! classified (a missing bucket rejects, an unreachable endpoint retries).

mod support;

use std::io::Read;

use bytes::Bytes;
use serde_json::{json, Value};
use switchboard_io::aws::AwsConfig;
use switchboard_io::sinks::s3::{PartitionField, S3Config, TimeBasis};
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};
use switchboard_model::envelope::decode_base64;
use switchboard_model::Timestamp;

use support::{sample, unique, Moto};

async fn client(moto: &Moto) -> aws_sdk_s3::Client {
    let sdk = moto.aws().load().await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&sdk)
            .force_path_style(true)
            .build(),
    )
}

async fn bucket(moto: &Moto) -> (aws_sdk_s3::Client, String) {
    let s3 = client(moto).await;
    let name = unique("sb-sink");
    s3.create_bucket().bucket(&name).send().await.unwrap();
    (s3, name)
}

fn config(moto: &Moto, bucket: &str) -> S3Config {
    S3Config {
        bucket: bucket.into(),
        prefix: "ctr".into(),
        time: TimeBasis::Event,
        partition_by: vec![PartitionField {
            name: "queue".into(),
            path: "Queue.Name".into(),
        }],
        gzip: false,
        force_path_style: true,
        aws: moto.aws(),
        ..S3Config::example()
    }
}

/// Every key in the bucket, sorted.
async fn keys(s3: &aws_sdk_s3::Client, bucket: &str) -> Vec<String> {
    let out = s3.list_objects_v2().bucket(bucket).send().await.unwrap();
    let mut keys: Vec<String> = out
        .contents()
        .iter()
        .filter_map(|o| o.key().map(str::to_owned))
        .collect();
    keys.sort();
    keys
}

async fn get(s3: &aws_sdk_s3::Client, bucket: &str, key: &str) -> (Vec<u8>, Option<String>) {
    let out = s3
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .unwrap();
    let encoding = out.content_encoding().map(str::to_owned);
    let body = out.body.collect().await.unwrap().into_bytes().to_vec();
    (body, encoding)
}

fn ms(ts: &str) -> i64 {
    Timestamp::parse(ts).unwrap().millis()
}

fn item(id: i64, payload: impl Into<Bytes>, event_ms: i64) -> Item {
    Item {
        id,
        rule: "archive".into(),
        sink: "archive".into(),
        key: format!("key-{id}"),
        kind: ItemKind::Record,
        payload: payload.into(),
        event_ms,
        created_ms: ms("2024-06-01T10:20:30Z"),
        attempts: 0,
    }
}

/// A compact contact record of `queue` (`None`: a contact that never queued).
fn ctr(contact_id: &str, queue: Option<&str>, last_update: &str) -> String {
    json!({
        "AWSAccountId": "123456789012",
        "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Agent": null,
        "Channel": "VOICE",
        "ContactId": contact_id,
        "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2022-04-08T14:59:38Z",
        "LastUpdateTimestamp": last_update,
        "Queue": queue.map(|q| json!({"Name": q, "Duration": 7})),
        "Attributes": {"greetingPlayed": "true"},
    })
    .to_string()
}

/// Splits a body into its lines, checking each ends with a newline.
fn lines(body: &[u8]) -> Vec<&[u8]> {
    assert_eq!(
        body.last(),
        Some(&b'\n'),
        "every record ends with a newline"
    );
    body[..body.len() - 1].split(|&b| b == b'\n').collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_by_event_hour_and_partition_with_exact_lines() {
    let moto = Moto::start();
    let (s3, bucket) = bucket(&moto).await;
    let sink = config(&moto, &bucket).build("archive").await.unwrap();

    // The published sample is pretty-printed: its line breaks become spaces, every other
    // byte stays.
    let sample = std::fs::read(sample("ctr-voice-inbound-2022.json")).unwrap();
    let sales_a = ctr("c-sales-a", Some("Sales"), "2022-04-08T15:10:00Z");
    let sales_b = ctr("c-sales-b", Some("Sales"), "2022-04-08T16:00:00Z");
    let slashed = ctr("c-eu", Some("Support/EU"), "2022-04-08T15:59:59Z");
    let unqueued = ctr("c-none", None, "2022-04-08T15:30:00Z");
    let items = vec![
        item(1, sample.clone(), ms("2022-04-08T15:03:02Z")),
        item(2, sales_a.clone(), ms("2022-04-08T15:10:00Z")),
        item(3, sales_b.clone(), ms("2022-04-08T16:00:00Z")),
        item(4, slashed.clone(), ms("2022-04-08T15:59:59Z")),
        item(5, unqueued.clone(), ms("2022-04-08T15:30:00Z")),
        item(6, "not json at all", ms("2022-04-08T15:30:00Z")),
    ];
    let outcomes = sink.deliver(&items).await;
    assert_eq!(outcomes, vec![Outcome::Delivered; 6]);

    let keys = keys(&s3, &bucket).await;
    let folders: Vec<&str> = keys.iter().map(|k| k.rsplit_once('/').unwrap().0).collect();
    assert_eq!(
        folders,
        [
            "ctr/queue=BasicQueue/2022/04/08/15",
            "ctr/queue=Sales/2022/04/08/15",
            "ctr/queue=Sales/2022/04/08/16",
            "ctr/queue=Support%2FEU/2022/04/08/15",
            "errors/2022/04/08/15",
        ],
        "{keys:?}"
    );
    for key in &keys {
        let file = key.rsplit_once('/').unwrap().1;
        assert!(
            file.starts_with("archive-") && file.ends_with(".ndjson"),
            "{key}"
        );
    }

    let (body, encoding) = get(&s3, &bucket, &keys[0]).await;
    assert_eq!(encoding, None);
    let expected: Vec<u8> = sample
        .iter()
        .map(|&b| if b == b'\n' || b == b'\r' { b' ' } else { b })
        .collect();
    assert_eq!(lines(&body), [expected.as_slice()]);
    let reparsed: Value = serde_json::from_slice(lines(&body)[0]).unwrap();
    assert_eq!(reparsed, serde_json::from_slice::<Value>(&sample).unwrap());

    for (key, payloads) in [
        (&keys[1], vec![&sales_a]),
        (&keys[2], vec![&sales_b]),
        (&keys[3], vec![&slashed]),
    ] {
        let (body, _) = get(&s3, &bucket, key).await;
        let want: Vec<&[u8]> = payloads.iter().map(|p| p.as_bytes()).collect();
        assert_eq!(lines(&body), want, "{key}");
    }

    // The error object: one Firehose error record per item, the original bytes in rawData.
    let (body, _) = get(&s3, &bucket, &keys[4]).await;
    let records: Vec<Value> = lines(&body)
        .iter()
        .map(|l| serde_json::from_slice(l).unwrap())
        .collect();
    assert_eq!(records.len(), 2);
    assert_eq!(records[0]["errorCode"], "Switchboard.PartitionValueMissing");
    assert!(
        records[0]["errorMessage"]
            .as_str()
            .unwrap()
            .contains("Queue.Name is missing (Queue is null)"),
        "{}",
        records[0]
    );
    assert_eq!(
        decode_base64(records[0]["rawData"].as_str().unwrap()).unwrap(),
        unqueued.as_bytes()
    );
    assert_eq!(records[0]["key"], "key-5");
    assert_eq!(records[0]["arrivalTimestamp"], ms("2024-06-01T10:20:30Z"));
    assert_eq!(records[1]["errorCode"], "Switchboard.PayloadNotJson");
    assert_eq!(
        decode_base64(records[1]["rawData"].as_str().unwrap()).unwrap(),
        b"not json at all"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzip_objects_by_arrival_hour_decompress_to_the_lines() {
    let moto = Moto::start();
    let (s3, bucket) = bucket(&moto).await;
    let c = S3Config {
        prefix: String::new(),
        partition_by: vec![],
        time: TimeBasis::Arrival,
        gzip: true,
        ..config(&moto, &bucket)
    };
    let sink = c.build("raw").await.unwrap();
    let payloads: Vec<String> = (0..50)
        .map(|i| ctr(&format!("c-{i}"), Some("Sales"), "2022-04-08T15:10:00Z"))
        .collect();
    let items: Vec<Item> = payloads
        .iter()
        .enumerate()
        .map(|(i, p)| item(100 + i as i64, p.clone(), ms("2022-04-08T15:10:00Z")))
        .collect();
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 50]);

    let keys = keys(&s3, &bucket).await;
    assert_eq!(keys.len(), 1, "{keys:?}");
    assert!(keys[0].starts_with("2024/06/01/10/raw-100-"), "{}", keys[0]);
    assert!(keys[0].ends_with(".ndjson.gz"), "{}", keys[0]);
    let (zipped, encoding) = get(&s3, &bucket, &keys[0]).await;
    assert_eq!(encoding.as_deref(), Some("gzip"));
    let mut body = Vec::new();
    flate2::read::GzDecoder::new(&zipped[..])
        .read_to_end(&mut body)
        .unwrap();
    let want: Vec<&[u8]> = payloads.iter().map(|p| p.as_bytes()).collect();
    assert_eq!(lines(&body), want);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retried_batch_overwrites_its_objects() {
    let moto = Moto::start();
    let (s3, bucket) = bucket(&moto).await;
    let sink = config(&moto, &bucket).build("archive").await.unwrap();
    let items = vec![
        item(
            1,
            ctr("a", Some("Sales"), "2022-04-08T15:10:00Z"),
            ms("2022-04-08T15:10:00Z"),
        ),
        item(
            2,
            ctr("b", Some("Billing"), "2022-04-08T15:11:00Z"),
            ms("2022-04-08T15:11:00Z"),
        ),
        item(
            3,
            ctr("c", None, "2022-04-08T15:12:00Z"),
            ms("2022-04-08T15:12:00Z"),
        ),
    ];
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 3]);
    let first = keys(&s3, &bucket).await;
    assert_eq!(first.len(), 3, "{first:?}");
    let (body, _) = get(&s3, &bucket, &first[1]).await;

    // The same batch again (an answer lost, the worker retrying), then again after a
    // restart with the items retried once more: still the same three objects.
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 3]);
    let again: Vec<Item> = items
        .iter()
        .cloned()
        .map(|mut i| {
            i.attempts = 3;
            i
        })
        .collect();
    let rebuilt = config(&moto, &bucket).build("archive").await.unwrap();
    assert_eq!(rebuilt.deliver(&again).await, vec![Outcome::Delivered; 3]);
    assert_eq!(keys(&s3, &bucket).await, first);
    assert_eq!(get(&s3, &bucket, &first[1]).await.0, body);

    // A different batch makes a new object beside them.
    let more = vec![item(
        4,
        ctr("d", Some("Sales"), "2022-04-08T15:13:00Z"),
        ms("2022-04-08T15:13:00Z"),
    )];
    assert_eq!(sink.deliver(&more).await, vec![Outcome::Delivered]);
    assert_eq!(keys(&s3, &bucket).await.len(), 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_bucket_rejects_and_unreachable_endpoint_retries() {
    let moto = Moto::start();
    let missing = config(&moto, &unique("sb-missing"))
        .build("archive")
        .await
        .unwrap();
    let items = vec![item(1, ctr("a", Some("Sales"), "2022-04-08T15:10:00Z"), 0)];
    match &missing.deliver(&items).await[0] {
        Outcome::Reject { reason } => {
            assert!(reason.contains("NoSuchBucket"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    let closed = support::free_port();
    let c = S3Config {
        aws: AwsConfig {
            endpoint_url: Some(format!("http://127.0.0.1:{closed}")),
            ..moto.aws()
        },
        ..config(&moto, "sb-anything")
    };
    let down = c.build("archive").await.unwrap();
    match &down.deliver(&items).await[0] {
        Outcome::Retry { reason, .. } => assert!(reason.contains("S3"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn hints_follow_the_buffer_settings() {
    let c = S3Config {
        buffer_max_bytes: 2 * 1024 * 1024,
        buffer_interval_secs: 60,
        ..S3Config::example()
    };
    let sink = c.build("archive").await.unwrap();
    let hints = sink.hints();
    assert_eq!(hints.max_bytes, 2 * 1024 * 1024);
    assert_eq!(hints.max_wait, std::time::Duration::from_secs(60));
    assert_eq!(sink.name(), "archive");
    let bad = S3Config {
        bucket: "No".into(),
        ..S3Config::example()
    };
    let e = bad.build("archive").await.err().unwrap();
    assert!(e.to_string().contains("bucket"), "{e}");
}
