//! An agent's current data from GetCurrentUserData, as the agent event the engine
//! already understands: a `STATE_CHANGE` in the agent event stream's own format (status,
//! routing profile, contacts), so the state is applied by the one pipeline loop like any
//! event, deduplicated and stored the same way.
//!
//! The event's time is the newest change the data reflects (the status's start, or a
//! contact's state start), not the time of the call: events the stream delivers later
//! about changes after it still apply, and older ones are stale against it. Its
//! `EventId` is `switchboard-connect-api:USER:MILLIS:HASH`, the same for the same data,
//! so asking twice about an agent who did not change applies once.
//!
//! An agent the API does not report is not logged in: [`offline_event`] says so.

use std::collections::HashMap;

use aws_sdk_connect::types::UserData;
use bytes::Bytes;
use serde_json::{json, Value};
use switchboard_model::decode::{Decoded, Source};
use switchboard_model::Timestamp;

use super::api::{Names, User};

/// The envelope name synthesized events carry in their source.
pub const ENVELOPE: &str = "connect-api";
/// The prefix of their `EventId`.
pub const EVENT_ID_PREFIX: &str = "switchboard-connect-api:";

fn iso(ms: i64) -> String {
    Timestamp::from_millis(ms).to_string()
}

/// Now, in milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

fn millis(t: Option<&aws_sdk_connect::primitives::DateTime>) -> Option<i64> {
    t.and_then(|t| t.to_millis().ok())
}

/// The names to put on the events: user ARN → username, routing profile id → name,
/// queue id → name.
#[derive(Debug, Clone, Default)]
pub struct NameIndex {
    usernames: HashMap<String, String>,
    profiles: HashMap<String, String>,
    queues: HashMap<String, String>,
}

impl NameIndex {
    pub fn new(names: &Names) -> Self {
        NameIndex {
            usernames: names
                .users
                .iter()
                .map(|u| (u.id.clone(), u.username.clone()))
                .collect(),
            profiles: names
                .routing_profiles
                .iter()
                .map(|p| (p.id.clone(), p.name.clone()))
                .collect(),
            queues: names
                .queues
                .iter()
                .map(|q| (q.id.clone(), q.name.clone()))
                .collect(),
        }
    }
}

/// The instance ARN an agent ARN belongs to (`…:instance/ID/agent/USER` → `…:instance/ID`).
pub fn instance_of(agent_arn: &str) -> Option<&str> {
    agent_arn.split_once("/agent/").map(|(i, _)| i)
}

fn account_of(arn: &str) -> Option<&str> {
    arn.split(':').nth(4).filter(|a| !a.is_empty())
}

/// The user id at the end of an agent ARN.
pub fn user_id(agent_arn: &str) -> Option<&str> {
    agent_arn.split_once("/agent/").map(|(_, id)| id)
}

/// A small stable hash (FNV-1a) of the data, for the event id.
fn hash(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

fn decoded(event: Value) -> Option<Decoded> {
    let raw = serde_json::to_vec(&event).ok()?;
    // Only a record the model reads is sent on.
    serde_json::from_slice::<switchboard_model::AgentEvent>(&raw).ok()?;
    Some(Decoded::new(
        switchboard_model::RecordKind::AgentEvent,
        Source {
            envelope: Some(ENVELOPE),
            ..Source::default()
        },
        Bytes::from(raw),
        false,
    ))
}

fn envelope(agent_arn: &str, at_ms: i64, snapshot: Value) -> Value {
    let user = user_id(agent_arn).unwrap_or(agent_arn);
    let id = format!(
        "{EVENT_ID_PREFIX}{user}:{at_ms}:{:016x}",
        hash(&snapshot.to_string())
    );
    let mut event = json!({
        "AgentARN": agent_arn,
        "CurrentAgentSnapshot": snapshot,
        "EventId": id,
        "EventTimestamp": iso(at_ms),
        "EventType": "STATE_CHANGE",
        "PreviousAgentSnapshot": null,
        "Version": "2019-05-25",
    });
    if let Some(account) = account_of(agent_arn) {
        event["AWSAccountId"] = json!(account);
    }
    if let Some(instance) = instance_of(agent_arn) {
        event["InstanceARN"] = json!(instance);
    }
    event
}

/// The agent event for one agent's current data; `None` when the data names no user.
pub fn event_of(data: &UserData, names: &NameIndex) -> Option<Decoded> {
    let user = data.user()?;
    let (user_id, agent_arn) = (user.id()?, user.arn()?);
    let status = data.status();
    let mut at = millis(status.and_then(|s| s.status_start_timestamp())).unwrap_or(0);
    let contacts: Vec<Value> = data
        .contacts()
        .iter()
        .filter_map(|c| {
            let since = millis(c.state_start_timestamp());
            at = at.max(since.unwrap_or(0));
            let mut v = json!({
                "ContactId": c.contact_id()?,
                "State": c.agent_contact_state()?.as_str(),
            });
            if let Some(since) = since {
                v["StateStartTimestamp"] = json!(iso(since));
            }
            if let Some(channel) = c.channel() {
                v["Channel"] = json!(channel.as_str());
            }
            if let Some(method) = c.initiation_method() {
                v["InitiationMethod"] = json!(method.as_str());
            }
            if let Some(t) = millis(c.connected_to_agent_timestamp()) {
                v["ConnectedToAgentTimestamp"] = json!(iso(t));
            }
            if let Some(q) = c.queue() {
                let name = q.id().and_then(|id| names.queues.get(id));
                v["Queue"] = json!({"ARN": q.arn(), "Name": name});
            }
            Some(v)
        })
        .collect();
    let mut snapshot = json!({"Contacts": contacts});
    if let Some(s) = status {
        let mut st = json!({"ARN": s.status_arn(), "Name": s.status_name()});
        if let Some(t) = millis(s.status_start_timestamp()) {
            st["StartTimestamp"] = json!(iso(t));
        }
        snapshot["AgentStatus"] = st;
    }
    if let Some(next) = data.next_status() {
        snapshot["NextAgentStatus"] = json!({"Name": next});
    }
    let mut configuration = json!({});
    if let Some(name) = names.usernames.get(user_id) {
        configuration["Username"] = json!(name);
    }
    if let Some(rp) = data.routing_profile() {
        let name = rp.id().and_then(|id| names.profiles.get(id));
        configuration["RoutingProfile"] = json!({"ARN": rp.arn(), "Name": name});
    }
    snapshot["Configuration"] = configuration;
    if at == 0 {
        at = now_ms();
    }
    decoded(envelope(agent_arn, at, snapshot))
}

/// The event of an agent the API reports as not logged in: status `Offline`, no
/// contacts, as of `at_ms`.
pub fn offline_event(agent_arn: &str, username: Option<&str>, at_ms: i64) -> Option<Decoded> {
    let mut snapshot = json!({
        "AgentStatus": {"Name": "Offline", "Type": "OFFLINE", "StartTimestamp": iso(at_ms)},
        "Contacts": [],
    });
    if let Some(name) = username {
        snapshot["Configuration"] = json!({"Username": name});
    }
    decoded(envelope(agent_arn, at_ms, snapshot))
}

/// The offline event of a listed user (as of the user's last change, or just after the
/// epoch when unknown), for a user the engine has not seen.
pub fn offline_user(user: &User) -> Option<Decoded> {
    offline_event(
        &user.arn,
        Some(&user.username),
        user.modified_ms.unwrap_or(1000),
    )
}
