//! The development channel: codes "sent" to the log. It says that a code
//! went to a masked address and, only with `reveal_codes: true`, the code.

use super::{CodeMessage, CodeSender, DeliveryError};
use crate::config::{OtpDelivery, OtpDeliveryKind};
use async_trait::async_trait;

/// Writes a line per code on the `otp` log target.
#[derive(Debug, Clone, Copy)]
pub struct LogSender {
    reveal_codes: bool,
}

impl LogSender {
    pub fn new(reveal_codes: bool) -> Self {
        LogSender { reveal_codes }
    }
}

#[async_trait]
impl CodeSender for LogSender {
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError> {
        let line = log_line(msg, self.reveal_codes);
        if self.reveal_codes {
            tracing::warn!(target: "otp", "{line}");
        } else {
            tracing::info!(target: "otp", "{line}");
        }
        Ok(())
    }
}

/// The line logged for `msg`; it holds the code only when `reveal` is set.
pub fn log_line(msg: &CodeMessage, reveal: bool) -> String {
    let mut line = format!(
        "one-time code sent by {} to {} for brand {}, valid {} s",
        msg.channel.as_str(),
        mask_address(&msg.to),
        msg.brand,
        msg.expires_in_secs
    );
    if reveal {
        line.push_str(&format!(
            " [DEVELOPMENT reveal_codes] code {} for {} {}",
            msg.otp, msg.identifier_type, msg.identifier_value
        ));
    }
    line
}

/// Logs a loud warning when the config reveals codes in the log; returns
/// whether it did.
pub fn warn_if_development(config: &OtpDelivery) -> bool {
    let revealing = config.kind == OtpDeliveryKind::Log && config.reveal_codes;
    if revealing {
        tracing::warn!(
            target: "otp",
            "DEVELOPMENT SETTING: otp_delivery.reveal_codes is on, one-time codes are written \
             to the log in clear. Anyone who reads the log can log in as anyone. Never run \
             this in production."
        );
    }
    revealing
}

/// An address with most of it hidden: `+49*******5678`, `a**@example.com`.
pub fn mask_address(address: &str) -> String {
    if let Some((local, domain)) = address.split_once('@') {
        let first: String = local.chars().take(1).collect();
        let hidden = local.chars().count().saturating_sub(1).max(2);
        return format!("{first}{}@{domain}", "*".repeat(hidden));
    }
    let chars: Vec<char> = address.chars().collect();
    let keep_end = if chars.len() >= 8 { 4 } else { chars.len() / 4 };
    let keep_start = if chars.first() == Some(&'+') && chars.len() >= 8 {
        3
    } else {
        0
    };
    chars
        .iter()
        .enumerate()
        .map(|(i, &c)| {
            if i < keep_start || i >= chars.len() - keep_end {
                c
            } else {
                '*'
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::Channel;
    use crate::store::IdentifierType;
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    fn message() -> CodeMessage {
        CodeMessage {
            channel: Channel::Sms,
            to: "+4915112345678".into(),
            otp: "804271".into(),
            brand: "acme".into(),
            identifier_type: IdentifierType::Mobile,
            identifier_value: "+4915112345678".into(),
            expires_in_secs: 600,
        }
    }

    /// Everything the `tracing` subscriber writes, kept for the test.
    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl Write for Captured {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    async fn logged_by(sender: LogSender) -> String {
        let captured = Captured::default();
        let sink = captured.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        sender.send(&message()).await.unwrap();
        let bytes = captured.0.lock().unwrap().clone();
        String::from_utf8(bytes).unwrap()
    }

    #[tokio::test(flavor = "current_thread")]
    async fn the_log_says_a_code_went_out_without_the_code() {
        let logged = logged_by(LogSender::new(false)).await;
        assert!(
            logged.contains("one-time code sent by SMS to +49*******5678"),
            "{logged}"
        );
        assert!(!logged.contains("804271"), "{logged}");
        assert!(
            !logged.contains("12345678"),
            "the address is masked: {logged}"
        );
    }

    #[tokio::test(flavor = "current_thread")]
    async fn reveal_codes_puts_the_code_in_the_log() {
        let logged = logged_by(LogSender::new(true)).await;
        assert!(logged.contains("WARN"), "{logged}");
        assert!(
            logged.contains("code 804271 for MOBILE +4915112345678"),
            "{logged}"
        );
    }

    #[test]
    fn the_line_holds_the_code_only_when_revealed() {
        assert!(!log_line(&message(), false).contains("804271"));
        assert!(log_line(&message(), true).contains("804271"));
        assert!(
            !format!("{:?}", message()).contains("804271"),
            "Debug never shows it"
        );
    }

    #[test]
    fn addresses_are_masked() {
        assert_eq!(mask_address("+4915112345678"), "+49*******5678");
        assert_eq!(mask_address("ann@example.com"), "a**@example.com");
        assert_eq!(mask_address("a@example.com"), "a**@example.com");
        assert_eq!(mask_address("1234"), "***4");
        assert_eq!(mask_address(""), "");
    }

    #[test]
    fn only_log_delivery_with_reveal_codes_warns() {
        let mut config = OtpDelivery::default();
        assert!(!warn_if_development(&config));
        config.reveal_codes = true;
        assert!(warn_if_development(&config));
        config.kind = OtpDeliveryKind::Webhook;
        assert!(!warn_if_development(&config));
    }
}
