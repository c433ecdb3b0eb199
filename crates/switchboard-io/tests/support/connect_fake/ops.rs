//! The operations' behaviour, from the Connect API reference: what each reads from its
//! labels, query and body, the errors it answers, and the output it builds. Lists page
//! with an opaque `NextToken` and the model's `MaxResults` bounds.

use std::collections::BTreeMap;

use serde_json::{json, Map, Value};

use super::http::ConnectError;
use super::state::{instance_arn, Agent, Instance, Op, State, StorageAssociation, REGION};

type Labels = BTreeMap<String, String>;
type Query = [(String, String)];

/// When every seeded resource was last modified (epoch seconds).
const MODIFIED: f64 = 1_767_225_600.0;

const RESOURCE_TYPES: [&str; 13] = [
    "CHAT_TRANSCRIPTS",
    "CALL_RECORDINGS",
    "SCHEDULED_REPORTS",
    "MEDIA_STREAMS",
    "CONTACT_TRACE_RECORDS",
    "AGENT_EVENTS",
    "REAL_TIME_CONTACT_ANALYSIS_SEGMENTS",
    "ATTACHMENTS",
    "CONTACT_EVALUATIONS",
    "SCREEN_RECORDINGS",
    "REAL_TIME_CONTACT_ANALYSIS_CHAT_SEGMENTS",
    "REAL_TIME_CONTACT_ANALYSIS_VOICE_SEGMENTS",
    "EMAIL_MESSAGES",
];

pub fn answer(
    state: &mut State,
    op: Op,
    labels: &Labels,
    query: &Query,
    body: &Value,
) -> Result<Value, ConnectError> {
    let instance_id = labels.get("InstanceId").cloned().unwrap_or_default();
    let next_id = state.next_id;
    let instance = state
        .instances
        .get_mut(&instance_id)
        .ok_or_else(|| ConnectError::not_found(format!("Instance not found: {instance_id}")))?;
    match op {
        Op::GetCurrentUserData => current_user_data(instance, body),
        Op::GetContactAttributes => {
            let contact = &labels["InitialContactId"];
            let attributes = instance
                .contact_attributes
                .get(contact)
                .ok_or_else(|| ConnectError::not_found(format!("Contact not found: {contact}")))?;
            Ok(json!({ "Attributes": attributes }))
        }
        Op::ListQueues => {
            let types: Vec<&str> = query
                .iter()
                .filter(|(k, _)| k == "queueTypes")
                .map(|(_, v)| v.as_str())
                .collect();
            for t in &types {
                if !["STANDARD", "AGENT"].contains(t) {
                    return Err(ConnectError::invalid_parameter(format!(
                        "queueTypes: {t} is not STANDARD or AGENT"
                    )));
                }
            }
            let arn = instance.arn();
            let items = instance
                .queues
                .iter()
                .filter(|q| types.is_empty() || types.contains(&q.queue_type.as_str()))
                .map(|q| {
                    let mut v = summary(&format!("{arn}/queue/{}", q.id), &q.id);
                    v["QueueType"] = json!(q.queue_type);
                    if q.queue_type == "STANDARD" {
                        v["Name"] = json!(q.name);
                    }
                    v
                })
                .collect();
            list(op, query, items, "QueueSummaryList", 1000, 100)
        }
        Op::ListRoutingProfiles => {
            let arn = instance.arn();
            let items = instance
                .routing_profiles
                .iter()
                .map(|p| {
                    let mut v = summary(&format!("{arn}/routing-profile/{}", p.id), &p.id);
                    v["Name"] = json!(p.name);
                    v
                })
                .collect();
            list(op, query, items, "RoutingProfileSummaryList", 1000, 100)
        }
        Op::ListUsers => {
            let arn = instance.arn();
            let items = instance
                .agents
                .iter()
                .map(|a| {
                    let mut v = summary(&format!("{arn}/agent/{}", a.id), &a.id);
                    v["Username"] = json!(a.username);
                    v
                })
                .collect();
            list(op, query, items, "UserSummaryList", 1000, 100)
        }
        Op::DescribeInstance => Ok(json!({"Instance": {
            "Id": instance.id,
            "Arn": instance.arn(),
            "IdentityManagementType": "CONNECT_MANAGED",
            "InstanceAlias": instance.alias,
            "CreatedTime": MODIFIED,
            "ServiceRole": format!("arn:aws:iam::{}:role/aws-service-role/connect.amazonaws.com/AWSServiceRoleForAmazonConnect_fake", super::state::ACCOUNT),
            "InstanceStatus": instance.status,
            "InboundCallsEnabled": true,
            "OutboundCallsEnabled": true,
            "InstanceAccessUrl": format!("https://{}.my.connect.aws", instance.alias),
        }})),
        Op::AssociateInstanceStorageConfig => {
            let resource_type = resource_type(body["ResourceType"].as_str())?;
            let config = storage_config(resource_type, &body["StorageConfig"])?;
            let token = body["ClientToken"].as_str().map(String::from);
            if let Some(done) = instance
                .storage
                .iter()
                .find(|s| token.is_some() && s.client_token == token)
            {
                return Ok(json!({"AssociationId": done.association_id()}));
            }
            if ["CONTACT_TRACE_RECORDS", "AGENT_EVENTS"].contains(&resource_type)
                && !instance.storage_of(resource_type).is_empty()
            {
                return Err(ConnectError::conflict(format!(
                    "A storage config for {resource_type} is already associated with this instance"
                )));
            }
            let id = format!("{:064x}", 0xc0ec_7000_u64 + next_id);
            let mut config = config;
            config["AssociationId"] = json!(id);
            instance.storage.push(StorageAssociation {
                resource_type: resource_type.into(),
                config,
                client_token: token,
            });
            state.next_id += 1;
            Ok(json!({"AssociationId": id}))
        }
        Op::ListInstanceStorageConfigs => {
            let resource_type = resource_type(first(query, "resourceType"))?;
            let items = instance
                .storage_of(resource_type)
                .into_iter()
                .map(|s| s.config.clone())
                .collect();
            list(op, query, items, "StorageConfigs", 10, 10)
        }
        Op::DescribeInstanceStorageConfig => {
            let found = association(instance, labels, query)?;
            Ok(json!({"StorageConfig": instance.storage[found].config}))
        }
        Op::UpdateInstanceStorageConfig => {
            let found = association(instance, labels, query)?;
            let resource_type = instance.storage[found].resource_type.clone();
            let mut config = storage_config(&resource_type, &body["StorageConfig"])?;
            config["AssociationId"] = json!(labels["AssociationId"]);
            instance.storage[found].config = config;
            Ok(Value::Null)
        }
        Op::DisassociateInstanceStorageConfig => {
            let found = association(instance, labels, query)?;
            instance.storage.remove(found);
            Ok(Value::Null)
        }
    }
}

fn first<'a>(query: &'a Query, key: &str) -> Option<&'a str> {
    query
        .iter()
        .find(|(k, _)| k == key)
        .map(|(_, v)| v.as_str())
}

fn summary(arn: &str, id: &str) -> Value {
    json!({"Id": id, "Arn": arn, "LastModifiedTime": MODIFIED, "LastModifiedRegion": REGION})
}

/// One page of `items` by the query's `nextToken` and `maxResults` (at most `max`,
/// `default` when absent).
fn list(
    op: Op,
    query: &Query,
    items: Vec<Value>,
    key: &str,
    max: usize,
    default: usize,
) -> Result<Value, ConnectError> {
    let size = match first(query, "maxResults") {
        None => default,
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=max).contains(n))
            .ok_or_else(|| {
                ConnectError::invalid_parameter(format!(
                    "maxResults must be between 1 and {max}, not {text}"
                ))
            })?,
    };
    let (page, next) = page(op, first(query, "nextToken"), items, size)?;
    let mut out = json!({ key: page });
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

/// Items from the token's offset, `size` of them, and the token of the rest.
fn page(
    op: Op,
    token: Option<&str>,
    items: Vec<Value>,
    size: usize,
) -> Result<(Vec<Value>, Option<String>), ConnectError> {
    let prefix = format!("fake-{}-", op.name());
    let start = match token {
        None => 0,
        Some(t) => t
            .strip_prefix(&prefix)
            .and_then(|n| n.parse::<usize>().ok())
            .filter(|&n| n <= items.len())
            .ok_or_else(|| ConnectError::invalid_parameter("Invalid NextToken provided"))?,
    };
    let end = (start + size).min(items.len());
    let next = (end < items.len()).then(|| format!("{prefix}{end}"));
    Ok((items[start..end].to_vec(), next))
}

fn resource_type(value: Option<&str>) -> Result<&'static str, ConnectError> {
    let value = value.unwrap_or_default();
    RESOURCE_TYPES
        .into_iter()
        .find(|t| *t == value)
        .ok_or_else(|| {
            ConnectError::invalid_parameter(format!("ResourceType {value:?} is not valid"))
        })
}

/// The storage config of a request, checked as Connect checks it: the member of its
/// `StorageType` present, and a storage type the resource type accepts.
fn storage_config(resource_type: &str, config: &Value) -> Result<Value, ConnectError> {
    let storage_type = config["StorageType"].as_str().unwrap_or_default();
    let (member, field) = match storage_type {
        "KINESIS_STREAM" => ("KinesisStreamConfig", "StreamArn"),
        "KINESIS_FIREHOSE" => ("KinesisFirehoseConfig", "FirehoseArn"),
        "S3" => ("S3Config", "BucketName"),
        "KINESIS_VIDEO_STREAM" => ("KinesisVideoStreamConfig", "Prefix"),
        other => {
            return Err(ConnectError::invalid_parameter(format!(
                "StorageConfig.StorageType {other:?} is not valid"
            )))
        }
    };
    if !config[member][field].is_string() {
        return Err(ConnectError::invalid_parameter(format!(
            "StorageConfig.{member}.{field} is required for StorageType {storage_type}"
        )));
    }
    let allowed: &[&str] = match resource_type {
        "CONTACT_TRACE_RECORDS" => &["KINESIS_STREAM", "KINESIS_FIREHOSE"],
        "AGENT_EVENTS"
        | "REAL_TIME_CONTACT_ANALYSIS_SEGMENTS"
        | "REAL_TIME_CONTACT_ANALYSIS_CHAT_SEGMENTS"
        | "REAL_TIME_CONTACT_ANALYSIS_VOICE_SEGMENTS" => &["KINESIS_STREAM"],
        "MEDIA_STREAMS" => &["KINESIS_VIDEO_STREAM"],
        _ => &["S3"],
    };
    if !allowed.contains(&storage_type) {
        return Err(ConnectError::invalid_request(format!(
            "StorageType {storage_type} is not supported for resource type {resource_type}"
        )));
    }
    let mut kept = Map::new();
    kept.insert("StorageType".into(), json!(storage_type));
    kept.insert(member.into(), config[member].clone());
    Ok(Value::Object(kept))
}

/// The index of the association named by the labels, of the query's resource type.
fn association(instance: &Instance, labels: &Labels, query: &Query) -> Result<usize, ConnectError> {
    let resource_type = resource_type(first(query, "resourceType"))?;
    let id = &labels["AssociationId"];
    instance
        .storage
        .iter()
        .position(|s| s.resource_type == resource_type && s.association_id() == id)
        .ok_or_else(|| {
            ConnectError::not_found(format!(
                "No storage config {id} for resource type {resource_type}"
            ))
        })
}

/// GetCurrentUserData: one of the Agents, Queues, RoutingProfiles or
/// UserHierarchyGroups filters (each 1 to 100 ids; one group), optionally narrowed by
/// contact states, paged by `NextToken` and `MaxResults` (1 to 100) in the body.
fn current_user_data(instance: &Instance, body: &Value) -> Result<Value, ConnectError> {
    let filters = &body["Filters"];
    if !filters.is_object() {
        return Err(ConnectError::invalid_parameter("Filters is required"));
    }
    let kinds = [
        ("Agents", 100),
        ("Queues", 100),
        ("RoutingProfiles", 100),
        ("UserHierarchyGroups", 1),
    ];
    let given: Vec<(&str, Vec<&str>)> = kinds
        .iter()
        .filter(|(k, _)| !filters[*k].is_null())
        .map(|(k, max)| {
            let ids: Vec<&str> = filters[*k]
                .as_array()
                .map(|a| a.iter().filter_map(Value::as_str).collect())
                .unwrap_or_default();
            if ids.is_empty() || ids.len() > *max {
                return Err(ConnectError::invalid_parameter(format!(
                    "Filters.{k} must hold 1 to {max} ids, not {}",
                    ids.len()
                )));
            }
            Ok((*k, ids))
        })
        .collect::<Result<_, _>>()?;
    let [(kind, ids)] = given.as_slice() else {
        return Err(ConnectError::invalid_request(
            "Exactly one filter of Queues, RoutingProfiles, Agents or UserHierarchyGroups must be given",
        ));
    };
    let states: Vec<&str> = filters["ContactFilter"]["ContactStates"]
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    let size = match &body["MaxResults"] {
        Value::Null => 100,
        v => v
            .as_u64()
            .filter(|n| (1..=100).contains(n))
            .ok_or_else(|| {
                ConnectError::invalid_parameter(format!("MaxResults must be 1 to 100, not {v}"))
            })? as usize,
    };
    let matches = |agent: &Agent| -> bool {
        let by_kind = match *kind {
            "Agents" => ids.contains(&agent.id.as_str()),
            "RoutingProfiles" => ids.contains(&agent.routing_profile.as_str()),
            "UserHierarchyGroups" => agent
                .hierarchy_group
                .as_deref()
                .is_some_and(|g| ids.contains(&g)),
            _ => instance
                .routing_profiles
                .iter()
                .find(|p| p.id == agent.routing_profile)
                .is_some_and(|p| p.queues.iter().any(|q| ids.contains(&q.as_str()))),
        };
        by_kind
            && (states.is_empty()
                || agent
                    .contacts
                    .iter()
                    .any(|c| states.contains(&c.state.as_str())))
    };
    let mut agents: Vec<&Agent> = instance.agents.iter().filter(|a| matches(a)).collect();
    agents.sort_by(|a, b| a.id.cmp(&b.id));
    let total = agents.len();
    let items = agents.iter().map(|a| user_data(instance, a)).collect();
    let (page, next) = page(
        Op::GetCurrentUserData,
        body["NextToken"].as_str(),
        items,
        size,
    )?;
    let mut out = json!({"UserDataList": page, "ApproximateTotalCount": total});
    if let Some(next) = next {
        out["NextToken"] = json!(next);
    }
    Ok(out)
}

fn user_data(instance: &Instance, agent: &Agent) -> Value {
    let arn = instance_arn(&instance.id);
    let max = json!({"VOICE": 1, "CHAT": 2, "TASK": 1});
    let mut active = Map::new();
    for c in &agent.contacts {
        let n = active.get(&c.channel).and_then(Value::as_i64).unwrap_or(0);
        active.insert(c.channel.clone(), json!(n + 1));
    }
    let available: Map<String, Value> = max
        .as_object()
        .unwrap()
        .iter()
        .map(|(channel, m)| {
            let used = active.get(channel).and_then(Value::as_i64).unwrap_or(0);
            (channel.clone(), json!((m.as_i64().unwrap() - used).max(0)))
        })
        .collect();
    let contacts: Vec<Value> = agent
        .contacts
        .iter()
        .map(|c| {
            let mut v = json!({
                "ContactId": c.contact_id,
                "Channel": c.channel,
                "InitiationMethod": c.initiation,
                "AgentContactState": c.state,
                "StateStartTimestamp": c.since,
                "ConnectedToAgentTimestamp": c.since,
            });
            if let Some(q) = &c.queue {
                v["Queue"] = json!({"Id": q, "Arn": format!("{arn}/queue/{q}")});
            }
            v
        })
        .collect();
    let slug = agent.status.to_lowercase().replace(' ', "-");
    let mut v = json!({
        "User": {"Id": agent.id, "Arn": format!("{arn}/agent/{}", agent.id)},
        "RoutingProfile": {"Id": agent.routing_profile,
                           "Arn": format!("{arn}/routing-profile/{}", agent.routing_profile)},
        "Status": {"StatusStartTimestamp": agent.status_since,
                   "StatusArn": format!("{arn}/agent-state/{slug}"),
                   "StatusName": agent.status},
        "AvailableSlotsByChannel": available,
        "MaxSlotsByChannel": max,
        "ActiveSlotsByChannel": active,
        "Contacts": contacts,
    });
    if let Some(group) = &agent.hierarchy_group {
        v["HierarchyPath"] =
            json!({"LevelOne": {"Id": group, "Arn": format!("{arn}/agent-group/{group}")}});
    }
    if let Some(next) = &agent.next_status {
        v["NextStatus"] = json!(next);
    }
    v
}
