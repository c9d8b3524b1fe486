//! End-to-end tests of the auth API inside the module: real requests through
//! `AuthApi::handle`, the real SQLite store in a temp dir, real HS256 tokens,
//! and a sender that captures the codes as a webhook receiver would.

mod batch_tests;
mod capture;
mod fake_issuer;
mod otp_generate_tests;
mod otp_validate_tests;
mod password_change_tests;
mod password_tests;
mod store_down_tests;
mod token_expire_tests;
mod token_generate_tests;
mod token_regenerate_tests;
mod user_login_tests;
mod wire_tests;

use super::{ApiRequest, AuthApi, AuthDeps, Settings};
use crate::config::{Brand, Config, Dur, Lockout, Login, OtpPolicy, PasswordPolicy};
use crate::otp::CodeHasher;
use crate::store::{ManualClock, SqliteStore, Store};
use capture::CapturingSender;
use fake_issuer::FakeIssuer;
use serde_json::{json, Value};
use std::sync::Arc;

/// 2026-01-01T00:00:00Z.
const START_MS: i64 = 1_767_225_600_000;

pub struct Harness {
    pub api: AuthApi,
    pub store: Arc<dyn Store>,
    pub clock: Arc<ManualClock>,
    pub sender: Arc<CapturingSender>,
    _dir: tempfile::TempDir,
}

/// Brands: DEMO with the defaults; STRICT with 2 sends, 2 tries, short
/// tokens and expiring keys; PASS with passwords (3 tries, then a 30 min
/// lock) and `/user/login`; AUDIT like PASS; NOLOCK with passwords and no lockout.
pub fn config() -> Config {
    let mut cfg = Config::default();
    cfg.brands.insert("Demo".into(), Brand::default());
    cfg.brands.insert(
        "STRICT".into(),
        Brand {
            otp: OtpPolicy {
                length: 8,
                ttl: Dur::secs(60),
                max_attempts: 2,
                max_sends: 2,
                send_window: Dur::secs(3600),
            },
            access_ttl: Some(Dur::secs(120)),
            key_ttl: Some(Dur::secs(3600)),
            ..Brand::default()
        },
    );
    cfg.brands.insert(
        "PASS".into(),
        Brand {
            password_enabled: true,
            password: PasswordPolicy {
                min_length: 8,
                max_attempts: 3,
            },
            ..Brand::default()
        },
    );
    let pass = cfg.brands.get("PASS").cloned().unwrap_or_default();
    cfg.brands.insert("AUDIT".into(), pass);
    cfg.brands.insert(
        "NOLOCK".into(),
        Brand {
            password_enabled: true,
            lockout: Lockout {
                enabled: false,
                ..Lockout::default()
            },
            ..Brand::default()
        },
    );
    cfg.login = Some(Login {
        brand: "pass".into(),
        token_ttl: Dur::secs(3600),
    });
    cfg.limits.batch_max = 3;
    cfg
}

pub async fn harness() -> Harness {
    harness_with(config()).await
}

pub async fn harness_with(cfg: Config) -> Harness {
    let dir = tempfile::tempdir().unwrap();
    let clock = Arc::new(ManualClock::new(START_MS));
    let store: Arc<dyn Store> = Arc::new(
        SqliteStore::open(&dir.path().join("auth.db"), clock.clone())
            .await
            .unwrap(),
    );
    let sender = Arc::new(CapturingSender::default());
    let api = AuthApi::new(
        Settings::from_config(&cfg),
        AuthDeps {
            store: store.clone(),
            tokens: Arc::new(FakeIssuer::new(clock.clone(), store.clone())),
            sender: sender.clone(),
            hasher: CodeHasher::new(vec![7; 32]).unwrap(),
            clock: clock.clone(),
        },
    );
    Harness {
        api,
        store,
        clock,
        sender,
        _dir: dir,
    }
}

pub fn request(path: &str, body: impl Into<bytes::Bytes>) -> ApiRequest {
    ApiRequest {
        method: http::Method::POST,
        path: path.into(),
        content_type: Some("application/json".into()),
        authorization: None,
        client_ip: None,
        body: body.into(),
    }
}

/// The `status.code` of an envelope.
pub fn code(v: &Value) -> u64 {
    v["status"]["code"].as_u64().unwrap_or(0)
}

/// `base` with the fields of `extra` added or replaced (`null` removes).
pub fn with(base: &Value, extra: Value) -> Value {
    let mut out = base.clone();
    if let (Some(out), Some(extra)) = (out.as_object_mut(), extra.as_object()) {
        for (k, v) in extra {
            if v.is_null() {
                out.remove(k);
            } else {
                out.insert(k.clone(), v.clone());
            }
        }
    }
    out
}

/// A mobile login body for this number on DEMO from device `dev-1`.
pub fn mobile(number: &str) -> Value {
    json!({"identifierType": "MOBILE", "identifierValue": number, "brand": "demo", "deviceId": "dev-1"})
}

/// A web login body for this address on DEMO.
pub fn web_email(address: &str) -> Value {
    json!({"identifierType": "EMAIL", "identifierValue": address, "brand": "DEMO"})
}

impl Harness {
    /// The status and JSON body of the answer (a body that is not JSON fails the test).
    pub async fn send(&self, req: ApiRequest) -> (u16, Value) {
        let response = self.api.handle(req).await;
        let body: Value = serde_json::from_slice(&response.body)
            .unwrap_or_else(|e| panic!("answer is not JSON ({e}): {:?}", response.body));
        assert!(response
            .headers
            .contains(&("content-type".into(), "application/json".into())));
        (response.status, body)
    }

    pub async fn post(&self, path: &str, body: &Value) -> (u16, Value) {
        self.send(request(path, body.to_string())).await
    }

    /// token/generate under `prefix` (`/auth/v1` or `/auth/v1/web`) that must succeed.
    pub async fn open_session(&self, prefix: &str, body: &Value) -> (String, Value) {
        let (status, answer) = self.post(&format!("{prefix}/token/generate"), body).await;
        assert_eq!(status, 200, "{answer}");
        let id = answer["user"]["sessionId"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        assert!(!id.is_empty(), "{answer}");
        (id, answer)
    }

    /// otp/generate that must succeed; returns the delivered code.
    pub async fn send_code(&self, prefix: &str, body: &Value, session: &str) -> String {
        let (status, answer) = self
            .post(
                &format!("{prefix}/otp/generate"),
                &with(body, json!({"sessionId": session})),
            )
            .await;
        assert_eq!(status, 200, "{answer}");
        self.sender.last_code()
    }

    /// otp/validate with this code.
    pub async fn validate(
        &self,
        prefix: &str,
        body: &Value,
        session: &str,
        otp: Value,
    ) -> (u16, Value) {
        self.post(
            &format!("{prefix}/otp/validate"),
            &with(body, json!({"sessionId": session, "otp": otp})),
        )
        .await
    }

    /// A whole login under `prefix`; returns the otp/validate answer.
    pub async fn login(&self, prefix: &str, body: &Value) -> Value {
        let (session, _) = self.open_session(prefix, body).await;
        let otp = self.send_code(prefix, body, &session).await;
        let (status, answer) = self.validate(prefix, body, &session, json!(otp)).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }
}

/// A mobile login body for this number on PASS (passwords, 3 tries).
pub fn pass_mobile(number: &str) -> Value {
    with(&mobile(number), json!({"brand": "PASS"}))
}

impl Harness {
    /// A first login that registers `password`: token/generate with it,
    /// then the code. Returns the otp/validate answer.
    pub async fn register(&self, prefix: &str, body: &Value, password: &str) -> Value {
        let with_password = with(
            body,
            json!({"password": password, "confirmPassword": password}),
        );
        let (session, _) = self.open_session(prefix, &with_password).await;
        let otp = self.send_code(prefix, body, &session).await;
        let (status, answer) = self.validate(prefix, body, &session, json!(otp)).await;
        assert_eq!(status, 200, "{answer}");
        answer
    }

    /// token/generate then password/validate with `password`.
    pub async fn password_login(&self, prefix: &str, body: &Value, password: &str) -> (u16, Value) {
        let (session, _) = self.open_session(prefix, body).await;
        self.post(
            &format!("{prefix}/password/validate"),
            &with(body, json!({"sessionId": session, "password": password})),
        )
        .await
    }
}
