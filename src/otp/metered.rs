//! Counts every code handed to a channel in `portcullis_otp_sent_total`,
//! by channel and result, around whichever sender is configured.

use super::{CodeMessage, CodeSender, DeliveryError};
use crate::metrics::METRICS;
use async_trait::async_trait;
use std::sync::Arc;

pub struct Metered {
    inner: Arc<dyn CodeSender>,
}

impl Metered {
    pub fn new(inner: Arc<dyn CodeSender>) -> Self {
        Metered { inner }
    }
}

#[async_trait]
impl CodeSender for Metered {
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError> {
        let result = self.inner.send(msg).await;
        let outcome = if result.is_ok() { "ok" } else { "error" };
        METRICS
            .otp_sent_total
            .with_label_values(&[msg.channel.label(), outcome])
            .inc();
        if let Err(e) = &result {
            tracing::warn!(target: "otp", channel = msg.channel.label(), error = %e, "code delivery failed");
        }
        result
    }
}
