//! Batch bodies: answered in order, item by item, inside one HTTP 200; empty
//! or oversize batches and arrays sent to other endpoints are one 1519.

use super::*;

const M: &str = "/auth/v1";

#[tokio::test]
async fn a_batch_answers_each_item_in_order() {
    let h = harness().await;
    let good = mobile("919999900040");
    let batch = json!([good, with(&good, json!({"brand": "ACME"})), "not an object"]);
    let (status, answer) = h.post(&format!("{M}/token/generate"), &batch).await;
    assert_eq!(status, 200);
    let items = answer.as_array().unwrap();
    let codes: Vec<u64> = items.iter().map(code).collect();
    assert_eq!(codes, vec![200, 1504, 1519]);
    assert!(items[0]["user"]["sessionId"].is_string());
    assert_eq!(
        items[1],
        json!({"status": {"success": false, "code": 1504, "message": "Unsupported brand"}})
    );
}

#[tokio::test]
async fn a_batch_of_validations_runs_in_order_against_one_session() {
    let h = harness().await;
    let body = mobile("919999900041");
    let (session, _) = h.open_session(M, &body).await;
    let otp = h.send_code(M, &body, &session).await;
    let wrong = if otp == "000000" { "111111" } else { "000000" };
    let item = |otp: &str| with(&body, json!({"sessionId": session, "otp": otp}));
    let batch = json!([item(wrong), item(&otp), item(&otp)]);
    let (status, answer) = h.post(&format!("{M}/otp/validate"), &batch).await;
    assert_eq!(status, 200);
    let codes: Vec<u64> = answer.as_array().unwrap().iter().map(code).collect();
    assert_eq!(codes, vec![1506, 200, 1505]);
    assert!(answer[1]["auth"]["token"].is_string());
}

#[tokio::test]
async fn a_batch_of_code_requests_sends_one_code_per_good_item() {
    let h = harness().await;
    let ann = mobile("919999900042");
    let bob = mobile("919999900043");
    let (a, _) = h.open_session(M, &ann).await;
    let (b, _) = h.open_session(M, &bob).await;
    let batch = json!([
        with(&ann, json!({"sessionId": a})),
        with(&bob, json!({"sessionId": a})),
        with(&bob, json!({"sessionId": b}))
    ]);
    let (status, answer) = h.post(&format!("{M}/otp/generate"), &batch).await;
    assert_eq!(status, 200);
    let codes: Vec<u64> = answer.as_array().unwrap().iter().map(code).collect();
    assert_eq!(codes, vec![200, 1541, 200]);
    assert_eq!(h.sender.sent().len(), 2);
}

#[tokio::test]
async fn empty_and_oversize_batches_are_one_error() {
    let h = harness().await;
    let item = mobile("919999900044");
    for batch in [json!([]), json!([item, item, item, item])] {
        let (status, answer) = h.post(&format!("{M}/token/generate"), &batch).await;
        assert_eq!(status, 400);
        assert_eq!(
            answer,
            json!({"status": {"success": false, "code": 1519, "message": "Invalid details passed"}})
        );
    }
    let (status, answer) = h
        .post(&format!("{M}/token/generate"), &json!([item, item, item]))
        .await;
    assert_eq!(
        (status, answer.as_array().map(Vec::len)),
        (200, Some(3)),
        "batch_max is 3 here"
    );
}

#[tokio::test]
async fn regenerate_takes_no_batch() {
    let h = harness().await;
    let (status, answer) = h
        .post(
            &format!("{M}/token/regenerate"),
            &json!([mobile("919999900045")]),
        )
        .await;
    assert_eq!((status, code(&answer)), (400, 1519));
}
