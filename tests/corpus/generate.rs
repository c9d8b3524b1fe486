//! The generator of `tests/corpus/bad_tokens.json`: every hostile token shape
//! the gateway must refuse, built deterministically from the fixed test keys
//! in `tests/corpus/keys/` (an HMAC secret and two public keys; no private
//! key is needed or kept). Times are fixed: "valid except X" tokens expire in
//! 2100 and "expired" ones in 2001, so the corpus does not rot.
//!
//! Regenerate after editing: `cargo test --test bad_tokens -- --ignored`.

use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use hmac::{Hmac, Mac};
use serde::{Deserialize, Serialize};

/// 2100-01-01T00:00:00Z: the `exp` of tokens that must stay unexpired.
pub const FAR_FUTURE: u64 = 4_102_444_800;
/// 2096-10-02: `iat`/`nbf` that stay in the future for this century.
pub const FUTURE: u64 = 4_000_000_000;
/// 2001-09-09: long past any leeway.
pub const PAST: u64 = 1_000_000_000;
/// 2023-11-14: a plausible issue time.
pub const ISSUED: u64 = 1_700_000_000;

/// One entry of the corpus.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Case {
    pub name: String,
    /// What is wrong with it.
    pub why: String,
    /// `VerifyError::kind()` expected: `malformed`, `invalid` or `expired`.
    pub expect: String,
    pub token: String,
}

pub fn keys_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/corpus/keys")
}

fn key_file(name: &str) -> Vec<u8> {
    std::fs::read(keys_dir().join(name)).expect("corpus key file")
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

fn hmac_sig(alg: &str, secret: &[u8], input: &str) -> Vec<u8> {
    macro_rules! mac {
        ($h:ty) => {{
            let mut m = Hmac::<$h>::new_from_slice(secret).expect("any key length");
            m.update(input.as_bytes());
            m.finalize().into_bytes().to_vec()
        }};
    }
    match alg {
        "HS384" => mac!(sha2::Sha384),
        "HS512" => mac!(sha2::Sha512),
        _ => mac!(sha2::Sha256),
    }
}

/// `header.payload.signature` from raw JSON texts, HMAC-signed with `secret`.
fn hs(alg: &str, secret: &[u8], header: &str, payload: &str) -> String {
    let input = format!("{}.{}", b64(header.as_bytes()), b64(payload.as_bytes()));
    let sig = hmac_sig(alg, secret, &input);
    format!("{input}.{}", b64(&sig))
}

/// Signed with the gateway's real HMAC key: only the named flaw is wrong.
fn good_key(header: &str, payload: &str) -> String {
    hs("HS256", &key_file("hs256.secret"), header, payload)
}

/// A header/payload pair with an arbitrary signature.
fn raw(header: &str, payload: &str, sig: &[u8]) -> String {
    format!(
        "{}.{}.{}",
        b64(header.as_bytes()),
        b64(payload.as_bytes()),
        b64(sig)
    )
}

const H: &str = r#"{"alg":"HS256","typ":"JWT","kid":"test-1"}"#;

/// The claims of a token this gateway accepts, with `extra` members replacing
/// or adding to them (raw JSON, so duplicate keys stay duplicate).
fn claims_with(drop: &[&str], extra: &str) -> String {
    let base = [
        ("iss", "\"portcullis\"".to_string()),
        ("aud", "\"api\"".to_string()),
        ("sub", "\"u1\"".to_string()),
        ("uid", "\"u1\"".to_string()),
        ("jti", "\"corpus\"".to_string()),
        ("iat", ISSUED.to_string()),
        ("exp", FAR_FUTURE.to_string()),
        ("rol", "\"USER\"".to_string()),
        ("org", "\"DEMO\"".to_string()),
    ];
    let mut members: Vec<String> = base
        .iter()
        .filter(|(k, _)| !drop.contains(k))
        .map(|(k, v)| format!("\"{k}\":{v}"))
        .collect();
    if !extra.is_empty() {
        members.push(extra.to_string());
    }
    format!("{{{}}}", members.join(","))
}

fn claims() -> String {
    claims_with(&[], "")
}

/// The one token of the set the gateway accepts: proof that each refusal
/// is for the flaw named, not for the keys or claims around it.
pub fn control() -> String {
    good_key(H, &claims())
}

pub fn corpus() -> Vec<Case> {
    let mut cases = Vec::new();
    let mut add = |name: &str, expect: &str, why: &str, token: String| {
        cases.push(Case {
            name: name.into(),
            why: why.into(),
            expect: expect.into(),
            token,
        })
    };
    let secret = key_file("hs256.secret");
    let rsa_pem = key_file("rs256.pub.pem");
    let ec_pem = key_file("es256.pub.pem");
    let valid = control();
    let (vh, vp, vs) = {
        let mut p = valid.split('.');
        let (h, pl, s) = (p.next(), p.next(), p.next());
        (
            h.unwrap_or_default().to_string(),
            pl.unwrap_or_default().to_string(),
            s.unwrap_or_default().to_string(),
        )
    };
    let c = claims();

    // alg "none" in its spellings, with and without a signature segment.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = format!(r#"{{"alg":"{alg}","typ":"JWT","kid":"test-1"}}"#);
        add(
            &format!("alg_{alg}_empty_signature"),
            "malformed",
            "unsigned token: alg none and an empty signature segment",
            format!("{}.{}.", b64(header.as_bytes()), b64(c.as_bytes())),
        );
        add(
            &format!("alg_{alg}_with_signature"),
            "invalid",
            "alg none with the real HS256 signature copied in",
            format!("{}.{}.{vs}", b64(header.as_bytes()), b64(c.as_bytes())),
        );
    }
    add(
        "alg_none_without_kid",
        "invalid",
        "alg none and no kid, hoping for a default key",
        raw(r#"{"alg":"none"}"#, &c, b"x"),
    );
    add(
        "alg_missing",
        "malformed",
        "header without alg",
        good_key(r#"{"typ":"JWT","kid":"test-1"}"#, &c),
    );
    add(
        "alg_null",
        "malformed",
        "alg is null",
        good_key(r#"{"alg":null,"kid":"test-1"}"#, &c),
    );
    add(
        "alg_number",
        "malformed",
        "alg is a number",
        good_key(r#"{"alg":256,"kid":"test-1"}"#, &c),
    );
    add(
        "alg_empty",
        "invalid",
        "alg is an empty string",
        good_key(r#"{"alg":"","kid":"test-1"}"#, &c),
    );
    add(
        "alg_hs512_on_hs256_key",
        "invalid",
        "HS512 signature made with the right secret on an HS256 key",
        hs("HS512", &secret, r#"{"alg":"HS512","kid":"test-1"}"#, &c),
    );

    // Algorithm confusion: the public key used as an HMAC secret.
    for (kid, pem, name) in [("rsa-1", &rsa_pem, "rsa"), ("ec-1", &ec_pem, "ec")] {
        for alg in ["HS256", "HS384", "HS512"] {
            add(
                &format!("{}_public_pem_as_{}_secret", name, alg.to_lowercase()),
                "invalid",
                "HMAC signed with the published public key (PEM text) as the secret",
                hs(alg, pem, &format!(r#"{{"alg":"{alg}","kid":"{kid}"}}"#), &c),
            );
        }
        let der = STANDARD
            .decode(
                String::from_utf8_lossy(pem)
                    .lines()
                    .filter(|l| !l.starts_with("-----"))
                    .collect::<String>(),
            )
            .expect("PEM body is base64");
        add(
            &format!("{name}_public_der_as_hs256_secret"),
            "invalid",
            "HS256 signed with the public key's DER bytes as the secret",
            hs(
                "HS256",
                &der,
                &format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#),
                &c,
            ),
        );
    }
    add(
        "rsa_pem_as_secret_without_kid",
        "invalid",
        "HS256 with the RSA public key as secret and no kid",
        hs("HS256", &rsa_pem, r#"{"alg":"HS256"}"#, &c),
    );
    add(
        "rs256_garbage_signature",
        "invalid",
        "RS256 on the RSA key with 256 bytes of garbage as signature",
        raw(r#"{"alg":"RS256","kid":"rsa-1"}"#, &c, &[0x5a; 256]),
    );
    add(
        "ps256_on_rs256_key",
        "invalid",
        "PS256 claimed on an RS256 key",
        raw(r#"{"alg":"PS256","kid":"rsa-1"}"#, &c, &[0x5a; 256]),
    );

    // Psychic ECDSA signatures (CVE-2022-21449): r = s = 0.
    let es = r#"{"alg":"ES256","kid":"ec-1"}"#;
    add(
        "ecdsa_psychic_raw_zeros",
        "invalid",
        "ES256 with r = s = 0 in raw r||s form",
        raw(es, &c, &[0; 64]),
    );
    add(
        "ecdsa_psychic_der_zeros",
        "invalid",
        "ES256 with r = s = 0 DER-encoded",
        raw(es, &c, &[0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x00]),
    );
    add(
        "ecdsa_psychic_raw_zeros_without_kid",
        "invalid",
        "ES256 with r = s = 0 and no kid",
        raw(r#"{"alg":"ES256"}"#, &c, &[0; 64]),
    );
    let order: [u8; 32] = [
        0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
        0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63,
        0x25, 0x51,
    ];
    add(
        "ecdsa_r_s_equal_curve_order",
        "invalid",
        "ES256 with r = s = n (the P-256 group order), zero modulo n",
        raw(es, &c, &[order, order].concat()),
    );
    add(
        "ecdsa_short_signature",
        "invalid",
        "ES256 with a one-byte signature",
        raw(es, &c, &[0]),
    );

    // Segments.
    add("one_segment", "malformed", "a single segment", vh.clone());
    add(
        "two_segments",
        "malformed",
        "header and payload only",
        format!("{vh}.{vp}"),
    );
    add(
        "truncated_signature",
        "invalid",
        "the signature cut to 40 characters (30 bytes, still valid base64url)",
        format!("{vh}.{vp}.{}", &vs[..40]),
    );
    add(
        "four_segments",
        "malformed",
        "an extra segment after the signature",
        format!("{valid}.{vs}"),
    );
    add(
        "five_segments_jwe_shape",
        "malformed",
        "five segments, the shape of a JWE",
        format!("{vh}.{vp}.{vp}.{vp}.{vs}"),
    );
    add(
        "trailing_dot",
        "malformed",
        "a fourth, empty segment",
        format!("{valid}."),
    );
    add(
        "only_dots",
        "malformed",
        "three empty segments",
        "..".into(),
    );
    add(
        "empty_header_segment",
        "malformed",
        "empty header segment",
        format!(".{vp}.{vs}"),
    );
    add(
        "empty_payload_segment",
        "malformed",
        "empty payload segment",
        format!("{vh}..{vs}"),
    );

    // Encoding.
    add(
        "padded_signature",
        "malformed",
        "base64 padding on the signature",
        format!("{valid}="),
    );
    add(
        "padded_header",
        "malformed",
        "base64 padding on the header",
        format!("{vh}==.{vp}.{vs}"),
    );
    add(
        "standard_base64_alphabet",
        "malformed",
        "'+' and '/' from the standard alphabet in the signature",
        format!(
            "{vh}.{vp}.{}",
            vs.replace('-', "+").replace('_', "/") + "+/"
        ),
    );
    add(
        "star_in_payload",
        "malformed",
        "a character outside base64url in the payload",
        format!("{vh}.{}*.{vs}", &vp[..vp.len() - 1]),
    );
    add(
        "non_ascii_in_header",
        "malformed",
        "a non-ASCII letter in the header segment",
        format!("{vh}\u{e9}.{vp}.{vs}"),
    );
    add(
        "percent_encoded_dot",
        "malformed",
        "segments joined by %2E instead of a dot",
        format!("{vh}%2E{vp}%2E{vs}"),
    );
    add(
        "space_inside_payload",
        "malformed",
        "a space in the middle of the payload",
        format!("{vh}.{} {}.{vs}", &vp[..10], &vp[10..]),
    );
    add(
        "tab_inside_signature",
        "malformed",
        "a tab in the middle of the signature",
        format!("{vh}.{vp}.{}\t{}", &vs[..10], &vs[10..]),
    );
    add(
        "impossible_base64_length",
        "malformed",
        "a payload whose length is 1 modulo 4",
        format!("{vh}.{vp}{}.{vs}", "A".repeat((5 - vp.len() % 4) % 4)),
    );

    // Size.
    let big = "x".repeat(4 * 1024);
    add(
        "huge_header_unknown_kid",
        "invalid",
        "a 4 KiB kid, properly signed: under the size limit, no such key",
        good_key(&format!(r#"{{"alg":"HS256","kid":"{big}"}}"#), &c),
    );
    let bigger = "x".repeat(7 * 1024);
    add(
        "huge_header_over_8_kib",
        "malformed",
        "a 7 KiB header member pushes the signed token past 8 KiB",
        good_key(
            &format!(r#"{{"alg":"HS256","kid":"test-1","pad":"{bigger}"}}"#),
            &c,
        ),
    );
    add(
        "huge_payload_over_8_kib",
        "malformed",
        "an 8 KiB claim, properly signed",
        good_key(
            H,
            &claims_with(&[], &format!(r#""pad":"{}""#, "y".repeat(8 * 1024))),
        ),
    );
    add(
        "garbage_over_8_kib",
        "malformed",
        "8193 bytes of base64url letters and dots",
        format!("{}.{}.{}", "a".repeat(4096), "b".repeat(4094), "c"),
    );

    // Headers this gateway must not act on.
    for (name, crit) in [
        ("crit_exp", r#"["exp"]"#),
        ("crit_b64", r#"["b64"],"b64":false"#),
        ("crit_empty_list", "[]"),
        ("crit_string", r#""custom""#),
    ] {
        add(
            &format!("unknown_{name}"),
            "invalid",
            "a crit header naming extensions the gateway does not implement",
            good_key(
                &format!(r#"{{"alg":"HS256","kid":"test-1","crit":{crit}}}"#),
                &c,
            ),
        );
    }
    add(
        "jwe_enc_header",
        "malformed",
        "enc: a JWE header on a three-segment token",
        good_key(r#"{"alg":"HS256","kid":"test-1","enc":"A256GCM"}"#, &c),
    );
    add(
        "zip_header",
        "malformed",
        "zip: a compressed payload",
        good_key(r#"{"alg":"HS256","kid":"test-1","zip":"DEF"}"#, &c),
    );

    // Key-locating headers pointing at an attacker's key.
    let attacker = b"attacker-controlled-secret-0123456789";
    let attacker_k = b64(attacker);
    add(
        "embedded_jwk_attacker_key",
        "invalid",
        "signed with the attacker's key, which the header embeds as jwk",
        hs(
            "HS256",
            attacker,
            &format!(
                r#"{{"alg":"HS256","jwk":{{"kty":"oct","kid":"evil","k":"{attacker_k}"}},"kid":"evil"}}"#
            ),
            &c,
        ),
    );
    add(
        "embedded_jwk_with_real_kid",
        "invalid",
        "an embedded jwk and the real kid, signed with the attacker's key",
        hs(
            "HS256",
            attacker,
            &format!(
                r#"{{"alg":"HS256","kid":"test-1","jwk":{{"kty":"oct","k":"{attacker_k}"}}}}"#
            ),
            &c,
        ),
    );
    for (name, member) in [
        ("jku", r#""jku":"https://attacker.example/jwks.json""#),
        ("x5u", r#""x5u":"https://attacker.example/cert.pem""#),
        ("x5c", r#""x5c":["MIIBattacker"]"#),
    ] {
        add(
            &format!("{name}_attacker_url"),
            "invalid",
            "a key-locating header pointing at the attacker, signed with the attacker's key",
            hs(
                "HS256",
                attacker,
                &format!(r#"{{"alg":"HS256","kid":"evil",{member}}}"#),
                &c,
            ),
        );
    }

    // kid tricks.
    for (name, kid) in [
        ("kid_path_traversal", "../../etc/passwd"),
        ("kid_dev_null", "/dev/null"),
        ("kid_traversal_to_itself", "test-1/../test-1"),
        ("kid_sql", "x' UNION SELECT 'secret"),
        ("kid_with_nul", "test-1\\u0000"),
    ] {
        add(
            name,
            "invalid",
            "a kid naming no configured key",
            good_key(&format!(r#"{{"alg":"HS256","kid":"{kid}"}}"#), &c),
        );
    }
    add(
        "kid_number",
        "malformed",
        "kid is a number",
        good_key(r#"{"alg":"HS256","kid":1}"#, &c),
    );
    add(
        "kid_absent_with_several_keys",
        "invalid",
        "no kid while the gateway has three keys",
        good_key(r#"{"alg":"HS256"}"#, &c),
    );

    // Times.
    add(
        "future_iat",
        "invalid",
        "issued in 2096",
        good_key(H, &claims_with(&["iat"], &format!(r#""iat":{FUTURE}"#))),
    );
    add(
        "future_nbf",
        "invalid",
        "not valid before 2096",
        good_key(H, &claims_with(&[], &format!(r#""nbf":{FUTURE}"#))),
    );
    add(
        "expired_long_ago",
        "expired",
        "expired in 2001, far beyond the leeway",
        good_key(H, &claims_with(&["exp"], &format!(r#""exp":{PAST}"#))),
    );
    add(
        "exp_negative",
        "expired",
        "a negative exp",
        good_key(H, &claims_with(&["exp"], r#""exp":-1"#)),
    );
    add(
        "exp_missing",
        "invalid",
        "no exp on a proxied route",
        good_key(H, &claims_with(&["exp"], "")),
    );
    add(
        "exp_as_string",
        "malformed",
        "exp as a numeric string",
        good_key(
            H,
            &claims_with(&["exp"], &format!(r#""exp":"{FAR_FUTURE}""#)),
        ),
    );
    add(
        "exp_nested_object",
        "malformed",
        "exp as an object",
        good_key(
            H,
            &claims_with(&["exp"], &format!(r#""exp":{{"$date":{FAR_FUTURE}}}"#)),
        ),
    );
    add(
        "exp_array",
        "malformed",
        "exp as an array",
        good_key(
            H,
            &claims_with(&["exp"], &format!(r#""exp":[{FAR_FUTURE}]"#)),
        ),
    );
    add(
        "nbf_as_string",
        "malformed",
        "nbf as a string",
        good_key(H, &claims_with(&[], r#""nbf":"0""#)),
    );
    add(
        "duplicate_exp_last_expired",
        "expired",
        "two exp members; the last, which a JSON reader keeps, is past",
        good_key(H, &claims_with(&[], &format!(r#""exp":{PAST}"#))),
    );

    // Audience and issuer.
    for (name, aud) in [
        ("aud_wrong", r#""aud":"other-api""#),
        ("aud_case", r#""aud":"API""#),
        ("aud_array_without_ours", r#""aud":["web","admin"]"#),
        ("aud_nested_object", r#""aud":{"api":true}"#),
        ("aud_missing", ""),
    ] {
        add(
            name,
            "invalid",
            "an audience this gateway does not accept",
            good_key(H, &claims_with(&["aud"], aud)),
        );
    }
    for (name, iss) in [
        ("iss_wrong", r#""iss":"https://attacker.example""#),
        ("iss_trailing_space", r#""iss":"portcullis ""#),
        ("iss_array", r#""iss":["portcullis"]"#),
        ("iss_missing", ""),
        (
            "iss_duplicate_last_wrong",
            r#""iss":"portcullis","iss":"evil""#,
        ),
    ] {
        add(
            name,
            "invalid",
            "an issuer this gateway does not trust",
            good_key(H, &claims_with(&["iss"], iss)),
        );
    }

    // JSON shapes.
    add(
        "duplicate_alg_in_header",
        "malformed",
        "alg twice in the header: HS256 then none",
        good_key(r#"{"alg":"HS256","kid":"test-1","alg":"none"}"#, &c),
    );
    add(
        "sub_nested_object",
        "invalid",
        "sub as an object",
        good_key(H, &claims_with(&["sub"], r#""sub":{"id":"u1"}"#)),
    );
    add(
        "rol_nested_object",
        "invalid",
        "rol as an object",
        good_key(H, &claims_with(&["rol"], r#""rol":{"USER":true}"#)),
    );
    add(
        "payload_array",
        "malformed",
        "the payload is a JSON array",
        good_key(H, &format!("[{c}]")),
    );
    add(
        "payload_string",
        "malformed",
        "the payload is a JSON string",
        good_key(H, r#""portcullis""#),
    );
    add(
        "header_array",
        "malformed",
        "the header is a JSON array",
        good_key(&format!("[{H}]"), &c),
    );
    add(
        "payload_trailing_garbage",
        "malformed",
        "bytes after the payload's JSON object",
        good_key(H, &format!("{c}x")),
    );
    add(
        "payload_with_bom",
        "malformed",
        "a UTF-8 byte order mark before the payload",
        good_key(H, &format!("\u{feff}{c}")),
    );
    add(
        "payload_not_json",
        "malformed",
        "the payload is plain text",
        good_key(H, "sub=u1&exp=4102444800"),
    );
    add(
        "deeply_nested_claim",
        "malformed",
        "a claim nested 200 levels deep, past the JSON reader's limit",
        good_key(
            H,
            &claims_with(
                &[],
                &format!(r#""n":{}{}"#, "[".repeat(200), "]".repeat(200)),
            ),
        ),
    );
    cases
}
