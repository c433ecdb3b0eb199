//! EventBridge put-events (boto3 as the producer) through a rule to an SQS queue that the
//! SQS source drains, on moto; and the dead-letter paths: an undecodable message, and a
//! poison message whose commit keeps failing.

mod support;

use std::time::Duration;

use aws_sdk_sqs::types::{MessageSystemAttributeName, QueueAttributeName};
use serde_json::Value;
use switchboard_io::delivery::AckError;
use switchboard_io::sources::filter::EventTypeFilter;
use switchboard_io::sources::sqs::{self, SqsConfig};
use switchboard_io::SourceContext;
use switchboard_model::{Record, RecordKind};
use tokio::sync::watch;

use support::{create_queue, eventually, pipeline, sample, unique, Moto};

/// Messages visible plus in flight.
async fn remaining(client: &aws_sdk_sqs::Client, queue: &str) -> u64 {
    let out = client
        .get_queue_attributes()
        .queue_url(queue)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessages)
        .attribute_names(QueueAttributeName::ApproximateNumberOfMessagesNotVisible)
        .send()
        .await
        .unwrap();
    out.attributes()
        .map(|a| a.values().map(|v| v.parse::<u64>().unwrap_or(0)).sum())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn eventbridge_rule_to_sqs_drained_after_commit() {
    let moto = Moto::start();
    // boto3: a queue, a rule matching Connect contact events targeting it, and
    // put-events of three contact events and one event of another source.
    let script = r#"
samples, name = sys.argv[1], sys.argv[2]
sqs = client('sqs')
url = sqs.create_queue(QueueName=name)['QueueUrl']
arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=['QueueArn'])['Attributes']['QueueArn']
events = client('events')
events.create_event_bus(Name=name)
events.put_rule(Name=name, EventBusName=name, EventPattern=json.dumps(
    {'source': ['aws.connect'], 'detail-type': ['Amazon Connect Contact Event']}))
events.put_targets(Rule=name, EventBusName=name, Targets=[{'Id': 'queue', 'Arn': arn}])
entries = []
for fname in ['eventbridge-contact-disconnected.json', 'eventbridge-contact-data-updated.json',
             'eventbridge-contact-connected-to-agent-detail-only.json']:
    with open(samples + '/' + fname) as f:
        event = json.loads(f.read())
    entries.append({'EventBusName': name, 'Source': 'aws.connect', 'DetailType': 'Amazon Connect Contact Event',
                    'Resources': event.get('resources', []), 'Detail': json.dumps(event.get('detail', event))})
entries.append({'EventBusName': name, 'Source': 'other.app', 'DetailType': 'Amazon Connect Contact Event',
                'Detail': json.dumps({'eventType': 'QUEUED', 'contactId': 'not-connect'})})
out = events.put_events(Entries=entries)
assert out['FailedEntryCount'] == 0, out
print(url)
"#;
    let samples = sample("")
        .to_str()
        .unwrap()
        .trim_end_matches('/')
        .to_owned();
    let name = unique("connect-contact-events");
    let queue = moto.python(script, &[&samples, &name]).trim().to_owned();
    let client = moto.sqs().await;
    assert_eq!(
        remaining(&client, &queue).await,
        3,
        "the rule routed the three Connect events"
    );

    let (tx, received, _pipeline) = pipeline(|_| Ok(()));
    let (stop, shutdown) = watch::channel(false);
    let config = SqsConfig {
        wait_time_secs: 1,
        event_types: EventTypeFilter {
            include: vec![],
            exclude: vec!["CONTACT_DATA_UPDATED".into()],
        },
        aws: moto.aws(),
        ..SqsConfig::new(queue.clone())
    };
    let source = tokio::spawn(sqs::run(config, SourceContext::new(tx, shutdown)));

    eventually(Duration::from_secs(30), "two delivered events", || {
        let r = received.lock().unwrap();
        if r.records().len() >= 2 {
            return true;
        }
        // Anything else delivered is a failure worth showing at once.
        let errors: Vec<String> = r
            .deliveries
            .iter()
            .flat_map(|(_, items)| items.iter().filter_map(|i| i.as_ref().err()))
            .map(|e| e.to_string())
            .collect();
        assert!(errors.is_empty(), "dead letters: {errors:?}");
        false
    })
    .await;
    // Deleted after the commit; the filtered event deleted without delivery.
    let started = std::time::Instant::now();
    while remaining(&client, &queue).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "queue not drained"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    source.await.unwrap().unwrap();

    let r = received.lock().unwrap();
    let mut types: Vec<String> = r
        .records()
        .iter()
        .map(|d| match &d.record().unwrap() {
            Record::ContactEvent(e) => e.detail.event_type.as_str().to_owned(),
            other => panic!("not a contact event: {:?}", other.kind()),
        })
        .collect();
    types.sort();
    assert_eq!(
        types,
        ["CONNECTED_TO_AGENT", "DISCONNECTED"],
        "CONTACT_DATA_UPDATED filtered out, the other source's event not routed"
    );
    for d in r.records() {
        assert_eq!(d.kind, RecordKind::ContactEvent);
        assert_eq!(d.source.envelope, Some("sqs"));
        assert!(d.source.record_id.is_some(), "the SQS message id");
    }
    let source = format!("sqs:{name}");
    assert!(r.deliveries.iter().all(|(s, _)| *s == source));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undecodable_and_poison_messages_go_to_the_dead_letter_queue() {
    let moto = Moto::start();
    let client = moto.sqs().await;
    let queue = create_queue(&client, &unique("events")).await;
    let dlq = create_queue(&client, &unique("events-dlq")).await;
    let event = std::fs::read_to_string(sample("eventbridge-contact-disconnected.json")).unwrap();
    for body in ["this is not json", event.as_str()] {
        client
            .send_message()
            .queue_url(&queue)
            .message_body(body)
            .send()
            .await
            .unwrap();
    }

    // Every commit fails: the event comes back after its 1 s visibility timeout, and on
    // its second receive (max_receives 1) it is poison.
    let (tx, received, _pipeline) = pipeline(|_| Err(AckError("store unavailable".into())));
    let (stop, shutdown) = watch::channel(false);
    let config = SqsConfig {
        wait_time_secs: 1,
        visibility_timeout_secs: 1,
        max_receives: 1,
        dead_letter_queue_url: Some(dlq.clone()),
        aws: moto.aws(),
        ..SqsConfig::new(queue.clone())
    };
    let source = tokio::spawn(sqs::run(config, SourceContext::new(tx, shutdown)));

    let mut dead = Vec::new();
    let started = std::time::Instant::now();
    while dead.len() < 2 {
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "dead letters: {dead:?}"
        );
        let out = client
            .receive_message()
            .queue_url(&dlq)
            .max_number_of_messages(10)
            .wait_time_seconds(1)
            .message_attribute_names("All")
            .message_system_attribute_names(MessageSystemAttributeName::All)
            .send()
            .await
            .unwrap();
        for m in out.messages.unwrap_or_default() {
            let attrs = m.message_attributes.clone().unwrap_or_default();
            let reason = attrs["switchboard-reason"].string_value.clone().unwrap();
            assert_eq!(
                attrs["switchboard-source-queue"].string_value.as_deref(),
                Some(queue.as_str())
            );
            dead.push((m.body.unwrap(), reason));
        }
    }
    let poison = dead
        .iter()
        .find(|(b, _)| b.starts_with('{'))
        .expect("the poison event");
    assert!(poison.1.contains("received 2 times"), "{dead:?}");
    let poison: Value = serde_json::from_str(&poison.0).unwrap();
    assert_eq!(
        poison["detail"]["eventType"], "DISCONNECTED",
        "the body kept as it was"
    );
    let garbage = dead
        .iter()
        .find(|(b, _)| b == "this is not json")
        .expect("the garbage");
    assert!(garbage.1.contains("not JSON"), "{dead:?}");
    let started = std::time::Instant::now();
    while remaining(&client, &queue).await > 0 {
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "queue not drained"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    source.await.unwrap().unwrap();
    // The event was delivered once (and failed) before it became poison.
    assert_eq!(received.lock().unwrap().records().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_commit_keeps_the_message_hidden_until_it_is_deleted() {
    let moto = Moto::start();
    let client = moto.sqs().await;
    let queue = create_queue(&client, &unique("slow")).await;
    let event = std::fs::read_to_string(sample("eventbridge-contact-disconnected.json")).unwrap();
    client
        .send_message()
        .queue_url(&queue)
        .message_body(event)
        .send()
        .await
        .unwrap();

    // A pipeline that takes 3 s to commit, with a 1 s visibility timeout: without the
    // source extending the visibility, the message would be received (and delivered)
    // again meanwhile.
    let (tx, mut rx) = switchboard_io::delivery::channel(4);
    let deliveries = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let consumer = tokio::spawn({
        let deliveries = std::sync::Arc::clone(&deliveries);
        async move {
            while let Some(mut d) = rx.recv().await {
                deliveries.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let ack = d.ack.take().unwrap();
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_secs(3)).await;
                    ack.send(Ok(()));
                });
            }
        }
    });
    let (stop, shutdown) = watch::channel(false);
    let config = SqsConfig {
        wait_time_secs: 1,
        visibility_timeout_secs: 1,
        aws: moto.aws(),
        ..SqsConfig::new(queue.clone())
    };
    let source = tokio::spawn(sqs::run(config, SourceContext::new(tx, shutdown)));
    let started = std::time::Instant::now();
    loop {
        assert!(started.elapsed() < Duration::from_secs(30), "not deleted");
        if deliveries.load(std::sync::atomic::Ordering::SeqCst) > 0
            && remaining(&client, &queue).await == 0
        {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    stop.send(true).unwrap();
    source.await.unwrap().unwrap();
    consumer.await.unwrap();
    assert_eq!(
        deliveries.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "delivered once: hidden while its commit was awaited"
    );
}
