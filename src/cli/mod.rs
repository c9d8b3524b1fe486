//! Operator commands that work on the store named by a config file, without
//! a running gateway (SQLite in WAL mode lets them run beside one).

pub mod user;
