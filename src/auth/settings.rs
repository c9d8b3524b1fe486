//! The pieces of the config snapshot the auth API reads: brands (looked up
//! case-insensitively), token and session lifetimes, batch and body limits.
//! Built once per config snapshot; a reload builds a new `AuthApi`.

use crate::config::{Brand, Config};
use std::collections::HashMap;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Settings {
    /// Keyed by the brand name in ASCII upper case.
    brands: HashMap<String, Brand>,
    pub session_ttl: Duration,
    pub access_ttl: Duration,
    pub key_ttl: Option<Duration>,
    pub regenerate_window: Duration,
    pub batch_max: usize,
    pub body_max: u64,
    /// `POST /user/login`, when the config has a `login` section.
    pub login: Option<LoginSettings>,
}

/// `login`: the brand `/user/login` logs into and its token lifetime.
#[derive(Debug, Clone)]
pub struct LoginSettings {
    pub brand: String,
    pub token_ttl: Duration,
}

/// A configured brand: its canonical (upper case) name and its policy.
#[derive(Debug, Clone, Copy)]
pub struct BrandRef<'a> {
    pub name: &'a str,
    pub policy: &'a Brand,
}

impl Settings {
    pub fn from_config(cfg: &Config) -> Settings {
        Settings {
            brands: cfg
                .brands
                .iter()
                .map(|(name, brand)| (name.to_ascii_uppercase(), brand.clone()))
                .collect(),
            session_ttl: cfg.tokens.session_ttl.get(),
            access_ttl: cfg.tokens.access_ttl.get(),
            key_ttl: cfg.tokens.key_ttl.map(|d| d.get()),
            regenerate_window: cfg.tokens.regenerate_window.get(),
            batch_max: cfg.limits.batch_max,
            body_max: cfg.limits.body_max.bytes(),
            login: cfg.login.as_ref().map(|l| LoginSettings {
                brand: l.brand.clone(),
                token_ttl: l.token_ttl.get(),
            }),
        }
    }

    /// The configured brand of that name, compared case-insensitively.
    pub fn brand(&self, name: &str) -> Option<BrandRef<'_>> {
        self.brands
            .get_key_value(&name.to_ascii_uppercase())
            .map(|(name, policy)| BrandRef { name, policy })
    }

    /// The brand's lockout as the store takes it; `None` when disabled.
    pub fn lockout(&self, brand: &Brand) -> Option<crate::store::LockoutPolicy> {
        brand.lockout.enabled.then(|| crate::store::LockoutPolicy {
            max_failures: brand.password.max_attempts.max(1),
            window: brand.lockout.window.get(),
            period: brand.lockout.period.get(),
        })
    }

    /// Lifetime of a USER token: the brand's override, else `tokens.access_ttl`.
    pub fn access_ttl(&self, brand: &Brand) -> Duration {
        brand.access_ttl.map(|d| d.get()).unwrap_or(self.access_ttl)
    }

    /// Lifetime of an AUTH key: the brand's override, else `tokens.key_ttl`;
    /// `None` means the key carries no `exp`.
    pub fn key_ttl(&self, brand: &Brand) -> Option<Duration> {
        brand.key_ttl.map(|d| d.get()).or(self.key_ttl)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Dur;

    fn config() -> Config {
        let mut cfg = Config::default();
        cfg.brands.insert("Demo".into(), Brand::default());
        cfg.brands.insert(
            "SHORT".into(),
            Brand {
                access_ttl: Some(Dur::secs(60)),
                key_ttl: Some(Dur::secs(3600)),
                ..Brand::default()
            },
        );
        cfg
    }

    #[test]
    fn brands_are_found_whatever_the_case_and_named_in_upper_case() {
        let s = Settings::from_config(&config());
        assert_eq!(s.brand("demo").map(|b| b.name), Some("DEMO"));
        assert_eq!(s.brand("DeMo").map(|b| b.name), Some("DEMO"));
        assert!(s.brand("other").is_none());
    }

    #[test]
    fn brand_lifetimes_override_the_token_defaults() {
        let s = Settings::from_config(&config());
        let demo = s
            .brand("demo")
            .map(|b| b.policy.clone())
            .unwrap_or_default();
        let short = s
            .brand("short")
            .map(|b| b.policy.clone())
            .unwrap_or_default();
        assert_eq!(s.access_ttl(&demo), Duration::from_secs(15 * 60));
        assert_eq!(s.key_ttl(&demo), None);
        assert_eq!(s.access_ttl(&short), Duration::from_secs(60));
        assert_eq!(s.key_ttl(&short), Some(Duration::from_secs(3600)));
    }
}
