//! `portcullis migrate`: copies the durable part of one store (the users)
//! into another, page by page in uid order. Every user is written as it is
//! (uid, identifiers, password hash, lock), so running it again changes
//! nothing and a run that stopped half way can simply be repeated.

use super::{Store, StoreResult};

/// Users read per page.
pub const PAGE: usize = 500;

/// Copies every user of `from` into `to`; returns how many were written.
pub async fn copy_users(from: &dyn Store, to: &dyn Store) -> StoreResult<u64> {
    let mut copied = 0u64;
    let mut after: Option<String> = None;
    loop {
        let page = from.list_users(after.as_deref(), PAGE).await?;
        let Some(last) = page.last() else {
            return Ok(copied);
        };
        after = Some(last.uid.clone());
        let full = page.len() == PAGE;
        for user in page {
            to.import_user(user).await?;
            copied += 1;
        }
        if !full {
            return Ok(copied);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::redis::test_server::RedisServer;
    use super::super::*;
    use super::copy_users;
    use std::time::Duration;

    #[tokio::test]
    async fn users_are_copied_from_sqlite_to_redis_and_a_second_run_changes_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let clock: Arc<dyn Clock> = Arc::new(SystemClock);
        let sqlite = SqliteStore::open(&dir.path().join("from.db"), clock.clone())
            .await
            .unwrap();
        let mut made = Vec::new();
        for i in 0..7 {
            let (user, _) = sqlite
                .find_or_create_user(NewUser {
                    brand: "Acme".into(),
                    identifiers: vec![
                        Identifier::new(IdentifierType::Email, format!("u{i}@example.com")),
                        Identifier::new(IdentifierType::Username, format!("user{i}")),
                    ],
                    contact: Contact::default(),
                    password_hash: Some(format!("$argon2id$user{i}")),
                })
                .await
                .unwrap();
            made.push(user);
        }
        sqlite
            .lock_user(&made[0].uid, clock.now_ms() + 3_600_000)
            .await
            .unwrap();
        let server = RedisServer::start();
        let redis = RedisStore::open(
            &RedisSettings {
                url: server.url(),
                key_prefix: "m:".into(),
                pool_size: 1,
                connect_timeout: Duration::from_secs(1),
                command_timeout: Duration::from_secs(1),
            },
            clock,
        )
        .unwrap();

        assert_eq!(copy_users(&sqlite, &redis).await.unwrap(), 7);
        assert_eq!(copy_users(&sqlite, &redis).await.unwrap(), 7);

        let before = sqlite.list_users(None, 100).await.unwrap();
        let after = redis.list_users(None, 100).await.unwrap();
        assert_eq!(before, after, "the same users, field for field");
        let found = redis
            .find_user("ACME", &Identifier::new(IdentifierType::Username, "user3"))
            .await
            .unwrap()
            .unwrap();
        assert_eq!(found.uid, made[3].uid);
        let locked = after.iter().find(|u| u.uid == made[0].uid).unwrap();
        assert!(locked.locked_until.is_some(), "the lock travels too");
    }
}
