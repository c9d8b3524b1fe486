//! Tokens: issuing this gateway's JWTs and verifying presented ones (own and
//! trusted issuers'), with the key sets, the verified-token cache and the
//! revocation hook. Plain async Rust: no HTTP server, no Pingora.
//!
//! The proxy holds one `TokenService`: `verify` on every request,
//! `jwks_json` for `/.well-known/jwks.json`, `spawn_refresh` once the runtime
//! runs. The auth flows use `mint`, `verify_key` and `verify_expired_within`.
//! `portcullis check` uses `check_keys`, `portcullis keygen` uses `keygen`.

mod algorithms;
mod cache;
mod checks;
mod claims;
mod compact;
mod error;
mod flat_payload;
mod identity;
mod jwk;
mod keygen;
mod mint;
mod names;
mod payload;
mod pem_keys;
mod revocation;
mod secret;
mod service;
mod signing_keys;
mod trusted;
mod verify;

#[cfg(test)]
mod tests;

pub use algorithms::alg_name;
pub use claims::{MintRequest, Minted, Role};
pub use compact::MAX_TOKEN_BYTES;
pub use error::{TokenError, VerifyError};
#[doc(hidden)]
pub use flat_payload::quick_and_full_payload_readings_agree;
pub use identity::{Identity, RawClaims};
pub use keygen::{keygen, KeyFiles, RSA_KEYGEN_BITS};
pub use mint::new_family_id;
pub use pem_keys::MIN_RSA_BITS;
pub use revocation::{NoRevocations, RevocationQuery, Revocations};
pub use secret::{create_secret_file, MIN_SECRET_BYTES};
pub use service::TokenService;
pub use signing_keys::check_keys;
pub use trusted::{MAX_JWKS_BYTES, UNKNOWN_KID_REFETCH_INTERVAL};
