//! One shard, read by one task while this worker holds its lease.
//!
//! The task reads with `GetRecords` and hands each non-empty page to the pipeline as one
//! [`Delivery`], without waiting for the previous one to be stored (at most
//! `max_in_flight` wait at once). As acknowledgements come back, the lease is
//! checkpointed — at most once per `checkpoint_every` — to the last record of the longest
//! acknowledged prefix, so a crash replays only what may not have been stored.
//!
//! - Throttling (`ProvisionedThroughputExceeded`, `LimitExceeded`) and other failed calls
//!   are retried after a [`Backoff`] with jitter.
//! - An expired iterator (older than 5 minutes, e.g. while the pipeline pushed back) is
//!   replaced by one `AFTER_SEQUENCE_NUMBER` the last record read (or the checkpoint).
//! - A delivery the pipeline could not store rewinds the shard to the last stored record.
//! - At the end of a closed shard (no next iterator), once everything is stored, the lease
//!   is checkpointed `SHARD_END` and given up; the worker then lists the shards, and the
//!   children become takeable.
//!
//! The worker steers the task through a [`Control`] channel: hand the shard over to a
//! worker that stole it for balance (drain, checkpoint, let go), stop for shutdown (drain,
//! checkpoint, release), or stop at once because the lease was lost (no more writes; the
//! deliveries not applied yet are marked revoked so the pipeline drops them).

use std::future::Future;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use switchboard_model::decode::{DecodeError, Decoded, Decoder, Source};
use switchboard_model::{SequenceNumber, Timestamp};
use tokio::sync::watch;
use tokio::time::Instant;
use tracing::{debug, info, warn};

use super::acks::{AckQueue, Acked};
use super::api::{ApiError, KinesisApi, RawRecord, StartAt};
use super::backoff::Backoff;
use super::error::KinesisError;
use crate::delivery::{Delivery, DeliverySender, Partition};
use crate::leases::{Checkpoint, HeldLease, LeaseError, Renewal};

/// What the worker wants the shard task to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Run,
    /// Another worker stole the lease for balance: drain, checkpoint, let it start.
    HandOff,
    /// Shutdown: drain, checkpoint, release the lease.
    Stop,
    /// The lease is lost: stop now, write nothing.
    Revoke,
}

/// How the shard task ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Read to the end and checkpointed `SHARD_END`.
    Ended,
    /// Handed over to the worker that stole it.
    HandedOff,
    /// Released on shutdown.
    Released,
    /// Stopped without writing: the lease is someone else's.
    Revoked,
}

/// The lease writes a shard task makes (a trait so the task is tested without DynamoDB).
pub trait ShardLease: Send + Sync + 'static {
    fn checkpoint(
        &self,
        checkpoint: &Checkpoint,
        children: &[String],
    ) -> impl Future<Output = Result<Renewal, LeaseError>> + Send;
    fn finish_handoff(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> impl Future<Output = Result<bool, LeaseError>> + Send;
    fn release(&self) -> impl Future<Output = Result<bool, LeaseError>> + Send;
}

impl ShardLease for HeldLease {
    async fn checkpoint(
        &self,
        checkpoint: &Checkpoint,
        children: &[String],
    ) -> Result<Renewal, LeaseError> {
        HeldLease::checkpoint(self, checkpoint, children).await
    }
    async fn finish_handoff(&self, checkpoint: Option<&Checkpoint>) -> Result<bool, LeaseError> {
        HeldLease::finish_handoff(self, checkpoint).await
    }
    async fn release(&self) -> Result<bool, LeaseError> {
        HeldLease::release(self).await
    }
}

/// Timings and limits of a shard task.
#[derive(Debug, Clone)]
pub struct ConsumerSettings {
    pub poll_interval: Duration,
    pub limit: u32,
    pub checkpoint_every: Duration,
    pub max_in_flight: usize,
    /// How long a handoff or shutdown waits for the acknowledgements owed.
    pub drain_timeout: Duration,
    pub backoff_base: Duration,
    pub backoff_max: Duration,
    pub at_timestamp: Option<Timestamp>,
}

/// One shard task.
pub struct ShardConsumer<K, L> {
    pub api: Arc<K>,
    pub lease: Arc<L>,
    pub stream: String,
    pub shard: String,
    /// The lease's checkpoint when the task started.
    pub start: Checkpoint,
    pub settings: ConsumerSettings,
    pub deliveries: DeliverySender,
    pub control: watch::Receiver<Control>,
    pub partition: Partition,
    pub decoder: Decoder,
}

/// What one turn of the loop decided.
enum Step {
    Continue,
    Finish(Control),
    /// Checkpointed `SHARD_END`.
    Ended,
}

struct State {
    /// The last checkpoint written (or found).
    checkpointed: Checkpoint,
    last_checkpoint_at: Instant,
    /// The last record of the acknowledged prefix.
    stored: Option<SequenceNumber>,
    /// The last record handed to the pipeline.
    last_read: Option<SequenceNumber>,
    iterator: Option<String>,
    acks: AckQueue,
    backoff: Backoff,
    /// The control sender is gone (the worker forgot us): behave as revoked.
    orphaned: bool,
}

impl<K: KinesisApi, L: ShardLease> ShardConsumer<K, L> {
    fn shard_err(&self, operation: &'static str, message: impl ToString) -> KinesisError {
        KinesisError::Shard {
            stream: self.stream.clone(),
            shard: self.shard.clone(),
            operation,
            message: message.to_string(),
        }
    }

    /// Reads the shard until it ends or the worker says otherwise.
    pub async fn run(mut self) -> Result<Outcome, KinesisError> {
        let mut st = State {
            checkpointed: self.start.clone(),
            last_checkpoint_at: Instant::now(),
            stored: self.start.sequence().cloned(),
            last_read: self.start.sequence().cloned(),
            iterator: None,
            acks: AckQueue::default(),
            backoff: Backoff::new(self.settings.backoff_base, self.settings.backoff_max),
            orphaned: false,
        };
        if self.start == Checkpoint::ShardEnd {
            return Ok(Outcome::Ended);
        }
        info!(stream = %self.stream, shard = %self.shard, from = %self.start, "reading shard");
        loop {
            let control = self.current_control(&st);
            if control != Control::Run {
                return self.finish(&mut st, control).await;
            }
            match self.take_acks(&mut st).await? {
                Step::Continue => {}
                Step::Finish(c) => return self.finish(&mut st, c).await,
                Step::Ended => return Ok(Outcome::Ended),
            }
            if st.acks.len() >= self.settings.max_in_flight {
                self.wait_for_ack(&mut st).await;
                continue;
            }
            match self.read_once(&mut st).await? {
                Step::Continue => {}
                Step::Finish(c) => return self.finish(&mut st, c).await,
                Step::Ended => return Ok(Outcome::Ended),
            }
        }
    }

    fn current_control(&self, st: &State) -> Control {
        if st.orphaned {
            Control::Revoke
        } else {
            *self.control.borrow()
        }
    }

    /// Completes when the control changes (or its sender is gone).
    async fn control_changed(control: &mut watch::Receiver<Control>, orphaned: &mut bool) {
        if *orphaned || control.changed().await.is_err() {
            *orphaned = true;
        }
    }

    /// Sleeps `d`, waking early if the control changes.
    async fn pause(&mut self, st: &mut State, d: Duration) {
        tokio::select! {
            _ = tokio::time::sleep(d) => {}
            _ = Self::control_changed(&mut self.control, &mut st.orphaned) => {}
        }
    }

    async fn wait_for_ack(&mut self, st: &mut State) {
        tokio::select! {
            acked = st.acks.next() => self.apply_acked(st, acked),
            _ = Self::control_changed(&mut self.control, &mut st.orphaned) => {}
        }
    }

    fn apply_acked(&self, st: &mut State, acked: Acked) {
        match acked {
            Acked::Nothing => {}
            Acked::UpTo(seq) => st.stored = Some(seq),
            Acked::Failed { stored, error } => {
                if stored.is_some() {
                    st.stored = stored;
                }
                warn!(stream = %self.stream, shard = %self.shard, %error,
                      after = ?st.stored, "a delivery was not stored: reading again from the last stored record");
                st.last_read = st.stored.clone();
                st.iterator = None;
            }
        }
    }

    /// Takes the acknowledgements received and checkpoints if it is time.
    async fn take_acks(&mut self, st: &mut State) -> Result<Step, KinesisError> {
        let acked = st.acks.poll();
        let failed = matches!(acked, Acked::Failed { .. });
        self.apply_acked(st, acked);
        if failed {
            let d = st.backoff.next_delay();
            self.pause(st, d).await;
        }
        if st.last_checkpoint_at.elapsed() >= self.settings.checkpoint_every {
            return self.checkpoint_stored(st).await;
        }
        Ok(Step::Continue)
    }

    /// Checkpoints the acknowledged prefix, if it moved.
    async fn checkpoint_stored(&mut self, st: &mut State) -> Result<Step, KinesisError> {
        let Some(stored) = st.stored.clone() else {
            return Ok(Step::Continue);
        };
        if st.checkpointed.sequence().is_some_and(|c| *c >= stored) {
            return Ok(Step::Continue);
        }
        let checkpoint = Checkpoint::Sequence(stored);
        match self.lease.checkpoint(&checkpoint, &[]).await {
            Ok(Renewal::Renewed) => {
                debug!(stream = %self.stream, shard = %self.shard, %checkpoint, "checkpointed");
                st.checkpointed = checkpoint;
                st.last_checkpoint_at = Instant::now();
                Ok(Step::Continue)
            }
            Ok(Renewal::HandOff) => Ok(Step::Finish(Control::HandOff)),
            Ok(Renewal::Lost) => Ok(Step::Finish(Control::Revoke)),
            Err(e) => {
                // Transient (DynamoDB unreachable): try again at the next turn.
                warn!(stream = %self.stream, shard = %self.shard, error = %e, "checkpoint failed");
                st.last_checkpoint_at = Instant::now();
                Ok(Step::Continue)
            }
        }
    }

    /// Where a new iterator starts.
    fn start_at(&self, st: &State) -> StartAt {
        if let Some(seq) = &st.last_read {
            return StartAt::After(seq.clone());
        }
        match &self.start {
            Checkpoint::Latest => StartAt::Latest,
            Checkpoint::AtTimestamp => match self.settings.at_timestamp {
                Some(t) => StartAt::AtTimestamp(t),
                // A KCL-made AT_TIMESTAMP lease read by a worker configured otherwise.
                None => StartAt::TrimHorizon,
            },
            Checkpoint::Sequence(s) => StartAt::After(s.clone()),
            Checkpoint::TrimHorizon | Checkpoint::ShardEnd => StartAt::TrimHorizon,
        }
    }

    /// One `GetRecords` (getting an iterator first if needed), delivered.
    async fn read_once(&mut self, st: &mut State) -> Result<Step, KinesisError> {
        let iterator = match &st.iterator {
            Some(it) => it.clone(),
            None => {
                let start = self.start_at(st);
                match self.api.shard_iterator(&self.shard, &start).await {
                    Ok(it) => {
                        st.iterator = Some(it.clone());
                        it
                    }
                    Err(e) => return self.api_failed(st, "GetShardIterator", e).await,
                }
            }
        };
        let page = match self.api.get_records(&iterator, self.settings.limit).await {
            Ok(page) => page,
            Err(e) => return self.api_failed(st, "GetRecords", e).await,
        };
        st.backoff.reset();
        if let Some(behind) = page.millis_behind {
            switchboard_telemetry::input::lag(
                "kinesis",
                &format!("{}/{}", self.stream, self.shard),
                behind as f64 / 1000.0,
            );
        }
        let full = page.records.len() >= self.settings.limit as usize;
        if !page.records.is_empty() && !self.deliver(st, page.records).await? {
            // The control changed while the pipeline pushed back: that page was not
            // delivered, and the iterator moved past it.
            st.iterator = None;
            return Ok(Step::Continue);
        }
        match page.next_iterator {
            Some(next) => st.iterator = Some(next),
            None => return self.shard_end(st, page.children).await,
        }
        if !full {
            let d = self.settings.poll_interval;
            self.pause(st, d).await;
        }
        Ok(Step::Continue)
    }

    async fn api_failed(
        &mut self,
        st: &mut State,
        operation: &'static str,
        e: ApiError,
    ) -> Result<Step, KinesisError> {
        match e {
            ApiError::ExpiredIterator => {
                debug!(stream = %self.stream, shard = %self.shard, after = ?st.last_read,
                       "shard iterator expired: getting a new one");
                st.iterator = None;
            }
            ApiError::Throttled(message) => {
                let d = st.backoff.next_delay();
                debug!(stream = %self.stream, shard = %self.shard, operation, %message,
                       delay_ms = d.as_millis() as u64, "throttled: backing off");
                self.pause(st, d).await;
            }
            ApiError::NotFound(message) => return Err(self.shard_err(operation, message)),
            ApiError::Other(message) => {
                let d = st.backoff.next_delay();
                warn!(stream = %self.stream, shard = %self.shard, operation, %message,
                      attempt = st.backoff.attempts(), "call failed: retrying");
                st.iterator = None;
                self.pause(st, d).await;
            }
        }
        Ok(Step::Continue)
    }

    /// Hands a page to the pipeline. `false` if the control changed before it was taken.
    async fn deliver(
        &mut self,
        st: &mut State,
        records: Vec<RawRecord>,
    ) -> Result<bool, KinesisError> {
        let mut sequences = Vec::with_capacity(records.len());
        for r in &records {
            let seq = SequenceNumber::new(r.sequence.as_str()).ok_or_else(|| {
                KinesisError::BadSequence {
                    stream: self.stream.clone(),
                    shard: self.shard.clone(),
                    sequence: r.sequence.clone(),
                }
            })?;
            sequences.push(seq);
        }
        // A server repeating records we already read: skip them.
        let skip = match &st.last_read {
            Some(last) => sequences.iter().take_while(|s| *s <= last).count(),
            None => 0,
        };
        let Some(last) = sequences.last().cloned().filter(|_| skip < sequences.len()) else {
            return Ok(true);
        };
        let items = decode_records(&self.decoder, &self.shard, &records[skip..]);
        let (mut delivery, ack) =
            Delivery::acked(format!("kinesis:{}/{}", self.stream, self.shard), items);
        delivery.partition = Some(self.partition.clone());
        tokio::select! {
            sent = self.deliveries.send(delivery) => {
                sent.map_err(|_| KinesisError::PipelineClosed { stream: self.stream.clone() })?;
            }
            _ = Self::control_changed(&mut self.control, &mut st.orphaned) => return Ok(false),
        }
        st.acks.push(last.clone(), ack);
        st.last_read = Some(last);
        Ok(true)
    }

    /// The shard is closed and read to its end: once every delivery is stored,
    /// checkpoint `SHARD_END` and give the lease up.
    async fn shard_end(
        &mut self,
        st: &mut State,
        children: Vec<String>,
    ) -> Result<Step, KinesisError> {
        while !st.acks.is_empty() {
            tokio::select! {
                acked = st.acks.next() => {
                    let failed = matches!(acked, Acked::Failed { .. });
                    self.apply_acked(st, acked);
                    if failed {
                        // Read the end of the shard again.
                        return Ok(Step::Continue);
                    }
                }
                _ = Self::control_changed(&mut self.control, &mut st.orphaned) => {
                    let c = self.current_control(st);
                    if c != Control::Run {
                        // The iterator is gone; finishing drains and checkpoints.
                        st.iterator = None;
                        return Ok(Step::Finish(c));
                    }
                }
            }
        }
        loop {
            match self
                .lease
                .checkpoint(&Checkpoint::ShardEnd, &children)
                .await
            {
                Ok(Renewal::Renewed) => break,
                Ok(Renewal::HandOff) => return Ok(Step::Finish(Control::HandOff)),
                Ok(Renewal::Lost) => return Ok(Step::Finish(Control::Revoke)),
                Err(e) => {
                    warn!(stream = %self.stream, shard = %self.shard, error = %e,
                          "SHARD_END checkpoint failed: retrying");
                    let d = st.backoff.next_delay();
                    self.pause(st, d).await;
                    if self.current_control(st) == Control::Revoke {
                        return Ok(Step::Finish(Control::Revoke));
                    }
                }
            }
        }
        st.checkpointed = Checkpoint::ShardEnd;
        info!(stream = %self.stream, shard = %self.shard, ?children, "shard read to its end");
        if let Err(e) = self.lease.release().await {
            debug!(stream = %self.stream, shard = %self.shard, error = %e,
                   "could not release a finished lease (harmless)");
        }
        Ok(Step::Ended)
    }

    /// Drains and lets go, as `control` says.
    async fn finish(&mut self, st: &mut State, control: Control) -> Result<Outcome, KinesisError> {
        if st.checkpointed == Checkpoint::ShardEnd {
            return Ok(Outcome::Ended);
        }
        if matches!(control, Control::Revoke | Control::Run) {
            self.partition.revoked.store(true, Ordering::SeqCst);
            info!(stream = %self.stream, shard = %self.shard, "lease lost: stopped reading");
            return Ok(Outcome::Revoked);
        }
        let deadline = Instant::now() + self.settings.drain_timeout;
        while !st.acks.is_empty() {
            tokio::select! {
                acked = st.acks.next() => {
                    if matches!(acked, Acked::Failed { .. }) {
                        self.apply_acked(st, acked);
                        st.acks.clear();
                        break;
                    }
                    self.apply_acked(st, acked);
                }
                _ = tokio::time::sleep_until(deadline) => {
                    warn!(stream = %self.stream, shard = %self.shard, waiting = st.acks.len(),
                          "gave up waiting for deliveries to be stored: the next owner reads them again");
                    break;
                }
            }
        }
        if !st.acks.is_empty() {
            // Not stored yet: the pipeline must not apply them after the next owner starts.
            self.partition.revoked.store(true, Ordering::SeqCst);
        }
        let progress = st
            .stored
            .clone()
            .filter(|s| st.checkpointed.sequence().is_none_or(|c| s > c))
            .map(Checkpoint::Sequence);
        match control {
            Control::HandOff => {
                match self.lease.finish_handoff(progress.as_ref()).await {
                    Ok(true) => info!(stream = %self.stream, shard = %self.shard,
                                      checkpoint = ?progress, "handed the shard over"),
                    Ok(false) => info!(stream = %self.stream, shard = %self.shard,
                                       "the new owner did not wait for the handoff"),
                    Err(e) => warn!(stream = %self.stream, shard = %self.shard, error = %e,
                                    "handoff checkpoint failed: the new owner starts from the previous one"),
                }
                Ok(Outcome::HandedOff)
            }
            _ => {
                if let Some(cp) = &progress {
                    match self.lease.checkpoint(cp, &[]).await {
                        Ok(Renewal::Renewed) => {}
                        Ok(_) => return Ok(Outcome::Revoked),
                        Err(e) => warn!(stream = %self.stream, shard = %self.shard, error = %e,
                                        "final checkpoint failed"),
                    }
                }
                match self.lease.release().await {
                    Ok(_) => {}
                    Err(e) => warn!(stream = %self.stream, shard = %self.shard, error = %e,
                                    "could not release the lease: it expires instead"),
                }
                info!(stream = %self.stream, shard = %self.shard, checkpoint = ?progress, "released");
                Ok(Outcome::Released)
            }
        }
    }
}

/// Decodes each record's data: Connect puts one JSON record per Kinesis record, but
/// anything the decoder understands (gzip, several values, an envelope) is accepted. Every
/// record and error carries the shard, sequence number and partition key.
pub fn decode_records(
    decoder: &Decoder,
    shard: &str,
    records: &[RawRecord],
) -> Vec<Result<Decoded, DecodeError>> {
    let mut items = Vec::with_capacity(records.len());
    for (i, r) in records.iter().enumerate() {
        let place = |source: &mut Source| {
            source.envelope = Some("kinesis");
            source.index = Some(i);
            source.shard_id = Some(shard.to_string());
            source.sequence_number = Some(r.sequence.clone());
            source.partition_key = Some(r.partition_key.clone());
        };
        if r.data.is_empty() {
            let mut source = Source::default();
            place(&mut source);
            items.push(Err(DecodeError {
                source,
                reason: "empty Kinesis record".into(),
                raw: Vec::new(),
            }));
            continue;
        }
        decoder.decode_slice(None, &r.data, &mut |mut item| {
            match &mut item {
                Ok(d) => place(&mut d.source),
                Err(e) => place(&mut e.source),
            }
            items.push(item);
            std::ops::ControlFlow::Continue(())
        });
    }
    items
}

#[cfg(test)]
#[path = "consumer_tests.rs"]
mod tests;
