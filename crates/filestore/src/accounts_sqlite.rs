//! The account roles on SQLite: the `users`, `tokens` and `api_keys` tables of `files.db` (own
//! connection; foreign keys make a token or key of an unknown user an error).

use crate::accounts::*;
use crate::error::Result;
use crate::users::{ApiKeyInfo, User};
use rusqlite::{Connection, OptionalExtension, params};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

pub struct SqliteAccounts {
    conn: Mutex<Connection>,
}

impl SqliteAccounts {
    /// Its own connection to the file store's database (migrating it if `FileStore::open` has not).
    pub fn open(db: &Path) -> Result<Self> {
        Ok(SqliteAccounts { conn: Mutex::new(crate::sqlite::connect(db, true)?) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        quire_stdx::lock(&self.conn)
    }
}

fn user_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<User> {
    Ok(User { id: r.get(0)?, email: r.get(1)?, role: r.get(2)? })
}

fn insert_pair(c: &Connection, user_id: &str, family: &str, t: &NewTokens) -> Result<()> {
    c.execute(
        "INSERT INTO tokens (hash, user_id, kind, expires_at, family) VALUES
             (?1, ?2, 'access', ?3, ?6), (?4, ?2, 'refresh', ?5, ?6)",
        params![t.access_hash, user_id, t.access_expires, t.refresh_hash, t.refresh_expires, family],
    )?;
    Ok(())
}

impl UserRecords for SqliteAccounts {
    fn insert_user(&self, user: &User, password_hash: &str, now: i64) -> Result<bool> {
        let n = self.conn().execute(
            "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(email) DO NOTHING",
            params![user.id, user.email, password_hash, user.role, now],
        )?;
        Ok(n == 1)
    }

    fn user(&self, id: &str) -> Result<Option<User>> {
        let c = self.conn();
        Ok(c.query_row("SELECT id, email, role FROM users WHERE id = ?1", [id], user_row).optional()?)
    }

    fn user_by_email(&self, email: &str) -> Result<Option<(User, String)>> {
        let c = self.conn();
        Ok(c.query_row("SELECT id, email, role, password_hash FROM users WHERE email = ?1", [email], |r| {
            Ok((user_row(r)?, r.get::<_, String>(3)?))
        })
        .optional()?)
    }
}

impl TokenRecords for SqliteAccounts {
    fn insert_family(&self, user_id: &str, family: &str, tokens: &NewTokens, now: i64) -> Result<()> {
        let c = self.conn();
        c.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?;
        insert_pair(&c, user_id, family, tokens)
    }

    fn user_by_token(&self, hash: &str, kind: TokenKind, now: i64) -> Result<Option<User>> {
        let c = self.conn();
        Ok(c.query_row(
            "SELECT u.id, u.email, u.role FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = ?1 AND t.kind = ?2 AND t.expires_at > ?3",
            params![hash, kind.as_str(), now],
            user_row,
        )
        .optional()?)
    }

    fn rotate_refresh(&self, refresh_hash: &str, next: &NewTokens, now: i64) -> Result<Rotation> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let found: Option<(String, String, bool)> = tx
            .query_row(
                "SELECT user_id, family, used FROM tokens WHERE hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
                params![refresh_hash, now],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((user_id, family, used)) = found else { return Ok(Rotation::Invalid) };
        if used {
            tx.execute("DELETE FROM tokens WHERE family = ?1", [&family])?;
            tx.commit()?;
            return Ok(Rotation::Reused { user_id });
        }
        tx.execute("UPDATE tokens SET used = 1 WHERE hash = ?1", [refresh_hash])?;
        // The access token being replaced stays valid (requests in flight), older ones go.
        tx.execute(
            "DELETE FROM tokens WHERE family = ?1 AND kind = 'access' AND hash NOT IN
                 (SELECT hash FROM tokens WHERE family = ?1 AND kind = 'access' ORDER BY rowid DESC LIMIT 1)",
            [&family],
        )?;
        // Used tokens are kept (to recognise reuse) only for the last few rotations.
        tx.execute(
            "DELETE FROM tokens WHERE family = ?1 AND kind = 'refresh' AND used = 1 AND hash NOT IN
                 (SELECT hash FROM tokens WHERE family = ?1 AND kind = 'refresh' AND used = 1
                  ORDER BY rowid DESC LIMIT 8)",
            [&family],
        )?;
        insert_pair(&tx, &user_id, &family, next)?;
        let user = tx.query_row("SELECT id, email, role FROM users WHERE id = ?1", [&user_id], user_row)?;
        tx.commit()?;
        Ok(Rotation::Rotated(user))
    }

    fn revoke_family(&self, hash: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM tokens WHERE family = (SELECT family FROM tokens WHERE hash = ?1) OR hash = ?1",
            [hash],
        )?;
        Ok(())
    }

    fn prune_tokens(&self, now: i64) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE expires_at <= ?1", [now])?)
    }
}

impl ApiKeyRecords for SqliteAccounts {
    fn insert_api_key(&self, id: &str, hash: &str, user_id: &str, name: &str, now: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO api_keys (id, hash, user_id, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, hash, user_id, name, now],
        )?;
        Ok(())
    }

    fn user_by_api_key(&self, hash: &str) -> Result<Option<User>> {
        let c = self.conn();
        Ok(c.query_row(
            "SELECT u.id, u.email, u.role FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.hash = ?1 AND k.revoked_at IS NULL",
            [hash],
            user_row,
        )
        .optional()?)
    }

    fn revoke_api_key(&self, user_id: &str, id: &str, now: i64) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
            params![id, user_id, now],
        )?;
        Ok(n == 1)
    }

    fn live_api_key_name(&self, user_id: &str, id: &str) -> Result<Option<String>> {
        Ok(self
            .conn()
            .query_row(
                "SELECT name FROM api_keys WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                params![id, user_id],
                |r| r.get(0),
            )
            .optional()?)
    }

    fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>> {
        let c = self.conn();
        // rowid: keys made in the same millisecond keep their order.
        let mut st = c.prepare(
            "SELECT id, name, created_at, revoked_at IS NOT NULL FROM api_keys WHERE user_id = ?1
             ORDER BY created_at, rowid",
        )?;
        let rows = st.query_map([user_id], |r| {
            Ok(ApiKeyInfo { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)?, revoked: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
