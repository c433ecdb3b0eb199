//! The PostgreSQL sink against a real server (`SWITCHBOARD_TEST_PG_URL`): contact records
//! upserted by ContactId with the newest `LastUpdateTimestamp` winning, transitions
//! written once however often they are delivered, metric intervals and events, a row the
//! server refuses rejected alone, a dropped connection reconnected, an unreachable server
//! retried, and tables checked rather than created when `create_tables` is off.
//!
//! Each test works in a schema of its own. A test whose server variable is missing fails
//! when `SWITCHBOARD_REQUIRE_SERVERS=1` or `CI` is set, and is skipped with a note
//! otherwise (`bash scripts/test.sh` starts the server and sets the variable).

mod support;

use bytes::Bytes;
use serde_json::{json, Value};
use switchboard_io::sinks::postgres::{schema, PostgresSinkConfig};
use switchboard_io::sinks::{Item, ItemKind, Outcome, Sink};
use tokio_postgres::Client;

use support::{ms, pg_connect, pg_url, sample_ctr, unique_name};

/// A schema name of the test's own, dropped by [`Db::drop_schema`].
struct Db {
    admin: Client,
    schema: String,
    url: String,
}

impl Db {
    async fn new(url: &str) -> Db {
        Db {
            admin: pg_connect(url).await,
            schema: unique_name("sb_sink"),
            url: url.to_owned(),
        }
    }

    fn config(&self) -> PostgresSinkConfig {
        PostgresSinkConfig {
            url: Some(self.url.clone()),
            url_env: None,
            schema: self.schema.clone(),
            create_tables: true,
            max_items: 1000,
            timeout_secs: 30,
        }
    }

    async fn query(&self, sql: &str) -> Vec<tokio_postgres::Row> {
        let sql = sql.replace("{s}", &format!("\"{}\"", self.schema));
        self.admin
            .query(&sql, &[])
            .await
            .unwrap_or_else(|e| panic!("{sql}: {e}"))
    }

    async fn count(&self, table: &str) -> i64 {
        self.query(&format!("SELECT count(*) FROM {{s}}.{table}"))
            .await[0]
            .get(0)
    }

    async fn drop_schema(self) {
        self.admin
            .batch_execute(&format!(
                "DROP SCHEMA IF EXISTS \"{}\" CASCADE",
                self.schema
            ))
            .await
            .expect("drop the test schema");
    }
}

fn item(id: i64, kind: ItemKind, key: &str, payload: impl Into<Bytes>, event_ms: i64) -> Item {
    Item {
        id,
        rule: "bi".into(),
        sink: "bi".into(),
        key: key.into(),
        kind,
        payload: payload.into(),
        event_ms,
        created_ms: 1_700_000_000_000 + id,
        attempts: 0,
    }
}

fn ctr_item(id: i64, last_update: &str, marker: &str) -> Item {
    item(
        id,
        ItemKind::Record,
        &format!("ctr-{id}"),
        sample_ctr(last_update, marker),
        ms(last_update),
    )
}

const CONTACT: &str = "15a5cf14-3212-45a1-9f86-a8e97db8afaf";

#[tokio::test]
async fn contact_records_upsert_and_the_newest_copy_wins() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    let sink = db.config().build("bi").await.unwrap();

    let v2 = ctr_item(1, "2022-04-08T15:03:02Z", "second");
    assert_eq!(sink.deliver(&[v2]).await, [Outcome::Delivered]);
    let rows = db
        .query(&format!(
            "SELECT last_update_timestamp::text, initiation_timestamp::text,
                    disconnect_timestamp::text, channel, queue, agent_username,
                    initiation_method, disconnect_reason, customer_endpoint, system_endpoint,
                    interaction_s, handle_s, hold_s, acw_s, queue_s, attributes->>'marker',
                    record->'Agent'->>'Username'
             FROM {{s}}.contact_records WHERE contact_id = '{CONTACT}'"
        ))
        .await;
    let r = &rows[0];
    assert_eq!(r.get::<_, String>(0), "2022-04-08 15:03:02+00");
    assert_eq!(r.get::<_, String>(1), "2022-04-08 14:59:38+00");
    assert_eq!(r.get::<_, String>(2), "2022-04-08 15:01:22+00");
    let texts: Vec<Option<String>> = (3..10).map(|i| r.get(i)).collect();
    assert_eq!(
        texts,
        [
            Some("VOICE"),
            Some("BasicQueue"),
            Some("admin1"),
            Some("INBOUND"),
            Some("CUSTOMER_DISCONNECT"),
            Some("+17208401003"),
            Some("+14065003978"),
        ]
        .map(|s| s.map(str::to_owned))
    );
    let numbers: Vec<Option<i64>> = (10..15).map(|i| r.get(i)).collect();
    assert_eq!(numbers, [Some(33), Some(65), Some(0), Some(32), Some(7)]);
    assert_eq!(r.get::<_, String>(15), "second");
    assert_eq!(r.get::<_, String>(16), "admin1");

    // An older copy arrives late: delivered, but the row keeps the newer one.
    let v1 = ctr_item(2, "2022-04-08T15:02:00Z", "first");
    assert_eq!(sink.deliver(&[v1]).await, [Outcome::Delivered]);
    let marker = "SELECT attributes->>'marker', last_update_timestamp::text
                  FROM {s}.contact_records";
    let rows = db.query(marker).await;
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].get::<_, String>(0), "second");

    // An equal copy re-applies; a newer one replaces.
    let again = ctr_item(3, "2022-04-08T15:03:02Z", "second again");
    assert_eq!(sink.deliver(&[again]).await, [Outcome::Delivered]);
    assert_eq!(
        db.query(marker).await[0].get::<_, String>(0),
        "second again"
    );
    let v3 = ctr_item(4, "2022-04-09T08:00:00Z", "third");
    assert_eq!(sink.deliver(&[v3]).await, [Outcome::Delivered]);
    let rows = db.query(marker).await;
    assert_eq!(rows[0].get::<_, String>(0), "third");
    assert_eq!(rows[0].get::<_, String>(1), "2022-04-09 08:00:00+00");

    // Newer and older copies in one batch (one statement): the newest wins, in either
    // order.
    let batch = [
        ctr_item(5, "2022-04-10T00:00:00Z", "batch newest"),
        ctr_item(6, "2022-04-09T12:00:00Z", "batch older"),
    ];
    assert_eq!(sink.deliver(&batch).await, vec![Outcome::Delivered; 2]);
    assert_eq!(
        db.query(marker).await[0].get::<_, String>(0),
        "batch newest"
    );
    assert_eq!(db.count("contact_records").await, 1);

    // A contact_record_ready carries the record too; its trigger goes to events.
    let ready = format!(
        r#"{{"type":"contact_record_ready","contact_id":"{CONTACT}","at":"2022-04-11T00:00:00.000Z","record":{}}}"#,
        sample_ctr("2022-04-11T00:00:00Z", "from the trigger")
    );
    let ready = item(7, ItemKind::ContactRecordReady, "ready-7", ready, 0);
    assert_eq!(sink.deliver(&[ready]).await, [Outcome::Delivered]);
    assert_eq!(
        db.query(marker).await[0].get::<_, String>(0),
        "from the trigger"
    );
    let events = db
        .query("SELECT kind, payload->'record'->>'ContactId' FROM {s}.events")
        .await;
    assert_eq!(events[0].get::<_, String>(0), "contact_record_ready");
    assert_eq!(events[0].get::<_, String>(1), CONTACT);
    db.drop_schema().await;
}

fn transition(kind: &str, at: &str, extra: Value) -> String {
    let mut t = json!({"type": kind, "agent_arn": "arn:aws:connect:us-east-1:1:instance/i/agent/a",
                       "username": "ana", "at": at});
    if let (Some(t), Value::Object(extra)) = (t.as_object_mut(), extra) {
        t.extend(extra);
    }
    t.to_string()
}

#[tokio::test]
async fn transitions_are_written_once() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    let sink = db.config().build("bi").await.unwrap();
    let items = vec![
        item(
            1,
            ItemKind::Transition,
            "t-1",
            transition(
                "agent_status_changed",
                "2024-01-02T03:04:05.120Z",
                json!({"from": "Offline", "to": "Available"}),
            ),
            ms("2024-01-02T03:04:05.120Z"),
        ),
        item(
            2,
            ItemKind::Transition,
            "t-2",
            transition(
                "hold_ended",
                "2024-01-02T03:10:00.000Z",
                json!({"duration_ms": 12_500, "contact_id": "c-9", "queue": "Sales",
                       "channel": "VOICE"}),
            ),
            ms("2024-01-02T03:10:00.000Z"),
        ),
    ];
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 2]);
    assert_eq!(sink.deliver(&items).await, vec![Outcome::Delivered; 2]);
    assert_eq!(sink.deliver(&items[1..]).await, [Outcome::Delivered]);
    assert_eq!(db.count("transitions").await, 2);
    let rows = db
        .query(
            "SELECT key, kind, from_state, to_state, at::text, duration_s, contact_id, queue,
                    channel, username, record->>'type'
             FROM {s}.transitions ORDER BY key",
        )
        .await;
    assert_eq!(rows[0].get::<_, String>(1), "agent_status_changed");
    assert_eq!(
        rows[0].get::<_, Option<String>>(2).as_deref(),
        Some("Offline")
    );
    assert_eq!(
        rows[0].get::<_, Option<String>>(3).as_deref(),
        Some("Available")
    );
    assert_eq!(rows[0].get::<_, String>(4), "2024-01-02 03:04:05.12+00");
    assert_eq!(rows[0].get::<_, Option<f64>>(5), None);
    assert_eq!(rows[1].get::<_, Option<f64>>(5), Some(12.5));
    assert_eq!(rows[1].get::<_, Option<String>>(6).as_deref(), Some("c-9"));
    assert_eq!(
        rows[1].get::<_, Option<String>>(7).as_deref(),
        Some("Sales")
    );
    assert_eq!(
        rows[1].get::<_, Option<String>>(8).as_deref(),
        Some("VOICE")
    );
    assert_eq!(rows[1].get::<_, Option<String>>(9).as_deref(), Some("ana"));
    assert_eq!(rows[1].get::<_, String>(10), "hold_ended");
    db.drop_schema().await;
}

#[tokio::test]
async fn metric_intervals_and_events() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    let sink = db.config().build("bi").await.unwrap();
    let interval = |offered: i64| {
        json!({
            "interval_start": "2024-01-02T03:00:00.000Z",
            "interval_end": "2024-01-02T03:15:00.000Z",
            "rows": [
                {"dimension": "queue", "id": "Sales", "cell": {"offered": offered, "handled": 2}},
                {"dimension": "agent", "id": "arn:a", "cell": {"handled": 2, "handle_s": 300}},
            ]
        })
        .to_string()
    };
    let start = ms("2024-01-02T03:00:00.000Z");
    let first = item(1, ItemKind::MetricInterval, "m-1", interval(3), start);
    let alert = item(
        2,
        ItemKind::AlertRaised,
        "a-1",
        r#"{"event":"raised","alert":{"id":"x","kind":"long_hold","subject":"arn:a"}}"#,
        ms("2024-01-02T03:05:00Z"),
    );
    let agent_event = std::fs::read(support::sample("agent-event-heartbeat.json")).unwrap();
    let agent_event = item(3, ItemKind::Record, "r-1", agent_event, 0);
    assert_eq!(
        sink.deliver(&[first, alert, agent_event]).await,
        vec![Outcome::Delivered; 3]
    );
    // The interval routed again later (more data): its rows are replaced.
    let later = item(9, ItemKind::MetricInterval, "m-2", interval(5), start);
    assert_eq!(sink.deliver(&[later]).await, [Outcome::Delivered]);
    // An earlier routing arriving after it does not go back.
    let stale = item(4, ItemKind::MetricInterval, "m-0", interval(1), start);
    assert_eq!(sink.deliver(&[stale]).await, [Outcome::Delivered]);
    let rows = db
        .query(
            "SELECT dimension, name, (cells->>'offered')::int, key, interval_start::text,
                    interval_end::text
             FROM {s}.metric_intervals ORDER BY dimension",
        )
        .await;
    assert_eq!(rows.len(), 2);
    assert_eq!(rows[1].get::<_, String>(0), "queue");
    assert_eq!(rows[1].get::<_, String>(1), "Sales");
    assert_eq!(rows[1].get::<_, Option<i32>>(2), Some(5));
    assert_eq!(rows[1].get::<_, String>(3), "m-2");
    assert_eq!(rows[1].get::<_, String>(4), "2024-01-02 03:00:00+00");
    assert_eq!(rows[1].get::<_, String>(5), "2024-01-02 03:15:00+00");
    let events = db
        .query("SELECT key, kind, stream, rule, at::text FROM {s}.events ORDER BY key")
        .await;
    let events: Vec<(String, String, Option<String>, String)> = events
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2), r.get(3)))
        .collect();
    assert_eq!(
        events,
        [
            ("a-1".into(), "alert_raised".into(), None, "bi".into()),
            (
                "r-1".into(),
                "record".into(),
                Some("agent_event".into()),
                "bi".into()
            ),
        ]
    );
    db.drop_schema().await;
}

#[tokio::test]
async fn a_refused_row_is_rejected_alone() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    let sink = db.config().build("bi").await.unwrap();
    // `\u0000` is valid JSON that jsonb cannot hold: the server refuses that row only.
    let nul = sample_ctr("2022-04-08T15:03:02Z", "has \u{0000} in it");
    assert!(nul.contains("\\u0000"));
    let items = vec![
        item(1, ItemKind::AlertRaised, "a-1", r#"{"event":"raised"}"#, 0),
        item(2, ItemKind::Record, "bad-ctr", nul, 0),
        item(3, ItemKind::Record, "not-json", "{not json", 0),
        item(
            4,
            ItemKind::Transition,
            "t-1",
            transition("acw_started", "2024-01-02T03:04:05.000Z", json!({})),
            0,
        ),
    ];
    let outcomes = sink.deliver(&items).await;
    assert_eq!(outcomes[0], Outcome::Delivered);
    match &outcomes[1] {
        Outcome::Reject { reason } => assert!(reason.contains("SQLSTATE 22"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    match &outcomes[2] {
        Outcome::Reject { reason } => assert!(reason.contains("not JSON"), "{reason}"),
        other => panic!("expected a rejection, got {other:?}"),
    }
    assert_eq!(outcomes[3], Outcome::Delivered);
    assert_eq!(db.count("events").await, 1);
    assert_eq!(db.count("transitions").await, 1);
    assert_eq!(db.count("contact_records").await, 0);
    db.drop_schema().await;
}

#[tokio::test]
async fn a_dropped_connection_is_replaced() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    let name = unique_name("bi");
    let sink = db.config().build(&name).await.unwrap();
    let t = |id: i64| {
        item(
            id,
            ItemKind::Transition,
            &format!("t-{id}"),
            transition("acw_started", "2024-01-02T03:04:05.000Z", json!({})),
            0,
        )
    };
    assert_eq!(sink.deliver(&[t(1)]).await, [Outcome::Delivered]);
    let killed = db
        .admin
        .query(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1",
            &[&format!("switchboard sink {name}")],
        )
        .await
        .unwrap();
    assert_eq!(
        killed.len(),
        1,
        "the sink's connection is found by its name"
    );
    // The next batch may find out about the drop the hard way (then it is retried), and
    // the one after connects again.
    let mut outcome = sink.deliver(&[t(2)]).await;
    if let [Outcome::Retry { .. }] = outcome.as_slice() {
        outcome = sink.deliver(&[t(2)]).await;
    }
    assert_eq!(outcome, [Outcome::Delivered]);
    assert_eq!(db.count("transitions").await, 2);
    db.drop_schema().await;
}

#[tokio::test]
async fn an_unreachable_server_is_retried() {
    let port = support::free_port();
    let c = PostgresSinkConfig {
        url: Some(format!("postgres://switchboard@127.0.0.1:{port}/nothing")),
        url_env: None,
        timeout_secs: 5,
        ..PostgresSinkConfig::example()
    };
    let sink = c.build("bi").await.unwrap();
    let items = [item(1, ItemKind::AlertRaised, "a", "{}", 0)];
    match &sink.deliver(&items).await[0] {
        Outcome::Retry { reason, .. } => {
            assert!(reason.contains("cannot connect"), "{reason}")
        }
        other => panic!("expected a retry, got {other:?}"),
    }
}

#[tokio::test]
async fn without_create_tables_the_tables_are_checked() {
    let Some(url) = pg_url() else { return };
    let db = Db::new(&url).await;
    db.admin
        .batch_execute(&format!("CREATE SCHEMA \"{}\"", db.schema))
        .await
        .unwrap();
    let config = PostgresSinkConfig {
        create_tables: false,
        ..db.config()
    };
    let sink = config.build("bi").await.unwrap();
    let items = [item(1, ItemKind::AlertRaised, "a", "{}", 0)];
    match &sink.deliver(&items).await[0] {
        Outcome::Retry { reason, .. } => {
            assert!(reason.contains("contact_records, transitions"), "{reason}")
        }
        other => panic!("expected a retry, got {other:?}"),
    }
    // A DBA runs the documented SQL in the schema: the sink then writes.
    db.admin
        .batch_execute(&format!(
            "SET search_path TO \"{}\"; {}; RESET search_path;",
            db.schema,
            schema::SQL
        ))
        .await
        .unwrap();
    assert_eq!(sink.deliver(&items).await, [Outcome::Delivered]);
    assert_eq!(db.count("events").await, 1);
    db.drop_schema().await;
}
