//! token/expire (logout): the presented token and the key issued with it
//! are revoked; a token that does not verify is 1531.

use super::fake_issuer::{Claims, FakeIssuer};
use super::*;
use std::time::Duration;

const M: &str = "/auth/v1";
const W: &str = "/auth/v1/web";

fn expire(prefix: &str, token: &str) -> ApiRequest {
    let mut req = request(&format!("{prefix}/token/expire"), "{}");
    req.authorization = Some(format!("Bearer {token}"));
    req
}

#[tokio::test]
async fn logout_revokes_the_token_and_its_key() {
    let h = harness().await;
    let ann = mobile("919999930001");
    let login = h.login(M, &ann).await;
    let other = h.login(M, &ann).await;
    let token = login["auth"]["token"].as_str().unwrap();
    let (status, answer) = h.send(expire(M, token)).await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"status": {"success": true, "code": 200, "message": "SUCCESS"}})
        )
    );
    let (status, answer) = h
        .post(
            &format!("{M}/token/regenerate"),
            &with(&ann, json!({"key": login["auth"]["key"]})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1597),
        "the key of the family is revoked"
    );
    let (status, answer) = h.send(expire(M, token)).await;
    assert_eq!(
        (status, code(&answer)),
        (400, 1531),
        "a revoked token cannot log out again"
    );
    let (status, _) = h
        .post(
            &format!("{M}/token/regenerate"),
            &with(&ann, json!({"key": other["auth"]["key"]})),
        )
        .await;
    assert_eq!(status, 200, "another login of the same user stays");
}

#[tokio::test]
async fn a_web_logout_stops_regeneration_for_the_whole_window() {
    let h = harness().await;
    let ann = web_email("ann@example.com");
    let login = h.login(W, &ann).await;
    let token = login["auth"]["token"].as_str().unwrap().to_owned();
    h.clock.advance(Duration::from_secs(20 * 60));
    let body = json!({"token": token});
    let (status, answer) = h.post(&format!("{W}/token/expire"), &body).await;
    assert_eq!(
        status, 200,
        "an expired but regenerable token can log out: {answer}"
    );
    h.clock.advance(Duration::from_secs(6 * 24 * 3600));
    let (status, answer) = h
        .post(
            &format!("{W}/token/regenerate"),
            &with(&ann, json!({"expiredToken": token})),
        )
        .await;
    assert_eq!((status, code(&answer)), (401, 1525));
}

#[tokio::test]
async fn tokens_that_do_not_verify_cannot_be_expired() {
    let h = harness().await;
    let login = h.login(W, &web_email("bob@example.com")).await;
    let mut claims: Claims = FakeIssuer::claims(login["auth"]["token"].as_str().unwrap()).unwrap();
    let token = FakeIssuer::sign(&claims);
    claims.iss = "someone-else".into();
    let foreign = FakeIssuer::sign(&claims);
    let (status, answer) = h.send(expire(W, &foreign)).await;
    assert_eq!((status, code(&answer)), (400, 1531));
    let (status, answer) = h.send(expire(W, "garbage")).await;
    assert_eq!((status, code(&answer)), (400, 1531));
    let (status, answer) = h.post(&format!("{W}/token/expire"), &json!({})).await;
    assert_eq!((status, code(&answer)), (400, 1519));
    h.clock.advance(Duration::from_secs(8 * 24 * 3600));
    let (status, answer) = h.send(expire(W, &token)).await;
    assert_eq!(
        (status, code(&answer)),
        (400, 1531),
        "past the regenerate window"
    );
}
