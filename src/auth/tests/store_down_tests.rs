//! When the store cannot be reached, every step answers 503 with the
//! envelope, and nothing else happens (no code is sent).

use super::capture::CapturingSender;
use super::fake_issuer::FakeIssuer;
use super::*;
use crate::store::{
    CodeCheck, CodeStored, LockoutPolicy, NewSession, NewUser, PasswordFailure, RateBucket,
    RateDecision, RevocationQuery, SendAllowance, Session, StoreError, StoreResult, UnixMs, User,
};
use async_trait::async_trait;
use std::time::Duration;

/// A store whose backend is gone: every call fails as `Unavailable`.
struct UnreachableStore;

fn down<T>() -> StoreResult<T> {
    Err(StoreError::Unavailable("connection refused".into()))
}

#[async_trait]
impl Store for UnreachableStore {
    async fn find_user(&self, _: &str, _: &crate::store::Identifier) -> StoreResult<Option<User>> {
        down()
    }
    async fn get_user(&self, _: &str) -> StoreResult<Option<User>> {
        down()
    }
    async fn find_or_create_user(&self, _: NewUser) -> StoreResult<(User, bool)> {
        down()
    }
    async fn set_password(&self, _: &str, _: &str) -> StoreResult<()> {
        down()
    }
    async fn delete_user(&self, _: &str) -> StoreResult<bool> {
        down()
    }
    async fn lock_user(&self, _: &str, _: UnixMs) -> StoreResult<()> {
        down()
    }
    async fn unlock_user(&self, _: &str) -> StoreResult<()> {
        down()
    }
    async fn list_users(&self, _: Option<&str>, _: usize) -> StoreResult<Vec<User>> {
        down()
    }
    async fn import_user(&self, _: User) -> StoreResult<()> {
        down()
    }
    async fn create_session(&self, _: NewSession) -> StoreResult<Session> {
        down()
    }
    async fn get_session(&self, _: &str) -> StoreResult<Option<Session>> {
        down()
    }
    async fn stage_password(&self, _: &str, _: &str) -> StoreResult<bool> {
        down()
    }
    async fn delete_session(&self, _: &str) -> StoreResult<bool> {
        down()
    }
    async fn put_code(&self, _: &str, _: &[u8], _: Duration) -> StoreResult<CodeStored> {
        down()
    }
    async fn discard_code(&self, _: &str, _: &[u8]) -> StoreResult<bool> {
        down()
    }
    async fn check_code(&self, _: &str, _: &[u8], _: u32) -> StoreResult<CodeCheck> {
        down()
    }
    async fn count_code_send(
        &self,
        _: &str,
        _: &crate::store::Identifier,
        _: u32,
        _: Duration,
    ) -> StoreResult<SendAllowance> {
        down()
    }
    async fn record_password_failure(
        &self,
        _: &str,
        _: LockoutPolicy,
    ) -> StoreResult<PasswordFailure> {
        down()
    }
    async fn clear_password_failures(&self, _: &str) -> StoreResult<()> {
        down()
    }
    async fn take_rate_token(&self, _: &str, _: RateBucket) -> StoreResult<RateDecision> {
        down()
    }
    async fn revoke_token(&self, _: &str, _: UnixMs) -> StoreResult<()> {
        down()
    }
    async fn revoke_family(&self, _: &str, _: UnixMs) -> StoreResult<()> {
        down()
    }
    async fn revoke_user_before(&self, _: &str, _: UnixMs) -> StoreResult<()> {
        down()
    }
    async fn is_revoked(&self, _: RevocationQuery<'_>) -> StoreResult<bool> {
        down()
    }
    async fn get_or_create_secret(&self, _: &str) -> StoreResult<Vec<u8>> {
        down()
    }
    async fn health(&self) -> StoreResult<()> {
        down()
    }
    async fn sweep_expired(&self) -> StoreResult<u64> {
        down()
    }
}

#[tokio::test]
async fn every_step_answers_503_when_the_store_is_unreachable() {
    let working = harness().await;
    let body = mobile("919999900060");
    let login = working.login("/auth/v1", &body).await;

    let clock = Arc::new(crate::store::ManualClock::new(START_MS));
    let store: Arc<dyn Store> = Arc::new(UnreachableStore);
    let sender = Arc::new(CapturingSender::default());
    let api = AuthApi::new(
        Settings::from_config(&config()),
        AuthDeps {
            store: store.clone(),
            tokens: Arc::new(FakeIssuer::new(clock.clone(), store)),
            sender: sender.clone(),
            hasher: CodeHasher::new(vec![7; 32]).unwrap(),
            clock,
        },
    );
    let requests = [
        ("/auth/v1/token/generate", body.clone()),
        (
            "/auth/v1/otp/generate",
            with(&body, json!({"sessionId": "s"})),
        ),
        (
            "/auth/v1/otp/validate",
            with(&body, json!({"sessionId": "s", "otp": "123456"})),
        ),
        (
            "/auth/v1/token/regenerate",
            with(&body, json!({"key": login["auth"]["key"]})),
        ),
        (
            "/auth/v1/password/validate",
            with(
                &pass_mobile("919999900060"),
                json!({"sessionId": "s", "password": "correct horse"}),
            ),
        ),
        (
            "/auth/v1/password/forget",
            with(
                &pass_mobile("919999900060"),
                json!({"sessionId": "s", "password": "correct horse", "confirmPassword": "correct horse"}),
            ),
        ),
        (
            "/auth/v1/password/change",
            json!({"token": login["auth"]["token"], "password": "correct horse",
                   "newPassword": "battery staple", "confirmPassword": "battery staple"}),
        ),
        (
            "/auth/v1/token/expire",
            json!({"token": login["auth"]["token"]}),
        ),
    ];
    for (path, body) in requests {
        let response = api.handle(request(path, body.to_string())).await;
        let answer: Value = serde_json::from_slice(&response.body).unwrap();
        assert_eq!((response.status, code(&answer)), (503, 503), "{path}");
        assert_eq!(answer["status"]["message"], "Service unavailable");
    }
    assert!(sender.sent().is_empty());

    let response = api
        .handle(request(
            "/user/login",
            json!({"emailId": "ann@example.com", "password": "correct horse"}).to_string(),
        ))
        .await;
    let answer: Value = serde_json::from_slice(&response.body).unwrap();
    assert_eq!(
        (response.status, answer),
        (
            503,
            json!({"responseCode": 503, "responseMessage": "Service unavailable"})
        )
    );
}
