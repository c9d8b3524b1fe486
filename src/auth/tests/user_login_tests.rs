//! `POST /user/login`: its own body shapes, exactly as API.md section 5.

use super::fake_issuer::FakeIssuer;
use super::*;
use crate::store::{Identifier, IdentifierType, NewUser};

const PASSWORD: &str = "correct horse";

async fn account(h: &Harness, email: &str, password: Option<&str>) {
    let password_hash = match password {
        Some(p) => Some(crate::auth::passwords::hash(p.into()).await.unwrap()),
        None => None,
    };
    h.store
        .find_or_create_user(NewUser {
            brand: "PASS".into(),
            identifiers: vec![Identifier::new(IdentifierType::Email, email)],
            contact: Default::default(),
            password_hash,
        })
        .await
        .unwrap();
}

async fn login(h: &Harness, body: Value) -> (u16, Value) {
    h.post("/user/login", &body).await
}

#[tokio::test]
async fn a_right_password_gets_a_token_an_api_key_and_the_expiry() {
    let h = harness().await;
    account(&h, "ann@example.com", Some(PASSWORD)).await;
    let (status, answer) = login(
        &h,
        json!({"emailId": "Ann@Example.com", "password": PASSWORD}),
    )
    .await;
    assert_eq!(status, 200, "{answer}");
    assert_eq!(answer["responseCode"], 200);
    assert_eq!(answer["responseMessage"], "Success");
    let data = &answer["responseData"];
    assert_eq!(data["expiry"], 3600);
    assert_eq!(data["emailId"], "ann@example.com");
    assert_eq!(data.as_object().map(|o| o.len()), Some(4));
    let token = FakeIssuer::claims(data["token"].as_str().unwrap()).unwrap();
    let key = FakeIssuer::claims(data["apiKey"].as_str().unwrap()).unwrap();
    assert_eq!((token.rol.as_str(), key.rol.as_str()), ("USER", "AUTH"));
    assert_eq!(token.exp.map(|e| e - token.iat), Some(3600));
    assert_eq!(token.org, "PASS");
    assert_eq!(token.fam, key.fam);
}

#[tokio::test]
async fn unknown_email_is_404_and_wrong_password_405_exactly() {
    let h = harness().await;
    account(&h, "ann@example.com", Some(PASSWORD)).await;
    account(&h, "nopass@example.com", None).await;
    let unknown =
        json!({"responseCode": 404, "responseMessage": "Please provide valid user details"});
    let wrong = json!({"responseCode": 405, "responseMessage": "Please provide valid password"});
    assert_eq!(
        login(
            &h,
            json!({"emailId": "bob@example.com", "password": PASSWORD})
        )
        .await,
        (404, unknown.clone())
    );
    assert_eq!(
        login(
            &h,
            json!({"emailId": "not an address", "password": PASSWORD})
        )
        .await,
        (404, unknown)
    );
    assert_eq!(
        login(
            &h,
            json!({"emailId": "ann@example.com", "password": "wrong horse"})
        )
        .await,
        (405, wrong.clone())
    );
    assert_eq!(
        login(
            &h,
            json!({"emailId": "nopass@example.com", "password": PASSWORD})
        )
        .await,
        (405, wrong)
    );
}

#[tokio::test]
async fn malformed_bodies_are_400() {
    let h = harness().await;
    for body in [
        json!({}),
        json!({"emailId": "ann@example.com"}),
        json!({"password": PASSWORD}),
        json!({"emailId": 7, "password": PASSWORD}),
        json!({"emailId": "ann@example.com", "password": ""}),
        json!(["ann@example.com"]),
    ] {
        let (status, answer) = login(&h, body.clone()).await;
        assert_eq!(status, 400, "{body}");
        assert_eq!(answer["responseCode"], 400);
        assert!(answer["responseMessage"].is_string());
    }
    let (status, answer) = h.send(request("/user/login", "{not json")).await;
    assert_eq!((status, answer["responseCode"].as_u64()), (400, Some(400)));
}

#[tokio::test]
async fn lockout_applies_as_for_password_validate() {
    let h = harness().await;
    account(&h, "ann@example.com", Some(PASSWORD)).await;
    let wrong = json!({"emailId": "ann@example.com", "password": "wrong horse"});
    assert_eq!(login(&h, wrong.clone()).await.0, 405);
    assert_eq!(login(&h, wrong.clone()).await.0, 405);
    let (status, answer) = login(&h, wrong).await;
    assert_eq!(status, 429);
    assert_eq!(
        answer,
        json!({"responseCode": 429, "responseMessage": "Reached the maximum allowed password retry attempts, please reset your password"})
    );
    let right = json!({"emailId": "ann@example.com", "password": PASSWORD});
    assert_eq!(login(&h, right).await.0, 429);
}

#[tokio::test]
async fn only_post_with_json_is_answered() {
    let h = harness().await;
    let mut get = request("/user/login", "");
    get.method = http::Method::GET;
    let response = h.api.handle(get).await;
    assert_eq!(response.status, 405);
    assert!(response.headers.contains(&("allow".into(), "POST".into())));
    let mut form = request("/user/login", "emailId=a");
    form.content_type = Some("application/x-www-form-urlencoded".into());
    let (status, answer) = h.send(form).await;
    assert_eq!((status, answer["responseCode"].as_u64()), (415, Some(415)));
}

#[tokio::test]
async fn without_a_login_section_the_endpoint_is_not_found() {
    let mut cfg = config();
    cfg.login = None;
    let h = harness_with(cfg).await;
    let (status, answer) = login(&h, json!({"emailId": "a@b.co", "password": PASSWORD})).await;
    assert_eq!(
        (status, answer),
        (
            404,
            json!({"responseCode": 404, "responseMessage": "Not found"})
        )
    );
}
