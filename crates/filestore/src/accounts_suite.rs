//! Accounts on both backends: the `UserStore` story (register, sign in, rotate, revoke, keys) and
//! the `AccountRecords` contracts it relies on (expiry, pruning, bounded reuse memory, unknown users).

use crate::FileStoreError;
use crate::accounts::*;
use crate::accounts_memory::MemoryAccounts;
use crate::accounts_sqlite::SqliteAccounts;
use crate::tests::{Backend, for_each_backend};
use crate::users::*;

for_each_backend!(
    register_login_tokens_and_keys,
    only_the_last_eight_used_refresh_tokens_are_remembered,
    tokens_and_keys_need_a_user,
    api_keys_list_oldest_first_and_revoke_once,
    expired_tokens_serve_nothing_and_are_pruned,
    emails_are_unique_ignoring_ascii_case,
);

impl Backend {
    fn records(self) -> (tempfile::TempDir, Box<dyn AccountRecords>) {
        let dir = tempfile::tempdir().unwrap();
        let r: Box<dyn AccountRecords> = match self {
            Backend::Sqlite => Box::new(SqliteAccounts::open(&dir.path().join("f.db")).unwrap()),
            Backend::Memory => Box::new(MemoryAccounts::new()),
        };
        (dir, r)
    }

    fn users(self) -> (tempfile::TempDir, UserStore) {
        let (dir, r) = self.records();
        (dir, UserStore::with_records(r))
    }
}

fn user(id: &str, email: &str) -> User {
    User { id: id.into(), email: email.into(), role: "user".into() }
}

fn pair(n: u32, expires: i64) -> NewTokens {
    NewTokens {
        access_hash: format!("a{n}"),
        access_expires: expires,
        refresh_hash: format!("r{n}"),
        refresh_expires: expires,
    }
}

fn register_login_tokens_and_keys(b: Backend) {
    let (_d, s) = b.users();
    let u = s.register("a@b.c", "password1", "user").unwrap();
    assert!(matches!(s.register("a@b.c", "password1", "user"), Err(FileStoreError::Conflict(_))));
    assert!(matches!(s.register("nope", "password1", "user"), Err(FileStoreError::Invalid(_))));
    assert_eq!(s.login("a@b.c", "password1").unwrap(), u);
    assert_eq!(s.login("A@B.c", "password1").unwrap(), u, "emails compare case-insensitively");
    assert!(matches!(s.register("A@b.C", "password1", "user"), Err(FileStoreError::Conflict(_))));
    assert!(s.login("a@b.c", "password2").is_err());
    assert!(s.login("x@b.c", "password1").is_err());
    let (access, refresh) = s.issue(&u).unwrap();
    assert_eq!(s.by_access_token(&access).unwrap(), Some(u.clone()));
    assert_eq!(s.by_access_token(&refresh).unwrap(), None, "a refresh token is not an access token");
    let (_, a2, r2) = s.refresh(&refresh).unwrap();
    assert!(s.by_access_token(&a2).unwrap().is_some());
    assert_ne!(r2, refresh, "refresh tokens rotate");
    let (_, a3, r3) = s.refresh(&r2).unwrap();
    assert!(s.by_access_token(&a2).unwrap().is_some(), "the replaced access token serves requests in flight");
    assert!(s.by_access_token(&access).unwrap().is_none(), "older ones end");
    // The old refresh token again: a copy exists, so the family is revoked.
    assert!(s.refresh(&refresh).is_err());
    assert!(s.by_access_token(&a3).unwrap().is_none());
    assert!(s.refresh(&r3).is_err());
    // Logout ends the family, refresh token included.
    let (a4, r4) = s.issue(&u).unwrap();
    s.revoke_token(&a4).unwrap();
    assert!(s.by_access_token(&a4).unwrap().is_none());
    assert!(s.refresh(&r4).is_err());
    let (id, key) = s.create_api_key(&u.id, "ci").unwrap();
    assert!(key.chars().all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-'));
    assert_eq!(s.by_api_key(&key).unwrap(), Some(u.clone()));
    let (_, key2) = s.rotate_api_key(&u.id, &id).unwrap();
    assert!(s.by_api_key(&key).unwrap().is_none());
    assert!(s.by_api_key(&key2).unwrap().is_some());
}

fn only_the_last_eight_used_refresh_tokens_are_remembered(b: Backend) {
    let (_d, s) = b.users();
    let u = s.register("a@b.c", "password1", "user").unwrap();
    let (_, first) = s.issue(&u).unwrap();
    let mut used = vec![first];
    for _ in 0..9 {
        let (_, _, next) = s.refresh(used.last().unwrap()).unwrap();
        used.push(next);
    }
    let current = used.pop().unwrap();
    // The oldest used token was forgotten: presented again it is merely invalid, and the family lives.
    let err = s.refresh(&used[0]).unwrap_err();
    assert!(matches!(err, FileStoreError::Unauthorized(ref m) if m == "Invalid refresh token"), "{err}");
    let (_, access, current) = s.refresh(&current).unwrap();
    // A recent one is recognised as reuse: the family ends.
    let err = s.refresh(&used[5]).unwrap_err();
    assert!(matches!(err, FileStoreError::Unauthorized(ref m) if m.contains("already used")), "{err}");
    assert!(s.by_access_token(&access).unwrap().is_none());
    assert!(s.refresh(&current).is_err());
}

fn tokens_and_keys_need_a_user(b: Backend) {
    let (_d, r) = b.records();
    let ghost = user("ghost", "g@h.i");
    assert!(matches!(
        r.insert_family(&ghost.id, "f", &pair(1, i64::MAX), 0),
        Err(FileStoreError::Database(_))
    ));
    assert!(matches!(r.insert_api_key("k", "h", &ghost.id, "ci", 0), Err(FileStoreError::Database(_))));
    assert_eq!(r.user_by_token("a1", TokenKind::Access, 0).unwrap(), None);
    assert!(r.api_keys(&ghost.id).unwrap().is_empty());
}

fn api_keys_list_oldest_first_and_revoke_once(b: Backend) {
    let (_d, r) = b.records();
    assert!(r.insert_user(&user("u", "u@x.y"), "hash", 0).unwrap());
    assert!(r.insert_user(&user("v", "v@x.y"), "hash", 0).unwrap());
    r.insert_api_key("k2", "h2", "u", "later", 20).unwrap();
    r.insert_api_key("k1", "h1", "u", "first", 10).unwrap();
    r.insert_api_key("k3", "h3", "u", "same ms", 20).unwrap();
    r.insert_api_key("kv", "hv", "v", "theirs", 5).unwrap();
    let ids: Vec<String> = r.api_keys("u").unwrap().into_iter().map(|k| k.id).collect();
    assert_eq!(ids, ["k1", "k2", "k3"], "by creation, then as made");
    assert!(!r.revoke_api_key("u", "kv", 30).unwrap(), "not theirs");
    assert!(r.revoke_api_key("u", "k2", 30).unwrap());
    assert!(!r.revoke_api_key("u", "k2", 31).unwrap(), "already revoked");
    assert_eq!(r.user_by_api_key("h2").unwrap(), None);
    assert_eq!(r.user_by_api_key("h1").unwrap().map(|u| u.id), Some("u".into()));
    assert_eq!(r.live_api_key_name("u", "k2").unwrap(), None);
    assert_eq!(r.live_api_key_name("u", "k3").unwrap().as_deref(), Some("same ms"));
    let listed = r.api_keys("u").unwrap();
    assert_eq!(
        listed.iter().map(|k| k.revoked).collect::<Vec<_>>(),
        [false, true, false],
        "revoked keys stay listed"
    );
    assert_eq!((listed[0].name.as_str(), listed[0].created_at), ("first", 10));
    let (_d, s) = b.users();
    let u = s.register("a@b.c", "password1", "user").unwrap();
    let (id, _) = s.create_api_key(&u.id, "ci").unwrap();
    s.revoke_api_key(&u.id, &id).unwrap();
    assert!(
        matches!(s.rotate_api_key(&u.id, &id), Err(FileStoreError::NotFound)),
        "a revoked key does not rotate"
    );
}

fn expired_tokens_serve_nothing_and_are_pruned(b: Backend) {
    let (_d, r) = b.records();
    assert!(r.insert_user(&user("u", "u@x.y"), "hash", 0).unwrap());
    r.insert_family("u", "f1", &pair(1, 100), 0).unwrap();
    r.insert_family("u", "f2", &pair(2, 200), 0).unwrap();
    assert!(r.user_by_token("a1", TokenKind::Access, 99).unwrap().is_some());
    assert!(r.user_by_token("a1", TokenKind::Access, 100).unwrap().is_none(), "expired at its time");
    assert!(
        r.user_by_token("r1", TokenKind::Access, 0).unwrap().is_none(),
        "a refresh token is not an access token"
    );
    assert_eq!(r.rotate_refresh("r1", &pair(3, 300), 100).unwrap(), Rotation::Invalid);
    assert_eq!(
        r.rotate_refresh("a2", &pair(3, 300), 0).unwrap(),
        Rotation::Invalid,
        "an access token does not rotate"
    );
    assert_eq!(r.prune_tokens(100).unwrap(), 2);
    assert_eq!(r.prune_tokens(100).unwrap(), 0);
    // A new family prunes what has expired by then.
    r.insert_family("u", "f3", &pair(3, 1000), 200).unwrap();
    assert_eq!(r.prune_tokens(999).unwrap(), 0, "f2 went when f3 was made");
    r.revoke_family("unknown").unwrap();
    r.revoke_family("r3").unwrap();
    assert!(
        r.user_by_token("a3", TokenKind::Access, 0).unwrap().is_none(),
        "revoking by the refresh token ends the access token"
    );
}

fn emails_are_unique_ignoring_ascii_case(b: Backend) {
    let (_d, r) = b.records();
    assert!(r.insert_user(&user("u1", "Ann@Example.org"), "h1", 0).unwrap());
    assert!(!r.insert_user(&user("u2", "ann@EXAMPLE.org"), "h2", 0).unwrap());
    assert_eq!(r.user("u2").unwrap(), None, "nothing stored");
    let (found, hash) = r.user_by_email("ANN@example.ORG").unwrap().unwrap();
    assert_eq!((found.email.as_str(), hash.as_str()), ("Ann@Example.org", "h1"), "kept as written");
    assert_eq!(r.user_by_email("bob@example.org").unwrap(), None);
}
