//! The notification sinks against real servers: the Slack sink against a local HTTP
//! receiver (axum, in the test) standing in for a Slack incoming webhook, and the SNS sink
//! against moto (`SWITCHBOARD_TEST_MOTO_URL`), read back through an SQS queue subscribed
//! to the topic, as a subscriber would get it.
//!
//! The SNS test fails when `SWITCHBOARD_REQUIRE_SERVERS=1` or `CI` is set and moto's URL
//! is missing, and is skipped with a note otherwise (`bash scripts/test.sh` starts the
//! servers and sets the variables).

mod sink_support;
mod support;

use std::time::Duration;

use serde_json::{json, Value};
use switchboard_io::sinks::notify::{SlackConfig, SnsConfig};
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};

use sink_support::{item, Answer, Receiver};
use support::{aws_at, server_url, unique};

/// An alert item as the pipeline routes it: the payload is the engine's `AlertEvent`,
/// serialized (`{"event": ..., "alert": {...}}`; unset options left out).
fn long_hold(id: i64, event: &str) -> Item {
    let mut alert = json!({
        "id": "long_hold:arn:aws:connect:us-east-1:123456789012:instance/i-1/agent/a-1:c-1:1700000000000",
        "kind": "long_hold",
        "subject": "arn:aws:connect:us-east-1:123456789012:instance/i-1/agent/a-1",
        "username": "jdoe",
        "contact_id": "c-1",
        "queue": "Sales",
        "since": "2023-11-14T22:13:20.000Z",
        "threshold_s": 300,
        "raised_at": "2023-11-14T22:19:32.000Z"
    });
    let kind = if event == "cleared" {
        alert["cleared_at"] = json!("2023-11-14T22:21:00.000Z");
        ItemKind::AlertCleared
    } else {
        ItemKind::AlertRaised
    };
    let payload = json!({"event": event, "alert": alert});
    let mut item = item(id, kind, payload.to_string().as_bytes());
    item.rule = "long-hold-and-acw".into();
    item
}

fn slack_config(url: &str) -> SlackConfig {
    SlackConfig {
        webhook_url_env: None,
        webhook_url: Some(url.to_owned()),
        ..SlackConfig::example()
    }
}

#[tokio::test]
async fn slack_gets_readable_alert_text() {
    let receiver = Receiver::start().await;
    let hook = receiver.url("/services/T000/B000/XXXX");
    std::env::set_var("SB_TEST_SLACK_URL", &hook);
    let config = SlackConfig {
        webhook_url_env: Some("SB_TEST_SLACK_URL".into()),
        channel: Some("#supervisors".into()),
        rate_limit_per_sec: None,
        ..SlackConfig::example()
    };
    let sink = config.build("supervisors").await.unwrap();
    let items = [long_hold(1, "raised"), long_hold(2, "cleared")];
    assert_eq!(
        sink.deliver(&items).await,
        [Outcome::Delivered, Outcome::Delivered]
    );

    let calls = receiver.calls();
    assert_eq!(calls.len(), 2);
    assert_eq!(calls[0].path, "/services/T000/B000/XXXX");
    assert_eq!(calls[0].header("content-type"), Some("application/json"));
    assert_eq!(calls[0].header("idempotency-key"), Some("key-1"));
    assert_eq!(
        calls[0].json(),
        json!({
            "text": ":warning: Long hold — agent jdoe on hold for 6m 12s, queue Sales",
            "channel": "#supervisors",
            "username": "switchboard"
        })
    );
    assert_eq!(
        calls[1].json()["text"],
        ":white_check_mark: Cleared: long hold — agent jdoe was on hold for 7m 40s, queue Sales"
    );
}

#[tokio::test]
async fn slack_text_template_and_enriched_agent_name() {
    let receiver = Receiver::start().await;
    let config = SlackConfig {
        text: Some("{{$text}} <!here> (contact {{alert.contact_id}}, rule {{$rule}})".into()),
        username: None,
        ..slack_config(&receiver.url("/hook"))
    };
    let sink = config.build("supervisors").await.unwrap();
    let mut alert = long_hold(1, "raised");
    let mut payload: Value = serde_json::from_slice(&alert.payload).unwrap();
    payload["agent_name"] = json!("Jane Doe");
    alert.payload = payload.to_string().into();
    assert_eq!(sink.deliver(&[alert]).await, [Outcome::Delivered]);
    assert_eq!(
        receiver.calls()[0].json(),
        json!({"text": ":warning: Long hold — agent Jane Doe (jdoe) on hold for 6m 12s, queue Sales <!here> (contact c-1, rule long-hold-and-acw)"})
    );
}

#[tokio::test]
async fn slack_throttling_holds_the_rest_of_the_batch_and_a_bad_hook_rejects() {
    let receiver = Receiver::start().await;
    receiver.answer_first([
        Answer::RetryAfter(429, "1"),
        Answer::Body(404, "no_service"),
    ]);
    let sink = slack_config(&receiver.url("/hook"))
        .build("supervisors")
        .await
        .unwrap();
    let items = [long_hold(1, "raised"), long_hold(2, "cleared")];

    let outcomes = sink.deliver(&items).await;
    for o in &outcomes {
        assert!(
            matches!(o, Outcome::Retry { after: Some(d), .. } if *d == Duration::from_secs(1)),
            "{outcomes:?}"
        );
    }
    // Only the first was sent: the cleared message waits for the raised one.
    assert_eq!(receiver.calls().len(), 1);
    assert_eq!(
        sink.deliver(&items[..1]).await,
        [Outcome::reject("HTTP 404: no_service")]
    );
}

// ---------------------------------------------------------------------------------------
// SNS against moto

/// moto's URL, or `None` (after a note) when the test may be skipped.
fn moto() -> Option<String> {
    server_url("SWITCHBOARD_TEST_MOTO_URL")
}

/// A topic with an SQS queue subscribed to it (both FIFO when `fifo`): (topic ARN, queue
/// URL).
async fn topic_with_queue(
    sns: &aws_sdk_sns::Client,
    sqs: &aws_sdk_sqs::Client,
    fifo: bool,
) -> (String, String) {
    use aws_sdk_sqs::types::QueueAttributeName;
    let suffix = if fifo { ".fifo" } else { "" };
    let mut topic = sns.create_topic().name(unique("sb-alerts") + suffix);
    let mut queue = sqs
        .create_queue()
        .queue_name(unique("sb-alerts-q") + suffix);
    if fifo {
        topic = topic.attributes("FifoTopic", "true");
        queue = queue.attributes(QueueAttributeName::FifoQueue, "true");
    }
    let topic = topic.send().await.unwrap().topic_arn.unwrap();
    let queue_url = queue.send().await.unwrap().queue_url.unwrap();
    let queue_arn = sqs
        .get_queue_attributes()
        .queue_url(&queue_url)
        .attribute_names(QueueAttributeName::QueueArn)
        .send()
        .await
        .unwrap()
        .attributes
        .unwrap()
        .remove(&QueueAttributeName::QueueArn)
        .unwrap();
    sns.subscribe()
        .topic_arn(&topic)
        .protocol("sqs")
        .endpoint(queue_arn)
        .send()
        .await
        .unwrap();
    (topic, queue_url)
}

/// The SNS notifications the queue holds (polls up to `polls` seconds for `n`).
async fn notifications(
    sqs: &aws_sdk_sqs::Client,
    queue_url: &str,
    n: usize,
    polls: u32,
) -> Vec<Value> {
    let mut out = Vec::new();
    for _ in 0..polls {
        let got = sqs
            .receive_message()
            .queue_url(queue_url)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .send()
            .await
            .unwrap();
        for m in got.messages.unwrap_or_default() {
            out.push(serde_json::from_str(m.body.as_deref().unwrap()).unwrap());
        }
        if out.len() >= n {
            break;
        }
    }
    out
}

#[tokio::test]
async fn sns_publishes_readable_text_with_kind_and_rule_attributes() {
    let Some(url) = moto() else { return };
    let aws = aws_at(&url);
    let sdk = aws.load().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic, queue_url) = topic_with_queue(&sns, &sqs, false).await;

    let config = SnsConfig {
        topic_arn: topic.clone(),
        aws: aws.clone(),
        ..SnsConfig::example()
    };
    let sink = config.build("alerts-topic").await.unwrap();
    assert_eq!(
        sink.deliver(&[long_hold(1, "raised")]).await,
        [Outcome::Delivered]
    );

    let got = notifications(&sqs, &queue_url, 1, 10).await;
    assert_eq!(got.len(), 1, "{got:?}");
    let n = &got[0];
    assert_eq!(n["Type"], "Notification");
    assert_eq!(n["TopicArn"], topic.as_str());
    assert_eq!(
        n["Message"],
        "Long hold — agent jdoe on hold for 6m 12s, queue Sales"
    );
    assert_eq!(
        n["Subject"],
        "Long hold - agent jdoe on hold for 6m 12s, queue Sales"
    );
    assert_eq!(
        n["MessageAttributes"]["kind"],
        json!({"Type": "String", "Value": "alert_raised"})
    );
    assert_eq!(
        n["MessageAttributes"]["rule"],
        json!({"Type": "String", "Value": "long-hold-and-acw"})
    );

    // A subject template, and the message as a template around the readable text.
    let config = SnsConfig {
        subject: Some("Contact center: {{$kind}}".into()),
        text: Some("{{$text}} [{{alert.contact_id}}]".into()),
        ..config
    };
    let sink = config.build("alerts-topic").await.unwrap();
    assert_eq!(
        sink.deliver(&[long_hold(2, "cleared")]).await,
        [Outcome::Delivered]
    );
    let got = notifications(&sqs, &queue_url, 1, 10).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0]["Subject"], "Contact center: alert_cleared");
    assert_eq!(
        got[0]["Message"],
        "Cleared: long hold — agent jdoe was on hold for 7m 40s, queue Sales [c-1]"
    );
}

#[tokio::test]
async fn sns_fifo_topics_get_a_group_and_the_key_as_deduplication_id() {
    let Some(url) = moto() else { return };
    let aws = aws_at(&url);
    let sdk = aws.load().await;
    let sns = aws_sdk_sns::Client::new(&sdk);
    let sqs = aws_sdk_sqs::Client::new(&sdk);
    let (topic, queue_url) = topic_with_queue(&sns, &sqs, true).await;

    let config = SnsConfig {
        topic_arn: topic,
        aws,
        ..SnsConfig::example()
    };
    let sink = config.build("alerts-topic").await.unwrap();
    let items = [long_hold(1, "raised")];
    // Sent twice (a retry after a lost answer): SNS drops the repeat by its key.
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);
    let got = notifications(&sqs, &queue_url, 2, 3).await;
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(
        got[0]["Message"],
        "Long hold — agent jdoe on hold for 6m 12s, queue Sales"
    );
}

#[tokio::test]
async fn sns_rejects_a_topic_that_does_not_exist() {
    let Some(url) = moto() else { return };
    let config = SnsConfig {
        topic_arn: "arn:aws:sns:us-east-1:123456789012:sb-no-such-topic".into(),
        aws: aws_at(&url),
        ..SnsConfig::example()
    };
    let sink = config.build("alerts-topic").await.unwrap();
    match &sink.deliver(&[long_hold(1, "raised")]).await[..] {
        [Outcome::Reject { reason }] => assert!(reason.contains("NotFound"), "{reason}"),
        other => panic!("expected a rejection: {other:?}"),
    }
}

#[tokio::test]
async fn sns_retries_when_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let config = SnsConfig {
        aws: aws_at(&format!("http://127.0.0.1:{port}")),
        timeout_ms: 1000,
        ..SnsConfig::example()
    };
    let sink = config.build("alerts-topic").await.unwrap();
    let outcomes = sink
        .deliver(&[long_hold(1, "raised"), long_hold(2, "cleared")])
        .await;
    assert!(
        outcomes.iter().all(|o| matches!(o, Outcome::Retry { .. })),
        "{outcomes:?}"
    );
}
