//! Tests of the token service as a whole, through its public API.

mod jwks_publishing;
mod minting;
mod signing_key_config;
mod support;
mod verification;
