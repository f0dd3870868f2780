//! The SQLite side of what requests keep between them: usage figures, idempotency keys and tus
//! upload state.

use super::SqliteMeta;
use crate::error::Result;
use crate::meta::*;
use crate::random_id;
use rusqlite::{OptionalExtension, params};

impl Accounting for SqliteMeta {
    fn usage(&self, user_id: &str, day: i64, now: i64) -> Result<Usage> {
        let c = self.conn();
        let stored: i64 = c.query_row(
            "SELECT COALESCE(SUM(size), 0) FROM files WHERE user_id = ?1 AND (expires_at IS NULL OR expires_at > ?2)",
            params![user_id, now],
            |r| r.get(0),
        )?;
        let (reserved, in_progress): (i64, i64) = c.query_row(
            "SELECT COALESCE(SUM(length), 0), COUNT(*) FROM uploads
             WHERE user_id = ?1 AND file_id IS NULL AND expires_at > ?2",
            params![user_id, now],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )?;
        let today: i64 = c
            .query_row(
                "SELECT count FROM daily_uploads WHERE user_id = ?1 AND day = ?2",
                params![user_id, day],
                |r| r.get(0),
            )
            .optional()?
            .unwrap_or(0);
        Ok(Usage {
            stored: stored as u64,
            reserved: reserved as u64,
            today: today as u64,
            in_progress: in_progress as u64,
        })
    }

    fn totals(&self) -> Result<StoreTotals> {
        let c = self.conn();
        let (files, file_bytes): (i64, i64) =
            c.query_row("SELECT COUNT(*), COALESCE(SUM(size), 0) FROM files", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let (chunks, chunk_bytes): (i64, i64) =
            c.query_row("SELECT COUNT(*), COALESCE(SUM(stored_size), 0) FROM chunks", [], |r| {
                Ok((r.get(0)?, r.get(1)?))
            })?;
        let n = |v: i64| v.max(0) as u64;
        Ok(StoreTotals {
            files: n(files),
            file_bytes: n(file_bytes),
            chunks: n(chunks),
            chunk_bytes: n(chunk_bytes),
        })
    }
}

impl IdempotencyStore for SqliteMeta {
    fn idem_begin(&self, user_id: &str, key: &str, now: i64) -> Result<IdemState> {
        let mut c = self.conn();
        let tx = c.transaction()?;
        let existing = tx
            .query_row(
                "SELECT state, fingerprint, file_id FROM idempotency WHERE user_id = ?1 AND key = ?2",
                params![user_id, key],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?;
        let state = match existing {
            Some((s, Some(fp), file_id)) if s == "done" => IdemState::Done { file_id, fingerprint: fp },
            Some((_, _, file_id)) => IdemState::InFlight { file_id },
            None => {
                let file_id = random_id();
                tx.execute(
                    "INSERT INTO idempotency (user_id, key, state, file_id, created_at) VALUES (?1, ?2, 'pending', ?3, ?4)",
                    params![user_id, key, file_id, now],
                )?;
                IdemState::Fresh { file_id }
            }
        };
        tx.commit()?;
        Ok(state)
    }

    fn idem_abort(&self, user_id: &str, key: &str) -> Result<()> {
        self.conn().execute(
            "DELETE FROM idempotency WHERE user_id = ?1 AND key = ?2 AND state = 'pending'",
            params![user_id, key],
        )?;
        Ok(())
    }

    fn idem_get(&self, user_id: &str, key: &str) -> Result<Option<IdemState>> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT state, fingerprint, file_id FROM idempotency WHERE user_id = ?1 AND key = ?2",
                params![user_id, key],
                |r| Ok((r.get::<_, String>(0)?, r.get::<_, Option<String>>(1)?, r.get::<_, String>(2)?)),
            )
            .optional()?;
        Ok(row.map(|(s, fp, file_id)| match (s.as_str(), fp) {
            ("done", Some(fingerprint)) => IdemState::Done { file_id, fingerprint },
            _ => IdemState::InFlight { file_id },
        }))
    }

    fn idem_prune(&self, cutoff: i64, drop_in_flight: bool) -> Result<()> {
        self.conn().execute(
            "DELETE FROM idempotency WHERE created_at < ?1 OR (?2 AND state = 'pending')",
            params![cutoff, drop_in_flight],
        )?;
        Ok(())
    }
}

impl UploadStore for SqliteMeta {
    fn upload_create(&self, u: &UploadRecord) -> Result<()> {
        let meta = serde_json::to_string(&u.metadata).unwrap_or_else(|_| "[]".into());
        self.conn().execute(
            "INSERT INTO uploads (id, user_id, length, offset, metadata, created_at, expires_at, file_id)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                u.id,
                u.user_id,
                u.length.map(|l| l as i64),
                u.offset as i64,
                meta,
                u.created_at,
                u.expires_at,
                u.file_id
            ],
        )?;
        Ok(())
    }

    fn upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        let c = self.conn();
        let row = c
            .query_row(
                "SELECT id, user_id, length, offset, metadata, created_at, expires_at, file_id FROM uploads WHERE id = ?1",
                [id],
                |r| {
                    let meta: String = r.get(4)?;
                    Ok(UploadRecord {
                        id: r.get(0)?,
                        user_id: r.get(1)?,
                        length: r.get::<_, Option<i64>>(2)?.map(|l| l as u64),
                        offset: r.get::<_, i64>(3)? as u64,
                        metadata: serde_json::from_str(&meta).unwrap_or_default(),
                        created_at: r.get(5)?,
                        expires_at: r.get(6)?,
                        file_id: r.get(7)?,
                    })
                },
            )
            .optional()?;
        Ok(row)
    }

    fn upload_set_offset(&self, id: &str, offset: u64, expires_at: i64) -> Result<()> {
        self.conn().execute(
            "UPDATE uploads SET offset = ?2, expires_at = ?3 WHERE id = ?1",
            params![id, offset as i64, expires_at],
        )?;
        Ok(())
    }

    fn upload_set_file(&self, id: &str, file_id: &str) -> Result<()> {
        self.conn().execute("UPDATE uploads SET file_id = ?2 WHERE id = ?1", params![id, file_id])?;
        Ok(())
    }

    fn upload_delete(&self, id: &str) -> Result<()> {
        self.conn().execute("DELETE FROM uploads WHERE id = ?1", [id])?;
        Ok(())
    }

    fn expired_uploads(&self, now: i64) -> Result<Vec<String>> {
        let c = self.conn();
        let mut st = c.prepare_cached("SELECT id FROM uploads WHERE expires_at <= ?1")?;
        let rows = st.query_map([now], |r| r.get(0))?;
        Ok(rows.collect::<rusqlite::Result<_>>()?)
    }
}
