//! Tests of the token service as a whole, through its public API.

mod cache_and_revocation;
mod hot_path;
mod jwks_publishing;
mod jwks_server;
mod keygen_files;
mod minting;
mod signing_key_config;
mod support;
mod trusted_issuers;
mod verification;
