//! FileDB users: Argon2id password hashes, opaque access tokens (24 h) and refresh tokens (7 days), API
//! keys. Only SHA-256 hashes of tokens and keys are stored, so a copied database grants nothing.

use crate::error::{FileStoreError, Result};
use crate::{DAY_MS, hex, now_ms};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use rusqlite::{Connection, OptionalExtension, params};
use sha2::Digest;
use std::path::Path;
use std::sync::Mutex;

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

pub struct UserStore {
    conn: Mutex<Connection>,
}

fn token_hash(t: &str) -> String {
    hex(&sha2::Sha256::digest(t.as_bytes()))
}

/// 32 random bytes as URL-safe characters only (`[A-Za-z0-9_-]`, as FileDB clients require).
fn random_token(prefix: &str) -> String {
    let mut b = [0u8; 32];
    getrandom::fill(&mut b).expect("the OS random source is unavailable");
    format!("{prefix}{}", hex(&b))
}

fn hash_password(password: &str) -> Result<String> {
    let mut salt = [0u8; 16];
    getrandom::fill(&mut salt).map_err(|e| FileStoreError::Invalid(e.to_string()))?;
    let salt = SaltString::encode_b64(&salt).map_err(|e| FileStoreError::Invalid(e.to_string()))?;
    argon2::Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| FileStoreError::Invalid(e.to_string()))
}

fn verify_password(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .is_ok_and(|h| argon2::Argon2::default().verify_password(password.as_bytes(), &h).is_ok())
}

/// A hash of a random password with the default parameters, verified against for unknown emails.
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| hash_password(&random_token("")).unwrap_or_default())
}

/// An access and a refresh token of `family`.
fn insert_pair(c: &Connection, user_id: &str, family: &str) -> Result<(String, String)> {
    let access = random_token("qa_");
    let refresh = random_token("qr_");
    let now = now_ms();
    c.execute(
        "INSERT INTO tokens (hash, user_id, kind, expires_at, family) VALUES
             (?1, ?2, 'access', ?3, ?6), (?4, ?2, 'refresh', ?5, ?6)",
        params![
            token_hash(&access),
            user_id,
            now + ACCESS_TTL_MS,
            token_hash(&refresh),
            now + REFRESH_TTL_MS,
            family
        ],
    )?;
    Ok((access, refresh))
}

pub fn valid_email(email: &str) -> bool {
    let e = email.trim();
    e.len() <= 254 && e.split_once('@').is_some_and(|(a, b)| !a.is_empty() && !b.is_empty())
}

impl UserStore {
    /// Opens its own connection to the file store's database (already migrated by `FileStore::open`).
    pub fn open(db: &Path) -> Result<Self> {
        Ok(UserStore { conn: Mutex::new(crate::sqlite::connect(db, true)?) })
    }

    fn conn(&self) -> std::sync::MutexGuard<'_, Connection> {
        self.conn.lock().unwrap_or_else(|p| p.into_inner())
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
        let hash = hash_password(password)?;
        let user = User {
            id: format!("user_{}", &random_token("")[..24]),
            email: email.to_string(),
            role: role.into(),
        };
        let n = self.conn().execute(
            "INSERT INTO users (id, email, password_hash, role, created_at) VALUES (?1, ?2, ?3, ?4, ?5)
             ON CONFLICT(email) DO NOTHING",
            params![user.id, user.email, hash, user.role, now_ms()],
        )?;
        if n == 0 {
            return Err(FileStoreError::Conflict("A user with this email already exists".into()));
        }
        Ok(user)
    }

    fn user_where(&self, sql: &str, arg: &str) -> Result<Option<(User, String)>> {
        let c = self.conn();
        Ok(c.query_row(sql, [arg], |r| {
            Ok((User { id: r.get(0)?, email: r.get(1)?, role: r.get(2)? }, r.get::<_, String>(3)?))
        })
        .optional()?)
    }

    pub fn user(&self, id: &str) -> Result<Option<User>> {
        Ok(self.user_where("SELECT id, email, role, '' FROM users WHERE id = ?1", id)?.map(|(u, _)| u))
    }

    /// Wrong password, unknown user and malformed email all fail the same way.
    pub fn login(&self, email: &str, password: &str) -> Result<User> {
        let denied = || FileStoreError::Unauthorized("Invalid credentials".into());
        let found =
            self.user_where("SELECT id, email, role, password_hash FROM users WHERE email = ?1", email)?;
        match found {
            Some((u, hash)) if verify_password(password, &hash) => Ok(u),
            Some(_) => Err(denied()),
            None => {
                // The same work as a real check (one verification against a hash made once), so
                // timing does not reveal which emails exist.
                let _ = verify_password(password, unknown_user_hash());
                Err(denied())
            }
        }
    }

    /// A new access token and refresh token for the user: a new family.
    pub fn issue(&self, user: &User) -> Result<(String, String)> {
        let c = self.conn();
        c.execute("DELETE FROM tokens WHERE expires_at <= ?1", [now_ms()])?;
        insert_pair(&c, &user.id, &random_token(""))
    }

    fn by_token(&self, token: &str, kind: &str) -> Result<Option<User>> {
        let c = self.conn();
        Ok(c.query_row(
            "SELECT u.id, u.email, u.role FROM tokens t JOIN users u ON u.id = t.user_id
             WHERE t.hash = ?1 AND t.kind = ?2 AND t.expires_at > ?3",
            params![token_hash(token), kind, now_ms()],
            |r| Ok(User { id: r.get(0)?, email: r.get(1)?, role: r.get(2)? }),
        )
        .optional()?)
    }

    pub fn by_access_token(&self, token: &str) -> Result<Option<User>> {
        self.by_token(token, "access")
    }

    /// Rotate: a valid, unused refresh token gives a new access token and a new refresh token (the
    /// access token it replaces lives on for requests in flight; older ones end). A used one presented again means a copy exists
    /// somewhere: the whole family is revoked and the caller must sign in again.
    pub fn refresh(&self, refresh: &str) -> Result<(User, String, String)> {
        let denied = |m: &str| FileStoreError::Unauthorized(m.into());
        let mut c = self.conn();
        let tx = c.transaction()?;
        let found: Option<(String, String, bool)> = tx
            .query_row(
                "SELECT user_id, family, used FROM tokens WHERE hash = ?1 AND kind = 'refresh' AND expires_at > ?2",
                params![token_hash(refresh), now_ms()],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)),
            )
            .optional()?;
        let Some((user_id, family, used)) = found else { return Err(denied("Invalid refresh token")) };
        if used {
            tx.execute("DELETE FROM tokens WHERE family = ?1", [&family])?;
            tx.commit()?;
            tracing::warn!(user = %user_id, "a used refresh token was presented again; its sessions are revoked");
            return Err(denied("This refresh token was already used; sign in again"));
        }
        tx.execute("UPDATE tokens SET used = 1 WHERE hash = ?1", [token_hash(refresh)])?;
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
        let (access, refresh) = insert_pair(&tx, &user_id, &family)?;
        let user = tx.query_row("SELECT id, email, role FROM users WHERE id = ?1", [&user_id], |r| {
            Ok(User { id: r.get(0)?, email: r.get(1)?, role: r.get(2)? })
        })?;
        tx.commit()?;
        Ok((user, access, refresh))
    }

    /// Logout: the token's whole family (its refresh token too) ends.
    pub fn revoke_token(&self, token: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM tokens WHERE family = (SELECT family FROM tokens WHERE hash = ?1) OR hash = ?1",
            [token_hash(token)],
        )?;
        Ok(())
    }

    /// Expired tokens leave the table (the sweeper calls this).
    pub fn prune_expired(&self) -> Result<usize> {
        Ok(self.conn().execute("DELETE FROM tokens WHERE expires_at <= ?1", [now_ms()])?)
    }

    pub fn by_api_key(&self, key: &str) -> Result<Option<User>> {
        let c = self.conn();
        Ok(c.query_row(
            "SELECT u.id, u.email, u.role FROM api_keys k JOIN users u ON u.id = k.user_id
             WHERE k.hash = ?1 AND k.revoked_at IS NULL",
            [token_hash(key)],
            |r| Ok(User { id: r.get(0)?, email: r.get(1)?, role: r.get(2)? }),
        )
        .optional()?)
    }

    /// `(key id, key)`; the key itself is shown once and only its hash is kept.
    pub fn create_api_key(&self, user_id: &str, name: &str) -> Result<(String, String)> {
        let id = crate::random_id();
        let key = random_token("qk_");
        self.conn().execute(
            "INSERT INTO api_keys (id, hash, user_id, name, created_at) VALUES (?1, ?2, ?3, ?4, ?5)",
            params![id, token_hash(&key), user_id, name, now_ms()],
        )?;
        Ok((id, key))
    }

    pub fn revoke_api_key(&self, user_id: &str, id: &str) -> Result<bool> {
        let n = self.conn().execute(
            "UPDATE api_keys SET revoked_at = ?3 WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
            params![id, user_id, now_ms()],
        )?;
        Ok(n == 1)
    }

    /// Revoke a key and issue a replacement with the same name.
    pub fn rotate_api_key(&self, user_id: &str, id: &str) -> Result<(String, String)> {
        let name: Option<String> = self
            .conn()
            .query_row(
                "SELECT name FROM api_keys WHERE id = ?1 AND user_id = ?2 AND revoked_at IS NULL",
                params![id, user_id],
                |r| r.get(0),
            )
            .optional()?;
        let name = name.ok_or(FileStoreError::NotFound)?;
        self.revoke_api_key(user_id, id)?;
        self.create_api_key(user_id, &name)
    }

    pub fn api_keys(&self, user_id: &str) -> Result<Vec<ApiKeyInfo>> {
        let c = self.conn();
        let mut st = c.prepare(
            "SELECT id, name, created_at, revoked_at IS NOT NULL FROM api_keys WHERE user_id = ?1 ORDER BY created_at",
        )?;
        let rows = st.query_map([user_id], |r| {
            Ok(ApiKeyInfo { id: r.get(0)?, name: r.get(1)?, created_at: r.get(2)?, revoked: r.get(3)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn register_login_tokens_and_keys() {
        let dir = tempfile::tempdir().unwrap();
        let s = UserStore::open(&dir.path().join("f.db")).unwrap();
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
        assert!(
            s.by_access_token(&a2).unwrap().is_some(),
            "the replaced access token serves requests in flight"
        );
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
}
