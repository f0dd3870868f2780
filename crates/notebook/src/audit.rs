//! The audit table in `quire.db`. Written rows never change except their `count` (repeated failures
//! from one IP in one minute are one row), and rows leave only through retention, oldest first —
//! both enforced by triggers, so no code path can rewrite history.

use crate::error::Result;
use rusqlite::{Connection, params};
use rusqlite_migration::M;

/// Who did what, when, from where, and how it ended; `count` times (1 for most actions).
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuditEntry {
    pub at_ms: u64,
    pub actor: String,
    pub action: String,
    pub target: Option<String>,
    pub ip: Option<String>,
    pub outcome: String,
    pub count: u64,
}

/// Adds `count`; updates may touch only it; deletes may take only the oldest row.
pub(crate) const MIGRATION_COUNT_AND_RETENTION: M<'static> = M::up(
    "ALTER TABLE audit ADD COLUMN count INTEGER NOT NULL DEFAULT 1;
     DROP TRIGGER audit_no_update;
     DROP TRIGGER audit_no_delete;
     CREATE TRIGGER audit_no_update BEFORE UPDATE OF id, at_ms, actor, action, target, ip, outcome ON audit
         BEGIN SELECT RAISE(ABORT, 'the audit log is append-only'); END;
     CREATE TRIGGER audit_count_grows BEFORE UPDATE OF count ON audit WHEN NEW.count < OLD.count
         BEGIN SELECT RAISE(ABORT, 'an audit count only grows'); END;
     CREATE TRIGGER audit_oldest_first BEFORE DELETE ON audit WHEN OLD.id <> (SELECT MIN(id) FROM audit)
         BEGIN SELECT RAISE(ABORT, 'audit entries leave only by retention, oldest first'); END;",
);

pub(crate) fn insert(c: &Connection, e: &AuditEntry) -> Result<i64> {
    c.prepare_cached(
        "INSERT INTO audit (at_ms, actor, action, target, ip, outcome, count) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![e.at_ms as i64, e.actor, e.action, e.target, e.ip, e.outcome, e.count.max(1) as i64])?;
    Ok(c.last_insert_rowid())
}

pub(crate) fn add_count(c: &Connection, id: i64, more: u64) -> Result<()> {
    c.execute("UPDATE audit SET count = count + ?2 WHERE id = ?1", params![id, more as i64])?;
    Ok(())
}

pub(crate) fn newest(c: &Connection, limit: usize) -> Result<Vec<AuditEntry>> {
    let mut stmt = c.prepare_cached(
        "SELECT at_ms, actor, action, target, ip, outcome, count FROM audit ORDER BY id DESC LIMIT ?1",
    )?;
    let rows = stmt
        .query_map(params![limit as i64], |r| {
            Ok(AuditEntry {
                at_ms: r.get::<_, i64>(0)? as u64,
                actor: r.get(1)?,
                action: r.get(2)?,
                target: r.get(3)?,
                ip: r.get(4)?,
                outcome: r.get(5)?,
                count: r.get::<_, i64>(6)? as u64,
            })
        })?
        .collect::<rusqlite::Result<Vec<_>>>()?;
    Ok(rows)
}

/// Oldest first, one row at a time in id order (the trigger's rule), in one transaction.
pub(crate) fn prune(c: &Connection, before_ms: u64, max_rows: u64) -> Result<u64> {
    let tx = c.unchecked_transaction()?;
    let total: i64 = tx.query_row("SELECT COUNT(*) FROM audit", [], |r| r.get(0))?;
    let old: i64 =
        tx.query_row("SELECT COUNT(*) FROM audit WHERE at_ms < ?1", [before_ms as i64], |r| r.get(0))?;
    let over = (total - max_rows.min(i64::MAX as u64) as i64).max(0);
    let drop = old.max(over);
    let mut dropped = 0u64;
    {
        let mut del = tx.prepare_cached("DELETE FROM audit WHERE id = (SELECT MIN(id) FROM audit)")?;
        for _ in 0..drop {
            dropped += del.execute([])? as u64;
        }
    }
    tx.commit()?;
    Ok(dropped)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::prelude::*;
    use crate::{SealKey, SqliteDatabase};

    fn entry(at_ms: u64) -> AuditEntry {
        AuditEntry {
            at_ms,
            actor: "token".into(),
            action: "secret.delete".into(),
            target: Some("A".into()),
            ip: None,
            outcome: "ok".into(),
            count: 1,
        }
    }

    #[test]
    fn append_only_but_counted_and_pruned_oldest_first() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("q.db");
        let db = SqliteDatabase::open(&path, SealKey::from_hex(&"cd".repeat(32)).unwrap()).unwrap();
        let id = db.audit(&entry(1)).unwrap();
        db.audit_add_count(id, 4).unwrap();
        assert_eq!(db.audit_log(10).unwrap(), vec![AuditEntry { count: 5, ..entry(1) }]);
        let c = Connection::open(&path).unwrap();
        assert!(c.execute("UPDATE audit SET actor = 'x'", []).is_err());
        assert!(c.execute("UPDATE audit SET count = 1", []).is_err(), "a count never shrinks");
        for t in 2..=10 {
            db.audit(&entry(t)).unwrap();
        }
        assert!(c.execute("DELETE FROM audit WHERE at_ms = 5", []).is_err(), "only the oldest may go");
        // Older than 3 ms: two rows; then at most 5 rows: three more.
        assert_eq!(db.audit_prune(3, 5).unwrap(), 5);
        let left: Vec<u64> = db.audit_log(10).unwrap().iter().map(|e| e.at_ms).collect();
        assert_eq!(left, vec![10, 9, 8, 7, 6]);
    }
}
