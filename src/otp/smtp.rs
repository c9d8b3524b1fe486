//! Delivery by email through an SMTP relay (`lettre`, async on tokio):
//! plain, STARTTLS or TLS, with credentials from env vars named in the config.

use super::{Channel, CodeMessage, CodeSender, DeliveryError};
use crate::config::{ConfigError, OtpDelivery, Smtp};
use async_trait::async_trait;
use lettre::message::header::ContentType;
use lettre::message::Mailbox;
use lettre::transport::smtp::authentication::Credentials;
use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
use std::time::Duration;

/// Sends codes as plain-text emails.
#[derive(Clone)]
pub struct SmtpSender {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
}

impl std::fmt::Debug for SmtpSender {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SmtpSender")
            .field("from", &self.from.to_string())
            .finish()
    }
}

impl SmtpSender {
    pub fn from_config(config: &OtpDelivery) -> Result<Self, ConfigError> {
        let smtp = config.smtp.as_ref().ok_or_else(|| {
            ConfigError::one("otp_delivery.smtp", "smtp delivery needs the smtp settings")
        })?;
        Self::new(smtp, config.timeout.get())
    }

    /// A sender for the relay `smtp` describes, each send bounded by `timeout`.
    pub fn new(smtp: &Smtp, timeout: Duration) -> Result<Self, ConfigError> {
        let from: Mailbox = smtp.from.parse().map_err(|e| {
            ConfigError::one("otp_delivery.smtp.from", format!("not a mailbox: {e}"))
        })?;
        let relay_error = |e: lettre::transport::smtp::Error| {
            ConfigError::one("otp_delivery.smtp.host", e.to_string())
        };
        let builder = match smtp.security.as_str() {
            "none" => AsyncSmtpTransport::<Tokio1Executor>::builder_dangerous(smtp.host.as_str()),
            "starttls" => AsyncSmtpTransport::<Tokio1Executor>::starttls_relay(&smtp.host)
                .map_err(relay_error)?,
            "tls" => {
                AsyncSmtpTransport::<Tokio1Executor>::relay(&smtp.host).map_err(relay_error)?
            }
            other => {
                return Err(ConfigError::one(
                    "otp_delivery.smtp.security",
                    format!("{other:?} is not none, starttls or tls"),
                ))
            }
        };
        let mut builder = builder.port(smtp.port).timeout(Some(timeout));
        if let Some(credentials) = credentials(smtp)? {
            builder = builder.credentials(credentials);
        }
        Ok(SmtpSender {
            transport: builder.build(),
            from,
        })
    }

    /// The email for `msg`: the code in the body, never in the subject.
    fn email(&self, msg: &CodeMessage) -> Result<Message, DeliveryError> {
        if msg.channel != Channel::Email {
            return Err(DeliveryError::Undeliverable(
                "smtp delivers email only, not SMS".into(),
            ));
        }
        let to: Mailbox = msg
            .to
            .parse()
            .map_err(|_| DeliveryError::Undeliverable("not an email address".into()))?;
        let minutes = msg.expires_in_secs.div_ceil(60).max(1);
        Message::builder()
            .from(self.from.clone())
            .to(to)
            .subject(format!("Your {} login code", msg.brand))
            .header(ContentType::TEXT_PLAIN)
            .body(format!(
                "Your {} login code is {}\r\n\r\nIt is valid for {} minute{}. If you did not ask for it, ignore this email.\r\n",
                msg.brand,
                msg.otp,
                minutes,
                if minutes == 1 { "" } else { "s" }
            ))
            .map_err(|e| DeliveryError::Undeliverable(format!("cannot build the email: {e}")))
    }
}

/// Username and password from the env vars the config names; both or none.
fn credentials(smtp: &Smtp) -> Result<Option<Credentials>, ConfigError> {
    let read = |path: &str, var: &str| {
        std::env::var(var).map_err(|_| ConfigError::one(path, format!("env var {var} is not set")))
    };
    match (&smtp.username_env, &smtp.password_env) {
        (None, None) => Ok(None),
        (Some(user), Some(password)) => Ok(Some(Credentials::new(
            read("otp_delivery.smtp.username_env", user)?,
            read("otp_delivery.smtp.password_env", password)?,
        ))),
        _ => Err(ConfigError::one(
            "otp_delivery.smtp",
            "username_env and password_env go together",
        )),
    }
}

#[async_trait]
impl CodeSender for SmtpSender {
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError> {
        let email = self.email(msg)?;
        match self.transport.send(email).await {
            Ok(_) => Ok(()),
            Err(e) if e.is_permanent() => Err(DeliveryError::Refused(format!("smtp: {e}"))),
            Err(e) => Err(DeliveryError::Unreachable(format!("smtp: {e}"))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::test_servers::SmtpSink;
    use crate::store::IdentifierType;

    fn settings(port: u16) -> Smtp {
        Smtp {
            host: "127.0.0.1".into(),
            port,
            from: "Acme Login <login@acme.example>".into(),
            username_env: None,
            password_env: None,
            security: "none".into(),
        }
    }

    fn message() -> CodeMessage {
        CodeMessage {
            channel: Channel::Email,
            to: "ann@example.com".into(),
            otp: "271828".into(),
            brand: "acme".into(),
            identifier_type: IdentifierType::Email,
            identifier_value: "ann@example.com".into(),
            expires_in_secs: 600,
        }
    }

    #[tokio::test]
    async fn the_code_arrives_at_the_relay() {
        let sink = SmtpSink::start().await;
        let sender = SmtpSender::new(&settings(sink.port()), Duration::from_secs(5)).unwrap();
        sender.send(&message()).await.unwrap();
        let mails = sink.mails();
        assert_eq!(mails.len(), 1);
        let mail = &mails[0];
        assert_eq!(mail.from, "<login@acme.example>");
        assert_eq!(mail.to, vec!["<ann@example.com>".to_string()]);
        assert!(
            mail.data.contains("Subject: Your acme login code"),
            "{}",
            mail.data
        );
        assert!(
            mail.data.contains("Your acme login code is 271828"),
            "{}",
            mail.data
        );
        assert!(mail.data.contains("valid for 10 minutes"), "{}", mail.data);
    }

    #[tokio::test]
    async fn a_relay_that_is_down_is_unreachable() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let sender = SmtpSender::new(&settings(port), Duration::from_secs(2)).unwrap();
        assert!(matches!(
            sender.send(&message()).await,
            Err(DeliveryError::Unreachable(_))
        ));
    }

    #[tokio::test]
    async fn sms_and_bad_addresses_are_undeliverable() {
        let sender = SmtpSender::new(&settings(25), Duration::from_secs(1)).unwrap();
        let sms = CodeMessage {
            channel: Channel::Sms,
            ..message()
        };
        assert!(matches!(
            sender.send(&sms).await,
            Err(DeliveryError::Undeliverable(_))
        ));
        let bad = CodeMessage {
            to: "not an address".into(),
            ..message()
        };
        assert!(matches!(
            sender.send(&bad).await,
            Err(DeliveryError::Undeliverable(_))
        ));
    }

    #[test]
    fn settings_are_checked_when_the_sender_is_built() {
        let mut bad_from = settings(25);
        bad_from.from = "nobody".into();
        assert!(SmtpSender::new(&bad_from, Duration::from_secs(1)).is_err());
        let mut bad_security = settings(25);
        bad_security.security = "ssl".into();
        assert!(SmtpSender::new(&bad_security, Duration::from_secs(1)).is_err());
        let mut half_credentials = settings(25);
        half_credentials.username_env = Some("PORTCULLIS_TEST_SMTP_USER".into());
        assert!(SmtpSender::new(&half_credentials, Duration::from_secs(1)).is_err());
        let mut missing_env = half_credentials;
        missing_env.password_env = Some("PORTCULLIS_TEST_SMTP_PASSWORD_UNSET".into());
        assert!(SmtpSender::new(&missing_env, Duration::from_secs(1)).is_err());
        let mut tls = settings(465);
        tls.security = "tls".into();
        assert!(SmtpSender::new(&tls, Duration::from_secs(1)).is_ok());
    }
}
