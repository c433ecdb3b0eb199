//! The seeds' use cases, as shipped in examples/, end to end: each example config is run
//! (its rules, sinks, lookups and dead-letter writer, through `switchboard replay
//! --config`, which drives the same pipeline and delivery workers as `run`) over input
//! made for it, against real receivers and servers, and what reaches each destination is
//! checked record by record. Only the destinations' addresses are changed.

mod support;

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::{json, Value};
use support::receiver::Receiver;
use support::run::bin;
use switchboard_store::{SqliteStore, Store};

fn examples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples")
}

fn samples() -> PathBuf {
    std::env::var("SWITCHBOARD_SAMPLES")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/connect/samples")
        })
}

fn sample(name: &str) -> Value {
    serde_json::from_slice(&std::fs::read(samples().join(name)).unwrap()).unwrap()
}

/// The example's text with `from` replaced by `to` (each must occur).
fn adapt(example: &str, replacements: &[(&str, &str)]) -> String {
    let mut text = std::fs::read_to_string(examples().join(example)).unwrap();
    for (from, to) in replacements {
        assert!(text.contains(from), "{example} no longer contains {from:?}");
        text = text.replace(from, to);
    }
    text
}

/// `switchboard replay --config CONFIG --store sqlite:DB INPUT`, which must succeed.
fn replay(dir: &Path, config: &str, input: &Path, env: &[(&str, &str)]) -> String {
    let path = dir.join("switchboard.toml");
    std::fs::write(&path, config).unwrap();
    let out = Command::new(bin())
        .arg("replay")
        .arg("--config")
        .arg(&path)
        .arg("--store")
        .arg(format!("sqlite:{}", dir.join("sb.db").display()))
        .arg(input)
        .envs(env.iter().copied())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "replay failed:\n{stderr}");
    assert!(stderr.contains("0 waiting in the outbox"), "{stderr}");
    stderr
}

fn ndjson(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(&serde_json::to_vec(v).unwrap());
        out.push(b'\n');
    }
    out
}

/// Contact `id` dialled `number`: its DISCONNECTED event and its contact record.
fn contact(id: &str, number: &str, customer: &str, minute: u32) -> (Value, Value) {
    let mut event = sample("eventbridge-contact-disconnected.json");
    event["id"] = json!(format!("event-{id}"));
    event["detail"]["contactId"] = json!(id);
    event["detail"]["initialContactId"] = json!(id);
    event["detail"]["disconnectTimestamp"] = json!(format!("2026-03-02T10:{minute:02}:30.000Z"));
    let mut ctr = sample("ctr-voice-inbound-2022.json");
    ctr["ContactId"] = json!(id);
    ctr["InitialContactId"] = Value::Null;
    ctr["SystemEndpoint"]["Address"] = json!(number);
    ctr["CustomerEndpoint"]["Address"] = json!(customer);
    ctr["Attributes"] = json!({"orderId": format!("order-{id}"), "greetingPlayed": "true"});
    ctr["InitiationTimestamp"] =
        json!(format!("2026-03-02T10:{:02}:00Z", minute.saturating_sub(1)));
    ctr["DisconnectTimestamp"] = json!(format!("2026-03-02T10:{minute:02}:30Z"));
    ctr["LastUpdateTimestamp"] = json!(format!("2026-03-02T10:{:02}:40Z", minute + 1));
    // The sample's other timestamps are from 2022: move them into this contact's life, or
    // the plausibility checks refuse the record.
    let during = format!("2026-03-02T10:{:02}:30Z", minute.saturating_sub(1));
    for key in ["Agent", "Queue"] {
        if let Some(obj) = ctr[key].as_object_mut() {
            move_timestamps(obj, &during);
        }
    }
    if let Some(obj) = ctr.as_object_mut() {
        for key in [
            "ConnectedToSystemTimestamp",
            "TransferCompletedTimestamp",
            "ScheduledTimestamp",
        ] {
            if obj.get(key).is_some_and(Value::is_string) {
                obj.insert(key.to_owned(), json!(during));
            }
        }
    }
    (event, ctr)
}

/// Sets every `...Timestamp` string of `obj` to `at`.
fn move_timestamps(obj: &mut serde_json::Map<String, Value>, at: &str) {
    for (k, v) in obj.iter_mut() {
        if k.ends_with("Timestamp") && v.is_string() {
            *v = json!(at);
        }
    }
}

#[test]
fn post_contact_calls_the_crm_once_on_disconnect_and_again_with_the_record() {
    let dir = tempfile::tempdir().unwrap();
    let crm = Receiver::start();
    let (e1, r1) = contact("c-sales", "+18005550100", "+14155550101", 10);
    let (e2, r2) = contact("c-support", "+18005550199", "+14155550102", 20);
    // EventBridge is at-least-once: the first event arrives twice.
    let input = dir.path().join("input.ndjson");
    std::fs::write(
        &input,
        ndjson(&[e1.clone(), e2, e1, r1.clone(), r2.clone()]),
    )
    .unwrap();

    let config = adapt(
        "post-contact.toml",
        &[
            ("https://crm.example.com", &crm.url("")),
            ("sqlite:post-contact.db", "sqlite:unused.db"),
        ],
    );
    replay(
        dir.path(),
        &config,
        &input,
        &[
            ("CRM_TOKEN", "secret-token"),
            ("SWITCHBOARD_EVENTBRIDGE_KEY", "k"),
            ("SWITCHBOARD_FIREHOSE_ACCESS_KEY", "k"),
        ],
    );

    let seen = crm.seen.lock().unwrap();
    let calls = |path: &str| -> Vec<Value> {
        seen.calls
            .iter()
            .filter(|c| c.0 == path && c.2 == 200)
            .map(|c| serde_json::from_slice(&seen.applied[c.1.as_ref().unwrap()]).unwrap())
            .collect()
    };
    let disconnected = calls("/api/contacts/disconnected");
    let ids: Vec<&str> = disconnected
        .iter()
        .map(|b| b["contactId"].as_str().unwrap())
        .collect();
    assert_eq!(
        ids.len(),
        2,
        "once per contact, although one event came twice: {disconnected:?}"
    );
    assert!(ids.contains(&"c-sales") && ids.contains(&"c-support"));
    let sales = disconnected
        .iter()
        .find(|b| b["contactId"] == "c-sales")
        .unwrap();
    assert_eq!(sales["disconnectedAt"], "2026-03-02T10:10:30.000Z");

    let mut completed = calls("/api/contacts/completed");
    completed.sort_by_key(|b| b["contactId"].as_str().unwrap().to_owned());
    assert_eq!(completed.len(), 2, "{completed:?}");
    assert_eq!(completed[0]["contactId"], "c-sales");
    assert_eq!(completed[0]["businessLine"], "sales");
    assert_eq!(completed[0]["customer"], "+14155550101");
    assert_eq!(completed[0]["attributes"]["orderId"], "order-c-sales");
    assert_eq!(
        completed[0]["handleSeconds"],
        r1["Agent"]["AgentInteractionDuration"]
    );
    assert_eq!(completed[1]["contactId"], "c-support");
    assert_eq!(completed[1]["businessLine"], "support");
    assert_eq!(completed[1]["attributes"]["orderId"], "order-c-support");
    assert_eq!(seen.repeats, 0);
}

#[test]
fn long_hold_and_acw_alerts_reach_the_chat_webhook_readably() {
    let dir = tempfile::tempdir().unwrap();
    let slack = Receiver::start();
    let input = dir.path().join("input");
    let status = Command::new(bin())
        .args([
            "simulate",
            "--agents",
            "40",
            "--duration",
            "3h",
            "--seed",
            "3",
            "--start",
            "2026-03-02T09:00:00Z",
            "--out",
        ])
        .arg(&input)
        .stdout(std::process::Stdio::null())
        .status()
        .unwrap();
    assert!(status.success());
    let config = adapt(
        "supervisor-alerts.toml",
        &[
            ("sqlite:supervisor-alerts.db", "sqlite:unused.db"),
            ("long_hold_s = 300", "long_hold_s = 60"),
            ("long_acw_s = 180", "long_acw_s = 60"),
        ],
    );
    let hook = slack.url("/services/T000/B000/XXXX");
    replay(
        dir.path(),
        &config,
        &input,
        &[("SLACK_WEBHOOK_URL", hook.as_str())],
    );

    let store = SqliteStore::open(&dir.path().join("sb.db")).unwrap();
    let alerts: Vec<_> = store
        .alerts(false)
        .unwrap()
        .into_iter()
        .filter(|a| matches!(a.kind.as_str(), "long_hold" | "long_acw"))
        .collect();
    assert!(
        !alerts.is_empty(),
        "the simulated day has long holds or ACW"
    );
    let expected = alerts.len() + alerts.iter().filter(|a| a.cleared_at.is_some()).count();
    let seen = slack.seen.lock().unwrap();
    let texts: Vec<String> = seen
        .applied
        .values()
        .map(|b| {
            let v: Value = serde_json::from_slice(b).unwrap();
            v["text"].as_str().unwrap().to_owned()
        })
        .collect();
    assert_eq!(
        texts.len(),
        expected,
        "one message per alert raised and per alert cleared"
    );
    for alert in &alerts {
        let name = alert.username.as_deref().unwrap_or(&alert.subject);
        assert!(
            texts.iter().any(|t| t.contains(name)),
            "no message names {name}: {texts:?}"
        );
    }
    assert!(texts.iter().any(|t| t.to_lowercase().contains("hold")
        || t.to_lowercase().contains("after-contact")
        || t.to_lowercase().contains("acw")));
}

/// A fake OpenSearch cluster (no OpenSearch or Elasticsearch server installs here): the
/// protocol-faithful `_bulk` fake the OpenSearch sink's own tests use.
#[path = "../../switchboard-io/tests/opensearch_fake/mod.rs"]
mod opensearch_fake;

#[test]
fn contact_records_are_enriched_indexed_and_every_record_archived() {
    let moto = support::servers::moto_url();
    let dir = tempfile::tempdir().unwrap();
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let search = runtime.block_on(opensearch_fake::Fake::start());
    let bucket = support::unique_name("archive");
    let table = support::unique_name("customers");

    // Two contacts: one caller is a customer, the other is not; the first record comes
    // again, updated (Connect re-sends records on updates).
    let (_, known) = contact("c-known", "+18005550100", "+14155550123", 10);
    let (_, unknown) = contact("c-unknown", "+18005550100", "+14155550199", 20);
    let mut updated = known.clone();
    updated["LastUpdateTimestamp"] = json!("2026-03-02T11:00:00Z");
    updated["Attributes"]["note"] = json!("updated");
    let agent_events = std::fs::read(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/data/agent-events.ndjson"),
    )
    .unwrap();
    let mut input = ndjson(&[known.clone(), unknown.clone(), updated.clone()]);
    input.extend_from_slice(&agent_events);
    let input_path = dir.path().join("input.ndjson");
    std::fs::write(&input_path, &input).unwrap();

    support::servers::python(&format!(
        r#"
import boto3
kw = dict(endpoint_url="{moto}", region_name="us-east-1")
boto3.client("s3", **kw).create_bucket(Bucket="{bucket}")
ddb = boto3.client("dynamodb", **kw)
ddb.create_table(TableName="{table}", KeySchema=[{{"AttributeName": "phone", "KeyType": "HASH"}}],
    AttributeDefinitions=[{{"AttributeName": "phone", "AttributeType": "S"}}], BillingMode="PAY_PER_REQUEST")
ddb.put_item(TableName="{table}", Item={{"phone": {{"S": "+14155550123"}}, "company": {{"S": "Acme Corp"}}, "tier": {{"N": "2"}}}})
"#
    ));

    let config = adapt(
        "enrich-index-archive.toml",
        &[
            ("sqlite:enrich-index-archive.db", "sqlite:unused.db"),
            (
                "region = \"us-east-1\"\n",
                &format!("region = \"us-east-1\"\nendpoint_url = \"{moto}\"\n"),
            ),
            (
                "https://search-contact-center.us-east-1.es.amazonaws.com",
                &search.url(),
            ),
            ("contact-center-archive", &bucket),
            ("table = \"customers\"", &format!("table = \"{table}\"")),
        ],
    );
    replay(dir.path(), &config, &input_path, &[]);

    // OpenSearch: one document per contact, id = ContactId, the newest copy, the company
    // added beside the number (which is kept), a miss tagged.
    let indexes = search.with(|c| c.indexes.clone());
    let docs: Vec<(&String, &String, &Value)> = indexes
        .iter()
        .flat_map(|(index, docs)| docs.iter().map(move |(id, (_, doc))| (index, id, doc)))
        .collect();
    assert_eq!(docs.len(), 2, "{indexes:?}");
    for (index, _, _) in &docs {
        assert!(index.starts_with("connect-"), "{index}");
        assert!(index.ends_with("2026.03.02"), "a daily index: {index}");
    }
    let known_doc = docs.iter().find(|d| d.1 == "c-known").unwrap().2;
    assert_eq!(known_doc["CustomerEndpoint"]["Address"], "+14155550123");
    assert_eq!(known_doc["Customer"]["company"], "Acme Corp");
    assert_eq!(known_doc["Attributes"]["note"], "updated", "the newer copy");
    let unknown_doc = docs.iter().find(|d| d.1 == "c-unknown").unwrap().2;
    assert_eq!(unknown_doc["Customer"]["miss"], true);
    assert_eq!(unknown_doc["CustomerEndpoint"]["Address"], "+14155550199");
    assert!(
        search.with(|c| !c.templates.is_empty()),
        "index template installed"
    );

    // S3: every record as received, under archive/YYYY/MM/DD/HH/, gzip.
    let listing = support::servers::python(&format!(
        r#"
import boto3, gzip, json
s3 = boto3.client("s3", endpoint_url="{moto}", region_name="us-east-1")
out = []
for o in s3.list_objects_v2(Bucket="{bucket}", Prefix="archive/").get("Contents", []):
    body = s3.get_object(Bucket="{bucket}", Key=o["Key"])["Body"].read()
    out.append({{"key": o["Key"], "body": gzip.decompress(body).decode()}})
print(json.dumps(out))
"#
    ));
    let objects: Vec<Value> = serde_json::from_str(listing.trim()).unwrap();
    assert!(!objects.is_empty());
    let mut archived = Vec::new();
    for o in &objects {
        let key = o["key"].as_str().unwrap();
        // archive/YYYY/MM/DD/HH/NAME, by event time: the contact records of 2026-03-02,
        // the example agent events of 2026-01-05.
        let parts: Vec<&str> = key.split('/').collect();
        assert_eq!(parts.len(), 6, "{key}");
        assert!(
            [("2026", "03", "02"), ("2026", "01", "05")].contains(&(parts[1], parts[2], parts[3])),
            "{key}"
        );
        assert!(
            parts[4].len() == 2 && parts[4].parse::<u8>().unwrap() < 24,
            "{key}"
        );
        assert!(key.ends_with(".gz"), "{key}");
        let body = o["body"].as_str().unwrap();
        assert!(body.ends_with('\n'), "a newline after each record");
        archived.extend(body.lines().map(str::to_owned));
    }
    let mut expected: Vec<String> = String::from_utf8(input)
        .unwrap()
        .lines()
        .map(str::to_owned)
        .collect();
    archived.sort();
    expected.sort();
    assert_eq!(archived, expected, "every record, byte for byte");
}
