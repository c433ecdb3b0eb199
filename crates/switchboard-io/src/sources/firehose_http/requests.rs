//! Which Firehose requests were stored, and which are still waiting for their commit, by
//! request id: Firehose retries a request with the same `X-Amz-Firehose-Request-Id`
//! when it gets no 200 (a timeout, a 503, a lost connection), and a retry must not be
//! applied twice.
//!
//! Each id has a [`Slot`] behind an async mutex, so attempts with one id take turns. The
//! slot holds the acknowledgement receiver of the delivery sent for that id until the
//! acknowledgement arrives: an attempt that gave up waiting (503 after the timeout, or a
//! handler dropped because Firehose hung up) leaves it there, and the retry waits on the
//! same acknowledgement instead of delivering the records again. Once stored, the id
//! answers 200 for `window`; after a failure the next attempt delivers afresh.
//!
//! Memory is bounded: ids are forgotten after `window` or, oldest first, beyond
//! `capacity`. (Forgetting an id whose delivery is still in flight only costs a
//! duplicate delivery, which the engine's own dedupe absorbs.)

use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::oneshot;
use tokio::time::Instant;

use crate::delivery::AckError;

/// What is known of one request id.
#[derive(Debug, Default)]
pub(crate) struct Slot {
    /// Stored: a retry gets 200 without being applied.
    pub stored: bool,
    /// Delivered, acknowledgement not received yet.
    pub pending: Option<oneshot::Receiver<Result<(), AckError>>>,
}

pub(crate) type SharedSlot = Arc<tokio::sync::Mutex<Slot>>;

/// The request ids of the dedupe window.
#[derive(Debug)]
pub(crate) struct RequestLog {
    inner: Mutex<Inner>,
    window: Duration,
    capacity: usize,
}

#[derive(Debug, Default)]
struct Inner {
    slots: HashMap<String, SharedSlot>,
    /// Ids by first sight, oldest first, for expiry.
    order: VecDeque<(Instant, String)>,
}

impl RequestLog {
    pub fn new(window: Duration, capacity: usize) -> Self {
        Self {
            inner: Mutex::new(Inner::default()),
            window,
            capacity: capacity.max(1),
        }
    }

    /// The slot of `id`, created empty on first sight.
    pub fn slot(&self, id: &str) -> SharedSlot {
        let now = Instant::now();
        // A poisoned lock only means another handler panicked mid-update of a map that
        // stays consistent (every update is a single insert or remove).
        let mut inner = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        inner.forget_older_than(now, self.window);
        if let Some(slot) = inner.slots.get(id) {
            return Arc::clone(slot);
        }
        while inner.slots.len() >= self.capacity && inner.forget_oldest() {}
        let slot = SharedSlot::default();
        inner.slots.insert(id.to_owned(), Arc::clone(&slot));
        inner.order.push_back((now, id.to_owned()));
        slot
    }

    /// How many ids are remembered.
    #[cfg(test)]
    pub fn len(&self) -> usize {
        self.inner.lock().unwrap().slots.len()
    }
}

impl Inner {
    fn forget_older_than(&mut self, now: Instant, window: Duration) {
        while self
            .order
            .front()
            .is_some_and(|(seen, _)| now.saturating_duration_since(*seen) >= window)
        {
            self.forget_oldest();
        }
    }

    /// Forgets the oldest id; false when there is none.
    fn forget_oldest(&mut self) -> bool {
        match self.order.pop_front() {
            Some((_, id)) => {
                self.slots.remove(&id);
                true
            }
            None => false,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn same_id_same_slot_until_the_window_passes() {
        let log = RequestLog::new(Duration::from_secs(60), 10);
        let a = log.slot("a");
        a.lock().await.stored = true;
        assert!(
            log.slot("a").lock().await.stored,
            "same slot within the window"
        );
        tokio::time::advance(Duration::from_secs(61)).await;
        assert!(
            !log.slot("a").lock().await.stored,
            "forgotten after the window"
        );
    }

    #[tokio::test(start_paused = true)]
    async fn capacity_forgets_the_oldest() {
        let log = RequestLog::new(Duration::from_secs(3600), 3);
        for id in ["a", "b", "c"] {
            log.slot(id).lock().await.stored = true;
            tokio::time::advance(Duration::from_secs(1)).await;
        }
        assert_eq!(log.len(), 3);
        log.slot("d");
        assert_eq!(log.len(), 3);
        assert!(log.slot("b").lock().await.stored, "newer ids kept");
        assert!(log.slot("c").lock().await.stored, "newer ids kept");
        assert_eq!(log.len(), 3, "looking up a known id forgets nothing");
        assert!(
            !log.slot("a").lock().await.stored,
            "the oldest was forgotten"
        );
    }
}
