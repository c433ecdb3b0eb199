//! The webhook sink against a real HTTP receiver on 127.0.0.1 (axum, in the test) that
//! fails its first calls as each test scripts them (500; 429 with `Retry-After`; a hang
//! past the client's timeout; 400) and then succeeds, recording what it received.
//!
//! The delivery worker is not in the loop: each test calls `Sink::deliver` itself, as the
//! worker does for a claimed batch and again for a retry, and checks the outcomes.
//! Timing assertions (rate limit, timeout) use wide bounds: the machine is shared.

mod sink_support;

use std::time::{Duration, Instant};

use serde_json::{json, Value};
use switchboard_io::sinks::retry::batch_key;
use switchboard_io::sinks::webhook::{WebhookConfig, WebhookSink};
use switchboard_io::sinks::{ItemKind, Outcome, Sink};

use sink_support::{item, Answer, Receiver};

async fn sink(config: Value) -> WebhookSink {
    let config: WebhookConfig = serde_json::from_value(config).unwrap();
    config.build("crm").await.unwrap()
}

const RECORD: &[u8] =
    br#"{"ContactId":"c-1","Queue":null,"Attributes":{"orderId":"o-9"},"n":1.50}"#;

#[tokio::test]
async fn a_500_is_retried_and_the_next_attempt_delivers_with_the_same_key_and_bytes() {
    let receiver = Receiver::start().await;
    receiver.answer_first([Answer::Status(500)]);
    let sink = sink(json!({"url": receiver.url("/hook")})).await;
    let items = [item(1, ItemKind::Record, RECORD)];

    let first = sink.deliver(&items).await;
    match &first[..] {
        [Outcome::Retry {
            reason,
            after: None,
        }] => assert!(reason.contains("HTTP 500"), "{reason}"),
        other => panic!("expected a retry: {other:?}"),
    }
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);

    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    for call in &calls {
        assert_eq!(call.method, "POST");
        assert_eq!(call.path, "/hook");
        assert_eq!(call.header("idempotency-key"), Some("key-1"));
        assert_eq!(call.header("content-type"), Some("application/json"));
        // Without a template the payload goes as it is, byte for byte (null, 1.50).
        assert_eq!(&call.body[..], RECORD);
    }
    assert_eq!((calls[0].status, calls[1].status), (500, 200));
}

#[tokio::test]
async fn a_429_surfaces_its_retry_after() {
    let receiver = Receiver::start().await;
    receiver.answer_first([Answer::RetryAfter(429, "1"), Answer::RetryAfter(503, "120")]);
    let sink = sink(json!({"url": receiver.url("/hook")})).await;
    let items = [item(1, ItemKind::Record, RECORD)];

    match &sink.deliver(&items).await[..] {
        [Outcome::Retry { reason, after }] => {
            assert_eq!(*after, Some(Duration::from_secs(1)));
            assert!(reason.contains("HTTP 429"), "{reason}");
        }
        other => panic!("expected a retry: {other:?}"),
    }
    match &sink.deliver(&items).await[..] {
        [Outcome::Retry { after, .. }] => assert_eq!(*after, Some(Duration::from_secs(120))),
        other => panic!("expected a retry: {other:?}"),
    }
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);
    assert_eq!(receiver.calls().len(), 3);
}

#[tokio::test]
async fn a_hang_past_the_timeout_is_retried() {
    let receiver = Receiver::start().await;
    receiver.answer_first([Answer::Hang(Duration::from_secs(30))]);
    let sink = sink(json!({"url": receiver.url("/hook"), "timeout_ms": 300})).await;
    let items = [item(1, ItemKind::Record, RECORD)];

    let started = Instant::now();
    match &sink.deliver(&items).await[..] {
        [Outcome::Retry {
            reason,
            after: None,
        }] => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected a retry: {other:?}"),
    }
    // Given up at the timeout, long before the receiver would have answered.
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("idempotency-key"),
        calls[1].header("idempotency-key")
    );
}

#[tokio::test]
async fn a_400_is_rejected_with_its_status_and_body_and_a_redirect_too() {
    let receiver = Receiver::start().await;
    receiver.answer_first([
        Answer::Body(400, "{\"error\": \"missing field\n  contactId\"}"),
        Answer::Redirect("/elsewhere"),
        Answer::Status(404),
    ]);
    let sink = sink(json!({"url": receiver.url("/hook")})).await;
    let items = [item(1, ItemKind::Record, RECORD)];

    assert_eq!(
        sink.deliver(&items).await,
        [Outcome::reject(
            "HTTP 400: {\"error\": \"missing field contactId\"}"
        )]
    );
    match &sink.deliver(&items).await[..] {
        [Outcome::Reject { reason }] => {
            assert!(
                reason.starts_with("HTTP 302") && reason.contains("redirect"),
                "{reason}"
            )
        }
        other => panic!("expected a rejection: {other:?}"),
    }
    assert_eq!(sink.deliver(&items).await, [Outcome::reject("HTTP 404")]);
    // The redirect was not followed.
    assert!(receiver.calls().iter().all(|c| c.path == "/hook"));
}

#[tokio::test]
async fn an_unreachable_endpoint_is_retried() {
    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let sink =
        sink(json!({"url": format!("http://127.0.0.1:{port}/hook"), "timeout_ms": 2000})).await;
    match &sink.deliver(&[item(1, ItemKind::Record, RECORD)]).await[..] {
        [Outcome::Retry { reason, .. }] => {
            assert!(reason.contains("cannot connect"), "{reason}");
            assert!(
                !reason.contains(&port.to_string()),
                "the URL stays out: {reason}"
            );
        }
        other => panic!("expected a retry: {other:?}"),
    }
}

#[tokio::test]
async fn the_body_template_and_headers_are_sent_exactly() {
    std::env::set_var("SB_TEST_WEBHOOK_TOKEN", "t0ken");
    let receiver = Receiver::start().await;
    let sink = sink(json!({
        "url": receiver.url("/contacts"),
        "method": "PUT",
        "headers": {"Authorization": "Bearer ${SB_TEST_WEBHOOK_TOKEN}", "X-Source": "switchboard"},
        "body": {
            "contactId": "{{contact_id}}",
            "handle": "{{record.Agent.AgentInteractionDuration}}",
            "attributes": "{{record.Attributes}}",
            "firstTag": "{{tags.0}}",
            "summary": "Contact {{contact_id}} on {{timeline.channel}} ({{record.Agent.AgentInteractionDuration}}s){{nothing}}",
            "missing": "{{record.No.Such}}",
            "key": "{{$key}}", "kind": "{{$kind}}", "rule": "{{$rule}}",
            "whole": "{{$}}",
            "fixed": [1, true, null, "text"]
        }
    }))
    .await;
    let payload = json!({
        "contact_id": "c-7",
        "timeline": {"channel": "VOICE"},
        "tags": ["vip", "x"],
        "record": {"Agent": {"AgentInteractionDuration": 312}, "Attributes": {"orderId": "o-1"}}
    });
    let items = [item(
        7,
        ItemKind::ContactRecordReady,
        payload.to_string().as_bytes(),
    )];
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);

    let calls = receiver.calls();
    assert_eq!(calls.len(), 1);
    let call = &calls[0];
    assert_eq!(call.method, "PUT");
    assert_eq!(call.header("authorization"), Some("Bearer t0ken"));
    assert_eq!(call.header("x-source"), Some("switchboard"));
    assert_eq!(call.header("idempotency-key"), Some("key-7"));
    assert_eq!(
        call.json(),
        json!({
            "contactId": "c-7",
            "handle": 312,
            "attributes": {"orderId": "o-1"},
            "firstTag": "vip",
            "summary": "Contact c-7 on VOICE (312s)",
            "missing": null,
            "key": "key-7", "kind": "contact_record_ready", "rule": "rule-a",
            "whole": payload,
            "fixed": [1, true, null, "text"]
        })
    );
}

#[tokio::test]
async fn a_batch_posts_one_array_per_request_and_rejects_what_is_not_json_alone() {
    let receiver = Receiver::start().await;
    let sink = sink(json!({"url": receiver.url("/bulk"), "batch": 3, "concurrency": 1})).await;
    assert_eq!(sink.hints().max_items % 3, 0, "claims are whole batches");
    let items = [
        item(1, ItemKind::Record, br#"{"a":1}"#),
        item(2, ItemKind::Record, br#"{"b": null}"#),
        item(3, ItemKind::Record, b"not json"),
        item(4, ItemKind::Record, br#"{"c":[1,2]}"#),
        item(5, ItemKind::Record, br#"{"d":"e"}"#),
    ];
    let outcomes = sink.deliver(&items).await;
    assert_eq!(outcomes[0], Outcome::Delivered);
    assert_eq!(outcomes[1], Outcome::Delivered);
    assert!(
        matches!(&outcomes[2], Outcome::Reject { reason } if reason.contains("not JSON")),
        "{outcomes:?}"
    );
    assert_eq!(&outcomes[3..], [Outcome::Delivered, Outcome::Delivered]);

    let mut calls = receiver.calls();
    calls.sort_by_key(|c| c.body.len());
    let bodies: Vec<&[u8]> = calls.iter().map(|c| &c.body[..]).collect();
    assert_eq!(
        bodies,
        [
            &b"[{\"d\":\"e\"}]"[..],
            &b"[{\"a\":1},{\"b\": null},{\"c\":[1,2]}]"[..]
        ]
    );
    let first = [items[0].clone(), items[1].clone(), items[3].clone()];
    assert_eq!(
        calls[1].header("idempotency-key"),
        Some(batch_key(&first).as_str())
    );
    assert_eq!(calls[0].header("idempotency-key"), Some("key-5"));
}

#[tokio::test]
async fn a_failed_batch_is_retried_as_a_whole() {
    let receiver = Receiver::start().await;
    receiver.answer_first([Answer::Status(502)]);
    let sink = sink(json!({"url": receiver.url("/bulk"), "batch": 10, "body": {"id": "{{id}}", "key": "{{$key}}"}})).await;
    let items: Vec<_> = (1..=3)
        .map(|n| item(n, ItemKind::Record, format!("{{\"id\":{n}}}").as_bytes()))
        .collect();
    let outcomes = sink.deliver(&items).await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Retry { .. })),
        "{outcomes:?}"
    );
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 3]);
    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(
        calls[0].header("idempotency-key"),
        calls[1].header("idempotency-key")
    );
    assert_eq!(
        calls[1].json(),
        json!([{"id": 1, "key": "key-1"}, {"id": 2, "key": "key-2"}, {"id": 3, "key": "key-3"}])
    );
}

#[tokio::test]
async fn the_rate_limit_spaces_requests_out() {
    let receiver = Receiver::start().await;
    // 5 a second, with room for 4 in flight: the limit, not the concurrency, paces them.
    let sink =
        sink(json!({"url": receiver.url("/hook"), "rate_limit_per_sec": 5, "concurrency": 4}))
            .await;
    let items: Vec<_> = (1..=11)
        .map(|n| item(n, ItemKind::Record, RECORD))
        .collect();
    let started = Instant::now();
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 11]);
    let took = started.elapsed();

    let mut at: Vec<Instant> = receiver.calls().iter().map(|c| c.at).collect();
    at.sort();
    assert_eq!(at.len(), 11);
    // 11 requests at 5 a second, the first at once: at least 2 s from first to last
    // (allowing for the network squeezing a gap or two).
    let span = at[10] - at[0];
    assert!(
        span >= Duration::from_millis(1600),
        "11 requests within {span:?}"
    );
    assert!(took >= Duration::from_millis(1600), "{took:?}");
    // No one-second window holds more than 5 (+1 for arrival jitter).
    for (i, start) in at.iter().enumerate() {
        let inside = at[i..]
            .iter()
            .take_while(|t| **t - *start < Duration::from_secs(1))
            .count();
        assert!(
            inside <= 6,
            "{inside} requests within a second of request {i}"
        );
    }
}

#[tokio::test]
async fn concurrency_bounds_the_requests_in_flight() {
    let receiver = Receiver::start().await;
    receiver.slow(Duration::from_millis(200));
    let sink = sink(json!({"url": receiver.url("/hook"), "concurrency": 2})).await;
    let items: Vec<_> = (1..=6).map(|n| item(n, ItemKind::Record, RECORD)).collect();
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 6]);
    assert_eq!(receiver.max_in_flight(), 2);
    let mut keys: Vec<String> = receiver
        .calls()
        .iter()
        .map(|c| c.header("idempotency-key").unwrap().to_owned())
        .collect();
    keys.sort();
    assert_eq!(keys, ["key-1", "key-2", "key-3", "key-4", "key-5", "key-6"]);
}
