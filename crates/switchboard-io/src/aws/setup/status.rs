//! `status`: what the instance streams where (ListInstanceStorageConfigs), whether
//! data is flowing (the newest record's age per Kinesis stream, the newest object for a
//! Firehose delivery stream to S3), the contact-event rules setup made, and what it
//! costs a month.

use std::fmt;

use super::clients::Clients;
use super::cost::{self, Carrier, Footprint, Traffic};
use super::error::SetupError;
use super::plan::{Kind, StorageResource};
use super::prices::Prices;
use super::resources::{connect, events, firehose, kinesis, pairs};
use super::tags::{owner, Owner};

/// How far back status looks for the newest Kinesis record.
pub const WINDOW_SECS: u64 = 24 * 3600;

/// One line of the report.
#[derive(Debug, Clone, PartialEq)]
pub struct Line {
    pub what: String,
    pub target: String,
    pub made_by_setup: bool,
    pub flow: String,
}

/// The status report.
#[derive(Debug, Clone, PartialEq)]
pub struct Report {
    pub instance_id: String,
    pub lines: Vec<Line>,
    pub estimate: cost::Estimate,
}

fn age(secs: f64) -> String {
    if secs < 120.0 {
        format!("{secs:.0} s ago")
    } else if secs < 7200.0 {
        format!("{:.0} min ago", secs / 60.0)
    } else {
        format!("{:.1} h ago", secs / 3600.0)
    }
}

/// Builds the report for `instance_id`.
pub async fn report(
    c: &Clients,
    instance_id: &str,
    traffic: &Traffic,
    prices: &Prices,
) -> Result<Report, SetupError> {
    // Says clearly when the instance id is wrong.
    connect::instance_arn(&c.connect, instance_id).await?;
    let mut lines = Vec::new();
    let mut footprint = Footprint::default();
    for resource in [
        StorageResource::ContactRecords,
        StorageResource::AgentEvents,
    ] {
        let found = connect::associations(&c.connect, instance_id, resource).await?;
        if found.is_empty() {
            lines.push(Line {
                what: resource.api_name().into(),
                target: "not streamed".into(),
                made_by_setup: false,
                flow: String::new(),
            });
        }
        for e in found {
            let name = e.name().to_owned();
            let (flow, made) = match e.kind {
                Some(Kind::KinesisStream) => match kinesis::find(&c.kinesis, &name).await? {
                    Some(s) => {
                        match resource {
                            StorageResource::ContactRecords => {
                                footprint.contact_records = Some(Carrier::Kinesis(s.mode));
                            }
                            StorageResource::AgentEvents => footprint.agent_events = Some(s.mode),
                        }
                        let flow = match kinesis::newest_record_age(&c.kinesis, &name, WINDOW_SECS)
                            .await?
                        {
                            Some(secs) => format!("{}, newest record {}", s.mode, age(secs)),
                            None => format!("{}, no record in the last 24 h", s.mode),
                        };
                        (flow, owner(pairs(&s.tags), instance_id) == Owner::Made)
                    }
                    None => ("stream not found: Connect cannot write to it".into(), false),
                },
                Some(Kind::DeliveryStream) => match firehose::find(&c.firehose, &name).await? {
                    Some(d) => {
                        footprint.contact_records = Some(Carrier::Firehose {
                            buffer_secs: d.buffer_secs,
                        });
                        let flow = match &d.bucket {
                            Some(bucket) => {
                                match firehose::newest_object(&c.s3, bucket, &d.prefix).await? {
                                    Some((key, secs)) => format!(
                                        "newest object s3://{bucket}/{key} written {}",
                                        age(secs)
                                    ),
                                    None => {
                                        format!("no object yet under s3://{bucket}/{}", d.prefix)
                                    }
                                }
                            }
                            None => "not an S3 destination".into(),
                        };
                        (flow, owner(pairs(&d.tags), instance_id) == Owner::Made)
                    }
                    None => ("delivery stream not found".into(), false),
                },
                _ => (String::new(), false),
            };
            lines.push(Line {
                what: resource.api_name().into(),
                target: e.arn.clone(),
                made_by_setup: made,
                flow,
            });
        }
    }
    // Contact-event rules setup made for this instance.
    for (name, _) in events::list_rules(&c.events).await? {
        let Some((arn, tags)) = events::rule(&c.events, &name).await? else {
            continue;
        };
        if owner(pairs(&tags), instance_id) != Owner::Made {
            continue;
        }
        footprint.contact_events = true;
        let mut flow = String::new();
        for target in events::targets(&c.events, &name).await? {
            let queue = target.rsplit(':').next().unwrap_or(&target).to_owned();
            if let Some((url, _, _)) = events::queue(&c.sqs, &queue).await? {
                let waiting = events::depth(&c.sqs, &url).await?.unwrap_or(0);
                flow = format!("to queue {queue}, {waiting} message(s) waiting");
            }
        }
        lines.push(Line {
            what: "contact events".into(),
            target: arn,
            made_by_setup: true,
            flow,
        });
    }
    Ok(Report {
        instance_id: instance_id.to_owned(),
        lines,
        estimate: cost::estimate(&footprint, traffic, prices),
    })
}

impl fmt::Display for Report {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        writeln!(f, "Connect instance {}:", self.instance_id)?;
        for l in &self.lines {
            writeln!(
                f,
                "  {:<22} {}{}",
                l.what,
                l.target,
                if l.made_by_setup {
                    " (made by switchboard)"
                } else {
                    ""
                }
            )?;
            if !l.flow.is_empty() {
                writeln!(f, "  {:<22} {}", "", l.flow)?;
            }
        }
        write!(f, "{}", self.estimate)
    }
}
