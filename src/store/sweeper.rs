//! The background task that removes expired sessions, codes, counters and
//! revocations from the store at a fixed interval.

use super::Store;
use std::sync::Arc;
use std::time::Duration;
use tokio::task::JoinHandle;

/// Sweeps `store` every `interval` until the returned task is aborted.
/// Failures are logged and retried at the next tick.
pub fn spawn_sweeper(store: Arc<dyn Store>, interval: Duration) -> JoinHandle<()> {
    let interval = interval.max(Duration::from_millis(10));
    tokio::spawn(async move {
        let mut ticker = tokio::time::interval(interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticker.tick().await;
            match store.sweep_expired().await {
                Ok(0) => {}
                Ok(n) => tracing::debug!(removed = n, "swept expired store records"),
                Err(e) => {
                    crate::metrics::METRICS
                        .store_errors_total
                        .with_label_values(&["sweep"])
                        .inc();
                    tracing::warn!(error = %e, "sweeping expired store records failed");
                }
            }
        }
    })
}
