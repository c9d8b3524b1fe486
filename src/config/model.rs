//! The config file's model: one struct per section of `portcullis.yaml`, with
//! the defaults an operator gets when a key is left out. Unknown keys are
//! rejected (`deny_unknown_fields`) so that a typo never silently does nothing.

use super::units::{Dur, Size};
use ipnet::IpNet;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The whole file. Sections are read one by one by `load`, so that every
/// section's errors are reported, not only the first.
#[derive(Debug, Clone, Default, Serialize)]
pub struct Config {
    pub server: Server,
    pub listen: Vec<Listener>,
    pub admin: Admin,
    pub store: Store,
    pub tokens: Tokens,
    pub brands: BTreeMap<String, Brand>,
    pub login: Option<Login>,
    pub secrets: Secrets,
    pub otp_delivery: OtpDelivery,
    pub limits: Limits,
    pub upstreams: BTreeMap<String, Upstream>,
    pub routes: Vec<Route>,
}

/// Process settings handed to Pingora.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Server {
    /// Worker threads per listener service.
    pub threads: usize,
    pub pid_file: PathBuf,
    /// Unix socket through which a new process takes the listeners over (`--upgrade`).
    pub upgrade_sock: PathBuf,
    /// Time a process being replaced keeps serving before it stops accepting.
    pub grace_period: Dur,
    /// Time given to requests in flight after the grace period.
    pub graceful_shutdown_timeout: Dur,
    /// How long an idle client keep-alive connection is kept.
    pub keepalive_timeout: Dur,
    /// Upstream connections kept for reuse, per process.
    pub upstream_keepalive_pool_size: usize,
    /// No longer used, still accepted so that older config files load: the
    /// gateway's own client connections read request heads and bodies
    /// straight into each request's buffers (`proxy::client_socket`). A
    /// value other than 0 is warned about at start.
    pub connection_read_buffer: Size,
    /// Let idle worker threads take tasks from busy ones (tokio's
    /// multi-threaded scheduler). Off: each thread runs its own connections
    /// (like nginx workers), which costs fewer cross-thread wake-ups.
    pub work_stealing: bool,
    /// One line per request at `info` on the `access` target.
    pub access_log: bool,
    /// Default log filter (RUST_LOG overrides it).
    pub log_level: String,
    /// Give each request an id (a UUID v4) when no trusted proxy sent one,
    /// and send it as `X-Request-Id` upstream and on the response. Off: only
    /// a trusted proxy's ids are used and passed on; other requests have none
    /// (for a load balancer in front that makes them already).
    pub request_ids: bool,
    /// Set `X-Forwarded-For` and `X-Forwarded-Proto` on proxied requests.
    /// Off: neither is set; a trusted proxy's copies pass unchanged and an
    /// untrusted client's are removed.
    pub forwarded_headers: bool,
    /// Send header names as the client and the upstream wrote them. Off: the
    /// headers of proxied requests and responses leave with lower-case names
    /// (title case for a few standard ones), as HAProxy and Envoy send them,
    /// which spares the gateway a second header map per head. HTTP header
    /// names are case-insensitive; turn this on for a peer that is not.
    pub preserve_header_case: bool,
}

impl Default for Server {
    fn default() -> Self {
        Server {
            threads: 2,
            pid_file: PathBuf::from("/tmp/portcullis.pid"),
            upgrade_sock: PathBuf::from("/tmp/portcullis_upgrade.sock"),
            grace_period: Dur::secs(5),
            graceful_shutdown_timeout: Dur::secs(10),
            keepalive_timeout: Dur::secs(60),
            upstream_keepalive_pool_size: 128,
            work_stealing: false,
            connection_read_buffer: Size(0),
            access_log: true,
            log_level: "info".into(),
            request_ids: true,
            forwarded_headers: true,
            preserve_header_case: false,
        }
    }
}

/// One public listener.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Listener {
    /// Position in the file's `listen` list (for error paths).
    #[serde(skip)]
    pub index: usize,
    /// `host:port`, e.g. `0.0.0.0:8080`.
    pub address: String,
    #[serde(default)]
    pub tls: Option<ListenerTls>,
    #[serde(default)]
    pub h2: bool,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ListenerTls {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// The admin listener: `/healthz`, `/readyz`, `/metrics`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Admin {
    /// `host:port`; `null` turns the admin listener off.
    pub address: Option<String>,
}

impl Default for Admin {
    fn default() -> Self {
        Admin {
            address: Some("127.0.0.1:9090".into()),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum StoreKind {
    #[default]
    Sqlite,
    Redis,
}

/// Where users, sessions, codes, counters and revocations live.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Store {
    pub kind: StoreKind,
    /// SQLite file (created on first run).
    pub path: PathBuf,
    /// Redis URL (`redis://` or `rediss://`).
    pub url: Option<String>,
    /// Name of an environment variable holding the Redis URL (keeps passwords out of the file).
    pub url_env: Option<String>,
    pub key_prefix: String,
    pub pool_size: usize,
    pub connect_timeout: Dur,
    pub command_timeout: Dur,
    /// How often expired records are swept (SQLite rows; on Redis, keys
    /// whose `PX` has not removed them yet and the index of ephemeral keys).
    pub sweep_interval: Dur,
}

impl Default for Store {
    fn default() -> Self {
        Store {
            kind: StoreKind::Sqlite,
            path: PathBuf::from("./data/portcullis.db"),
            url: None,
            url_env: None,
            key_prefix: "portcullis:".into(),
            pool_size: 8,
            connect_timeout: Dur::secs(2),
            command_timeout: Dur::millis(500),
            sweep_interval: Dur::secs(60),
        }
    }
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Hash)]
pub enum Algorithm {
    HS256,
    HS384,
    HS512,
    RS256,
    RS384,
    RS512,
    PS256,
    PS384,
    PS512,
    ES256,
    ES384,
    EdDSA,
}

impl Algorithm {
    pub fn is_hmac(self) -> bool {
        matches!(self, Algorithm::HS256 | Algorithm::HS384 | Algorithm::HS512)
    }
}

/// A key this gateway signs with (the first) or still accepts (the rest).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKey {
    pub kid: String,
    pub alg: Algorithm,
    /// HMAC secret from an environment variable.
    #[serde(default)]
    pub secret_env: Option<String>,
    /// HMAC secret from a file (raw bytes, trailing newline trimmed).
    #[serde(default)]
    pub secret_file: Option<PathBuf>,
    /// Development convenience: create `secret_file` with 32 random bytes when it is missing.
    #[serde(default)]
    pub create_if_missing: bool,
    /// PEM private key (asymmetric algorithms).
    #[serde(default)]
    pub private_key: Option<PathBuf>,
    /// PEM public key; derived from the private key when left out.
    #[serde(default)]
    pub public_key: Option<PathBuf>,
}

/// An outside identity provider whose tokens are accepted on proxied routes.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TrustedIssuer {
    pub issuer: String,
    pub jwks_url: String,
    #[serde(default)]
    pub audiences: Vec<String>,
    pub algorithms: Vec<Algorithm>,
    #[serde(default = "default_jwks_refresh")]
    pub refresh: Dur,
    /// Claim holding the subject's roles (a string or a list of strings).
    #[serde(default = "default_roles_claim")]
    pub roles_claim: String,
}

fn default_jwks_refresh() -> Dur {
    Dur::secs(600)
}
fn default_roles_claim() -> String {
    "rol".into()
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct TokenCache {
    pub max_entries: u64,
    /// How long a cached verification may be trusted before revocation is
    /// looked up again.
    pub revocation_check_interval: Dur,
}

impl Default for TokenCache {
    fn default() -> Self {
        TokenCache {
            max_entries: 100_000,
            revocation_check_interval: Dur::secs(2),
        }
    }
}

/// Issuing and verifying tokens.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Tokens {
    pub issuer: String,
    pub audience: String,
    pub signing: Vec<SigningKey>,
    pub access_ttl: Dur,
    pub session_ttl: Dur,
    pub key_ttl: Option<Dur>,
    pub regenerate_window: Dur,
    pub leeway: Dur,
    /// Cookie read for a token when no header carries one.
    pub cookie: Option<String>,
    pub cache: TokenCache,
    pub trusted_issuers: Vec<TrustedIssuer>,
    /// What a verified token gets when the revocation look-up fails (store down).
    pub revocation_unavailable: RevocationUnavailable,
}

/// Accept (`open`) or refuse (`closed`) a verified token whose revocation
/// state cannot be read.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum FailMode {
    Open,
    Closed,
}

/// The revocation failure policy, per side of the gateway.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RevocationUnavailable {
    /// Proxied routes: `open` keeps serving tokens that verify.
    pub proxy: FailMode,
    /// The login API (token/regenerate, API keys): `closed` by default.
    pub auth_api: FailMode,
}

impl Default for RevocationUnavailable {
    fn default() -> Self {
        RevocationUnavailable {
            proxy: FailMode::Open,
            auth_api: FailMode::Closed,
        }
    }
}

impl Default for Tokens {
    fn default() -> Self {
        Tokens {
            issuer: "portcullis".into(),
            audience: "api".into(),
            signing: Vec::new(),
            access_ttl: Dur::secs(15 * 60),
            session_ttl: Dur::secs(15 * 60),
            key_ttl: None,
            regenerate_window: Dur::secs(7 * 86400),
            leeway: Dur::secs(30),
            cookie: None,
            cache: TokenCache::default(),
            trusted_issuers: Vec::new(),
            revocation_unavailable: RevocationUnavailable::default(),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpPolicy {
    pub length: u8,
    pub ttl: Dur,
    pub max_attempts: u32,
    pub max_sends: u32,
    pub send_window: Dur,
}

impl Default for OtpPolicy {
    fn default() -> Self {
        OtpPolicy {
            length: 6,
            ttl: Dur::secs(600),
            max_attempts: 5,
            max_sends: 5,
            send_window: Dur::secs(3600),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct PasswordPolicy {
    pub min_length: usize,
    pub max_attempts: u32,
}

impl Default for PasswordPolicy {
    fn default() -> Self {
        PasswordPolicy {
            min_length: 8,
            max_attempts: 5,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Lockout {
    pub enabled: bool,
    pub window: Dur,
    pub period: Dur,
}

impl Default for Lockout {
    fn default() -> Self {
        Lockout {
            enabled: true,
            window: Dur::secs(1800),
            period: Dur::secs(1800),
        }
    }
}

/// A brand (org): its login policy and token lifetimes.
#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Brand {
    pub password_enabled: bool,
    pub otp: OtpPolicy,
    pub password: PasswordPolicy,
    pub lockout: Lockout,
    pub access_ttl: Option<Dur>,
    pub key_ttl: Option<Dur>,
}

/// `POST /user/login`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Login {
    pub brand: String,
    #[serde(default = "default_login_ttl")]
    pub token_ttl: Dur,
}

fn default_login_ttl() -> Dur {
    Dur::secs(3600)
}

#[derive(Debug, Clone, Deserialize, Serialize, Default)]
#[serde(deny_unknown_fields, default)]
pub struct Secrets {
    pub otp_pepper_env: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum OtpDeliveryKind {
    #[default]
    Log,
    Webhook,
    Smtp,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Smtp {
    pub host: String,
    #[serde(default = "default_smtp_port")]
    pub port: u16,
    pub from: String,
    #[serde(default)]
    pub username_env: Option<String>,
    #[serde(default)]
    pub password_env: Option<String>,
    /// `none` (plain, for local relays), `starttls` or `tls`.
    #[serde(default = "default_smtp_security")]
    pub security: String,
}

fn default_smtp_port() -> u16 {
    25
}
fn default_smtp_security() -> String {
    "starttls".into()
}

/// How one-time codes reach people.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct OtpDelivery {
    pub kind: OtpDeliveryKind,
    /// `log` only, development only: print the code itself.
    pub reveal_codes: bool,
    /// `webhook`: where the JSON is POSTed.
    pub url: Option<String>,
    pub timeout: Dur,
    pub smtp: Option<Smtp>,
}

impl Default for OtpDelivery {
    fn default() -> Self {
        OtpDelivery {
            kind: OtpDeliveryKind::Log,
            reveal_codes: false,
            url: None,
            timeout: Dur::secs(5),
            smtp: None,
        }
    }
}

/// A token bucket: sustained requests per second and burst size.
#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct Bucket {
    pub rps: f64,
    pub burst: u32,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    pub auth_per_ip: Option<Bucket>,
    pub auth_per_identifier: Option<Bucket>,
    pub proxy_per_subject: Option<Bucket>,
    /// Enforce the auth limits across instances through the shared store.
    pub shared: bool,
    /// Keys remembered per limiter before the oldest are evicted.
    pub max_keys: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            auth_per_ip: Some(Bucket {
                rps: 20.0,
                burst: 40,
            }),
            auth_per_identifier: Some(Bucket {
                rps: 2.0,
                burst: 10,
            }),
            proxy_per_subject: Some(Bucket {
                rps: 1000.0,
                burst: 2000,
            }),
            shared: false,
            max_keys: 100_000,
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct Limits {
    pub batch_max: usize,
    pub body_max: Size,
    pub rate: RateLimits,
    /// Peers (CIDRs or single addresses) whose `X-Forwarded-For` is believed.
    #[serde(deserialize_with = "cidrs")]
    pub trusted_proxies: Vec<IpNet>,
    pub max_header_count: usize,
    pub max_header_bytes: Size,
    /// Total time an auth API request body may take to arrive (408 beyond).
    pub body_read_timeout: Dur,
    /// Total time a request head may take to arrive, from its first byte
    /// (from the connection's start for its first request); 408 beyond.
    pub header_read_timeout: Dur,
    /// Total time a proxied request body may take to arrive (408 beyond).
    pub proxy_body_read_timeout: Dur,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            batch_max: 50,
            body_max: Size(64 * 1024),
            rate: RateLimits::default(),
            trusted_proxies: Vec::new(),
            max_header_count: 100,
            max_header_bytes: Size(32 * 1024),
            body_read_timeout: Dur::secs(10),
            header_read_timeout: Dur::secs(10),
            proxy_body_read_timeout: Dur::secs(60),
        }
    }
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct HealthCheck {
    /// Path requested with GET; a 2xx answer is healthy.
    #[serde(default = "default_hc_path")]
    pub path: String,
    #[serde(default = "default_hc_interval")]
    pub interval: Dur,
    /// Host header sent with the check (defaults to the backend address).
    #[serde(default)]
    pub host: Option<String>,
    /// Consecutive results needed to flip a backend's state.
    #[serde(default = "one")]
    pub consecutive_success: usize,
    #[serde(default = "one")]
    pub consecutive_failure: usize,
}

fn default_hc_path() -> String {
    "/healthz".into()
}
fn default_hc_interval() -> Dur {
    Dur::secs(5)
}
fn one() -> usize {
    1
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields, default)]
pub struct UpstreamTimeouts {
    pub connect: Dur,
    pub read: Dur,
    pub write: Dur,
    pub idle: Dur,
}

impl Default for UpstreamTimeouts {
    fn default() -> Self {
        UpstreamTimeouts {
            connect: Dur::secs(1),
            read: Dur::secs(30),
            write: Dur::secs(30),
            idle: Dur::secs(60),
        }
    }
}

/// A cluster of interchangeable backends.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Upstream {
    /// `host:port` of each backend.
    pub backends: Vec<String>,
    #[serde(default)]
    pub health_check: Option<HealthCheck>,
    #[serde(default)]
    pub timeouts: UpstreamTimeouts,
    /// Speak TLS to the backends, with this SNI.
    #[serde(default)]
    pub tls_sni: Option<String>,
}

#[derive(Debug, Clone, Copy, Deserialize, Serialize, PartialEq, Eq, Default)]
#[serde(rename_all = "lowercase")]
pub enum AuthMode {
    #[default]
    Required,
    Optional,
    None,
}

/// Where a path-matched request goes and what it must carry.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Route {
    /// Position in the file's `routes` list (for error paths).
    #[serde(skip)]
    pub index: usize,
    /// Name used in metrics and logs; defaults to the path.
    #[serde(default)]
    pub name: Option<String>,
    /// Path prefix; the longest matching prefix wins.
    pub path: String,
    /// Exact Host (without port) this route is limited to.
    #[serde(default)]
    pub host: Option<String>,
    /// Methods this route is limited to.
    #[serde(default)]
    pub methods: Option<Vec<String>>,
    pub upstream: String,
    #[serde(default)]
    pub auth: AuthMode,
    /// Roles accepted (default: USER).
    #[serde(default)]
    pub roles: Option<Vec<String>>,
    /// Extra headers that may carry the token, after `Authorization`.
    #[serde(default)]
    pub token_headers: Vec<String>,
    /// Accept an AUTH key in `X-API-Key`.
    #[serde(default)]
    pub api_key: bool,
    /// Header that must carry the token's device id (`dev`).
    #[serde(default)]
    pub device_header: Option<String>,
    /// Header name → claim; default X-Auth-User-Id/Brand/Device-Id/Role.
    #[serde(default)]
    pub forward_claims: Option<BTreeMap<String, String>>,
    /// Keep the token in the request sent upstream.
    #[serde(default = "yes")]
    pub forward_token: bool,
    /// Per-route override of `limits.rate.proxy_per_subject`.
    #[serde(default)]
    pub rate: Option<Bucket>,
}

fn yes() -> bool {
    true
}

impl Route {
    /// The label this route carries in metrics and logs.
    pub fn label(&self) -> &str {
        self.name.as_deref().unwrap_or(&self.path)
    }
}

/// CIDRs, where a bare address means just that address.
fn cidrs<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Vec<IpNet>, D::Error> {
    let items = Vec::<String>::deserialize(d)?;
    items
        .iter()
        .map(|s| {
            let s = s.trim();
            s.parse::<IpNet>()
                .or_else(|_| s.parse::<std::net::IpAddr>().map(IpNet::from))
                .map_err(|_| serde::de::Error::custom(format!("{s:?} is not an address or CIDR")))
        })
        .collect()
}
