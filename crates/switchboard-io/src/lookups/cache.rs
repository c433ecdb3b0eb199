//! The cache in front of every lookup: answers kept for a TTL under a size bound, so a
//! caller who rings ten times in an hour costs one read of the customer table.
//!
//! - A found value is kept for `ttl`; a key the table lacks is remembered as missing for
//!   its own, usually shorter, `miss_ttl` (a new customer is found soon, while a flood of
//!   unknown numbers does not reach the table on every record).
//! - At most `max_entries` keys (found and missing together) are held. Past the bound the
//!   least recently used key is dropped: an entry's recency is updated on every hit, and
//!   expired entries are dropped when met. `max_entries = 0` turns caching off.
//! - Only the keys not cached (or expired) are asked of the table, in one call.
//! - Concurrent calls that need the same key share one call to the table: the second
//!   waits for the first's answer instead of asking again. If the first is abandoned
//!   (its caller timed out and dropped it), the waiter asks the table itself. A failed
//!   call fails every caller waiting on it; nothing is cached from it.
//!
//! Time is `tokio::time::Instant`, so tests run with paused time. The layer also records
//! the lookup's metrics (keys asked, found, missing, answered from the cache, errors).

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use serde_json::Value;
use tokio::sync::watch;
use tokio::time::Instant;

use super::config::CacheSettings;
use super::{Lookup, LookupError};

/// What one call to the table answered: shared with the callers waiting on it.
type Answer = Result<Arc<HashMap<String, Value>>, LookupError>;

/// `inner` behind a TTL- and size-bounded cache.
pub struct Cached<L> {
    inner: L,
    ttl: Duration,
    miss_ttl: Duration,
    max_entries: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    entries: HashMap<String, Entry>,
    /// Keys by the tick of their last use, oldest first: the eviction order.
    recency: BTreeMap<u64, String>,
    tick: u64,
    /// Keys being fetched right now, with the call fetching them.
    in_flight: HashMap<String, Flight>,
    next_flight: u64,
}

struct Entry {
    /// `None`: the table does not have the key.
    value: Option<Value>,
    expires: Instant,
    used: u64,
}

#[derive(Clone)]
struct Flight {
    id: u64,
    answer: watch::Receiver<Option<Answer>>,
}

impl<L: Lookup> Cached<L> {
    pub fn new(inner: L, settings: &CacheSettings) -> Self {
        Cached {
            inner,
            ttl: settings.ttl(),
            miss_ttl: settings.miss_ttl(),
            max_entries: settings.max_entries,
            state: Mutex::new(State::default()),
        }
    }

    /// Keys held now, expired ones included until they are met or evicted.
    pub fn len(&self) -> usize {
        self.lock().entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The wrapped lookup.
    pub fn inner(&self) -> &L {
        &self.inner
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // The state stays consistent between statements, so a panic elsewhere while
        // holding the lock leaves nothing half-done worth refusing.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks the table for `keys`, then caches what it said and wakes the waiters.
    async fn fetch(
        &self,
        keys: Vec<String>,
        flight: Option<(u64, watch::Sender<Option<Answer>>)>,
    ) -> Answer {
        let guard = flight.as_ref().map(|(id, _)| FlightGuard {
            cache: self,
            id: *id,
            keys: &keys,
        });
        let answer = self.inner.get_many(&keys).await.map(Arc::new);
        if let Ok(found) = &answer {
            let mut state = self.lock();
            let now = Instant::now();
            for key in &keys {
                let value = found.get(key).cloned();
                self.store(&mut state, key.clone(), value, now);
            }
        }
        drop(guard);
        if let Some((_, sender)) = flight {
            sender.send_replace(Some(answer.clone()));
        }
        answer
    }

    fn store(&self, state: &mut State, key: String, value: Option<Value>, now: Instant) {
        let ttl = if value.is_some() {
            self.ttl
        } else {
            self.miss_ttl
        };
        if self.max_entries == 0 || ttl.is_zero() {
            return;
        }
        if let Some(old) = state.entries.remove(&key) {
            state.recency.remove(&old.used);
        }
        while state.entries.len() >= self.max_entries {
            let Some((_, oldest)) = state.recency.pop_first() else {
                break;
            };
            state.entries.remove(&oldest);
        }
        state.tick += 1;
        let used = state.tick;
        state.recency.insert(used, key.clone());
        state.entries.insert(
            key,
            Entry {
                value,
                expires: now + ttl,
                used,
            },
        );
    }
}

/// Removes a call's keys from the in-flight map however the call ends (answered, failed
/// or dropped mid-way), so no later caller waits on a call that will never answer.
struct FlightGuard<'a, L> {
    cache: &'a Cached<L>,
    id: u64,
    keys: &'a [String],
}

impl<L> Drop for FlightGuard<'_, L> {
    fn drop(&mut self) {
        let mut state = self.cache.state.lock().unwrap_or_else(|e| e.into_inner());
        for key in self.keys {
            if state.in_flight.get(key).is_some_and(|f| f.id == self.id) {
                state.in_flight.remove(key);
            }
        }
    }
}

/// What the cache can say about a call's keys before asking the table.
struct Plan {
    found: HashMap<String, Value>,
    cached: u64,
    to_fetch: Vec<String>,
    flight: Option<(u64, watch::Sender<Option<Answer>>)>,
    /// Keys another call is fetching, grouped by that call.
    waiting: Vec<(Flight, Vec<String>)>,
}

impl<L: Lookup> Cached<L> {
    fn plan(&self, keys: &[String]) -> Plan {
        let mut state = self.lock();
        let now = Instant::now();
        let mut plan = Plan {
            found: HashMap::new(),
            cached: 0,
            to_fetch: Vec::new(),
            flight: None,
            waiting: Vec::new(),
        };
        for key in keys {
            if let Some(entry) = state.entries.get(key) {
                if entry.expires > now {
                    let old = entry.used;
                    let value = entry.value.clone();
                    state.tick += 1;
                    let used = state.tick;
                    state.recency.remove(&old);
                    state.recency.insert(used, key.clone());
                    if let Some(entry) = state.entries.get_mut(key) {
                        entry.used = used;
                    }
                    plan.cached += 1;
                    if let Some(value) = value {
                        plan.found.insert(key.clone(), value);
                    }
                    continue;
                }
                if let Some(expired) = state.entries.remove(key) {
                    state.recency.remove(&expired.used);
                }
            }
            if let Some(flight) = state.in_flight.get(key) {
                let flight = flight.clone();
                match plan.waiting.iter_mut().find(|(f, _)| f.id == flight.id) {
                    Some((_, keys)) => keys.push(key.clone()),
                    None => plan.waiting.push((flight, vec![key.clone()])),
                }
                continue;
            }
            if plan.flight.is_none() {
                state.next_flight += 1;
                let (sender, _) = watch::channel(None);
                plan.flight = Some((state.next_flight, sender));
            }
            if let Some((id, sender)) = &plan.flight {
                state.in_flight.insert(
                    key.clone(),
                    Flight {
                        id: *id,
                        answer: sender.subscribe(),
                    },
                );
            }
            plan.to_fetch.push(key.clone());
        }
        plan
    }
}

#[async_trait::async_trait]
impl<L: Lookup> Lookup for Cached<L> {
    fn name(&self) -> &str {
        self.inner.name()
    }

    async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
        let name = self.inner.name();
        switchboard_telemetry::lookup_requests(name, keys.len() as u64);
        let Plan {
            mut found,
            cached,
            to_fetch,
            flight,
            waiting,
        } = self.plan(keys);
        switchboard_telemetry::lookup_cache_hits(name, cached);

        let result = async {
            if !to_fetch.is_empty() {
                let answer = self.fetch(to_fetch.clone(), flight).await?;
                for key in &to_fetch {
                    if let Some(value) = answer.get(key) {
                        found.insert(key.clone(), value.clone());
                    }
                }
            }
            for (mut flight, keys) in waiting {
                let shared = match flight.answer.wait_for(Option::is_some).await {
                    Ok(answer) => answer.clone(),
                    // That call was dropped before it answered: ask ourselves.
                    Err(_) => None,
                };
                let answer = match shared {
                    Some(answer) => answer?,
                    None => self.fetch(keys.clone(), None).await?,
                };
                for key in keys {
                    if let Some(value) = answer.get(&key) {
                        found.insert(key, value.clone());
                    }
                }
            }
            Ok(())
        }
        .await;

        match result {
            Ok(()) => {
                let hits = found.len() as u64;
                switchboard_telemetry::lookup_hits(name, hits);
                switchboard_telemetry::lookup_misses(name, keys.len() as u64 - hits);
                Ok(found)
            }
            Err(e) => {
                switchboard_telemetry::lookup_error(name);
                Err(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A table of `key -> "value of key"` for keys starting with `k`, counting the keys
    /// it is asked for; fails while `failing` is set.
    #[derive(Default)]
    struct Table {
        asked: Mutex<Vec<Vec<String>>>,
        failing: std::sync::atomic::AtomicBool,
        delay: Option<Duration>,
        calls: AtomicUsize,
    }

    impl Table {
        fn asked(&self) -> Vec<Vec<String>> {
            self.asked.lock().unwrap().clone()
        }
    }

    #[async_trait::async_trait]
    impl Lookup for Arc<Table> {
        fn name(&self) -> &str {
            "table"
        }
        async fn get_many(&self, keys: &[String]) -> Result<HashMap<String, Value>, LookupError> {
            self.calls.fetch_add(1, Ordering::SeqCst);
            self.asked.lock().unwrap().push(keys.to_vec());
            if let Some(delay) = self.delay {
                tokio::time::sleep(delay).await;
            }
            if self.failing.load(Ordering::SeqCst) {
                return Err(LookupError {
                    lookup: "table".into(),
                    reason: "down".into(),
                    retryable: true,
                });
            }
            Ok(keys
                .iter()
                .filter(|k| k.starts_with('k'))
                .map(|k| (k.clone(), json!(format!("value of {k}"))))
                .collect())
        }
    }

    fn keys(list: &[&str]) -> Vec<String> {
        list.iter().map(|k| k.to_string()).collect()
    }

    fn cached(table: &Arc<Table>, ttl: u64, miss_ttl: u64, max: usize) -> Cached<Arc<Table>> {
        Cached::new(
            Arc::clone(table),
            &CacheSettings {
                ttl_secs: ttl,
                miss_ttl_secs: miss_ttl,
                max_entries: max,
            },
        )
    }

    #[tokio::test(start_paused = true)]
    async fn hits_do_not_reach_the_table_and_only_new_keys_are_asked() {
        let table = Arc::new(Table::default());
        let cache = cached(&table, 300, 60, 100);
        let first = cache.get_many(&keys(&["k1", "k2", "x1"])).await.unwrap();
        assert_eq!(first.len(), 2);
        assert_eq!(first["k1"], json!("value of k1"));
        let second = cache.get_many(&keys(&["k1", "x1", "k3"])).await.unwrap();
        assert_eq!(second.len(), 2);
        assert!(second.contains_key("k3") && !second.contains_key("x1"));
        assert_eq!(
            table.asked(),
            vec![keys(&["k1", "k2", "x1"]), keys(&["k3"])]
        );
        cache
            .get_many(&keys(&["k1", "k2", "k3", "x1"]))
            .await
            .unwrap();
        assert_eq!(table.asked().len(), 2, "all four were cached");
    }

    #[tokio::test(start_paused = true)]
    async fn values_expire_after_the_ttl_and_misses_after_the_miss_ttl() {
        let table = Arc::new(Table::default());
        let cache = cached(&table, 300, 60, 100);
        cache.get_many(&keys(&["k1", "x1"])).await.unwrap();
        tokio::time::advance(Duration::from_secs(59)).await;
        cache.get_many(&keys(&["k1", "x1"])).await.unwrap();
        assert_eq!(table.asked().len(), 1);
        tokio::time::advance(Duration::from_secs(2)).await;
        cache.get_many(&keys(&["k1", "x1"])).await.unwrap();
        assert_eq!(table.asked()[1], keys(&["x1"]), "only the miss expired");
        tokio::time::advance(Duration::from_secs(39)).await; // 100 s
        cache.get_many(&keys(&["k1", "x1"])).await.unwrap();
        assert_eq!(table.asked().len(), 2, "the miss was cached again at 61 s");
        tokio::time::advance(Duration::from_secs(199)).await; // 299 s
        cache.get_many(&keys(&["k1"])).await.unwrap();
        assert_eq!(table.asked().len(), 2);
        tokio::time::advance(Duration::from_secs(2)).await; // 301 s
        cache.get_many(&keys(&["k1"])).await.unwrap();
        assert_eq!(
            table.asked()[2],
            keys(&["k1"]),
            "the value expired at 300 s"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn the_least_recently_used_key_is_evicted_past_the_bound() {
        let table = Arc::new(Table::default());
        let cache = cached(&table, 300, 60, 3);
        cache.get_many(&keys(&["k1", "k2", "k3"])).await.unwrap();
        cache.get_many(&keys(&["k1"])).await.unwrap(); // k1 is now the most recent
        cache.get_many(&keys(&["k4"])).await.unwrap(); // evicts k2
        assert_eq!(cache.len(), 3);
        cache.get_many(&keys(&["k1", "k3", "k4"])).await.unwrap();
        assert_eq!(table.asked().len(), 2, "k1, k3 and k4 still cached");
        cache.get_many(&keys(&["k2"])).await.unwrap();
        assert_eq!(table.asked()[2], keys(&["k2"]));
        assert_eq!(cache.len(), 3);
    }

    #[tokio::test(start_paused = true)]
    async fn zero_entries_or_zero_ttl_cache_nothing() {
        let table = Arc::new(Table::default());
        let off = Cached::new(Arc::clone(&table), &CacheSettings::OFF);
        off.get_many(&keys(&["k1"])).await.unwrap();
        off.get_many(&keys(&["k1"])).await.unwrap();
        assert_eq!(table.asked().len(), 2);
        assert!(off.is_empty());

        let table = Arc::new(Table::default());
        let no_misses = cached(&table, 300, 0, 100);
        no_misses.get_many(&keys(&["k1", "x1"])).await.unwrap();
        no_misses.get_many(&keys(&["k1", "x1"])).await.unwrap();
        assert_eq!(table.asked()[1], keys(&["x1"]));
    }

    #[tokio::test(start_paused = true)]
    async fn errors_are_not_cached_and_pass_through() {
        let table = Arc::new(Table::default());
        let cache = cached(&table, 300, 60, 100);
        table.failing.store(true, Ordering::SeqCst);
        let err = cache.get_many(&keys(&["k1"])).await.unwrap_err();
        assert!(err.retryable);
        assert_eq!(err.reason, "down");
        table.failing.store(false, Ordering::SeqCst);
        let found = cache.get_many(&keys(&["k1"])).await.unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!(table.asked().len(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_calls_for_one_key_share_one_table_call() {
        let table = Arc::new(Table {
            delay: Some(Duration::from_millis(100)),
            ..Table::default()
        });
        let cache = Arc::new(cached(&table, 300, 60, 100));
        let a = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_many(&keys(&["k1", "k2"])).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let b = cache.get_many(&keys(&["k2", "k3"])).await.unwrap();
        let a = a.await.unwrap().unwrap();
        assert_eq!(a.len(), 2);
        assert_eq!(b.len(), 2);
        assert_eq!(b["k2"], json!("value of k2"));
        assert_eq!(table.asked(), vec![keys(&["k1", "k2"]), keys(&["k3"])]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_waiter_asks_itself_when_the_first_call_is_abandoned() {
        let table = Arc::new(Table {
            delay: Some(Duration::from_millis(100)),
            ..Table::default()
        });
        let cache = Arc::new(cached(&table, 300, 60, 100));
        let first = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_many(&keys(&["k1"])).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        let second = tokio::spawn({
            let cache = Arc::clone(&cache);
            async move { cache.get_many(&keys(&["k1"])).await }
        });
        tokio::time::sleep(Duration::from_millis(10)).await;
        first.abort();
        let found = second.await.unwrap().unwrap();
        assert_eq!(found["k1"], json!("value of k1"));
        assert_eq!(table.calls.load(Ordering::SeqCst), 2);
        // And a later call finds it cached, with no stale in-flight entry.
        cache.get_many(&keys(&["k1"])).await.unwrap();
        assert_eq!(table.calls.load(Ordering::SeqCst), 2);
    }
}
