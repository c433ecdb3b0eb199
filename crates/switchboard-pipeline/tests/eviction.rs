//! Eviction equivalence: contacts leave the engine's memory once they ended (here at the
//! first commit after, `evict_after_s = 0`), and every late or re-delivered record that
//! names one reads it back from the store. The store must end up exactly as after a run
//! that kept every contact in memory, table by table.
//!
//! The corpus is simulator output with delivery artefacts turned up (duplicate and late
//! contact events, re-delivered and updated contact records). It is applied twice over:
//! in the simulator's order, and stream by stream (every agent event, then every contact
//! event, then every record), where nearly every contact event and record arrives after
//! its contact ended and was evicted. The evicted runs also restart from the store part
//! way, so a store opened with only its live contacts is covered too. Run on SQLite, and
//! on PostgreSQL when `SWITCHBOARD_TEST_PG_URL` names a server.

use std::sync::atomic::{AtomicU32, Ordering};

use switchboard_engine::EngineConfig;
use switchboard_model::{Record, RecordKind, Timestamp};
use switchboard_pipeline::pipeline::Pipeline;
use switchboard_sim::{ArtefactRates, SimConfig, Simulator};
use switchboard_store::StoreUrl;

const COMMIT_EVERY: usize = 200;

fn corpus() -> Vec<Record> {
    let mut config = SimConfig::new(30);
    config.start = Timestamp::parse("2026-01-05T08:00:00Z").unwrap();
    config.duration_secs = 3 * 3600;
    config.seed = 11;
    config.artefacts = ArtefactRates {
        duplicate_agent_event: 0.03,
        duplicate_contact_event: 0.05,
        late_contact_event: 0.1,
        duplicate_contact_record: 0.1,
        updated_contact_record: 0.2,
    };
    Simulator::new(config).unwrap().map(|e| e.record).collect()
}

/// Every agent event, then every contact event, then every record.
fn stream_by_stream(records: &[Record]) -> Vec<Record> {
    let mut out = Vec::with_capacity(records.len());
    for kind in [
        RecordKind::AgentEvent,
        RecordKind::ContactEvent,
        RecordKind::ContactRecord,
    ] {
        out.extend(records.iter().filter(|r| r.kind() == kind).cloned());
    }
    out
}

fn config(evict: bool) -> EngineConfig {
    let mut c = EngineConfig::default();
    let keep = if evict { 0 } else { 10 * 366 * 24 * 3600 };
    c.evict_after_s = keep;
    c.evict_idle_s = keep;
    c
}

/// Where the runs go: each run opens a store of its own by URL, and reopens it on a
/// restart.
trait Backend {
    fn name(&self) -> &'static str;
    fn fresh_url(&self) -> StoreUrl;
}

struct Sqlite {
    dir: tempfile::TempDir,
}

impl Backend for Sqlite {
    fn name(&self) -> &'static str {
        "sqlite"
    }
    fn fresh_url(&self) -> StoreUrl {
        static N: AtomicU32 = AtomicU32::new(0);
        let path = self
            .dir
            .path()
            .join(format!("{}.db", N.fetch_add(1, Ordering::Relaxed)));
        format!("sqlite:{}", path.display()).parse().unwrap()
    }
}

/// Schemas of their own in the test server, dropped at the end.
struct Postgres {
    base: String,
    schemas: std::cell::RefCell<Vec<String>>,
}

impl Postgres {
    fn admin(&self) -> postgres::Client {
        postgres::Client::connect(&self.base, postgres::NoTls).unwrap()
    }
}

impl Backend for Postgres {
    fn name(&self) -> &'static str {
        "postgres"
    }
    fn fresh_url(&self) -> StoreUrl {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos());
        let name = format!("sb_evict_{}_{nanos}", std::process::id());
        self.admin()
            .batch_execute(&format!("CREATE SCHEMA {name}"))
            .unwrap();
        self.schemas.borrow_mut().push(name.clone());
        let sep = if self.base.contains('?') { '&' } else { '?' };
        format!("{}{sep}options=-csearch_path%3D{name}", self.base)
            .parse()
            .unwrap()
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        let mut admin = self.admin();
        for name in self.schemas.borrow().iter() {
            let _ = admin.batch_execute(&format!("DROP SCHEMA {name} CASCADE"));
        }
    }
}

/// Applies `records` through a pipeline on a fresh store, committing every
/// [`COMMIT_EVERY`]; with `restart_at`, the pipeline is dropped there and opened again
/// on the same store. Returns the store's dump and how many contacts were evicted and
/// read back.
fn run(
    backend: &dyn Backend,
    records: &[Record],
    evict: bool,
    restart_at: Option<usize>,
) -> (String, u64, u64) {
    let url = backend.fresh_url();
    let mut pipeline = Pipeline::open(url.open().unwrap(), config(evict)).unwrap();
    let (mut evicted, mut reloaded) = (0, 0);
    for (i, r) in records.iter().enumerate() {
        if Some(i) == restart_at {
            pipeline.commit().unwrap();
            evicted += pipeline.stats().evicted;
            reloaded += pipeline.stats().reloaded;
            drop(pipeline);
            pipeline = Pipeline::open(url.open().unwrap(), config(evict)).unwrap();
        }
        pipeline.apply(r);
        if i % COMMIT_EVERY == COMMIT_EVERY - 1 {
            pipeline.commit().unwrap();
        }
    }
    pipeline.commit().unwrap();
    let stats = pipeline.stats();
    (
        pipeline.store().dump().unwrap(),
        evicted + stats.evicted,
        reloaded + stats.reloaded,
    )
}

/// The dump cut into its tables: `(header, rows)`.
fn tables(dump: &str) -> Vec<(String, Vec<&str>)> {
    let mut out: Vec<(String, Vec<&str>)> = Vec::new();
    for line in dump.lines() {
        if line.starts_with("## ") {
            out.push((line.to_owned(), Vec::new()));
        } else if let Some((_, rows)) = out.last_mut() {
            rows.push(line);
        }
    }
    out
}

fn assert_same_store(kept: &str, evicted: &str, what: &str) {
    let (kept, evicted) = (tables(kept), tables(evicted));
    assert_eq!(
        kept.iter().map(|t| &t.0).collect::<Vec<_>>(),
        evicted.iter().map(|t| &t.0).collect::<Vec<_>>(),
        "{what}: the tables differ"
    );
    for ((table, a), (_, b)) in kept.iter().zip(&evicted) {
        assert_eq!(a.len(), b.len(), "{what}: {table}: row counts differ");
        for (ra, rb) in a.iter().zip(b) {
            assert_eq!(ra, rb, "{what}: {table}: first row that differs");
        }
    }
}

fn check(backend: &dyn Backend) {
    let records = corpus();
    let name = backend.name();
    for (order, records) in [
        ("simulator order", records.clone()),
        ("stream by stream", stream_by_stream(&records)),
    ] {
        let (kept, kept_evicted, _) = run(backend, &records, false, None);
        assert_eq!(kept_evicted, 0);
        let (evicted, n_evicted, n_reloaded) = run(backend, &records, true, None);
        assert!(n_evicted > 100, "{order}: only {n_evicted} evicted");
        assert!(n_reloaded > 50, "{order}: only {n_reloaded} read back");
        assert_same_store(&kept, &evicted, &format!("{name}, {order}"));
        let (restarted, _, _) = run(backend, &records, true, Some(records.len() / 2));
        assert_same_store(&kept, &restarted, &format!("{name}, {order}, restarted"));
    }
}

#[test]
fn evicted_contacts_come_back_from_sqlite_with_the_same_result() {
    check(&Sqlite {
        dir: tempfile::tempdir().unwrap(),
    });
}

#[test]
fn evicted_contacts_come_back_from_postgres_with_the_same_result() {
    let base = match std::env::var("SWITCHBOARD_TEST_PG_URL") {
        Ok(url) if !url.is_empty() => url,
        _ if std::env::var_os("SWITCHBOARD_REQUIRE_SERVERS").is_some() => {
            panic!("SWITCHBOARD_TEST_PG_URL is not set: run bash scripts/test.sh")
        }
        _ => {
            eprintln!("skipped: SWITCHBOARD_TEST_PG_URL is not set");
            return;
        }
    };
    check(&Postgres {
        base,
        schemas: Default::default(),
    });
}
