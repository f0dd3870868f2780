//! Encryption at rest for the database: the key check, sealing values written before it existed,
//! key rotation, and the sealed forms of secret values, sensitive settings and token fingerprints.

use crate::db::{SENSITIVE_SETTINGS, SqliteDatabase};
use crate::error::{NotebookError, Result};
use crate::seal::SealKey;
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;

const KEY_CHECK: &str = "quire key check";

impl SqliteDatabase {
    /// Whether `key` opens this database (for choosing between keys after an interrupted rotation).
    pub fn key_opens(path: &Path, key: &SealKey) -> Result<bool> {
        let conn = Connection::open(path)?;
        let check: Option<String> = conn
            .query_row("SELECT value FROM meta WHERE key = 'keyCheck'", [], |r| r.get(0))
            .optional()
            .unwrap_or(None);
        Ok(check.is_none_or(|c| key.open(&c).is_ok_and(|p| p.as_str() == KEY_CHECK)))
    }

    pub(crate) fn check_key(&self) -> Result<()> {
        let conn = self.conn();
        let check: Option<String> =
            conn.query_row("SELECT value FROM meta WHERE key = 'keyCheck'", [], |r| r.get(0)).optional()?;
        match check {
            Some(c) if self.key.open(&c).is_ok_and(|p| p.as_str() == KEY_CHECK) => Ok(()),
            Some(_) => Err(NotebookError::Database(
                "the instance key does not match this database (secret.key replaced or QUIRE_SECRET_KEY wrong)".into(),
            )),
            None => {
                conn.execute("INSERT INTO meta (key, value) VALUES ('keyCheck', ?1)", params![self.key.seal(KEY_CHECK)?])?;
                Ok(())
            }
        }
    }

    /// Seal values written before encryption at rest existed.
    pub(crate) fn seal_plaintext(&self) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String)> = tx
            .prepare("SELECT id, value FROM secrets WHERE sealed = 0")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        for (id, value) in rows {
            tx.execute(
                "UPDATE secrets SET value = ?1, sealed = 1 WHERE id = ?2",
                params![self.key.seal(&value)?, id],
            )?;
        }
        for name in SENSITIVE_SETTINGS {
            let v: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", params![name], |r| r.get(0))
                .optional()?;
            if let Some(serde_json::Value::String(plain)) =
                v.as_deref().and_then(|v| serde_json::from_str(v).ok())
                && !SealKey::is_sealed(&plain)
            {
                let sealed = serde_json::Value::String(self.key.seal(&plain)?).to_string();
                tx.execute("UPDATE settings SET value = ?1 WHERE key = ?2", params![sealed, name])?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    /// Re-encrypt every sealed value under `next` in one transaction. The caller makes `next` the
    /// instance key afterwards (see `quire admin rotate-key`).
    pub fn rotate_key(&self, next: &SealKey) -> Result<usize> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let rows: Vec<(i64, String)> = tx
            .prepare("SELECT id, value FROM secrets")?
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<_>>()?;
        let mut n = 0;
        for (id, value) in rows {
            let plain = self.key.open(&value)?;
            tx.execute("UPDATE secrets SET value = ?1 WHERE id = ?2", params![next.seal(&plain)?, id])?;
            n += 1;
        }
        for name in SENSITIVE_SETTINGS {
            let v: Option<String> = tx
                .query_row("SELECT value FROM settings WHERE key = ?1", params![name], |r| r.get(0))
                .optional()?;
            if let Some(serde_json::Value::String(sealed)) =
                v.as_deref().and_then(|v| serde_json::from_str(v).ok())
            {
                let plain = self.key.open(&sealed)?;
                let again = serde_json::Value::String(next.seal(&plain)?).to_string();
                tx.execute("UPDATE settings SET value = ?1 WHERE key = ?2", params![again, name])?;
                n += 1;
            }
        }
        crate::stamp::rekey(&tx, &self.key, next)?;
        tx.execute("UPDATE meta SET value = ?1 WHERE key = 'keyCheck'", params![next.seal(KEY_CHECK)?])?;
        tx.commit()?;
        Ok(n)
    }

    pub(crate) fn stored_setting(&self, key: &str, v: &serde_json::Value) -> Result<String> {
        Ok(match v {
            serde_json::Value::String(plain) if SENSITIVE_SETTINGS.contains(&key) => {
                serde_json::Value::String(self.key.seal(plain)?).to_string()
            }
            other => other.to_string(),
        })
    }

    /// A keyed fingerprint of the access token (never the token itself, nor a plain hash of it).
    pub(crate) fn token_fp(&self, token: &str) -> String {
        quire_stdx::hex::encode(&self.key.mac("quire token fingerprint v1", token.as_bytes()))
    }

    pub(crate) fn open_value(&self, sealed: &str) -> Result<String> {
        Ok(self.key.open(sealed)?.to_string())
    }
}
