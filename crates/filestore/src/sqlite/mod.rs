//! Every `MetadataStore` role on SQLite (`DATA_DIR/files/files.db`, WAL, `synchronous=FULL` so a
//! committed manifest survives power loss): chunks, manifests and the commit here, request state in
//! `requests.rs`. Users and tokens live in the same file (see `users.rs`).

use crate::Hash;
use crate::error::{FileStoreError, Result};
use crate::meta::*;
use rusqlite::{Connection, OptionalExtension, Row, params};
use rusqlite_migration::{M, Migrations};
use std::path::Path;
use std::sync::{Mutex, MutexGuard};

mod requests;

fn migrations() -> Migrations<'static> {
    Migrations::new(vec![M::up(
        "CREATE TABLE chunks (hash BLOB PRIMARY KEY, size INTEGER NOT NULL, stored_size INTEGER NOT NULL,
             refcount INTEGER NOT NULL DEFAULT 0, zero_since INTEGER);
         CREATE INDEX chunks_gc ON chunks(zero_since) WHERE refcount = 0;
         CREATE TABLE files (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, owner TEXT, filename TEXT NOT NULL,
             content_type TEXT NOT NULL, base_type TEXT NOT NULL, extension TEXT NOT NULL, size INTEGER NOT NULL,
             blake3 TEXT NOT NULL, sha256 TEXT NOT NULL, chunk_count INTEGER NOT NULL, created_at INTEGER NOT NULL,
             btl_days INTEGER, expires_at INTEGER, public INTEGER NOT NULL DEFAULT 0,
             damaged INTEGER NOT NULL DEFAULT 0, inline_data BLOB);
         CREATE INDEX files_user ON files(user_id);
         CREATE INDEX files_owner ON files(owner);
         CREATE INDEX files_ext ON files(extension);
         CREATE INDEX files_type ON files(base_type);
         CREATE INDEX files_expiry ON files(expires_at) WHERE expires_at IS NOT NULL;
         CREATE TABLE file_chunks (file_id TEXT NOT NULL REFERENCES files(id) ON DELETE CASCADE,
             idx INTEGER NOT NULL, hash BLOB NOT NULL, offset INTEGER NOT NULL, len INTEGER NOT NULL,
             PRIMARY KEY (file_id, idx)) WITHOUT ROWID;
         CREATE TABLE daily_uploads (user_id TEXT NOT NULL, day INTEGER NOT NULL, count INTEGER NOT NULL,
             PRIMARY KEY (user_id, day));
         CREATE TABLE idempotency (user_id TEXT NOT NULL, key TEXT NOT NULL, state TEXT NOT NULL,
             fingerprint TEXT, file_id TEXT NOT NULL, created_at INTEGER NOT NULL, PRIMARY KEY (user_id, key));
         CREATE TABLE uploads (id TEXT PRIMARY KEY, user_id TEXT NOT NULL, length INTEGER, offset INTEGER NOT NULL,
             metadata TEXT NOT NULL, created_at INTEGER NOT NULL, expires_at INTEGER NOT NULL, file_id TEXT);
         CREATE TABLE users (id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE COLLATE NOCASE, password_hash TEXT NOT NULL,
             role TEXT NOT NULL, created_at INTEGER NOT NULL);
         CREATE TABLE tokens (hash TEXT PRIMARY KEY, user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
             kind TEXT NOT NULL, expires_at INTEGER NOT NULL);
         CREATE TABLE api_keys (id TEXT PRIMARY KEY, hash TEXT NOT NULL UNIQUE,
             user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE, name TEXT NOT NULL,
             created_at INTEGER NOT NULL, revoked_at INTEGER);",
    ),
    // Token families (one per login): refresh tokens rotate on use, and a used one presented again
    // revokes its whole family (someone else has a copy).
    M::up(
        "ALTER TABLE tokens ADD COLUMN family TEXT;
         ALTER TABLE tokens ADD COLUMN used INTEGER NOT NULL DEFAULT 0;
         UPDATE tokens SET family = hash;
         CREATE INDEX tokens_family ON tokens(family);
         CREATE INDEX tokens_expiry ON tokens(expires_at);",
    )])
}

/// Time spent in each SQLite statement, for `/metrics`.
fn profile(event: rusqlite::trace::TraceEvent<'_>) {
    if let rusqlite::trace::TraceEvent::Profile(_, took) = event {
        metrics::histogram!("sqlite_statement_duration_seconds", "db" => "files").record(took.as_secs_f64());
    }
}

/// Open a connection with the file store's pragmas, migrating when asked.
pub(crate) fn connect(path: &Path, migrate: bool) -> Result<Connection> {
    let mut conn = Connection::open(path)?;
    conn.pragma_update(None, "journal_mode", "WAL")?;
    conn.pragma_update(None, "synchronous", "FULL")?;
    conn.pragma_update(None, "foreign_keys", "ON")?;
    conn.busy_timeout(std::time::Duration::from_secs(10))?;
    conn.trace_v2(rusqlite::trace::TraceEventCodes::SQLITE_TRACE_PROFILE, Some(profile));
    if migrate {
        migrations().to_latest(&mut conn).map_err(|e| FileStoreError::Database(format!("migration: {e}")))?;
    }
    Ok(conn)
}

pub struct SqliteMeta {
    conn: Mutex<Connection>,
}

const FILE_COLS: &str =
    "id, user_id, owner, filename, content_type, extension, size, blake3, sha256, chunk_count,
    created_at, btl_days, expires_at, public, damaged, inline_data";

fn file_row(r: &Row<'_>) -> rusqlite::Result<FileRecord> {
    Ok(FileRecord {
        id: r.get(0)?,
        user_id: r.get(1)?,
        owner: r.get(2)?,
        filename: r.get(3)?,
        content_type: r.get(4)?,
        extension: r.get(5)?,
        size: r.get::<_, i64>(6)? as u64,
        blake3: r.get(7)?,
        sha256: r.get(8)?,
        chunk_count: r.get(9)?,
        created_at: r.get(10)?,
        btl_days: r.get(11)?,
        expires_at: r.get(12)?,
        public: r.get(13)?,
        damaged: r.get(14)?,
        inline: r.get(15)?,
    })
}

fn hash_col(r: &Row<'_>, i: usize) -> rusqlite::Result<Hash> {
    let v: Vec<u8> = r.get(i)?;
    v.try_into()
        .map_err(|_| rusqlite::Error::InvalidColumnType(i, "hash".into(), rusqlite::types::Type::Blob))
}

pub use crate::meta::base_type;

impl SqliteMeta {
    pub fn open(path: &Path) -> Result<Self> {
        Ok(SqliteMeta { conn: Mutex::new(connect(path, true)?) })
    }

    fn conn(&self) -> MutexGuard<'_, Connection> {
        // A panic while holding the lock cannot leave SQLite inconsistent (transactions roll back).
        quire_stdx::lock(&self.conn)
    }
}

fn release_chunks(tx: &Connection, file_id: &str, now: i64) -> rusqlite::Result<()> {
    tx.execute(
        "UPDATE chunks SET refcount = refcount - n.c, zero_since = CASE WHEN refcount - n.c <= 0 THEN ?2 END
         FROM (SELECT hash, COUNT(*) AS c FROM file_chunks WHERE file_id = ?1 GROUP BY hash) AS n
         WHERE chunks.hash = n.hash",
        params![file_id, now],
    )?;
    Ok(())
}

impl ChunkStore for SqliteMeta {
    fn chunk_exists(&self, hash: &Hash) -> Result<bool> {
        let c = self.conn();
        Ok(c.query_row("SELECT 1 FROM chunks WHERE hash = ?1", [&hash[..]], |_| Ok(())).optional()?.is_some())
    }

    fn record_chunk(&self, hash: &Hash, size: u32, stored_size: u32, now: i64) -> Result<()> {
        self.conn().execute(
            "INSERT INTO chunks (hash, size, stored_size, refcount, zero_since) VALUES (?1, ?2, ?3, 0, ?4)
             ON CONFLICT(hash) DO UPDATE SET zero_since = CASE WHEN refcount = 0 THEN ?4 END",
            params![&hash[..], size, stored_size, now],
        )?;
        Ok(())
    }

    fn gc_candidates(&self, cutoff: i64, limit: usize) -> Result<Vec<Hash>> {
        let c = self.conn();
        let mut st = c.prepare_cached(
            "SELECT hash FROM chunks WHERE refcount <= 0 AND zero_since IS NOT NULL AND zero_since < ?1 LIMIT ?2",
        )?;
        let rows = st.query_map(params![cutoff, limit as i64], |r| hash_col(r, 0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn forget_chunk(&self, hash: &Hash, cutoff: i64) -> Result<bool> {
        let n = self.conn().execute(
            "DELETE FROM chunks WHERE hash = ?1 AND refcount <= 0 AND zero_since IS NOT NULL AND zero_since < ?2",
            params![&hash[..], cutoff],
        )?;
        Ok(n == 1)
    }

    fn chunks_after(&self, cursor: Option<&Hash>, limit: usize) -> Result<Vec<(Hash, u64)>> {
        let c = self.conn();
        let mut st =
            c.prepare_cached("SELECT hash, stored_size FROM chunks WHERE hash > ?1 ORDER BY hash LIMIT ?2")?;
        let from: &[u8] = cursor.map(|h| &h[..]).unwrap_or(&[]);
        let rows =
            st.query_map(params![from, limit as i64], |r| Ok((hash_col(r, 0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn files_with_chunk(&self, hash: &Hash) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare_cached("SELECT DISTINCT file_id FROM file_chunks WHERE hash = ?1")?;
        let rows = st.query_map([&hash[..]], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn all_chunks(&self) -> Result<Vec<(Hash, u64)>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT hash, size FROM chunks ORDER BY hash")?;
        let rows = st.query_map([], |r| Ok((hash_col(r, 0)?, r.get::<_, i64>(1)? as u64)))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn rebuild_refcounts(&self, now: i64) -> Result<usize> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let n = tx.execute(
            "UPDATE chunks SET refcount = COALESCE((SELECT COUNT(*) FROM file_chunks fc WHERE fc.hash = chunks.hash), 0),
                 zero_since = CASE WHEN (SELECT COUNT(*) FROM file_chunks fc WHERE fc.hash = chunks.hash) = 0
                     THEN COALESCE(zero_since, ?1) END
             WHERE refcount != COALESCE((SELECT COUNT(*) FROM file_chunks fc WHERE fc.hash = chunks.hash), 0)",
            [now],
        )?;
        tx.commit()?;
        Ok(n)
    }
}

impl FileIndex for SqliteMeta {
    fn file(&self, id: &str) -> Result<Option<FileRecord>> {
        let c = self.conn();
        Ok(c.query_row(&format!("SELECT {FILE_COLS} FROM files WHERE id = ?1"), [id], file_row).optional()?)
    }

    fn file_chunks(&self, id: &str) -> Result<Vec<ChunkRef>> {
        let c = self.conn();
        let mut st =
            c.prepare_cached("SELECT hash, offset, len FROM file_chunks WHERE file_id = ?1 ORDER BY idx")?;
        let rows = st.query_map([id], |r| {
            Ok(ChunkRef { hash: hash_col(r, 0)?, offset: r.get::<_, i64>(1)? as u64, len: r.get(2)? })
        })?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn delete_file(&self, id: &str, now: i64) -> Result<bool> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        release_chunks(&tx, id, now)?;
        let n = tx.execute("DELETE FROM files WHERE id = ?1", [id])?;
        tx.commit()?;
        Ok(n == 1)
    }

    fn set_public(&self, id: &str, public: bool) -> Result<()> {
        self.conn().execute("UPDATE files SET public = ?2 WHERE id = ?1", params![id, public])?;
        Ok(())
    }

    fn mark_damaged(&self, id: &str, damaged: bool) -> Result<()> {
        self.conn().execute("UPDATE files SET damaged = ?2 WHERE id = ?1", params![id, damaged])?;
        Ok(())
    }

    fn list(&self, by: ListBy<'_>, viewer: Viewer<'_>, now: i64) -> Result<Vec<FileRecord>> {
        let (col, val) = match by {
            ListBy::Owner(o) => ("owner", o.to_string()),
            ListBy::Extension(e) => ("extension", e.to_ascii_lowercase()),
            ListBy::BaseType(t) => ("base_type", base_type(t)),
        };
        let (user, admin) = match viewer {
            Viewer::Admin => (String::new(), true),
            Viewer::User(u) => (u.to_string(), false),
        };
        let c = self.conn();
        let mut st = c.prepare_cached(&format!(
            "SELECT {FILE_COLS} FROM files WHERE {col} = ?1 AND (expires_at IS NULL OR expires_at > ?2)
             AND (?3 OR user_id = ?4 OR public = 1) ORDER BY created_at DESC, id LIMIT 1000"
        ))?;
        let rows = st.query_map(params![val, now, admin, user], file_row)?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn expired_files(&self, now: i64, limit: usize) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare_cached(
            "SELECT id FROM files WHERE expires_at IS NOT NULL AND expires_at <= ?1 LIMIT ?2",
        )?;
        let rows = st.query_map(params![now, limit as i64], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }

    fn all_file_ids(&self) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare("SELECT id FROM files ORDER BY id")?;
        let rows = st.query_map([], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}

impl MetadataStore for SqliteMeta {
    fn commit_file(&self, f: &FileRecord, chunks: &[ChunkRef], extras: CommitExtras<'_>) -> Result<()> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        tx.execute(
            &format!("INSERT INTO files ({FILE_COLS}, base_type) VALUES (?1,?2,?3,?4,?5,?6,?7,?8,?9,?10,?11,?12,?13,?14,?15,?16,?17)"),
            params![
                f.id, f.user_id, f.owner, f.filename, f.content_type, f.extension, f.size as i64, f.blake3,
                f.sha256, f.chunk_count, f.created_at, f.btl_days, f.expires_at, f.public, f.damaged, f.inline,
                base_type(&f.content_type)
            ],
        )?;
        {
            let mut rec = tx.prepare_cached(
                "INSERT INTO chunks (hash, size, stored_size, refcount) VALUES (?1, ?2, ?3, 0) ON CONFLICT(hash) DO NOTHING",
            )?;
            for (h, size, stored) in extras.new_chunks {
                rec.execute(params![&h[..], size, stored])?;
            }
            let mut ins = tx.prepare_cached(
                "INSERT INTO file_chunks (file_id, idx, hash, offset, len) VALUES (?1, ?2, ?3, ?4, ?5)",
            )?;
            let mut take = tx.prepare_cached(
                "UPDATE chunks SET refcount = refcount + 1, zero_since = NULL WHERE hash = ?1",
            )?;
            for (i, ch) in chunks.iter().enumerate() {
                ins.execute(params![f.id, i as i64, &ch.hash[..], ch.offset as i64, ch.len])?;
                if take.execute([&ch.hash[..]])? != 1 {
                    return Err(FileStoreError::Database(format!(
                        "chunk {} is not recorded",
                        crate::hex(&ch.hash)
                    )));
                }
            }
        }
        tx.execute(
            "INSERT INTO daily_uploads (user_id, day, count) VALUES (?1, ?2, 1)
             ON CONFLICT(user_id, day) DO UPDATE SET count = count + 1",
            params![f.user_id, extras.day],
        )?;
        if let Some((user, key)) = extras.idempotency {
            tx.execute(
                "UPDATE idempotency SET state = 'done', fingerprint = ?3, file_id = ?4 WHERE user_id = ?1 AND key = ?2",
                params![user, key, extras.fingerprint, f.id],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    fn ping(&self) -> Result<()> {
        self.conn().query_row("SELECT 1", [], |_| Ok(()))?;
        Ok(())
    }
}
