//! Builders of agent events shared by the engine's tests.

#![allow(dead_code)]

use serde_json::{json, Value};
use switchboard_model::Record;

pub const INSTANCE: &str =
    "arn:aws:connect:us-east-1:111122223333:instance/11111111-2222-3333-4444-555555555555";

pub fn agent_arn(n: u32) -> String {
    format!("{INSTANCE}/agent/agent-{n}")
}

pub fn status(name: &str, since: &str) -> Value {
    json!({"ARN": format!("{INSTANCE}/agent-state/{name}"), "Name": name, "StartTimestamp": since})
}

pub fn contact(id: &str, channel: &str, state: &str, since: &str) -> Value {
    json!({
        "ContactId": id, "InitialContactId": null, "Channel": channel, "InitiationMethod": "INBOUND",
        "State": state, "StateStartTimestamp": since,
        "ConnectedToAgentTimestamp": if state == "CONNECTING" { Value::Null } else { json!(since) },
        "QueueTimestamp": "2026-01-05T09:00:00.000Z",
        "Queue": {"ARN": format!("{INSTANCE}/queue/q-sales"), "Name": "Sales"}
    })
}

pub fn snapshot(status: Value, contacts: Vec<Value>) -> Value {
    json!({
        "AgentStatus": status,
        "Configuration": {
            "FirstName": "Ada", "LastName": "Lovelace", "Username": "ada",
            "AgentHierarchyGroups": null,
            "RoutingProfile": {
                "ARN": format!("{INSTANCE}/routing-profile/rp-1"), "Name": "Sales profile",
                "InboundQueues": [
                    {"ARN": format!("{INSTANCE}/queue/q-sales"), "Name": "Sales"},
                    {"ARN": format!("{INSTANCE}/queue/agent/agent-1"), "Name": null}
                ],
                "DefaultOutboundQueue": {"ARN": format!("{INSTANCE}/queue/q-sales"), "Name": "Sales"}
            }
        },
        "Contacts": contacts
    })
}

/// Builds an agent event; `prev`/`cur` may be null.
pub fn event(id: &str, kind: &str, at: &str, prev: Value, cur: Value) -> Record {
    let v = json!({
        "AWSAccountId": "111122223333", "AgentARN": agent_arn(1), "EventId": id, "EventTimestamp": at,
        "EventType": kind, "InstanceARN": INSTANCE, "Version": "2019-05-25",
        "PreviousAgentSnapshot": prev, "CurrentAgentSnapshot": cur
    });
    Record::from_json_slice(&serde_json::to_vec(&v).unwrap())
        .unwrap()
        .unwrap()
}

/// The session: login, available, offered, connected, hold, unhold, ended, ACW cleared,
/// break, offline, logout; a heartbeat and a duplicate in between.
pub fn session() -> Vec<Record> {
    let offline = status("Offline", "2026-01-05T08:00:00.000Z");
    let available = status("Available", "2026-01-05T08:59:00.000Z");
    let brk = status("Break", "2026-01-05T09:10:30.000Z");
    let offline2 = status("Offline", "2026-01-05T09:25:00.000Z");
    let c = |state: &str, since: &str| contact("c-1", "VOICE", state, since);
    let idle = snapshot(available.clone(), vec![]);
    let ringing = snapshot(
        available.clone(),
        vec![c("CONNECTING", "2026-01-05T09:01:00.000Z")],
    );
    let talking = snapshot(
        available.clone(),
        vec![c("CONNECTED", "2026-01-05T09:01:05.000Z")],
    );
    let held = snapshot(
        available.clone(),
        vec![c("CONNECTED_ONHOLD", "2026-01-05T09:03:00.000Z")],
    );
    let resumed = snapshot(
        available.clone(),
        vec![c("CONNECTED", "2026-01-05T09:03:42.500Z")],
    );
    let ended = snapshot(
        available.clone(),
        vec![c("ENDED", "2026-01-05T09:06:00.000Z")],
    );
    let on_break = snapshot(brk.clone(), vec![]);
    let off = snapshot(offline2.clone(), vec![]);
    vec![
        event(
            "e-01",
            "LOGIN",
            "2026-01-05T08:58:00.000Z",
            Value::Null,
            snapshot(offline.clone(), vec![]),
        ),
        event(
            "e-02",
            "STATE_CHANGE",
            "2026-01-05T08:59:00.000Z",
            snapshot(offline, vec![]),
            idle.clone(),
        ),
        event(
            "e-03",
            "STATE_CHANGE",
            "2026-01-05T09:01:00.000Z",
            idle.clone(),
            ringing.clone(),
        ),
        event(
            "e-04",
            "HEART_BEAT",
            "2026-01-05T09:01:02.000Z",
            ringing.clone(),
            ringing.clone(),
        ),
        event(
            "e-05",
            "STATE_CHANGE",
            "2026-01-05T09:01:05.000Z",
            ringing,
            talking.clone(),
        ),
        event(
            "e-05",
            "STATE_CHANGE",
            "2026-01-05T09:01:05.000Z",
            idle.clone(),
            talking.clone(),
        ),
        event(
            "e-06",
            "STATE_CHANGE",
            "2026-01-05T09:03:00.000Z",
            talking,
            held.clone(),
        ),
        event(
            "e-07",
            "STATE_CHANGE",
            "2026-01-05T09:03:42.500Z",
            held,
            resumed.clone(),
        ),
        event(
            "e-08",
            "STATE_CHANGE",
            "2026-01-05T09:06:00.000Z",
            resumed,
            ended.clone(),
        ),
        event(
            "e-09",
            "STATE_CHANGE",
            "2026-01-05T09:07:15.250Z",
            ended,
            idle.clone(),
        ),
        event(
            "e-10",
            "STATE_CHANGE",
            "2026-01-05T09:10:30.000Z",
            idle,
            on_break.clone(),
        ),
        event(
            "e-11",
            "STATE_CHANGE",
            "2026-01-05T09:25:00.000Z",
            on_break,
            off.clone(),
        ),
        event(
            "e-12",
            "LOGOUT",
            "2026-01-05T09:25:01.000Z",
            off,
            Value::Null,
        ),
    ]
}
