//! The bodies of the fuzz targets, shared by `cargo fuzz` (`fuzz_targets/`)
//! and by the seed regression test of the main crate (`tests/fuzz_seeds.rs`
//! includes this file). Each takes arbitrary bytes, calls the gateway's own
//! functions, and panics only when an answer breaks a promise of the code.

use portcullis::auth::batch::{self, Items};
use portcullis::auth::routing::{self, Endpoint, Route};
use portcullis::auth::{wire, AuthError};
use portcullis::store::Family;
use portcullis::tokens::{NoRevocations, TokenService, MAX_TOKEN_BYTES};
use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

/// `tests/corpus/keys` of the repository, from the main crate or from `fuzz/`.
fn keys_dir() -> PathBuf {
    let here = Path::new(env!("CARGO_MANIFEST_DIR"));
    let direct = here.join("tests/corpus/keys");
    if direct.is_dir() {
        direct
    } else {
        here.join("../tests/corpus/keys")
    }
}

/// One service for the whole run, with the keys of the bad-token corpus.
fn verifier() -> &'static (tokio::runtime::Runtime, TokenService) {
    static CELL: OnceLock<(tokio::runtime::Runtime, TokenService)> = OnceLock::new();
    CELL.get_or_init(|| {
        let k = keys_dir();
        let yaml = format!(
            "listen: [{{address: 127.0.0.1:1}}]\ntokens:\n  signing:\n\
             \x20   - {{kid: test-1, alg: HS256, secret_file: {}}}\n\
             \x20   - {{kid: rsa-1, alg: RS256, public_key: {}}}\n\
             \x20   - {{kid: ec-1, alg: ES256, public_key: {}}}\n",
            k.join("hs256.secret").display(),
            k.join("rs256.pub.pem").display(),
            k.join("es256.pub.pem").display(),
        );
        let cfg = portcullis::config::load_str(&yaml).expect("fuzz config loads");
        let service =
            TokenService::new(&cfg.tokens, Arc::new(NoRevocations), false).expect("fuzz keys load");
        let rt = tokio::runtime::Builder::new_current_thread()
            .build()
            .expect("runtime");
        (rt, service)
    })
}

/// `TokenService::verify` on any text: a refusal of a known kind, or an
/// identity of this gateway for a token that fits the size limit.
pub fn token_verify(data: &[u8]) {
    let token = String::from_utf8_lossy(data);
    let (rt, service) = verifier();
    match rt.block_on(service.verify(&token)) {
        Ok(identity) => {
            assert!(token.len() <= MAX_TOKEN_BYTES, "an oversize token passed");
            assert_eq!(identity.issuer, "portcullis");
            assert!(!identity.sub().is_empty() && identity.exp.is_some());
        }
        Err(e) => {
            let kind = e.kind();
            assert!(
                ["missing", "malformed", "invalid", "expired"].contains(&kind),
                "unexpected refusal {kind}: {e}"
            );
            assert_eq!(kind == "missing", token.is_empty());
        }
    }
}

/// The paths the auth request target picks from with its first byte.
const PATHS: &[&str] = &[
    "/auth/v1/token/generate",
    "/auth/v1/otp/generate",
    "/auth/v1/otp/validate",
    "/auth/v1/token/regenerate",
    "/auth/v1/password/validate",
    "/auth/v1/password/change",
    "/auth/v1/password/forget",
    "/auth/v1/token/expire",
    "/auth/v1/web/token/generate",
    "/auth/v1/web/otp/validate",
    "/auth/v1/web/token/regenerate",
    "/user/login",
    "/auth/v1/nothing",
];

const BATCH_MAX: usize = 50;

/// Client mistakes are 4xx; nothing in parsing may claim a server fault.
fn client_error(e: &AuthError) {
    let status = e.code().http_status();
    assert!((400..500).contains(&status), "{e} answered {status}");
}

/// The auth API's request parsing: the path (first byte picks one, or the
/// bytes are the path), then the body through UTF-8 and JSON, the batch
/// split and every field reader a flow uses.
pub fn auth_request(data: &[u8]) {
    let (first, body) = data.split_first().unwrap_or((&0, &[]));
    let raw_path;
    let path = match PATHS.get(usize::from(*first)) {
        Some(p) => *p,
        None => {
            raw_path = String::from_utf8_lossy(body).into_owned();
            &raw_path
        }
    };
    let endpoint = match routing::resolve(path) {
        Route::Found(_, endpoint) => endpoint,
        Route::Unknown(_) => Endpoint::TokenGenerate,
    };
    let value = match wire::parse_body(body) {
        Ok(value) => value,
        Err(e) => return assert_eq!(e.code().number(), 1519),
    };
    let items: Vec<&serde_json::Value> = match batch::items(endpoint, &value, BATCH_MAX) {
        Ok(Items::One(item)) => vec![item],
        Ok(Items::Many(list)) => {
            assert!((1..=BATCH_MAX).contains(&list.len()) && endpoint.accepts_batch());
            list.iter().collect()
        }
        Err(e) => return client_error(&e),
    };
    for item in items {
        let fields = match portcullis::auth::validation::Fields::of(item) {
            Ok(fields) => fields,
            Err(e) => {
                client_error(&e);
                continue;
            }
        };
        if let Ok(id) = fields.identifier() {
            assert!(!id.value.is_empty());
        }
        for result in [
            fields.device(Family::Mobile).map(|_| ()),
            fields.session_id().map(|_| ()),
            fields
                .otp(6)
                .map(|otp| assert!(otp.bytes().all(|b| b.is_ascii_digit()))),
            fields.string("key", 8 * 1024).map(|_| ()),
        ] {
            if let Err(e) = result {
                client_error(&e);
            }
        }
        if let Err(e) = fields.identifier() {
            client_error(&e);
        }
    }
}

/// `config::load_str` on any text: a config with a listener, or errors that
/// say something.
pub fn config_load(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    match portcullis::config::load_str(&text) {
        Ok(cfg) => assert!(!cfg.listen.is_empty(), "a config without listeners passed"),
        Err(e) => assert!(!e.to_string().is_empty()),
    }
}

/// `payload_read`: whatever the quick reading of a token payload accepts, the
/// full serde_json reading accepts too and reads to the same claims.
pub fn payload_read(data: &[u8]) {
    assert!(
        portcullis::tokens::quick_and_full_payload_readings_agree(data),
        "the quick payload reading disagrees with the full one"
    );
}
