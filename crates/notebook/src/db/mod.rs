//! Everything that is not a notebook file (settings, secrets and their links, stamps, browser
//! sessions, the audit log), behind narrow role traits composed into `Database`.
//!
//! Each role is one table's worth of behaviour, so a caller (or a test double) can depend on just the
//! role it uses; `Database` is what the server holds. Two backends implement every role:
//! `SqliteDatabase` (`quire.db`, sealed at rest) and `MemoryDatabase` (tests, and the reference a
//! Postgres backend is checked against); the suite in `suite.rs` holds both to the same behaviour.

mod memory;
mod sqlite;
#[cfg(test)]
mod suite;

pub use memory::MemoryDatabase;
pub use sqlite::SqliteDatabase;

use crate::audit::AuditEntry;
use crate::error::Result;
use std::collections::BTreeMap;

/// The role traits, for callers that use a concrete backend (`SqliteDatabase::open(..)?.secrets()`);
/// `dyn Database` needs no import.
pub mod prelude {
    pub use super::{
        AuditStore, Database, SecretLinkStore, SecretStore, SessionStore, SettingsStore, StampStore,
    };
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub id: i64,
    pub name: String,
    pub value: String,
    pub notebook_ids: Vec<String>,
}

/// Settings that hold credentials: sealed at rest like secret values.
pub const SENSITIVE_SETTINGS: &[&str] =
    &["openaiKey", "anthropicKey", "xaiKey", "geminiKey", "openrouterKey", "customApiKey"];

/// The settings document (AI keys, model choices).
pub trait SettingsStore: Send + Sync {
    fn settings(&self) -> Result<BTreeMap<String, serde_json::Value>>;
    /// Merge `patch` into the stored settings (a `null` value clears a key), all or nothing.
    fn update_settings(&self, patch: &BTreeMap<String, serde_json::Value>) -> Result<()>;
}

/// Named secret values. Listings are sorted by name (byte order); ids are never reused.
pub trait SecretStore: Send + Sync {
    fn secrets(&self) -> Result<Vec<Secret>>;
    /// Insert or replace the value of `name` (a replaced secret keeps its id and links).
    fn upsert_secret(&self, name: &str, value: &str) -> Result<Secret>;
    /// Rename (keeping id and notebook links) and set the value. `SecretNotFound` when `old` is
    /// missing, `FilenameTaken` when another secret is called `new`.
    fn rename_secret(&self, old: &str, new: &str, value: &str) -> Result<Secret>;
    /// Delete the secret and its links; false when there was none.
    fn delete_secret(&self, name: &str) -> Result<bool>;
}

/// Which secrets a notebook may use.
pub trait SecretLinkStore: Send + Sync {
    /// Link (idempotent); `SecretNotFound` when there is no such secret.
    fn link_secret(&self, name: &str, notebook_id: &str) -> Result<()>;
    /// Unlink (a missing link is fine); `SecretNotFound` when there is no such secret.
    fn unlink_secret(&self, name: &str, notebook_id: &str) -> Result<()>;
    /// `(name, value)` of every secret linked to the notebook, sorted by name.
    fn notebook_secrets(&self, notebook_id: &str) -> Result<Vec<(String, String)>>;
    /// Drop every link of the notebook (it was deleted).
    fn unlink_notebook(&self, notebook_id: &str) -> Result<()>;
}

/// Notebook stamps: approval of a notebook's content (see `stamp.rs`).
pub trait StampStore: Send + Sync {
    /// Approve the notebook's current content (`digest`, see `OpenNotebook::content_digest`): its secret
    /// links are honoured while the content stays as approved or is changed through Quire.
    fn stamp(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<()>;
    /// Whether `digest` is the content last stamped for the notebook, under this instance's key.
    fn stamp_matches(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<bool>;
    /// Forget the notebook's stamp (it was deleted).
    fn unstamp(&self, notebook_id: &str) -> Result<()>;
}

/// Browser sessions (cookie logins), tied to the access token they were made with.
pub trait SessionStore: Send + Sync {
    /// Remember a browser session made with `token`; beyond `keep`, the least recently seen are
    /// signed out (on a tie the older session goes, never the one just made).
    fn session_create(&self, session: &str, token: &str, now_ms: u64, keep: usize) -> Result<()>;
    /// Whether `session` is signed in with `token` and was seen within `idle_ms`; refreshes its
    /// last-seen time (at most once a minute) and forgets it once expired or made with another token.
    fn session_check(&self, session: &str, token: &str, now_ms: u64, idle_ms: u64) -> Result<bool>;
    /// Sign every browser out; returns how many sessions there were.
    fn sessions_clear(&self) -> Result<usize>;
}

/// The append-only audit log: rows never change except their count, and leave oldest first.
pub trait AuditStore: Send + Sync {
    /// Append one audit entry (a count of 0 is stored as 1); returns its id, increasing.
    fn audit(&self, entry: &AuditEntry) -> Result<i64>;
    /// Count `more` further occurrences of an entry (repeated failures are one row per IP and minute);
    /// an unknown id is ignored.
    fn audit_add_count(&self, id: i64, more: u64) -> Result<()>;
    /// The newest `limit` audit entries, newest first.
    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>>;
    /// Retention: drop as many of the oldest entries as there are entries older than `before_ms`,
    /// or as are beyond `max_rows`, whichever is more; returns how many went.
    fn audit_prune(&self, before_ms: u64, max_rows: u64) -> Result<u64>;
}

/// Storage for everything that is not a notebook file: every role, plus what spans them. A Postgres
/// backend implements the roles and `ping`.
pub trait Database:
    SettingsStore + SecretStore + SecretLinkStore + StampStore + SessionStore + AuditStore + Send + Sync
{
    /// A trivial query, for health checks.
    fn ping(&self) -> Result<()>;

    /// Forget what is kept about a deleted notebook: its secret links and its stamp.
    fn forget_notebook(&self, notebook_id: &str) -> Result<()> {
        self.unlink_notebook(notebook_id)?;
        self.unstamp(notebook_id)
    }
}
