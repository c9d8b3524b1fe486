//! Issuing VIEW, USER and AUTH tokens with the first signing key: header
//! `{alg, kid, typ: JWT}`, the claims of API.md section 4, a random `jti` of
//! 128 bits, and `exp` from the request's ttl or the configured default.

use super::claims::{IssuedClaims, MintRequest, Minted, Role};
use super::error::TokenError;
use super::service::TokenService;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;
use std::time::{SystemTime, UNIX_EPOCH};

/// A new family id, shared by a token and the key issued with it (128 random bits).
pub fn new_family_id() -> String {
    random_id()
}

/// 128 bits from the thread's CSPRNG, base64url (22 characters).
fn random_id() -> String {
    let mut bytes = [0u8; 16];
    rand::rng().fill_bytes(&mut bytes);
    URL_SAFE_NO_PAD.encode(bytes)
}

impl TokenService {
    /// Signs a new token for `req` with the first configured key.
    pub fn mint(&self, req: &MintRequest) -> Result<Minted, TokenError> {
        if req.uid.is_empty() {
            return Err(TokenError::InvalidRequest("uid is empty"));
        }
        if req.brand.is_empty() {
            return Err(TokenError::InvalidRequest("brand is empty"));
        }
        if req.family.is_empty() {
            return Err(TokenError::InvalidRequest("family is empty"));
        }
        let ttl = match (req.ttl, req.role) {
            (Some(ttl), _) => Some(ttl),
            (None, Role::User) => Some(self.access_ttl),
            (None, Role::View) => Some(self.session_ttl),
            (None, Role::Auth) => self.key_ttl,
        };
        if ttl.is_some_and(|t| t.as_secs() == 0) {
            return Err(TokenError::InvalidRequest("ttl is shorter than a second"));
        }
        let key = &self.keys.signing;
        let signer = key.signer.as_ref().ok_or(TokenError::NoSigningKey)?;
        let iat = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_err(|_| TokenError::Clock)?
            .as_secs();
        let exp = ttl.map(|t| iat.saturating_add(t.as_secs()));
        let jti = random_id();
        let org = req.brand.to_ascii_uppercase();
        let claims = IssuedClaims {
            iss: self.issuer,
            aud: self
                .audience
                .first()
                .map(String::as_str)
                .unwrap_or_default(),
            sub: &req.uid,
            uid: &req.uid,
            jti: &jti,
            iat,
            exp,
            rol: req.role,
            org: &org,
            dev: req.device.as_deref(),
            idv: &req.identifiers,
            fam: &req.family,
        };
        let signing_error = |reason: String| TokenError::Signing {
            kid: key.kid.to_string(),
            reason,
        };
        let claims = serde_json::to_vec(&claims).map_err(|e| signing_error(e.to_string()))?;
        let mut token = String::from(&*key.header_segment);
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(claims, &mut token);
        let signature = signer.sign(token.as_bytes()).map_err(signing_error)?;
        token.push('.');
        URL_SAFE_NO_PAD.encode_string(signature, &mut token);
        Ok(Minted { token, jti, exp })
    }
}
