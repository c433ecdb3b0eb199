//! `setup`: look at what is there ([`observe`]), then carry out a [`Plan`] ([`apply`]):
//! make what is missing, tagged, in an order where each step needs only earlier ones
//! (bucket, role, delivery stream; streams; queue, rule, queue policy, target; then the
//! associations), and say what the written config reads. A failure part-way is
//! reported as [`SetupError::PartWay`]: everything made so far carries its tags, so a
//! second setup reuses it and teardown removes it.

use std::collections::BTreeMap;

use super::clients::Clients;
use super::config_file::Written;
use super::error::SetupError;
use super::plan::{Action, Kind, Link, Observed, Plan, Request, Resource, Target};
use super::resources::{connect, events, firehose, kinesis, pairs};
use super::tags::{self, owner};

/// What is there for `request`: each resource with its owner, stream modes, the
/// instance's associations. Returns the instance ARN too.
pub async fn observe(c: &Clients, request: &Request) -> Result<(Observed, String), SetupError> {
    let id = &request.instance_id;
    let instance_arn = connect::instance_arn(&c.connect, id).await?;
    let mut observed = Observed::default();
    for r in request.resources() {
        let found_tags = match r.kind {
            Kind::KinesisStream => kinesis::find(&c.kinesis, &r.name).await?.map(|f| {
                observed.modes.insert(r.name.clone(), f.mode);
                f.tags
            }),
            Kind::S3Bucket => firehose::bucket_tags(&c.s3, &r.name).await?,
            Kind::IamRole => firehose::role(&c.iam, &r.name).await?.map(|(_, t)| t),
            Kind::DeliveryStream => firehose::find(&c.firehose, &r.name).await?.map(|f| f.tags),
            Kind::SqsQueue => events::queue(&c.sqs, &r.name).await?.map(|(_, _, t)| t),
            Kind::EventRule => events::rule(&c.events, &r.name).await?.map(|(_, t)| t),
        };
        if let Some(t) = found_tags {
            observed.found.insert(r, owner(pairs(&t), id));
        }
    }
    for resource in [
        super::plan::StorageResource::ContactRecords,
        super::plan::StorageResource::AgentEvents,
    ] {
        observed
            .associations
            .extend(connect::associations(&c.connect, id, resource).await?);
    }
    Ok((observed, instance_arn))
}

/// Carries out `plan` (checked first); returns what the config file should read.
pub async fn apply(
    c: &Clients,
    plan: &Plan,
    instance_arn: &str,
    application_prefix: &str,
) -> Result<Written, SetupError> {
    plan.check()?;
    let id = &plan.request.instance_id;
    carry_out(c, plan, instance_arn, application_prefix)
        .await
        .map_err(|cause| SetupError::PartWay {
            instance_id: id.clone(),
            cause: Box::new(cause),
        })
}

async fn carry_out(
    c: &Clients,
    plan: &Plan,
    instance_arn: &str,
    application_prefix: &str,
) -> Result<Written, SetupError> {
    let request = &plan.request;
    let id = &request.instance_id;
    let made_tags = tags::made_for(id);
    let action = |kind: Kind, name: &str| {
        plan.resources
            .iter()
            .find(|(r, _)| r.kind == kind && r.name == name)
            .map_or(Action::ReuseOther, |(_, a)| *a)
    };
    let mut arns: BTreeMap<Resource, String> = BTreeMap::new();
    let mut written = Written {
        instance_id: id.clone(),
        region: c.region.clone(),
        endpoint_url: c.endpoint_url.clone(),
        application_prefix: application_prefix.to_owned(),
        ..Written::default()
    };

    // Streams that carry contact records and agent events.
    for target in [&request.contact_records, &request.agent_events]
        .into_iter()
        .flatten()
    {
        match target {
            Target::Kinesis { stream, mode } => {
                let key = Resource {
                    kind: Kind::KinesisStream,
                    name: stream.clone(),
                };
                if arns.contains_key(&key) {
                    continue;
                }
                let arn = match action(Kind::KinesisStream, stream) {
                    Action::Create => {
                        kinesis::create(&c.kinesis, stream, *mode, &made_tags).await?
                    }
                    _ => kinesis::find(&c.kinesis, stream)
                        .await?
                        .map(|f| f.arn)
                        .unwrap_or_default(),
                };
                arns.insert(key, arn);
            }
            Target::Firehose(f) => {
                if action(Kind::S3Bucket, &f.bucket) == Action::Create {
                    firehose::create_bucket(&c.s3, &f.bucket, &c.region, &made_tags).await?;
                }
                let role_arn = match action(Kind::IamRole, &f.role) {
                    Action::Create => {
                        firehose::create_role(&c.iam, &f.role, &f.bucket, &made_tags).await?
                    }
                    _ => firehose::role(&c.iam, &f.role)
                        .await?
                        .map(|(arn, _)| arn)
                        .unwrap_or_default(),
                };
                let arn = match action(Kind::DeliveryStream, &f.name) {
                    Action::Create => {
                        firehose::create(&c.firehose, f, &role_arn, &made_tags).await?
                    }
                    _ => firehose::find(&c.firehose, &f.name)
                        .await?
                        .map(|d| d.arn)
                        .unwrap_or_default(),
                };
                arns.insert(
                    Resource {
                        kind: Kind::DeliveryStream,
                        name: f.name.clone(),
                    },
                    arn,
                );
                written.contact_records_s3 = Some(format!("s3://{}/{}", f.bucket, f.prefix));
            }
        }
    }
    if let Some(Target::Kinesis { stream, .. }) = &request.contact_records {
        written.contact_records_stream = Some(stream.clone());
    }
    if let Some(Target::Kinesis { stream, .. }) = &request.agent_events {
        written.agent_events_stream = Some(stream.clone());
    }

    // Contact events: queue, rule, the queue's policy naming the rule, the target.
    if let Some(ce) = &request.contact_events {
        let (url, queue_arn) = match action(Kind::SqsQueue, &ce.queue) {
            Action::Create => events::create_queue(&c.sqs, &ce.queue, &made_tags).await?,
            _ => events::queue(&c.sqs, &ce.queue)
                .await?
                .map(|(u, a, _)| (u, a))
                .unwrap_or_default(),
        };
        let pattern = events::pattern(instance_arn, &ce.exclude);
        let rule_action = action(Kind::EventRule, &ce.rule);
        let rule_arn = if rule_action == Action::ReuseOther {
            // Someone else's rule: add our target, change nothing else.
            events::rule(&c.events, &ce.rule)
                .await?
                .map(|(a, _)| a)
                .unwrap_or_default()
        } else {
            events::put_rule(&c.events, &ce.rule, &pattern, &made_tags).await?
        };
        if action(Kind::SqsQueue, &ce.queue) != Action::ReuseOther {
            events::allow_rule(&c.sqs, &url, &queue_arn, &rule_arn).await?;
        }
        events::target_queue(&c.events, &ce.rule, &queue_arn).await?;
        written.contact_events_queue_url = Some(url);
        written.contact_events_exclude = ce.exclude.clone();
    }

    // Associations last: Connect needs the streams to exist.
    for (resource, target, link) in &plan.associations {
        if *link != Link::Associate {
            continue;
        }
        let arn = arns.get(target).cloned().unwrap_or_default();
        if action(target.kind, &target.name) == Action::ReuseOther {
            // Mark the borrowed stream first, so teardown can undo the association
            // even if setup stops right after making it.
            let marker = [(tags::ASSOCIATED.to_owned(), id.clone())];
            if target.kind == Kind::KinesisStream {
                kinesis::add_tags(&c.kinesis, &target.name, &marker).await?;
            }
        }
        connect::associate(&c.connect, id, *resource, target.kind, &arn).await?;
    }
    Ok(written)
}

/// The owner of each resource in `plan` after setup: for reporting.
pub fn kept_by_teardown(plan: &Plan) -> Vec<&Resource> {
    plan.resources
        .iter()
        .filter(|(_, a)| *a == Action::ReuseOther)
        .map(|(r, _)| r)
        .collect()
}
