//! otp/generate: channels, code shape and lifetime, replacement, the send
//! limit, session binding, delivery failure, and no user enumeration.

use super::*;
use crate::otp::Channel;
use std::time::Duration;

const M: &str = "/auth/v1";

#[tokio::test]
async fn a_mobile_identifier_gets_a_six_digit_code_by_sms() {
    let h = harness().await;
    let body = mobile("+919999922332");
    let (session, _) = h.open_session(M, &body).await;
    let (status, answer) = h
        .post(
            &format!("{M}/otp/generate"),
            &with(&body, json!({"sessionId": session})),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(
        answer,
        json!({"status": {"success": true, "code": 200, "message": "SUCCESS"}})
    );
    let sent = h.sender.sent();
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].channel, Channel::Sms);
    assert_eq!(sent[0].to, "919999922332");
    assert_eq!(sent[0].brand, "DEMO");
    assert_eq!(sent[0].otp.len(), 6);
    assert!(sent[0].otp.bytes().all(|b| b.is_ascii_digit()));
    assert_eq!(sent[0].expires_in_secs, 600);
}

#[tokio::test]
async fn email_and_username_identifiers_use_their_channels() {
    let h = harness().await;
    let ann = web_email("ann@example.com");
    let (session, _) = h.open_session("/auth/v1/web", &ann).await;
    h.send_code("/auth/v1/web", &ann, &session).await;
    let bob = json!({"identifierType": "USERNAME", "identifierValue": "bob", "brand": "DEMO",
                     "deviceId": "d", "mobile": "+4470000000", "email": "bob@example.com"});
    let (session, _) = h.open_session(M, &bob).await;
    h.send_code(M, &bob, &session).await;
    let carol = json!({"identifierType": "USERNAME", "identifierValue": "carol", "brand": "DEMO",
                       "deviceId": "d", "email": "carol@example.com"});
    let (session, _) = h.open_session(M, &carol).await;
    h.send_code(M, &carol, &session).await;

    let routes: Vec<(Channel, String)> = h
        .sender
        .sent()
        .into_iter()
        .map(|m| (m.channel, m.to))
        .collect();
    assert_eq!(
        routes,
        vec![
            (Channel::Email, "ann@example.com".to_string()),
            (Channel::Sms, "4470000000".to_string()),
            (Channel::Email, "carol@example.com".to_string()),
        ]
    );
}

#[tokio::test]
async fn strict_brands_get_their_code_length() {
    let h = harness().await;
    let body = with(&mobile("919999900010"), json!({"brand": "strict"}));
    let (session, _) = h.open_session(M, &body).await;
    assert_eq!(h.send_code(M, &body, &session).await.len(), 8);
}

#[tokio::test]
async fn a_code_never_outlives_its_session() {
    let h = harness().await;
    let body = mobile("919999900011");
    let (session, _) = h.open_session(M, &body).await;
    h.clock.advance(Duration::from_secs(12 * 60));
    h.send_code(M, &body, &session).await;
    let sent = h.sender.sent();
    assert_eq!(sent.last().map(|m| m.expires_in_secs), Some(3 * 60));
}

#[tokio::test]
async fn a_new_code_replaces_the_old_one() {
    let h = harness().await;
    let body = mobile("919999900012");
    let (session, _) = h.open_session(M, &body).await;
    let first = h.send_code(M, &body, &session).await;
    let mut second = h.send_code(M, &body, &session).await;
    while second == first {
        second = h.send_code(M, &body, &session).await;
    }
    let (status, answer) = h.validate(M, &body, &session, json!(first)).await;
    assert_eq!((status, code(&answer)), (401, 1506));
    let (status, _) = h.validate(M, &body, &session, json!(second)).await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn sends_are_limited_per_identifier_across_sessions() {
    let h = harness().await;
    let body = with(&mobile("919999900013"), json!({"brand": "STRICT"}));
    let (first, _) = h.open_session(M, &body).await;
    h.send_code(M, &body, &first).await;
    let (second, _) = h.open_session(M, &body).await;
    h.send_code(M, &body, &second).await;
    let (status, answer) = h
        .post(
            &format!("{M}/otp/generate"),
            &with(&body, json!({"sessionId": second})),
        )
        .await;
    assert_eq!((status, code(&answer)), (429, 1534));
    assert_eq!(h.sender.sent().len(), 2);

    let other = with(&mobile("919999900014"), json!({"brand": "STRICT"}));
    let (session, _) = h.open_session(M, &other).await;
    h.send_code(M, &other, &session).await;

    h.clock.advance(Duration::from_secs(3601));
    let (third, _) = h.open_session(M, &body).await;
    h.send_code(M, &body, &third).await;
}

#[tokio::test]
async fn the_session_must_exist_and_match_what_opened_it() {
    let h = harness().await;
    let body = mobile("919999900015");
    let (session, _) = h.open_session(M, &body).await;
    let url = format!("{M}/otp/generate");
    let cases = [
        (
            with(&body, json!({"sessionId": "no-such-session"})),
            401,
            1505,
        ),
        (
            with(
                &body,
                json!({"sessionId": session, "identifierValue": "919999900016"}),
            ),
            401,
            1541,
        ),
        (
            with(&body, json!({"sessionId": session, "deviceId": "dev-2"})),
            401,
            1508,
        ),
        (
            with(&body, json!({"sessionId": session, "brand": "STRICT"})),
            401,
            1509,
        ),
        (with(&body, json!({"sessionId": 42})), 400, 1519),
        (body.clone(), 400, 1519),
    ];
    for (request, status, number) in cases {
        let (s, answer) = h.post(&url, &request).await;
        assert_eq!((s, code(&answer)), (status, number), "{request}");
    }
    assert!(h.sender.sent().is_empty());

    let (status, answer) = h
        .post(
            "/auth/v1/web/otp/generate",
            &with(&body, json!({"sessionId": session})),
        )
        .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1505),
        "a mobile session is not a web one"
    );

    h.clock.advance(Duration::from_secs(15 * 60));
    let (status, answer) = h
        .post(&url, &with(&body, json!({"sessionId": session})))
        .await;
    assert_eq!(
        (status, code(&answer)),
        (401, 1505),
        "the session has expired"
    );
}

#[tokio::test]
async fn a_failed_delivery_is_1503_and_leaves_no_code_valid() {
    let h = harness().await;
    let body = mobile("919999900017");
    let (session, _) = h.open_session(M, &body).await;
    let delivered = h.send_code(M, &body, &session).await;
    h.sender.fail(true);
    let (status, answer) = h
        .post(
            &format!("{M}/otp/generate"),
            &with(&body, json!({"sessionId": session})),
        )
        .await;
    assert_eq!((status, code(&answer)), (502, 1503));
    assert_eq!(answer["status"]["message"], "Unable to generate OTP");
    let (status, answer) = h.validate(M, &body, &session, json!(delivered)).await;
    assert_eq!((status, code(&answer)), (400, 1537));
}

#[tokio::test]
async fn the_answer_is_the_same_whether_or_not_the_user_exists() {
    let h = harness().await;
    let known = mobile("919999900018");
    h.login(M, &known).await;
    let unknown = mobile("919999900019");
    let mut answers = Vec::new();
    for body in [&known, &unknown] {
        let (session, _) = h.open_session(M, body).await;
        answers.push(
            h.post(
                &format!("{M}/otp/generate"),
                &with(body, json!({"sessionId": session})),
            )
            .await,
        );
    }
    assert_eq!(answers[0], answers[1]);
}

#[tokio::test]
async fn a_username_accounts_codes_go_to_its_channel_on_file_not_the_one_asked_for() {
    let h = harness().await;
    let bob = json!({"identifierType": "USERNAME", "identifierValue": "bob", "brand": "DEMO",
                     "deviceId": "d", "mobile": "4470000001"});
    h.login(M, &bob).await;
    let intruder = with(&bob, json!({"mobile": "4479999999", "deviceId": "d2"}));
    let (session, _) = h.open_session(M, &intruder).await;
    let (status, answer) = h
        .post(
            &format!("{M}/otp/generate"),
            &with(&intruder, json!({"sessionId": session})),
        )
        .await;
    assert_eq!((status, code(&answer)), (200, 200));
    let last = h.sender.sent().pop().map(|m| (m.channel, m.to));
    assert_eq!(last, Some((Channel::Sms, "4470000001".to_string())));
}
