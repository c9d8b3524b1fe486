//! `portcullis user ...`: add, show, lock, unlock and delete accounts in the
//! store of a config. Accounts are named by brand and one identifier, in the
//! canonical form the login API uses. Password hashes are never printed;
//! a password comes only from stdin, checked against the brand's policy.

use crate::auth::passwords;
use crate::auth::validation::parse_identifier;
use crate::auth::Settings;
use crate::config::{self, Config};
use crate::store::{self, Contact, Identifier, IdentifierType, NewUser, Store, SystemClock};
use crate::store::{Clock, UnixMs, NEVER};
use clap::{Args, Subcommand};
use std::io::BufRead;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create an account (optionally with a password read from stdin).
    Add {
        #[command(flatten)]
        who: Who,
        /// For a USERNAME account: where its codes go.
        #[arg(long)]
        contact_mobile: Option<String>,
        /// For a USERNAME account: where its codes go.
        #[arg(long)]
        contact_email: Option<String>,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
    },
    /// Print an account (never its password hash).
    Show {
        #[command(flatten)]
        who: Who,
    },
    /// Lock an account: no password login until unlocked (or for a while).
    Lock {
        #[command(flatten)]
        who: Who,
        /// How long, e.g. 30m; without it the lock has no end.
        #[arg(long = "for", value_parser = parse_duration)]
        duration: Option<Duration>,
    },
    /// Lift a lock and forget counted password failures.
    Unlock {
        #[command(flatten)]
        who: Who,
    },
    /// Delete an account and revoke every token issued to it.
    Delete {
        #[command(flatten)]
        who: Who,
    },
}

/// Which account: the config, the brand and exactly one identifier.
#[derive(Debug, Args)]
pub struct Who {
    /// The config file whose store holds the accounts.
    #[arg(short, long, default_value = "conf/portcullis.yaml")]
    pub config: PathBuf,
    #[arg(long)]
    pub brand: String,
    #[command(flatten)]
    pub identifier: WhichIdentifier,
}

/// Exactly one of `--email`, `--mobile`, `--username`.
#[derive(Debug, Args)]
#[group(required = true, multiple = false)]
pub struct WhichIdentifier {
    #[arg(long)]
    pub email: Option<String>,
    #[arg(long)]
    pub mobile: Option<String>,
    #[arg(long)]
    pub username: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum UserCliError {
    #[error("{0}")]
    Config(#[from] config::ConfigError),
    #[error("{0}")]
    Store(#[from] store::StoreError),
    #[error("brand {0:?} is not configured")]
    UnknownBrand(String),
    #[error("{0}")]
    Invalid(&'static str),
    #[error("no such account")]
    NoSuchUser,
    #[error("the account already exists (uid {0})")]
    Exists(String),
    #[error("cannot read the password from stdin: {0}")]
    Stdin(#[from] std::io::Error),
    #[error("{0}")]
    Runtime(String),
}

fn parse_duration(s: &str) -> Result<Duration, String> {
    humantime::parse_duration(s).map_err(|e| format!("{s:?}: {e}"))
}

/// Runs one command; what it prints goes to stdout.
pub fn run(command: UserCommand) -> Result<(), UserCliError> {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|e| UserCliError::Runtime(e.to_string()))?;
    runtime.block_on(run_async(command))
}

async fn run_async(command: UserCommand) -> Result<(), UserCliError> {
    match command {
        UserCommand::Add {
            who,
            contact_mobile,
            contact_email,
            password_stdin,
        } => {
            let target = Target::open(&who).await?;
            let password_hash = match password_stdin {
                true => Some(target.read_password().await?),
                false => None,
            };
            let contact = contact(&target.identifier, contact_mobile, contact_email)?;
            let (user, created) = target
                .store
                .find_or_create_user(NewUser {
                    brand: target.brand.clone(),
                    identifiers: vec![target.identifier.clone()],
                    contact,
                    password_hash,
                })
                .await?;
            if !created {
                return Err(UserCliError::Exists(user.uid));
            }
            println!("created {} ({})", user.uid, target.brand);
        }
        UserCommand::Show { who } => {
            let target = Target::open(&who).await?;
            let user = target.user().await?;
            println!("uid:        {}", user.uid);
            println!("brand:      {}", user.brand.to_ascii_uppercase());
            for id in &user.identifiers {
                println!("identifier: {}|{}", id.kind, id.value);
            }
            let or_dash = |v: &Option<String>| v.clone().unwrap_or_else(|| "-".into());
            println!(
                "contact:    mobile {}, email {}",
                or_dash(&user.contact.mobile),
                or_dash(&user.contact.email)
            );
            let password = if user.password_hash.is_some() {
                "set"
            } else {
                "not set"
            };
            println!("password:   {password}");
            println!("locked:     {}", lock_text(user.locked_until));
            println!("created:    {}", time_text(user.created_at));
        }
        UserCommand::Lock { who, duration } => {
            let target = Target::open(&who).await?;
            let user = target.user().await?;
            let until = match duration {
                None => NEVER,
                Some(d) => SystemClock
                    .now_ms()
                    .saturating_add(i64::try_from(d.as_millis()).unwrap_or(i64::MAX)),
            };
            target.store.lock_user(&user.uid, until).await?;
            println!("locked {} ({})", user.uid, lock_text(Some(until)));
        }
        UserCommand::Unlock { who } => {
            let target = Target::open(&who).await?;
            let user = target.user().await?;
            target.store.unlock_user(&user.uid).await?;
            println!("unlocked {}", user.uid);
        }
        UserCommand::Delete { who } => {
            let target = Target::open(&who).await?;
            let user = target.user().await?;
            // Tokens name the uid; revoke them all (iat has whole seconds).
            let cutoff = (SystemClock.now_ms() / 1000 + 1) * 1000;
            target.store.revoke_user_before(&user.uid, cutoff).await?;
            target.store.delete_user(&user.uid).await?;
            println!("deleted {}", user.uid);
        }
    }
    Ok(())
}

/// The account a command names, and the store it lives in.
struct Target {
    store: Arc<dyn Store>,
    brand: String,
    min_length: usize,
    identifier: Identifier,
}

impl Target {
    async fn open(who: &Who) -> Result<Target, UserCliError> {
        let cfg: Config = config::load_file(&who.config)?;
        let settings = Settings::from_config(&cfg);
        let brand = settings
            .brand(&who.brand)
            .ok_or_else(|| UserCliError::UnknownBrand(who.brand.clone()))?;
        let which = &who.identifier;
        let identifier = match (&which.email, &which.mobile, &which.username) {
            (Some(v), _, _) => parse_identifier(IdentifierType::Email, v),
            (_, Some(v), _) => parse_identifier(IdentifierType::Mobile, v),
            (_, _, Some(v)) => parse_identifier(IdentifierType::Username, v),
            _ => {
                return Err(UserCliError::Invalid(
                    "name the account with --email, --mobile or --username",
                ))
            }
        }
        .map_err(|_| UserCliError::Invalid("the identifier is not valid for its type"))?;
        let store = store::open(&cfg.store, Arc::new(SystemClock)).await?;
        Ok(Target {
            store,
            brand: brand.name.to_owned(),
            min_length: brand.policy.password.min_length,
            identifier,
        })
    }

    async fn user(&self) -> Result<store::User, UserCliError> {
        self.store
            .find_user(&self.brand, &self.identifier)
            .await?
            .ok_or(UserCliError::NoSuchUser)
    }

    /// The first line of stdin, checked against the brand's policy, hashed.
    async fn read_password(&self) -> Result<String, UserCliError> {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        let raw = line.strip_suffix('\n').unwrap_or(&line);
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        let password = passwords::normalise(raw);
        passwords::check_policy(&password, self.min_length)
            .map_err(|_| UserCliError::Invalid("the password does not meet the brand's policy"))?;
        passwords::hash(password)
            .await
            .map_err(|e| UserCliError::Runtime(e.to_string()))
    }
}

fn contact(
    identifier: &Identifier,
    mobile: Option<String>,
    email: Option<String>,
) -> Result<Contact, UserCliError> {
    let check = |kind, raw: Option<String>| {
        raw.map(|r| parse_identifier(kind, &r).map(|i| i.value))
            .transpose()
            .map_err(|_| UserCliError::Invalid("a contact is not valid for its type"))
    };
    let mut contact = Contact {
        mobile: check(IdentifierType::Mobile, mobile)?,
        email: check(IdentifierType::Email, email)?,
    };
    match identifier.kind {
        IdentifierType::Mobile => contact.mobile = Some(identifier.value.clone()),
        IdentifierType::Email => contact.email = Some(identifier.value.clone()),
        IdentifierType::Username => {}
    }
    Ok(contact)
}

fn time_text(ms: UnixMs) -> String {
    let at = UNIX_EPOCH + Duration::from_millis(u64::try_from(ms).unwrap_or(0));
    humantime::format_rfc3339_seconds(at).to_string()
}

fn lock_text(until: Option<UnixMs>) -> String {
    match until {
        None => "no".into(),
        Some(NEVER) => "yes, without end".into(),
        Some(t) => format!("yes, until {}", time_text(t)),
    }
}
