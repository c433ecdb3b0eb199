//! What setup will do, decided before it does anything: from the [`Request`] (what the
//! user asked) and what is already there ([`Observed`]), a [`Plan`] of resources to
//! create or reuse and associations to make. Pure, so the decisions are unit-tested and
//! `--dry-run` prints exactly what a real run would do.

use std::collections::BTreeMap;
use std::fmt;

use super::cost::{Carrier, Footprint, StreamMode};
use super::error::SetupError;
use super::tags::Owner;

/// A Connect storage-config resource type that setup manages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum StorageResource {
    /// `CONTACT_TRACE_RECORDS`.
    ContactRecords,
    /// `AGENT_EVENTS`.
    AgentEvents,
}

impl StorageResource {
    /// The API's name.
    pub fn api_name(self) -> &'static str {
        match self {
            StorageResource::ContactRecords => "CONTACT_TRACE_RECORDS",
            StorageResource::AgentEvents => "AGENT_EVENTS",
        }
    }
}

/// The kinds of AWS resource setup makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub enum Kind {
    KinesisStream,
    S3Bucket,
    IamRole,
    DeliveryStream,
    SqsQueue,
    EventRule,
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Kind::KinesisStream => "Kinesis stream",
            Kind::S3Bucket => "S3 bucket",
            Kind::IamRole => "IAM role",
            Kind::DeliveryStream => "Firehose delivery stream",
            Kind::SqsQueue => "SQS queue",
            Kind::EventRule => "EventBridge rule",
        })
    }
}

/// One AWS resource, by kind and name.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Resource {
    pub kind: Kind,
    pub name: String,
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.kind, self.name)
    }
}

/// A Firehose delivery stream to S3 for contact records.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FirehoseTarget {
    /// The delivery stream's name.
    pub name: String,
    /// The bucket it writes to.
    pub bucket: String,
    /// Object key prefix (Firehose appends `YYYY/MM/dd/HH/`).
    pub prefix: String,
    /// Where failed records go (contains `!{firehose:error-output-type}`).
    pub error_prefix: String,
    /// Buffer size hint, MiB (1 to 128).
    pub buffer_mb: u32,
    /// Buffer interval hint, seconds (0 to 900).
    pub buffer_secs: u32,
    /// The IAM role Firehose assumes to write to the bucket.
    pub role: String,
}

/// Where one storage resource type goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// A Kinesis data stream.
    Kinesis { stream: String, mode: StreamMode },
    /// A Firehose delivery stream to S3 (contact records only).
    Firehose(FirehoseTarget),
}

/// The EventBridge rule for contact events and its SQS queue.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ContactEvents {
    pub rule: String,
    pub queue: String,
    /// Event types the rule leaves out (`anything-but`), e.g. `CONTACT_DATA_UPDATED`.
    pub exclude: Vec<String>,
}

/// What the user asked setup for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub instance_id: String,
    pub contact_records: Option<Target>,
    pub agent_events: Option<Target>,
    pub contact_events: Option<ContactEvents>,
}

impl Request {
    /// Refuses what Connect would refuse, with the reason.
    pub fn check(&self) -> Result<(), SetupError> {
        if let Some(Target::Firehose(_)) = self.agent_events {
            return Err(SetupError::Refused(
                "agent events cannot go to Firehose: Connect streams AGENT_EVENTS to a Kinesis \
                 data stream only (the console offers nothing else, and Firehose's own docs list \
                 only contact records among Connect's sources). Use --agent-events kinesis, and \
                 if you want them in S3, add a Firehose delivery stream whose source is that \
                 Kinesis stream yourself."
                    .into(),
            ));
        }
        if let Some(Target::Firehose(f)) = &self.contact_records {
            if !(1..=128).contains(&f.buffer_mb) || f.buffer_secs > 900 {
                return Err(SetupError::Refused(format!(
                    "Firehose buffering hints out of range: --buffer-mb {} must be 1 to 128 and \
                     --buffer-secs {} 0 to 900",
                    f.buffer_mb, f.buffer_secs
                )));
            }
        }
        for t in [&self.contact_records, &self.agent_events]
            .into_iter()
            .flatten()
        {
            if let Target::Kinesis {
                mode: StreamMode::Provisioned { shards: 0 },
                stream,
            } = t
            {
                return Err(SetupError::Refused(format!(
                    "stream {stream}: --shards must be at least 1"
                )));
            }
        }
        if self.contact_records.is_none()
            && self.agent_events.is_none()
            && self.contact_events.is_none()
        {
            return Err(SetupError::Refused(
                "nothing to set up: every stream is turned off".into(),
            ));
        }
        Ok(())
    }

    /// The resources the request needs, in the order they are made.
    pub fn resources(&self) -> Vec<Resource> {
        let mut out = Vec::new();
        let mut push = |kind, name: &str| {
            let r = Resource {
                kind,
                name: name.to_owned(),
            };
            if !out.contains(&r) {
                out.push(r);
            }
        };
        for t in [&self.contact_records, &self.agent_events]
            .into_iter()
            .flatten()
        {
            match t {
                Target::Kinesis { stream, .. } => push(Kind::KinesisStream, stream),
                Target::Firehose(f) => {
                    push(Kind::S3Bucket, &f.bucket);
                    push(Kind::IamRole, &f.role);
                    push(Kind::DeliveryStream, &f.name);
                }
            }
        }
        if let Some(c) = &self.contact_events {
            push(Kind::SqsQueue, &c.queue);
            push(Kind::EventRule, &c.rule);
        }
        out
    }

    /// The associations the request needs.
    pub fn associations(&self) -> Vec<(StorageResource, Resource)> {
        let mut out = Vec::new();
        for (kind, t) in [
            (StorageResource::ContactRecords, &self.contact_records),
            (StorageResource::AgentEvents, &self.agent_events),
        ] {
            match t {
                Some(Target::Kinesis { stream, .. }) => out.push((
                    kind,
                    Resource {
                        kind: Kind::KinesisStream,
                        name: stream.clone(),
                    },
                )),
                Some(Target::Firehose(f)) => out.push((
                    kind,
                    Resource {
                        kind: Kind::DeliveryStream,
                        name: f.name.clone(),
                    },
                )),
                None => {}
            }
        }
        out
    }
}

/// An association the instance already has (`ListInstanceStorageConfigs`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Existing {
    pub resource_type: StorageResource,
    pub association_id: String,
    /// The target's kind (Kinesis stream or delivery stream), `None` for S3 and others.
    pub kind: Option<Kind>,
    /// The target's ARN as Connect reports it.
    pub arn: String,
}

impl Existing {
    /// The stream's name: the ARN's last path segment.
    pub fn name(&self) -> &str {
        self.arn.rsplit('/').next().unwrap_or(&self.arn)
    }
}

/// What is there before setup: every requested resource found (with its owner) or not,
/// and the instance's current associations.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Observed {
    pub found: BTreeMap<Resource, Owner>,
    /// Modes of the Kinesis streams found, by name.
    pub modes: BTreeMap<String, StreamMode>,
    pub associations: Vec<Existing>,
}

/// What happens to one resource.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    /// It exists: made by an earlier setup for this instance.
    ReuseMade,
    /// It exists and is someone else's: used as it is, never deleted by teardown.
    ReuseOther,
}

/// What happens to one association.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// To be made.
    Associate,
    /// Already there (association id given).
    Already(String),
    /// The instance already streams this type to something else.
    Conflict(String),
}

/// Setup's plan.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    pub request: Request,
    pub resources: Vec<(Resource, Action)>,
    pub associations: Vec<(StorageResource, Resource, Link)>,
}

impl Plan {
    /// Decides, for each resource and association of `request`, given `observed`.
    pub fn make(request: &Request, observed: &Observed) -> Plan {
        let resources = request
            .resources()
            .into_iter()
            .map(|r| {
                let action = match observed.found.get(&r) {
                    None => Action::Create,
                    Some(Owner::Made) => Action::ReuseMade,
                    Some(_) => Action::ReuseOther,
                };
                (r, action)
            })
            .collect();
        let associations = request
            .associations()
            .into_iter()
            .map(|(kind, target)| {
                let current: Vec<_> = observed
                    .associations
                    .iter()
                    .filter(|e| e.resource_type == kind)
                    .collect();
                let link = match current
                    .iter()
                    .find(|e| e.kind == Some(target.kind) && e.name() == target.name)
                {
                    Some(e) => Link::Already(e.association_id.clone()),
                    None => match current.iter().find(|e| e.kind.is_some()) {
                        Some(other) => Link::Conflict(other.arn.clone()),
                        None => Link::Associate,
                    },
                };
                (kind, target, link)
            })
            .collect();
        Plan {
            request: request.clone(),
            resources,
            associations,
        }
    }

    /// Refuses a plan with a conflict, saying how to resolve it.
    pub fn check(&self) -> Result<(), SetupError> {
        for (kind, target, link) in &self.associations {
            if let Link::Conflict(current) = link {
                return Err(SetupError::Refused(format!(
                    "the instance already streams {} to {current}; setup will not replace it. \
                     Pass that stream's name to reuse it (--contact-records-stream or \
                     --agent-events-stream), or turn it off in the Connect console first \
                     (wanted: {target})",
                    kind.api_name()
                )));
            }
        }
        Ok(())
    }

    /// What streams and at what size, for the cost estimate (a reused stream at its
    /// own mode).
    pub fn footprint(&self, observed: &Observed) -> Footprint {
        let carrier = |t: &Target| match t {
            Target::Kinesis { stream, mode } => {
                Carrier::Kinesis(observed.modes.get(stream).copied().unwrap_or(*mode))
            }
            Target::Firehose(f) => Carrier::Firehose {
                buffer_secs: f.buffer_secs,
            },
        };
        let r = &self.request;
        Footprint {
            contact_records: r.contact_records.as_ref().map(carrier),
            agent_events: r.agent_events.as_ref().and_then(|t| match carrier(t) {
                Carrier::Kinesis(mode) => Some(mode),
                Carrier::Firehose { .. } => None,
            }),
            contact_events: r.contact_events.is_some(),
        }
    }
}

impl fmt::Display for Plan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Plan for Connect instance {}:", self.request.instance_id)?;
        for (r, action) in &self.resources {
            let what = match action {
                Action::Create => "create",
                Action::ReuseMade => "reuse (made by an earlier setup)",
                Action::ReuseOther => "reuse (exists, not made by switchboard: kept by teardown)",
            };
            let detail = match (r.kind, &self.request) {
                (Kind::KinesisStream, req) => [&req.contact_records, &req.agent_events]
                    .into_iter()
                    .flatten()
                    .find_map(|t| match t {
                        Target::Kinesis { stream, mode } if *stream == r.name => {
                            Some(format!(" ({mode})"))
                        }
                        _ => None,
                    })
                    .unwrap_or_default(),
                _ => String::new(),
            };
            writeln!(f, "  {what:<10} {r}{detail}")?;
        }
        for (kind, target, link) in &self.associations {
            let what = match link {
                Link::Associate => "associate".to_owned(),
                Link::Already(id) => format!("keep association {id}:"),
                Link::Conflict(current) => format!("CONFLICT (now streams to {current}):"),
            };
            writeln!(f, "  {what} {} -> {target}", kind.api_name())?;
        }
        if let Some(c) = &self.request.contact_events {
            writeln!(
                f,
                "  rule {} sends Amazon Connect Contact Events of this instance{} to queue {}",
                c.rule,
                if c.exclude.is_empty() {
                    String::new()
                } else {
                    format!(" except {}", c.exclude.join(", "))
                },
                c.queue
            )?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request() -> Request {
        Request {
            instance_id: "i-1".into(),
            contact_records: Some(Target::Kinesis {
                stream: "ctr".into(),
                mode: StreamMode::Provisioned { shards: 1 },
            }),
            agent_events: Some(Target::Kinesis {
                stream: "agents".into(),
                mode: StreamMode::Provisioned { shards: 1 },
            }),
            contact_events: Some(ContactEvents {
                rule: "rule".into(),
                queue: "queue".into(),
                exclude: vec!["CONTACT_DATA_UPDATED".into()],
            }),
        }
    }

    fn stream(name: &str) -> Resource {
        Resource {
            kind: Kind::KinesisStream,
            name: name.into(),
        }
    }

    #[test]
    fn nothing_there_creates_everything_and_associates() {
        let plan = Plan::make(&request(), &Observed::default());
        assert!(plan.resources.iter().all(|(_, a)| *a == Action::Create));
        assert_eq!(plan.resources.len(), 4);
        assert!(plan
            .associations
            .iter()
            .all(|(_, _, l)| *l == Link::Associate));
        plan.check().unwrap();
    }

    #[test]
    fn existing_resources_and_associations_are_reused() {
        let mut observed = Observed::default();
        observed.found.insert(stream("ctr"), Owner::Other);
        observed.found.insert(stream("agents"), Owner::Made);
        observed.associations.push(Existing {
            resource_type: StorageResource::ContactRecords,
            association_id: "a-1".into(),
            kind: Some(Kind::KinesisStream),
            arn: "arn:aws:kinesis:us-east-1:1:stream/ctr".into(),
        });
        let plan = Plan::make(&request(), &observed);
        assert_eq!(plan.resources[0], (stream("ctr"), Action::ReuseOther));
        assert_eq!(plan.resources[1], (stream("agents"), Action::ReuseMade));
        assert_eq!(plan.associations[0].2, Link::Already("a-1".into()));
        assert_eq!(plan.associations[1].2, Link::Associate);
    }

    #[test]
    fn another_stream_already_associated_is_a_conflict() {
        let mut observed = Observed::default();
        observed.associations.push(Existing {
            resource_type: StorageResource::AgentEvents,
            association_id: "a-2".into(),
            kind: Some(Kind::KinesisStream),
            arn: "arn:aws:kinesis:us-east-1:1:stream/theirs".into(),
        });
        let plan = Plan::make(&request(), &observed);
        assert!(matches!(plan.associations[1].2, Link::Conflict(_)));
        let err = plan.check().unwrap_err().to_string();
        assert!(
            err.contains("AGENT_EVENTS") && err.contains("theirs"),
            "{err}"
        );
    }

    #[test]
    fn firehose_for_agent_events_is_refused_with_the_reason() {
        let mut r = request();
        r.agent_events = Some(Target::Firehose(FirehoseTarget {
            name: "fh".into(),
            bucket: "b".into(),
            prefix: "p/".into(),
            error_prefix: "e/!{firehose:error-output-type}/".into(),
            buffer_mb: 5,
            buffer_secs: 300,
            role: "r".into(),
        }));
        let err = r.check().unwrap_err().to_string();
        assert!(err.contains("Kinesis data stream only"), "{err}");
    }
}
