//! `teardown`: find what setup made for an instance by its tags (every Kinesis stream,
//! delivery stream, bucket, role under `/switchboard/`, queue and rule carrying them),
//! undo the associations that point at those and at the streams setup only borrowed,
//! delete what it made, and say what it kept. Running it again finds nothing left.

use std::fmt;

use super::clients::Clients;
use super::error::SetupError;
use super::plan::{Existing, Kind, Resource, StorageResource};
use super::resources::{connect, events, firehose, kinesis, pairs};
use super::tags::{self, owner, Owner};

/// One resource teardown deletes: its kind and name, and the URL or ARN calls need.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub resource: Resource,
    pub handle: String,
}

/// What teardown will do.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TeardownPlan {
    pub instance_id: String,
    pub disassociate: Vec<Existing>,
    pub delete: Vec<Item>,
    /// Streams setup borrowed: their association marker is removed, they stay.
    pub untag: Vec<Resource>,
    /// What stays, and why.
    pub kept: Vec<String>,
}

impl TeardownPlan {
    /// Nothing to do.
    pub fn is_empty(&self) -> bool {
        self.disassociate.is_empty() && self.delete.is_empty() && self.untag.is_empty()
    }
}

/// Whether an error only says the thing vanished meanwhile (another process deleted it).
fn vanished(e: &SetupError) -> bool {
    let text = e.to_string();
    ["NotFound", "NonExistent", "NoSuch", "DoesNotExist"]
        .iter()
        .any(|w| text.contains(w))
}

macro_rules! tags_or_skip {
    ($e:expr) => {
        match $e {
            Ok(t) => t,
            Err(e) if vanished(&e) => continue,
            Err(e) => return Err(e),
        }
    };
}

/// Finds what setup made (and borrowed) for `instance_id`.
pub async fn find(c: &Clients, instance_id: &str) -> Result<TeardownPlan, SetupError> {
    let mut plan = TeardownPlan {
        instance_id: instance_id.to_owned(),
        ..TeardownPlan::default()
    };
    let mine = |kind: Kind, name: String, handle: String, o: Owner, plan: &mut TeardownPlan| {
        let resource = Resource { kind, name };
        match o {
            Owner::Made => plan.delete.push(Item { resource, handle }),
            Owner::AssociatedOnly => {
                plan.kept.push(format!(
                    "{resource}: existed before setup (only its association is undone)"
                ));
                plan.untag.push(resource);
            }
            Owner::Other => {}
        }
    };
    for name in kinesis::list(&c.kinesis).await? {
        let t = tags_or_skip!(kinesis::tags(&c.kinesis, &name).await);
        mine(
            Kind::KinesisStream,
            name.clone(),
            name,
            owner(pairs(&t), instance_id),
            &mut plan,
        );
    }
    for name in firehose::list(&c.firehose).await? {
        // Tags first: only ours are described (the ARN is what disassociation needs).
        let t = tags_or_skip!(firehose::tags(&c.firehose, &name).await);
        let o = owner(pairs(&t), instance_id);
        if matches!(o, Owner::Other) {
            continue;
        }
        let Some(f) = tags_or_skip!(firehose::find(&c.firehose, &name).await) else {
            continue;
        };
        mine(Kind::DeliveryStream, name, f.arn, o, &mut plan);
    }
    for name in events::list_rules(&c.events)
        .await?
        .into_iter()
        .map(|(n, _)| n)
    {
        let Some((arn, t)) = tags_or_skip!(events::rule(&c.events, &name).await) else {
            continue;
        };
        mine(
            Kind::EventRule,
            name,
            arn,
            owner(pairs(&t), instance_id),
            &mut plan,
        );
    }
    for url in events::list_queues(&c.sqs).await? {
        let t = tags_or_skip!(events::queue_tags(&c.sqs, &url).await);
        let name = url.rsplit('/').next().unwrap_or(&url).to_owned();
        mine(
            Kind::SqsQueue,
            name,
            url,
            owner(pairs(&t), instance_id),
            &mut plan,
        );
    }
    for name in firehose::list_roles(&c.iam).await? {
        let Some((arn, t)) = tags_or_skip!(firehose::role(&c.iam, &name).await) else {
            continue;
        };
        mine(
            Kind::IamRole,
            name,
            arn,
            owner(pairs(&t), instance_id),
            &mut plan,
        );
    }
    for name in firehose::list_buckets(&c.s3).await? {
        let t = tags_or_skip!(firehose::tags_of_bucket(&c.s3, &name).await);
        mine(
            Kind::S3Bucket,
            name.clone(),
            name,
            owner(pairs(&t), instance_id),
            &mut plan,
        );
    }
    // Associations: undo those pointing at what setup made or borrowed.
    let ours = |kind: Kind, name: &str, plan: &TeardownPlan| {
        plan.delete
            .iter()
            .map(|i| &i.resource)
            .chain(plan.untag.iter())
            .any(|r| r.kind == kind && r.name == name)
    };
    match connect::instance_arn(&c.connect, instance_id).await {
        Ok(_) => {
            for resource in [
                StorageResource::ContactRecords,
                StorageResource::AgentEvents,
            ] {
                for e in connect::associations(&c.connect, instance_id, resource).await? {
                    match e.kind {
                        Some(kind) if ours(kind, e.name(), &plan) => plan.disassociate.push(e),
                        _ => plan.kept.push(format!(
                            "association {} ({} -> {}): not made by switchboard",
                            e.association_id,
                            resource.api_name(),
                            e.arn
                        )),
                    }
                }
            }
        }
        Err(SetupError::Refused(why)) => plan.kept.push(format!("no association checked: {why}")),
        Err(e) => return Err(e),
    }
    // Delete in dependency order: rule before queue, delivery stream before role and
    // bucket; streams last.
    plan.delete.sort_by_key(|i| match i.resource.kind {
        Kind::EventRule => 0,
        Kind::SqsQueue => 1,
        Kind::DeliveryStream => 2,
        Kind::IamRole => 3,
        Kind::S3Bucket => 4,
        Kind::KinesisStream => 5,
    });
    Ok(plan)
}

/// Carries out `plan`; a bucket holding objects is kept unless `delete_data`. Returns
/// what was kept besides the plan's `kept`.
pub async fn carry_out(
    c: &Clients,
    plan: &TeardownPlan,
    delete_data: bool,
) -> Result<Vec<String>, SetupError> {
    let mut kept = Vec::new();
    for e in &plan.disassociate {
        connect::disassociate(&c.connect, &plan.instance_id, e).await?;
    }
    for item in &plan.delete {
        let name = &item.resource.name;
        match item.resource.kind {
            Kind::EventRule => events::delete_rule(&c.events, name).await?,
            Kind::SqsQueue => events::delete_queue(&c.sqs, &item.handle).await?,
            Kind::DeliveryStream => firehose::delete(&c.firehose, name).await?,
            Kind::IamRole => firehose::delete_role(&c.iam, name).await?,
            Kind::S3Bucket => {
                if !firehose::delete_bucket(&c.s3, name, delete_data).await? {
                    kept.push(format!(
                        "{}: holds contact records (pass --delete-data to delete them with it)",
                        item.resource
                    ));
                }
            }
            Kind::KinesisStream => kinesis::delete(&c.kinesis, name).await?,
        }
    }
    for r in &plan.untag {
        if r.kind == Kind::KinesisStream {
            kinesis::remove_tag(&c.kinesis, &r.name, tags::ASSOCIATED).await?;
        }
    }
    Ok(kept)
}

impl fmt::Display for TeardownPlan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_empty() {
            writeln!(
                f,
                "Nothing made by switchboard for instance {} is left.",
                self.instance_id
            )?;
        } else {
            writeln!(f, "Teardown for Connect instance {}:", self.instance_id)?;
        }
        for e in &self.disassociate {
            writeln!(
                f,
                "  disassociate {} {} -> {}",
                e.association_id,
                e.resource_type.api_name(),
                e.arn
            )?;
        }
        for i in &self.delete {
            writeln!(f, "  delete {}", i.resource)?;
        }
        for k in &self.kept {
            writeln!(f, "  keep {k}")?;
        }
        Ok(())
    }
}
