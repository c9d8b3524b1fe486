//! Portcullis: an authenticating reverse proxy on Pingora. It answers a login
//! API itself, checks a bearer JWT on all other traffic, and forwards what
//! passes to upstream clusters with identity headers.

pub mod admin;
pub mod allocator;
pub mod auth;
pub mod bridges;
pub mod cli;
pub mod config;
pub mod envelope;
pub mod gateway;
pub mod limits;
pub mod metrics;
pub mod otp;
pub mod proxy;
pub mod reload;
pub mod server;
pub mod signal;
pub mod store;
pub mod tokens;
