//! A hand-written agent session through the state machine: every transition kind, with a
//! heartbeat and a duplicate in between, chat concurrency, and null snapshots.

use serde_json::{json, Value};
use switchboard_engine::{Engine, EngineConfig, TransitionKind as K};
use switchboard_model::Record;

const INSTANCE: &str =
    "arn:aws:connect:us-east-1:111122223333:instance/11111111-2222-3333-4444-555555555555";

fn agent_arn(n: u32) -> String {
    format!("{INSTANCE}/agent/agent-{n}")
}

fn status(name: &str, since: &str) -> Value {
    json!({"ARN": format!("{INSTANCE}/agent-state/{name}"), "Name": name, "StartTimestamp": since})
}

fn contact(id: &str, channel: &str, state: &str, since: &str) -> Value {
    json!({
        "ContactId": id, "InitialContactId": null, "Channel": channel, "InitiationMethod": "INBOUND",
        "State": state, "StateStartTimestamp": since,
        "ConnectedToAgentTimestamp": if state == "CONNECTING" { Value::Null } else { json!(since) },
        "QueueTimestamp": "2026-01-05T09:00:00.000Z",
        "Queue": {"ARN": format!("{INSTANCE}/queue/q-sales"), "Name": "Sales"}
    })
}

fn snapshot(status: Value, contacts: Vec<Value>) -> Value {
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
fn event(id: &str, kind: &str, at: &str, prev: Value, cur: Value) -> Record {
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

/// Kind, time, from, to, duration of a transition.
type Step = (K, String, Option<String>, Option<String>, Option<i64>);

#[test]
fn hand_written_session_yields_exactly_the_expected_transitions() {
    let mut engine = Engine::new(EngineConfig::default());
    let mut got = Vec::new();
    for r in session() {
        engine.apply(&r);
        got.extend(engine.take_changes().transitions);
    }
    let summary: Vec<Step> = got
        .iter()
        .map(|t| {
            (
                t.kind,
                t.at.to_string(),
                t.from.clone(),
                t.to.clone(),
                t.duration_ms,
            )
        })
        .collect();
    let s = |x: &str| Some(x.to_owned());
    assert_eq!(
        summary,
        vec![
            (
                K::AgentLoggedIn,
                "2026-01-05T08:58:00.000Z".into(),
                None,
                None,
                None
            ),
            (
                K::AgentStatusChanged,
                "2026-01-05T08:59:00.000Z".into(),
                s("Offline"),
                s("Available"),
                None
            ),
            (
                K::ContactOffered,
                "2026-01-05T09:01:00.000Z".into(),
                None,
                None,
                None
            ),
            (
                K::ContactConnected,
                "2026-01-05T09:01:05.000Z".into(),
                None,
                None,
                None
            ),
            (
                K::HoldStarted,
                "2026-01-05T09:03:00.000Z".into(),
                None,
                None,
                None
            ),
            (
                K::HoldEnded,
                "2026-01-05T09:03:42.500Z".into(),
                None,
                None,
                Some(42_500)
            ),
            (
                K::AcwStarted,
                "2026-01-05T09:06:00.000Z".into(),
                None,
                None,
                None
            ),
            (
                K::AcwEnded,
                "2026-01-05T09:07:15.250Z".into(),
                None,
                None,
                Some(75_250)
            ),
            (
                K::AgentStatusChanged,
                "2026-01-05T09:10:30.000Z".into(),
                s("Available"),
                s("Break"),
                None
            ),
            (
                K::AgentStatusChanged,
                "2026-01-05T09:25:00.000Z".into(),
                s("Break"),
                s("Offline"),
                None
            ),
            (
                K::AgentLoggedOut,
                "2026-01-05T09:25:01.000Z".into(),
                None,
                None,
                None
            ),
        ]
    );
    // Contact transitions carry the contact, channel, queue and username.
    let connected = &got[3];
    assert_eq!(connected.contact_id.as_deref(), Some("c-1"));
    assert_eq!(connected.channel.as_deref(), Some("VOICE"));
    assert_eq!(connected.queue.as_deref(), Some("Sales"));
    assert_eq!(connected.username.as_deref(), Some("ada"));
    assert_eq!(engine.counters().duplicates, 1);

    // The contact's timeline saw hold and ACW.
    let timeline = engine.contact("c-1").unwrap();
    assert_eq!(timeline.hold_ms, 42_500);
    assert_eq!(timeline.acw_ms, Some(75_250));
    assert!(timeline.completed_fired);
}

#[test]
fn effective_state_follows_contacts_not_just_status() {
    let mut engine = Engine::new(EngineConfig::default());
    let expected = [
        "offline",
        "available",
        "on_contact",
        "on_contact",
        "on_contact",
        "on_contact",
        "on_hold",
        "on_contact",
        "after_contact_work",
        "available",
        "Break",
        "offline",
        "offline",
    ];
    for (r, want) in session().iter().zip(expected) {
        engine.apply(r);
        let agent = engine.agent(&agent_arn(1)).unwrap();
        assert_eq!(agent.effective.as_str(), want, "after {}", r.id());
    }
    let agent = engine.agent(&agent_arn(1)).unwrap();
    assert_eq!(agent.status.as_ref().unwrap().name, "Offline");
    assert_eq!(agent.queues, vec!["Sales".to_owned()]);
}

#[test]
fn first_sight_with_null_previous_and_heartbeat_only_agents() {
    let mut engine = Engine::new(EngineConfig::default());
    let talking = snapshot(
        status("Available", "2026-01-05T08:00:00.000Z"),
        vec![contact(
            "c-9",
            "VOICE",
            "CONNECTED",
            "2026-01-05T09:00:00.000Z",
        )],
    );
    // First sight is a STATE_CHANGE without a previous snapshot: no invented transitions.
    engine.apply(&event(
        "x-1",
        "STATE_CHANGE",
        "2026-01-05T09:00:01.000Z",
        Value::Null,
        talking.clone(),
    ));
    assert!(engine.take_changes().transitions.is_empty());
    assert_eq!(
        engine.agent(&agent_arn(1)).unwrap().effective.as_str(),
        "on_contact"
    );
    // A heartbeat never yields a transition, even when its snapshots differ.
    let idle = snapshot(status("Break", "2026-01-05T08:00:00.000Z"), vec![]);
    engine.apply(&event(
        "x-2",
        "HEART_BEAT",
        "2026-01-05T09:02:01.000Z",
        idle,
        talking.clone(),
    ));
    assert!(engine.take_changes().transitions.is_empty());
    // Both snapshots null (a LOGOUT as some producers write it).
    engine.apply(&event(
        "x-3",
        "LOGOUT",
        "2026-01-05T09:03:00.000Z",
        Value::Null,
        Value::Null,
    ));
    let t = engine.take_changes().transitions;
    assert_eq!(t.last().unwrap().kind, K::AgentLoggedOut);
    assert_eq!(
        engine.agent(&agent_arn(1)).unwrap().effective.as_str(),
        "offline"
    );
}

#[test]
fn concurrent_chats_are_tracked_separately_and_missed_contacts_show() {
    let mut engine = Engine::new(EngineConfig::default());
    let st = status("Available", "2026-01-05T08:00:00.000Z");
    let a = |state: &str, t: &str| contact("chat-a", "CHAT", state, t);
    let b = |state: &str, t: &str| contact("chat-b", "CHAT", state, t);
    let s0 = snapshot(st.clone(), vec![]);
    let s1 = snapshot(st.clone(), vec![a("CONNECTED", "2026-01-05T09:00:00.000Z")]);
    let s2 = snapshot(
        st.clone(),
        vec![
            a("CONNECTED", "2026-01-05T09:00:00.000Z"),
            b("CONNECTED", "2026-01-05T09:01:00.000Z"),
        ],
    );
    let s3 = snapshot(
        st.clone(),
        vec![
            a("ENDED", "2026-01-05T09:02:00.000Z"),
            b("CONNECTED", "2026-01-05T09:01:00.000Z"),
        ],
    );
    let s4 = snapshot(st.clone(), vec![b("CONNECTED", "2026-01-05T09:01:00.000Z")]);
    let s5 = snapshot(
        st.clone(),
        vec![
            b("ENDED", "2026-01-05T09:04:00.000Z"),
            contact("v-1", "VOICE", "MISSED", "2026-01-05T09:04:30.000Z"),
        ],
    );
    let s6 = snapshot(
        st.clone(),
        vec![
            b("ENDED", "2026-01-05T09:04:00.000Z"),
            contact("t-1", "TASK", "REJECTED", "2026-01-05T09:05:00.000Z"),
        ],
    );
    let steps = [
        ("m-1", "2026-01-05T08:59:00.000Z", s0.clone(), s0.clone()),
        ("m-2", "2026-01-05T09:00:00.000Z", s0, s1.clone()),
        ("m-3", "2026-01-05T09:01:00.000Z", s1, s2.clone()),
        ("m-4", "2026-01-05T09:02:00.000Z", s2, s3.clone()),
        ("m-5", "2026-01-05T09:03:00.000Z", s3, s4.clone()),
        ("m-6", "2026-01-05T09:04:30.000Z", s4, s5.clone()),
        ("m-7", "2026-01-05T09:05:00.000Z", s5, s6),
    ];
    let mut kinds = Vec::new();
    for (id, at, prev, cur) in steps {
        engine.apply(&event(id, "STATE_CHANGE", at, prev, cur));
        kinds.extend(
            engine
                .take_changes()
                .transitions
                .into_iter()
                .map(|t| (t.kind, t.contact_id.unwrap_or_default())),
        );
    }
    let k = |kind, c: &str| (kind, c.to_owned());
    assert_eq!(
        kinds,
        vec![
            k(K::ContactConnected, "chat-a"),
            k(K::ContactConnected, "chat-b"),
            k(K::AcwStarted, "chat-a"),
            k(K::AcwEnded, "chat-a"),
            k(K::AcwStarted, "chat-b"),
            k(K::ContactMissed, "v-1"),
            k(K::ContactRejected, "t-1"),
        ]
    );
    assert_eq!(
        engine.agent(&agent_arn(1)).unwrap().effective.as_str(),
        "after_contact_work"
    );
}
