//! `docs/openapi.yaml` stays true: it is OpenAPI 3.1, names every endpoint of
//! the auth API (both families and `/user/login`) with POST only, every path
//! it names is routed by the gateway, every error code sits under its HTTP
//! status, and a real gateway's answers to each operation's example, to a
//! full mobile login and to the documented refusals have a documented status
//! and match the schema the document gives for it.

mod common;
#[path = "openapi/schema.rs"]
mod schema;

use common::{Gateway, Upstream, Webhook};
use portcullis::auth::routing::{self, Route};
use portcullis::auth::Code;
use serde_json::{json, Value};
use std::collections::BTreeSet;

const ENDPOINTS: &[&str] = &[
    "token/generate",
    "otp/generate",
    "otp/validate",
    "password/validate",
    "password/change",
    "password/forget",
    "token/regenerate",
    "token/expire",
];

fn document() -> Value {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/openapi.yaml");
    let text = std::fs::read_to_string(&path).expect("docs/openapi.yaml");
    serde_norway::from_str(&text).expect("docs/openapi.yaml is YAML")
}

fn api_paths() -> Vec<String> {
    let mut paths: Vec<String> = ["/auth/v1", "/auth/v1/web"]
        .iter()
        .flat_map(|prefix| ENDPOINTS.iter().map(move |e| format!("{prefix}/{e}")))
        .collect();
    paths.push("/user/login".into());
    paths
}

/// Follows `$ref` chains to the node they name.
fn deref<'a>(doc: &'a Value, node: &'a Value) -> &'a Value {
    match node.get("$ref").and_then(Value::as_str) {
        Some(r) => deref(doc, schema::resolve(doc, r).unwrap_or(&Value::Null)),
        None => node,
    }
}

/// Every `$ref` string anywhere under `node`.
fn refs(node: &Value, out: &mut Vec<String>) {
    match node {
        Value::Object(m) => {
            if let Some(Value::String(r)) = m.get("$ref") {
                out.push(r.clone());
            }
            m.values().for_each(|v| refs(v, out));
        }
        Value::Array(a) => a.iter().for_each(|v| refs(v, out)),
        _ => {}
    }
}

/// The schema of `path`'s POST answer with `status`, if documented.
fn response_schema<'a>(doc: &'a Value, path: &str, status: u16) -> Option<&'a Value> {
    let response = doc["paths"][path]["post"]["responses"].get(status.to_string())?;
    deref(doc, response)["content"]["application/json"].get("schema")
}

#[test]
fn the_document_is_openapi_3_1_with_every_endpoint_as_post_only() {
    let doc = document();
    assert!(doc["openapi"]
        .as_str()
        .unwrap_or_default()
        .starts_with("3.1."));
    let documented: BTreeSet<String> = doc["paths"]
        .as_object()
        .expect("paths")
        .keys()
        .cloned()
        .collect();
    let expected: BTreeSet<String> = api_paths().into_iter().collect();
    assert_eq!(documented, expected);
    for path in &expected {
        let item = doc["paths"][path].as_object().expect("path item");
        let methods: Vec<&String> = item.keys().collect();
        assert_eq!(methods, ["post"], "{path}");
        let Route::Found(_, endpoint) = routing::resolve(path) else {
            panic!("the gateway does not route {path}");
        };
        let op = &item["post"];
        assert!(op["operationId"].is_string(), "{path}");
        let body_schema = &deref(&doc, &op["requestBody"])["content"]["application/json"]["schema"];
        let takes_array = body_schema["oneOf"]
            .as_array()
            .is_some_and(|alts| alts.iter().any(|s| s["type"] == "array"));
        assert_eq!(
            takes_array,
            endpoint.accepts_batch(),
            "batch bodies of {path}"
        );
        for status in [200, 400, 404, 413, 415, 429, 503] {
            assert!(
                response_schema(&doc, path, status).is_some(),
                "{path} {status}"
            );
        }
    }
}

#[test]
fn every_reference_resolves_and_response_schemas_use_only_checked_keywords() {
    let doc = document();
    let mut all = Vec::new();
    refs(&doc, &mut all);
    for r in &all {
        assert!(schema::resolve(&doc, r).is_some(), "unresolved {r}");
    }
    let mut seen = BTreeSet::new();
    let mut todo: Vec<Value> = doc["components"]["responses"]
        .as_object()
        .expect("responses")
        .values()
        .map(|r| r["content"]["application/json"]["schema"].clone())
        .collect();
    while let Some(node) = todo.pop() {
        match node {
            Value::Object(m) => {
                for (k, v) in &m {
                    let is_schema_keyword = !matches!(k.as_str(), "properties");
                    assert!(
                        !is_schema_keyword || schema::KNOWN_KEYWORDS.contains(&k.as_str()),
                        "response schemas use {k}, which the check does not know"
                    );
                    if k == "$ref" {
                        let r = v.as_str().unwrap_or_default().to_string();
                        if seen.insert(r.clone()) {
                            todo.push(schema::resolve(&doc, &r).cloned().unwrap_or_default());
                        }
                    } else if k == "properties" {
                        todo.extend(v.as_object().into_iter().flat_map(|p| p.values().cloned()));
                    } else if matches!(k.as_str(), "allOf" | "oneOf" | "anyOf" | "items") {
                        todo.push(v.clone());
                    }
                }
            }
            Value::Array(items) => todo.extend(items),
            _ => {}
        }
    }
}

#[test]
fn every_answer_code_is_documented_under_its_http_status() {
    let doc = document();
    let schemas = &doc["components"]["schemas"];
    for code in Code::ALL {
        if matches!(code, Code::Success | Code::Internal) {
            continue;
        }
        let status = code.http_status();
        let listed = schemas[format!("Error{status}")]["properties"]["status"]["properties"]
            ["code"]["enum"]
            .as_array()
            .unwrap_or_else(|| panic!("no Error{status} schema"));
        assert!(
            listed.contains(&json!(code.number())),
            "{code:?} ({}) is not under Error{status}",
            code.number()
        );
    }
    for (name, s) in schemas.as_object().expect("schemas") {
        let Some(status) = name
            .strip_prefix("Error")
            .and_then(|s| s.parse::<u16>().ok())
        else {
            continue;
        };
        for listed in s["properties"]["status"]["properties"]["code"]["enum"]
            .as_array()
            .expect("code enum")
        {
            // Codes of the contract sit under their status; answers the proxy
            // makes itself (408) carry the HTTP status as their code.
            let code = Code::ALL.iter().find(|c| json!(c.number()) == *listed);
            let ok = match code {
                Some(c) => c.http_status() == status,
                None => *listed == json!(status),
            };
            assert!(ok, "{listed} in {name}");
        }
    }
}

/// Sends a request and checks the answer against the document.
async fn check(
    doc: &Value,
    gw: &Gateway,
    method: reqwest::Method,
    path: &str,
    content_type: &str,
    body: String,
) -> (u16, Value) {
    let resp = common::client()
        .request(method, gw.url(path))
        .header("content-type", content_type)
        .body(body.clone())
        .send()
        .await
        .expect("request");
    let status = resp.status().as_u16();
    let answer: Value = resp.json().await.unwrap_or(Value::Null);
    let schema = response_schema(doc, path, status)
        .unwrap_or_else(|| panic!("{path} answered {status}, which is not documented: {answer}"));
    if let Err(e) = schema::validate(doc, schema, &answer, "$") {
        panic!(
            "{path} {status} does not match the document: {e}\nanswer: {answer}\nrequest: {body}"
        );
    }
    (status, answer)
}

async fn post(doc: &Value, gw: &Gateway, path: &str, body: &Value) -> (u16, Value) {
    check(
        doc,
        gw,
        reqwest::Method::POST,
        path,
        "application/json",
        body.to_string(),
    )
    .await
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gateway_answers_every_example_and_a_whole_login_as_documented() {
    let doc = document();
    let up = Upstream::start("api").await;
    let hook = Webhook::start().await;
    let gw = Gateway::start(&format!(
        "upstreams:\n  api: {{backends: [{}]}}\nroutes:\n  - {{path: /api/, upstream: api}}\n\
         otp_delivery: {{kind: webhook, url: \"{}\", timeout: 2s}}\n\
         limits: {{body_max: 4KiB, rate: {{auth_per_ip: null, auth_per_identifier: null}}}}\n\
         brands:\n  DEMO: {{}}\n",
        up.address(),
        hook.url()
    ))
    .await;

    // Each operation's own example.
    for path in api_paths() {
        let op = &doc["paths"][&path]["post"];
        let body = &deref(&doc, &op["requestBody"])["content"]["application/json"]["example"];
        assert!(body.is_object(), "{path} has an example");
        post(&doc, &gw, &path, body).await;
    }

    // A whole mobile login, and a batch.
    let who = json!({"identifierType": "MOBILE", "identifierValue": "+4915112345678",
                     "brand": "DEMO", "deviceId": "device-1"});
    let (status, opened) = post(&doc, &gw, "/auth/v1/token/generate", &who).await;
    assert_eq!(status, 200);
    let mut step = who.clone();
    step["sessionId"] = opened["user"]["sessionId"].clone();
    let (status, _) = post(&doc, &gw, "/auth/v1/otp/generate", &step).await;
    assert_eq!(status, 200);
    step["otp"] = json!(hook
        .last_code_for("4915112345678")
        .expect("a code was sent"));
    let (status, done) = post(&doc, &gw, "/auth/v1/otp/validate", &step).await;
    assert_eq!(status, 200);
    let mut again = who.clone();
    again["key"] = done["auth"]["key"].clone();
    let (status, _) = post(&doc, &gw, "/auth/v1/token/regenerate", &again).await;
    assert_eq!(status, 200);
    let (status, batch) = post(
        &doc,
        &gw,
        "/auth/v1/web/token/generate",
        &json!([who, {"identifierType": "FAX", "identifierValue": "1", "brand": "DEMO"}]),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(batch[1]["status"]["code"], 1546);

    // Documented refusals.
    let path = "/auth/v1/otp/generate";
    let (status, _) = post(&doc, &gw, path, &json!([])).await;
    assert_eq!(status, 400);
    let (status, _) = post(&doc, &gw, path, &json!({"brand": "NOPE"})).await;
    assert_eq!(status, 400);
    let (status, _) = check(
        &doc,
        &gw,
        reqwest::Method::POST,
        path,
        "text/plain",
        "{}".into(),
    )
    .await;
    assert_eq!(status, 415);
    let big = json!({"pad": "x".repeat(8 * 1024)}).to_string();
    let (status, _) = check(
        &doc,
        &gw,
        reqwest::Method::POST,
        path,
        "application/json",
        big,
    )
    .await;
    assert_eq!(status, 413);
    let (status, _) = check(
        &doc,
        &gw,
        reqwest::Method::GET,
        path,
        "application/json",
        String::new(),
    )
    .await;
    assert_eq!(status, 405);
}
