//! A simulated contact center behind a real server on 127.0.0.1:0: the simulator feeds an
//! engine the way the pipeline does (apply, publish to the hub, commit to an SQLite store
//! every few hundred records), and the server reads a second handle on the same store.

#![allow(dead_code)]

use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use switchboard_engine::{Applied, Changes, Engine, EngineConfig};
use switchboard_model::Timestamp;
use switchboard_server::{client, telemetry, AppState, Hub, ServerHandle, ServerOptions};
use switchboard_sim::{SimConfig, Simulator};
use switchboard_store::{Batch, Positions, SqliteStore, Store};
use tempfile::TempDir;

pub const START: &str = "2026-01-05T08:00:00Z";

/// Records between store commits.
const COMMIT_EVERY: usize = 300;

pub struct Center {
    pub engine: Arc<Mutex<Engine>>,
    pub hub: Hub,
    pub server: ServerHandle,
    pub sim: Simulator,
    store: SqliteStore,
    pending: Changes,
    since_commit: usize,
    _dir: TempDir,
}

pub fn start_ms() -> i64 {
    Timestamp::parse(START).unwrap().millis()
}

impl Center {
    /// 30 agents, the first `minutes` of the morning applied and committed.
    pub fn start(options: ServerOptions, minutes: i64) -> Self {
        Self::start_with(options, minutes, |s| s)
    }

    pub fn start_with(
        options: ServerOptions,
        minutes: i64,
        configure: impl FnOnce(AppState) -> AppState,
    ) -> Self {
        let dir = TempDir::new().unwrap();
        let path = dir.path().join("switchboard.db");
        let store = SqliteStore::open(&path).unwrap();
        let reader = SqliteStore::open(&path).unwrap();
        let engine = Arc::new(Mutex::new(Engine::new(EngineConfig::default())));
        let hub = Hub::default();
        let state =
            AppState::new(Arc::clone(&engine), hub.clone(), options).with_store(Box::new(reader));
        let server = ServerHandle::start("127.0.0.1:0".parse().unwrap(), configure(state))
            .expect("server starts");
        let mut config = SimConfig::new(30);
        config.start = Timestamp::parse(START).unwrap();
        config.duration_secs = 4 * 3600;
        config.seed = 3;
        let mut center = Center {
            engine,
            hub,
            server,
            sim: Simulator::new(config).unwrap(),
            store,
            pending: Changes::default(),
            since_commit: 0,
            _dir: dir,
        };
        center.feed_minutes(minutes);
        center
    }

    /// Applies the simulator's records up to `minutes` after the start, publishing each
    /// record's changes and committing as the pipeline does, then commits the rest.
    pub fn feed_minutes(&mut self, minutes: i64) -> usize {
        let until = Timestamp::from_millis(start_ms() + minutes * 60_000);
        let batch = self.sim.next_batch(until);
        let n = batch.len();
        for emission in batch {
            let source = telemetry::source::of(emission.kind());
            telemetry::event_in(source);
            let mut engine = self.engine.lock().unwrap();
            if engine.apply(&emission.record) != Applied::Applied {
                telemetry::dedupe_drop(source);
            }
            let changes = engine.take_changes();
            self.hub.publish(&engine, &changes);
            drop(engine);
            self.pending.merge(changes);
            self.since_commit += 1;
            if self.since_commit >= COMMIT_EVERY {
                self.commit();
            }
        }
        self.commit();
        n
    }

    pub fn commit(&mut self) {
        self.since_commit = 0;
        let pending = std::mem::take(&mut self.pending);
        if pending.is_empty() {
            return;
        }
        let engine = self.engine.lock().unwrap();
        let positions = Positions::new();
        self.store
            .commit(&Batch::new(&engine, &pending, &positions))
            .unwrap();
        telemetry::events_out(telemetry::sink::STORE, pending.transitions.len() as u64);
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.local_addr()
    }

    pub fn get(&self, path: &str) -> client::Response {
        client::get(self.addr(), path, &[]).unwrap()
    }

    pub fn get_json(&self, path: &str) -> serde_json::Value {
        let r = self.get(path);
        assert_eq!(r.status, 200, "GET {path}: {}", r.text());
        r.json().unwrap()
    }
}
