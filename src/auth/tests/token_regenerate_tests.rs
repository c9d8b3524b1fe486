//! token/regenerate: a key (mobile) or a recently expired token (web) buys a
//! new USER token in the same family; anything else is 1597 / 1525.

use super::fake_issuer::{Claims, FakeIssuer};
use super::*;
use std::time::Duration;

const M: &str = "/auth/v1";
const W: &str = "/auth/v1/web";

fn claims_of(answer: &Value, field: &str) -> Claims {
    FakeIssuer::claims(answer["auth"][field].as_str().unwrap()).unwrap()
}

#[tokio::test]
async fn a_mobile_key_buys_a_new_token_in_its_family() {
    let h = harness().await;
    let body = mobile("919999900030");
    let login = h.login(M, &body).await;
    h.clock.advance(Duration::from_secs(3600));
    let (status, answer) = h
        .post(
            &format!("{M}/token/regenerate"),
            &with(&body, json!({"key": login["auth"]["key"]})),
        )
        .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["auth"]["key"], Value::Null);
    assert_eq!(
        answer["user"],
        json!({"appRegistered": false, "sessionId": null, "role": "USER", "userRegisteredForPassword": false})
    );
    let old = claims_of(&login, "token");
    let new = claims_of(&answer, "token");
    assert_eq!(new.rol, "USER");
    assert_eq!(new.uid, old.uid);
    assert_eq!(new.fam, old.fam);
    assert_eq!(new.dev.as_deref(), Some("dev-1"));
    assert_eq!(new.iat, old.iat + 3600);
}

#[tokio::test]
async fn a_key_that_is_not_valid_for_this_request_is_1597() {
    let h = harness().await;
    let body = mobile("919999900031");
    let login = h.login(M, &body).await;
    let key = login["auth"]["key"].as_str().unwrap().to_owned();
    let mut doctored = FakeIssuer::claims(&key).unwrap();
    doctored.dev = Some("dev-2".into());
    let tampered = {
        let token = FakeIssuer::sign(&doctored);
        let mut parts: Vec<&str> = token.split('.').collect();
        let signature_of_original = key.split('.').nth(2).unwrap_or_default();
        parts[2] = signature_of_original;
        parts.join(".")
    };
    let cases = [
        (json!({"key": "not-a-jwt"}), "garbage"),
        (json!({"key": tampered}), "claims changed after signing"),
        (
            json!({"key": login["auth"]["token"]}),
            "a USER token is not a key",
        ),
        (json!({"key": key, "deviceId": "dev-2"}), "another device"),
        (
            json!({"key": key, "identifierValue": "919999900032"}),
            "another identifier",
        ),
        (json!({"key": key, "brand": "STRICT"}), "another brand"),
    ];
    for (change, why) in cases {
        let (status, answer) = h
            .post(&format!("{M}/token/regenerate"), &with(&body, change))
            .await;
        assert_eq!((status, code(&answer)), (401, 1597), "{why}");
        assert_eq!(answer["status"]["message"], "Key expired or not valid");
    }
    let (status, answer) = h.post(&format!("{M}/token/regenerate"), &body).await;
    assert_eq!(
        (status, code(&answer)),
        (400, 1519),
        "the key is a required field"
    );
}

#[tokio::test]
async fn an_expired_or_revoked_key_is_1597() {
    let h = harness().await;
    let body = with(&mobile("919999900033"), json!({"brand": "STRICT"}));
    let login = h.login(M, &body).await;
    let request = with(&body, json!({"key": login["auth"]["key"]}));
    let (status, _) = h.post(&format!("{M}/token/regenerate"), &request).await;
    assert_eq!(status, 200);
    h.clock.advance(Duration::from_secs(3600));
    let (status, answer) = h.post(&format!("{M}/token/regenerate"), &request).await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1597),
        "STRICT keys live an hour"
    );

    let body = mobile("919999900034");
    let login = h.login(M, &body).await;
    let family = claims_of(&login, "key").fam;
    h.store
        .revoke_family(&family, crate::store::NEVER)
        .await
        .unwrap();
    let request = with(&body, json!({"key": login["auth"]["key"]}));
    let (status, answer) = h.post(&format!("{M}/token/regenerate"), &request).await;
    assert_eq!((status, code(&answer)), (401, 1597), "logged out");
}

#[tokio::test]
async fn a_key_of_a_deleted_account_is_1597() {
    let h = harness().await;
    let body = mobile("919999900035");
    let login = h.login(M, &body).await;
    let uid = claims_of(&login, "key").uid;
    assert!(h.store.delete_user(&uid).await.unwrap());
    let request = with(&body, json!({"key": login["auth"]["key"]}));
    let (status, answer) = h.post(&format!("{M}/token/regenerate"), &request).await;
    assert_eq!((status, code(&answer)), (401, 1597));
}

#[tokio::test]
async fn web_regenerates_from_an_expired_token_within_the_window() {
    let h = harness().await;
    let body = web_email("ann@example.com");
    let login = h.login(W, &body).await;
    h.clock.advance(Duration::from_secs(6 * 86400));
    let request = with(&body, json!({"expiredToken": login["auth"]["token"]}));
    let (status, answer) = h.post(&format!("{W}/token/regenerate"), &request).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["auth"]["key"], Value::Null);
    let old = claims_of(&login, "token");
    let new = claims_of(&answer, "token");
    assert_eq!(
        (new.uid.clone(), new.fam.clone(), new.dev.clone()),
        (old.uid, old.fam, None)
    );
    assert_eq!(new.rol, "USER");

    let again = with(&body, json!({"expiredToken": answer["auth"]["token"]}));
    let (status, _) = h.post(&format!("{W}/token/regenerate"), &again).await;
    assert_eq!(status, 200, "a regenerated token regenerates too");

    h.clock.advance(Duration::from_secs(86400 + 15 * 60));
    let (status, answer) = h.post(&format!("{W}/token/regenerate"), &request).await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1525),
        "expired longer than 7 days ago"
    );
}

#[tokio::test]
async fn web_refuses_anything_but_the_users_own_token_with_1525() {
    let h = harness().await;
    let body = web_email("ann@example.com");
    let (_, session_answer) = h.open_session(W, &body).await;
    let login = h.login(W, &body).await;
    let mobile_login = h.login(M, &mobile("919999900036")).await;
    let token = login["auth"]["token"].clone();
    let cases = [
        (json!({"expiredToken": "x.y.z"}), "garbage"),
        (
            json!({"expiredToken": session_answer["auth"]["token"]}),
            "a VIEW token",
        ),
        (
            json!({"expiredToken": mobile_login["auth"]["key"]}),
            "an AUTH key",
        ),
        (
            json!({"expiredToken": token, "identifierValue": "bob@example.com"}),
            "another identifier",
        ),
        (
            json!({"expiredToken": token, "brand": "STRICT"}),
            "another brand",
        ),
    ];
    for (change, why) in cases {
        let (status, answer) = h
            .post(&format!("{W}/token/regenerate"), &with(&body, change))
            .await;
        assert_eq!((status, code(&answer)), (401, 1525), "{why}");
        assert_eq!(
            answer["status"]["message"],
            "Cannot regenerate token, please authenticate again"
        );
    }
    h.store
        .revoke_family(&claims_of(&login, "token").fam, crate::store::NEVER)
        .await
        .unwrap();
    let (status, answer) = h
        .post(
            &format!("{W}/token/regenerate"),
            &with(&body, json!({"expiredToken": token})),
        )
        .await;
    assert_eq!((status, code(&answer)), (401, 1525), "revoked");
}
