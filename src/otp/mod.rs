//! One-time codes: making them (CSPRNG digits), hashing them for the store
//! (HMAC-SHA256 with a pepper, bound to the session) and delivering them
//! through the configured channel (log, webhook or SMTP).

mod code;
mod log;
mod metered;
mod smtp;
#[cfg(test)]
mod test_servers;
mod webhook;

pub use code::{generate_code, hashes_equal, CodeHasher, PEPPER_SECRET_NAME};
pub use log::{warn_if_development, LogSender};
pub use smtp::SmtpSender;
pub use webhook::WebhookSender;

use crate::config::{ConfigError, OtpDelivery, OtpDeliveryKind};
use crate::store::IdentifierType;
use async_trait::async_trait;
use std::fmt;
use std::sync::Arc;

/// What the one-time-code module can fail with. Flows answer 1503 for any
/// of them.
#[derive(Debug, thiserror::Error)]
pub enum DeliveryError {
    /// The receiving service could not be reached or timed out.
    #[error("code delivery unreachable: {0}")]
    Unreachable(String),
    /// The receiving service answered, but refused the message.
    #[error("code delivery refused: {0}")]
    Refused(String),
    /// The message cannot go out this way (bad address, wrong channel).
    #[error("code cannot be delivered: {0}")]
    Undeliverable(String),
    /// A code of this many digits is not allowed (4 to 10).
    #[error("code length {0} is outside 4..=10")]
    CodeLength(u8),
    /// The pepper for hashing codes is missing or unusable.
    #[error("otp pepper unavailable: {0}")]
    Pepper(String),
}

/// The way a code travels: an SMS for MOBILE, an email for EMAIL.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Channel {
    Sms,
    Email,
}

impl Channel {
    /// As the webhook carries it: `SMS` or `EMAIL`.
    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Sms => "SMS",
            Channel::Email => "EMAIL",
        }
    }

    /// As metrics label it: `sms` or `email`.
    pub fn label(self) -> &'static str {
        match self {
            Channel::Sms => "sms",
            Channel::Email => "email",
        }
    }
}

/// One code on its way to a person.
#[derive(Clone, PartialEq, Eq)]
pub struct CodeMessage {
    pub channel: Channel,
    /// Phone number (SMS) or email address (EMAIL).
    pub to: String,
    /// The code itself; never printed by `Debug`.
    pub otp: String,
    pub brand: String,
    pub identifier_type: IdentifierType,
    pub identifier_value: String,
    pub expires_in_secs: u64,
}

impl fmt::Debug for CodeMessage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeMessage")
            .field("channel", &self.channel)
            .field("to", &log::mask_address(&self.to))
            .field("otp", &"<redacted>")
            .field("brand", &self.brand)
            .field("identifier_type", &self.identifier_type)
            .field("expires_in_secs", &self.expires_in_secs)
            .finish()
    }
}

/// A way of delivering codes.
#[async_trait]
pub trait CodeSender: Send + Sync {
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError>;
}

/// The sender the config asks for, counting every send in
/// `portcullis_otp_sent_total{channel,result}`.
pub fn build_sender(config: &OtpDelivery) -> Result<Arc<dyn CodeSender>, ConfigError> {
    let inner: Arc<dyn CodeSender> = match config.kind {
        OtpDeliveryKind::Log => Arc::new(LogSender::new(config.reveal_codes)),
        OtpDeliveryKind::Webhook => Arc::new(WebhookSender::from_config(config)?),
        OtpDeliveryKind::Smtp => Arc::new(SmtpSender::from_config(config)?),
    };
    Ok(Arc::new(metered::Metered::new(inner)))
}
