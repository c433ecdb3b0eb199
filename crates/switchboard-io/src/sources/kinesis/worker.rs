//! The worker: one per `switchboard run` and stream. It keeps the lease table in step
//! with the stream's shards, takes and renews leases, and runs one [`ShardConsumer`] task
//! per lease it holds.
//!
//! Three timers drive it: renew every held lease (a third of the lease duration), scan
//! the table and take or steal leases ([`balance`], every half lease duration), list the
//! shards and create leases for new ones ([`shards`], every `shard_sync_interval`, and as
//! soon as a shard task reaches the end of a closed shard). A lease stolen from a live
//! worker is only started once that worker has finished the handoff (or after a lease
//! duration, if it died meanwhile). A lease found lost at renewal has its task revoked at
//! once. On shutdown every task drains, checkpoints and releases its lease, so the other
//! workers take the shards without waiting for them to expire.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use rand::Rng;
use switchboard_model::decode::Decoder;
use tokio::sync::watch;
use tokio::task::{Id, JoinSet};
use tokio::time::{interval_at, Instant, MissedTickBehavior};
use tracing::{debug, error, info, warn};

use super::api::{ApiError, KinesisApi, StreamIdentity};
use super::config::KinesisConfig;
use super::consumer::{ConsumerSettings, Control, Outcome, ShardConsumer};
use super::error::KinesisError;
use super::shards;
use crate::context::SourceContext;
use crate::delivery::Partition;
use crate::leases::balance::{self, Expiry, View};
use crate::leases::{HeldLease, Lease, LeaseError, LeaseTable, Renewal};

/// Epochs of partitions acquired by this process: unique and growing.
static NEXT_EPOCH: AtomicU64 = AtomicU64::new(1);

/// Deliveries one shard task may have waiting for their commit.
const MAX_IN_FLIGHT: usize = 8;
/// Checkpoint at most this often per shard.
const CHECKPOINT_EVERY: Duration = Duration::from_secs(1);

enum Phase {
    /// Stolen by us; the previous owner still drains and checkpoints.
    AwaitingHandoff { since: Instant },
    /// A task reads the shard.
    Running {
        control: watch::Sender<Control>,
        partition: Partition,
    },
    /// The task was told to hand over or stop; no more renewals.
    Leaving,
}

struct Held {
    lease: Arc<HeldLease>,
    phase: Phase,
    last_renewed: Instant,
    /// The shard task, once started.
    task: Option<Id>,
}

pub struct Worker<K: KinesisApi> {
    config: KinesisConfig,
    me: String,
    stream: StreamIdentity,
    table: LeaseTable,
    api: Arc<K>,
    ctx: SourceContext,
    held: HashMap<String, Held>,
    tasks: JoinSet<Result<Outcome, KinesisError>>,
    task_keys: HashMap<Id, String>,
    expiry: Expiry,
    /// The shard ids of the last listing.
    listing: Option<HashSet<String>>,
    settings: ConsumerSettings,
    decoder: Decoder,
}

impl<K: KinesisApi> Worker<K> {
    pub fn new(
        config: KinesisConfig,
        stream: StreamIdentity,
        table: LeaseTable,
        api: K,
        ctx: SourceContext,
    ) -> Self {
        let lease_duration = config.lease_duration();
        let settings = ConsumerSettings {
            poll_interval: config.poll_interval(),
            limit: config.get_records_limit,
            checkpoint_every: CHECKPOINT_EVERY.min(lease_duration / 3),
            max_in_flight: MAX_IN_FLIGHT,
            // A handoff must be over before the new owner stops waiting (one lease
            // duration); we learn of it up to a renewal interval (a third) late.
            drain_timeout: lease_duration / 3,
            backoff_base: Duration::from_millis(200),
            backoff_max: Duration::from_secs(10),
            at_timestamp: config.start_timestamp,
        };
        Self {
            me: config.worker_id_or_default(),
            config,
            stream,
            table,
            api: Arc::new(api),
            ctx,
            held: HashMap::new(),
            tasks: JoinSet::new(),
            task_keys: HashMap::new(),
            expiry: Expiry::default(),
            listing: None,
            settings,
            decoder: Decoder::default(),
        }
    }

    fn lease_err(&self, source: LeaseError) -> KinesisError {
        KinesisError::Lease {
            stream: self.stream.name.clone(),
            source,
        }
    }

    /// Runs until shutdown; every shard task has ended when it returns.
    pub async fn run(mut self) -> Result<(), KinesisError> {
        info!(stream = %self.stream.name, table = %self.table.name(), worker = %self.me,
              "kinesis worker starting");
        let result = self.run_loop().await;
        self.shutdown().await;
        info!(stream = %self.stream.name, worker = %self.me, "kinesis worker stopped");
        result
    }

    async fn run_loop(&mut self) -> Result<(), KinesisError> {
        let lease_duration = self.config.lease_duration();
        let start = Instant::now();
        let mut renew = interval_at(start + lease_duration / 3, lease_duration / 3);
        let mut take = interval_at(start + lease_duration / 2, lease_duration / 2);
        let sync_every = self.config.shard_sync_interval();
        let mut sync = interval_at(start + sync_every, sync_every);
        for timer in [&mut renew, &mut take, &mut sync] {
            timer.set_missed_tick_behavior(MissedTickBehavior::Delay);
        }
        let shutdown = self.ctx.clone();
        if self.ctx.is_shutting_down() {
            return Ok(());
        }
        self.sync_shards().await?;
        self.take_leases().await?;
        loop {
            tokio::select! {
                biased;
                _ = shutdown.shutdown_signalled() => return Ok(()),
                Some(joined) = self.tasks.join_next_with_id(), if !self.tasks.is_empty() => {
                    if self.task_done(joined).await {
                        self.sync_shards().await?;
                        self.take_leases().await?;
                    }
                }
                _ = renew.tick() => self.renew_all().await,
                _ = take.tick() => self.take_leases().await?,
                _ = sync.tick() => self.sync_shards().await?,
            }
        }
    }

    /// Lists the shards and creates leases for new ones. Transient failures are logged;
    /// a stream that does not exist, or a table of another stream, stops the worker.
    async fn sync_shards(&mut self) -> Result<(), KinesisError> {
        let shards = match self.api.list_shards().await {
            Ok(s) => s,
            Err(ApiError::NotFound(message)) => {
                return Err(KinesisError::Stream {
                    stream: self.stream.name.clone(),
                    operation: "ListShards",
                    message,
                })
            }
            Err(e) => {
                warn!(stream = %self.stream.name, error = %e, "cannot list the shards: trying again later");
                return Ok(());
            }
        };
        let existing: HashSet<String> = match self.table.list().await {
            Ok(leases) => leases.into_iter().map(|l| l.key).collect(),
            Err(e @ LeaseError::OtherStream { .. }) => return Err(self.lease_err(e)),
            Err(e) => {
                warn!(stream = %self.stream.name, error = %e, "cannot read the lease table");
                return Ok(());
            }
        };
        for lease in shards::leases_to_create(&shards, &existing, self.config.start_position) {
            match self.table.create_lease(&lease).await {
                Ok(true) => info!(stream = %self.stream.name, shard = %lease.key,
                                  checkpoint = %lease.checkpoint, parents = ?lease.parents,
                                  "new lease"),
                Ok(false) => {}
                Err(e) => {
                    // Parents first: stop here so no child exists without its parent.
                    warn!(stream = %self.stream.name, shard = %lease.key, error = %e,
                          "cannot create a lease: trying again later");
                    break;
                }
            }
        }
        self.listing = Some(shards.into_iter().map(|s| s.id).collect());
        Ok(())
    }

    /// Scans the table; takes free or expired leases, or steals one, as [`balance`] says.
    async fn take_leases(&mut self) -> Result<(), KinesisError> {
        let leases = match self.table.list().await {
            Ok(l) => l,
            Err(e @ LeaseError::OtherStream { .. }) => return Err(self.lease_err(e)),
            Err(e) => {
                warn!(stream = %self.stream.name, error = %e, "cannot read the lease table");
                return Ok(());
            }
        };
        let now = Instant::now();
        self.expiry.observe(&leases, now.into_std());
        let duration = self.config.lease_duration();
        // A lease naming us that we do not hold is left from an earlier process with our
        // id: free for the taking.
        let view: Vec<Lease> = leases
            .iter()
            .map(|l| {
                let mut l = l.clone();
                if l.is_owned_by(&self.me) && !self.held.contains_key(&l.key) {
                    l.owner = None;
                }
                l
            })
            .collect();
        let expired: HashSet<String> = view
            .iter()
            .filter(|l| l.owner.is_some() && !l.is_owned_by(&self.me))
            .filter(|l| self.expiry.is_expired(l, duration, now.into_std()))
            .map(|l| l.key.clone())
            .collect();
        let ready = balance::ready_keys(&view, self.listing.as_ref());
        let plan = balance::plan(
            &View {
                me: &self.me,
                leases: &view,
                expired: &expired,
                ready: &ready,
                max_leases: self.config.max_leases_per_worker.unwrap_or(usize::MAX),
            },
            &mut |n| rand::thread_rng().gen_range(0..n),
        );
        let by_key: HashMap<&str, &Lease> = leases.iter().map(|l| (l.key.as_str(), l)).collect();
        for key in &plan.take {
            // Still ours, its task still stopping: not taken twice.
            if self.held.contains_key(key) {
                continue;
            }
            let Some(lease) = by_key.get(key.as_str()) else {
                continue;
            };
            match self.table.take(lease, &self.me).await {
                Ok(Some(taken)) => {
                    info!(stream = %self.stream.name, shard = %key, from = ?lease.owner,
                          checkpoint = %taken.checkpoint, target = plan.target, "took lease");
                    let held = Arc::new(HeldLease::new(self.table.clone(), &self.me, taken));
                    self.start(key.clone(), held).await;
                }
                Ok(None) => debug!(shard = %key, "another worker took the lease first"),
                Err(e) => warn!(shard = %key, error = %e, "cannot take lease"),
            }
        }
        if let Some(key) = plan.steal.as_ref().filter(|k| !self.held.contains_key(*k)) {
            let Some(lease) = by_key.get(key.as_str()) else {
                return Ok(());
            };
            match self.table.steal(lease, &self.me).await {
                Ok(Some(stolen)) => {
                    info!(stream = %self.stream.name, shard = %key, from = ?lease.owner,
                          target = plan.target, "took lease for balance: waiting for the handoff");
                    let held = Arc::new(HeldLease::new(self.table.clone(), &self.me, stolen));
                    self.held.insert(
                        key.clone(),
                        Held {
                            lease: held,
                            phase: Phase::AwaitingHandoff { since: now },
                            last_renewed: now,
                            task: None,
                        },
                    );
                }
                Ok(None) => debug!(shard = %key, "the lease changed before we could steal it"),
                Err(e) => warn!(shard = %key, error = %e, "cannot steal lease"),
            }
        }
        Ok(())
    }

    /// Starts a shard task for a lease we hold.
    async fn start(&mut self, key: String, lease: Arc<HeldLease>) {
        let snapshot = lease.snapshot().await;
        let partition = Partition::new(
            format!("kinesis:{}/{}", self.stream.name, key),
            NEXT_EPOCH.fetch_add(1, Ordering::Relaxed),
        );
        let (control, control_rx) = watch::channel(Control::Run);
        let consumer = ShardConsumer {
            api: Arc::clone(&self.api),
            lease: Arc::clone(&lease),
            stream: self.stream.name.clone(),
            shard: key.clone(),
            start: snapshot.checkpoint,
            settings: self.settings.clone(),
            deliveries: self.ctx.deliveries.clone(),
            control: control_rx,
            partition: partition.clone(),
            decoder: self.decoder.clone(),
        };
        let handle = self.tasks.spawn(consumer.run());
        self.task_keys.insert(handle.id(), key.clone());
        self.held.insert(
            key,
            Held {
                lease,
                phase: Phase::Running { control, partition },
                last_renewed: Instant::now(),
                task: Some(handle.id()),
            },
        );
    }

    /// Renews every lease we hold; starts leases whose handoff is over; stops tasks whose
    /// lease was lost or is being handed over.
    async fn renew_all(&mut self) {
        let duration = self.config.lease_duration();
        let keys: Vec<String> = self.held.keys().cloned().collect();
        for key in keys {
            let Some(held) = self.held.get(&key) else {
                continue;
            };
            if matches!(held.phase, Phase::Leaving) {
                continue;
            }
            let lease = Arc::clone(&held.lease);
            let renewal = lease.renew().await;
            let now = Instant::now();
            let Some(held) = self.held.get_mut(&key) else {
                continue;
            };
            let verdict = match renewal {
                Ok(v) => {
                    held.last_renewed = now;
                    v
                }
                Err(e) if now.duration_since(held.last_renewed) < duration => {
                    warn!(stream = %self.stream.name, shard = %key, error = %e, "renewal failed");
                    continue;
                }
                Err(e) => {
                    warn!(stream = %self.stream.name, shard = %key, error = %e,
                          "not renewed for a lease duration: giving the shard up");
                    Renewal::Lost
                }
            };
            match verdict {
                Renewal::Renewed => {
                    if let Phase::AwaitingHandoff { since } = held.phase {
                        self.maybe_start_after_handoff(&key, since).await;
                    }
                }
                Renewal::HandOff => {
                    info!(stream = %self.stream.name, shard = %key, "another worker took this lease for balance: handing over");
                    self.leave(&key, Control::HandOff);
                }
                Renewal::Lost => {
                    warn!(stream = %self.stream.name, shard = %key, "lease lost");
                    self.leave(&key, Control::Revoke);
                }
            }
        }
    }

    async fn maybe_start_after_handoff(&mut self, key: &str, since: Instant) {
        let Some(held) = self.held.get(key) else {
            return;
        };
        let lease = Arc::clone(&held.lease);
        let snapshot = lease.snapshot().await;
        let ready = if snapshot.checkpoint_owner.is_none() {
            true
        } else if since.elapsed() >= self.config.lease_duration() {
            warn!(stream = %self.stream.name, shard = %key, previous = ?snapshot.checkpoint_owner,
                  "the previous owner never finished the handoff: starting from its last checkpoint");
            matches!(lease.abandon_handoff().await, Ok(true))
        } else {
            false
        };
        if ready {
            info!(stream = %self.stream.name, shard = %key, checkpoint = %snapshot.checkpoint, "handoff done");
            self.start(key.to_string(), lease).await;
        }
    }

    /// Tells a task to hand over or stop; forgets a lease that has no task.
    fn leave(&mut self, key: &str, control: Control) {
        let Some(held) = self.held.get_mut(key) else {
            return;
        };
        match std::mem::replace(&mut held.phase, Phase::Leaving) {
            Phase::Running {
                control: tx,
                partition,
            } => {
                if control == Control::Revoke {
                    partition.revoked.store(true, Ordering::SeqCst);
                }
                let _ = tx.send(control);
            }
            Phase::AwaitingHandoff { .. } | Phase::Leaving => {
                self.held.remove(key);
            }
        }
    }

    /// A shard task ended. Returns whether the shards should be listed again now.
    async fn task_done(
        &mut self,
        joined: Result<(Id, Result<Outcome, KinesisError>), tokio::task::JoinError>,
    ) -> bool {
        let (id, result) = match joined {
            Ok((id, result)) => (id, result),
            Err(e) => (
                e.id(),
                Err(KinesisError::Stream {
                    stream: self.stream.name.clone(),
                    operation: "shard task",
                    message: e.to_string(),
                }),
            ),
        };
        let Some(key) = self.task_keys.remove(&id) else {
            return false;
        };
        // Forget the lease only if this task was its current one.
        let held = match self.held.get(&key) {
            Some(h) if h.task == Some(id) => self.held.remove(&key),
            _ => None,
        };
        match result {
            Ok(Outcome::Ended) => true,
            Ok(outcome) => {
                debug!(stream = %self.stream.name, shard = %key, ?outcome, "shard task ended");
                false
            }
            Err(e) => {
                error!(stream = %self.stream.name, shard = %key, error = %e, "shard task failed: releasing its lease");
                if let Some(held) = held {
                    let _ = held.lease.release().await;
                }
                true
            }
        }
    }

    /// Stops every task (drain, checkpoint, release) and waits for them.
    async fn shutdown(&mut self) {
        let keys: Vec<String> = self.held.keys().cloned().collect();
        for key in keys {
            let Some(held) = self.held.get_mut(&key) else {
                continue;
            };
            match &held.phase {
                Phase::Running { control, .. } => {
                    let _ = control.send(Control::Stop);
                }
                Phase::AwaitingHandoff { .. } => {
                    let lease = Arc::clone(&held.lease);
                    self.held.remove(&key);
                    let _ = lease.release().await;
                }
                Phase::Leaving => {}
            }
        }
        while let Some(joined) = self.tasks.join_next_with_id().await {
            self.task_done(joined).await;
        }
    }
}
