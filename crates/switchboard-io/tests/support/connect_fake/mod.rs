//! A FAKE Amazon Connect API for tests, in-process on 127.0.0.1:0 (axum). No server for
//! Connect runs here (moto implements none of these calls, LocalStack needs Docker), so
//! this fake serves the calls switchboard makes, with the HTTP binding (method, URI,
//! query, JSON body, errors) of botocore's Connect model, restJson1:
//!
//! - GetCurrentUserData (`POST /metrics/userdata/{InstanceId}`: one filter of Agents,
//!   Queues, RoutingProfiles or UserHierarchyGroups, at most 100 ids, `NextToken` and
//!   `MaxResults` 1..100 in the body), GetContactAttributes, ListQueues,
//!   ListRoutingProfiles, ListUsers (paged, `maxResults` 1..1000, default 100),
//!   DescribeInstance;
//! - AssociateInstanceStorageConfig (one association per instance for
//!   CONTACT_TRACE_RECORDS and for AGENT_EVENTS, else `409 ResourceConflictException`;
//!   AGENT_EVENTS accepts only KINESIS_STREAM, else `400 InvalidRequestException`; a
//!   retry with the same `ClientToken` returns the same association),
//!   ListInstanceStorageConfigs (paged, at most 10), DescribeInstanceStorageConfig,
//!   UpdateInstanceStorageConfig, DisassociateInstanceStorageConfig.
//!
//! Errors are sent as Connect sends them: the error shape's status, `x-amzn-ErrorType`
//! and `{"Message": ...}`. Tests seed the state, inject throttles (`429
//! ThrottlingException`, or `TooManyRequestsException` for calls whose model lists no
//! ThrottlingException) or any error, and read every request with its answer. The test
//! `connect_fake_model.rs` checks every request it accepts and every answer it gives
//! against the model's shapes (`model.rs`).
//!
//! ```ignore
//! let fake = ConnectFake::start().await;
//! fake.with(|s| {
//!     let i = s.add_instance("inst-1");
//!     i.agents.push(Agent::new("u-1", "alice", "rp-1", "Available"));
//! });
//! fake.with(|s| s.throttle(Op::GetContactAttributes, 2));
//! let aws = fake.aws(); // endpoint_url + region for switchboard's clients
//! let ctr = fake.storage("inst-1", "CONTACT_TRACE_RECORDS"); // InstanceStorageConfig JSON
//! ```
//! From another crate's tests: `#[path = "../../switchboard-io/tests/support/connect_fake/mod.rs"] mod connect_fake;`.

#![allow(dead_code)]

mod http;
pub mod model;
mod ops;
pub mod state;

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use serde_json::Value;

// Re-exported for the tests that seed the fake; each uses a part.
#[allow(unused_imports)]
pub use http::ConnectError;
#[allow(unused_imports)]
pub use state::{
    instance_arn, Agent, AgentContact, Fault, Instance, Op, Queue, RoutingProfile, Seen, State,
    StorageAssociation,
};

pub type Shared = Arc<Mutex<State>>;

/// A running fake Connect.
pub struct ConnectFake {
    pub addr: SocketAddr,
    pub state: Shared,
    /// The runtime serving it, when started with [`ConnectFake::start_blocking`].
    runtime: Option<tokio::runtime::Runtime>,
}

impl ConnectFake {
    /// Starts the fake on the current tokio runtime.
    pub async fn start() -> ConnectFake {
        let state = Shared::default();
        let router = http::router(Arc::clone(&state));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
        ConnectFake {
            addr,
            state,
            runtime: None,
        }
    }

    /// Starts the fake on a runtime of its own (for tests that are not async, such as
    /// those running the binary). Do not drop it inside an async context.
    pub fn start_blocking() -> ConnectFake {
        let runtime = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        let mut fake = runtime.block_on(ConnectFake::start());
        fake.runtime = Some(runtime);
        fake
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The AWS settings that point switchboard's clients at the fake.
    pub fn aws(&self) -> switchboard_io::aws::AwsConfig {
        switchboard_io::aws::AwsConfig {
            region: Some(state::REGION.into()),
            profile: None,
            endpoint_url: Some(self.url()),
        }
    }

    /// Reads or changes the state (seed instances, agents, faults...).
    pub fn with<T>(&self, f: impl FnOnce(&mut State) -> T) -> T {
        f(&mut self.state.lock().unwrap())
    }

    /// Every request so far with its answer.
    pub fn seen(&self) -> Vec<Seen> {
        self.with(|s| s.seen.clone())
    }

    /// How many requests of `op` arrived (throttled ones included).
    pub fn count(&self, op: Op) -> usize {
        self.with(|s| s.count(op))
    }

    /// The `InstanceStorageConfig`s (with `AssociationId`) of one resource type.
    pub fn storage(&self, instance: &str, resource_type: &str) -> Vec<Value> {
        self.with(|s| {
            s.instance_mut(instance)
                .storage_of(resource_type)
                .into_iter()
                .map(|a| a.config.clone())
                .collect()
        })
    }
}
