//! password/change: the token it needs, the checks on the old and new
//! passwords, and the revocation of every token and key issued before.

use super::*;
use std::time::Duration;

const M: &str = "/auth/v1";
const PASSWORD: &str = "correct horse";
const NEW: &str = "battery staple";

fn change(token: &str, password: &str, new: &str, confirm: &str) -> ApiRequest {
    let mut req = request(
        "/auth/v1/password/change",
        json!({"password": password, "newPassword": new, "confirmPassword": confirm}).to_string(),
    );
    req.authorization = Some(format!("Bearer {token}"));
    req
}

#[tokio::test]
async fn a_change_revokes_every_earlier_token_and_key_and_the_new_password_works() {
    let h = harness().await;
    let ann = pass_mobile("919999920001");
    let first = h.register(M, &ann, PASSWORD).await;
    let (_, second) = h.password_login(M, &ann, PASSWORD).await;
    let token = second["auth"]["token"].as_str().unwrap();

    let (status, answer) = h.send(change(token, PASSWORD, NEW, NEW)).await;
    assert_eq!(
        (status, answer),
        (
            200,
            json!({"status": {"success": true, "code": 200, "message": "SUCCESS"}})
        )
    );
    for login in [&first, &second] {
        let key = login["auth"]["key"].as_str().unwrap();
        let (status, answer) = h
            .post(
                &format!("{M}/token/regenerate"),
                &with(&ann, json!({"key": key})),
            )
            .await;
        assert_eq!(
            (status, code(&answer)),
            (401, 1597),
            "keys from before are revoked"
        );
    }
    let (status, answer) = h
        .send(change(token, NEW, "third horse", "third horse"))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1529),
        "the token used is revoked too"
    );

    h.clock.advance(Duration::from_secs(1));
    assert_eq!(h.password_login(M, &ann, PASSWORD).await.0, 401);
    let (status, after) = h.password_login(M, &ann, NEW).await;
    assert_eq!(status, 200, "{after}");
    let key = after["auth"]["key"].as_str().unwrap();
    let (status, _) = h
        .post(
            &format!("{M}/token/regenerate"),
            &with(&ann, json!({"key": key})),
        )
        .await;
    assert_eq!(status, 200, "a login after the change is not revoked");
}

#[tokio::test]
async fn the_token_may_come_in_the_body() {
    let h = harness().await;
    let ann = pass_mobile("919999920002");
    let login = h.register(M, &ann, PASSWORD).await;
    let body = json!({"token": login["auth"]["token"], "password": PASSWORD,
                      "newPassword": NEW, "confirmPassword": NEW});
    let (status, answer) = h.post("/auth/v1/web/password/change", &body).await;
    assert_eq!(status, 200, "{answer}");
}

#[tokio::test]
async fn password_change_refuses_with_the_contract_codes() {
    let h = harness().await;
    let ann = pass_mobile("919999920003");
    let login = h.register(M, &ann, PASSWORD).await;
    let token = login["auth"]["token"].as_str().unwrap();
    let key = login["auth"]["key"].as_str().unwrap();
    let demo = h.login(M, &mobile("919999920004")).await;
    let demo_token = demo["auth"]["token"].as_str().unwrap();
    let cases = [
        (change(token, PASSWORD, NEW, "battery stapler"), 400, 1521),
        (change(token, PASSWORD, "short", "short"), 400, 1542),
        (change(token, PASSWORD, PASSWORD, PASSWORD), 400, 1527),
        (change(token, "wrong horse", NEW, NEW), 401, 1528),
        (change("not.a.token", PASSWORD, NEW, NEW), 401, 1529),
        (change(key, PASSWORD, NEW, NEW), 401, 1529),
        (change(demo_token, PASSWORD, NEW, NEW), 400, 1524),
    ];
    for (req, status, number) in cases {
        let (s, answer) = h.send(req).await;
        assert_eq!((s, code(&answer)), (status, number), "{answer}");
    }
    let mut no_new = change(token, PASSWORD, NEW, NEW);
    no_new.body = json!({"password": PASSWORD}).to_string().into();
    assert_eq!(code(&h.send(no_new).await.1), 1519);
    let (s, answer) = h
        .post("/auth/v1/password/change", &json!({"password": PASSWORD}))
        .await;
    assert_eq!((s, code(&answer)), (400, 1519), "no token at all");

    h.clock.advance(Duration::from_secs(16 * 60));
    let (s, answer) = h.send(change(token, PASSWORD, NEW, NEW)).await;
    assert_eq!((s, code(&answer)), (401, 1529), "expired");
}

#[tokio::test]
async fn wrong_current_passwords_count_toward_the_lockout() {
    let h = harness().await;
    let ann = pass_mobile("919999920005");
    let login = h.register(M, &ann, PASSWORD).await;
    let token = login["auth"]["token"].as_str().unwrap();
    for _ in 0..2 {
        assert_eq!(
            code(&h.send(change(token, "wrong horse", NEW, NEW)).await.1),
            1528
        );
    }
    assert_eq!(
        code(&h.send(change(token, "wrong horse", NEW, NEW)).await.1),
        1530
    );
    assert_eq!(
        code(&h.send(change(token, PASSWORD, NEW, NEW)).await.1),
        1530
    );
}
