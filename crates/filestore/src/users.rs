//! FileDB users: Argon2id password hashes, opaque access tokens (24 h) and refresh tokens (7 days), API
//! keys. Only SHA-256 hashes of tokens and keys are stored, so a copied database grants nothing.
//! `UserStore` is the policy, once; the rows are behind the `accounts` role traits (SQLite or memory).

use crate::accounts::{AccountRecords, NewTokens, Rotation, TokenKind};
use crate::accounts_memory::MemoryAccounts;
use crate::accounts_sqlite::SqliteAccounts;
use crate::error::{FileStoreError, Result};
use crate::passwords;
use crate::{DAY_MS, hex, now_ms};
use sha2::Digest;
use std::path::Path;

/// The user id the server's own token acts as.
pub const ADMIN_ID: &str = "admin";
pub const ACCESS_TTL_MS: i64 = DAY_MS;
pub const REFRESH_TTL_MS: i64 = 7 * DAY_MS;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct User {
    pub id: String,
    pub email: String,
    pub role: String,
}

#[derive(Clone, Debug)]
pub struct ApiKeyInfo {
    pub id: String,
    pub name: String,
    pub created_at: i64,
    pub revoked: bool,
}

fn token_hash(t: &str) -> String {
    hex(&sha2::Sha256::digest(t.as_bytes()))
}

/// 32 random bytes as URL-safe characters only (`[A-Za-z0-9_-]`, as FileDB clients require).
fn random_token(prefix: &str) -> String {
    format!("{prefix}{}", quire_stdx::random::hex(32))
}

/// A hash of a random password with the default parameters, verified against for unknown emails.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| passwords::hash(&random_token("")).unwrap_or_default())
}

/// A new access and refresh token: the tokens to hand out and their hashes to store.
fn new_pair() -> (String, String, NewTokens) {
    let access = random_token("qa_");
    let refresh = random_token("qr_");
    let now = now_ms();
    let stored = NewTokens {
        access_hash: token_hash(&access),
        access_expires: now + ACCESS_TTL_MS,
        refresh_hash: token_hash(&refresh),
        refresh_expires: now + REFRESH_TTL_MS,
    };
    (access, refresh, stored)
}

pub fn valid_email(email: &str) -> bool {
    let e = email.trim();
    e.len() <= 254 && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

/// FileDB accounts: the rules (valid emails, password length, Argon2id, token rotation and reuse
/// detection, keys shown once) over any `AccountRecords` backend.
pub struct UserStore {
    records: Box<dyn AccountRecords>,
}

impl UserStore {
    /// Opens its own connection to the file store's database (already migrated by `FileStore::open`).
    pub fn open(db: &Path) -> Result<Self> {
        Ok(Self::with_records(Box::new(SqliteAccounts::open(db)?)))
    }

    /// Accounts kept in memory only (tests).
    pub fn in_memory() -> Self {
        Self::with_records(Box::new(MemoryAccounts::new()))
    }

    pub fn with_records(records: Box<dyn AccountRecords>) -> Self {
        UserStore { records }
    }

    pub fn register(&self, email: &str, password: &str, role: &str) -> Result<User> {
        if !valid_email(email) {
            return Err(FileStoreError::Invalid("A valid email is required".into()));
        }
        if password.len() < 8 {
            return Err(FileStoreError::Invalid("Password must be at least 8 characters".into()));
        }
        if role != "user" && role != "admin" {
            return Err(FileStoreError::Invalid("Role must be user or admin".into()));
        }
        let hash = passwords::hash(password)?;
        let user = User {
            id: format!("user_{}", &random_token("")[..24]),
            email: email.to_string(),
            role: role.into(),
        };
        if !self.records.insert_user(&user, &hash, now_ms())? {
            return Err(FileStoreError::Conflict("A user with this email already exists".into()));
        }
        Ok(user)
    }

    pub fn user(&self, id: &str) -> Result<Option<User>> {
        self.records.user(id)
    }

    /// Wrong password, unknown user and malformed email all fail the same way.
    pub fn login(&self, email: &str, password: &str) -> Result<User> {
        let denied = || FileStoreError::Unauthorized("Invalid credentials".into());
        match self.records.user_by_email(email)? {
            Some((u, hash)) if passwords::verify(password, &hash) => Ok(u),
            Some(_) => Err(denied()),
            None => {
                // The same work as a real check (one verification against a hash made once), so
                // timing does not reveal which emails exist.
                let _ = passwords::verify(password, unknown_user_hash());
                Err(denied())
            }
        }
    }

    /// A new access token and refresh token for the user: a new family.
    pub fn issue(&self, user: &User) -> Result<(String, String)> {
        let (access, refresh, stored) = new_pair();
        self.records.insert_family(&user.id, &random_token(""), &stored, now_ms())?;
        Ok((access, refresh))
    }

    pub fn by_access_token(&self, token: &str) -> Result<Option<User>> {
        self.records.user_by_token(&token_hash(token), TokenKind::Access, now_ms())
    }

    /// Rotate: a valid, unused refresh token gives a new access token and a new refresh token (the
    /// access token it replaces lives on for requests in flight; older ones end). A used one presented again means a copy exists
    /// somewhere: the whole family is revoked and the caller must sign in again.
    pub fn refresh(&self, refresh: &str) -> Result<(User, String, String)> {
        let denied = |m: &str| FileStoreError::Unauthorized(m.into());
        let (access, next_refresh, stored) = new_pair();
        match self.records.rotate_refresh(&token_hash(refresh), &stored, now_ms())? {
            Rotation::Invalid => Err(denied("Invalid refresh token")),
            Rotation::Reused { user_id } => {
                tracing::warn!(user = %user_id, "a used refresh token was presented again; its sessions are revoked");
                Err(denied("This refresh token was already used; sign in again"))
            }
            Rotation::Rotated(user) => Ok((user, access, next_refresh)),
        }
    }

    /// Logout: the token's whole family (its refresh token too) ends.
    pub fn revoke_token(&self, token: &str) -> Result<()> {
        self.records.revoke_family(&token_hash(token))
    }

    /// Expired tokens leave the table (the sweeper calls this).
    pub fn prune_expired(&self) -> Result<usize> {
        self.records.prune_tokens(now_ms())
    }

    pub fn by_api_key(&self, key: &str) -> Result<Option<User>> {
        self.records.user_by_api_key(&token_hash(key))
    }

    /// `(key id, key)`; the key itself is shown once and only its hash is kept.
    pub fn create_api_key(&self, user_id: &str, name: &str) -> Result<(String, String)> {
        let id = crate::random_id();
        let key = random_token("qk_");
        self.records.insert_api_key(&id, &token_hash(&key), user_id, name, now_ms())?;
        Ok((id, key))
    }

    pub fn revoke_api_key(&self, user_id: &str, id: &str) -> Result<bool> {
        self.records.revoke_api_key(user_id, id, now_ms())
    }

    /// Revoke a key and issue a replacement with the same name.
    pub fn rotate_api_key(&self, user_id: &str, id: &str) -> Result<(String, String)> {
        let name = self.records.live_api_key_name(user_id, id)?.ok_or(FileStoreError::NotFound)?;
        self.revoke_api_key(user_id, id)?;
        self.create_api_key(user_id, &name)
    }

    pub fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>> {
        self.records.api_keys(user_id)
    }
}
