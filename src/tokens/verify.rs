//! Checking a presented token. `verify` is the proxy's hot path: a cached
//! verification is returned after a hash look-up and a text comparison (and,
//! once per `revocation_check_interval`, a revocation look-up); anything else
//! goes through every check:
//!
//! 1. at most 8 KiB, three base64url segments, a JSON header;
//! 2. the key set: with no trusted issuers configured, only this gateway's
//!    keys, and the payload is read only once the signature verified (a
//!    forged token costs one signature check); otherwise the payload's `iss`
//!    picks the key set (own keys or a trusted issuer's);
//! 3. the header's `kid` picks the key; an unknown kid never falls back to
//!    another key. Without a `kid`, only an issuer with exactly one key works;
//! 4. the header's `alg` must be the key's algorithm (so no `none`, no
//!    HS/RS confusion, no RS/PS swap), then the signature must verify;
//! 5. the payload is a JSON object with `iss` the issuer whose key verified;
//!    `exp`/`nbf`/`iat` with leeway, `aud`, and the revocation look-up.
//!
//! `verify_key` (AUTH keys, `exp` optional) and `verify_expired_within` (web
//! regeneration) take the same steps, without the cache.

use super::algorithms::{alg_from_name, alg_name, KeyVerifier};
use super::cache::Freshness;
use super::checks::{check_audience, check_times, Expiry};
use super::claims::Role;
use super::compact::{self, Compact, OnHeap, OnStack, MAX_TOKEN_BYTES};
use super::error::VerifyError;
use super::identity::{ClaimsText, Identity};
use super::payload::Payload;
use super::revocation::RevocationQuery;
use super::service::TokenService;
use super::signing_keys::LocalKey;
use super::trusted::TrustedIssuer;
use serde_json::{Map, Value};
use smallvec::SmallVec;
use std::borrow::Cow;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

impl TokenService {
    /// Verifies a token for a proxied route: every check, `exp` required,
    /// cached until `exp`. Roles are not checked here; the route does that.
    pub async fn verify(&self, token: &str) -> Result<Arc<Identity>, VerifyError> {
        if token.is_empty() {
            return Err(VerifyError::Missing);
        }
        if token.len() > MAX_TOKEN_BYTES {
            return Err(VerifyError::Malformed("token is larger than 8 KiB"));
        }
        let key = self.cache.key(token);
        if let Some(hit) = self.cache.get(key, token) {
            match self.cache.freshness(&hit) {
                Freshness::Fresh => return Ok(hit.identity.clone()),
                Freshness::Recheck => {
                    match self.check_revocation(&hit.identity, self.fail_open).await {
                        // Also when failing open: one look-up per interval per
                        // token, not one per request, while the store is down.
                        Ok(()) => self.cache.mark_checked(&hit),
                        Err(VerifyError::Revoked) => {
                            self.cache.forget(key);
                            return Err(VerifyError::Revoked);
                        }
                        Err(e) => return Err(e),
                    }
                    return Ok(hit.identity.clone());
                }
                Freshness::Ended => self.cache.forget(key),
            }
        }
        let identity: Arc<Identity> = self
            .verify_uncached(token, Expiry::Required, self.fail_open)
            .await?
            .into();
        if let Some(exp) = identity.exp {
            let ttl = Duration::from_secs(exp).saturating_sub(now()?);
            self.cache.insert(key, token, identity.clone(), ttl);
        }
        Ok(identity)
    }

    /// Verifies an AUTH key of this gateway (token/regenerate on mobile,
    /// `X-API-Key`): every check, but `exp` may be absent (keys never expire
    /// unless `key_ttl` is set); when present it is enforced.
    pub async fn verify_key(&self, token: &str) -> Result<Identity, VerifyError> {
        let identity = self
            .verify_uncached(token, Expiry::Optional, self.auth_fail_open)
            .await?;
        if identity.own_role != Some(Role::Auth) {
            return Err(VerifyError::invalid("not an AUTH key of this gateway"));
        }
        Ok(*identity)
    }

    /// Verifies a token presented to the login API (password/change): every
    /// check, `exp` required, revocation looked up now rather than through
    /// the cache, so a token revoked a moment ago is refused at once.
    pub async fn verify_fresh(&self, token: &str) -> Result<Identity, VerifyError> {
        self.verify_uncached(token, Expiry::Required, self.auth_fail_open)
            .await
            .map(|identity| *identity)
    }

    /// Verifies a token of this gateway for web regeneration: every check,
    /// except that `exp` may be up to `window` in the past.
    pub async fn verify_expired_within(
        &self,
        token: &str,
        window: Duration,
    ) -> Result<Identity, VerifyError> {
        let identity = self
            .verify_uncached(
                token,
                Expiry::PastWithin(window.as_secs()),
                self.auth_fail_open,
            )
            .await?;
        if !identity.own {
            return Err(VerifyError::invalid(
                "only this gateway's tokens can be regenerated",
            ));
        }
        Ok(*identity)
    }

    /// Every check of `rule`; `fail_open` decides a failing revocation look-up.
    async fn verify_uncached(
        &self,
        token: &str,
        rule: Expiry,
        fail_open: bool,
    ) -> Result<Box<Identity>, VerifyError> {
        if token.is_empty() {
            return Err(VerifyError::Missing);
        }
        let identity = self.check_token(token, rule).await?;
        self.check_revocation(&identity, fail_open).await?;
        Ok(identity)
    }

    /// Every check of `rule` but revocation.
    async fn check_token(&self, token: &str, rule: Expiry) -> Result<Box<Identity>, VerifyError> {
        if self.trusted.is_empty() {
            return self.check_own_token(token, rule);
        }
        // A JWKS fetch may be awaited below while the token is decoded.
        let mut space = OnHeap::new();
        let parsed = compact::parse(token, &mut space, |h| self.keys.recognise(h))?;
        let now = now()?.as_secs();
        // The payload's iss picks the key set, so here it is read first.
        let claims = Payload::read(parsed.payload)?;
        let Some(iss) = claims.iss.text() else {
            return Err(VerifyError::invalid("the token has no iss"));
        };
        if iss == self.issuer {
            let key = self.verified_own_key(&parsed)?;
            self.own_identity(key, &claims, now, rule)
        } else if let Some(issuer) = self.trusted.iter().find(|t| t.issuer == iss) {
            let kid = parsed.header.kid.as_deref();
            let alg = alg_from_name(&parsed.header.alg)
                .filter(|a| issuer.algorithms.contains(a))
                .ok_or_else(|| VerifyError::invalid("alg is not accepted for this issuer"))?;
            let verifier = self.foreign_verifier(issuer, kid, alg).await?;
            check_signature(&verifier, parsed.signing_input, parsed.signature)?;
            let times = check_times(&claims, now, self.leeway, rule)?;
            check_audience(&claims, &issuer.audiences)?;
            foreign_identity(issuer, kid, times, &claims)
        } else {
            Err(VerifyError::invalid("the issuer is not trusted"))
        }
    }

    /// `check_token` with no trusted issuers: only this gateway's keys can
    /// verify, so the signature is checked before the payload is read (a
    /// forged token costs one signature check). Nothing here waits, so the
    /// token decodes on this thread's stack.
    fn check_own_token(&self, token: &str, rule: Expiry) -> Result<Box<Identity>, VerifyError> {
        let mut space = OnStack::new();
        let parsed = compact::parse(token, &mut space, |h| self.keys.recognise(h))?;
        let now = now()?.as_secs();
        let key = self.verified_own_key(&parsed)?;
        let mut claims = Payload::default();
        claims.read_from(parsed.payload)?;
        match claims.iss.text() {
            Some(iss) if iss == self.issuer => self.own_identity(key, &claims, now, rule),
            Some(_) => Err(VerifyError::invalid("the issuer is not trusted")),
            None => Err(VerifyError::invalid("the token has no iss")),
        }
    }

    /// The key of this gateway the header names, once it has verified the signature.
    fn verified_own_key<'k>(&'k self, parsed: &Compact<'k>) -> Result<&'k LocalKey, VerifyError> {
        let key = match parsed.header.own_key {
            // A recognised header segment: its key, alg and kid as written.
            Some(key) => key,
            None => {
                let key = match parsed.header.kid.as_deref() {
                    Some(kid) => self.keys.by_kid.get(kid),
                    None if self.keys.by_kid.len() == 1 => self.keys.by_kid.values().next(),
                    None => None,
                }
                .ok_or_else(|| VerifyError::invalid("no key of this gateway has that kid"))?;
                if parsed.header.alg != alg_name(key.alg) {
                    return Err(VerifyError::invalid("alg is not the algorithm of the key"));
                }
                key
            }
        };
        check_signature(&key.verifier, parsed.signing_input, parsed.signature)?;
        Ok(key)
    }

    /// The remaining checks of a token this gateway signed with `key`, and who it speaks for.
    fn own_identity(
        &self,
        key: &LocalKey,
        claims: &Payload<'_>,
        now: u64,
        rule: Expiry,
    ) -> Result<Box<Identity>, VerifyError> {
        let times = check_times(claims, now, self.leeway, rule)?;
        check_audience(claims, &self.audience)?;
        let sub = subject(claims)?;
        let uid = claims.uid.text().unwrap_or(sub);
        let role = claims
            .rol
            .text()
            .and_then(Role::parse)
            .ok_or_else(|| VerifyError::invalid("rol is not VIEW, USER or AUTH"))?;
        let mut text = ClaimsText::new(claims.json);
        Ok(Box::new(Identity {
            uid: text.span(uid),
            other_sub: (uid != sub).then(|| text.span(sub)),
            brand: text.span(claims.org.text().unwrap_or_default()),
            device: text.span_of(claims.dev.text()),
            role: Cow::Borrowed(role.as_str()),
            roles: Cow::Borrowed(role.as_role_list()),
            own_role: Some(role),
            issuer: self.issuer,
            own: true,
            jti: text.span_of(claims.jti.text()),
            family: text.span_of(claims.fam.text()),
            exp: times.exp,
            iat: times.iat,
            identifiers: claims.idv.list().iter().map(|i| text.span(i)).collect(),
            kid: Some(Cow::Borrowed(key.kid)),
            claims: text.into_claims(),
            header_values: Default::default(),
        }))
    }

    /// The verifier of a trusted issuer's key for `kid` and `alg`, refetching
    /// the issuer's JWKS once (single flight, rate-limited) when `kid` is new.
    async fn foreign_verifier(
        &self,
        issuer: &TrustedIssuer,
        kid: Option<&str>,
        alg: crate::config::Algorithm,
    ) -> Result<KeyVerifier, VerifyError> {
        let mut keys = issuer.keys();
        let known = keys.find(kid).is_some();
        if !known && (kid.is_some() || !keys.loaded) {
            if let Some(client) = &self.client {
                keys = issuer
                    .refetch_for_unknown_kid(client, self.refetch_interval)
                    .await;
            }
        }
        if !keys.loaded {
            return Err(VerifyError::Unavailable(format!(
                "the keys of issuer {} have not been fetched",
                issuer.issuer
            )));
        }
        let key = keys
            .find(kid)
            .ok_or_else(|| VerifyError::invalid("the issuer has no key with that kid"))?;
        key.verifier(alg)
            .cloned()
            .ok_or_else(|| VerifyError::invalid("alg is not an algorithm of the key"))
    }

    /// Asks the revocation hook; a failing hook passes only when failing open.
    pub(crate) async fn check_revocation(
        &self,
        id: &Identity,
        fail_open: bool,
    ) -> Result<(), VerifyError> {
        let query = RevocationQuery {
            jti: id.jti(),
            family: id.family(),
            uid: id.uid(),
            iat: id.iat,
            issuer: id.issuer,
        };
        match self.revocations.is_revoked(&query).await {
            Ok(false) => Ok(()),
            Ok(true) => Err(VerifyError::Revoked),
            Err(e) if fail_open => {
                tracing::warn!(issuer = %id.issuer, error = %e, "revocation look-up failed; accepting the token (fail open)");
                Ok(())
            }
            Err(e) => {
                tracing::warn!(issuer = %id.issuer, error = %e, "revocation look-up failed; refusing the token");
                Err(VerifyError::Unavailable(format!(
                    "revocation look-up failed: {e}"
                )))
            }
        }
    }
}

fn check_signature(
    verifier: &KeyVerifier,
    input: &[u8],
    signature: &[u8],
) -> Result<(), VerifyError> {
    if verifier.verify(input, signature) {
        Ok(())
    } else {
        Err(VerifyError::invalid("the signature does not verify"))
    }
}

fn now() -> Result<Duration, VerifyError> {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_err(|_| VerifyError::Unavailable("the system clock is before 1970".into()))
}

fn subject<'c>(claims: &'c Payload<'_>) -> Result<&'c str, VerifyError> {
    claims
        .sub
        .text()
        .filter(|s| !s.is_empty())
        .ok_or_else(|| VerifyError::invalid("the token has no sub"))
}

fn foreign_identity(
    issuer: &TrustedIssuer,
    kid: Option<&str>,
    times: super::checks::Times,
    claims: &Payload<'_>,
) -> Result<Box<Identity>, VerifyError> {
    let sub = subject(claims)?;
    // The roles claim may be any member, or a path into nested ones.
    let map: Map<String, Value> = serde_json::from_str(claims.json)
        .map_err(|_| VerifyError::Malformed("the payload is not a JSON object"))?;
    let roles: Vec<Cow<'static, str>> = match roles_value(&map, &issuer.roles_claim) {
        Some(Value::String(s)) => vec![Cow::Owned(s.clone())],
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(Value::as_str)
            .map(|s| Cow::Owned(s.to_string()))
            .collect(),
        _ => Vec::new(),
    };
    let mut text = ClaimsText::new(claims.json);
    Ok(Box::new(Identity {
        uid: text.span(sub),
        other_sub: None,
        brand: text.span(claims.org.text().unwrap_or_default()),
        device: text.span_of(claims.dev.text()),
        role: Cow::Owned(roles.join(",")),
        roles: roles.into(),
        own_role: None,
        issuer: issuer.issuer,
        own: false,
        jti: text.span_of(claims.jti.text()),
        family: None,
        exp: times.exp,
        iat: times.iat,
        identifiers: SmallVec::new(),
        kid: kid.map(|kid| Cow::Owned(kid.to_string())),
        claims: text.into_claims_with_map(map),
        header_values: Default::default(),
    }))
}

/// The roles claim: a top-level member named `name`, or else a dotted path
/// into nested objects (`realm_access.roles`).
fn roles_value<'a>(claims: &'a Map<String, Value>, name: &str) -> Option<&'a Value> {
    if let Some(v) = claims.get(name) {
        return Some(v);
    }
    let mut parts = name.split('.');
    let mut current = claims.get(parts.next()?)?;
    for part in parts {
        current = current.as_object()?.get(part)?;
    }
    Some(current)
}
