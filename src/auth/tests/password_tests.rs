//! Passwords on the login steps: the first password staged by token/generate
//! and committed by the OTP, password/validate, the one answer for unknown
//! account / no password / wrong password, the lockout, and password/forget.

use super::fake_issuer::FakeIssuer;
use super::*;
use crate::store::{Identifier, IdentifierType};
use std::time::Duration;

const M: &str = "/auth/v1";
const W: &str = "/auth/v1/web";
const PASSWORD: &str = "correct horse";

async fn stored_user(h: &Harness, number: &str) -> crate::store::User {
    h.store
        .find_user("PASS", &Identifier::new(IdentifierType::Mobile, number))
        .await
        .unwrap()
        .unwrap()
}

#[tokio::test]
async fn a_first_password_is_staged_by_token_generate_and_committed_by_the_otp() {
    let h = harness().await;
    let ann = pass_mobile("919999910001");
    let body = with(
        &ann,
        json!({"password": PASSWORD, "confirmPassword": PASSWORD}),
    );
    let (session, answer) = h.open_session(M, &body).await;
    assert_eq!(answer["user"]["userRegisteredForPassword"], false);
    let staged = h.store.get_session(&session).await.unwrap().unwrap();
    let hash = staged.staged_password_hash.unwrap_or_default();
    assert!(
        hash.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"),
        "{hash}"
    );
    assert!(
        h.store
            .find_user(
                "PASS",
                &Identifier::new(IdentifierType::Mobile, "919999910001")
            )
            .await
            .unwrap()
            .is_none(),
        "a staged password is not an account"
    );

    let otp = h.send_code(M, &ann, &session).await;
    let (status, answer) = h.validate(M, &ann, &session, json!(otp)).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["user"]["userRegisteredForPassword"], true);
    assert_eq!(
        stored_user(&h, "919999910001").await.password_hash,
        Some(hash)
    );

    let (_, answer) = h.open_session(M, &ann).await;
    assert_eq!(answer["user"]["userRegisteredForPassword"], true);
}

#[tokio::test]
async fn token_generate_checks_the_first_password() {
    let h = harness().await;
    let ann = pass_mobile("919999910002");
    let cases = [
        (ann.clone(), 400, 1520),
        (
            with(&ann, json!({"password": "", "confirmPassword": ""})),
            400,
            1520,
        ),
        (with(&ann, json!({"password": PASSWORD})), 400, 1521),
        (
            with(
                &ann,
                json!({"password": PASSWORD, "confirmPassword": "correct horsE"}),
            ),
            400,
            1521,
        ),
        (
            with(
                &ann,
                json!({"password": "short", "confirmPassword": "short"}),
            ),
            400,
            1542,
        ),
        (
            with(
                &ann,
                json!({"password": "p".repeat(129), "confirmPassword": "p".repeat(129)}),
            ),
            400,
            1542,
        ),
        (
            with(
                &ann,
                json!({"password": 12345678, "confirmPassword": 12345678}),
            ),
            400,
            1519,
        ),
        (
            with(
                &mobile("919999910002"),
                json!({"password": PASSWORD, "confirmPassword": PASSWORD}),
            ),
            400,
            1524,
        ),
    ];
    for (body, status, number) in cases {
        let (s, answer) = h.post(&format!("{M}/token/generate"), &body).await;
        assert_eq!((s, code(&answer)), (status, number), "{body}");
    }
}

#[tokio::test]
async fn the_same_password_typed_in_another_unicode_form_logs_in() {
    let h = harness().await;
    let ann = pass_mobile("919999910003");
    h.register(M, &ann, "ｃａｆé-ｐａｓｓ").await;
    let (status, answer) = h.password_login(M, &ann, "cafe\u{301}-pass").await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn password_validate_finishes_a_login_like_the_otp() {
    let h = harness().await;
    let ann = pass_mobile("919999910004");
    let registered = h.register(M, &ann, PASSWORD).await;
    let (status, answer) = h.password_login(M, &ann, PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(
        answer["user"],
        json!({"appRegistered": false, "sessionId": null, "role": "USER", "userRegisteredForPassword": true})
    );
    let token = FakeIssuer::claims(answer["auth"]["token"].as_str().unwrap()).unwrap();
    let key = FakeIssuer::claims(answer["auth"]["key"].as_str().unwrap()).unwrap();
    let first = FakeIssuer::claims(registered["auth"]["token"].as_str().unwrap()).unwrap();
    assert_eq!((token.rol.as_str(), key.rol.as_str()), ("USER", "AUTH"));
    assert_eq!(token.fam, key.fam);
    assert_eq!(token.uid, first.uid);
    assert_eq!(token.org, "PASS");

    let web =
        json!({"identifierType": "MOBILE", "identifierValue": "919999910004", "brand": "pass"});
    let (status, answer) = h.password_login(W, &web, PASSWORD).await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["auth"]["key"], Value::Null);
}

#[tokio::test]
async fn a_session_is_used_up_by_its_password_login() {
    let h = harness().await;
    let ann = pass_mobile("919999910005");
    h.register(M, &ann, PASSWORD).await;
    let (session, _) = h.open_session(M, &ann).await;
    let body = with(&ann, json!({"sessionId": session, "password": PASSWORD}));
    let (status, _) = h.post(&format!("{M}/password/validate"), &body).await;
    assert_eq!(status, 200);
    let (status, answer) = h.post(&format!("{M}/password/validate"), &body).await;
    assert_eq!((status, code(&answer)), (401, 1505));
}

#[tokio::test]
async fn unknown_account_no_password_and_wrong_password_get_one_answer() {
    let h = harness().await;
    let with_password = pass_mobile("919999910006");
    h.register(M, &with_password, PASSWORD).await;
    let without_password = pass_mobile("919999910007");
    h.store
        .find_or_create_user(crate::store::NewUser {
            brand: "PASS".into(),
            identifiers: vec![Identifier::new(IdentifierType::Mobile, "919999910007")],
            contact: Default::default(),
            password_hash: None,
        })
        .await
        .unwrap();

    let wrong = h.password_login(M, &with_password, "wrong horse").await;
    let no_password = h.password_login(M, &without_password, PASSWORD).await;
    // An unknown account cannot open a session on a password brand without
    // a password (1520), so its session is one that staged a password.
    let stranger = pass_mobile("919999910008");
    let staging = with(
        &stranger,
        json!({"password": PASSWORD, "confirmPassword": PASSWORD}),
    );
    let (session, _) = h.open_session(M, &staging).await;
    let unknown = h
        .post(
            &format!("{M}/password/validate"),
            &with(
                &stranger,
                json!({"sessionId": session, "password": PASSWORD}),
            ),
        )
        .await;
    let expected = json!({"status": {"success": false, "code": 1528,
        "message": "Invalid password, please try with the correct password"}});
    for answer in [wrong, no_password, unknown] {
        assert_eq!(answer, (401, expected.clone()));
    }
}

#[tokio::test]
async fn password_validate_checks_its_fields_and_the_session() {
    let h = harness().await;
    let ann = pass_mobile("919999910009");
    h.register(M, &ann, PASSWORD).await;
    let (session, _) = h.open_session(M, &ann).await;
    let path = format!("{M}/password/validate");
    let base = with(&ann, json!({"sessionId": session, "password": PASSWORD}));
    let cases = [
        (with(&base, json!({"password": null})), 400, 1519),
        (with(&base, json!({"password": ""})), 400, 1519),
        (with(&base, json!({"sessionId": "nope"})), 401, 1505),
        (with(&base, json!({"deviceId": "dev-2"})), 401, 1508),
        (
            with(&base, json!({"identifierValue": "919999910010"})),
            401,
            1541,
        ),
        (with(&base, json!({"brand": "nolock"})), 401, 1509),
        (with(&base, json!({"brand": "demo"})), 400, 1524),
    ];
    for (body, status, number) in cases {
        let (s, answer) = h.post(&path, &body).await;
        assert_eq!((s, code(&answer)), (status, number), "{body}");
    }
}

#[tokio::test]
async fn wrong_passwords_lock_the_account_even_against_the_right_one() {
    let h = harness().await;
    // AUDIT is PASS under another name, used only here, so the metric
    // counts this test's lock alone.
    let ann = with(&mobile("919999910011"), json!({"brand": "AUDIT"}));
    h.register(M, &ann, PASSWORD).await;
    let before = lockouts();
    for _ in 0..2 {
        let (status, answer) = h.password_login(M, &ann, "wrong horse").await;
        assert_eq!((status, code(&answer)), (401, 1528));
    }
    let (status, answer) = h.password_login(M, &ann, "wrong horse").await;
    assert_eq!(
        (status, code(&answer)),
        (429, 1530),
        "the third wrong password locks"
    );
    assert_eq!(lockouts(), before + 1);
    let (status, answer) = h.password_login(M, &ann, PASSWORD).await;
    assert_eq!(
        (status, code(&answer)),
        (429, 1530),
        "locked: even the right password"
    );
    assert_eq!(lockouts(), before + 1, "counted once");

    h.clock.advance(Duration::from_secs(30 * 60 + 1));
    let (status, answer) = h.password_login(M, &ann, PASSWORD).await;
    assert_eq!(status, 200, "the lock ends after lockout.period: {answer}");
}

fn lockouts() -> u64 {
    crate::metrics::METRICS
        .account_lockouts_total
        .with_label_values(&["AUDIT"])
        .get()
}

#[tokio::test]
async fn a_right_password_resets_the_count_and_failures_expire_with_the_window() {
    let h = harness().await;
    let ann = pass_mobile("919999910012");
    h.register(M, &ann, PASSWORD).await;
    for _ in 0..2 {
        h.password_login(M, &ann, "wrong horse").await;
    }
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 200);
    for _ in 0..2 {
        h.password_login(M, &ann, "wrong horse").await;
    }
    h.clock.advance(Duration::from_secs(30 * 60 + 1));
    let (status, answer) = h.password_login(M, &ann, "wrong horse").await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1528),
        "older failures left the window"
    );
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 200);
}

#[tokio::test]
async fn without_lockout_wrong_passwords_never_lock() {
    let h = harness().await;
    let ann = with(&mobile("919999910013"), json!({"brand": "NOLOCK"}));
    h.register(M, &ann, PASSWORD).await;
    for _ in 0..7 {
        let (status, answer) = h.password_login(M, &ann, "wrong horse").await;
        assert_eq!((status, code(&answer)), (401, 1528));
    }
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 200);
}

#[tokio::test]
async fn an_operator_lock_answers_1530() {
    let h = harness().await;
    let ann = pass_mobile("919999910014");
    h.register(M, &ann, PASSWORD).await;
    let uid = stored_user(&h, "919999910014").await.uid;
    h.store.lock_user(&uid, crate::store::NEVER).await.unwrap();
    let (status, answer) = h.password_login(M, &ann, PASSWORD).await;
    assert_eq!((status, code(&answer)), (429, 1530));
    h.store.unlock_user(&uid).await.unwrap();
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 200);
}

#[tokio::test]
async fn password_forget_stages_a_new_password_that_the_otp_commits() {
    let h = harness().await;
    let ann = pass_mobile("919999910015");
    h.register(M, &ann, PASSWORD).await;
    for _ in 0..3 {
        h.password_login(M, &ann, "wrong horse").await;
    }
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 429, "locked");

    let (session, _) = h.open_session(M, &ann).await;
    let new = "battery staple";
    let (status, answer) = h
        .post(
            &format!("{M}/password/forget"),
            &with(
                &ann,
                json!({"sessionId": session, "password": new, "confirmPassword": new}),
            ),
        )
        .await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"status": {"success": true, "code": 200, "message": "SUCCESS"}})
        )
    );
    assert_eq!(
        h.password_login(M, &ann, new).await.0,
        429,
        "nothing changes before the OTP"
    );
    let otp = h.send_code(M, &ann, &session).await;
    let (status, _) = h.validate(M, &ann, &session, json!(otp)).await;
    assert_eq!(status, 200);

    assert_eq!(
        h.password_login(M, &ann, PASSWORD).await.0,
        401,
        "the old password is gone"
    );
    assert_eq!(
        h.password_login(M, &ann, new).await.0,
        200,
        "the reset lifted the lock"
    );
}

#[tokio::test]
async fn password_forget_checks_its_fields() {
    let h = harness().await;
    let ann = pass_mobile("919999910016");
    h.register(M, &ann, PASSWORD).await;
    let (session, _) = h.open_session(M, &ann).await;
    let path = format!("{W}/password/forget");
    let web =
        json!({"identifierType": "MOBILE", "identifierValue": "919999910016", "brand": "PASS"});
    let (web_session, _) = h.open_session(W, &web).await;
    let base = with(
        &ann,
        json!({"sessionId": session, "password": "battery staple", "confirmPassword": "battery staple"}),
    );
    let cases = [
        (
            with(&base, json!({"password": null, "confirmPassword": null})),
            400,
            1520,
        ),
        (
            with(&base, json!({"confirmPassword": "battery stapler"})),
            400,
            1521,
        ),
        (
            with(
                &base,
                json!({"password": "short", "confirmPassword": "short"}),
            ),
            400,
            1542,
        ),
        (with(&base, json!({"brand": "demo"})), 400, 1524),
        (with(&base, json!({"sessionId": null})), 400, 1519),
        (base.clone(), 401, 1505),
    ];
    for (body, status, number) in cases {
        let (s, answer) = h.post(&path, &body).await;
        assert_eq!((s, code(&answer)), (status, number), "{body}");
    }
    let body = with(
        &web,
        json!({"sessionId": web_session, "password": "battery staple", "confirmPassword": "battery staple"}),
    );
    assert_eq!(h.post(&path, &body).await.0, 200);
    let (s, answer) = h
        .post(
            &format!("{M}/password/forget"),
            &with(&body, json!({"deviceId": "d"})),
        )
        .await;
    assert_eq!(
        (s, code(&answer)),
        (401, 1505),
        "a web session on the mobile endpoint"
    );
}
