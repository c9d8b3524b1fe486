//! Redis key names. Every key starts with the configured prefix; the parts
//! a client chooses (brand, identifier, ids) come last or carry their
//! length, so two different records can never share a key.

use super::super::Identifier;

/// Builds the key names of one store (one prefix).
#[derive(Debug, Clone)]
pub struct Keys {
    prefix: std::sync::Arc<str>,
}

impl Keys {
    pub fn new(prefix: &str) -> Self {
        Keys {
            prefix: prefix.into(),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The sorted set of every uid (paging for `migrate`).
    pub fn users(&self) -> String {
        format!("{}users", self.prefix)
    }

    /// The hash of one user.
    pub fn user(&self, uid: &str) -> String {
        format!("{}user:{uid}", self.prefix)
    }

    /// The uid holding `identifier` in `brand` (already folded).
    pub fn identifier(&self, brand: &str, identifier: &Identifier) -> String {
        format!(
            "{}ident:{}:{brand}:{}:{}",
            self.prefix,
            brand.len(),
            identifier.kind.as_str(),
            identifier.value
        )
    }

    /// Wrong passwords counted for one account.
    pub fn password_failures(&self, uid: &str) -> String {
        format!("{}pwfail:{uid}", self.prefix)
    }

    /// A login session and its code.
    pub fn session(&self, id: &str) -> String {
        format!("{}session:{id}", self.prefix)
    }

    /// Codes sent to one identifier of a brand (already folded).
    pub fn code_sends(&self, brand: &str, identifier: &Identifier) -> String {
        format!(
            "{}sends:{}:{brand}:{}:{}",
            self.prefix,
            brand.len(),
            identifier.kind.as_str(),
            identifier.value
        )
    }

    /// One shared rate-limit bucket.
    pub fn rate_bucket(&self, key: &str) -> String {
        format!("{}rate:{key}", self.prefix)
    }

    pub fn revoked_token(&self, jti: &str) -> String {
        format!("{}revoked:jti:{jti}", self.prefix)
    }

    pub fn revoked_family(&self, family: &str) -> String {
        format!("{}revoked:family:{family}", self.prefix)
    }

    pub fn revoked_user(&self, uid: &str) -> String {
        format!("{}revoked:user:{uid}", self.prefix)
    }

    pub fn secret(&self, name: &str) -> String {
        format!("{}secret:{name}", self.prefix)
    }

    /// The sorted set of ephemeral keys by their end (unix ms, judged by the
    /// store's clock), which the sweep walks.
    pub fn expiries(&self) -> String {
        format!("{}expiries", self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::IdentifierType;

    #[test]
    fn a_brand_with_a_colon_cannot_pose_as_another_identifier() {
        let keys = Keys::new("p:");
        let a = keys.identifier("a", &Identifier::new(IdentifierType::Mobile, "x:EMAIL:y"));
        let b = keys.identifier("a:MOBILE:x", &Identifier::new(IdentifierType::Email, "y"));
        assert_ne!(a, b);
        assert!(a.starts_with("p:ident:1:a:MOBILE:"));
    }
}
