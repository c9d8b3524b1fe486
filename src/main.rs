//! The `portcullis` command: run the gateway, check a config file, mint
//! tokens, write keys, reload, manage accounts (`user`), and migrate users
//! from SQLite to Redis.

use clap::{Parser, Subcommand, ValueEnum};
use portcullis::config::{self, ConfigError};
use portcullis::gateway::Snapshot;
use portcullis::server::{self, StartOptions};
use portcullis::tokens::{new_family_id, MintRequest, NoRevocations, Role, TokenService};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::Arc;

#[cfg(not(feature = "system-alloc"))]
#[global_allocator]
static GLOBAL: portcullis::allocator::GatewayAllocator = portcullis::allocator::GatewayAllocator;

#[derive(Parser)]
#[command(
    name = "portcullis",
    version,
    about = "An authenticating reverse proxy: login API, JWT checks on every route, identity headers upstream.",
    long_about = None
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Clone, Copy, ValueEnum)]
enum LogFormat {
    Text,
    Json,
}

#[derive(Subcommand)]
enum Command {
    /// Start the gateway.
    Run {
        /// The config file.
        #[arg(short, long, default_value = "conf/portcullis.yaml")]
        config: PathBuf,
        /// Take the listeners over from a running Portcullis (graceful upgrade).
        #[arg(long)]
        upgrade: bool,
        /// Detach and run in the background.
        #[arg(long)]
        daemon: bool,
        /// Log line format.
        #[arg(long, value_enum, default_value = "text")]
        log_format: LogFormat,
    },
    /// Validate a config file: prints every problem with its path (exit 1), or "ok".
    Check {
        #[arg(short, long, default_value = "conf/portcullis.yaml")]
        config: PathBuf,
    },
    /// Tokens for operators: `portcullis token mint ...` prints a signed token.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Write a new signing key: a PEM key pair (RS256, PS256, ES256, ES384,
    /// EdDSA) or a 32-byte secret (HS256/384/512), for `tokens.signing`.
    Keygen {
        /// Algorithm of the key.
        #[arg(long, value_parser = parse_alg)]
        alg: config::Algorithm,
        /// Key id (file names and `kid`).
        #[arg(long, default_value = "k1")]
        kid: String,
        /// Folder the files are written to.
        #[arg(long, default_value = ".")]
        out: PathBuf,
    },
    /// Accounts for operators: `portcullis user add|show|lock|unlock|delete ...`.
    User {
        #[command(subcommand)]
        command: portcullis::cli::user::UserCommand,
    },
    /// Copy the users (the durable part) from the embedded SQLite store to
    /// Redis. Idempotent: run it again to pick up users added meanwhile.
    Migrate {
        /// The source store, `sqlite:PATH`.
        #[arg(long)]
        from: String,
        /// The target, `redis://...` or `rediss://...`.
        #[arg(long, required_unless_present = "to_env", conflicts_with = "to_env")]
        to: Option<String>,
        /// Name of an environment variable holding the target URL (keeps
        /// its password out of the shell history).
        #[arg(long)]
        to_env: Option<String>,
        /// Key prefix in Redis (the target config's `store.key_prefix`).
        #[arg(long, default_value = "portcullis:")]
        key_prefix: String,
    },
    /// Validate a config file, then make the running gateway (the pid in its
    /// `server.pid_file`) reload it without dropping connections (SIGHUP).
    Reload {
        #[arg(short, long, default_value = "conf/portcullis.yaml")]
        config: PathBuf,
    },
}

#[derive(Subcommand)]
enum TokenCommand {
    /// Sign a token with the config's signing key and print it (to test routes).
    Mint {
        /// The config file whose `tokens` section signs.
        #[arg(short, long = "config", default_value = "conf/portcullis.yaml")]
        config: PathBuf,
        /// Subject (user id).
        #[arg(long)]
        sub: String,
        /// Brand (written upper case into `org`).
        #[arg(long)]
        brand: String,
        /// VIEW, USER or AUTH.
        #[arg(long, default_value = "USER")]
        role: String,
        /// Device id (`dev`).
        #[arg(long)]
        device: Option<String>,
        /// Identifier, `TYPE|value`; repeatable.
        #[arg(long = "identifier")]
        identifiers: Vec<String>,
        /// Lifetime, e.g. 15m (default: the config's lifetime for the role).
        #[arg(long, value_parser = parse_duration)]
        ttl: Option<std::time::Duration>,
    },
}

fn parse_alg(s: &str) -> Result<config::Algorithm, String> {
    serde_norway::from_str(s).map_err(|_| {
        format!("unknown algorithm {s:?}; one of HS256 HS384 HS512 RS256 RS384 RS512 PS256 PS384 PS512 ES256 ES384 EdDSA")
    })
}

fn parse_duration(s: &str) -> Result<std::time::Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

fn mint(command: TokenCommand) -> ExitCode {
    let TokenCommand::Mint {
        config,
        sub,
        brand,
        role,
        device,
        identifiers,
        ttl,
    } = command;
    let cfg = match config::load_file(&config) {
        Ok(c) => c,
        Err(e) => {
            print_errors(&config, &e);
            return ExitCode::FAILURE;
        }
    };
    let Some(role) = Role::parse(&role.to_ascii_uppercase()) else {
        eprintln!("--role must be VIEW, USER or AUTH");
        return ExitCode::FAILURE;
    };
    let service = match TokenService::new(&cfg.tokens, Arc::new(NoRevocations), false) {
        Ok(s) => s,
        Err(e) => {
            print_errors(&config, &e);
            return ExitCode::FAILURE;
        }
    };
    let request = MintRequest {
        uid: sub,
        brand,
        role,
        device,
        identifiers,
        ttl,
        family: new_family_id(),
    };
    match service.mint(&request) {
        Ok(minted) => {
            println!("{}", minted.token);
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("cannot mint: {e}");
            ExitCode::FAILURE
        }
    }
}

/// `portcullis migrate`: copies users from SQLite to Redis.
fn migrate(from: &str, to: Option<String>, to_env: Option<String>, key_prefix: String) -> ExitCode {
    use portcullis::store::{
        migrate::copy_users, RedisSettings, RedisStore, SqliteStore, SystemClock,
    };
    let Some(path) = from.strip_prefix("sqlite:") else {
        eprintln!("--from must be sqlite:PATH");
        return ExitCode::FAILURE;
    };
    let url = match (to, to_env) {
        (Some(url), _) => url,
        (None, Some(var)) => match std::env::var(&var) {
            Ok(url) => url,
            Err(_) => {
                eprintln!("--to-env names {var}, which is not set");
                return ExitCode::FAILURE;
            }
        },
        (None, None) => {
            eprintln!("--to or --to-env is required");
            return ExitCode::FAILURE;
        }
    };
    if !(url.starts_with("redis://") || url.starts_with("rediss://")) {
        eprintln!("--to must start with redis:// or rediss://");
        return ExitCode::FAILURE;
    }
    let path = std::path::PathBuf::from(path);
    if !path.is_file() {
        eprintln!("{} does not exist", path.display());
        return ExitCode::FAILURE;
    }
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let settings = RedisSettings {
        url,
        key_prefix,
        pool_size: 1,
        connect_timeout: std::time::Duration::from_secs(5),
        command_timeout: std::time::Duration::from_secs(5),
    };
    let result = runtime.block_on(async {
        let clock = Arc::new(SystemClock);
        let source = SqliteStore::open(&path, clock.clone()).await?;
        let target = RedisStore::open(&settings, clock)?;
        copy_users(&source, &target).await
    });
    match result {
        Ok(n) => {
            println!("copied {n} user(s) from {} to Redis", path.display());
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("migration failed: {e}");
            ExitCode::FAILURE
        }
    }
}

fn init_logs(default_level: &str, format: LogFormat) {
    use tracing_subscriber::layer::SubscriberExt;
    use tracing_subscriber::util::SubscriberInitExt;
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default_level));
    use std::io::IsTerminal;
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    let without_headers = tracing_subscriber::filter::filter_fn(not_pingora_detail);
    let _ = match format {
        LogFormat::Text => builder.finish().with(without_headers).try_init(),
        LogFormat::Json => builder
            .json()
            .flatten_event(true)
            .finish()
            .with(without_headers)
            .try_init(),
    };
}

/// Pingora's own debug and trace lines print whole request and response
/// headers (an Authorization header and cookies included), so they never
/// reach the log, whatever `log_level` or `RUST_LOG` says. Its info, warning
/// and error lines stay.
fn not_pingora_detail(line: &tracing::Metadata<'_>) -> bool {
    !(line.target().starts_with("pingora") && *line.level() > tracing::Level::INFO)
}

fn print_errors(path: &std::path::Path, e: &ConfigError) {
    eprintln!("{}: {} problem(s):", path.display(), e.issues.len());
    for issue in &e.issues {
        eprintln!("  {issue}");
    }
}

/// Reads, validates and builds the runtime objects, without listening.
fn load(path: &std::path::Path) -> Result<config::Config, ConfigError> {
    let cfg = config::load_file(path)?;
    Snapshot::check(&cfg)?;
    Ok(cfg)
}

fn main() -> ExitCode {
    portcullis::allocator::keep_huge_pages_off();
    portcullis::allocator::purge_at_once_during_start_up();
    let cli = Cli::parse();
    match cli.command {
        Command::Check { config } => match load(&config) {
            Ok(_) => {
                println!("ok");
                ExitCode::SUCCESS
            }
            Err(e) => {
                print_errors(&config, &e);
                ExitCode::FAILURE
            }
        },
        Command::Token { command } => mint(command),
        Command::User { command } => match portcullis::cli::user::run(command) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("{e}");
                ExitCode::FAILURE
            }
        },
        Command::Migrate {
            from,
            to,
            to_env,
            key_prefix,
        } => migrate(&from, to, to_env, key_prefix),
        Command::Keygen { alg, kid, out } => match portcullis::tokens::keygen(alg, &out, &kid) {
            Ok(files) => {
                println!("private: {}", files.private.display());
                if let Some(public) = files.public {
                    println!("public:  {}", public.display());
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("cannot write the key: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Reload { config } => {
            let cfg = match load(&config) {
                Ok(c) => c,
                Err(e) => {
                    print_errors(&config, &e);
                    eprintln!("nothing was reloaded");
                    return ExitCode::FAILURE;
                }
            };
            match portcullis::signal::hang_up(&cfg.server.pid_file) {
                Ok(pid) => {
                    println!(
                        "asked portcullis (pid {pid}) to reload {}",
                        config.display()
                    );
                    ExitCode::SUCCESS
                }
                Err(e) => {
                    eprintln!("cannot signal the running gateway: {e}");
                    ExitCode::FAILURE
                }
            }
        }
        Command::Run {
            config,
            upgrade,
            daemon,
            log_format,
        } => {
            // Reloads read the same file even after the process changed directory.
            let config = std::fs::canonicalize(&config).unwrap_or(config);
            let cfg = match config::load_file(&config) {
                Ok(c) => c,
                Err(e) => {
                    print_errors(&config, &e);
                    return ExitCode::FAILURE;
                }
            };
            init_logs(&cfg.server.log_level, log_format);
            let listen: Vec<String> = cfg.listen.iter().map(|l| l.address.clone()).collect();
            let server = match server::build(cfg, config.clone(), &StartOptions { upgrade, daemon })
            {
                Ok(s) => s,
                Err(e) => {
                    print_errors(&config, &e);
                    return ExitCode::FAILURE;
                }
            };
            tracing::info!(config = %config.display(), ?listen, "portcullis starting");
            server.run_forever()
        }
    }
}
