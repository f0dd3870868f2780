//! Storage of FileDB accounts behind role traits: users, token families, API keys. Only storage: the
//! policy (validation, password hashing, token generation, equal work for unknown emails) is
//! `users::UserStore`, written once over any backend. Tokens and keys arrive here already hashed.

use crate::error::Result;
use crate::users::{ApiKeyInfo, User};

/// User rows. Emails are unique and compare ASCII case-insensitively.
pub trait UserRecords: Send + Sync {
    /// Insert; false (and nothing stored) when the email is taken.
    fn insert_user(&self, user: &User, password_hash: &str, now: i64) -> Result<bool>;
    fn user(&self, id: &str) -> Result<Option<User>>;
    /// The user with this email, and their password hash.
    fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>>;
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenKind {
    Access,
    Refresh,
}

impl TokenKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TokenKind::Access => "access",
            TokenKind::Refresh => "refresh",
        }
    }
}

/// An access and a refresh token (hashes) to store together, and when they end.
#[derive(Clone, Debug)]
pub struct NewTokens {
    pub access_hash: String,
    pub access_expires: i64,
    pub refresh_hash: String,
    pub refresh_expires: i64,
}

/// What presenting a refresh token did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Rotation {
    /// Unknown, expired, or not a refresh token.
    Invalid,
    /// Used before: a copy exists, so its whole family was revoked.
    Reused { user_id: String },
    /// Marked used; the family now holds the new pair.
    Rotated(User),
}

/// Token families (one per sign-in). A token or pair for a user that does not exist is an error.
pub trait TokenRecords: Send + Sync {
    /// Drop expired tokens, then store `tokens` as the start of `family`.
    fn insert_family(&self, user_id: &str, family: &str, tokens: &NewTokens, now: i64) -> Result<()>;
    /// The user of an unexpired token of this kind.
    fn user_by_token(&self, hash: &str, kind: TokenKind, now: i64) -> Result<Option<User>>;
    /// One transaction: an unused refresh token is marked used, its family keeps only the newest
    /// access token and the 8 newest used refresh tokens, and gains `next`; a used one revokes the family.
    fn rotate_refresh(&self, refresh_hash: &str, next: &NewTokens, now: i64) -> Result<Rotation>;
    /// Delete the token's whole family (and the token itself).
    fn revoke_family(&self, hash: &str) -> Result<()>;
    /// Delete expired tokens; returns how many.
    fn prune_tokens(&self, now: i64) -> Result<usize>;
}

/// API keys: created, revoked (kept, listed as revoked), never reused.
pub trait ApiKeyRecords: Send + Sync {
    /// A key for a user that does not exist is an error.
    fn insert_api_key(&self, id: &str, hash: &str, user_id: &str, name: &str, now: i64) -> Result<()>;
    /// The user of an unrevoked key.
    fn user_by_api_key(&self, hash: &str) -> Result<Option<User>>;
    /// Revoke the user's key; false when it is not theirs or already revoked.
    fn revoke_api_key(&self, user_id: &str, id: &str, now: i64) -> Result<bool>;
    /// The name of the user's unrevoked key `id`.
    fn live_api_key_name(&self, user_id: &str, id: &str) -> Result<Option<String>>;
    /// The user's keys, revoked ones too, oldest first.
    fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>>;
}

/// Every account role: what `UserStore` runs on (`SqliteAccounts`, `MemoryAccounts`).
pub trait AccountRecords: UserRecords + TokenRecords + ApiKeyRecords + Send + Sync {}

impl<T: UserRecords + TokenRecords + ApiKeyRecords + Send + Sync> AccountRecords for T {}
