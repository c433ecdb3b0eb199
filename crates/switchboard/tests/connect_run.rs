//! `switchboard run` with `[connect]`, black box, against the FAKE Connect API of
//! switchboard-io's tests (`tests/support/connect_fake`: no server for these calls runs
//! here; its shapes are checked against botocore's Connect model there). The seat map
//! the API serves is right as soon as the listener is up, before any event arrives.

mod support;

#[path = "../../switchboard-io/tests/support/connect_fake/mod.rs"]
mod connect_fake;

use std::fs;
use std::process::Command;

use connect_fake::{Agent, AgentContact, ConnectFake, Op, Queue, RoutingProfile};
use serde_json::Value;
use support::run::{bin, Running};
use switchboard_store::{AgentFilter, SqliteStore, Store};

const INSTANCE: &str = "inst-run-1";

const AWS_ENV: &[(&str, &str)] = &[
    ("AWS_ACCESS_KEY_ID", "testing"),
    ("AWS_SECRET_ACCESS_KEY", "testing"),
    ("AWS_EC2_METADATA_DISABLED", "true"),
];

fn seed(fake: &ConnectFake) {
    fake.with(|s| {
        let i = s.add_instance(INSTANCE);
        i.queues.push(Queue::standard("q-1", "Billing"));
        i.routing_profiles
            .push(RoutingProfile::new("rp-1", "Billing agents", &["q-1"]));
        i.agents
            .push(Agent::new("u-alice", "alice", "rp-1", "Available"));
        let mut bob = Agent::new("u-bob", "bob", "rp-1", "Available");
        bob.contacts
            .push(AgentContact::voice("c-42", "q-1", 1_767_229_200.0));
        i.agents.push(bob);
        i.agents
            .push(Agent::new("u-carol", "carol", "rp-1", "Lunch"));
        i.agents
            .push(Agent::new("u-dave", "dave", "rp-1", "Offline"));
    });
}

/// `switchboard validate --config config`.
fn validate(config: &std::path::Path) -> std::process::Output {
    Command::new(bin())
        .args(["validate", "--config"])
        .arg(config)
        .output()
        .unwrap()
}

fn state_of(agents: &Value, username: &str) -> String {
    agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == username)
        .unwrap_or_else(|| panic!("{username} not in {agents}"))["state"]
        .as_str()
        .unwrap()
        .to_owned()
}

#[test]
fn the_seat_map_is_seeded_from_the_connect_api_before_the_first_event() {
    let fake = ConnectFake::start_blocking();
    seed(&fake);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:run.db"
[server]
listen = "127.0.0.1:0"
[connect]
instance_id = "{INSTANCE}"
recheck_interval_secs = 1
aws = {{ region = "us-east-1", endpoint_url = "{}" }}
"#,
            fake.url()
        ),
    )
    .unwrap();
    let out = validate(&config);
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("connect: instance inst-run-1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let run = Running::start(&config, AWS_ENV);
    // No source, no event: what the API serves came from Connect, applied before the
    // listener started.
    let agents = run.get_json("/api/agents");
    assert_eq!(state_of(&agents, "alice"), "available", "{agents}");
    assert_eq!(state_of(&agents, "bob"), "on_contact", "{agents}");
    assert_eq!(state_of(&agents, "carol"), "Lunch", "{agents}");
    assert_eq!(state_of(&agents, "dave"), "offline", "{agents}");
    let bob = agents["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["username"] == "bob")
        .unwrap();
    assert!(bob.to_string().contains("Billing agents"), "{bob}");
    assert!(bob.to_string().contains("Billing"), "{bob}");
    assert_eq!(fake.count(Op::ListUsers), 1);
    assert_eq!(fake.count(Op::GetCurrentUserData), 1);
    let log = run.stop();
    assert!(log.contains("agents' states loaded"), "{log}");

    // And the store holds them.
    let store = SqliteStore::open(&dir.path().join("run.db")).unwrap();
    assert_eq!(store.agents(&AgentFilter::default()).unwrap().len(), 4);
}

#[test]
fn validate_explains_connect_problems_with_their_keys() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        r#"
[store]
url = "sqlite:run.db"
[connect]
instance_id = "arn:aws:s3:::not-an-instance"
recheck_silent_after_secs = 5
contact_attributes_rate = { per_second = 0, burst = 5 }
colour = "blue"
[[sinks]]
name = "crm"
type = "webhook"
url = "https://crm.example/hook"
[[rules]]
name = "attrs"
contact_attributes = true
sinks = ["crm"]
"#,
    )
    .unwrap();
    let out = validate(&config);
    assert!(!out.status.success());
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("connect.colour"), "{text}");
    // Once the unknown key is gone, the values are checked.
    let fixed = fs::read_to_string(&config)
        .unwrap()
        .replace("colour = \"blue\"\n", "");
    fs::write(&config, fixed).unwrap();
    let out = validate(&config);
    let text = String::from_utf8_lossy(&out.stderr);
    for key in [
        "connect.instance_id",
        "connect.recheck_silent_after_secs",
        "connect.contact_attributes_rate.per_second",
    ] {
        assert!(text.contains(key), "{key} missing: {text}");
    }
    // A rule that needs [connect] without it.
    let without = fs::read_to_string(&config).unwrap();
    let start = without.find("[connect]").unwrap();
    let end = without.find("[[sinks]]").unwrap();
    fs::write(&config, format!("{}{}", &without[..start], &without[end..])).unwrap();
    let out = validate(&config);
    let text = String::from_utf8_lossy(&out.stderr);
    assert!(text.contains("rules[0].contact_attributes"), "{text}");
}

fn sample(name: &str) -> Value {
    let dir = std::env::var("SWITCHBOARD_SAMPLES").map_or_else(
        |_| {
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
        },
        std::path::PathBuf::from,
    );
    serde_json::from_slice(&fs::read(dir.join(name)).unwrap()).unwrap()
}

#[test]
fn a_rule_with_contact_attributes_gets_them_from_connect_for_contact_events_only() {
    let fake = ConnectFake::start_blocking();
    seed(&fake);
    let event = sample("eventbridge-contact-disconnected.json");
    let initial = event["detail"]["initialContactId"]
        .as_str()
        .unwrap()
        .to_owned();
    fake.with(|s| {
        s.instance_mut(INSTANCE).contact_attributes.insert(
            initial.clone(),
            [("orderId".to_string(), "order-77".to_string())].into(),
        );
        // Connect is busy at first: the call is retried.
        s.throttle(Op::GetContactAttributes, 2);
    });
    let mut second = event.clone();
    second["id"] = serde_json::json!("another-delivery-of-a-later-event");
    second["detail"]["eventType"] = serde_json::json!("CONTACT_DATA_UPDATED");
    let ctr = sample("ctr-voice-inbound-2022.json");
    let receiver = support::receiver::Receiver::start();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("input.ndjson");
    let mut lines = String::new();
    for v in [&event, &second, &ctr] {
        lines.push_str(&serde_json::to_string(v).unwrap());
        lines.push('\n');
    }
    fs::write(&input, lines).unwrap();
    let config = dir.path().join("sb.toml");
    fs::write(
        &config,
        format!(
            r#"
[store]
url = "sqlite:unused.db"
[connect]
instance_id = "{INSTANCE}"
load_agent_states = false
list_names = false
backoff_base_ms = 5
backoff_max_ms = 20
aws = {{ region = "us-east-1", endpoint_url = "{}" }}
[[sinks]]
name = "crm"
type = "webhook"
url = "{}"
[[rules]]
name = "with-attributes"
kinds = ["record"]
streams = ["contact_event", "contact_record"]
contact_attributes = true
sinks = ["crm"]
"#,
            fake.url(),
            receiver.url("/hook")
        ),
    )
    .unwrap();
    let out = Command::new(bin())
        .arg("replay")
        .arg("--config")
        .arg(&config)
        .arg("--store")
        .arg(format!("sqlite:{}", dir.path().join("sb.db").display()))
        .arg(&input)
        .envs(AWS_ENV.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("0 waiting in the outbox"), "{stderr}");

    let applied: Vec<Value> = receiver
        .applied()
        .values()
        .map(|b| serde_json::from_slice(b).unwrap())
        .collect();
    assert_eq!(applied.len(), 3, "{applied:?}");
    let events: Vec<&Value> = applied
        .iter()
        .filter(|v| v.get("detail").is_some())
        .collect();
    assert_eq!(events.len(), 2);
    for e in &events {
        assert_eq!(
            e["ContactAttributes"],
            serde_json::json!({"orderId": "order-77"}),
            "{e}"
        );
    }
    // The contact record brought its attributes: delivered as it came, not asked.
    let record = applied
        .iter()
        .find(|v| v.get("ContactId").is_some())
        .unwrap();
    assert!(record.get("ContactAttributes").is_none(), "{record}");
    // Two throttled, one answered; the second event of the contact came from the cache.
    assert_eq!(fake.count(Op::GetContactAttributes), 3);
    assert_eq!(fake.count(Op::GetCurrentUserData), 0);
}

#[test]
fn the_printed_example_shows_the_connect_section() {
    let out = Command::new(bin())
        .args(["validate", "--example"])
        .output()
        .unwrap();
    assert!(out.status.success());
    let text = String::from_utf8(out.stdout).unwrap();
    for key in [
        "[connect]",
        "instance_id = \"arn:aws:connect:",
        "recheck_silent_after_secs",
        "[connect.contact_attributes_rate]",
    ] {
        assert!(text.contains(key), "{key} missing:\n{text}");
    }
}
