//! A token issuer for tests that signs real HS256 JWTs with the claims of
//! API.md section 4, judges expiry by the store's manual clock, and asks the
//! real store about revocations, so the flows are tested against real tokens.

use crate::auth::issuer::{Mint, Role, TokenError, TokenIdentity, TokenIssuer};
use crate::store::{Clock, RevocationQuery, Store};
use async_trait::async_trait;
use jsonwebtoken::{decode, encode, Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

const SECRET: &[u8] = b"test-secret-of-at-least-32-bytes!!";
const ISSUER: &str = "portcullis";
const AUDIENCE: &str = "api";

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, Eq)]
pub struct Claims {
    pub iss: String,
    pub aud: String,
    pub sub: String,
    pub uid: String,
    pub jti: String,
    pub iat: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exp: Option<i64>,
    pub rol: String,
    pub org: String,
    pub dev: Option<String>,
    pub idv: Vec<String>,
    pub fam: String,
}

pub struct FakeIssuer {
    clock: Arc<dyn Clock>,
    store: Arc<dyn Store>,
}

impl FakeIssuer {
    pub fn new(clock: Arc<dyn Clock>, store: Arc<dyn Store>) -> Self {
        FakeIssuer { clock, store }
    }

    fn now_secs(&self) -> i64 {
        self.clock.now_ms() / 1000
    }

    /// Reads a token's claims, checking its signature but not its expiry.
    pub fn claims(token: &str) -> Result<Claims, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.validate_exp = false;
        validation.required_spec_claims.clear();
        validation.set_issuer(&[ISSUER]);
        validation.set_audience(&[AUDIENCE]);
        decode::<Claims>(token, &DecodingKey::from_secret(SECRET), &validation)
            .map(|data| data.claims)
            .map_err(|_| TokenError::Invalid)
    }

    /// Signs arbitrary claims (for forged or doctored tokens in tests).
    pub fn sign(claims: &Claims) -> String {
        encode(
            &Header::new(Algorithm::HS256),
            claims,
            &EncodingKey::from_secret(SECRET),
        )
        .unwrap_or_default()
    }

    async fn identity(&self, claims: Claims) -> Result<TokenIdentity, TokenError> {
        let revoked = self
            .store
            .is_revoked(RevocationQuery {
                jti: &claims.jti,
                family: Some(&claims.fam),
                uid: &claims.uid,
                issued_at: claims.iat * 1000,
            })
            .await
            .map_err(|e| TokenError::Unavailable(e.to_string()))?;
        if revoked {
            return Err(TokenError::Revoked);
        }
        Ok(TokenIdentity {
            uid: claims.uid,
            brand: claims.org,
            role: Role::parse(&claims.rol).ok_or(TokenError::Invalid)?,
            device: claims.dev,
            identifiers: claims.idv,
            family: Some(claims.fam),
            jti: Some(claims.jti),
            expires_at: claims.exp.and_then(|e| u64::try_from(e).ok()),
        })
    }
}

#[async_trait]
impl TokenIssuer for FakeIssuer {
    fn mint(&self, m: &Mint) -> Result<String, TokenError> {
        let iat = self.now_secs();
        let claims = Claims {
            iss: ISSUER.into(),
            aud: AUDIENCE.into(),
            sub: m.uid.clone(),
            uid: m.uid.clone(),
            jti: uuid::Uuid::new_v4().to_string(),
            iat,
            exp: m
                .ttl
                .map(|ttl| iat + i64::try_from(ttl.as_secs()).unwrap_or(i64::MAX / 2)),
            rol: m.role.as_str().into(),
            org: m.brand.clone(),
            dev: m.device.clone(),
            idv: m.identifiers.clone(),
            fam: m.family.clone(),
        };
        encode(
            &Header::new(Algorithm::HS256),
            &claims,
            &EncodingKey::from_secret(SECRET),
        )
        .map_err(|e| TokenError::Unavailable(e.to_string()))
    }

    fn new_family(&self) -> String {
        uuid::Uuid::new_v4().to_string()
    }

    async fn verify_key(&self, key: &str) -> Result<TokenIdentity, TokenError> {
        let claims = Self::claims(key)?;
        if claims.exp.is_some_and(|exp| exp <= self.now_secs()) {
            return Err(TokenError::Expired);
        }
        self.identity(claims).await
    }

    async fn verify_token(&self, token: &str) -> Result<TokenIdentity, TokenError> {
        let claims = Self::claims(token)?;
        match claims.exp {
            Some(exp) if exp > self.now_secs() => self.identity(claims).await,
            Some(_) => Err(TokenError::Expired),
            None => Err(TokenError::Invalid),
        }
    }

    async fn verify_expired_within(
        &self,
        token: &str,
        window: Duration,
    ) -> Result<TokenIdentity, TokenError> {
        let claims = Self::claims(token)?;
        let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX / 2);
        if claims
            .exp
            .is_some_and(|exp| exp + window <= self.now_secs())
        {
            return Err(TokenError::Expired);
        }
        self.identity(claims).await
    }
}
