//! A code sender for tests: keeps every message it is given, and can be told
//! to fail, like a webhook receiver that is down.

use crate::otp::{CodeMessage, CodeSender, DeliveryError};
use async_trait::async_trait;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;

#[derive(Default)]
pub struct CapturingSender {
    sent: Mutex<Vec<CodeMessage>>,
    failing: AtomicBool,
}

impl CapturingSender {
    pub fn fail(&self, failing: bool) {
        self.failing.store(failing, Ordering::SeqCst);
    }

    pub fn sent(&self) -> Vec<CodeMessage> {
        self.sent.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// The last code delivered.
    pub fn last_code(&self) -> String {
        self.sent()
            .last()
            .map(|m| m.otp.clone())
            .unwrap_or_default()
    }
}

#[async_trait]
impl CodeSender for CapturingSender {
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError> {
        if self.failing.load(Ordering::SeqCst) {
            return Err(DeliveryError::Unreachable("test receiver is down".into()));
        }
        if let Ok(mut sent) = self.sent.lock() {
            sent.push(msg.clone());
        }
        Ok(())
    }
}
