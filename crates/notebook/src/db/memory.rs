//! Every `Database` role in memory, behind one mutex (so each call is all-or-nothing, like a SQLite
//! transaction). For tests that need a database but not a file, and as the reference the suite holds
//! every backend to. Nothing is sealed: nothing is at rest.
//!
//! Compiled in always (no `testing` feature): it has no dependencies of its own, and crates above
//! (`server` tests, the notebook service) can use it without feature unification surprises.

use super::{
    AuditStore, Database, Secret, SecretLinkStore, SecretStore, SessionStore, SettingsStore, StampStore,
};
use crate::audit::AuditEntry;
use crate::error::{NotebookError, Result};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryDatabase {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    settings: BTreeMap<String, serde_json::Value>,
    /// By name, so listings come out sorted.
    secrets: BTreeMap<String, StoredSecret>,
    last_secret_id: i64,
    stamps: BTreeMap<String, [u8; 32]>,
    /// By session hash.
    sessions: BTreeMap<String, Session>,
    /// Insertion order of sessions (SQLite's rowid), the tie-break when trimming.
    session_seq: u64,
    /// In id order.
    audit: Vec<(i64, AuditEntry)>,
    last_audit_id: i64,
}

struct StoredSecret {
    id: i64,
    value: String,
    notebook_ids: BTreeSet<String>,
}

struct Session {
    token_hash: String,
    last_seen_ms: u64,
    seq: u64,
}

fn hash(s: &str) -> String {
    blake3::hash(s.as_bytes()).to_hex().to_string()
}

impl MemoryDatabase {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // Every method leaves the state consistent before it can panic, so a poisoned lock is usable.
        quire_stdx::lock(&self.state)
    }
}

impl State {
    fn secret(&self, name: &str) -> Option<Secret> {
        self.secrets.get(name).map(|s| Secret {
            id: s.id,
            name: name.to_string(),
            value: s.value.clone(),
            notebook_ids: s.notebook_ids.iter().cloned().collect(),
        })
    }

    fn secret_mut(&mut self, name: &str) -> Result<&mut StoredSecret> {
        self.secrets.get_mut(name).ok_or_else(|| NotebookError::SecretNotFound(name.to_string()))
    }
}

impl SettingsStore for MemoryDatabase {
    fn settings(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        Ok(self.state().settings.clone())
    }

    fn update_settings(&self, patch: &BTreeMap<String, serde_json::Value>) -> Result<()> {
        let mut st = self.state();
        for (k, v) in patch {
            if v.is_null() {
                st.settings.remove(k);
            } else {
                st.settings.insert(k.clone(), v.clone());
            }
        }
        Ok(())
    }
}

impl SecretStore for MemoryDatabase {
    fn secrets(&self) -> Result<Vec<Secret>> {
        let st = self.state();
        Ok(st.secrets.keys().filter_map(|n| st.secret(n)).collect())
    }

    fn upsert_secret(&self, name: &str, value: &str) -> Result<Secret> {
        let mut st = self.state();
        if let Some(s) = st.secrets.get_mut(name) {
            s.value = value.to_string();
        } else {
            st.last_secret_id += 1;
            let id = st.last_secret_id;
            st.secrets.insert(
                name.to_string(),
                StoredSecret { id, value: value.to_string(), notebook_ids: BTreeSet::new() },
            );
        }
        st.secret(name).ok_or_else(|| NotebookError::SecretNotFound(name.into()))
    }

    fn rename_secret(&self, old: &str, new: &str, value: &str) -> Result<Secret> {
        let mut st = self.state();
        st.secret_mut(old)?;
        if old != new && st.secrets.contains_key(new) {
            return Err(NotebookError::FilenameTaken(format!("A secret named '{new}' already exists")));
        }
        let mut s = st.secrets.remove(old).ok_or_else(|| NotebookError::SecretNotFound(old.into()))?;
        s.value = value.to_string();
        st.secrets.insert(new.to_string(), s);
        st.secret(new).ok_or_else(|| NotebookError::SecretNotFound(new.into()))
    }

    fn delete_secret(&self, name: &str) -> Result<bool> {
        Ok(self.state().secrets.remove(name).is_some())
    }
}

impl SecretLinkStore for MemoryDatabase {
    fn link_secret(&self, name: &str, notebook_id: &str) -> Result<()> {
        self.state().secret_mut(name)?.notebook_ids.insert(notebook_id.to_string());
        Ok(())
    }

    fn unlink_secret(&self, name: &str, notebook_id: &str) -> Result<()> {
        self.state().secret_mut(name)?.notebook_ids.remove(notebook_id);
        Ok(())
    }

    fn notebook_secrets(&self, notebook_id: &str) -> Result<Vec<(String, String)>> {
        let st = self.state();
        Ok(st
            .secrets
            .iter()
            .filter(|(_, s)| s.notebook_ids.contains(notebook_id))
            .map(|(n, s)| (n.clone(), s.value.clone()))
            .collect())
    }

    fn unlink_notebook(&self, notebook_id: &str) -> Result<()> {
        for s in self.state().secrets.values_mut() {
            s.notebook_ids.remove(notebook_id);
        }
        Ok(())
    }
}

impl StampStore for MemoryDatabase {
    fn stamp(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<()> {
        self.state().stamps.insert(notebook_id.to_string(), *digest);
        Ok(())
    }

    fn stamp_matches(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<bool> {
        Ok(self.state().stamps.get(notebook_id) == Some(digest))
    }

    fn unstamp(&self, notebook_id: &str) -> Result<()> {
        self.state().stamps.remove(notebook_id);
        Ok(())
    }
}

impl SessionStore for MemoryDatabase {
    fn session_create(&self, session: &str, token: &str, now_ms: u64, keep: usize) -> Result<()> {
        let mut st = self.state();
        st.session_seq += 1;
        let seq = st.session_seq;
        st.sessions.insert(hash(session), Session { token_hash: hash(token), last_seen_ms: now_ms, seq });
        if st.sessions.len() > keep {
            let mut by_recency: Vec<(u64, u64, String)> =
                st.sessions.iter().map(|(h, s)| (s.last_seen_ms, s.seq, h.clone())).collect();
            by_recency.sort_unstable_by(|a, b| b.cmp(a));
            for (_, _, h) in by_recency.into_iter().skip(keep) {
                st.sessions.remove(&h);
            }
        }
        Ok(())
    }

    fn session_check(&self, session: &str, token: &str, now_ms: u64, idle_ms: u64) -> Result<bool> {
        let mut st = self.state();
        let key = hash(session);
        let Some(s) = st.sessions.get_mut(&key) else { return Ok(false) };
        let idle = now_ms.saturating_sub(s.last_seen_ms);
        if s.token_hash != hash(token) || idle > idle_ms {
            st.sessions.remove(&key);
            return Ok(false);
        }
        if idle > 60_000 {
            s.last_seen_ms = now_ms;
        }
        Ok(true)
    }

    fn sessions_clear(&self) -> Result<usize> {
        Ok(std::mem::take(&mut self.state().sessions).len())
    }
}

impl AuditStore for MemoryDatabase {
    fn audit(&self, e: &AuditEntry) -> Result<i64> {
        let mut st = self.state();
        st.last_audit_id += 1;
        let id = st.last_audit_id;
        st.audit.push((id, AuditEntry { count: e.count.max(1), ..e.clone() }));
        Ok(id)
    }

    fn audit_add_count(&self, id: i64, more: u64) -> Result<()> {
        let mut st = self.state();
        if let Some((_, e)) = st.audit.iter_mut().find(|(i, _)| *i == id) {
            e.count = e.count.saturating_add(more);
        }
        Ok(())
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        Ok(self.state().audit.iter().rev().take(limit).map(|(_, e)| e.clone()).collect())
    }

    fn audit_prune(&self, before_ms: u64, max_rows: u64) -> Result<u64> {
        let mut st = self.state();
        let old = st.audit.iter().filter(|(_, e)| e.at_ms < before_ms).count();
        let over = st.audit.len().saturating_sub(usize::try_from(max_rows).unwrap_or(usize::MAX));
        let drop = old.max(over);
        st.audit.drain(..drop);
        Ok(drop as u64)
    }
}

impl Database for MemoryDatabase {
    fn ping(&self) -> Result<()> {
        Ok(())
    }
}
