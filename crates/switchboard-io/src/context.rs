//! What every source is given when it starts: where to send its deliveries, and the
//! signal that tells it to stop.

use tokio::sync::watch;

use crate::delivery::DeliverySender;

/// Shared by every source of one `switchboard run`.
#[derive(Debug, Clone)]
pub struct SourceContext {
    /// The pipeline's bounded input channel.
    pub deliveries: DeliverySender,
    /// Turns `true` when the process is shutting down: a source stops taking new input,
    /// waits for the acknowledgements it is owed (or gives up on them) and returns.
    pub shutdown: watch::Receiver<bool>,
}

impl SourceContext {
    pub fn new(deliveries: DeliverySender, shutdown: watch::Receiver<bool>) -> Self {
        Self {
            deliveries,
            shutdown,
        }
    }

    /// Whether shutdown has been signalled.
    pub fn is_shutting_down(&self) -> bool {
        *self.shutdown.borrow()
    }

    /// Completes when shutdown is signalled (or when the signal's sender is gone, which
    /// means nobody can ever signal it: treated as shutdown too).
    pub async fn shutdown_signalled(&self) {
        let mut rx = self.shutdown.clone();
        let _ = rx.wait_for(|stop| *stop).await;
    }
}
