//! The server's shutdown as the public connections see it. Pingora's watch
//! still says whether shutdown has begun (its proxy reads it, and so does a
//! kept-alive connection before taking another request); a connection
//! waiting for its next request is woken by one wake-up shared by all of
//! them. A waiter on it is 64 bytes in the connection's task, where a watch
//! receiver of its own and its change future were 176, and an idle
//! connection is little more than that task.

use pingora_core::server::ShutdownWatch;
use std::sync::Arc;
use tokio::sync::futures::Notified;
use tokio::sync::Notify;

pub struct ShutdownSignal {
    watch: ShutdownWatch,
    began: Notify,
}

impl ShutdownSignal {
    /// A signal following `watch`; `relay` must run for it to wake anyone.
    pub fn new(watch: ShutdownWatch) -> Arc<Self> {
        Arc::new(ShutdownSignal {
            watch,
            began: Notify::new(),
        })
    }

    /// Wakes every waiting connection once shutdown begins (or the server's
    /// side of the watch is gone, when nobody could say so any more).
    pub async fn relay(self: Arc<Self>) {
        let mut watch = self.watch.clone();
        while !*watch.borrow_and_update() {
            if watch.changed().await.is_err() {
                break;
            }
        }
        self.began.notify_waiters();
    }

    /// Whether shutdown has begun.
    pub fn has_begun(&self) -> bool {
        *self.watch.borrow()
    }

    /// Pingora's watch, which its proxy reads.
    pub fn watch(&self) -> &ShutdownWatch {
        &self.watch
    }

    /// Ends when shutdown begins after this call: a waiter is woken even if
    /// it had not been polled yet when the signal came.
    pub fn begins(&self) -> Notified<'_> {
        self.began.notified()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::future::Future;
    use std::pin::pin;
    use std::task::{Context, Poll};
    use std::time::Duration;

    fn is_ready(fut: std::pin::Pin<&mut impl Future>) -> bool {
        let mut cx = Context::from_waker(std::task::Waker::noop());
        matches!(fut.poll(&mut cx), Poll::Ready(_))
    }

    #[tokio::test]
    async fn a_waiting_connection_is_woken_when_shutdown_begins() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signal = ShutdownSignal::new(rx);
        let relay = tokio::spawn(signal.clone().relay());
        let mut polled = pin!(signal.begins());
        let mut never_polled = pin!(signal.begins());
        assert!(!is_ready(polled.as_mut()));
        assert!(!signal.has_begun());
        tx.send(true).unwrap();
        relay.await.unwrap();
        assert!(signal.has_begun());
        assert!(is_ready(polled.as_mut()));
        assert!(is_ready(never_polled.as_mut()));
    }

    #[tokio::test]
    async fn a_connection_that_comes_after_the_signal_is_not_woken() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signal = ShutdownSignal::new(rx);
        tx.send(true).unwrap();
        signal.clone().relay().await;
        let mut late = pin!(signal.begins());
        assert!(!is_ready(late.as_mut()));
        // It learns of the shutdown from the watch instead.
        assert!(signal.has_begun());
    }

    #[tokio::test]
    async fn waiters_are_woken_when_the_server_side_is_gone() {
        let (tx, rx) = tokio::sync::watch::channel(false);
        let signal = ShutdownSignal::new(rx);
        let mut waiting = pin!(signal.begins());
        assert!(!is_ready(waiting.as_mut()));
        drop(tx);
        tokio::time::timeout(Duration::from_secs(5), signal.clone().relay())
            .await
            .unwrap();
        assert!(is_ready(waiting.as_mut()));
    }
}
