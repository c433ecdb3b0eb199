//! What the fake Connect holds: instances with their agents, queues, routing profiles,
//! contact attributes and storage configs (all seeded by the test), the faults a test
//! injected, and every request it saw.

use std::collections::{BTreeMap, VecDeque};

use serde_json::Value;

/// The account and region the fake's ARNs carry.
pub const ACCOUNT: &str = "123456789012";
pub const REGION: &str = "us-east-1";

/// The operations the fake serves, with the HTTP binding of the Connect model
/// (`botocore/data/connect/2017-08-08/service-2.json`); the model test checks these.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    GetCurrentUserData,
    GetContactAttributes,
    ListQueues,
    ListRoutingProfiles,
    ListUsers,
    DescribeInstance,
    AssociateInstanceStorageConfig,
    ListInstanceStorageConfigs,
    DisassociateInstanceStorageConfig,
    DescribeInstanceStorageConfig,
    UpdateInstanceStorageConfig,
}

impl Op {
    pub const ALL: [Op; 11] = [
        Op::GetCurrentUserData,
        Op::GetContactAttributes,
        Op::ListQueues,
        Op::ListRoutingProfiles,
        Op::ListUsers,
        Op::DescribeInstance,
        Op::AssociateInstanceStorageConfig,
        Op::ListInstanceStorageConfigs,
        Op::DisassociateInstanceStorageConfig,
        Op::DescribeInstanceStorageConfig,
        Op::UpdateInstanceStorageConfig,
    ];

    /// The operation's name in the model.
    pub fn name(self) -> &'static str {
        match self {
            Op::GetCurrentUserData => "GetCurrentUserData",
            Op::GetContactAttributes => "GetContactAttributes",
            Op::ListQueues => "ListQueues",
            Op::ListRoutingProfiles => "ListRoutingProfiles",
            Op::ListUsers => "ListUsers",
            Op::DescribeInstance => "DescribeInstance",
            Op::AssociateInstanceStorageConfig => "AssociateInstanceStorageConfig",
            Op::ListInstanceStorageConfigs => "ListInstanceStorageConfigs",
            Op::DisassociateInstanceStorageConfig => "DisassociateInstanceStorageConfig",
            Op::DescribeInstanceStorageConfig => "DescribeInstanceStorageConfig",
            Op::UpdateInstanceStorageConfig => "UpdateInstanceStorageConfig",
        }
    }

    /// The HTTP method and URI template the fake routes it by.
    pub fn http(self) -> (&'static str, &'static str) {
        match self {
            Op::GetCurrentUserData => ("POST", "/metrics/userdata/{InstanceId}"),
            Op::GetContactAttributes => {
                ("GET", "/contact/attributes/{InstanceId}/{InitialContactId}")
            }
            Op::ListQueues => ("GET", "/queues-summary/{InstanceId}"),
            Op::ListRoutingProfiles => ("GET", "/routing-profiles-summary/{InstanceId}"),
            Op::ListUsers => ("GET", "/users-summary/{InstanceId}"),
            Op::DescribeInstance => ("GET", "/instance/{InstanceId}"),
            Op::AssociateInstanceStorageConfig => ("PUT", "/instance/{InstanceId}/storage-config"),
            Op::ListInstanceStorageConfigs => ("GET", "/instance/{InstanceId}/storage-configs"),
            Op::DisassociateInstanceStorageConfig => (
                "DELETE",
                "/instance/{InstanceId}/storage-config/{AssociationId}",
            ),
            Op::DescribeInstanceStorageConfig => (
                "GET",
                "/instance/{InstanceId}/storage-config/{AssociationId}",
            ),
            Op::UpdateInstanceStorageConfig => (
                "POST",
                "/instance/{InstanceId}/storage-config/{AssociationId}",
            ),
        }
    }

    /// The error Connect answers when this call is over its rate: `ThrottlingException`
    /// where the model lists it for the operation, else `TooManyRequestsException` (both
    /// 429; GetContactAttributes lists neither, and the SDKs treat both as throttles).
    pub fn throttle_error(self) -> &'static str {
        match self {
            Op::GetContactAttributes | Op::DescribeInstance => "TooManyRequestsException",
            _ => "ThrottlingException",
        }
    }
}

/// One request as the fake saw it, and its answer.
#[derive(Debug, Clone)]
pub struct Seen {
    pub op: Op,
    pub method: String,
    /// The path as sent (percent-encoded).
    pub path: String,
    /// Query parameters in order, decoded.
    pub query: Vec<(String, String)>,
    /// The JSON body (`Null` when empty).
    pub body: Value,
    pub status: u16,
    /// `x-amzn-ErrorType` of an error answer.
    pub error_type: Option<String>,
    /// The answer's JSON body (`Null` when empty).
    pub response: Value,
}

/// A contact an agent is handling, as GetCurrentUserData reports it.
#[derive(Debug, Clone)]
pub struct AgentContact {
    pub contact_id: String,
    /// `VOICE`, `CHAT`, `TASK`, `EMAIL`.
    pub channel: String,
    /// `INBOUND`, `OUTBOUND`...
    pub initiation: String,
    /// `CONNECTED`, `CONNECTED_ONHOLD`, `INCOMING`...
    pub state: String,
    /// Epoch seconds.
    pub since: f64,
    pub queue: Option<String>,
}

/// A user (agent) of an instance with its current state.
#[derive(Debug, Clone)]
pub struct Agent {
    pub id: String,
    pub username: String,
    pub routing_profile: String,
    /// The agent status name, e.g. `Available`, `Offline`, `Lunch`.
    pub status: String,
    /// When the status began, epoch seconds.
    pub status_since: f64,
    pub next_status: Option<String>,
    pub hierarchy_group: Option<String>,
    pub contacts: Vec<AgentContact>,
}

impl Agent {
    /// An agent in `status` since 2026-01-01T00:00:00Z.
    pub fn new(id: &str, username: &str, routing_profile: &str, status: &str) -> Agent {
        Agent {
            id: id.into(),
            username: username.into(),
            routing_profile: routing_profile.into(),
            status: status.into(),
            status_since: 1_767_225_600.0,
            next_status: None,
            hierarchy_group: None,
            contacts: Vec::new(),
        }
    }
}

#[derive(Debug, Clone)]
pub struct Queue {
    pub id: String,
    pub name: String,
    /// `STANDARD` or `AGENT`.
    pub queue_type: String,
}

#[derive(Debug, Clone)]
pub struct RoutingProfile {
    pub id: String,
    pub name: String,
    /// Ids of the queues it serves (what a GetCurrentUserData queue filter matches).
    pub queues: Vec<String>,
}

/// One storage-config association: the `InstanceStorageConfig` JSON as associated (or
/// updated), with its `AssociationId`.
#[derive(Debug, Clone)]
pub struct StorageAssociation {
    pub resource_type: String,
    pub config: Value,
    /// The `ClientToken` it was made with (a retry with the same token is answered with
    /// the same association).
    pub client_token: Option<String>,
}

impl StorageAssociation {
    pub fn association_id(&self) -> &str {
        self.config["AssociationId"].as_str().unwrap_or_default()
    }
}

/// An Amazon Connect instance and what it holds.
#[derive(Debug, Clone)]
pub struct Instance {
    pub id: String,
    pub alias: String,
    /// `ACTIVE`, `CREATION_IN_PROGRESS`, `CREATION_FAILED`.
    pub status: String,
    pub agents: Vec<Agent>,
    pub queues: Vec<Queue>,
    pub routing_profiles: Vec<RoutingProfile>,
    /// Initial contact id -> attributes.
    pub contact_attributes: BTreeMap<String, BTreeMap<String, String>>,
    pub storage: Vec<StorageAssociation>,
}

impl Instance {
    pub fn arn(&self) -> String {
        instance_arn(&self.id)
    }

    pub fn agent_mut(&mut self, id: &str) -> &mut Agent {
        self.agents
            .iter_mut()
            .find(|a| a.id == id)
            .unwrap_or_else(|| panic!("no agent {id} seeded"))
    }

    /// The storage configs of one resource type, in association order.
    pub fn storage_of(&self, resource_type: &str) -> Vec<&StorageAssociation> {
        self.storage
            .iter()
            .filter(|s| s.resource_type == resource_type)
            .collect()
    }
}

pub fn instance_arn(id: &str) -> String {
    format!("arn:aws:connect:{REGION}:{ACCOUNT}:instance/{id}")
}

/// A fault the next requests of an operation (or of any, with `op: None`) get.
#[derive(Debug, Clone)]
pub struct Fault {
    pub op: Option<Op>,
    pub status: u16,
    pub error: String,
    pub message: String,
}

#[derive(Debug, Default)]
pub struct State {
    pub instances: BTreeMap<String, Instance>,
    /// Answered, in order, to the next matching requests before anything else.
    pub faults: VecDeque<Fault>,
    pub seen: Vec<Seen>,
    /// For association ids.
    pub next_id: u64,
}

impl State {
    /// Adds an empty ACTIVE instance (alias `fake-<id>`) and returns it.
    pub fn add_instance(&mut self, id: &str) -> &mut Instance {
        self.instances.insert(
            id.to_string(),
            Instance {
                id: id.into(),
                alias: format!("fake-{id}"),
                status: "ACTIVE".into(),
                agents: Vec::new(),
                queues: Vec::new(),
                routing_profiles: Vec::new(),
                contact_attributes: BTreeMap::new(),
                storage: Vec::new(),
            },
        );
        self.instances.get_mut(id).unwrap()
    }

    pub fn instance_mut(&mut self, id: &str) -> &mut Instance {
        self.instances
            .get_mut(id)
            .unwrap_or_else(|| panic!("no instance {id} seeded"))
    }

    /// The next `times` requests of `op` are throttled as Connect throttles that call.
    pub fn throttle(&mut self, op: Op, times: usize) {
        for _ in 0..times {
            self.faults.push_back(Fault {
                op: Some(op),
                status: 429,
                error: op.throttle_error().into(),
                message: "Rate exceeded.".into(),
            });
        }
    }

    /// The next request of `op` (any operation with `None`) is answered with this error.
    pub fn fail_next(&mut self, op: Option<Op>, status: u16, error: &str, message: &str) {
        self.faults.push_back(Fault {
            op,
            status,
            error: error.into(),
            message: message.into(),
        });
    }

    /// How many requests of `op` arrived (answered or refused).
    pub fn count(&self, op: Op) -> usize {
        self.seen.iter().filter(|s| s.op == op).count()
    }
}
