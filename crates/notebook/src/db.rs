//! Settings, secrets and secret↔notebook links behind the small `Database` trait (SQLite now).

use crate::error::{NotebookError, Result};
use rusqlite::{Connection, OptionalExtension, params};
use rusqlite_migration::{M, Migrations};
use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Secret {
    pub id: i64,
    pub name: String,
    pub value: String,
    pub notebook_ids: Vec<String>,
}

/// Storage for everything that is not a notebook file. A Postgres backend implements the same trait.
pub trait Database: Send + Sync {
    fn settings(&self) -> Result<BTreeMap<String, serde_json::Value>>;
    /// Merge `patch` into the stored settings (a `null` value clears a key).
    fn update_settings(&self, patch: &BTreeMap<String, serde_json::Value>) -> Result<()>;
    fn secrets(&self) -> Result<Vec<Secret>>;
    /// Insert or replace the value of `name`.
    fn upsert_secret(&self, name: &str, value: &str) -> Result<Secret>;
    /// Rename (keeping notebook links) and set the value.
    fn rename_secret(&self, old: &str, new: &str, value: &str) -> Result<Secret>;
    fn delete_secret(&self, name: &str) -> Result<bool>;
    fn link_secret(&self, name: &str, notebook_id: &str) -> Result<()>;
    fn unlink_secret(&self, name: &str, notebook_id: &str) -> Result<()>;
    /// `(name, value)` of every secret linked to the notebook, sorted by name.
    fn notebook_secrets(&self, notebook_id: &str) -> Result<Vec<(String, String)>>;
    fn forget_notebook(&self, notebook_id: &str) -> Result<()>;
    /// A trivial query, for health checks.
    fn ping(&self) -> Result<()>;
}

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE settings (key TEXT PRIMARY KEY, value TEXT NOT NULL);
         CREATE TABLE secrets (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE, value TEXT NOT NULL);
         CREATE TABLE secret_links (
             secret_id INTEGER NOT NULL REFERENCES secrets(id) ON DELETE CASCADE,
             notebook_id TEXT NOT NULL,
             PRIMARY KEY (secret_id, notebook_id));",
    )])
}

pub struct SqliteDatabase {
    conn: Mutex<Connection>,
}

impl SqliteDatabase {
    /// Open (creating if needed) the database file, switch to WAL and apply pending migrations.
    pub fn open(path: &Path) -> Result<Self> {
        let mut conn = Connection::open(path)?;
        conn.pragma_update(None, "journal_mode", "WAL")?;
        conn.pragma_update(None, "synchronous", "NORMAL")?;
        conn.pragma_update(None, "foreign_keys", "ON")?;
        conn.busy_timeout(std::time::Duration::from_secs(5))?;
        migrations()
            .to_latest(&mut conn)
            .map_err(|e| NotebookError::Database(format!("migration failed: {e}")))?;
        Ok(SqliteDatabase { conn: Mutex::new(conn) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn secret_by_name(conn: &Connection, name: &str) -> Result<Option<Secret>> {
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
        Ok(Some(Secret { id, name: name.to_string(), value, notebook_ids }))
    }

    fn secret_id(conn: &Connection, name: &str) -> Result<i64> {
        conn.query_row("SELECT id FROM secrets WHERE name = ?1", params![name], |r| r.get(0))
            .optional()?
            .ok_or_else(|| NotebookError::SecretNotFound(name.to_string()))
    }
}

impl Database for SqliteDatabase {
    fn settings(&self) -> Result<BTreeMap<String, serde_json::Value>> {
        let conn = self.conn();
        let mut stmt = conn.prepare_cached("SELECT key, value FROM settings")?;
        let rows = stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?)))?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (k, v) = row?;
            let value =
                serde_json::from_str(&v).map_err(|e| NotebookError::Database(format!("setting {k}: {e}")))?;
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
                    params![k, v.to_string()],
                )?;
            }
        }
        tx.commit()?;
        Ok(())
    }

    fn secrets(&self) -> Result<Vec<Secret>> {
        let conn = self.conn();
        let names = conn
            .prepare_cached("SELECT name FROM secrets ORDER BY name")?
            .query_map([], |r| r.get::<_, String>(0))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        let mut out = Vec::with_capacity(names.len());
        for n in names {
            if let Some(s) = Self::secret_by_name(&conn, &n)? {
                out.push(s);
            }
        }
        Ok(out)
    }

    fn upsert_secret(&self, name: &str, value: &str) -> Result<Secret> {
        let conn = self.conn();
        conn.execute(
            "INSERT INTO secrets (name, value) VALUES (?1, ?2)
             ON CONFLICT(name) DO UPDATE SET value = excluded.value",
            params![name, value],
        )?;
        Self::secret_by_name(&conn, name)?.ok_or_else(|| NotebookError::SecretNotFound(name.into()))
    }

    fn rename_secret(&self, old: &str, new: &str, value: &str) -> Result<Secret> {
        let mut conn = self.conn();
        let tx = conn.transaction()?;
        let id = Self::secret_id(&tx, old)?;
        if old != new && Self::secret_by_name(&tx, new)?.is_some() {
            return Err(NotebookError::FilenameTaken(format!("A secret named '{new}' already exists")));
        }
        tx.execute("UPDATE secrets SET name = ?1, value = ?2 WHERE id = ?3", params![new, value, id])?;
        let s = Self::secret_by_name(&tx, new)?;
        tx.commit()?;
        s.ok_or_else(|| NotebookError::SecretNotFound(new.into()))
    }

    fn delete_secret(&self, name: &str) -> Result<bool> {
        let n = self.conn().execute("DELETE FROM secrets WHERE name = ?1", params![name])?;
        Ok(n > 0)
    }

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
            .query_map(params![notebook_id], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<rusqlite::Result<Vec<_>>>()?;
        Ok(rows)
    }

    fn forget_notebook(&self, notebook_id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM secret_links WHERE notebook_id = ?1", params![notebook_id])?;
        Ok(())
    }

    fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn migrations_are_valid() {
        migrations().validate().unwrap();
    }

    #[test]
    fn secrets_story() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.db")).unwrap();
        db.upsert_secret("A", "1").unwrap();
        db.upsert_secret("A", "2").unwrap();
        db.link_secret("A", "nb1").unwrap();
        db.link_secret("A", "nb1").unwrap();
        let s = db.rename_secret("A", "B", "3").unwrap();
        assert_eq!(s.notebook_ids, vec!["nb1".to_string()], "rename keeps links");
        assert_eq!(db.notebook_secrets("nb1").unwrap(), vec![("B".into(), "3".into())]);
        assert!(matches!(db.link_secret("missing", "nb1"), Err(NotebookError::SecretNotFound(_))));
        assert!(db.delete_secret("B").unwrap());
        assert!(db.notebook_secrets("nb1").unwrap().is_empty(), "links cascade");
        drop(db);
        // Reopening applies no migration twice.
        let db = SqliteDatabase::open(&dir.path().join("q.db")).unwrap();
        assert!(db.secrets().unwrap().is_empty());
    }

    #[test]
    fn settings_merge_and_clear() {
        let dir = tempfile::tempdir().unwrap();
        let db = SqliteDatabase::open(&dir.path().join("q.db")).unwrap();
        let mut p = BTreeMap::new();
        p.insert("aiModel".to_string(), serde_json::json!("gpt"));
        p.insert("openaiKey".to_string(), serde_json::json!("sk-1"));
        db.update_settings(&p).unwrap();
        let mut p2 = BTreeMap::new();
        p2.insert("openaiKey".to_string(), serde_json::Value::Null);
        db.update_settings(&p2).unwrap();
        let s = db.settings().unwrap();
        assert_eq!(s.get("aiModel"), Some(&serde_json::json!("gpt")));
        assert!(!s.contains_key("openaiKey"));
    }
}
