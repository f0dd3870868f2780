//! The account roles in memory, one mutex over all of it (each call is all-or-nothing). Rows keep an
//! insertion number where SQLite's order is its rowid.

use crate::accounts::*;
use crate::error::{FileStoreError, Result};
use crate::users::{ApiKeyInfo, User};
use std::collections::BTreeMap;
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryAccounts {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    /// By id, with the password hash.
    users: BTreeMap<String, (User, String)>,
    /// By token hash.
    tokens: BTreeMap<String, Token>,
    /// In insertion order.
    api_keys: Vec<ApiKey>,
    seq: u64,
}

struct Token {
    user_id: String,
    kind: TokenKind,
    expires_at: i64,
    family: String,
    used: bool,
    seq: u64,
}

struct ApiKey {
    id: String,
    hash: String,
    user_id: String,
    name: String,
    created_at: i64,
    revoked_at: Option<i64>,
}

fn no_such_user() -> FileStoreError {
    // What SQLite's foreign key says, so both backends fail alike.
    FileStoreError::Database("FOREIGN KEY constraint failed".into())
}

impl MemoryAccounts {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No method panics halfway through a change, so a poisoned lock still guards a consistent state.
        quire_stdx::lock(&self.state)
    }
}

impl State {
    fn user(&self, id: &str) -> Option<User> {
        self.users.get(id).map(|(u, _)| u.clone())
    }

    fn insert_pair(&mut self, user_id: &str, family: &str, t: &NewTokens) -> Result<()> {
        if !self.users.contains_key(user_id) {
            return Err(no_such_user());
        }
        if self.tokens.contains_key(&t.access_hash) || self.tokens.contains_key(&t.refresh_hash) {
            return Err(FileStoreError::Database("UNIQUE constraint failed: tokens.hash".into()));
        }
        for (hash, kind, expires_at) in [
            (&t.access_hash, TokenKind::Access, t.access_expires),
            (&t.refresh_hash, TokenKind::Refresh, t.refresh_expires),
        ] {
            self.seq += 1;
            let token = Token {
                user_id: user_id.into(),
                kind,
                expires_at,
                family: family.into(),
                used: false,
                seq: self.seq,
            };
            self.tokens.insert(hash.clone(), token);
        }
        Ok(())
    }

    /// Keep only the newest `keep` tokens of `family` that `select` picks.
    fn keep_newest(&mut self, family: &str, keep: usize, select: impl Fn(&Token) -> bool) {
        let mut picked: Vec<(u64, String)> = self
            .tokens
            .iter()
            .filter(|(_, t)| t.family == family && select(t))
            .map(|(h, t)| (t.seq, h.clone()))
            .collect();
        picked.sort_unstable_by(|a, b| b.cmp(a));
        for (_, h) in picked.into_iter().skip(keep) {
            self.tokens.remove(&h);
        }
    }
}

impl UserRecords for MemoryAccounts {
    fn insert_user(&self, user: &User, password_hash: &str, _now: i64) -> Result<bool> {
        let mut st = self.state();
        if st.users.values().any(|(u, _)| u.email.eq_ignore_ascii_case(&user.email)) {
            return Ok(false);
        }
        if st.users.contains_key(&user.id) {
            return Err(FileStoreError::Database("UNIQUE constraint failed: users.id".into()));
        }
        st.users.insert(user.id.clone(), (user.clone(), password_hash.to_string()));
        Ok(true)
    }

    fn user(&self, id: &str) -> Result<Option<User>> {
        Ok(self.state().user(id))
    }

    fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        Ok(self.state().users.values().find(|(u, _)| u.email.eq_ignore_ascii_case(email)).cloned())
    }
}

impl TokenRecords for MemoryAccounts {
    fn insert_family(&self, user_id: &str, family: &str, tokens: &NewTokens, now: i64) -> Result<()> {
        let mut st = self.state();
        st.tokens.retain(|_, t| t.expires_at > now);
        st.insert_pair(user_id, family, tokens)
    }

    fn user_by_token(&self, hash: &str, kind: TokenKind, now: i64) -> Result<Option<User>> {
        let st = self.state();
        Ok(st
            .tokens
            .get(hash)
            .filter(|t| t.kind == kind && t.expires_at > now)
            .and_then(|t| st.user(&t.user_id)))
    }

    fn rotate_refresh(&self, refresh_hash: &str, next: &NewTokens, now: i64) -> Result<Rotation> {
        let mut st = self.state();
        let Some(t) =
            st.tokens.get(refresh_hash).filter(|t| t.kind == TokenKind::Refresh && t.expires_at > now)
        else {
            return Ok(Rotation::Invalid);
        };
        let (user_id, family, used) = (t.user_id.clone(), t.family.clone(), t.used);
        if used {
            st.tokens.retain(|_, t| t.family != family);
            return Ok(Rotation::Reused { user_id });
        }
        let user = st.user(&user_id).ok_or_else(no_such_user)?;
        st.insert_pair(&user_id, &family, next)?;
        // Everything that can fail is behind us: now the changes.
        if let Some(t) = st.tokens.get_mut(refresh_hash) {
            t.used = true;
        }
        // The new pair is the newest: keep it and the access token it replaces.
        st.keep_newest(&family, 2, |t| t.kind == TokenKind::Access);
        st.keep_newest(&family, 8, |t| t.kind == TokenKind::Refresh && t.used);
        Ok(Rotation::Rotated(user))
    }

    fn revoke_family(&self, hash: &str) -> Result<()> {
        let mut st = self.state();
        if let Some(family) = st.tokens.get(hash).map(|t| t.family.clone()) {
            st.tokens.retain(|_, t| t.family != family);
        }
        Ok(())
    }

    fn prune_tokens(&self, now: i64) -> Result<usize> {
        let mut st = self.state();
        let before = st.tokens.len();
        st.tokens.retain(|_, t| t.expires_at > now);
        Ok(before - st.tokens.len())
    }
}

impl ApiKeyRecords for MemoryAccounts {
    fn insert_api_key(&self, id: &str, hash: &str, user_id: &str, name: &str, now: i64) -> Result<()> {
        let mut st = self.state();
        if !st.users.contains_key(user_id) {
            return Err(no_such_user());
        }
        if st.api_keys.iter().any(|k| k.id == id || k.hash == hash) {
            return Err(FileStoreError::Database("UNIQUE constraint failed: api_keys".into()));
        }
        st.api_keys.push(ApiKey {
            id: id.into(),
            hash: hash.into(),
            user_id: user_id.into(),
            name: name.into(),
            created_at: now,
            revoked_at: None,
        });
        Ok(())
    }

    fn user_by_api_key(&self, hash: &str) -> Result<Option<User>> {
        let st = self.state();
        Ok(st
            .api_keys
            .iter()
            .find(|k| k.hash == hash && k.revoked_at.is_none())
            .and_then(|k| st.user(&k.user_id)))
    }

    fn revoke_api_key(&self, user_id: &str, id: &str, now: i64) -> Result<bool> {
        let mut st = self.state();
        let key =
            st.api_keys.iter_mut().find(|k| k.id == id && k.user_id == user_id && k.revoked_at.is_none());
        Ok(key.map(|k| k.revoked_at = Some(now)).is_some())
    }

    fn live_api_key_name(&self, user_id: &str, id: &str) -> Result<Option<String>> {
        let st = self.state();
        Ok(st
            .api_keys
            .iter()
            .find(|k| k.id == id && k.user_id == user_id && k.revoked_at.is_none())
            .map(|k| k.name.clone()))
    }

    fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>> {
        let st = self.state();
        let mut keys: Vec<ApiKeyInfo> = st
            .api_keys
            .iter()
            .filter(|k| k.user_id == user_id)
            .map(|k| ApiKeyInfo {
                id: k.id.clone(),
                name: k.name.clone(),
                created_at: k.created_at,
                revoked: k.revoked_at.is_some(),
            })
            .collect();
        keys.sort_by_key(|k| k.created_at); // stable: insertion order within a millisecond
        Ok(keys)
    }
}
