//! The bad-token corpus (`tests/corpus/bad_tokens.json`, issue 9): every
//! token in it is refused by `TokenService::verify` with the expected kind,
//! and over HTTP by a gateway on a protected route with a 401 JSON envelope
//! and `WWW-Authenticate: Bearer error="invalid_token"`. A control token,
//! signed with the same keys, passes both, so each refusal is for its flaw.

mod common;
#[path = "corpus/generate.rs"]
mod generate;

use common::{Gateway, Upstream};
use generate::{control, corpus, keys_dir, Case};
use portcullis::tokens::{NoRevocations, TokenService};
use std::collections::HashSet;
use std::sync::Arc;

const CORPUS: &str = "tests/corpus/bad_tokens.json";

fn corpus_path() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(CORPUS)
}

fn committed() -> Vec<Case> {
    let text = std::fs::read_to_string(corpus_path()).expect("the committed corpus");
    serde_json::from_str(&text).expect("the corpus is a JSON array of cases")
}

/// The `tokens` section shared by the unit service and the gateway: the
/// HMAC test key signs, an RSA and an EC public key also verify.
fn tokens_section() -> String {
    let k = keys_dir();
    format!(
        "tokens:\n  issuer: portcullis\n  audience: api\n  leeway: 30s\n  signing:\n\
         \x20   - {{kid: test-1, alg: HS256, secret_file: {}}}\n\
         \x20   - {{kid: rsa-1, alg: RS256, public_key: {}}}\n\
         \x20   - {{kid: ec-1, alg: ES256, public_key: {}}}\n",
        k.join("hs256.secret").display(),
        k.join("rs256.pub.pem").display(),
        k.join("es256.pub.pem").display(),
    )
}

fn service() -> TokenService {
    let cfg = portcullis::config::load_str(&format!(
        "listen: [{{address: 127.0.0.1:1}}]\n{}",
        tokens_section()
    ))
    .expect("corpus config loads");
    TokenService::new(&cfg.tokens, Arc::new(NoRevocations), false).expect("corpus keys load")
}

#[test]
#[ignore = "writes tests/corpus/bad_tokens.json; run after editing tests/corpus/generate.rs"]
fn regenerate_the_corpus() {
    let text = serde_json::to_string_pretty(&corpus()).expect("serialise corpus");
    std::fs::write(corpus_path(), text + "\n").expect("write corpus");
}

#[test]
fn the_committed_corpus_is_what_the_generator_makes_and_has_at_least_50_distinct_tokens() {
    let cases = committed();
    assert_eq!(
        cases,
        corpus(),
        "regenerate with: cargo test --test bad_tokens -- --ignored"
    );
    assert!(cases.len() >= 50, "only {} tokens", cases.len());
    let names: HashSet<_> = cases.iter().map(|c| c.name.as_str()).collect();
    let tokens: HashSet<_> = cases.iter().map(|c| c.token.as_str()).collect();
    assert_eq!(names.len(), cases.len(), "names are unique");
    assert_eq!(tokens.len(), cases.len(), "tokens are unique");
    assert!(!tokens.contains(control().as_str()));
}

#[tokio::test]
async fn verify_refuses_every_corpus_token_with_the_expected_kind() {
    let service = service();
    let accepted = service.verify(&control()).await;
    assert!(accepted.is_ok(), "control token refused: {accepted:?}");
    let mut wrong = Vec::new();
    for case in committed() {
        match service.verify(&case.token).await {
            Ok(id) => wrong.push(format!("{}: ACCEPTED as {}", case.name, id.sub())),
            Err(e) if e.kind() != case.expect => wrong.push(format!(
                "{}: {} ({e}), expected {}",
                case.name,
                e.kind(),
                case.expect
            )),
            Err(_) => {}
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_protected_route_answers_every_corpus_token_with_a_401_invalid_token_envelope() {
    let up = Upstream::start("api").await;
    let gw = Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /api/, upstream: api}}\n{}",
        up.address(),
        tokens_section()
    ))
    .await;
    let client = common::client();
    let send = |token: &str| {
        let value = reqwest::header::HeaderValue::from_bytes(format!("Bearer {token}").as_bytes())
            .expect("corpus tokens are valid header bytes");
        client
            .get(gw.url("/api/check"))
            .header(reqwest::header::AUTHORIZATION, value)
            .send()
    };

    let ok = send(&control()).await.expect("control request");
    assert_eq!(ok.status(), 200, "the control token reaches the upstream");

    let mut wrong = Vec::new();
    for case in committed() {
        let resp = send(&case.token).await.expect("request");
        let status = resp.status().as_u16();
        let challenge = resp
            .headers()
            .get("www-authenticate")
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_string();
        let body: serde_json::Value = resp.json().await.unwrap_or_default();
        let envelope_ok = body["status"]["success"] == false && body["status"]["code"] == 401;
        if status != 401 || challenge != r#"Bearer error="invalid_token""# || !envelope_ok {
            wrong.push(format!("{}: {status} {challenge:?} {body}", case.name));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    assert_eq!(
        up.served(),
        1,
        "only the control token reached the upstream"
    );
}
