//! The store test suite, run on every backend: each test takes a function that opens a
//! fresh, empty store, and checks behaviour through the [`Store`] trait only, so SQLite
//! and PostgreSQL are held to the same semantics. `sqlite/tests.rs` and
//! `postgres/tests.rs` instantiate it with [`store_suite!`](crate::store_suite) and add
//! what only their backend has. The outbox's tests are in [`outbox`].

use std::collections::BTreeMap;

use serde_json::json;
use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{
    Alert, AlertEvent, AlertKind, Changes, ContactTimeline, Engine, EngineConfig, EngineMeta,
    Interval, MetricCell, MetricKey, Trigger, TriggerKind,
};
use switchboard_model::{ContactRecord, Record, Timestamp};

use crate::{
    AgentFilter, Batch, ContactFilter, MetricQuery, Positions, Pruned, Retention, Store,
    TransitionFilter,
};

mod outbox;
pub use outbox::*;

/// A fresh store and whatever keeps it alive (a temporary folder, a schema to drop).
pub struct Fresh {
    pub store: Box<dyn Store>,
    pub _guard: Box<dyn std::any::Any>,
}

/// Opens a fresh, empty store.
pub type Open = fn() -> Fresh;

/// Instantiates every test of the suite for a backend, as `#[test]`s in the calling
/// module, each opening its store with `$open`.
#[macro_export]
macro_rules! store_suite {
    ($open:expr) => {
        $crate::store_suite!(@tests $open;
            empty_store_loads_nothing,
            load_restores_what_was_committed,
            load_reads_only_live_contacts,
            prune_removes_what_retention_no_longer_keeps_in_small_batches,
            table_stats_count_rows_and_bytes,
            indexed_columns_and_queries_follow_the_json,
            one_agent_by_arn,
            metric_deltas_add_up_and_longest_wait_is_a_maximum,
            newest_contact_record_wins_whatever_the_order,
            alerts_upsert_and_triggers_are_kept_once,
            dump_is_canonical_and_sees_every_table,
            contact_rows_update_in_place,
            positions_move_and_others_keep_their_value,
            outbox_entries_commit_with_the_batch_and_claim_in_order,
            outbox_keys_are_queued_once_per_sink,
            outbox_claim_respects_max_items_and_max_bytes,
            outbox_claim_respects_not_before_and_live_claims,
            outbox_claim_mixes_due_retries_and_fresh_rows_by_age,
            outbox_retry_counts_an_attempt_and_releases_the_claim,
            outbox_delivered_rows_leave,
            outbox_dead_deletes_and_inserts_in_one_transaction,
            outbox_release_gives_claims_back_without_an_attempt,
            outbox_depth_and_len_count_per_sink,
            outbox_failed_commit_leaves_no_rows,
            outbox_nul_characters_are_stored_alike,
        );
    };
    (@tests $open:expr; $($name:ident),* $(,)?) => {
        $(
            #[test]
            fn $name() {
                $crate::suite::$name($open);
            }
        )*
    };
}

pub fn ts(s: &str) -> Timestamp {
    Timestamp::parse(s).unwrap()
}

pub const AGENT: &str = "arn:aws:connect:us-east-1:123456789012:instance/i-1/agent/a-1";
const QUEUE_ARN: &str = "arn:aws:connect:us-east-1:123456789012:instance/i-1/queue/q-1";

pub fn snapshot(status: &str, contact: Option<(&str, &str)>) -> serde_json::Value {
    let contacts: Vec<_> = contact
        .into_iter()
        .map(|(id, state)| {
            json!({"ContactId": id, "Channel": "VOICE", "InitiationMethod": "INBOUND",
                   "State": state, "StateStartTimestamp": "2026-01-05T09:00:05.000Z",
                   "Queue": {"ARN": QUEUE_ARN, "Name": "Sales"}})
        })
        .collect();
    json!({
        "AgentStatus": {"ARN": "arn:status", "Name": status, "StartTimestamp": "2026-01-05T08:00:00.000Z"},
        "Configuration": {"Username": "jdoe", "FirstName": "J", "LastName": "Doe",
            "RoutingProfile": {"ARN": "arn:rp", "Name": "Basic",
                "InboundQueues": [{"ARN": QUEUE_ARN, "Name": "Sales"}]}},
        "Contacts": contacts,
    })
}

pub fn agent_event(
    id: &str,
    at: &str,
    kind: &str,
    prev: serde_json::Value,
    cur: serde_json::Value,
) -> Record {
    let v = json!({
        "AWSAccountId": "123456789012", "AgentARN": AGENT, "EventId": id,
        "EventTimestamp": at, "EventType": kind, "InstanceARN": "arn:i",
        "PreviousAgentSnapshot": prev, "CurrentAgentSnapshot": cur, "Version": "2019-05-25",
    });
    Record::AgentEvent(Box::new(serde_json::from_value(v).unwrap()))
}

pub fn contact_record(id: &str, updated: &str, attr: &str) -> ContactRecord {
    serde_json::from_value(json!({
        "AWSAccountId": "123456789012", "AWSContactTraceRecordFormatVersion": "2017-03-10",
        "Channel": "VOICE", "ContactId": id, "InitiationMethod": "INBOUND",
        "InitiationTimestamp": "2026-01-05T09:00:00Z", "InstanceARN": "arn:i",
        "LastUpdateTimestamp": updated, "DisconnectTimestamp": "2026-01-05T09:05:00Z",
        "Attributes": {"intent": attr},
        "Queue": {"ARN": QUEUE_ARN, "Name": "Sales", "EnqueueTimestamp": "2026-01-05T09:00:02Z",
                  "DequeueTimestamp": "2026-01-05T09:00:05Z", "Duration": 3},
        "Agent": {"ARN": AGENT, "Username": "jdoe", "ConnectedToAgentTimestamp": "2026-01-05T09:00:05Z",
                  "AgentInteractionDuration": 200, "CustomerHoldDuration": 10,
                  "NumberOfHolds": 1, "AfterContactWorkDuration": 30},
    }))
    .unwrap()
}

/// A contact record as the engine hands it to the store (with its bytes).
pub fn accepted(id: &str, updated: &str, attr: &str) -> switchboard_engine::AcceptedRecord {
    let record = contact_record(id, updated, attr);
    switchboard_engine::AcceptedRecord {
        contact_id: record.contact_id.clone(),
        last_update_timestamp: record.last_update_timestamp,
        raw: serde_json::to_vec(&record).unwrap().into(),
    }
}

/// A small day: login, a call connected then ended, its record, a re-delivery.
pub fn day() -> Vec<Record> {
    vec![
        agent_event(
            "e1",
            "2026-01-05T08:00:00.000Z",
            "LOGIN",
            json!(null),
            snapshot("Available", None),
        ),
        agent_event(
            "e2",
            "2026-01-05T09:00:05.000Z",
            "STATE_CHANGE",
            snapshot("Available", None),
            snapshot("Available", Some(("c-1", "CONNECTED"))),
        ),
        agent_event(
            "e3",
            "2026-01-05T09:05:00.000Z",
            "STATE_CHANGE",
            snapshot("Available", Some(("c-1", "CONNECTED"))),
            snapshot("Available", Some(("c-1", "ENDED"))),
        ),
        Record::ContactRecord(Box::new(contact_record("c-1", "2026-01-05T09:06:00Z", "a"))),
        Record::ContactRecord(Box::new(contact_record("c-1", "2026-01-05T09:06:00Z", "a"))),
    ]
}

/// Applies [`day`].
pub fn feed(engine: &mut Engine) {
    for r in &day() {
        engine.apply(r);
    }
}

pub fn commit_engine(store: &mut dyn Store, engine: &mut Engine, positions: &Positions) {
    let changes = engine.take_changes();
    store
        .commit(&Batch::new(engine, &changes, positions))
        .unwrap();
}

pub fn empty_batch<'a>(
    changes: &'a Changes,
    meta: &'a EngineMeta,
    pos: &'a Positions,
) -> Batch<'a> {
    Batch {
        changes,
        agents: vec![],
        contacts: vec![],
        meta,
        positions: pos,
        outbox: &[],
    }
}

/// The rows of one table in a dump.
pub fn dump_rows<'d>(dump: &'d str, table: &str) -> Vec<&'d str> {
    let header = format!("## {table} (");
    dump.lines()
        .skip_while(|l| !l.starts_with(&header))
        .skip(1)
        .take_while(|l| !l.starts_with("## "))
        .collect()
}

pub fn empty_store_loads_nothing(open: Open) {
    let f = open();
    let loaded = f.store.load().unwrap();
    assert!(loaded.meta.is_none());
    assert!(loaded.agents.is_empty() && loaded.contacts.is_empty());
    assert!(loaded.positions.is_empty());
    assert!(f.store.agent(AGENT).unwrap().is_none());
}

pub fn load_restores_what_was_committed(open: Open) {
    let mut f = open();
    let mut engine = Engine::new(EngineConfig::default());
    feed(&mut engine);
    let positions = Positions::from([("a.ndjson".to_owned(), "done".to_owned())]);
    commit_engine(f.store.as_mut(), &mut engine, &positions);

    let loaded = f.store.load().unwrap();
    assert_eq!(loaded.positions, positions);
    assert_eq!(loaded.agents.len(), 1);
    assert_eq!(&loaded.agents[0], engine.agent(AGENT).unwrap());
    // c-1 ended: not loaded, but read back by id when a record names it.
    assert!(loaded.contacts.is_empty());
    let c1 = f.store.contact_timeline("c-1").unwrap().unwrap();
    assert_eq!(&c1, engine.contact("c-1").unwrap());
    assert!(f.store.contact_timeline("c-404").unwrap().is_none());
    let meta = loaded.meta.unwrap();
    assert_eq!(meta.counters, engine.counters());
    assert_eq!(meta.counters.duplicates, 1);

    // A restored engine goes on exactly like the original: the same event is a duplicate.
    let mut restored = Engine::restore(
        EngineConfig::default(),
        loaded.agents,
        loaded.contacts,
        meta,
    );
    let again_missing =
        Record::ContactRecord(Box::new(contact_record("c-1", "2026-01-05T09:06:00Z", "a")));
    let bytes = serde_json::to_vec(&again_missing).unwrap();
    let view = switchboard_model::RecordView::parse(again_missing.kind(), true, &bytes).unwrap();
    assert_eq!(restored.missing_contacts(&view), vec!["c-1".to_owned()]);
    restored.insert_contact(c1);
    let again = Record::ContactRecord(Box::new(contact_record("c-1", "2026-01-05T09:06:00Z", "a")));
    assert_eq!(restored.apply(&again), engine.apply(&again));
}

pub fn load_reads_only_live_contacts(open: Open) {
    let mut f = open();
    let mut engine = Engine::new(EngineConfig::default());
    // c-1 is connected (live) after the first two events.
    for r in &day()[..2] {
        engine.apply(r);
    }
    commit_engine(f.store.as_mut(), &mut engine, &Positions::new());
    let loaded = f.store.load().unwrap();
    assert_eq!(loaded.contacts.len(), 1);
    assert_eq!(&loaded.contacts[0], engine.contact("c-1").unwrap());
    // Once it ended, a restart no longer brings it into memory.
    for r in &day()[2..] {
        engine.apply(r);
    }
    commit_engine(f.store.as_mut(), &mut engine, &Positions::new());
    assert!(f.store.load().unwrap().contacts.is_empty());
    assert_eq!(
        f.store.contact_timeline("c-1").unwrap().as_ref(),
        engine.contact("c-1")
    );
}

/// [`day`], then a second call (c-2) still connected, and two alerts, one cleared.
fn day_with_live_contact_and_alerts(store: &mut dyn Store) {
    let mut engine = Engine::new(EngineConfig::default());
    feed(&mut engine);
    engine.apply(&agent_event(
        "e4",
        "2026-01-05T09:10:00.000Z",
        "STATE_CHANGE",
        snapshot("Available", None),
        snapshot("Available", Some(("c-2", "CONNECTED"))),
    ));
    let mut changes = engine.take_changes();
    changes.alerts = vec![alert("a1", Some("2026-01-05T09:03:00Z")), alert("a2", None)];
    store
        .commit(&Batch::new(&engine, &changes, &Positions::new()))
        .unwrap();
}

pub fn prune_removes_what_retention_no_longer_keeps_in_small_batches(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    day_with_live_contact_and_alerts(store);
    let day = Retention {
        transitions_days: 1,
        contacts_days: 1,
        triggers_days: 1,
        alerts_days: 1,
        metric_cells_days: 1,
    };
    // Time is passed in: nothing is older than a day on the next morning, and nothing
    // goes at all when everything is kept forever.
    let next_morning = ts("2026-01-06T07:00:00Z").millis();
    assert_eq!(
        store.prune(next_morning, &day, 2).unwrap(),
        Pruned::default()
    );
    let week_later = ts("2026-01-12T00:00:00Z").millis();
    assert_eq!(
        store.prune(week_later, &Retention::forever(), 2).unwrap(),
        Pruned::default()
    );

    // A week later, everything old goes, two rows of a kind per call at most.
    let mut total = Pruned::default();
    let mut calls = 0;
    loop {
        let p = store.prune(week_later, &day, 2).unwrap();
        assert!(p.transitions <= 2 && p.metric_cells <= 2 && p.contacts <= 2);
        total.add(&p);
        calls += 1;
        if !p.hit(2) {
            break;
        }
        assert!(calls < 100, "pruning does not end");
    }
    assert!(calls > 1, "one call took more than its limit");
    assert_eq!(total.contacts, 1, "the live contact stays: {total:?}");
    assert_eq!(total.triggers, 2, "{total:?}");
    assert_eq!(total.alerts, 1, "the active alert stays: {total:?}");
    assert!(
        total.transitions >= 3 && total.metric_cells >= 1,
        "{total:?}"
    );

    assert!(store.contact("c-1").unwrap().is_none());
    assert!(store.contact_timeline("c-2").unwrap().is_some());
    let alerts: Vec<String> = store
        .alerts(false)
        .unwrap()
        .into_iter()
        .map(|a| a.id)
        .collect();
    assert_eq!(alerts, ["a2"]);
    assert!(store
        .transitions(&TransitionFilter::default())
        .unwrap()
        .is_empty());
    let dump = store.dump().unwrap();
    for table in ["contact_records", "triggers", "metric_cells"] {
        assert!(dump_rows(&dump, table).is_empty(), "{table} left: {dump}");
    }
    // Nothing more to do.
    assert_eq!(store.prune(week_later, &day, 2).unwrap(), Pruned::default());
}

pub fn table_stats_count_rows_and_bytes(open: Open) {
    let mut f = open();
    day_with_live_contact_and_alerts(f.store.as_mut());
    let stats = f.store.table_stats().unwrap();
    let get = |name: &str| {
        stats
            .iter()
            .find(|t| t.table == name)
            .unwrap_or_else(|| panic!("no {name} in {stats:?}"))
    };
    assert_eq!(get("contacts").rows, 2);
    assert_eq!(get("alerts").rows, 2);
    assert_eq!(get("contact_records").rows, 1);
    let transitions = f.store.transitions(&TransitionFilter::default()).unwrap();
    assert_eq!(get("transitions").rows, transitions.len() as u64);
    assert_eq!(get("outbox").rows, 0);
    for t in &stats {
        assert!(t.bytes > 0, "{t:?}");
    }
}

pub fn indexed_columns_and_queries_follow_the_json(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let mut engine = Engine::new(EngineConfig::default());
    feed(&mut engine);
    commit_engine(store, &mut engine, &Positions::new());

    let by_name = store
        .agents(&AgentFilter {
            username: Some("jdoe".into()),
            ..AgentFilter::default()
        })
        .unwrap();
    assert_eq!(by_name.len(), 1);
    let acw = store
        .agents(&AgentFilter {
            state: Some("after_contact_work".into()),
            ..AgentFilter::default()
        })
        .unwrap();
    assert_eq!(acw.len(), 1, "the agent is wrapping up c-1");
    let none = store
        .agents(&AgentFilter {
            routing_profile: Some("Other".into()),
            ..AgentFilter::default()
        })
        .unwrap();
    assert!(none.is_empty());

    let done = ContactFilter {
        active: Some(false),
        queue: Some("Sales".into()),
        agent_arn: Some(AGENT.into()),
        since: Some(ts("2026-01-05T00:00:00Z")),
        limit: Some(10),
    };
    assert_eq!(store.contacts(&done).unwrap().len(), 1);
    let later = ContactFilter {
        since: Some(ts("2026-01-06T00:00:00Z")),
        ..ContactFilter::default()
    };
    assert!(store.contacts(&later).unwrap().is_empty());

    let detail = store.contact("c-1").unwrap().unwrap();
    assert_eq!(&detail.timeline, engine.contact("c-1").unwrap());
    assert_eq!(detail.record.unwrap().contact_id, "c-1");
    assert!(store.contact("nope").unwrap().is_none());

    let all = store.transitions(&TransitionFilter::default()).unwrap();
    assert!(all.len() >= 3, "{all:?}");
    assert!(all.windows(2).all(|w| w[0].seq < w[1].seq));
    let page = store
        .transitions(&TransitionFilter {
            agent_arn: Some(AGENT.into()),
            after_seq: Some(all[0].seq),
            limit: Some(1),
            ..TransitionFilter::default()
        })
        .unwrap();
    assert_eq!(page.len(), 1);
    assert_eq!(page[0].seq, all[1].seq);
    let of_contact = store
        .transitions(&TransitionFilter {
            contact_id: Some("c-1".into()),
            from: Some(ts("2026-01-05T09:05:00Z")),
            ..TransitionFilter::default()
        })
        .unwrap();
    assert!(of_contact
        .iter()
        .all(|t| t.transition.contact_id.as_deref() == Some("c-1")));
    assert!(!of_contact.is_empty());
}

pub fn one_agent_by_arn(open: Open) {
    let mut f = open();
    let mut engine = Engine::new(EngineConfig::default());
    feed(&mut engine);
    commit_engine(f.store.as_mut(), &mut engine, &Positions::new());
    assert_eq!(
        f.store.agent(AGENT).unwrap().as_ref(),
        engine.agent(AGENT),
        "the agent as committed"
    );
    assert!(f.store.agent("arn:nobody").unwrap().is_none());
}

fn key(start: &str, kind: DimensionKind, id: &str) -> MetricKey {
    MetricKey {
        start_ms: ts(start).millis(),
        kind,
        id: id.into(),
    }
}

pub fn metric_deltas_add_up_and_longest_wait_is_a_maximum(open: Open) {
    let mut f = open();
    let store = f.store.as_mut();
    let meta = EngineMeta::default();
    let pos = Positions::new();
    let k = key("2026-01-05T09:00:00Z", DimensionKind::Queue, "Sales");
    let k2 = key("2026-01-05T09:15:00Z", DimensionKind::Queue, "Sales");
    let agent = key("2026-01-05T09:15:00Z", DimensionKind::Agent, AGENT);
    let cell = |offered, handled, wait| MetricCell {
        offered,
        handled,
        answered_in_sl: handled,
        handle_s: 100 * handled,
        longest_wait_s: wait,
        ..MetricCell::default()
    };
    for deltas in [
        vec![(k.clone(), cell(1, 1, 30)), (agent.clone(), cell(0, 1, 0))],
        vec![(k.clone(), cell(2, 1, 10)), (k2.clone(), cell(1, 0, 50))],
        // An updated record takes back its old contribution.
        vec![(k.clone(), cell(-1, -1, 0))],
    ] {
        let changes = Changes {
            metric_deltas: deltas.into_iter().collect(),
            ..Changes::default()
        };
        store.commit(&empty_batch(&changes, &meta, &pos)).unwrap();
    }
    let q = MetricQuery::new(Interval::Min15);
    let rows = store.metrics(&q).unwrap();
    let get = |k: &MetricKey| {
        rows.iter()
            .find(|r| r.start.millis() == k.start_ms && r.kind == k.kind && r.id == k.id)
            .unwrap()
            .cell
    };
    let c = get(&k);
    assert_eq!(
        (c.offered, c.handled, c.handle_s, c.longest_wait_s),
        (2, 1, 100, 30)
    );
    assert_eq!(get(&k2).longest_wait_s, 50);

    // Hours add the quarters; the queue filter leaves out agent rows.
    let hour = store
        .metrics(&MetricQuery {
            queue: Some("Sales".into()),
            ..MetricQuery::new(Interval::Hour)
        })
        .unwrap();
    assert_eq!(hour.len(), 1);
    assert_eq!((hour[0].cell.offered, hour[0].cell.longest_wait_s), (3, 50));
    // `from` inside an interval still reports the whole interval; `to` is exclusive.
    let from = store
        .metrics(&MetricQuery {
            from: Some(ts("2026-01-05T09:20:00Z")),
            to: Some(ts("2026-01-05T09:30:00Z")),
            ..MetricQuery::new(Interval::Min15)
        })
        .unwrap();
    assert_eq!(from.len(), 2, "{from:?}");
    let agents_only = store
        .metrics(&MetricQuery {
            agent: Some(AGENT.into()),
            ..MetricQuery::new(Interval::Day)
        })
        .unwrap();
    assert_eq!(agents_only.len(), 1);
    assert_eq!(agents_only[0].kind, DimensionKind::Agent);
}

pub fn newest_contact_record_wins_whatever_the_order(open: Open) {
    let mut f = open();
    let meta = EngineMeta::default();
    let pos = Positions::new();
    let timeline = ContactTimeline::new("c-1", ts("2026-01-05T09:00:00Z"));
    // Newest first, then an older copy; and within one batch, an older copy after a newer.
    for records in [
        vec![accepted("c-1", "2026-01-05T09:07:00Z", "new")],
        vec![
            accepted("c-1", "2026-01-05T09:06:00Z", "old"),
            accepted("c-1", "2026-01-05T09:05:00Z", "older"),
        ],
        vec![
            accepted("c-2", "2026-01-05T09:09:00Z", "new"),
            accepted("c-2", "2026-01-05T09:08:00Z", "old"),
        ],
    ] {
        let changes = Changes {
            records,
            ..Changes::default()
        };
        let batch = Batch {
            contacts: vec![&timeline],
            ..empty_batch(&changes, &meta, &pos)
        };
        f.store.commit(&batch).unwrap();
    }
    let record = f.store.contact("c-1").unwrap().unwrap().record.unwrap();
    let attributes = record.attributes.unwrap();
    assert_eq!(attributes["intent"], "new");
    let rows = dump_rows(&f.store.dump().unwrap(), "contact_records").join("\n");
    assert!(rows.contains("c-2") && !rows.contains("\"old\""), "{rows}");
}

pub fn alert(id: &str, cleared: Option<&str>) -> AlertEvent {
    AlertEvent {
        event: if cleared.is_some() {
            "cleared"
        } else {
            "raised"
        }
        .into(),
        alert: Alert {
            id: id.into(),
            kind: AlertKind::LongHold,
            subject: AGENT.into(),
            username: None,
            contact_id: Some("c-1".into()),
            queue: None,
            status: None,
            since: ts("2026-01-05T09:00:00Z"),
            threshold_s: 120,
            raised_at: ts("2026-01-05T09:02:00Z"),
            cleared_at: cleared.map(ts),
        },
    }
}

pub fn alerts_upsert_and_triggers_are_kept_once(open: Open) {
    let mut f = open();
    let meta = EngineMeta::default();
    let pos = Positions::new();
    let trigger = |at| Trigger {
        kind: TriggerKind::ContactCompleted,
        contact_id: "c-1".into(),
        initial_contact_id: "c-1".into(),
        at: ts(at),
    };
    let batches = [
        (
            vec![alert("a1", None), alert("a2", None)],
            vec![trigger("2026-01-05T09:05:00Z")],
        ),
        (
            // Raised and cleared in one batch: the clearing wins.
            vec![
                alert("a3", None),
                alert("a1", Some("2026-01-05T09:03:00Z")),
                alert("a3", Some("2026-01-05T09:04:00Z")),
            ],
            vec![trigger("2026-01-05T09:09:00Z")],
        ),
    ];
    for (alerts, triggers) in batches {
        let changes = Changes {
            alerts,
            triggers,
            ..Changes::default()
        };
        f.store.commit(&empty_batch(&changes, &meta, &pos)).unwrap();
    }
    let active = f.store.alerts(true).unwrap();
    assert_eq!(
        active.iter().map(|a| a.id.as_str()).collect::<Vec<_>>(),
        ["a2"]
    );
    let all = f.store.alerts(false).unwrap();
    assert_eq!(all.len(), 3);
    assert!(all.iter().any(|a| a.id == "a1" && a.cleared_at.is_some()));
    let dump = f.store.dump().unwrap();
    let triggers = dump_rows(&dump, "triggers");
    assert_eq!(triggers.len(), 1, "{triggers:?}");
    let first = ts("2026-01-05T09:05:00Z").millis().to_string();
    assert!(
        triggers[0].contains(&first),
        "the first one is kept: {triggers:?}"
    );
}

pub fn dump_is_canonical_and_sees_every_table(open: Open) {
    let mut a = open();
    let mut b = open();
    let positions = Positions::from([("f".to_owned(), "10:1:0".to_owned())]);

    // A in one batch; B in two, with positions moving: same final contents.
    let mut ea = Engine::new(EngineConfig::default());
    feed(&mut ea);
    commit_engine(a.store.as_mut(), &mut ea, &positions);

    // B's contact c-1 gets timeline entries in both batches.
    let mut eb = Engine::new(EngineConfig::default());
    let first = Positions::from([("f".to_owned(), "0:1:1".to_owned())]);
    let day = day();
    for r in &day[..2] {
        eb.apply(r);
    }
    commit_engine(b.store.as_mut(), &mut eb, &first);
    for r in &day[2..] {
        eb.apply(r);
    }
    commit_engine(b.store.as_mut(), &mut eb, &positions);

    let (da, db) = (a.store.dump().unwrap(), b.store.dump().unwrap());
    assert_eq!(da, db);
    for table in [
        "agents",
        "contacts",
        "contact_records",
        "transitions",
        "triggers",
        "metric_cells",
        "alerts",
        "engine_meta",
        "positions",
        "outbox",
    ] {
        assert!(da.contains(&format!("## {table} (")), "{table} missing");
    }
    assert!(da.contains("10:1:0"));

    // Any difference shows.
    let changes = Changes {
        records: vec![accepted("c-1", "2026-01-05T10:00:00Z", "z")],
        ..Changes::default()
    };
    b.store
        .commit(&empty_batch(&changes, ea.meta(), &BTreeMap::new()))
        .unwrap();
    assert_ne!(da, b.store.dump().unwrap());
}

pub fn contact_rows_update_in_place(open: Open) {
    let mut f = open();
    let meta = EngineMeta::default();
    let pos = Positions::new();
    let mut c = ContactTimeline::new("c-9", ts("2026-01-05T09:00:00Z"));
    c.queue = Some("Sales".into());
    for active in [true, false] {
        if !active {
            c.phase = switchboard_engine::contact::ContactPhase::Completed;
        }
        let changes = Changes::default();
        let batch = Batch {
            contacts: vec![&c],
            ..empty_batch(&changes, &meta, &pos)
        };
        f.store.commit(&batch).unwrap();
    }
    let active = f
        .store
        .contacts(&ContactFilter {
            active: Some(true),
            ..ContactFilter::default()
        })
        .unwrap();
    assert!(active.is_empty());
    assert_eq!(
        f.store.contacts(&ContactFilter::default()).unwrap().len(),
        1
    );
}

pub fn positions_move_and_others_keep_their_value(open: Open) {
    let mut f = open();
    let meta = EngineMeta::default();
    let changes = Changes::default();
    for positions in [
        Positions::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "1".to_owned()),
        ]),
        Positions::from([("b".to_owned(), "2".to_owned())]),
    ] {
        f.store
            .commit(&empty_batch(&changes, &meta, &positions))
            .unwrap();
    }
    assert_eq!(
        f.store.positions().unwrap(),
        Positions::from([
            ("a".to_owned(), "1".to_owned()),
            ("b".to_owned(), "2".to_owned()),
        ])
    );
}
