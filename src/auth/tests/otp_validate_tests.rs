//! otp/validate: the tokens of a finished login, registration, single use,
//! counted wrong codes, missing and expired codes, and session binding.

use super::fake_issuer::FakeIssuer;
use super::*;
use crate::store::{Contact, Family, Identifier, IdentifierType, NewSession};
use std::time::Duration;

const M: &str = "/auth/v1";
const W: &str = "/auth/v1/web";

#[tokio::test]
async fn mobile_login_issues_a_user_token_and_an_auth_key_of_one_family() {
    let h = harness().await;
    let answer = h.login(M, &mobile("+919999922332")).await;
    assert_eq!(
        answer["status"],
        json!({"success": true, "code": 200, "message": "SUCCESS"})
    );
    assert_eq!(
        answer["user"],
        json!({"appRegistered": false, "sessionId": null, "role": "USER", "userRegisteredForPassword": false})
    );
    let token = FakeIssuer::claims(answer["auth"]["token"].as_str().unwrap()).unwrap();
    let key = FakeIssuer::claims(answer["auth"]["key"].as_str().unwrap()).unwrap();
    assert_eq!((token.rol.as_str(), key.rol.as_str()), ("USER", "AUTH"));
    assert_eq!(token.fam, key.fam);
    assert_eq!(token.uid, key.uid);
    assert!(!token.uid.is_empty());
    assert_eq!(token.org, "DEMO");
    assert_eq!(token.dev.as_deref(), Some("dev-1"));
    assert_eq!(key.dev.as_deref(), Some("dev-1"));
    assert_eq!(token.idv, vec!["MOBILE|919999922332".to_string()]);
    assert_eq!(
        token.exp.map(|e| e - token.iat),
        Some(15 * 60),
        "tokens.access_ttl"
    );
    assert_eq!(key.exp, None, "keys carry no exp without key_ttl");
}

#[tokio::test]
async fn brand_lifetimes_override_the_defaults() {
    let h = harness().await;
    let answer = h
        .login(
            M,
            &with(&mobile("919999900020"), json!({"brand": "Strict"})),
        )
        .await;
    let token = FakeIssuer::claims(answer["auth"]["token"].as_str().unwrap()).unwrap();
    let key = FakeIssuer::claims(answer["auth"]["key"].as_str().unwrap()).unwrap();
    assert_eq!(token.org, "STRICT");
    assert_eq!(token.exp.map(|e| e - token.iat), Some(120));
    assert_eq!(key.exp.map(|e| e - key.iat), Some(3600));
}

#[tokio::test]
async fn web_login_issues_a_user_token_and_no_key() {
    let h = harness().await;
    let answer = h.login(W, &web_email("ann@example.com")).await;
    assert_eq!(answer["auth"]["key"], Value::Null);
    let token = FakeIssuer::claims(answer["auth"]["token"].as_str().unwrap()).unwrap();
    assert_eq!(token.rol, "USER");
    assert_eq!(token.dev, None);
}

#[tokio::test]
async fn the_first_login_registers_the_user_and_later_logins_find_them() {
    let h = harness().await;
    let body = mobile("919999900021");
    let id = Identifier::new(IdentifierType::Mobile, "919999900021");
    assert!(h.store.find_user("DEMO", &id).await.unwrap().is_none());
    let first = h.login(M, &body).await;
    let user = h.store.find_user("DEMO", &id).await.unwrap().unwrap();
    let second = h.login(M, &body).await;
    let uid = |a: &Value| {
        FakeIssuer::claims(a["auth"]["token"].as_str().unwrap())
            .unwrap()
            .uid
    };
    assert_eq!(uid(&first), user.uid);
    assert_eq!(uid(&second), user.uid);
}

#[tokio::test]
async fn code_and_session_are_single_use() {
    let h = harness().await;
    let body = mobile("919999900022");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let (status, _) = h.validate(M, &body, &session, json!(otp)).await;
    assert_eq!(status, 200);
    let (status, answer) = h.validate(M, &body, &session, json!(otp)).await;
    assert_eq!((status, code(&answer)), (401, 1505));
}

#[tokio::test]
async fn the_code_may_come_as_a_number() {
    let h = harness().await;
    let body = mobile("919999900023");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let number: u64 = otp.parse().unwrap();
    let (status, answer) = h.validate(M, &body, &session, json!(number)).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn wrong_codes_are_counted_until_the_session_dies() {
    let h = harness().await;
    let body = mobile("919999900024");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    for _ in 0..4 {
        let (status, answer) = h.validate(M, &body, &session, json!(wrong)).await;
        assert_eq!((status, code(&answer)), (401, 1506));
        assert_eq!(answer["status"]["message"], "Invalid OTP");
    }
    let (status, answer) = h.validate(M, &body, &session, json!(wrong)).await;
    assert_eq!(
        (status, code(&answer)),
        (429, 1518),
        "the fifth wrong code of DEMO"
    );
    let (status, answer) = h.validate(M, &body, &session, json!(otp)).await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1505),
        "the right code is too late"
    );
}

#[tokio::test]
async fn a_new_code_does_not_reset_the_count_of_wrong_ones() {
    let h = harness().await;
    let body = with(&mobile("919999900025"), json!({"brand": "STRICT"}));
    let (session, _) = h.open_session(M, &body).await;
    h.send_code(M, &body, &session).await;
    let (_, answer) = h.validate(M, &body, &session, json!("1")).await;
    assert_eq!(code(&answer), 1506);
    h.send_code(M, &body, &session).await;
    let (status, answer) = h.validate(M, &body, &session, json!("2")).await;
    assert_eq!((status, code(&answer)), (429, 1518));
}

#[tokio::test]
async fn without_a_live_code_there_is_nothing_to_validate() {
    let h = harness().await;
    let body = with(&mobile("919999900026"), json!({"brand": "STRICT"}));
    let (session, _) = h.open_session(M, &body).await;
    let (status, answer) = h.validate(M, &body, &session, json!("12345678")).await;
    assert_eq!((status, code(&answer)), (400, 1537));

    let otp = h.send_code(M, &body, &session).await;
    h.clock.advance(Duration::from_secs(61));
    let (status, answer) = h.validate(M, &body, &session, json!(otp)).await;
    assert_eq!(
        (status, code(&answer)),
        (400, 1537),
        "the code expired after otp.ttl"
    );
}

#[tokio::test]
async fn validation_repeats_the_session_binding() {
    let h = harness().await;
    let body = mobile("919999900027");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let cases = [
        (json!({"identifierValue": "919999900028"}), 401, 1541),
        (
            json!({"identifierType": "EMAIL", "identifierValue": "a@b.co"}),
            401,
            1541,
        ),
        (json!({"deviceId": "dev-2"}), 401, 1508),
        (json!({"brand": "pass"}), 401, 1509),
        (json!({"sessionId": "nope"}), 401, 1505),
        (json!({"otp": "12x456"}), 400, 1519),
        (json!({"otp": [1, 2]}), 400, 1519),
    ];
    for (change, status, number) in cases {
        let request = with(
            &with(&body, json!({"sessionId": session, "otp": otp})),
            change.clone(),
        );
        let (s, answer) = h.post(&format!("{M}/otp/validate"), &request).await;
        assert_eq!((s, code(&answer)), (status, number), "{change}");
    }
    let (status, _) = h.validate(M, &body, &session, json!(otp)).await;
    assert_eq!(status, 200, "refusals before the try leave the code alone");
}

#[tokio::test]
async fn a_password_staged_on_the_session_becomes_the_accounts() {
    let h = harness().await;
    let id = Identifier::new(IdentifierType::Mobile, "919999900029");
    let session = h
        .store
        .create_session(NewSession {
            id: None,
            brand: "PASS".into(),
            family: Family::Mobile,
            identifier: id.clone(),
            device_id: Some("dev-1".into()),
            contact: Contact {
                mobile: Some(id.value.clone()),
                email: None,
            },
            staged_password_hash: Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into()),
            ttl: Duration::from_secs(900),
        })
        .await
        .unwrap();
    let body = with(&mobile("919999900029"), json!({"brand": "PASS"}));
    let otp = h.send_code(M, &body, &session.id).await;
    let (status, answer) = h.validate(M, &body, &session.id, json!(otp)).await;
    assert_eq!(status, 200);
    assert_eq!(answer["user"]["userRegisteredForPassword"], true);
    let user = h.store.find_user("PASS", &id).await.unwrap().unwrap();
    assert!(user.password_hash.is_some());
}

#[tokio::test]
async fn a_right_code_tried_in_parallel_logs_in_once() {
    let h = harness().await;
    let body = mobile("919999900090");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let (a, b, c, d) = tokio::join!(
        h.validate(M, &body, &session, json!(otp)),
        h.validate(M, &body, &session, json!(otp)),
        h.validate(M, &body, &session, json!(otp)),
        h.validate(M, &body, &session, json!(otp)),
    );
    let mut statuses: Vec<u16> = [a, b, c, d].iter().map(|(s, _)| *s).collect();
    statuses.sort_unstable();
    assert_eq!(statuses, vec![200, 401, 401, 401]);
}
