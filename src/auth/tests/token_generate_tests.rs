//! token/generate: the session it opens, the web VIEW token, the
//! password hint, channels for USERNAME, and the field checks.

use super::fake_issuer::FakeIssuer;
use super::*;
use crate::store::{Identifier, IdentifierType};

#[tokio::test]
async fn mobile_gets_a_session_and_no_token() {
    let h = harness().await;
    let (session, answer) = h.open_session("/auth/v1", &mobile("919999922332")).await;
    assert_eq!(
        answer,
        json!({"status": {"success": true, "code": 200, "message": "SUCCESS"},
               "auth": {"token": null, "key": null},
               "user": {"sessionId": session, "role": "VIEW",
                        "userRegisteredForPassword": false, "appRegistered": false}})
    );
    let stored = h.store.get_session(&session).await.unwrap().unwrap();
    assert_eq!(
        stored.identifier,
        Identifier::new(IdentifierType::Mobile, "919999922332")
    );
    assert_eq!(stored.device_id.as_deref(), Some("dev-1"));
    assert_eq!(stored.expires_at - stored.created_at, 15 * 60 * 1000);
}

#[tokio::test]
async fn session_ids_are_opaque_and_unguessable() {
    let h = harness().await;
    let (a, _) = h.open_session("/auth/v1", &mobile("919999922332")).await;
    let (b, _) = h.open_session("/auth/v1", &mobile("919999922332")).await;
    assert_ne!(a, b);
    // 128 bits in unpadded base64 take at least 22 characters.
    assert!(a.len() >= 22, "{a}");
}

#[tokio::test]
async fn web_gets_a_view_token_that_lives_as_long_as_the_session() {
    let h = harness().await;
    let (_, answer) = h
        .open_session("/auth/v1/web", &web_email("Ann@Example.com"))
        .await;
    let token = answer["auth"]["token"].as_str().unwrap();
    let claims = FakeIssuer::claims(token).unwrap();
    assert_eq!(claims.rol, "VIEW");
    assert_eq!(claims.org, "DEMO");
    assert_eq!(claims.dev, None);
    assert!(
        claims.uid.starts_with("anonymous:"),
        "a VIEW token names no account"
    );
    assert_eq!(claims.fam, claims.uid["anonymous:".len()..]);
    assert_eq!(claims.idv, vec!["EMAIL|ann@example.com".to_string()]);
    assert_eq!(claims.exp.map(|e| e - claims.iat), Some(15 * 60));
    assert_eq!(answer["auth"]["key"], Value::Null);
    assert_eq!(answer["user"]["role"], "VIEW");
}

#[tokio::test]
async fn web_ignores_the_device() {
    let h = harness().await;
    let body = with(
        &web_email("ann@example.com"),
        json!({"deviceId": {"not": "a string"}}),
    );
    let (session, _) = h.open_session("/auth/v1/web", &body).await;
    let stored = h.store.get_session(&session).await.unwrap().unwrap();
    assert_eq!(stored.device_id, None);
}

#[tokio::test]
async fn registered_for_password_is_true_only_for_an_account_with_a_password() {
    let h = harness().await;
    let ann = mobile("919999900001");
    let (_, answer) = h.open_session("/auth/v1", &ann).await;
    assert_eq!(
        answer["user"]["userRegisteredForPassword"], false,
        "no account yet"
    );

    let login = h.login("/auth/v1", &ann).await;
    assert_eq!(login["user"]["userRegisteredForPassword"], false);
    let (_, answer) = h.open_session("/auth/v1", &ann).await;
    assert_eq!(
        answer["user"]["userRegisteredForPassword"], false,
        "account without password"
    );

    let id = Identifier::new(IdentifierType::Mobile, "919999900001");
    let user = h.store.find_user("DEMO", &id).await.unwrap().unwrap();
    h.store
        .set_password(&user.uid, "$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA")
        .await
        .unwrap();
    let (_, answer) = h.open_session("/auth/v1", &ann).await;
    assert_eq!(answer["user"]["userRegisteredForPassword"], true);
}

#[tokio::test]
async fn a_username_needs_a_mobile_or_an_email_to_send_codes_to() {
    let h = harness().await;
    let bob = json!({"identifierType": "USERNAME", "identifierValue": "bob.smith", "brand": "DEMO", "deviceId": "d"});
    let (status, answer) = h.post("/auth/v1/token/generate", &bob).await;
    assert_eq!((status, code(&answer)), (400, 1540));
    let (status, answer) = h
        .post(
            "/auth/v1/token/generate",
            &with(&bob, json!({"mobile": "", "email": ""})),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, 1540));

    let (status, answer) = h
        .post(
            "/auth/v1/token/generate",
            &with(&bob, json!({"mobile": "12"})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (400, 1519),
        "a mobile channel must be a mobile number"
    );

    let (session, _) = h
        .open_session("/auth/v1", &with(&bob, json!({"email": "Bob@Example.com"})))
        .await;
    let stored = h.store.get_session(&session).await.unwrap().unwrap();
    assert_eq!(stored.contact.email.as_deref(), Some("bob@example.com"));
}

#[tokio::test]
async fn a_password_on_a_brand_without_passwords_is_refused() {
    let h = harness().await;
    let body = with(
        &mobile("919999900002"),
        json!({"password": "s3cret-pass", "confirmPassword": "s3cret-pass"}),
    );
    let (status, answer) = h.post("/auth/v1/token/generate", &body).await;
    assert_eq!((status, code(&answer)), (400, 1524));
    assert_eq!(
        answer["status"]["message"],
        "Password is not enabled for the brand"
    );
}

#[tokio::test]
async fn common_fields_are_checked_in_the_contract_order() {
    let h = harness().await;
    let ann = mobile("919999900004");
    let cases = [
        (with(&ann, json!({"identifierType": "PHONE"})), 400, 1546),
        (with(&ann, json!({"identifierType": null})), 400, 1519),
        (with(&ann, json!({"identifierValue": "12ab"})), 400, 1519),
        (with(&ann, json!({"identifierType": "EMAIL"})), 400, 1519),
        (with(&ann, json!({"brand": "ACME"})), 400, 1504),
        (with(&ann, json!({"brand": null})), 400, 1519),
        (with(&ann, json!({"deviceId": null})), 400, 1519),
        (with(&ann, json!({"deviceId": "x".repeat(129)})), 400, 1519),
    ];
    for (body, status, number) in cases {
        let (s, answer) = h.post("/auth/v1/token/generate", &body).await;
        assert_eq!((s, code(&answer)), (status, number), "{body}");
    }
}
