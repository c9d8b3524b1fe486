//! Checks that span fields or sections: references between sections, value
//! ranges, addresses and header names. Every problem found is collected.

use super::load::Issues;
use super::model::*;
use crate::proxy::request_head::MAX_HEADER_FIELDS;
use std::collections::HashSet;
use std::net::SocketAddr;

pub fn validate(cfg: &Config, issues: &mut Issues) {
    server(cfg, issues);
    listeners(cfg, issues);
    store(cfg, issues);
    tokens(cfg, issues);
    brands(cfg, issues);
    delivery(cfg, issues);
    limits(cfg, issues);
    upstreams(cfg, issues);
    routes(cfg, issues);
}

fn server(cfg: &Config, issues: &mut Issues) {
    if cfg.server.threads == 0 {
        issues.push("server.threads", "must be at least 1");
    }
    if cfg
        .server
        .log_level
        .parse::<tracing_subscriber::EnvFilter>()
        .is_err()
    {
        issues.push(
            "server.log_level",
            "not a valid log filter (e.g. info, debug, portcullis=debug)",
        );
    }
}

fn socket(issues: &mut Issues, path: &str, address: &str) -> Option<SocketAddr> {
    match address.parse::<SocketAddr>() {
        Ok(a) => Some(a),
        Err(_) => {
            issues.push(path, format!("{address:?} is not an ip:port address"));
            None
        }
    }
}

fn listeners(cfg: &Config, issues: &mut Issues) {
    if cfg.listen.is_empty() {
        issues.push("listen", "at least one listener is needed");
    }
    let mut seen = HashSet::new();
    for l in &cfg.listen {
        let i = l.index;
        let path = format!("listen[{i}].address");
        if let Some(a) = socket(issues, &path, &l.address) {
            if !seen.insert(a) {
                issues.push(path, format!("{a} is listed twice"));
            }
        }
        if l.tls.is_some() {
            issues.push(
                format!("listen[{i}].tls"),
                "TLS listeners are not supported by this build; terminate TLS in front of Portcullis",
            );
        }
    }
    if let Some(addr) = &cfg.admin.address {
        if let Some(a) = socket(issues, "admin.address", addr) {
            if seen.contains(&a) {
                issues.push("admin.address", "must differ from every public listener");
            }
        }
    }
}

fn store(cfg: &Config, issues: &mut Issues) {
    let s = &cfg.store;
    match s.kind {
        StoreKind::Sqlite => {
            if s.path.as_os_str().is_empty() {
                issues.push("store.path", "must name the SQLite file");
            }
        }
        StoreKind::Redis => {
            if s.url.is_none() && s.url_env.is_none() {
                issues.push("store.url", "redis needs `url` or `url_env`");
            }
            if let Some(url) = &s.url {
                if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
                    issues.push("store.url", "must start with redis:// or rediss://");
                }
            }
            if s.pool_size == 0 {
                issues.push("store.pool_size", "must be at least 1");
            }
        }
    }
}

fn tokens(cfg: &Config, issues: &mut Issues) {
    let t = &cfg.tokens;
    if t.issuer.trim().is_empty() {
        issues.push("tokens.issuer", "must not be empty");
    }
    if t.audience.trim().is_empty() {
        issues.push("tokens.audience", "must not be empty");
    }
    let mut kids = HashSet::new();
    for (i, k) in t.signing.iter().enumerate() {
        let path = format!("tokens.signing[{i}]");
        if k.kid.trim().is_empty() {
            issues.push(format!("{path}.kid"), "must not be empty");
        } else if !kids.insert(k.kid.as_str()) {
            issues.push(format!("{path}.kid"), format!("{:?} is used twice", k.kid));
        }
        if k.alg.is_hmac() {
            match (&k.secret_env, &k.secret_file) {
                (Some(_), Some(_)) => issues.push(
                    path.clone(),
                    "give either secret_env or secret_file, not both",
                ),
                (None, None) => issues.push(
                    path.clone(),
                    format!("{:?} needs secret_env or secret_file", k.alg),
                ),
                _ => {}
            }
            if k.private_key.is_some() || k.public_key.is_some() {
                issues.push(path.clone(), "HMAC keys take a secret, not PEM files");
            }
        } else {
            if k.private_key.is_none() && k.public_key.is_none() {
                issues.push(
                    path.clone(),
                    format!("{:?} needs private_key (and optionally public_key)", k.alg),
                );
            }
            if k.secret_env.is_some() || k.secret_file.is_some() {
                issues.push(path.clone(), "asymmetric keys take PEM files, not a secret");
            }
        }
        if k.create_if_missing && k.secret_file.is_none() {
            issues.push(
                format!("{path}.create_if_missing"),
                "only applies to secret_file",
            );
        }
    }
    if t.access_ttl.get().is_zero() {
        issues.push("tokens.access_ttl", "must be longer than zero");
    }
    if t.session_ttl.get().is_zero() {
        issues.push("tokens.session_ttl", "must be longer than zero");
    }
    if t.cache.max_entries == 0 {
        issues.push("tokens.cache.max_entries", "must be at least 1");
    }
    for (i, ti) in t.trusted_issuers.iter().enumerate() {
        let path = format!("tokens.trusted_issuers[{i}]");
        if !(ti.jwks_url.starts_with("http://") || ti.jwks_url.starts_with("https://")) {
            issues.push(
                format!("{path}.jwks_url"),
                "must be an http:// or https:// URL",
            );
        }
        if ti.algorithms.is_empty() {
            issues.push(format!("{path}.algorithms"), "name at least one algorithm");
        }
        if ti.algorithms.iter().any(|a| a.is_hmac()) {
            issues.push(
                format!("{path}.algorithms"),
                "HMAC algorithms cannot be verified from a JWKS",
            );
        }
        if ti.issuer == t.issuer {
            issues.push(format!("{path}.issuer"), "must differ from tokens.issuer");
        }
    }
}

fn brands(cfg: &Config, issues: &mut Issues) {
    let mut names = HashSet::new();
    for (name, b) in &cfg.brands {
        let path = format!("brands.{name}");
        if name.trim().is_empty() {
            issues.push(path.clone(), "a brand needs a name");
        }
        if !names.insert(name.to_ascii_uppercase()) {
            issues.push(
                path.clone(),
                "brand names compare case-insensitively; this one is listed twice",
            );
        }
        if !(4..=10).contains(&b.otp.length) {
            issues.push(
                format!("{path}.otp.length"),
                "must be between 4 and 10 digits",
            );
        }
        if b.otp.ttl.get().is_zero() {
            issues.push(format!("{path}.otp.ttl"), "must be longer than zero");
        }
        if b.otp.max_attempts == 0 {
            issues.push(format!("{path}.otp.max_attempts"), "must be at least 1");
        }
        if b.otp.max_sends == 0 {
            issues.push(format!("{path}.otp.max_sends"), "must be at least 1");
        }
        if !(1..=128).contains(&b.password.min_length) {
            issues.push(
                format!("{path}.password.min_length"),
                "must be between 1 and 128",
            );
        }
        if b.password.max_attempts == 0 {
            issues.push(
                format!("{path}.password.max_attempts"),
                "must be at least 1",
            );
        }
    }
    if let Some(login) = &cfg.login {
        if !cfg
            .brands
            .keys()
            .any(|b| b.eq_ignore_ascii_case(&login.brand))
        {
            issues.push(
                "login.brand",
                format!("{:?} is not a configured brand", login.brand),
            );
        }
    }
}

fn delivery(cfg: &Config, issues: &mut Issues) {
    let d = &cfg.otp_delivery;
    match d.kind {
        OtpDeliveryKind::Log => {}
        OtpDeliveryKind::Webhook => match &d.url {
            None => issues.push("otp_delivery.url", "webhook delivery needs a url"),
            Some(u) if !(u.starts_with("http://") || u.starts_with("https://")) => {
                issues.push("otp_delivery.url", "must be an http:// or https:// URL")
            }
            _ => {}
        },
        OtpDeliveryKind::Smtp => {
            if d.smtp.is_none() {
                issues.push("otp_delivery.smtp", "smtp delivery needs the smtp settings");
            }
        }
    }
    if d.reveal_codes && d.kind != OtpDeliveryKind::Log {
        issues.push("otp_delivery.reveal_codes", "only applies to log delivery");
    }
    if let Some(smtp) = &d.smtp {
        if !["none", "starttls", "tls"].contains(&smtp.security.as_str()) {
            issues.push(
                "otp_delivery.smtp.security",
                "must be none, starttls or tls",
            );
        }
    }
}

fn bucket(issues: &mut Issues, path: &str, b: &Option<Bucket>) {
    if let Some(b) = b {
        if !(b.rps.is_finite() && b.rps > 0.0) {
            issues.push(format!("{path}.rps"), "must be a positive number");
        }
        if b.burst == 0 {
            issues.push(format!("{path}.burst"), "must be at least 1");
        }
    }
}

fn limits(cfg: &Config, issues: &mut Issues) {
    let l = &cfg.limits;
    if l.batch_max == 0 {
        issues.push("limits.batch_max", "must be at least 1");
    }
    if l.body_max.bytes() == 0 {
        issues.push("limits.body_max", "must be larger than zero");
    }
    bucket(issues, "limits.rate.auth_per_ip", &l.rate.auth_per_ip);
    bucket(
        issues,
        "limits.rate.auth_per_identifier",
        &l.rate.auth_per_identifier,
    );
    bucket(
        issues,
        "limits.rate.proxy_per_subject",
        &l.rate.proxy_per_subject,
    );
    if l.max_header_count == 0 || l.max_header_count > MAX_HEADER_FIELDS {
        issues.push(
            "limits.max_header_count",
            format!("must be between 1 and {MAX_HEADER_FIELDS} (the HTTP parser's limit)"),
        );
    }
    if l.header_read_timeout.get().is_zero() {
        issues.push("limits.header_read_timeout", "must be more than 0");
    }
    if l.proxy_body_read_timeout.get().is_zero() {
        issues.push("limits.proxy_body_read_timeout", "must be more than 0");
    }
}

fn upstreams(cfg: &Config, issues: &mut Issues) {
    for (name, u) in &cfg.upstreams {
        let path = format!("upstreams.{name}");
        if u.backends.is_empty() {
            issues.push(format!("{path}.backends"), "list at least one backend");
        }
        let mut seen = HashSet::new();
        for (i, b) in u.backends.iter().enumerate() {
            let bp = format!("{path}.backends[{i}]");
            if let Some(a) = socket(issues, &bp, b) {
                if !seen.insert(a) {
                    issues.push(bp, format!("{a} is listed twice"));
                }
            }
        }
        if let Some(hc) = &u.health_check {
            if !hc.path.starts_with('/') {
                issues.push(format!("{path}.health_check.path"), "must start with /");
            }
            if hc.interval.get() < std::time::Duration::from_millis(100) {
                issues.push(
                    format!("{path}.health_check.interval"),
                    "must be at least 100ms",
                );
            }
            if hc.consecutive_success == 0 || hc.consecutive_failure == 0 {
                issues.push(
                    format!("{path}.health_check"),
                    "consecutive counts must be at least 1",
                );
            }
        }
        if u.timeouts.connect.get().is_zero() || u.timeouts.read.get().is_zero() {
            issues.push(
                format!("{path}.timeouts"),
                "timeouts must be longer than zero",
            );
        }
    }
}

fn header_name(issues: &mut Issues, path: String, name: &str) {
    if http::HeaderName::from_bytes(name.as_bytes()).is_err() {
        issues.push(path, format!("{name:?} is not a valid header name"));
    }
}

fn routes(cfg: &Config, issues: &mut Issues) {
    let mut seen = HashSet::new();
    for r in &cfg.routes {
        let i = r.index;
        let path = format!("routes[{i}]");
        if !r.path.starts_with('/') {
            issues.push(format!("{path}.path"), "must start with /");
        }
        if !cfg.upstreams.contains_key(&r.upstream) {
            issues.push(
                format!("{path}.upstream"),
                format!("{:?} is not a configured upstream", r.upstream),
            );
        }
        let mut methods: Vec<String> = Vec::new();
        if let Some(ms) = &r.methods {
            if ms.is_empty() {
                issues.push(
                    format!("{path}.methods"),
                    "leave it out to allow every method",
                );
            }
            for (j, m) in ms.iter().enumerate() {
                if http::Method::from_bytes(m.to_ascii_uppercase().as_bytes()).is_err()
                    || m.is_empty()
                {
                    issues.push(
                        format!("{path}.methods[{j}]"),
                        format!("{m:?} is not an HTTP method"),
                    );
                }
                methods.push(m.to_ascii_uppercase());
            }
            methods.sort();
        }
        let host = r.host.as_deref().map(str::to_ascii_lowercase);
        if !seen.insert((host, r.path.clone(), methods)) {
            issues.push(
                path.clone(),
                "another route has the same host, path and methods",
            );
        }
        if let Some(roles) = &r.roles {
            if roles.is_empty() || roles.iter().any(|x| x.trim().is_empty()) {
                issues.push(format!("{path}.roles"), "name at least one non-empty role");
            }
        }
        for (j, h) in r.token_headers.iter().enumerate() {
            header_name(issues, format!("{path}.token_headers[{j}]"), h);
        }
        if let Some(h) = &r.device_header {
            header_name(issues, format!("{path}.device_header"), h);
        }
        if let Some(fc) = &r.forward_claims {
            for h in fc.keys() {
                header_name(issues, format!("{path}.forward_claims.{h}"), h);
            }
        }
        bucket(issues, &format!("{path}.rate"), &r.rate);
        if r.auth == AuthMode::None && (r.roles.is_some() || r.api_key || r.device_header.is_some())
        {
            issues.push(
                format!("{path}.auth"),
                "auth: none ignores roles, api_key and device_header; remove them or require auth",
            );
        }
    }
}
