//! The issuer names and key ids of the configuration, kept for the life of
//! the process. Every verified `Identity` names its issuer and key; with
//! `&'static str` it does so without a reference count to raise and lower
//! on each verification (two atomic operations on a cache line every core
//! shares). Each distinct name is kept once, so reloading the same
//! configuration again and again does not grow memory: it grows only by the
//! names an operator ever configures. Key ids fetched from an issuer's JWKS
//! are not kept here (they change without bound); an `Identity` owns those.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};

static NAMES: Mutex<Option<HashSet<&'static str>>> = Mutex::new(None);

/// `name`, kept for the life of the process (once per distinct name).
pub(crate) fn kept(name: &str) -> &'static str {
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    let names = names.get_or_insert_with(HashSet::new);
    if let Some(known) = names.get(name) {
        return known;
    }
    let leaked: &'static str = Box::leak(name.into());
    names.insert(leaked);
    leaked
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_kept_once_however_often_it_is_configured() {
        let first = kept("https://issuer.example/names-test");
        let again = kept(&String::from("https://issuer.example/names-test"));
        assert_eq!(first, "https://issuer.example/names-test");
        assert!(std::ptr::eq(first, again));
        assert!(!std::ptr::eq(first, kept("https://issuer.example/other")));
    }
}
