//! `switchboard aws setup | status | teardown` through the library, against moto
//! (Kinesis, Firehose, S3, IAM, SQS, EventBridge: SWITCHBOARD_TEST_MOTO_URL) and the
//! FAKE Connect API of `support/connect_fake` (moto has no storage-config calls; the
//! fake's shapes are checked against botocore's Connect model in connect_fake_model.rs).
//!
//! moto is shared with other tests: every name here carries a random token, and "moto
//! as it was" means nothing carrying the token is left.

#![cfg(feature = "connect")]

mod support;

use std::collections::BTreeSet;

use support::connect_fake::{ConnectFake, Op};
use switchboard_io::aws::setup::apply;
use switchboard_io::aws::setup::clients::Clients;
use switchboard_io::aws::setup::cost::{StreamMode, Traffic};
use switchboard_io::aws::setup::plan::{
    Action, ContactEvents, FirehoseTarget, Link, Plan, Request, Target,
};
use switchboard_io::aws::setup::prices::Prices;
use switchboard_io::aws::setup::{status, tags, teardown};

fn token() -> String {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!(
        "{:08x}",
        (nanos as u64 ^ u64::from(std::process::id()) << 20) as u32
    )
}

async fn clients(fake: &ConnectFake) -> Option<Clients> {
    let moto = support::server_url("SWITCHBOARD_TEST_MOTO_URL")?;
    let aws = support::aws_at(&moto);
    Some(Clients::new(&aws, Some(&fake.url())).await)
}

fn kinesis_request(instance: &str, t: &str) -> Request {
    let p = format!("switchboard-{t}");
    Request {
        instance_id: instance.into(),
        contact_records: Some(Target::Kinesis {
            stream: format!("{p}-contact-records"),
            mode: StreamMode::Provisioned { shards: 1 },
        }),
        agent_events: Some(Target::Kinesis {
            stream: format!("{p}-agent-events"),
            mode: StreamMode::Provisioned { shards: 1 },
        }),
        contact_events: Some(ContactEvents {
            rule: format!("{p}-contact-events"),
            queue: format!("{p}-contact-events"),
            exclude: vec!["CONTACT_DATA_UPDATED".into()],
        }),
    }
}

fn firehose_request(instance: &str, t: &str) -> Request {
    let p = format!("switchboard-{t}");
    let mut r = kinesis_request(instance, t);
    r.contact_records = Some(Target::Firehose(FirehoseTarget {
        name: format!("{p}-contact-records"),
        bucket: format!("{p}-ctr-123456789012-us-east-1"),
        prefix: "connect/contact-records/".into(),
        error_prefix: "connect/errors/!{firehose:error-output-type}/".into(),
        buffer_mb: 5,
        buffer_secs: 300,
        role: format!("{p}-firehose"),
    }));
    r
}

/// Everything in moto whose name carries `t`, with its tags, and the instance's
/// storage configs in the fake.
async fn inventory(c: &Clients, fake: &ConnectFake, instance: &str, t: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    // Paginated: the test servers hold every other test's streams too.
    let mut streams = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let page = c
            .kinesis
            .list_streams()
            .set_next_token(next.take())
            .send()
            .await
            .unwrap();
        streams.extend(page.stream_names);
        match page.next_token {
            Some(token) if page.has_more_streams => next = Some(token),
            _ => break,
        }
    }
    for s in streams {
        if s.contains(t) {
            let tags = c
                .kinesis
                .list_tags_for_stream()
                .stream_name(&s)
                .send()
                .await
                .unwrap();
            let tags: Vec<_> = tags.tags.into_iter().map(|t| t.key).collect();
            out.insert(format!("kinesis {s} {tags:?}"));
        }
    }
    let fh = c
        .firehose
        .list_delivery_streams()
        .limit(10_000)
        .send()
        .await
        .unwrap();
    for s in fh.delivery_stream_names {
        if s.contains(t) {
            out.insert(format!("firehose {s}"));
        }
    }
    for b in
        c.s3.list_buckets()
            .send()
            .await
            .unwrap()
            .buckets
            .unwrap_or_default()
    {
        let name = b.name.unwrap_or_default();
        if name.contains(t) {
            out.insert(format!("bucket {name}"));
        }
    }
    for r in c
        .iam
        .list_roles()
        .max_items(1000)
        .send()
        .await
        .unwrap()
        .roles
    {
        if r.role_name.contains(t) {
            out.insert(format!("role {}", r.role_name));
        }
    }
    let queues = c
        .sqs
        .list_queues()
        .queue_name_prefix(format!("switchboard-{t}"));
    for q in queues.send().await.unwrap().queue_urls.unwrap_or_default() {
        out.insert(format!("queue {q}"));
    }
    let rules = c
        .events
        .list_rules()
        .name_prefix(format!("switchboard-{t}"));
    for r in rules.send().await.unwrap().rules.unwrap_or_default() {
        out.insert(format!("rule {}", r.name.unwrap_or_default()));
    }
    for kind in ["CONTACT_TRACE_RECORDS", "AGENT_EVENTS"] {
        for s in fake.storage(instance, kind) {
            out.insert(format!("association {kind} {s}"));
        }
    }
    out
}

async fn setup(
    c: &Clients,
    request: &Request,
) -> Result<Plan, switchboard_io::aws::setup::SetupError> {
    let (observed, arn) = apply::observe(c, request).await?;
    let plan = Plan::make(request, &observed);
    apply::apply(c, &plan, &arn, "switchboard-test").await?;
    Ok(plan)
}

async fn teardown_all(c: &Clients, instance: &str) -> teardown::TeardownPlan {
    let plan = teardown::find(c, instance).await.unwrap();
    teardown::carry_out(c, &plan, true).await.unwrap();
    plan
}

#[tokio::test]
async fn kinesis_pair_setup_reuse_status_teardown_leaves_moto_as_it_was() {
    let fake = ConnectFake::start().await;
    let Some(c) = clients(&fake).await else {
        return;
    };
    let t = token();
    let instance = format!("{t}-kinesis");
    fake.with(|s| {
        s.add_instance(&instance);
    });
    let before = inventory(&c, &fake, &instance, &t).await;

    let request = kinesis_request(&instance, &t);
    let plan = setup(&c, &request).await.unwrap();
    assert!(
        plan.resources.iter().all(|(_, a)| *a == Action::Create),
        "{plan}"
    );
    let made = inventory(&c, &fake, &instance, &t).await;
    assert_eq!(made.len(), before.len() + 6, "{made:#?}");
    let ctr = fake.storage(&instance, "CONTACT_TRACE_RECORDS");
    assert_eq!(ctr.len(), 1);
    assert_eq!(ctr[0]["StorageType"], "KINESIS_STREAM");
    assert!(ctr[0]["KinesisStreamConfig"]["StreamArn"]
        .as_str()
        .unwrap()
        .ends_with(&format!("stream/switchboard-{t}-contact-records")));
    // Tags on what it made.
    let stream = format!("switchboard-{t}-agent-events");
    let tags_of = c
        .kinesis
        .list_tags_for_stream()
        .stream_name(&stream)
        .send()
        .await
        .unwrap();
    let tags_of: Vec<_> = tags_of
        .tags
        .into_iter()
        .map(|t| (t.key, t.value.unwrap_or_default()))
        .collect();
    assert!(
        tags_of.contains(&(tags::MANAGED_BY.into(), "switchboard".into())),
        "{tags_of:?}"
    );
    assert!(
        tags_of.contains(&(tags::INSTANCE.into(), instance.clone())),
        "{tags_of:?}"
    );
    // The rule: Connect contact events of this instance, less CONTACT_DATA_UPDATED, to
    // the queue; the queue lets EventBridge send.
    let rule = c
        .events
        .describe_rule()
        .name(format!("switchboard-{t}-contact-events"))
        .send()
        .await
        .unwrap();
    let pattern: serde_json::Value =
        serde_json::from_str(rule.event_pattern.as_deref().unwrap()).unwrap();
    assert_eq!(pattern["source"][0], "aws.connect");
    assert_eq!(pattern["detail-type"][0], "Amazon Connect Contact Event");
    assert!(pattern["resources"][0]
        .as_str()
        .unwrap()
        .ends_with(&format!("instance/{instance}")));
    assert_eq!(
        pattern["detail"]["eventType"][0]["anything-but"][0],
        "CONTACT_DATA_UPDATED"
    );
    let url = c
        .sqs
        .get_queue_url()
        .queue_name(format!("switchboard-{t}-contact-events"))
        .send()
        .await
        .unwrap()
        .queue_url
        .unwrap();
    let attrs = c
        .sqs
        .get_queue_attributes()
        .queue_url(&url)
        .attribute_names(aws_sdk_sqs::types::QueueAttributeName::Policy)
        .send()
        .await
        .unwrap();
    let policy = attrs.attributes.unwrap()[&aws_sdk_sqs::types::QueueAttributeName::Policy].clone();
    assert!(
        policy.contains("events.amazonaws.com") && policy.contains("sqs:SendMessage"),
        "{policy}"
    );

    // A second setup reuses everything: no duplicates, no new association.
    let again = setup(&c, &request).await.unwrap();
    assert!(
        again.resources.iter().all(|(_, a)| *a == Action::ReuseMade),
        "{again}"
    );
    assert!(
        again
            .associations
            .iter()
            .all(|(_, _, l)| matches!(l, Link::Already(_))),
        "{again}"
    );
    assert_eq!(inventory(&c, &fake, &instance, &t).await, made);
    assert_eq!(fake.count(Op::AssociateInstanceStorageConfig), 2);

    // Status: both associated, made by switchboard; a record put is seen as flowing.
    c.kinesis
        .put_record()
        .stream_name(&stream)
        .data(aws_sdk_kinesis::primitives::Blob::new(b"{}".to_vec()))
        .partition_key("a")
        .send()
        .await
        .unwrap();
    let report = status::report(&c, &instance, &Traffic::default(), &Prices::built_in())
        .await
        .unwrap();
    let shown = report.to_string();
    assert!(shown.contains("made by switchboard"), "{shown}");
    assert!(shown.contains("newest record"), "{shown}");
    assert!(shown.contains("no record in the last 24 h"), "{shown}");
    assert!(shown.contains("USD/month"), "{shown}");
    assert_eq!(report.lines.len(), 3, "{shown}");

    // Teardown removes all of it; a second one finds nothing.
    let plan = teardown_all(&c, &instance).await;
    assert_eq!(plan.disassociate.len(), 2, "{plan}");
    assert_eq!(plan.delete.len(), 4, "{plan}");
    assert_eq!(inventory(&c, &fake, &instance, &t).await, before);
    let second = teardown::find(&c, &instance).await.unwrap();
    assert!(second.is_empty(), "{second}");
}

#[tokio::test]
async fn firehose_setup_then_teardown_leaves_moto_as_it_was() {
    let fake = ConnectFake::start().await;
    let Some(c) = clients(&fake).await else {
        return;
    };
    let t = token();
    let instance = format!("{t}-firehose");
    fake.with(|s| {
        s.add_instance(&instance);
    });
    let before = inventory(&c, &fake, &instance, &t).await;
    let request = firehose_request(&instance, &t);
    setup(&c, &request).await.unwrap();
    let fh = c
        .firehose
        .describe_delivery_stream()
        .delivery_stream_name(format!("switchboard-{t}-contact-records"))
        .send()
        .await
        .unwrap()
        .delivery_stream_description
        .unwrap();
    let dest = fh.destinations[0]
        .extended_s3_destination_description
        .clone()
        .unwrap();
    assert_eq!(dest.prefix.as_deref(), Some("connect/contact-records/"));
    assert!(dest
        .error_output_prefix
        .unwrap()
        .contains("!{firehose:error-output-type}"));
    assert!(dest.role_arn.contains(&format!("switchboard-{t}-firehose")));
    let buffering = dest.buffering_hints.unwrap();
    assert_eq!(
        (buffering.size_in_mbs, buffering.interval_in_seconds),
        (Some(5), Some(300))
    );
    let ctr = fake.storage(&instance, "CONTACT_TRACE_RECORDS");
    assert_eq!(ctr[0]["StorageType"], "KINESIS_FIREHOSE");
    assert_eq!(
        ctr[0]["KinesisFirehoseConfig"]["FirehoseArn"],
        fh.delivery_stream_arn.as_str()
    );
    let made = inventory(&c, &fake, &instance, &t).await;
    // stream, bucket, role, delivery stream, queue, rule + 2 associations
    assert_eq!(made.len(), before.len() + 8, "{made:#?}");

    let plan = teardown_all(&c, &instance).await;
    assert_eq!(plan.delete.len(), 6, "{plan}");
    assert_eq!(inventory(&c, &fake, &instance, &t).await, before);
}

#[tokio::test]
async fn a_refused_association_leaves_what_teardown_finishes() {
    let fake = ConnectFake::start().await;
    let Some(c) = clients(&fake).await else {
        return;
    };
    let t = token();
    let instance = format!("{t}-halfway");
    fake.with(|s| {
        s.add_instance(&instance);
        s.fail_next(
            Some(Op::AssociateInstanceStorageConfig),
            400,
            "InvalidRequestException",
            "refused by the test",
        );
    });
    let before = inventory(&c, &fake, &instance, &t).await;
    let err = setup(&c, &kinesis_request(&instance, &t))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("refused by the test"), "{err}");
    assert!(
        err.contains("switchboard aws teardown --instance-id"),
        "{err}"
    );
    // Streams, queue and rule were made and tagged before the association failed.
    let partial = inventory(&c, &fake, &instance, &t).await;
    assert_eq!(partial.len(), before.len() + 4, "{partial:#?}");
    let plan = teardown_all(&c, &instance).await;
    assert_eq!(plan.delete.len(), 4, "{plan}");
    assert_eq!(inventory(&c, &fake, &instance, &t).await, before);
}

#[tokio::test]
async fn a_stream_that_existed_is_associated_then_kept_by_teardown() {
    let fake = ConnectFake::start().await;
    let Some(c) = clients(&fake).await else {
        return;
    };
    let t = token();
    let instance = format!("{t}-reuse");
    fake.with(|s| {
        s.add_instance(&instance);
    });
    let theirs = format!("theirs-{t}-agents");
    c.kinesis
        .create_stream()
        .stream_name(&theirs)
        .shard_count(2)
        .send()
        .await
        .unwrap();
    let before = inventory(&c, &fake, &instance, &t).await;
    let mut request = kinesis_request(&instance, &t);
    request.agent_events = Some(Target::Kinesis {
        stream: theirs.clone(),
        mode: StreamMode::Provisioned { shards: 1 },
    });
    let plan = setup(&c, &request).await.unwrap();
    assert!(
        plan.resources
            .iter()
            .any(|(r, a)| r.name == theirs && *a == Action::ReuseOther),
        "{plan}"
    );
    assert_eq!(fake.storage(&instance, "AGENT_EVENTS").len(), 1);

    let plan = teardown_all(&c, &instance).await;
    assert!(plan.kept.iter().any(|k| k.contains(&theirs)), "{plan}");
    assert!(
        !plan.delete.iter().any(|i| i.resource.name == theirs),
        "{plan}"
    );
    // The stream is back as it was: no association, no marker tag.
    assert_eq!(inventory(&c, &fake, &instance, &t).await, before);
    c.kinesis
        .delete_stream()
        .stream_name(&theirs)
        .send()
        .await
        .unwrap();
}
