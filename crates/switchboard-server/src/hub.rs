//! The hub of the live feed: turns the engine's [`Changes`] into feed messages and
//! broadcasts them to every connected client.
//!
//! The pipeline calls [`Hub::publish`] after each record it applies, with the engine
//! still locked. Publishing numbers each batch of messages (the `seq`, the SSE `id`), and
//! snapshot routes read the same counter under the same lock, so a client that opens the
//! feed first, then loads a snapshot, applies exactly the frames with a higher `seq` and
//! misses nothing.
//!
//! Messages are serialized once, here, as ready-to-send SSE text; each client's stream
//! only copies bytes. Event types and their data (documented in the OpenAPI document
//! under `/api/events`):
//!
//! | event        | data                                                            |
//! |--------------|-----------------------------------------------------------------|
//! | `agent`      | [`AgentView`] of an agent whose state changed                   |
//! | `queue`      | [`QueueView`] of a queue whose waiting contacts or seats changed |
//! | `transition` | an agent transition                                             |
//! | `contact`    | [`ContactSummary`] of a contact that changed                    |
//! | `alert`      | an alert raised or cleared                                      |
//! | `metric`     | [`MetricDelta`] to add to a 15-minute cell                      |
//!
//! Queue tiles are kept up to date incrementally: the hub remembers each agent's seat and
//! queues and adjusts the counts of the queues an agent leaves and joins, so a publish
//! costs what changed, not the size of the center.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::body::Bytes;
use serde::Serialize;
use switchboard_engine::{Changes, Engine};
use switchboard_model::Timestamp;
use tokio::sync::{broadcast, watch};

use crate::telemetry;
use crate::views::{
    engine_now, waiting, AgentView, ContactSummary, MetricDelta, QueueView, Seat, SeatCounts,
};

/// Frames a client may fall behind by before it is told to reload.
pub const DEFAULT_CAPACITY: usize = 4096;

/// Feed event names.
pub mod event {
    pub const HELLO: &str = "hello";
    pub const CLOCK: &str = "clock";
    pub const RESYNC: &str = "resync";
    pub const AGENT: &str = "agent";
    pub const QUEUE: &str = "queue";
    pub const TRANSITION: &str = "transition";
    pub const CONTACT: &str = "contact";
    pub const ALERT: &str = "alert";
    pub const METRIC: &str = "metric";
}

/// One publish's messages, as SSE text, and its sequence number.
#[derive(Debug, Clone)]
pub struct Frame {
    pub seq: u64,
    pub bytes: Bytes,
}

/// The live feed's broadcaster. Cheap to clone; clones share everything.
#[derive(Clone)]
pub struct Hub {
    inner: Arc<Inner>,
}

struct Inner {
    tx: broadcast::Sender<Frame>,
    seq: AtomicU64,
    /// The engine's clock as of the last publish, epoch ms (`i64::MIN`: none yet), so
    /// the feed's clock events need not lock the engine.
    engine_clock: AtomicI64,
    board: Mutex<Board>,
    closed: watch::Sender<bool>,
}

/// What the hub remembers to update queue tiles incrementally.
#[derive(Default)]
struct Board {
    seeded: bool,
    /// Agent ARN → its seat and queues as last counted.
    seats: HashMap<String, (Seat, Vec<String>)>,
    counts: BTreeMap<String, SeatCounts>,
}

impl Board {
    /// Counts every agent of `engine` (first publish: the engine may have been restored).
    fn seed(&mut self, engine: &Engine) {
        for agent in engine.agents() {
            let seat = Seat::of(&agent.effective);
            for q in &agent.queues {
                self.counts.entry(q.clone()).or_default().add(seat, 1);
            }
            self.seats
                .insert(agent.agent_arn.clone(), (seat, agent.queues.clone()));
        }
        self.seeded = true;
    }

    /// Recounts one agent; adds the queues whose counts changed to `touched`.
    fn update(&mut self, engine: &Engine, arn: &str, touched: &mut BTreeSet<String>) {
        let Some(agent) = engine.agent(arn) else {
            return;
        };
        let seat = Seat::of(&agent.effective);
        if let Some((old_seat, old_queues)) = self.seats.get(arn) {
            if *old_seat == seat && *old_queues == agent.queues {
                return;
            }
            for q in old_queues {
                self.counts.entry(q.clone()).or_default().add(*old_seat, -1);
                touched.insert(q.clone());
            }
        }
        for q in &agent.queues {
            self.counts.entry(q.clone()).or_default().add(seat, 1);
            touched.insert(q.clone());
        }
        self.seats
            .insert(arn.to_owned(), (seat, agent.queues.clone()));
    }
}

impl Default for Hub {
    fn default() -> Self {
        Self::new(DEFAULT_CAPACITY)
    }
}

impl Hub {
    /// A hub whose clients may fall `capacity` frames behind.
    pub fn new(capacity: usize) -> Self {
        let (tx, _) = broadcast::channel(capacity.max(1));
        Hub {
            inner: Arc::new(Inner {
                tx,
                seq: AtomicU64::new(0),
                engine_clock: AtomicI64::new(i64::MIN),
                board: Mutex::new(Board::default()),
                closed: watch::Sender::new(false),
            }),
        }
    }

    /// The sequence number of the last publish. Read it with the engine locked to know
    /// which frames a snapshot taken under that lock already contains.
    pub fn seq(&self) -> u64 {
        self.inner.seq.load(Ordering::Acquire)
    }

    /// The engine's clock as of the last publish.
    pub fn engine_clock(&self) -> Option<Timestamp> {
        let ms = self.inner.engine_clock.load(Ordering::Acquire);
        (ms != i64::MIN).then(|| Timestamp::from_millis(ms))
    }

    /// Turns `changes` (just taken from `engine`, which the caller still holds locked)
    /// into feed messages and broadcasts them. Returns the frame's sequence number, or
    /// `None` if nothing changed.
    pub fn publish(&self, engine: &Engine, changes: &Changes) -> Option<u64> {
        if let Some(now) = engine_now(engine) {
            self.inner
                .engine_clock
                .fetch_max(now.millis(), Ordering::AcqRel);
        }
        if changes.is_empty() {
            return None;
        }
        let touched = self.queues_touched(engine, changes);
        let seq = self.inner.seq.fetch_add(1, Ordering::AcqRel) + 1;
        if self.inner.tx.receiver_count() == 0 {
            // Nobody listens: the counts above are kept, the text is not worth writing.
            return Some(seq);
        }
        let mut text = String::with_capacity(1024);
        let mut messages = 0u64;
        let mut push = |event: &str, data: &dyn erased::Json| {
            if let Ok(json) = data.to_json() {
                sse_event(&mut text, Some(seq), event, &json);
                messages += 1;
            }
        };
        for arn in &changes.dirty_agents {
            if let Some(agent) = engine.agent(arn) {
                push(event::AGENT, &AgentView::of(agent));
            }
        }
        for t in &changes.transitions {
            push(event::TRANSITION, t);
        }
        for id in &changes.dirty_contacts {
            if let Some(contact) = engine.contact(id) {
                push(event::CONTACT, &ContactSummary::of(contact));
            }
        }
        for a in &changes.alerts {
            push(event::ALERT, a);
        }
        for (key, cell) in &changes.metric_deltas {
            let delta = MetricDelta {
                start: Timestamp::from_millis(key.start_ms),
                kind: key.kind,
                id: key.id.clone(),
                delta: *cell,
            };
            push(event::METRIC, &delta);
        }
        if !touched.is_empty() {
            let now = engine_now(engine);
            let board = self.board();
            for name in &touched {
                let counts = board.counts.get(name).copied().unwrap_or_default();
                push(
                    event::QUEUE,
                    &QueueView::new(name, counts, waiting(engine, name), now),
                );
            }
        }
        if messages > 0 {
            telemetry::events_out(telemetry::sink::FEED, messages);
            // An error only means every client left since the count above.
            let _ = self.inner.tx.send(Frame {
                seq,
                bytes: Bytes::from(text),
            });
        }
        Some(seq)
    }

    /// The queues whose tiles `changes` alter: seats that moved, and waiting contacts.
    fn queues_touched(&self, engine: &Engine, changes: &Changes) -> BTreeSet<String> {
        let mut touched = BTreeSet::new();
        let mut board = self.board();
        if !board.seeded {
            board.seed(engine);
        }
        for arn in &changes.dirty_agents {
            board.update(engine, arn, &mut touched);
        }
        for id in &changes.dirty_contacts {
            if let Some(q) = engine.contact(id).and_then(|c| c.queue.as_ref()) {
                touched.insert(q.clone());
            }
        }
        touched
    }

    fn board(&self) -> std::sync::MutexGuard<'_, Board> {
        // The board is only counts: a panic mid-update cannot leave it unusable.
        self.inner.board.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The seat counts as the hub keeps them (for tests: they must equal a recount).
    pub fn seat_counts(&self) -> BTreeMap<String, SeatCounts> {
        self.board().counts.clone()
    }

    /// A receiver of every frame published from now on.
    pub fn subscribe(&self) -> broadcast::Receiver<Frame> {
        self.inner.tx.subscribe()
    }

    /// Ends every feed stream (on shutdown: an open stream would keep the server from
    /// finishing its graceful shutdown).
    pub fn close(&self) {
        self.inner.closed.send_replace(true);
    }

    /// A receiver that sees `true` once [`Hub::close`] was called.
    pub fn closed(&self) -> watch::Receiver<bool> {
        self.inner.closed.subscribe()
    }
}

/// Appends one SSE event to `out`. `data` is one line of JSON (serde_json never writes a
/// raw newline), so it needs no splitting.
pub fn sse_event(out: &mut String, id: Option<u64>, event: &str, data: &str) {
    if let Some(id) = id {
        let _ = writeln!(out, "id: {id}");
    }
    let _ = write!(out, "event: {event}\ndata: {data}\n\n");
}

/// Serialization behind `&dyn`, so one closure can push messages of any type.
mod erased {
    pub trait Json {
        fn to_json(&self) -> serde_json::Result<String>;
    }

    impl<T: serde::Serialize> Json for T {
        fn to_json(&self) -> serde_json::Result<String> {
            serde_json::to_string(self)
        }
    }
}

/// Serializes `value` for a one-off event (hello, clock); an error becomes `null`.
pub fn json_or_null(value: &impl Serialize) -> String {
    serde_json::to_string(value).unwrap_or_else(|_| "null".to_owned())
}
