//! A lease this worker holds: its last known state and every write to it, serialized.
//!
//! The renewer and the shard's checkpointer both write the same item; each write needs
//! the counter the previous one produced, so they go through one lock. When a conditional
//! write fails, the item is read back to learn why: still ours (the previous owner just
//! finished a handoff, which bumps the counter) — adopt it and carry on; handed to another
//! worker with us as `checkpointOwner` — stop and hand over; anything else — lost.

use tokio::sync::Mutex;

use super::{Checkpoint, Lease, LeaseError, LeaseTable};

/// What a renewal found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Renewal {
    /// Still ours.
    Renewed,
    /// Another worker took it for balance and waits for us to checkpoint and let go.
    HandOff,
    /// Someone else owns it now.
    Lost,
}

/// One held lease.
#[derive(Debug)]
pub struct HeldLease {
    table: LeaseTable,
    me: String,
    lease: Mutex<Lease>,
}

impl HeldLease {
    pub fn new(table: LeaseTable, me: impl Into<String>, lease: Lease) -> Self {
        Self {
            table,
            me: me.into(),
            lease: Mutex::new(lease),
        }
    }

    /// The lease as last written or read.
    pub async fn snapshot(&self) -> Lease {
        self.lease.lock().await.clone()
    }

    pub fn table(&self) -> &LeaseTable {
        &self.table
    }

    /// Reads the item back after a lost conditional write; adopts it if still ours.
    async fn reread(&self, lease: &mut Lease) -> Result<Renewal, LeaseError> {
        let Some(current) = self.table.get(&lease.key).await? else {
            return Ok(Renewal::Lost);
        };
        let verdict = if current.is_owned_by(&self.me) {
            Renewal::Renewed
        } else if current.checkpoint_owner.as_deref() == Some(self.me.as_str()) {
            Renewal::HandOff
        } else {
            Renewal::Lost
        };
        *lease = current;
        Ok(verdict)
    }

    /// Bumps the counter, or finds out the lease is no longer ours.
    pub async fn renew(&self) -> Result<Renewal, LeaseError> {
        let mut lease = self.lease.lock().await;
        match self.table.renew(&lease, &self.me).await? {
            Some(renewed) => {
                *lease = renewed;
                Ok(Renewal::Renewed)
            }
            None => self.reread(&mut lease).await,
        }
    }

    /// Writes a checkpoint; never moves a sequence-number checkpoint backwards. Says
    /// whether the lease is still ours, or being handed over to another worker.
    pub async fn checkpoint(
        &self,
        checkpoint: &Checkpoint,
        children: &[String],
    ) -> Result<Renewal, LeaseError> {
        let mut lease = self.lease.lock().await;
        for _ in 0..2 {
            if let (Some(old), Some(new)) = (lease.checkpoint.sequence(), checkpoint.sequence()) {
                if new <= old {
                    return Ok(Renewal::Renewed);
                }
            }
            if lease.checkpoint == Checkpoint::ShardEnd {
                return Ok(Renewal::Renewed);
            }
            match self
                .table
                .checkpoint(&lease, &self.me, checkpoint, children)
                .await?
            {
                Some(written) => {
                    *lease = written;
                    return Ok(Renewal::Renewed);
                }
                None => match self.reread(&mut lease).await? {
                    // Ours, with a counter someone else bumped: try again with it.
                    Renewal::Renewed if lease.checkpoint_owner.is_none() => {}
                    Renewal::Renewed => return Ok(Renewal::Lost),
                    other => return Ok(other),
                },
            }
        }
        Ok(Renewal::Lost)
    }

    /// Our side of a handoff: checkpoint (if any progress) and let the new owner start.
    pub async fn finish_handoff(
        &self,
        checkpoint: Option<&Checkpoint>,
    ) -> Result<bool, LeaseError> {
        let lease = self.lease.lock().await;
        let advanced = checkpoint.filter(|new| match (lease.checkpoint.sequence(), new) {
            (Some(old), Checkpoint::Sequence(new)) => new > old,
            (_, Checkpoint::Sequence(_) | Checkpoint::ShardEnd) => true,
            _ => false,
        });
        self.table
            .finish_handoff(&lease.key, &self.me, advanced)
            .await
    }

    /// The new owner's side of a handoff the old owner never finished.
    pub async fn abandon_handoff(&self) -> Result<bool, LeaseError> {
        let mut lease = self.lease.lock().await;
        match self.table.abandon_handoff(&lease, &self.me).await? {
            Some(written) => {
                *lease = written;
                Ok(true)
            }
            None => Ok(self.reread(&mut lease).await? == Renewal::Renewed
                && lease.checkpoint_owner.is_none()),
        }
    }

    /// Re-reads the item (after a handoff to us completed) and returns it.
    pub async fn refresh(&self) -> Result<Renewal, LeaseError> {
        let mut lease = self.lease.lock().await;
        self.reread(&mut lease).await
    }

    /// Gives the lease back (graceful shutdown). Returns whether it was still ours.
    pub async fn release(&self) -> Result<bool, LeaseError> {
        let mut lease = self.lease.lock().await;
        for _ in 0..2 {
            match self.table.release(&lease, &self.me).await? {
                Some(written) => {
                    *lease = written;
                    return Ok(true);
                }
                None => {
                    if self.reread(&mut lease).await? != Renewal::Renewed {
                        return Ok(false);
                    }
                }
            }
        }
        Ok(false)
    }
}
