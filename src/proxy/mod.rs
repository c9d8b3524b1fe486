//! The Pingora glue: routing, forwarding headers, upstream clusters and the
//! JSON answers the gateway writes itself.

pub mod cluster;
pub mod forwarding;
pub mod router;
