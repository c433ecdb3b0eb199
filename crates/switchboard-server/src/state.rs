//! What every handler shares: the live engine, a read handle on the store, the feed hub,
//! the options, the clock and the metrics recorder.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Instant;

use metrics_exporter_prometheus::PrometheusHandle;
use switchboard_engine::Engine;
use switchboard_model::Timestamp;
use switchboard_store::Store;

use crate::auth::Auth;
use crate::error::ApiError;
use crate::hub::Hub;
use crate::telemetry;
use crate::views::engine_now;

/// Server options.
#[derive(Debug, Clone, Default)]
pub struct ServerOptions {
    pub auth: Auth,
    /// Mask customer phone numbers (`CustomerEndpoint.Address`) in what the API shows.
    pub mask_phone_numbers: bool,
}

/// Where "now" comes from, for time-in-state on the dashboard.
///
/// Live, it is the wall clock. The demo runs simulated time faster than the wall clock,
/// so it tells the server its own clock and its speed; the dashboard advances its tiles
/// at `rate` simulated seconds per second between the server's clock messages.
#[derive(Clone)]
pub struct Clock {
    now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    pub rate: f64,
}

impl Clock {
    /// The system clock.
    pub fn wall() -> Self {
        Clock {
            now: Arc::new(|| {
                let ms = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_millis() as i64);
                Timestamp::from_millis(ms)
            }),
            rate: 1.0,
        }
    }

    /// A clock that reads `start` at the moment of the call and runs `rate` times faster
    /// than the wall clock.
    pub fn scaled(start: Timestamp, rate: f64) -> Self {
        let origin = Instant::now();
        Clock {
            now: Arc::new(move || {
                let ms = (origin.elapsed().as_secs_f64() * rate * 1000.0) as i64;
                Timestamp::from_millis(start.millis() + ms)
            }),
            rate,
        }
    }

    /// Any clock (tests).
    pub fn from_fn(now: impl Fn() -> Timestamp + Send + Sync + 'static, rate: f64) -> Self {
        Clock {
            now: Arc::new(now),
            rate,
        }
    }

    pub fn now(&self) -> Timestamp {
        (self.now)()
    }
}

impl std::fmt::Debug for Clock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Clock").field("rate", &self.rate).finish()
    }
}

/// The state of the HTTP side. Cheap to clone: every field is shared.
#[derive(Clone)]
pub struct AppState {
    engine: Arc<Mutex<Engine>>,
    store: Option<Arc<Mutex<Box<dyn Store>>>>,
    hub: Hub,
    options: Arc<ServerOptions>,
    clock: Option<Clock>,
    metrics: PrometheusHandle,
    ready: Arc<AtomicBool>,
}

impl AppState {
    /// State over a live engine (shared with the pipeline that feeds it) and the hub the
    /// pipeline publishes to. Ready at once; see [`AppState::set_ready`].
    pub fn new(engine: Arc<Mutex<Engine>>, hub: Hub, options: ServerOptions) -> Self {
        AppState {
            engine,
            store: None,
            hub,
            options: Arc::new(options),
            clock: None,
            metrics: telemetry::install(),
            ready: Arc::new(AtomicBool::new(true)),
        }
    }

    /// Adds a store for history (contacts, metrics, alerts): a second handle on the
    /// pipeline's store, used for reads only.
    pub fn with_store(mut self, store: Box<dyn Store>) -> Self {
        self.store = Some(Arc::new(Mutex::new(store)));
        self
    }

    /// Sets the clock the dashboard's time-in-state runs on (default: the engine's
    /// newest event time, at rate 1).
    pub fn with_clock(mut self, clock: Clock) -> Self {
        self.clock = Some(clock);
        self
    }

    pub fn hub(&self) -> &Hub {
        &self.hub
    }

    pub fn options(&self) -> &ServerOptions {
        &self.options
    }

    pub fn metrics(&self) -> &PrometheusHandle {
        &self.metrics
    }

    /// `/readyz` answers 503 until this is set (it is set from the start unless the
    /// caller clears it while it restores state).
    pub fn set_ready(&self, ready: bool) {
        self.ready.store(ready, Ordering::Release);
    }

    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }

    /// Locks the engine (blocking). Keep the guard for as short as possible: the pipeline
    /// waits. From async code use [`AppState::read_engine`].
    pub fn engine(&self) -> MutexGuard<'_, Engine> {
        // A panic while the lock was held leaves a whole-record state: take it over.
        self.engine.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Runs `f` with the engine locked, on the blocking pool: the pipeline may hold the
    /// lock through a store commit (tens of milliseconds), and an async worker waiting
    /// for it would hold up every feed stream it serves.
    pub async fn read_engine<T: Send + 'static>(
        &self,
        f: impl FnOnce(&AppState, &Engine) -> T + Send + 'static,
    ) -> Result<T, ApiError> {
        let state = self.clone();
        tokio::task::spawn_blocking(move || {
            let engine = state.engine();
            f(&state, &engine)
        })
        .await
        .map_err(|e| ApiError::internal("reading the engine", e))
    }

    /// The clock's now and rate; without a clock, the engine's newest event time.
    pub fn now(&self, engine: &Engine) -> (Option<Timestamp>, f64) {
        match &self.clock {
            Some(c) => (Some(c.now()), c.rate),
            None => (engine_now(engine), 1.0),
        }
    }

    /// Whether history routes have a store to read.
    pub fn has_store(&self) -> bool {
        self.store.is_some()
    }

    /// The clock's now and rate without locking the engine: without a clock, the engine's
    /// time as of the last publish. The feed uses this, so a long hold of the engine
    /// lock (a store commit) never stalls a client's stream.
    pub fn clock_now(&self) -> (Option<Timestamp>, f64) {
        match &self.clock {
            Some(c) => (Some(c.now()), c.rate),
            None => (self.hub.engine_clock(), 1.0),
        }
    }

    /// Runs a store query on the blocking pool.
    pub async fn with_store_blocking<T: Send + 'static>(
        &self,
        what: &'static str,
        f: impl FnOnce(&dyn Store) -> Result<T, switchboard_store::StoreError> + Send + 'static,
    ) -> Result<T, ApiError> {
        let Some(store) = self.store.clone() else {
            return Err(ApiError::Unavailable(
                "this server has no store: history is not available".into(),
            ));
        };
        tokio::task::spawn_blocking(move || {
            let store = store.lock().unwrap_or_else(|e| e.into_inner());
            f(store.as_ref())
        })
        .await
        .map_err(|e| ApiError::internal(what, e))?
        .map_err(|e| {
            telemetry::error(telemetry::error_kind::STORE);
            ApiError::internal(what, e)
        })
    }
}
