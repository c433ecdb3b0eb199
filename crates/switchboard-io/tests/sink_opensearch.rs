//! The OpenSearch / Elasticsearch sink against a FAKE cluster.
//!
//! No OpenSearch or Elasticsearch server installs from the package registries these
//! machines reach (there are only clients, and launchers that download the server at run
//! time), so this test serves a fake of the two endpoints the sink uses
//! (`opensearch_fake`), on 127.0.0.1:0, written from the `_bulk` and `_index_template`
//! API documentation: it parses the NDJSON action/source pairs, keeps
//! documents per index by id, honours `version_type = external` (a version not above the
//! stored one is a `409 version_conflict_engine_exception`), refuses a keyword field given
//! an object (`400 mapper_parsing_exception`, from the template it was given), can answer
//! items with `429 es_rejected_execution_exception`, whole requests with 5xx and
//! `Retry-After`, 401, or 413 above a body size, or answer late; and answers in
//! Elasticsearch's shapes (`{"took":..,"errors":..,"items":[{"index":{..,"status":201,
//! "result":"created"}}]}`). It records every request's headers, so the tests check the
//! basic `Authorization` header and the SigV4 signature (recomputed from what went over
//! the wire). What a fake cannot show (a real cluster's mappings applied to real
//! queries) is checked by the template's own assertions.

mod opensearch_fake;
mod support;

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use serde_json::{json, Value};
use switchboard_io::sinks::opensearch::{OpenSearchAuth, OpenSearchConfig, SigV4Service};
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};
use switchboard_model::Timestamp;

use opensearch_fake::{Fake, Seen};
use support::{ms, sample_ctr};

// ---------------------------------------------------------------------------------------
// Items

fn item(id: i64, kind: ItemKind, payload: impl Into<Bytes>, event_ms: i64) -> Item {
    Item {
        id,
        rule: "kibana".into(),
        sink: "kibana".into(),
        key: format!("key-{id}"),
        kind,
        payload: payload.into(),
        event_ms,
        created_ms: event_ms,
        attempts: 0,
    }
}

const CONTACT: &str = "15a5cf14-3212-45a1-9f86-a8e97db8afaf";

fn ctr_item(id: i64, last_update: &str, marker: &str) -> Item {
    item(
        id,
        ItemKind::Record,
        sample_ctr(last_update, marker),
        ms(last_update),
    )
}

fn transition(id: i64) -> Item {
    let at = "2024-01-02T03:04:05.120Z";
    let payload = json!({"type": "hold_ended", "agent_arn": "arn:aws:connect:::agent/a",
                         "username": "ana", "queue": "Sales", "at": at, "duration_ms": 12500});
    item(id, ItemKind::Transition, payload.to_string(), ms(at))
}

fn config(fake: &Fake) -> OpenSearchConfig {
    OpenSearchConfig {
        url: fake.url(),
        auth: OpenSearchAuth::None,
        timeout_secs: 5,
        ..OpenSearchConfig::example()
    }
}

// ---------------------------------------------------------------------------------------
// Tests

#[tokio::test]
async fn documents_land_in_daily_indexes_by_kind_with_contact_ids() {
    let fake = Fake::start().await;
    let sink = config(&fake).build("kibana").await.unwrap();
    let agent_event = std::fs::read(support::sample("agent-event-heartbeat.json")).unwrap();
    let agent_ms = ms("2019-05-25T18:43:59.049Z");
    let ready = format!(
        r#"{{"type":"contact_record_ready","contact_id":"{CONTACT}","at":"2022-04-08T15:03:05.000Z","record":{}}}"#,
        sample_ctr("2022-04-08T15:03:02Z", "ready")
    );
    let items = vec![
        ctr_item(1, "2022-04-08T15:03:02Z", "first"),
        transition(2),
        item(
            3,
            ItemKind::ContactRecordReady,
            ready,
            ms("2022-04-08T15:03:05Z"),
        ),
        item(4, ItemKind::Record, agent_event, agent_ms),
    ];
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 4]);

    let ctr_index = "switchboard-contact_record-2022.04.08";
    let (version, doc) = fake
        .doc(ctr_index, CONTACT)
        .expect("the record by its ContactId");
    assert_eq!(version, ms("2022-04-08T15:03:02Z"));
    assert_eq!(doc["Attributes"]["marker"], "first");
    let (_, t) = fake
        .doc("switchboard-transition-2024.01.02", "key-2")
        .expect("the transition by its key");
    assert_eq!(t["duration_ms"], 12500);
    assert!(fake
        .doc("switchboard-contact_record_ready-2022.04.08", CONTACT)
        .is_some());
    let indexes: Vec<String> = fake.with(|c| c.indexes.keys().cloned().collect());
    assert!(
        indexes.contains(&"switchboard-agent_event-2019.05.25".to_owned()),
        "{indexes:?}"
    );

    // An updated copy arrives two days later: same index (the contact's first day), same
    // id, replaced.
    let update = ctr_item(5, "2022-04-10T09:00:00Z", "updated");
    assert_eq!(sink.deliver(&[update]).await, vec![Outcome::Delivered]);
    let (version, doc) = fake.doc(ctr_index, CONTACT).unwrap();
    assert_eq!(version, ms("2022-04-10T09:00:00Z"));
    assert_eq!(doc["Attributes"]["marker"], "updated");
    assert_eq!(fake.with(|c| c.indexes[ctr_index].len()), 1);

    // The template went first, once, and maps what dashboards aggregate.
    let seen = fake.seen();
    assert_eq!(seen[0].path, "/_index_template/switchboard");
    assert_eq!(
        seen.iter().filter(|s| s.method == "PUT").count(),
        1,
        "the template is installed once"
    );
    let t = fake.with(|c| c.templates["switchboard"].clone());
    assert_eq!(t["index_patterns"], json!(["switchboard-*"]));
    let m = &t["template"]["mappings"];
    assert_eq!(m["date_detection"], false);
    let p = &m["properties"];
    assert_eq!(p["InitiationTimestamp"]["type"], "date");
    assert_eq!(
        p["Agent"]["properties"]["ConnectedToAgentTimestamp"]["type"],
        "date"
    );
    assert_eq!(
        p["Agent"]["properties"]["AgentInteractionDuration"]["type"],
        "long"
    );
    assert_eq!(p["Queue"]["properties"]["Duration"]["type"], "long");
    assert_eq!(p["Queue"]["properties"]["Name"]["type"], "keyword");
    assert_eq!(p["Agent"]["properties"]["Username"]["type"], "keyword");
    assert_eq!(
        p["SystemEndpoint"]["properties"]["Address"]["type"],
        "keyword"
    );
    assert_eq!(p["at"]["type"], "date");
    assert_eq!(p["duration_ms"]["type"], "long");
    assert_eq!(p["agent_arn"]["type"], "keyword");
    assert_eq!(
        p["record"]["properties"]["LastUpdateTimestamp"]["type"],
        "date"
    );
    let strings = m["dynamic_templates"]
        .as_array()
        .unwrap()
        .iter()
        .find_map(|d| d.get("strings"))
        .unwrap();
    assert_eq!(strings["mapping"]["type"], "keyword");
    assert_eq!(strings["mapping"]["fields"]["text"]["type"], "text");

    // The bulk body: NDJSON pairs, sources on one line, the pretty-printed record's line
    // breaks turned into spaces.
    let bulk = seen.iter().find(|s| s.path == "/_bulk").unwrap();
    assert_eq!(
        bulk.headers["content-type"].to_str().unwrap(),
        "application/x-ndjson"
    );
    let lines: Vec<&[u8]> = bulk.body.split(|&b| b == b'\n').collect();
    assert_eq!(lines.len(), 9, "4 pairs and the closing newline");
    let action: Value = serde_json::from_slice(lines[0]).unwrap();
    assert_eq!(
        action,
        json!({"index": {"_index": ctr_index, "_id": CONTACT,
                         "version": ms("2022-04-08T15:03:02Z"), "version_type": "external"}})
    );
    assert_eq!(
        serde_json::from_slice::<Value>(lines[1]).unwrap(),
        serde_json::from_str::<Value>(&sample_ctr("2022-04-08T15:03:02Z", "first")).unwrap()
    );
}

#[tokio::test]
async fn an_older_copy_never_replaces_a_newer_one() {
    let fake = Fake::start().await;
    let sink = config(&fake).build("kibana").await.unwrap();
    let newer = ctr_item(1, "2022-04-08T16:00:00Z", "newer");
    let older = ctr_item(2, "2022-04-08T15:03:02Z", "older");
    assert_eq!(
        sink.deliver(std::slice::from_ref(&newer)).await,
        vec![Outcome::Delivered]
    );
    // The older copy is refused by the cluster (409) and counts as delivered.
    assert_eq!(
        sink.deliver(std::slice::from_ref(&older)).await,
        vec![Outcome::Delivered]
    );
    // The same copy again (a retry) conflicts too, and is delivered.
    assert_eq!(sink.deliver(&[newer]).await, vec![Outcome::Delivered]);
    let statuses: Vec<Vec<u16>> = fake
        .seen()
        .iter()
        .filter(|s| s.path == "/_bulk")
        .map(|s| s.statuses.clone())
        .collect();
    assert_eq!(statuses, [vec![201], vec![409], vec![409]]);
    let (_, doc) = fake
        .doc("switchboard-contact_record-2022.04.08", CONTACT)
        .unwrap();
    assert_eq!(doc["Attributes"]["marker"], "newer");
    // Both in one batch, older last: still the newer.
    let fresh = Fake::start().await;
    let sink = config(&fresh).build("kibana").await.unwrap();
    let newer = ctr_item(3, "2022-04-08T16:00:00Z", "newer");
    assert_eq!(
        sink.deliver(&[newer, older]).await,
        vec![Outcome::Delivered; 2]
    );
    let (_, doc) = fresh
        .doc("switchboard-contact_record-2022.04.08", CONTACT)
        .unwrap();
    assert_eq!(doc["Attributes"]["marker"], "newer");
}

#[tokio::test]
async fn items_the_cluster_refuses_are_retried_or_rejected() {
    let fake = Fake::start().await;
    let sink = config(&fake).build("kibana").await.unwrap();
    fake.with(|c| c.reject_items = 1);
    // A keyword field given an object: a mapping error.
    let mut bad: Value = serde_json::from_str(&sample_ctr("2022-04-08T15:03:02Z", "x")).unwrap();
    bad["ContactId"] = json!("c-bad");
    bad["Channel"] = json!({"Name": "VOICE"});
    let items = vec![
        transition(1),
        item(2, ItemKind::Record, bad.to_string(), 0),
        transition(3),
        item(4, ItemKind::AlertRaised, "[1, 2]", 0),
    ];
    let outcomes = sink.deliver(&items).await;
    match &outcomes[0] {
        Outcome::Retry { reason, .. } => {
            assert!(reason.contains("429"), "{reason}");
            assert!(
                reason.contains("es_rejected_execution_exception"),
                "{reason}"
            );
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    match &outcomes[1] {
        Outcome::Reject { reason } => {
            assert!(reason.contains("HTTP 400"), "{reason}");
            assert!(
                reason.contains("mapper_parsing_exception: failed to parse field [Channel]"),
                "{reason}"
            );
            assert!(reason.contains("c-bad"), "{reason}");
        }
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(outcomes[2], Outcome::Delivered);
    match &outcomes[3] {
        Outcome::Reject { reason } => assert!(reason.contains("not a JSON object"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    // Only three documents were sent: the array was refused before.
    let bulks: Vec<Seen> = fake
        .seen()
        .into_iter()
        .filter(|s| s.path == "/_bulk")
        .collect();
    assert_eq!(bulks[0].statuses, [429, 400, 201]);
    // The retried item goes through next time.
    assert_eq!(sink.deliver(&items[..1]).await, vec![Outcome::Delivered]);
    assert!(fake
        .doc("switchboard-transition-2024.01.02", "key-1")
        .is_some());
}

#[tokio::test]
async fn whole_request_failures() {
    let fake = Fake::start().await;
    let sink = config(&fake).build("kibana").await.unwrap();
    // Install the template first.
    assert_eq!(
        sink.deliver(&[transition(1)]).await,
        vec![Outcome::Delivered]
    );
    let items = vec![transition(2), transition(3)];

    fake.with(|c| c.next_status.push_back((503, Some("7"))));
    let outcomes = sink.deliver(&items).await;
    for o in &outcomes {
        match o {
            Outcome::Retry { reason, after } => {
                assert!(reason.contains("503"), "{reason}");
                assert_eq!(*after, Some(Duration::from_secs(7)));
            }
            other => panic!("expected a retry, got {other:?}"),
        }
    }
    fake.with(|c| c.next_status.push_back((429, None)));
    assert!(matches!(
        sink.deliver(&items).await[0],
        Outcome::Retry { .. }
    ));
    fake.with(|c| c.next_status.push_back((401, None)));
    match &sink.deliver(&items).await[1] {
        Outcome::Retry { reason, .. } => assert!(reason.contains("auth"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    fake.with(|c| c.next_status.push_back((400, None)));
    match &sink.deliver(&items).await[0] {
        Outcome::Reject { reason } => {
            assert!(reason.contains("illegal_argument_exception"), "{reason}")
        }
        other => panic!("expected a rejection, got {other:?}"),
    }

    // Too large for the cluster: halves, then quarters, until each part fits.
    let one = bulk_size(&[transition(9)]);
    fake.with(|c| c.max_body = Some(one * 2 + 10));
    let many: Vec<Item> = (10..16).map(transition).collect();
    let before = fake.seen().len();
    assert_eq!(sink.deliver(&many).await, vec![Outcome::Delivered; 6]);
    let answers: Vec<(u16, usize)> = fake.seen()[before..]
        .iter()
        .map(|s| (s.status, s.statuses.len()))
        .collect();
    // 6 too many; 3 too many; 1 and 2 fit; the other 3 too many; 1 and 2 fit.
    assert_eq!(
        answers,
        [
            (413, 0),
            (413, 0),
            (200, 1),
            (200, 2),
            (413, 0),
            (200, 1),
            (200, 2)
        ]
    );
    for i in 10..16 {
        assert!(fake
            .doc("switchboard-transition-2024.01.02", &format!("key-{i}"))
            .is_some());
    }
    // A document too large on its own is rejected.
    fake.with(|c| c.max_body = Some(one / 2));
    match &sink.deliver(&[transition(20)]).await[0] {
        Outcome::Reject { reason } => assert!(reason.contains("413"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
}

/// The size of the `_bulk` body for `items` (as the sink writes it).
fn bulk_size(items: &[Item]) -> usize {
    let docs: Vec<_> = items
        .iter()
        .map(|i| switchboard_io::sinks::opensearch::bulk::doc("switchboard", i).unwrap())
        .collect();
    let refs: Vec<_> = docs.iter().collect();
    switchboard_io::sinks::opensearch::bulk::request_body(&refs).len()
}

#[tokio::test]
async fn a_failed_template_holds_the_documents_back() {
    let fake = Fake::start().await;
    let sink = config(&fake).build("kibana").await.unwrap();
    fake.with(|c| c.next_status.push_back((403, None)));
    match &sink.deliver(&[transition(1)]).await[0] {
        Outcome::Retry { reason, .. } => {
            assert!(reason.contains("index template"), "{reason}");
            assert!(reason.contains("403"), "{reason}");
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    assert!(
        fake.with(|c| c.indexes.is_empty()),
        "nothing indexed without mappings"
    );
    assert_eq!(
        sink.deliver(&[transition(1)]).await,
        vec![Outcome::Delivered]
    );
    let methods: Vec<&str> = fake.seen().iter().map(|s| s.method).collect();
    assert_eq!(methods, ["PUT", "PUT", "POST"]);

    // With `template = false` nothing is installed.
    let plain = Fake::start().await;
    let sink = OpenSearchConfig {
        template: false,
        ..config(&plain)
    }
    .build("kibana")
    .await
    .unwrap();
    assert_eq!(
        sink.deliver(&[transition(1)]).await,
        vec![Outcome::Delivered]
    );
    assert!(plain.with(|c| c.templates.is_empty()));
}

#[tokio::test]
async fn slow_and_unreachable_clusters_are_retried() {
    let fake = Fake::start().await;
    let sink = OpenSearchConfig {
        timeout_secs: 1,
        template: false,
        ..config(&fake)
    }
    .build("kibana")
    .await
    .unwrap();
    fake.with(|c| c.delay = Some(Duration::from_secs(3)));
    match &sink.deliver(&[transition(1)]).await[0] {
        Outcome::Retry { reason, .. } => assert!(reason.contains("timed out"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
    let closed = support::free_port();
    let sink = OpenSearchConfig {
        url: format!("http://127.0.0.1:{closed}"),
        ..config(&fake)
    }
    .build("kibana")
    .await
    .unwrap();
    match &sink.deliver(&[transition(1)]).await[0] {
        Outcome::Retry { reason, .. } => assert!(reason.contains("cannot connect"), "{reason}"),
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn basic_auth_sends_the_password_from_its_variable() {
    let fake = Fake::start().await;
    let var = "SWITCHBOARD_TEST_OPENSEARCH_PASSWORD";
    std::env::set_var(var, "s3cret:with colon");
    let c = OpenSearchConfig {
        auth: OpenSearchAuth::Basic {
            username: "elastic".into(),
            password_env: var.into(),
        },
        ..config(&fake)
    };
    let sink = c.build("kibana").await.unwrap();
    assert_eq!(
        sink.deliver(&[transition(1)]).await,
        vec![Outcome::Delivered]
    );
    let seen = fake.seen();
    assert_eq!(seen.len(), 2);
    for s in &seen {
        // base64("elastic:s3cret:with colon")
        assert_eq!(
            s.headers["authorization"].to_str().unwrap(),
            "Basic ZWxhc3RpYzpzM2NyZXQ6d2l0aCBjb2xvbg=="
        );
    }
    let unset = OpenSearchConfig {
        auth: OpenSearchAuth::Basic {
            username: "elastic".into(),
            password_env: "SWITCHBOARD_TEST_UNSET_PASSWORD".into(),
        },
        ..config(&fake)
    };
    let e = unset.build("kibana").await.err().unwrap();
    assert!(
        e.to_string().contains("SWITCHBOARD_TEST_UNSET_PASSWORD"),
        "{e}"
    );
}

/// Recomputes the SigV4 `Authorization` of a request the fake saw, from its method, path,
/// `host`, `content-type`, `x-amz-date` and body as they came over the wire.
fn expected_signature(seen: &Seen, service: &str, key: &str, secret: &str) -> String {
    use aws_sigv4::http_request::{
        sign, PayloadChecksumKind, SignableBody, SignableRequest, SigningSettings,
    };
    let header = |n: &str| seen.headers[n].to_str().unwrap().to_owned();
    let date = header("x-amz-date");
    let at = Timestamp::parse(&format!(
        "{}-{}-{}T{}:{}:{}Z",
        &date[0..4],
        &date[4..6],
        &date[6..8],
        &date[9..11],
        &date[11..13],
        &date[13..15]
    ))
    .unwrap();
    let time = SystemTime::UNIX_EPOCH + Duration::from_millis(at.millis() as u64);
    let identity = aws_credential_types::Credentials::new(key, secret, None, None, "test").into();
    let mut settings = SigningSettings::default();
    settings.payload_checksum_kind = PayloadChecksumKind::XAmzSha256;
    let params = aws_sigv4::sign::v4::SigningParams::builder()
        .identity(&identity)
        .region("us-east-1")
        .name(service)
        .time(time)
        .settings(settings)
        .build()
        .unwrap()
        .into();
    let url = format!("http://{}{}", header("host"), seen.path);
    let content_type = header("content-type");
    let request = SignableRequest::new(
        seen.method,
        url,
        [("content-type", content_type.as_str())].into_iter(),
        SignableBody::Bytes(&seen.body),
    )
    .unwrap();
    let (instructions, _) = sign(request, &params).unwrap().into_parts();
    let (headers, _) = instructions.into_parts();
    headers
        .iter()
        .find(|h| h.name() == "authorization")
        .unwrap()
        .value()
        .to_owned()
}

#[tokio::test]
async fn sigv4_signs_every_request() {
    let (key, secret) = ("AKIDSWITCHBOARDTEST", "switchboard/test/secret/key");
    std::env::set_var("AWS_ACCESS_KEY_ID", key);
    std::env::set_var("AWS_SECRET_ACCESS_KEY", secret);
    std::env::remove_var("AWS_SESSION_TOKEN");
    std::env::remove_var("AWS_PROFILE");
    for service in [SigV4Service::Es, SigV4Service::Aoss] {
        let fake = Fake::start().await;
        let c = OpenSearchConfig {
            auth: OpenSearchAuth::AwsSigv4 {
                region: Some("us-east-1".into()),
                service,
                profile: None,
            },
            ..config(&fake)
        };
        let sink = c.build("kibana").await.unwrap();
        assert_eq!(
            sink.deliver(&[transition(1), ctr_item(2, "2022-04-08T15:03:02Z", "x")])
                .await,
            vec![Outcome::Delivered; 2]
        );
        let seen = fake.seen();
        assert_eq!(seen.len(), 2);
        for s in &seen {
            let auth = s.headers["authorization"].to_str().unwrap();
            let scope = format!("/us-east-1/{}/aws4_request", service.as_str());
            assert!(
                auth.starts_with(&format!("AWS4-HMAC-SHA256 Credential={key}/")),
                "{auth}"
            );
            assert!(auth.contains(&scope), "{auth}");
            assert!(
                auth.contains("SignedHeaders=content-type;host;x-amz-content-sha256;x-amz-date"),
                "{auth}"
            );
            let sha = s.headers["x-amz-content-sha256"].to_str().unwrap();
            assert_eq!(sha.len(), 64, "{sha}");
            // The signature matches the request exactly as it arrived.
            assert_eq!(
                auth,
                expected_signature(s, service.as_str(), key, secret),
                "{} {}",
                s.method,
                s.path
            );
        }
    }
}
