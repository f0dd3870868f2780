//! The SQLite backend of every `Database` role (`DATA_DIR/quire.db`, WAL). Secret values, sensitive
//! settings and token fingerprints are sealed with the instance key (see `db_seal.rs`).

use super::{
    AuditStore, Database, SENSITIVE_SETTINGS, Secret, SecretLinkStore, SecretStore, SessionStore,
    SettingsStore, StampStore,
};
use crate::audit::AuditEntry;
use crate::error::{NotebookError, Result};
use crate::seal::SealKey;
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![
        M::up(
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE secrets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, value TEXT NOT NULL);
         CREATE TABLE secret_links (
             secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
             notebook_id TEXT NOT NULL,
             PRIMARY KEY (secret_id, notebook_id));",
        ),
        // Values become ciphertext (see `seal`); `meta.keyCheck` tells whether a key is the right one.
        M::up(
            "ALTER TABLE secrets ADD COLUMN sealed INTEGER NOT NULL DEFAULT 0;
             CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);",
        ),
        // Notebook stamps: a MAC of approved content (see `stamp.rs`).
        M::up("CREATE TABLE stamps (notebook_id TEXT PRIMARY KEY, digest TEXT NOT NULL, mac TEXT NOT NULL);"),
        // The audit log is append-only: triggers refuse any change to a written row.
        M::up(
            "CREATE TABLE audit (id INTEGER PRIMARY KEY AUTOINCREMENT, at_ms INTEGER NOT NULL, actor TEXT NOT NULL,
                 action TEXT NOT NULL, target TEXT, ip TEXT, outcome TEXT NOT NULL);
             CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
             CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;",
        ),
        // Browser sessions (cookie logins), by hash of the session id; `token_fp` ties each to the access
        // token it was made with, so a new token signs every browser out.
        M::up(
            "CREATE TABLE browser_sessions (hash TEXT PRIMARY KEY, token_fp TEXT NOT NULL,
                 created_ms INTEGER NOT NULL, last_seen_ms INTEGER NOT NULL);",
        ),
        crate::audit::MIGRATION_COUNT_AND_RETENTION,
    ])
}

/// Session ids are stored hashed: a copy of the database signs nobody in.
fn session_hash(session: &str) -> String {
    blake3::hash(session.as_bytes()).to_hex().to_string()
}

/// Time spent in each SQLite statement, for `/metrics`.
fn profile(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Profile(_, took) = event {
        metrics::histogram!("sqlite_statement_duration_seconds", "db" => "quire").record(took.as_secs_f64());
    }
}

pub struct SqliteDatabase {
    conn: Mutex<Connection>,
    pub(crate) key: SealKey,
}

impl SqliteDatabase {
    /// Open (creating if needed) the database file, switch to WAL and apply pending migrations.
    pub fn open(path: &Path, key: SealKey) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        conn.trace_v2(rusqlite::trace::TraceEventCodes::SQLITE_TRACE_PROFILE, Some(profile));
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| NotebookError::Database(format!("migration failed: {e}")))?;
        let db = SqliteDatabase { conn: Mutex::new(conn), key };
        db.check_key()?;
        db.seal_plaintext()?;
        Ok(db)
    }

    pub(crate) fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        quire_stdx::lock(&self.conn)
    }

    fn secret_by_name(&self, conn: &Connection, name: &str) -> Result<Option<Secret>> {
        let row = conn
            .query_row("SELECT id, value FROM secrets WHERE name = ?1", params![name], |r| {
                Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?))
            })
            .optional()?;
        let Some((id, value)) = row else { return Ok(None) };
        let mut stmt = conn.prepare_cached(
            "SELECT notebook_id FROM secret_links WHERE secret_id = ?1 ORDER BY notebook_id",
        )?;
        let notebook_ids =
            stmt.query_map(params![id], |r| r.get(0))?.collect::<rusqlite::Result<Vec<String>>>()?;
        Ok(Some(Secret { id, name: name.to_string(), value: self.open_value(&value)?, notebook_ids }))
    }

    fn secret_id(conn: &Connection, name: &str) -> Result<i64> {
        conn.query_row("SELECT id FROM secrets WHERE name = ?1", params![name], |r| r.get(0))
            .optional()?
            .ok_or_else(|| NotebookError::SecretNotFound(name.to_string()))
    }
}

impl SettingsStore for SqliteDatabase {
    fn settings(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM settings")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (k, v) = row?;
            let mut value: serde_json::Value =
                serde_json::from_str(&v).map_err(|e| NotebookError::Database(format!("setting {k}: {e}")))?;
            if let serde_json::Value::String(sealed) = &value
                && SENSITIVE_SETTINGS.contains(&k.as_str())
                && SealKey::is_sealed(sealed)
            {
                value = serde_json::Value::String(self.open_value(sealed)?);
            }
            out.insert(k, value);
        }
        Ok(out)
    }

    fn update_settings(&self, patch: &BTreeMap<String, serde_json::Value>) -> Result<()> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        for (k, v) in patch {
            if v.is_null() {
                tx.execute("DELETE FROM settings WHERE key = ?1", params![k])?;
            } else {
                tx.execute(
                    "INSERT INTO settings (key, value) VALUES (?1, ?2)
                     ON CONFLICT(key) DO UPDATE SET value = excluded.value",
                    params![k, self.stored_setting(k, v)?],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }
}

impl SecretStore for SqliteDatabase {
    fn secrets(&self) -> Result<Vec<Secret>> {
        let conn = self.conn();
        let names = conn
            .prepare_cached("SELECT name FROM secrets ORDER BY name")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(s) = self.secret_by_name(&conn, &n)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn upsert_secret(&self, name: &str, value: &str) -> Result<Secret> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO secrets (name, value, sealed) VALUES (?1, ?2, 1)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value, sealed = 1",
            params![name, self.key.seal(value)?],
        )?;
        self.secret_by_name(&conn, name)?.ok_or_else(|| NotebookError::SecretNotFound(name.into()))
    }

    fn rename_secret(&self, old: &str, new: &str, value: &str) -> Result<Secret> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = Self::secret_id(&tx, old)?;
        if old != new && self.secret_by_name(&tx, new)?.is_some() {
            return Err(NotebookError::FilenameTaken(format!("A secret named '{new}' already exists")));
        }
        let sealed = self.key.seal(value)?;
        tx.execute(
            "UPDATE secrets SET name = ?1, value = ?2, sealed = 1 WHERE id = ?3",
            params![new, sealed, id],
        )?;
        let s = self.secret_by_name(&tx, new)?;
        tx.commit()?;
        s.ok_or_else(|| NotebookError::SecretNotFound(new.into()))
    }

    fn delete_secret(&self, name: &str) -> Result<bool> {
        let n = self.conn().execute("DELETE FROM secrets WHERE name = ?1", params![name])?;
        Ok(n > 0)
    }
}

impl SecretLinkStore for SqliteDatabase {
    fn link_secret(&self, name: &str, notebook_id: &str) -> Result<()> {
        let conn = self.conn();
        let id = Self::secret_id(&conn, name)?;
        conn.execute(
            "INSERT OR IGNORE INTO secret_links (secret_id, notebook_id) VALUES (?1, ?2)",
            params![id, notebook_id],
        )?;
        Ok(())
    }

    fn unlink_secret(&self, name: &str, notebook_id: &str) -> Result<()> {
        let conn = self.conn();
        let id = Self::secret_id(&conn, name)?;
        conn.execute(
            "DELETE FROM secret_links WHERE secret_id = ?1 AND notebook_id = ?2",
            params![id, notebook_id],
        )?;
        Ok(())
    }

    fn notebook_secrets(&self, notebook_id: &str) -> Result<Vec<(String, String)>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached(
            "SELECT s.name, s.value FROM secrets s JOIN secret_links l ON l.secret_id = s.id
             WHERE l.notebook_id = ?1 ORDER BY s.name",
        )?;
        let rows = stmt
            .query_map(params![notebook_id], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        rows.into_iter().map(|(n, v)| Ok((n, self.open_value(&v)?))).collect()
    }

    fn unlink_notebook(&self, notebook_id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM secret_links WHERE notebook_id = ?1", params![notebook_id])?;
        Ok(())
    }
}

impl SessionStore for SqliteDatabase {
    fn session_create(&self, session: &str, token: &str, now_ms: u64, keep: usize) -> Result<()> {
        let conn = self.conn();
        conn.execute(
            "INSERT OR REPLACE INTO browser_sessions (hash, token_fp, created_ms, last_seen_ms) VALUES (?1, ?2, ?3, ?3)",
            params![session_hash(session), self.token_fp(token), now_ms as i64],
        )?;
        conn.execute(
            "DELETE FROM browser_sessions WHERE hash NOT IN
                 (SELECT hash FROM browser_sessions ORDER BY last_seen_ms DESC, rowid DESC LIMIT ?1)",
            params![keep as i64],
        )?;
        Ok(())
    }

    fn session_check(&self, session: &str, token: &str, now_ms: u64, idle_ms: u64) -> Result<bool> {
        let conn = self.conn();
        let hash = session_hash(session);
        let row: Option<(String, i64)> = conn
            .query_row(
                "SELECT token_fp, last_seen_ms FROM browser_sessions WHERE hash = ?1",
                params![hash],
                |r| Ok((r.get(0)?, r.get(1)?)),
            )
            .optional()?;
        let Some((fp, seen)) = row else { return Ok(false) };
        let seen = seen as u64;
        if fp != self.token_fp(token) || now_ms.saturating_sub(seen) > idle_ms {
            conn.execute("DELETE FROM browser_sessions WHERE hash = ?1", params![hash])?;
            return Ok(false);
        }
        if now_ms.saturating_sub(seen) > 60_000 {
            conn.execute(
                "UPDATE browser_sessions SET last_seen_ms = ?1 WHERE hash = ?2",
                params![now_ms as i64, hash],
            )?;
        }
        Ok(true)
    }

    fn sessions_clear(&self) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM browser_sessions", [])?)
    }
}

impl AuditStore for SqliteDatabase {
    fn audit(&self, e: &AuditEntry) -> Result<i64> {
        crate::audit::insert(&self.conn(), e)
    }

    fn audit_add_count(&self, id: i64, more: u64) -> Result<()> {
        crate::audit::add_count(&self.conn(), id, more)
    }

    fn audit_log(&self, limit: usize) -> Result<Vec<AuditEntry>> {
        crate::audit::newest(&self.conn(), limit)
    }

    fn audit_prune(&self, before_ms: u64, max_rows: u64) -> Result<u64> {
        crate::audit::prune(&self.conn(), before_ms, max_rows)
    }
}

impl StampStore for SqliteDatabase {
    fn stamp(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<()> {
        crate::stamp::write(&self.conn(), &self.key, notebook_id, digest)
    }

    fn stamp_matches(&self, notebook_id: &str, digest: &[u8; 32]) -> Result<bool> {
        crate::stamp::matches(&self.conn(), &self.key, notebook_id, digest)
    }

    fn unstamp(&self, notebook_id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM stamps WHERE notebook_id = ?1", params![notebook_id])?;
        Ok(())
    }
}

impl Database for SqliteDatabase {
    fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> SealKey {
        SealKey::from_hex(&"ab".repeat(32)).unwrap()
    }

    fn raw(dir: &Path, sql: &str) -> Vec<String> {
        let c = Connection::open(dir.join("q.db")).unwrap();
        let mut st = c.prepare(sql).unwrap();
        st.query_map([], |r| r.get(0)).unwrap().collect::<rusqlite::Result<_>>().unwrap()
    }

    #[test]
    fn values_are_ciphertext_at_rest_and_keys_rotate() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        db.upsert_secret("TOKEN", "hunter2").unwrap();
        let mut p = BTreeMap::new();
        p.insert("openaiKey".to_string(), serde_json::json!("sk-live-123"));
        db.update_settings(&p).unwrap();
        let stored =
            raw(dir.path(), "SELECT value FROM secrets UNION ALL SELECT value FROM settings").join("\n");
        assert!(!stored.contains("hunter2") && !stored.contains("sk-live-123"), "{stored}");
        assert_eq!(db.settings().unwrap()["openaiKey"], "sk-live-123");
        let next = SealKey::generate().unwrap();
        assert_eq!(db.rotate_key(&next).unwrap(), 2);
        drop(db);
        assert!(SqliteDatabase::open(&dir.path().join("q.db"), key()).is_err(), "old key refused");
        let db = SqliteDatabase::open(&dir.path().join("q.db"), next).unwrap();
        assert_eq!(db.secrets().unwrap()[0].value, "hunter2");
        assert_eq!(db.settings().unwrap()["openaiKey"], "sk-live-123");
    }

    #[test]
    fn sessions_and_their_tokens_are_stored_only_as_hashes() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        for s in ["a", "b", "c"] {
            db.session_create(s, "tok", 5_000, 2).unwrap();
        }
        let stored = raw(dir.path(), "SELECT hash || ' ' || token_fp FROM browser_sessions").join("\n");
        assert_eq!(stored.lines().count(), 2, "bounded");
        assert!(!stored.split([' ', '\n']).any(|v| ["a", "b", "c", "tok"].contains(&v)), "{stored}");
    }

    #[test]
    fn plaintext_from_before_encryption_is_sealed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        drop(SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap());
        let c = Connection::open(dir.path().join("q.db")).unwrap();
        c.execute("INSERT INTO secrets (name, value, sealed) VALUES ('OLD', 'plain', 0)", []).unwrap();
        drop(c);
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        assert_eq!(db.notebook_secrets("x").unwrap(), vec![]);
        assert_eq!(db.secrets().unwrap()[0].value, "plain");
        assert!(!raw(dir.path(), "SELECT value FROM secrets")[0].contains("plain"));
    }

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn reopening_applies_no_migration_twice_and_keeps_the_data() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        db.upsert_secret("A", "1").unwrap();
        db.link_secret("A", "nb1").unwrap();
        db.stamp("nb1", &[7; 32]).unwrap();
        drop(db);
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        assert_eq!(db.notebook_secrets("nb1").unwrap(), vec![("A".into(), "1".into())]);
        assert!(db.stamp_matches("nb1", &[7; 32]).unwrap());
    }

    #[test]
    fn a_stamp_made_under_another_key_does_not_match() {
        let dir = tempfile::tempdir().unwrap();
        let other = SqliteDatabase::open(&dir.path().join("other.db"), SealKey::generate().unwrap()).unwrap();
        other.stamp("nb1", &[7; 32]).unwrap();
        drop(other);
        let db = SqliteDatabase::open(&dir.path().join("q.db"), key()).unwrap();
        // Copy the other instance's stamp row in, as a notebook copied between instances would bring it.
        let c = Connection::open(dir.path().join("q.db")).unwrap();
        c.execute("ATTACH DATABASE ?1 AS other", [dir.path().join("other.db").to_str().unwrap()]).unwrap();
        c.execute("INSERT INTO stamps SELECT * FROM other.stamps", []).unwrap();
        assert!(!db.stamp_matches("nb1", &[7; 32]).unwrap());
    }
}
