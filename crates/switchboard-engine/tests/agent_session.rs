//! A hand-written agent session through the state machine: every transition kind, with a
//! heartbeat and a duplicate in between, chat concurrency, and null snapshots.

mod common;

use common::{agent_arn, contact, event, session, snapshot, status};
use serde_json::Value;
use switchboard_engine::{Engine, EngineConfig, TransitionKind as K};

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
