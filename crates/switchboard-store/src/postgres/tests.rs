//! Tests of the PostgreSQL store against a real server: the shared store suite
//! (`crate::suite`), then what only this store promises — several workers writing at once,
//! merged contacts, per-worker engine meta, gapless transition numbers, reconnection.
//!
//! `SWITCHBOARD_TEST_PG_URL` names the server (`bash scripts/test.sh` starts one and sets
//! it). Each test works in a schema of its own, dropped at the end.

use std::sync::atomic::{AtomicU32, Ordering};
use std::thread;

use switchboard_engine::metrics::DimensionKind;
use switchboard_engine::{
    Changes, ContactTimeline, Engine, EngineConfig, EngineMeta, Interval, MetricCell, MetricKey,
};

use super::*;
use crate::suite::{self, agent_event, empty_batch, snapshot, ts, Fresh, AGENT};
use crate::{Batch, MetricQuery, TransitionFilter};

/// The server's URL, or a failure that says how to get one.
fn server_url() -> String {
    match std::env::var("SWITCHBOARD_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ => panic!(
            "SWITCHBOARD_TEST_PG_URL is not set: these tests need a PostgreSQL server; \
             run bash scripts/test.sh (it starts one and sets the variable)"
        ),
    }
}

/// A schema of its own, dropped when the test ends.
struct Schema {
    name: String,
}

impl Schema {
    fn new() -> Self {
        static NEXT: AtomicU32 = AtomicU32::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!(
            "sb_test_{}_{}_{nanos}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        );
        admin()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        Schema { name }
    }

    /// The server URL with this schema as the search path.
    fn url(&self) -> String {
        let base = server_url();
        let sep = if base.contains('?') { '&' } else { '?' };
        format!("{base}{sep}options=-csearch_path%3D{}", self.name)
    }

    fn open(&self, worker: &str) -> PostgresStore {
        PostgresStore::open(&self.url(), worker).unwrap()
    }
}

impl Drop for Schema {
    fn drop(&mut self) {
        // Best effort: a schema left behind only takes room in a throwaway cluster.
        let _ = admin().batch_execute(&format!("DROP SCHEMA {} CASCADE", self.name));
    }
}

fn admin() -> Client {
    Config::from_str(&server_url())
        .unwrap()
        .connect(NoTls)
        .unwrap()
}

fn fresh() -> Fresh {
    let schema = Schema::new();
    let store = schema.open(DEFAULT_WORKER);
    Fresh {
        store: Box::new(store),
        _guard: Box::new(schema),
    }
}

crate::store_suite!(fresh);

#[test]
fn creates_the_schema_once_and_refuses_a_newer_one() {
    let schema = Schema::new();
    let store = schema.open("w1");
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    // A second worker opening the same store does not migrate again.
    let again = schema.open("w2");
    assert_eq!(again.schema_version().unwrap(), schema::VERSION);
    store
        .client
        .borrow_mut()
        .execute("UPDATE schema_version SET version = version + 1", &[])
        .unwrap();
    let err = PostgresStore::open(&schema.url(), "w3").unwrap_err();
    assert!(
        matches!(err, StoreError::PostgresNewerSchema { .. }),
        "{err}"
    );
}

#[test]
fn workers_open_the_same_new_store_at_once() {
    let schema = Schema::new();
    let url = schema.url();
    let handles: Vec<_> = (0..4)
        .map(|i| {
            let url = url.clone();
            thread::spawn(move || PostgresStore::open(&url, &format!("w{i}")).map(|_| ()))
        })
        .collect();
    for h in handles {
        h.join().unwrap().unwrap();
    }
}

#[test]
fn engine_meta_is_kept_per_worker() {
    let schema = Schema::new();
    let mut a = schema.open("agents");
    let mut b = schema.open("contacts");
    let changes = Changes::default();
    let pos = Positions::new();
    let mut meta_a = EngineMeta::default();
    meta_a.counters.agent_events = 7;
    let mut meta_b = EngineMeta::default();
    meta_b.counters.contact_records = 3;
    a.commit(&empty_batch(&changes, &meta_a, &pos)).unwrap();
    b.commit(&empty_batch(&changes, &meta_b, &pos)).unwrap();
    assert_eq!(a.load().unwrap().meta.unwrap().counters.agent_events, 7);
    let loaded_b = b.load().unwrap().meta.unwrap();
    assert_eq!(
        (
            loaded_b.counters.agent_events,
            loaded_b.counters.contact_records
        ),
        (0, 3)
    );
    assert!(schema.open("new").load().unwrap().meta.is_none());
}

/// One contact, seen by a worker reading agent events and by one reading contact records:
/// the stored timeline has both halves whichever commits first.
#[test]
fn two_workers_views_of_a_contact_merge_instead_of_overwriting() {
    for agents_first in [true, false] {
        let schema = Schema::new();
        let mut agents_store = schema.open("agents");
        let mut records_store = schema.open("records");

        let mut agents = Engine::new(EngineConfig::default());
        for r in &suite::day()[..3] {
            agents.apply(r);
        }
        let mut records = Engine::new(EngineConfig::default());
        for r in &suite::day()[3..] {
            records.apply(r);
        }
        let from_agents = agents.contact("c-1").unwrap().clone();
        let from_records = records.contact("c-1").unwrap().clone();
        let pos = Positions::new();
        let commit = |store: &mut PostgresStore, engine: &mut Engine| {
            let changes = engine.take_changes();
            store.commit(&Batch::new(engine, &changes, &pos)).unwrap();
        };
        if agents_first {
            commit(&mut agents_store, &mut agents);
            commit(&mut records_store, &mut records);
        } else {
            commit(&mut records_store, &mut records);
            commit(&mut agents_store, &mut agents);
        }

        let stored = agents_store.contact("c-1").unwrap().unwrap().timeline;
        assert_eq!(
            stored,
            merge(from_agents.clone(), &from_records).with_entries(&stored)
        );
        assert_eq!(stored.hold_ms, from_agents.hold_ms);
        assert_eq!(stored.agent_arn.as_deref(), Some(AGENT));
        assert_eq!(stored.attributes["intent"], "a", "{agents_first}");
        assert!(stored.record_ready_fired && stored.completed_fired);
        // Every entry of both views, in time order.
        let mut want: Vec<_> = from_agents
            .entries
            .iter()
            .chain(&from_records.entries)
            .cloned()
            .collect();
        want.sort_by_key(|e| e.at);
        assert_eq!(stored.entries, want, "agents first: {agents_first}");
    }
}

trait WithEntries {
    fn with_entries(self, from: &ContactTimeline) -> ContactTimeline;
}

impl WithEntries for ContactTimeline {
    fn with_entries(mut self, from: &ContactTimeline) -> ContactTimeline {
        self.entries.clone_from(&from.entries);
        self
    }
}

/// Many workers adding to the same metric cells and appending transitions at once: the
/// totals are exact and the transitions are numbered 1..n with no gap, each worker's in
/// its own order.
#[test]
fn concurrent_commits_add_up_and_number_transitions_without_gaps() {
    const WORKERS: usize = 4;
    const COMMITS: usize = 15;
    let schema = Schema::new();
    let url = schema.url();
    let cell_key = |q: &str| MetricKey {
        start_ms: ts("2026-01-05T09:00:00Z").millis(),
        kind: DimensionKind::Queue,
        id: q.to_owned(),
    };
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let url = url.clone();
            thread::spawn(move || {
                let mut store = PostgresStore::open(&url, &format!("w{w}")).unwrap();
                let mut engine = Engine::new(EngineConfig::default());
                let arn = format!("{AGENT}-{w}");
                for i in 0..COMMITS {
                    // One LOGIN-like status change per commit for this worker's agent,
                    // plus one unit on two shared cells (in opposite key orders).
                    let at = format!("2026-01-05T09:{:02}:00.000Z", i);
                    let mut event = agent_event(
                        &format!("w{w}-e{i}"),
                        &at,
                        "STATE_CHANGE",
                        snapshot(if i % 2 == 0 { "Available" } else { "Break" }, None),
                        snapshot(if i % 2 == 0 { "Break" } else { "Available" }, None),
                    );
                    if let switchboard_model::Record::AgentEvent(e) = &mut event {
                        e.agent_arn = arn.clone();
                    }
                    engine.apply(&event);
                    let mut changes = engine.take_changes();
                    for q in ["A", "B"] {
                        changes.metric_deltas.insert(
                            cell_key(q),
                            MetricCell {
                                offered: 1,
                                longest_wait_s: (w * 100 + i) as i64,
                                ..MetricCell::default()
                            },
                        );
                    }
                    let pos = Positions::from([(format!("w{w}"), i.to_string())]);
                    store.commit(&Batch::new(&engine, &changes, &pos)).unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }

    let store = schema.open("reader");
    let rows = store.metrics(&MetricQuery::new(Interval::Min15)).unwrap();
    assert_eq!(rows.len(), 2);
    for r in &rows {
        assert_eq!(r.cell.offered, (WORKERS * COMMITS) as i64, "{}", r.id);
        assert_eq!(
            r.cell.longest_wait_s,
            ((WORKERS - 1) * 100 + COMMITS - 1) as i64
        );
    }
    let transitions = store.transitions(&TransitionFilter::default()).unwrap();
    assert!(!transitions.is_empty());
    let seqs: Vec<i64> = transitions.iter().map(|t| t.seq).collect();
    assert_eq!(seqs, (1..=seqs.len() as i64).collect::<Vec<_>>());
    for w in 0..WORKERS {
        let arn = format!("{AGENT}-{w}");
        let mine: Vec<_> = transitions
            .iter()
            .filter(|t| t.transition.agent_arn == arn)
            .map(|t| t.transition.at)
            .collect();
        assert!(!mine.is_empty(), "worker {w}");
        assert!(
            mine.windows(2).all(|p| p[0] <= p[1]),
            "worker {w}: {mine:?}"
        );
    }
    assert_eq!(store.positions().unwrap().len(), WORKERS);
}

#[test]
fn a_lost_connection_is_reopened() {
    let schema = Schema::new();
    let store = schema.open("w");
    let pid: i32 = store
        .client
        .borrow_mut()
        .query_one("SELECT pg_backend_pid()", &[])
        .unwrap()
        .get(0);
    admin()
        .execute("SELECT pg_terminate_backend($1)", &[&pid])
        .unwrap();
    // The first use after the server closed the connection may see the failure; the next
    // reconnects.
    let first = store.positions();
    if let Err(e) = &first {
        assert!(matches!(e, StoreError::Postgres { .. }), "{e}");
    }
    store.positions().unwrap();
    assert!(!store.client.borrow().is_closed());
}

#[test]
fn entries_of_one_millisecond_keep_their_order_across_commits() {
    let schema = Schema::new();
    let mut store = schema.open("w");
    let meta = EngineMeta::default();
    let pos = Positions::new();
    let changes = Changes::default();
    let at = ts("2026-01-05T09:00:00.000Z");
    let entry = |event: &'static str| switchboard_engine::contact::TimelineEntry {
        at,
        event: event.into(),
        source: switchboard_engine::contact::EntrySource::ContactEvent,
        agent_arn: None,
        queue: None,
        duration_ms: None,
    };
    let mut c = ContactTimeline::new("c-1", at);
    // Equal entries are kept as many times as they occur.
    for event in ["z_first", "a_second", "a_second"] {
        c.entries.push(entry(event));
        let batch = Batch {
            contacts: vec![&c],
            ..empty_batch(&changes, &meta, &pos)
        };
        store.commit(&batch).unwrap();
    }
    let stored = store.contact("c-1").unwrap().unwrap().timeline;
    assert_eq!(stored.entries, c.entries);
}

#[test]
fn a_version_1_store_gains_the_outbox() {
    let schema = Schema::new();
    let mut old = Config::from_str(&schema.url())
        .unwrap()
        .connect(NoTls)
        .unwrap();
    old.batch_execute(schema::MIGRATIONS[0]).unwrap();
    old.batch_execute(
        "CREATE TABLE schema_version (version INTEGER NOT NULL);
         INSERT INTO schema_version VALUES (1)",
    )
    .unwrap();
    let mut store = schema.open("w");
    assert_eq!(store.schema_version().unwrap(), schema::VERSION);
    let added = store
        .outbox_insert(&[suite::entry("crm", "k1", b"{}")])
        .unwrap();
    assert_eq!(added, 1);
}

/// Workers on connections of their own claim at once, in small batches, and report back:
/// between them they claim every row, and no row twice (`FOR UPDATE SKIP LOCKED`).
#[test]
fn concurrent_claims_from_several_connections_are_disjoint_and_complete() {
    const ITEMS: usize = 1_000;
    const WORKERS: usize = 4;
    let schema = Schema::new();
    let mut store = schema.open("pipeline");
    let entries: Vec<_> = (0..ITEMS)
        .map(|i| suite::entry("crm", &format!("k{i}"), b"{\"n\":1}"))
        .collect();
    assert_eq!(store.outbox_insert(&entries).unwrap(), ITEMS as u64);
    let barrier = std::sync::Arc::new(std::sync::Barrier::new(WORKERS));
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let url = schema.url();
            let barrier = barrier.clone();
            thread::spawn(move || {
                let mut store = PostgresStore::open(&url, &format!("w{w}")).unwrap();
                barrier.wait();
                let mut mine = Vec::new();
                loop {
                    let rows = store
                        .outbox_claim("crm", &format!("w{w}"), 7, 1 << 20, 0, 60_000)
                        .unwrap();
                    if rows.is_empty() {
                        return mine;
                    }
                    let ids: Vec<i64> = rows.iter().map(|r| r.id).collect();
                    // Half delivered, half kept claimed: both must stay out of others' claims.
                    store.outbox_delivered(&ids[..ids.len() / 2]).unwrap();
                    mine.extend(ids);
                }
            })
        })
        .collect();
    let per_worker: Vec<Vec<i64>> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(
        per_worker.iter().filter(|ids| !ids.is_empty()).count() > 1,
        "the claims ran side by side: {:?}",
        per_worker.iter().map(Vec::len).collect::<Vec<_>>()
    );
    let mut all: Vec<i64> = per_worker.into_iter().flatten().collect();
    let claimed = all.len();
    all.sort_unstable();
    all.dedup();
    assert_eq!(all.len(), claimed, "a row was claimed twice");
    assert_eq!(all.len(), ITEMS, "every row was claimed");
}

/// A claim passes over rows another transaction holds instead of waiting for it.
#[test]
fn a_claim_skips_locked_rows_without_waiting() {
    let schema = Schema::new();
    let mut store = schema.open("w1");
    store
        .outbox_insert(&[
            suite::entry("crm", "k1", b"a"),
            suite::entry("crm", "k2", b"b"),
        ])
        .unwrap();
    let mut other = Config::from_str(&schema.url())
        .unwrap()
        .connect(NoTls)
        .unwrap();
    let mut tx = other.transaction().unwrap();
    tx.execute("SELECT id FROM outbox WHERE key = 'k1' FOR UPDATE", &[])
        .unwrap();
    // Would block until the transaction ends if the claim waited on the lock.
    store
        .client
        .borrow_mut()
        .batch_execute("SET lock_timeout = '2s'")
        .unwrap();
    let rows = store
        .outbox_claim("crm", "w1", 10, 1 << 20, 0, 1_000)
        .unwrap();
    assert_eq!(
        rows.iter()
            .map(|r| r.entry.key.as_str())
            .collect::<Vec<_>>(),
        ["k2"]
    );
    tx.rollback().unwrap();
    let rows = store
        .outbox_claim("crm", "w1", 10, 1 << 20, 0, 1_000)
        .unwrap();
    assert_eq!(rows.len(), 1, "k1, once the other transaction let go");
}

/// Two pipelines committing the same keys at once (a record re-delivered to another
/// worker) queue each key once.
#[test]
fn concurrent_commits_of_the_same_keys_queue_each_once() {
    const WORKERS: usize = 4;
    const COMMITS: usize = 20;
    let schema = Schema::new();
    let handles: Vec<_> = (0..WORKERS)
        .map(|w| {
            let url = schema.url();
            thread::spawn(move || {
                let mut store = PostgresStore::open(&url, &format!("w{w}")).unwrap();
                let (changes, meta, pos) =
                    (Changes::default(), EngineMeta::default(), Positions::new());
                for i in 0..COMMITS {
                    // Keys shared by every worker, in an order of its own.
                    let mut entries: Vec<_> = (0..5)
                        .map(|k| suite::entry("crm", &format!("c{i}-k{k}"), b"{}"))
                        .collect();
                    entries.rotate_left(w % 5);
                    store
                        .commit(&empty_batch(&changes, &meta, &pos).with_outbox(&entries))
                        .unwrap();
                }
            })
        })
        .collect();
    for h in handles {
        h.join().unwrap();
    }
    assert_eq!(
        schema.open("reader").outbox_len().unwrap(),
        (COMMITS * 5) as u64
    );
}
