//! The Pingora glue: routing, route policy, forwarding headers, upstream
//! clusters, and the JSON answers the gateway writes itself.

pub mod auth_api;
pub mod body_deadline;
pub mod client_socket;
pub mod cluster;
pub mod connection;
pub mod credentials;
pub mod forwarding;
pub mod header_edit;
pub mod identity_headers;
pub mod listener;
pub mod policy;
pub mod request_head;
pub mod request_id;
pub mod respond;
pub mod router;
pub mod service;
pub mod shutdown_signal;

pub use service::{Proxy, RequestCtx};
