//! The auth API the gateway answers itself (API.md sections 1–4): plain async
//! Rust that takes a parsed request and returns a response value. The proxy
//! reads the body, calls `AuthApi::handle`, and writes the answer.

pub mod batch;
pub mod codes;
pub mod error;
pub mod issuer;
pub mod routing;
pub mod settings;
pub mod validation;
pub mod wire;
