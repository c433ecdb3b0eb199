//! The Connect API client against the FAKE Connect of `support/connect_fake` (no server
//! for these calls runs here; the fake's shapes are checked against botocore's model by
//! `connect_fake_model.rs`, and every request these tests make is checked here too):
//! GetCurrentUserData over more than 100 agents (filter groups of 100, each paged), the
//! List calls paged, agents' data as agent events, GetContactAttributes retried on
//! throttling, cached, and a miss for an unknown contact.

mod support;

use std::collections::HashMap;
use std::time::Duration;

use serde_json::{json, Value};
use support::connect_fake::model::Model;
use support::connect_fake::{Agent, AgentContact, ConnectFake, Op, Queue, RoutingProfile};
use switchboard_io::aws::connect::agents::{self, NameIndex};
use switchboard_io::aws::connect::attributes::ContactAttributes;
use switchboard_io::aws::connect::{ConnectApi, ConnectConfig};
use switchboard_io::lookups::config::CacheSettings;
use switchboard_model::agent_event::ContactState;
use switchboard_model::Record;

const INSTANCE: &str = "inst-conn-1";

fn config(fake: &ConnectFake) -> ConnectConfig {
    let mut c = ConnectConfig::new(format!(
        "arn:aws:connect:us-east-1:123456789012:instance/{INSTANCE}"
    ));
    c.aws = fake.aws();
    // Quick retries in tests (the schedule is the same, only shorter).
    c.backoff_base_ms = 5;
    c.backoff_max_ms = 20;
    c
}

/// 250 users over 2 routing profiles; the odd ones logged in (`Available`), every tenth
/// on a call.
fn seed(fake: &ConnectFake) {
    fake.with(|s| {
        let i = s.add_instance(INSTANCE);
        i.queues.push(Queue::standard("q-1", "Sales"));
        i.queues.push(Queue::agent("q-a"));
        for (id, name) in [("rp-1", "Sales agents"), ("rp-2", "Support agents")] {
            i.routing_profiles
                .push(RoutingProfile::new(id, name, &["q-1"]));
        }
        for n in 0..250 {
            let status = if n % 2 == 1 { "Available" } else { "Offline" };
            let rp = if n < 125 { "rp-1" } else { "rp-2" };
            let mut a = Agent::new(&format!("user-{n:03}"), &format!("agent{n:03}"), rp, status);
            if n % 10 == 1 {
                a.contacts.push(AgentContact::voice(
                    &format!("c-{n}"),
                    "q-1",
                    1_767_229_200.0,
                ));
            }
            i.agents.push(a);
        }
        s.max_page = Some(30);
    });
}

/// Every request and answer so far validates against the model (when it is available).
fn check_against_model(fake: &ConnectFake) {
    let Some(model) = Model::load() else { return };
    let problems: Vec<String> = fake
        .seen()
        .iter()
        .flat_map(|s| {
            let mut p = model.check_request(s);
            p.extend(model.check_response(s));
            p
        })
        .collect();
    assert!(problems.is_empty(), "{}", problems.join("\n"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn current_user_data_of_250_agents_in_filters_of_100_each_paged() {
    let fake = ConnectFake::start().await;
    seed(&fake);
    let mut c = config(&fake);
    c.api_rate.per_second = 1000.0;
    c.api_rate.burst = 1000;
    let api = ConnectApi::new(&c).await;
    assert_eq!(api.instance(), INSTANCE);

    let names = api.names().await.unwrap();
    assert_eq!(names.users.len(), 250);
    assert_eq!(names.users[7].username, "agent007");
    assert_eq!(
        names.queues.len(),
        1,
        "agent queues are not listed: {:?}",
        names.queues
    );
    assert_eq!(names.routing_profiles[1].name, "Support agents");
    // 250 users in pages of 30.
    assert_eq!(fake.count(Op::ListUsers), 9);

    let ids: Vec<String> = names.users.iter().map(|u| u.id.clone()).collect();
    let data = api.current_user_data(&ids).await.unwrap();
    assert_eq!(data.len(), 125, "the logged-in half");
    let seen = fake.seen();
    let requests: Vec<&Value> = seen
        .iter()
        .filter(|s| s.op == Op::GetCurrentUserData)
        .map(|s| &s.body)
        .collect();
    // Filters of 100, 100 and 50 agents; 50, 50 and 25 logged in; pages of 30.
    assert_eq!(requests.len(), 2 + 2 + 1);
    for body in &requests {
        let n = body["Filters"]["Agents"].as_array().unwrap().len();
        assert!(n <= 100, "{n} agents in one filter");
        assert_eq!(body["MaxResults"], 100);
    }
    assert!(requests[1]["NextToken"].is_string());
    let groups: Vec<usize> = requests
        .iter()
        .filter(|b| b["NextToken"].is_null())
        .map(|b| b["Filters"]["Agents"].as_array().unwrap().len())
        .collect();
    assert_eq!(groups, [100, 100, 50]);

    // As agent events, with the names listed.
    let index = NameIndex::new(&names);
    let events: Vec<_> = data
        .iter()
        .filter_map(|d| agents::event_of(d, &index))
        .collect();
    assert_eq!(events.len(), 125);
    let on_call = events
        .iter()
        .map(|e| e.record().unwrap())
        .find(|r| matches!(r, Record::AgentEvent(a) if a.agent_arn.ends_with("/agent/user-011")))
        .unwrap();
    let Record::AgentEvent(e) = &on_call else {
        unreachable!()
    };
    let snap = e.current.as_ref().unwrap();
    assert_eq!(snap.status_name(), Some("Available"));
    assert_eq!(e.username(), Some("agent011"));
    let contact = &snap.contacts()[0];
    assert_eq!(contact.contact_id, "c-11");
    assert_eq!(contact.state, Some(ContactState::Connected));
    assert_eq!(
        contact.queue.as_ref().and_then(|q| q.name.as_deref()),
        Some("Sales")
    );
    // The newest change the data reflects: the call's state start.
    assert_eq!(e.event_timestamp.millis(), 1_767_229_200_000);
    assert!(e.event_id.starts_with(agents::EVENT_ID_PREFIX));
    // The same data makes the same event id (a repeated ask applies once).
    let again = agents::event_of(&data[5], &index).unwrap();
    let first = agents::event_of(&data[5], &index).unwrap();
    assert_eq!(again.raw, first.raw);
    check_against_model(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_calls_are_retried_until_they_pass_or_the_attempts_run_out() {
    let fake = ConnectFake::start().await;
    seed(&fake);
    let api = ConnectApi::new(&config(&fake)).await;
    fake.with(|s| s.throttle(Op::ListQueues, 3));
    assert_eq!(api.queues().await.unwrap().len(), 1);
    assert_eq!(
        fake.count(Op::ListQueues),
        4,
        "three throttled, the fourth answered"
    );

    fake.with(|s| s.throttle(Op::ListRoutingProfiles, 5));
    let e = api.routing_profiles().await.unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(e.code.as_deref(), Some("ThrottlingException"));
    assert!(e.to_string().contains("gave up after 5 attempts"), "{e}");
    assert_eq!(fake.count(Op::ListRoutingProfiles), 5);

    // Not worth retrying: one request, a clear error.
    fake.with(|s| s.fail_next(Some(Op::ListUsers), 400, "InvalidParameterException", "bad"));
    let e = api.users().await.unwrap_err();
    assert!(!e.retryable);
    assert!(
        e.to_string().contains("InvalidParameterException: bad"),
        "{e}"
    );
    assert_eq!(fake.count(Op::ListUsers), 1);

    // A wrong instance says so.
    let mut wrong = config(&fake);
    wrong.instance_id = "no-such-instance".into();
    let e = ConnectApi::new(&wrong).await.users().await.unwrap_err();
    assert_eq!(e.code.as_deref(), Some("ResourceNotFoundException"), "{e}");
    check_against_model(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn contact_attributes_are_retried_on_throttling_cached_and_missing_contacts_miss() {
    let fake = ConnectFake::start().await;
    seed(&fake);
    fake.with(|s| {
        let i = s.instance_mut(INSTANCE);
        for (id, tier) in [("c-1", "gold"), ("c-2", "silver")] {
            i.contact_attributes
                .insert(id.into(), [("tier".to_string(), tier.to_string())].into());
        }
        // GetContactAttributes is throttled with TooManyRequestsException.
        s.throttle(Op::GetContactAttributes, 2);
    });
    let lookup = ContactAttributes::cached(
        ConnectApi::new(&config(&fake)).await,
        &CacheSettings::default(),
    );
    let keys = |k: &[&str]| k.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let got = lookup
        .get_many(&keys(&["c-1", "c-2", "c-9"]))
        .await
        .unwrap();
    let expected: HashMap<String, Value> = [
        ("c-1".to_string(), json!({"tier": "gold"})),
        ("c-2".to_string(), json!({"tier": "silver"})),
    ]
    .into();
    assert_eq!(got, expected, "c-9 is unknown to Connect: a miss");
    assert_eq!(
        fake.count(Op::GetContactAttributes),
        3 + 2,
        "two throttles retried"
    );
    let throttled: Vec<_> = fake
        .seen()
        .into_iter()
        .filter(|s| s.status == 429)
        .map(|s| s.error_type.unwrap())
        .collect();
    assert_eq!(throttled, ["TooManyRequestsException"; 2]);

    // Cached: found and missing alike.
    let again = lookup.get_many(&keys(&["c-1", "c-9"])).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        fake.count(Op::GetContactAttributes),
        5,
        "answered from the cache"
    );
    check_against_model(&fake);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attributes_that_stay_throttled_fail_as_retryable() {
    let fake = ConnectFake::start().await;
    seed(&fake);
    fake.with(|s| {
        s.instance_mut(INSTANCE)
            .contact_attributes
            .insert("c-1".into(), Default::default());
        s.throttle(Op::GetContactAttributes, 10);
    });
    let mut c = config(&fake);
    c.max_attempts = 3;
    let lookup = ContactAttributes::cached(ConnectApi::new(&c).await, &CacheSettings::OFF);
    let e = tokio::time::timeout(
        Duration::from_secs(60),
        lookup.get_many(&["c-1".to_string()]),
    )
    .await
    .unwrap()
    .unwrap_err();
    assert!(e.retryable, "{e}");
    assert_eq!(fake.count(Op::GetContactAttributes), 3);
}
