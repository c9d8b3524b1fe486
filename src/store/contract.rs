//! The behaviour every [`Store`] implementation owes the flows, written once
//! and run against each backend (SQLite and a real redis-server) with the store's
//! own [`ManualClock`], so expiry is checked without sleeping.

use super::*;
use std::collections::HashSet;
use std::time::Duration;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn ms(d: Duration) -> UnixMs {
    d.as_millis() as UnixMs
}

fn mobile(v: &str) -> Identifier {
    Identifier::new(IdentifierType::Mobile, v)
}
fn email(v: &str) -> Identifier {
    Identifier::new(IdentifierType::Email, v)
}
fn username(v: &str) -> Identifier {
    Identifier::new(IdentifierType::Username, v)
}

fn new_user(brand: &str, identifiers: Vec<Identifier>) -> NewUser {
    NewUser {
        brand: brand.into(),
        identifiers,
        contact: Contact::default(),
        password_hash: None,
    }
}

fn new_session(brand: &str, identifier: Identifier) -> NewSession {
    NewSession {
        id: None,
        brand: brand.into(),
        family: Family::Mobile,
        identifier,
        device_id: Some("device-1".into()),
        contact: Contact::default(),
        staged_password_hash: None,
        ttl: 15 * MINUTE,
    }
}

/// Runs every check below against `store`, whose clock is `clock`.
pub async fn run_store_contract(store: Arc<dyn Store>, clock: Arc<ManualClock>) {
    let s = store.as_ref();
    let c = clock.as_ref();
    registration_creates_a_user_once_found_by_any_identifier(s).await;
    identifiers_of_two_users_cannot_be_joined_and_bad_users_are_refused(s).await;
    passwords_are_set_and_replaced(s).await;
    locks_hold_until_their_time_or_an_unlock(s, c).await;
    deleted_users_are_gone_and_their_identifiers_free(s).await;
    users_are_listed_in_pages_and_imported_idempotently(s).await;
    sessions_keep_their_binding_until_they_expire(s, c).await;
    a_right_code_consumes_code_and_session(s).await;
    a_new_code_replaces_the_old_one(s).await;
    codes_expire_without_counting_and_never_outlive_the_session(s, c).await;
    a_discarded_code_is_no_longer_valid(s).await;
    wrong_codes_are_counted_per_session_until_it_dies(s).await;
    code_sends_are_limited_per_identifier_and_window(s, c).await;
    wrong_passwords_lock_the_account_for_the_period(s, c).await;
    password_failures_reset_on_success_window_and_unlock(s, c).await;
    rate_buckets_allow_the_burst_then_the_rate(s, c).await;
    revocations_cover_token_family_and_older_user_tokens(s, c).await;
    secrets_are_made_once_and_kept(s).await;
    health_answers_and_sweeping_removes_only_expired_records(s, c).await;
    fifty_concurrent_right_codes_are_accepted_exactly_once(&store).await;
    twenty_concurrent_wrong_codes_kill_the_session_after_max_attempts(&store).await;
    concurrent_sends_never_exceed_the_limit(&store).await;
    concurrent_registrations_create_one_user(&store).await;
    concurrent_password_failures_lock_exactly_once(&store).await;
    concurrent_secret_creation_agrees(&store).await;
}

async fn registration_creates_a_user_once_found_by_any_identifier(s: &dyn Store) {
    let mut new = new_user("Acme", vec![username("ann"), mobile("+4915112345678")]);
    new.contact.email = Some("ann@example.com".into());
    new.password_hash = Some("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA".into());
    let (user, created) = s.find_or_create_user(new.clone()).await.unwrap();
    assert!(created);
    assert!(!user.uid.is_empty());
    assert_eq!(user.brand, "acme");
    assert_eq!(
        user.identifiers,
        vec![mobile("+4915112345678"), username("ann")],
        "identifiers come back sorted"
    );
    assert_eq!(user.contact.email.as_deref(), Some("ann@example.com"));
    assert_eq!(user.password_hash, new.password_hash);
    assert_eq!(user.locked_until, None);

    let by_mobile = s
        .find_user("ACME", &mobile("+4915112345678"))
        .await
        .unwrap();
    let by_name = s.find_user("acme", &username("ann")).await.unwrap();
    assert_eq!(
        by_mobile.as_ref(),
        Some(&user),
        "brand compares without case"
    );
    assert_eq!(by_name.as_ref(), Some(&user));
    assert_eq!(s.get_user(&user.uid).await.unwrap().as_ref(), Some(&user));
    assert_eq!(s.find_user("other", &username("ann")).await.unwrap(), None);
    assert_eq!(
        s.find_user("acme", &email("ann@example.com"))
            .await
            .unwrap(),
        None,
        "a contact address is not a login identifier"
    );

    let again = new_user("acme", vec![mobile("+4915112345678")]);
    let (same, created) = s.find_or_create_user(again).await.unwrap();
    assert!(!created);
    assert_eq!(same.uid, user.uid);

    let (other_brand, created) = s
        .find_or_create_user(new_user("globex", vec![username("ann")]))
        .await
        .unwrap();
    assert!(
        created,
        "the same identifier in another brand is another user"
    );
    assert_ne!(other_brand.uid, user.uid);
}

async fn identifiers_of_two_users_cannot_be_joined_and_bad_users_are_refused(s: &dyn Store) {
    s.find_or_create_user(new_user("join", vec![mobile("111111")]))
        .await
        .unwrap();
    s.find_or_create_user(new_user("join", vec![email("b@example.com")]))
        .await
        .unwrap();
    let both = new_user("join", vec![mobile("111111"), email("b@example.com")]);
    assert!(matches!(
        s.find_or_create_user(both).await,
        Err(StoreError::Conflict(_))
    ));

    let none = new_user("join", vec![]);
    assert!(matches!(
        s.find_or_create_user(none).await,
        Err(StoreError::Invalid(_))
    ));
    let twice = new_user("join", vec![mobile("222222"), mobile("333333")]);
    assert!(matches!(
        s.find_or_create_user(twice).await,
        Err(StoreError::Invalid(_))
    ));
    let no_brand = new_user("", vec![mobile("444444")]);
    assert!(matches!(
        s.find_or_create_user(no_brand).await,
        Err(StoreError::Invalid(_))
    ));
    let empty_value = new_user("join", vec![mobile("")]);
    assert!(matches!(
        s.find_or_create_user(empty_value).await,
        Err(StoreError::Invalid(_))
    ));
    assert_eq!(
        s.find_user("join", &mobile("222222")).await.unwrap(),
        None,
        "a refused registration leaves nothing behind"
    );
}

async fn passwords_are_set_and_replaced(s: &dyn Store) {
    let (user, _) = s
        .find_or_create_user(new_user("pw", vec![email("p@example.com")]))
        .await
        .unwrap();
    assert_eq!(user.password_hash, None);
    s.set_password(&user.uid, "$argon2id$first").await.unwrap();
    let read = s.get_user(&user.uid).await.unwrap().unwrap();
    assert_eq!(read.password_hash.as_deref(), Some("$argon2id$first"));
    s.set_password(&user.uid, "$argon2id$second").await.unwrap();
    let read = s
        .find_user("pw", &email("p@example.com"))
        .await
        .unwrap()
        .unwrap();
    assert_eq!(read.password_hash.as_deref(), Some("$argon2id$second"));
    assert!(matches!(
        s.set_password("no-such-uid", "$argon2id$x").await,
        Err(StoreError::UnknownUser)
    ));
    assert!(matches!(
        s.set_password(&user.uid, "").await,
        Err(StoreError::Invalid(_))
    ));
}

async fn locks_hold_until_their_time_or_an_unlock(s: &dyn Store, c: &ManualClock) {
    let (user, _) = s
        .find_or_create_user(new_user("lock", vec![mobile("555000")]))
        .await
        .unwrap();
    let until = c.now_ms() + ms(HOUR);
    s.lock_user(&user.uid, until).await.unwrap();
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        Some(until)
    );
    c.advance(HOUR);
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        None,
        "a lock whose time has come reads as no lock"
    );

    s.lock_user(&user.uid, NEVER).await.unwrap();
    c.advance(HOUR * 24 * 365);
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        Some(NEVER)
    );
    s.unlock_user(&user.uid).await.unwrap();
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        None
    );

    assert!(matches!(
        s.lock_user("nobody", NEVER).await,
        Err(StoreError::UnknownUser)
    ));
    assert!(matches!(
        s.unlock_user("nobody").await,
        Err(StoreError::UnknownUser)
    ));
}

async fn deleted_users_are_gone_and_their_identifiers_free(s: &dyn Store) {
    let (user, _) = s
        .find_or_create_user(new_user("del", vec![email("d@example.com")]))
        .await
        .unwrap();
    assert!(s.delete_user(&user.uid).await.unwrap());
    assert_eq!(s.get_user(&user.uid).await.unwrap(), None);
    assert_eq!(
        s.find_user("del", &email("d@example.com")).await.unwrap(),
        None
    );
    assert!(
        !s.delete_user(&user.uid).await.unwrap(),
        "deleting twice reports absence"
    );
    let (again, created) = s
        .find_or_create_user(new_user("del", vec![email("d@example.com")]))
        .await
        .unwrap();
    assert!(created);
    assert_ne!(again.uid, user.uid, "a new registration gets a new uid");
}

async fn users_are_listed_in_pages_and_imported_idempotently(s: &dyn Store) {
    let mut all = Vec::new();
    let mut after: Option<String> = None;
    loop {
        let page = s.list_users(after.as_deref(), 2).await.unwrap();
        assert!(page.len() <= 2);
        if page.is_empty() {
            break;
        }
        after = page.last().map(|u| u.uid.clone());
        all.extend(page);
    }
    let uids: Vec<&str> = all.iter().map(|u| u.uid.as_str()).collect();
    let mut sorted = uids.clone();
    sorted.sort();
    sorted.dedup();
    assert_eq!(uids, sorted, "pages follow uid order without repeats");
    assert!(all.iter().any(|u| u.brand == "acme"));

    let imported = User {
        uid: "imported-0001".into(),
        brand: "Imp".into(),
        identifiers: vec![email("i@example.com"), username("imp")],
        contact: Contact {
            mobile: Some("+100200300".into()),
            email: None,
        },
        password_hash: Some("$argon2id$imported".into()),
        locked_until: None,
        created_at: 1_600_000_000_000,
    };
    s.import_user(imported.clone()).await.unwrap();
    s.import_user(imported.clone()).await.unwrap();
    let read = s.find_user("imp", &username("imp")).await.unwrap().unwrap();
    assert_eq!(
        read,
        User {
            brand: "imp".into(),
            ..imported.clone()
        }
    );

    let mut changed = imported.clone();
    changed.identifiers = vec![username("imp")];
    s.import_user(changed).await.unwrap();
    assert_eq!(
        s.find_user("imp", &email("i@example.com")).await.unwrap(),
        None,
        "an import replaces the identifiers"
    );

    let thief = User {
        uid: "imported-0002".into(),
        ..imported
    };
    assert!(matches!(
        s.import_user(thief).await,
        Err(StoreError::Conflict(_))
    ));
}

async fn sessions_keep_their_binding_until_they_expire(s: &dyn Store, c: &ManualClock) {
    let mut new = new_session("Acme", username("sam"));
    new.family = Family::Web;
    new.device_id = None;
    new.contact.email = Some("sam@example.com".into());
    new.staged_password_hash = Some("$argon2id$staged".into());
    let start = c.now_ms();
    let session = s.create_session(new.clone()).await.unwrap();
    assert!(
        session.id.len() >= 22,
        "a store-made id carries at least 128 bits"
    );
    assert_eq!(session.brand, "Acme");
    assert_eq!(session.family, Family::Web);
    assert_eq!(session.identifier, username("sam"));
    assert_eq!(session.contact.email.as_deref(), Some("sam@example.com"));
    assert_eq!(
        session.staged_password_hash.as_deref(),
        Some("$argon2id$staged")
    );
    assert_eq!(session.expires_at, start + ms(15 * MINUTE));
    assert!(!session.has_code);
    assert_eq!(
        s.get_session(&session.id).await.unwrap(),
        Some(session.clone())
    );

    let other = s.create_session(new.clone()).await.unwrap();
    assert_ne!(other.id, session.id);

    let chosen = NewSession {
        id: Some("caller-chosen-id".into()),
        ..new.clone()
    };
    let mine = s.create_session(chosen.clone()).await.unwrap();
    assert_eq!(mine.id, "caller-chosen-id");
    assert!(matches!(
        s.create_session(chosen.clone()).await,
        Err(StoreError::Conflict(_))
    ));

    assert!(s
        .stage_password(&mine.id, "$argon2id$forgot")
        .await
        .unwrap());
    let read = s.get_session(&mine.id).await.unwrap().unwrap();
    assert_eq!(
        read.staged_password_hash.as_deref(),
        Some("$argon2id$forgot")
    );
    assert!(!s.stage_password("missing", "$argon2id$x").await.unwrap());

    assert!(s.delete_session(&other.id).await.unwrap());
    assert_eq!(s.get_session(&other.id).await.unwrap(), None);
    assert!(!s.delete_session(&other.id).await.unwrap());

    c.advance(15 * MINUTE - Duration::from_millis(1));
    assert!(
        s.get_session(&session.id).await.unwrap().is_some(),
        "alive until its last ms"
    );
    c.advance(Duration::from_millis(1));
    assert_eq!(s.get_session(&session.id).await.unwrap(), None);
    assert!(!s.stage_password(&mine.id, "$argon2id$late").await.unwrap());
    let reused = s.create_session(chosen).await.unwrap();
    assert_eq!(
        reused.id, "caller-chosen-id",
        "an expired id may be opened again"
    );
    assert_eq!(
        reused.staged_password_hash.as_deref(),
        Some("$argon2id$staged")
    );

    let zero = NewSession {
        ttl: Duration::ZERO,
        ..new
    };
    assert!(matches!(
        s.create_session(zero).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_right_code_consumes_code_and_session(s: &dyn Store) {
    let mut new = new_session("acme", mobile("600001"));
    new.staged_password_hash = Some("$argon2id$new-user".into());
    let session = s.create_session(new).await.unwrap();
    assert_eq!(
        s.check_code(&session.id, &[7; 32], 5).await.unwrap(),
        CodeCheck::NoCode
    );
    assert!(matches!(
        s.put_code(&session.id, &[7; 32], 10 * MINUTE)
            .await
            .unwrap(),
        CodeStored::Stored { .. }
    ));
    assert!(s.get_session(&session.id).await.unwrap().unwrap().has_code);

    match s.check_code(&session.id, &[7; 32], 5).await.unwrap() {
        CodeCheck::Accepted(consumed) => {
            assert_eq!(consumed.id, session.id);
            assert_eq!(consumed.identifier, mobile("600001"));
            assert_eq!(
                consumed.staged_password_hash.as_deref(),
                Some("$argon2id$new-user")
            );
        }
        other => panic!("expected Accepted, got {other:?}"),
    }
    assert_eq!(
        s.get_session(&session.id).await.unwrap(),
        None,
        "the session is single use"
    );
    assert_eq!(
        s.check_code(&session.id, &[7; 32], 5).await.unwrap(),
        CodeCheck::NoSession
    );
    assert_eq!(
        s.put_code(&session.id, &[7; 32], MINUTE).await.unwrap(),
        CodeStored::NoSession
    );
    assert_eq!(
        s.put_code("never-opened", &[7; 32], MINUTE).await.unwrap(),
        CodeStored::NoSession
    );
}

async fn a_new_code_replaces_the_old_one(s: &dyn Store) {
    let session = s
        .create_session(new_session("acme", mobile("600002")))
        .await
        .unwrap();
    s.put_code(&session.id, &[1; 32], 10 * MINUTE)
        .await
        .unwrap();
    s.put_code(&session.id, &[2; 32], 10 * MINUTE)
        .await
        .unwrap();
    assert_eq!(
        s.check_code(&session.id, &[1; 32], 5).await.unwrap(),
        CodeCheck::Wrong { attempts_left: 4 },
        "the replaced code no longer matches"
    );
    assert!(matches!(
        s.check_code(&session.id, &[2; 32], 5).await.unwrap(),
        CodeCheck::Accepted(_)
    ));
}

async fn codes_expire_without_counting_and_never_outlive_the_session(
    s: &dyn Store,
    c: &ManualClock,
) {
    let session = s
        .create_session(new_session("acme", mobile("600003")))
        .await
        .unwrap();
    let now = c.now_ms();
    assert_eq!(
        s.put_code(&session.id, &[3; 32], MINUTE).await.unwrap(),
        CodeStored::Stored {
            expires_at: now + ms(MINUTE)
        }
    );
    c.advance(MINUTE);
    assert!(!s.get_session(&session.id).await.unwrap().unwrap().has_code);
    assert_eq!(
        s.check_code(&session.id, &[3; 32], 5).await.unwrap(),
        CodeCheck::Expired
    );
    assert_eq!(
        s.check_code(&session.id, &[3; 32], 5).await.unwrap(),
        CodeCheck::NoCode,
        "an expired code is removed"
    );
    assert_eq!(
        s.get_session(&session.id)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        0
    );

    let longer = s.put_code(&session.id, &[4; 32], HOUR).await.unwrap();
    assert_eq!(
        longer,
        CodeStored::Stored {
            expires_at: session.expires_at
        },
        "a code never outlives its session"
    );
    assert!(matches!(
        s.put_code(&session.id, &[], MINUTE).await,
        Err(StoreError::Invalid(_))
    ));
    assert!(matches!(
        s.put_code(&session.id, &[5; 32], Duration::ZERO).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn a_discarded_code_is_no_longer_valid(s: &dyn Store) {
    let session = s
        .create_session(new_session("acme", mobile("600004")))
        .await
        .unwrap();
    s.put_code(&session.id, &[8; 32], MINUTE).await.unwrap();
    assert!(
        !s.discard_code(&session.id, &[9; 32]).await.unwrap(),
        "only the named code goes"
    );
    assert!(s.discard_code(&session.id, &[8; 32]).await.unwrap());
    assert_eq!(
        s.check_code(&session.id, &[8; 32], 5).await.unwrap(),
        CodeCheck::NoCode
    );
    assert!(
        s.get_session(&session.id).await.unwrap().is_some(),
        "the session stays"
    );
}

async fn wrong_codes_are_counted_per_session_until_it_dies(s: &dyn Store) {
    let session = s
        .create_session(new_session("acme", mobile("600005")))
        .await
        .unwrap();
    s.put_code(&session.id, &[1; 32], MINUTE).await.unwrap();
    assert_eq!(
        s.check_code(&session.id, &[0; 32], 3).await.unwrap(),
        CodeCheck::Wrong { attempts_left: 2 }
    );
    s.put_code(&session.id, &[2; 32], MINUTE).await.unwrap();
    assert_eq!(
        s.get_session(&session.id)
            .await
            .unwrap()
            .unwrap()
            .failed_attempts,
        1,
        "a new code does not forgive wrong tries"
    );
    assert_eq!(
        s.check_code(&session.id, &[0; 32], 3).await.unwrap(),
        CodeCheck::Wrong { attempts_left: 1 }
    );
    assert_eq!(
        s.check_code(&session.id, &[0; 32], 3).await.unwrap(),
        CodeCheck::Exhausted
    );
    assert_eq!(
        s.get_session(&session.id).await.unwrap(),
        None,
        "the session is dead"
    );
    assert_eq!(
        s.check_code(&session.id, &[2; 32], 3).await.unwrap(),
        CodeCheck::NoSession,
        "not even the right code revives it"
    );
    assert!(matches!(
        s.check_code(&session.id, &[2; 32], 0).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn code_sends_are_limited_per_identifier_and_window(s: &dyn Store, c: &ManualClock) {
    let who = mobile("700001");
    let start = c.now_ms();
    assert_eq!(
        s.count_code_send("acme", &who, 3, HOUR).await.unwrap(),
        SendAllowance::Allowed { remaining: 2 }
    );
    c.advance(MINUTE);
    assert_eq!(
        s.count_code_send("ACME", &who, 3, HOUR).await.unwrap(),
        SendAllowance::Allowed { remaining: 1 }
    );
    assert_eq!(
        s.count_code_send("acme", &who, 3, HOUR).await.unwrap(),
        SendAllowance::Allowed { remaining: 0 }
    );
    let refused = SendAllowance::Refused {
        until: start + ms(HOUR),
    };
    assert_eq!(
        s.count_code_send("acme", &who, 3, HOUR).await.unwrap(),
        refused
    );
    assert_eq!(
        s.count_code_send("acme", &who, 3, HOUR).await.unwrap(),
        refused,
        "refusals are not counted"
    );
    assert_eq!(
        s.count_code_send("acme", &mobile("700002"), 3, HOUR)
            .await
            .unwrap(),
        SendAllowance::Allowed { remaining: 2 },
        "another identifier has its own window"
    );
    assert_eq!(
        s.count_code_send("globex", &who, 3, HOUR).await.unwrap(),
        SendAllowance::Allowed { remaining: 2 },
        "another brand has its own window"
    );
    c.advance(HOUR - MINUTE);
    assert_eq!(
        s.count_code_send("acme", &who, 3, HOUR).await.unwrap(),
        SendAllowance::Allowed { remaining: 2 },
        "a new window opens"
    );
    assert!(matches!(
        s.count_code_send("acme", &who, 0, HOUR).await,
        Err(StoreError::Invalid(_))
    ));
}

fn policy() -> LockoutPolicy {
    LockoutPolicy {
        max_failures: 3,
        window: 10 * MINUTE,
        period: 30 * MINUTE,
    }
}

async fn wrong_passwords_lock_the_account_for_the_period(s: &dyn Store, c: &ManualClock) {
    let (user, _) = s
        .find_or_create_user(new_user("lockout", vec![email("l@example.com")]))
        .await
        .unwrap();
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 1,
            remaining: 2
        }
    );
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 2,
            remaining: 1
        }
    );
    let until = c.now_ms() + ms(30 * MINUTE);
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::LockedNow { until }
    );
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::AlreadyLocked { until }
    );
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        Some(until)
    );
    c.advance(30 * MINUTE);
    assert_eq!(
        s.get_user(&user.uid).await.unwrap().unwrap().locked_until,
        None
    );
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 1,
            remaining: 2
        },
        "counting starts afresh after a lock"
    );
    assert!(matches!(
        s.record_password_failure("nobody", policy()).await,
        Err(StoreError::UnknownUser)
    ));
}

async fn password_failures_reset_on_success_window_and_unlock(s: &dyn Store, c: &ManualClock) {
    let (user, _) = s
        .find_or_create_user(new_user("lockout", vec![email("r@example.com")]))
        .await
        .unwrap();
    s.record_password_failure(&user.uid, policy())
        .await
        .unwrap();
    s.record_password_failure(&user.uid, policy())
        .await
        .unwrap();
    s.clear_password_failures(&user.uid).await.unwrap();
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 1,
            remaining: 2
        },
        "a success resets the count"
    );
    s.record_password_failure(&user.uid, policy())
        .await
        .unwrap();
    c.advance(10 * MINUTE);
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 1,
            remaining: 2
        },
        "failures older than the window are forgotten"
    );
    s.record_password_failure(&user.uid, policy())
        .await
        .unwrap();
    s.unlock_user(&user.uid).await.unwrap();
    assert_eq!(
        s.record_password_failure(&user.uid, policy())
            .await
            .unwrap(),
        PasswordFailure::Counted {
            failures: 1,
            remaining: 2
        },
        "an operator's unlock resets the count"
    );
}

async fn rate_buckets_allow_the_burst_then_the_rate(s: &dyn Store, c: &ManualClock) {
    let bucket = RateBucket { rps: 1.0, burst: 3 };
    for _ in 0..3 {
        assert_eq!(
            s.take_rate_token("ip:10.0.0.1", bucket).await.unwrap(),
            RateDecision::Allowed
        );
    }
    assert_eq!(
        s.take_rate_token("ip:10.0.0.1", bucket).await.unwrap(),
        RateDecision::Limited {
            retry_after: Duration::from_secs(1)
        }
    );
    assert_eq!(
        s.take_rate_token("ip:10.0.0.2", bucket).await.unwrap(),
        RateDecision::Allowed
    );
    c.advance(Duration::from_secs(1));
    assert_eq!(
        s.take_rate_token("ip:10.0.0.1", bucket).await.unwrap(),
        RateDecision::Allowed
    );
    assert!(matches!(
        s.take_rate_token("ip:10.0.0.1", bucket).await.unwrap(),
        RateDecision::Limited { .. }
    ));
    let broken = RateBucket { rps: 0.0, burst: 1 };
    assert!(matches!(
        s.take_rate_token("k", broken).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn revocations_cover_token_family_and_older_user_tokens(s: &dyn Store, c: &ManualClock) {
    let now = c.now_ms();
    let q = |jti, family, uid, issued_at| RevocationQuery {
        jti,
        family,
        uid,
        issued_at,
    };
    assert!(!s.is_revoked(q("t1", Some("f1"), "u1", now)).await.unwrap());

    s.revoke_token("t1", now + ms(HOUR)).await.unwrap();
    assert!(s.is_revoked(q("t1", Some("f1"), "u1", now)).await.unwrap());
    assert!(!s.is_revoked(q("t2", Some("f1"), "u1", now)).await.unwrap());

    s.revoke_family("f2", now + ms(2 * HOUR)).await.unwrap();
    assert!(
        s.is_revoked(q("t3", Some("f2"), "u1", now)).await.unwrap(),
        "the key of a revoked family"
    );
    assert!(!s.is_revoked(q("t3", None, "u1", now)).await.unwrap());

    s.revoke_user_before("u9", now).await.unwrap();
    assert!(s.is_revoked(q("t4", None, "u9", now - 1)).await.unwrap());
    assert!(
        !s.is_revoked(q("t4", None, "u9", now)).await.unwrap(),
        "issued at the cut-off is kept"
    );
    s.revoke_user_before("u9", now - ms(HOUR)).await.unwrap();
    assert!(
        s.is_revoked(q("t4", None, "u9", now - 1)).await.unwrap(),
        "the cut-off never moves back"
    );

    c.advance(HOUR);
    assert!(
        !s.is_revoked(q("t1", Some("f1"), "u1", now)).await.unwrap(),
        "remembered until exp only"
    );
    assert!(s.is_revoked(q("t3", Some("f2"), "u1", now)).await.unwrap());
    s.revoke_token("t5", NEVER).await.unwrap();
    c.advance(HOUR * 24 * 365);
    assert!(s.is_revoked(q("t5", None, "u1", now)).await.unwrap());
    assert!(
        s.is_revoked(q("t4", None, "u9", now - 1)).await.unwrap(),
        "user cut-offs never expire"
    );
    assert!(matches!(
        s.revoke_token("", NEVER).await,
        Err(StoreError::Invalid(_))
    ));
}

async fn secrets_are_made_once_and_kept(s: &dyn Store) {
    let first = s.get_or_create_secret("otp_pepper").await.unwrap();
    assert_eq!(first.len(), SECRET_LEN);
    assert_ne!(first, vec![0u8; SECRET_LEN]);
    assert_eq!(s.get_or_create_secret("otp_pepper").await.unwrap(), first);
    assert_ne!(s.get_or_create_secret("other").await.unwrap(), first);
    assert!(matches!(
        s.get_or_create_secret("").await,
        Err(StoreError::Invalid(_))
    ));
}

async fn health_answers_and_sweeping_removes_only_expired_records(s: &dyn Store, c: &ManualClock) {
    s.health().await.unwrap();
    let old = s
        .create_session(new_session("sweep", mobile("800001")))
        .await
        .unwrap();
    s.put_code(&old.id, &[1; 32], MINUTE).await.unwrap();
    s.count_code_send("sweep", &mobile("800001"), 5, MINUTE)
        .await
        .unwrap();
    s.revoke_token("sweep-t", c.now_ms() + ms(MINUTE))
        .await
        .unwrap();
    c.advance(HOUR);
    let young = s
        .create_session(new_session("sweep", mobile("800002")))
        .await
        .unwrap();
    s.put_code(&young.id, &[2; 32], MINUTE).await.unwrap();
    s.revoke_token("sweep-live", c.now_ms() + ms(HOUR))
        .await
        .unwrap();

    let removed = s.sweep_expired().await.unwrap();
    assert!(
        removed >= 3,
        "session, send counter and revocation swept, got {removed}"
    );
    assert_eq!(s.sweep_expired().await.unwrap(), 0, "nothing left to sweep");
    assert!(
        s.get_session(&young.id).await.unwrap().unwrap().has_code,
        "live records stay"
    );
    let q = RevocationQuery {
        jti: "sweep-live",
        family: None,
        uid: "u",
        issued_at: 0,
    };
    assert!(s.is_revoked(q).await.unwrap());
}

async fn fifty_concurrent_right_codes_are_accepted_exactly_once(store: &Arc<dyn Store>) {
    let session = store
        .create_session(new_session("race", mobile("900001")))
        .await
        .unwrap();
    store.put_code(&session.id, &[5; 32], MINUTE).await.unwrap();
    let tries = (0..50).map(|_| {
        let store = Arc::clone(store);
        let id = session.id.clone();
        tokio::spawn(async move { store.check_code(&id, &[5; 32], 5).await })
    });
    let mut accepted = 0;
    for task in tries.collect::<Vec<_>>() {
        match task.await.unwrap().unwrap() {
            CodeCheck::Accepted(_) => accepted += 1,
            CodeCheck::NoSession => {}
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(accepted, 1);
}

async fn twenty_concurrent_wrong_codes_kill_the_session_after_max_attempts(store: &Arc<dyn Store>) {
    let session = store
        .create_session(new_session("race", mobile("900002")))
        .await
        .unwrap();
    store.put_code(&session.id, &[5; 32], MINUTE).await.unwrap();
    let tries: Vec<_> = (0..20)
        .map(|_| {
            let store = Arc::clone(store);
            let id = session.id.clone();
            tokio::spawn(async move { store.check_code(&id, &[6; 32], 5).await })
        })
        .collect();
    let (mut wrong, mut exhausted, mut gone) = (HashSet::new(), 0, 0);
    for task in tries {
        match task.await.unwrap().unwrap() {
            CodeCheck::Wrong { attempts_left } => {
                assert!(wrong.insert(attempts_left), "each count seen once")
            }
            CodeCheck::Exhausted => exhausted += 1,
            CodeCheck::NoSession => gone += 1,
            other => panic!("unexpected {other:?}"),
        }
    }
    assert_eq!(wrong, HashSet::from([4, 3, 2, 1]));
    assert_eq!(exhausted, 1);
    assert_eq!(gone, 15);
}

async fn concurrent_sends_never_exceed_the_limit(store: &Arc<dyn Store>) {
    let tries: Vec<_> = (0..30)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .count_code_send("race", &mobile("900003"), 5, HOUR)
                    .await
            })
        })
        .collect();
    let mut allowed = 0;
    for task in tries {
        if let SendAllowance::Allowed { .. } = task.await.unwrap().unwrap() {
            allowed += 1;
        }
    }
    assert_eq!(allowed, 5);
}

async fn concurrent_registrations_create_one_user(store: &Arc<dyn Store>) {
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move {
                store
                    .find_or_create_user(new_user("race", vec![email("same@example.com")]))
                    .await
            })
        })
        .collect();
    let (mut uids, mut created) = (HashSet::new(), 0);
    for task in tries {
        let (user, was_created) = task.await.unwrap().unwrap();
        uids.insert(user.uid);
        created += usize::from(was_created);
    }
    assert_eq!(created, 1);
    assert_eq!(uids.len(), 1);
}

async fn concurrent_password_failures_lock_exactly_once(store: &Arc<dyn Store>) {
    let (user, _) = store
        .find_or_create_user(new_user("race", vec![username("victim")]))
        .await
        .unwrap();
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(store);
            let uid = user.uid.clone();
            tokio::spawn(async move { store.record_password_failure(&uid, policy()).await })
        })
        .collect();
    let (mut counted, mut locked, mut already) = (0, 0, 0);
    for task in tries {
        match task.await.unwrap().unwrap() {
            PasswordFailure::Counted { .. } => counted += 1,
            PasswordFailure::LockedNow { .. } => locked += 1,
            PasswordFailure::AlreadyLocked { .. } => already += 1,
        }
    }
    assert_eq!((counted, locked, already), (2, 1, 7));
}

async fn concurrent_secret_creation_agrees(store: &Arc<dyn Store>) {
    let tries: Vec<_> = (0..10)
        .map(|_| {
            let store = Arc::clone(store);
            tokio::spawn(async move { store.get_or_create_secret("race-pepper").await })
        })
        .collect();
    let mut seen = HashSet::new();
    for task in tries {
        seen.insert(task.await.unwrap().unwrap());
    }
    assert_eq!(seen.len(), 1);
}
