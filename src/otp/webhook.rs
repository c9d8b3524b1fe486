//! Delivery by webhook: the code as JSON POSTed to the operator's service
//! (which sends the SMS or email), with a timeout and one retry.

use super::{CodeMessage, CodeSender, DeliveryError};
use crate::config::{ConfigError, OtpDelivery};
use async_trait::async_trait;
use serde::Serialize;
use std::time::Duration;

/// POSTs `{"channel","to","otp","brand","identifierType","identifierValue","expiresIn"}`.
#[derive(Debug, Clone)]
pub struct WebhookSender {
    client: reqwest::Client,
    url: reqwest::Url,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct Body<'a> {
    channel: &'a str,
    to: &'a str,
    otp: &'a str,
    brand: &'a str,
    identifier_type: &'a str,
    identifier_value: &'a str,
    expires_in: u64,
}

/// How one attempt ended, and whether another is worth making.
enum Attempt {
    Delivered,
    Retry(DeliveryError),
    GiveUp(DeliveryError),
}

impl WebhookSender {
    /// A sender for `url`, each attempt bounded by `timeout`.
    pub fn new(url: &str, timeout: Duration) -> Result<Self, ConfigError> {
        let url = reqwest::Url::parse(url)
            .map_err(|e| ConfigError::one("otp_delivery.url", format!("not a URL: {e}")))?;
        if !matches!(url.scheme(), "http" | "https") {
            return Err(ConfigError::one(
                "otp_delivery.url",
                "must be http:// or https://",
            ));
        }
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .build()
            .map_err(|e| {
                ConfigError::one("otp_delivery", format!("cannot build HTTP client: {e}"))
            })?;
        Ok(WebhookSender { client, url })
    }

    pub fn from_config(config: &OtpDelivery) -> Result<Self, ConfigError> {
        let url = config
            .url
            .as_deref()
            .ok_or_else(|| ConfigError::one("otp_delivery.url", "webhook delivery needs a url"))?;
        Self::new(url, config.timeout.get())
    }

    async fn attempt(&self, body: &Body<'_>) -> Attempt {
        // Errors name the URL (from the config), never the body with the code.
        match self.client.post(self.url.clone()).json(body).send().await {
            Ok(response) if response.status().is_success() => Attempt::Delivered,
            Ok(response) => {
                let status = response.status();
                let error = DeliveryError::Refused(format!("webhook answered {status}"));
                if status.is_server_error() || status.as_u16() == 429 {
                    Attempt::Retry(error)
                } else {
                    Attempt::GiveUp(error)
                }
            }
            Err(e) => Attempt::Retry(DeliveryError::Unreachable(format!(
                "webhook {}: {}",
                self.url,
                e.without_url()
            ))),
        }
    }
}

#[async_trait]
impl CodeSender for WebhookSender {
    /// One retry after a network error, a timeout, a 5xx or a 429; a
    /// 4xx is final.
    async fn send(&self, msg: &CodeMessage) -> Result<(), DeliveryError> {
        let identifier_type = msg.identifier_type.as_str();
        let body = Body {
            channel: msg.channel.as_str(),
            to: &msg.to,
            otp: &msg.otp,
            brand: &msg.brand,
            identifier_type,
            identifier_value: &msg.identifier_value,
            expires_in: msg.expires_in_secs,
        };
        match self.attempt(&body).await {
            Attempt::Delivered => return Ok(()),
            Attempt::GiveUp(e) => return Err(e),
            Attempt::Retry(e) => {
                tracing::debug!(target: "otp", error = %e, "webhook attempt failed, retrying once");
            }
        }
        match self.attempt(&body).await {
            Attempt::Delivered => Ok(()),
            Attempt::GiveUp(e) | Attempt::Retry(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::otp::test_servers::HttpReceiver;
    use crate::otp::Channel;
    use crate::store::IdentifierType;

    fn message() -> CodeMessage {
        CodeMessage {
            channel: Channel::Email,
            to: "ann@example.com".into(),
            otp: "493017".into(),
            brand: "acme".into(),
            identifier_type: IdentifierType::Email,
            identifier_value: "ann@example.com".into(),
            expires_in_secs: 600,
        }
    }

    fn sender(url: &str) -> WebhookSender {
        WebhookSender::new(url, Duration::from_secs(2)).unwrap()
    }

    #[tokio::test]
    async fn the_code_is_posted_as_json() {
        let receiver = HttpReceiver::start(vec![200]).await;
        sender(&receiver.url()).send(&message()).await.unwrap();
        let requests = receiver.requests();
        assert_eq!(requests.len(), 1);
        assert_eq!(requests[0].method_and_path, "POST /");
        assert_eq!(
            requests[0].body,
            serde_json::json!({
                "channel": "EMAIL", "to": "ann@example.com", "otp": "493017", "brand": "acme",
                "identifierType": "EMAIL", "identifierValue": "ann@example.com", "expiresIn": 600
            })
        );
    }

    #[tokio::test]
    async fn a_failed_attempt_is_retried_once() {
        let receiver = HttpReceiver::start(vec![503, 204]).await;
        sender(&receiver.url()).send(&message()).await.unwrap();
        assert_eq!(receiver.requests().len(), 2);
    }

    #[tokio::test]
    async fn two_failures_are_a_delivery_error() {
        let receiver = HttpReceiver::start(vec![500, 502]).await;
        let result = sender(&receiver.url()).send(&message()).await;
        assert!(
            matches!(result, Err(DeliveryError::Refused(_))),
            "{result:?}"
        );
        assert_eq!(receiver.requests().len(), 2);
    }

    #[tokio::test]
    async fn a_client_error_is_not_retried() {
        let receiver = HttpReceiver::start(vec![400, 200]).await;
        let result = sender(&receiver.url()).send(&message()).await;
        assert!(matches!(result, Err(DeliveryError::Refused(_))));
        assert_eq!(receiver.requests().len(), 1);
    }

    #[tokio::test]
    async fn a_receiver_that_is_down_is_unreachable() {
        // Bind a port, then free it, so nothing listens there.
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        drop(listener);
        let result = sender(&format!("http://127.0.0.1:{port}/hook"))
            .send(&message())
            .await;
        match result {
            Err(DeliveryError::Unreachable(text)) => assert!(!text.contains("493017")),
            other => panic!("expected Unreachable, got {other:?}"),
        }
    }

    #[tokio::test]
    async fn a_receiver_that_hangs_times_out() {
        let receiver = HttpReceiver::start_silent().await;
        let slow = WebhookSender::new(&receiver.url(), Duration::from_millis(200)).unwrap();
        let started = std::time::Instant::now();
        let result = slow.send(&message()).await;
        assert!(matches!(result, Err(DeliveryError::Unreachable(_))));
        assert!(
            started.elapsed() < Duration::from_secs(2),
            "bounded by the timeout"
        );
    }

    #[tokio::test]
    async fn sends_through_build_sender_are_counted() {
        let receiver = HttpReceiver::start(vec![200]).await;
        let config = OtpDelivery {
            kind: crate::config::OtpDeliveryKind::Webhook,
            url: Some(receiver.url()),
            ..Default::default()
        };
        let counter = crate::metrics::METRICS
            .otp_sent_total
            .with_label_values(&["email", "ok"]);
        let before = counter.get();
        crate::otp::build_sender(&config)
            .unwrap()
            .send(&message())
            .await
            .unwrap();
        assert!(counter.get() > before);

        let refusing = HttpReceiver::start(vec![400]).await;
        let config = OtpDelivery {
            url: Some(refusing.url()),
            ..config
        };
        let failures = crate::metrics::METRICS
            .otp_sent_total
            .with_label_values(&["email", "error"]);
        let before = failures.get();
        let result = crate::otp::build_sender(&config)
            .unwrap()
            .send(&message())
            .await;
        assert!(result.is_err());
        assert!(failures.get() > before);
    }

    #[test]
    fn a_bad_url_is_a_config_error() {
        assert!(WebhookSender::new("not a url", Duration::from_secs(1)).is_err());
        assert!(WebhookSender::new("ftp://example.com/", Duration::from_secs(1)).is_err());
    }
}
