//! One behaviour suite for every `Database` backend: each case is a short story written against
//! `&dyn Database`, and `for_each_backend!` runs every case on SQLite and in memory (the pattern of
//! atuin's database story tests). A new backend adds one `mod` to the macro. What only SQLite has
//! (sealing at rest, key rotation, migrations, triggers) is tested beside it in `sqlite.rs`.

use super::{Database, MemoryDatabase, SqliteDatabase};
use crate::audit::AuditEntry;
use crate::error::NotebookError;
use crate::seal::SealKey;
use serde_json::json;
use std::collections::BTreeMap;

fn sqlite() -> (tempfile::TempDir, SqliteDatabase) {
    let dir = tempfile::tempdir().unwrap();
    let db =
        SqliteDatabase::open(&dir.path().join("q.db"), SealKey::from_hex(&"ab".repeat(32)).unwrap()).unwrap();
    (dir, db)
}

macro_rules! for_each_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { let (_dir, db) = super::sqlite(); super::$case(&db) })*
        }
        mod memory {
            $(#[test] fn $case() { super::$case(&super::MemoryDatabase::new()) })*
        }
    };
}

for_each_backend!(
    secrets_story,
    secret_errors_change_nothing,
    listings_are_sorted_by_name,
    settings_merge_and_clear,
    sensitive_settings_read_back_as_written,
    stamps_match_only_the_approved_content,
    forgetting_a_notebook_drops_its_links_and_stamp_only,
    browser_sessions_expire_follow_the_token_and_clear,
    sessions_refresh_at_most_once_a_minute,
    trimming_sessions_keeps_the_most_recently_seen_and_the_newest_on_a_tie,
    audit_counts_and_prunes_oldest_first,
    audit_ids_grow_and_limits_hold,
);

fn patch(pairs: &[(&str, serde_json::Value)]) -> BTreeMap<String, serde_json::Value> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
}

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

fn secrets_story(db: &dyn Database) {
    let first = db.upsert_secret("A", "1").unwrap();
    let again = db.upsert_secret("A", "2").unwrap();
    assert_eq!((again.id, again.value.as_str()), (first.id, "2"), "an upsert keeps the id");
    db.link_secret("A", "nb1").unwrap();
    db.link_secret("A", "nb1").unwrap();
    let s = db.rename_secret("A", "B", "3").unwrap();
    assert_eq!(s.notebook_ids, vec!["nb1".to_string()], "rename keeps links");
    assert_eq!(s.id, first.id, "and the id");
    assert_eq!(db.notebook_secrets("nb1").unwrap(), vec![("B".into(), "3".into())]);
    assert!(matches!(db.link_secret("missing", "nb1"), Err(NotebookError::SecretNotFound(_))));
    assert!(db.delete_secret("B").unwrap());
    assert!(db.notebook_secrets("nb1").unwrap().is_empty(), "links cascade");
    assert!(db.secrets().unwrap().is_empty());
    let c = db.upsert_secret("B", "4").unwrap();
    assert!(c.id > first.id, "ids are never reused");
    assert!(c.notebook_ids.is_empty(), "a new secret of an old name has none of its links");
}

fn secret_errors_change_nothing(db: &dyn Database) {
    db.upsert_secret("A", "1").unwrap();
    db.upsert_secret("B", "2").unwrap();
    db.link_secret("A", "nb").unwrap();
    assert!(
        matches!(db.rename_secret("missing", "C", "x"), Err(NotebookError::SecretNotFound(n)) if n == "missing")
    );
    assert!(matches!(db.rename_secret("A", "B", "x"), Err(NotebookError::FilenameTaken(_))));
    assert!(matches!(db.unlink_secret("missing", "nb"), Err(NotebookError::SecretNotFound(_))));
    assert!(!db.delete_secret("missing").unwrap());
    db.unlink_secret("B", "nb").unwrap(); // no such link: fine
    let names: Vec<(String, String)> = db.secrets().unwrap().into_iter().map(|s| (s.name, s.value)).collect();
    assert_eq!(names, vec![("A".into(), "1".into()), ("B".into(), "2".into())]);
    assert_eq!(db.notebook_secrets("nb").unwrap(), vec![("A".into(), "1".into())]);
    // Renaming to its own name only sets the value.
    let same = db.rename_secret("A", "A", "9").unwrap();
    assert_eq!((same.value.as_str(), same.notebook_ids.len()), ("9", 1));
    db.unlink_secret("A", "nb").unwrap();
    assert!(db.notebook_secrets("nb").unwrap().is_empty());
}

fn listings_are_sorted_by_name(db: &dyn Database) {
    for name in ["b", "B", "a_1", "A"] {
        db.upsert_secret(name, name).unwrap();
        db.link_secret(name, "nb").unwrap();
    }
    for nb in ["z", "nb2", "a"] {
        db.link_secret("A", nb).unwrap();
    }
    let names: Vec<String> = db.secrets().unwrap().into_iter().map(|s| s.name).collect();
    assert_eq!(names, ["A", "B", "a_1", "b"], "byte order");
    let linked: Vec<String> = db.notebook_secrets("nb").unwrap().into_iter().map(|(n, _)| n).collect();
    assert_eq!(linked, names);
    assert_eq!(db.secrets().unwrap()[0].notebook_ids, ["a", "nb", "nb2", "z"]);
}

fn settings_merge_and_clear(db: &dyn Database) {
    db.update_settings(&patch(&[("aiModel", json!("gpt")), ("openaiKey", json!("sk-1"))])).unwrap();
    db.update_settings(&patch(&[("openaiKey", serde_json::Value::Null)])).unwrap();
    let s = db.settings().unwrap();
    assert_eq!(s.get("aiModel"), Some(&json!("gpt")));
    assert!(!s.contains_key("openaiKey"));
    // Clearing a key that is not there is fine; other JSON values keep their shape.
    db.update_settings(&patch(&[("nothing", serde_json::Value::Null), ("n", json!({"a": [1, 2.5, true]}))]))
        .unwrap();
    assert_eq!(
        db.settings().unwrap(),
        patch(&[("aiModel", json!("gpt")), ("n", json!({"a": [1, 2.5, true]}))])
    );
}

fn sensitive_settings_read_back_as_written(db: &dyn Database) {
    db.update_settings(&patch(&[("openaiKey", json!("sk-live-123")), ("anthropicKey", json!(null))]))
        .unwrap();
    db.update_settings(&patch(&[("xaiKey", json!(""))])).unwrap();
    let s = db.settings().unwrap();
    assert_eq!(s, patch(&[("openaiKey", json!("sk-live-123")), ("xaiKey", json!(""))]));
}

fn stamps_match_only_the_approved_content(db: &dyn Database) {
    assert!(!db.stamp_matches("nb", &[1; 32]).unwrap(), "never stamped");
    db.stamp("nb", &[1; 32]).unwrap();
    assert!(db.stamp_matches("nb", &[1; 32]).unwrap());
    assert!(!db.stamp_matches("nb", &[2; 32]).unwrap(), "other content");
    assert!(!db.stamp_matches("other", &[1; 32]).unwrap(), "other notebook");
    db.stamp("nb", &[2; 32]).unwrap();
    assert!(!db.stamp_matches("nb", &[1; 32]).unwrap(), "a new stamp replaces the old");
    assert!(db.stamp_matches("nb", &[2; 32]).unwrap());
    db.unstamp("nb").unwrap();
    db.unstamp("nb").unwrap();
    assert!(!db.stamp_matches("nb", &[2; 32]).unwrap());
    db.ping().unwrap();
}

fn forgetting_a_notebook_drops_its_links_and_stamp_only(db: &dyn Database) {
    db.upsert_secret("A", "1").unwrap();
    for nb in ["gone", "kept"] {
        db.link_secret("A", nb).unwrap();
        db.stamp(nb, &[3; 32]).unwrap();
    }
    db.forget_notebook("gone").unwrap();
    assert!(db.notebook_secrets("gone").unwrap().is_empty());
    assert!(!db.stamp_matches("gone", &[3; 32]).unwrap());
    assert_eq!(db.notebook_secrets("kept").unwrap(), vec![("A".into(), "1".into())]);
    assert!(db.stamp_matches("kept", &[3; 32]).unwrap());
    assert_eq!(db.secrets().unwrap()[0].notebook_ids, ["kept"]);
    db.forget_notebook("never-there").unwrap();
}

fn browser_sessions_expire_follow_the_token_and_clear(db: &dyn Database) {
    db.session_create("s1", "tok", 1_000, 2).unwrap();
    assert!(db.session_check("s1", "tok", 2_000, 10_000).unwrap());
    assert!(!db.session_check("s1", "other-token", 2_000, 10_000).unwrap(), "a new token signs out");
    assert!(!db.session_check("s1", "tok", 2_000, 10_000).unwrap(), "and the session is gone");
    db.session_create("s2", "tok", 1_000, 2).unwrap();
    assert!(!db.session_check("s2", "tok", 20_000, 10_000).unwrap(), "idle too long");
    assert!(!db.session_check("s2", "tok", 2_000, 10_000).unwrap(), "and forgotten");
    assert!(!db.session_check("never", "tok", 2_000, 10_000).unwrap());
    for s in ["a", "b", "c"] {
        db.session_create(s, "tok", 5_000, 2).unwrap();
    }
    assert_eq!(db.sessions_clear().unwrap(), 2, "bounded");
    assert_eq!(db.sessions_clear().unwrap(), 0);
    assert!(!db.session_check("c", "tok", 5_000, 10_000).unwrap(), "cleared");
}

fn sessions_refresh_at_most_once_a_minute(db: &dyn Database) {
    let idle = 100_000;
    db.session_create("quiet", "tok", 0, 5).unwrap();
    db.session_create("busy", "tok", 0, 5).unwrap();
    // 50 s: within a minute, so not refreshed; at 120 s it has been idle 120 s.
    assert!(db.session_check("quiet", "tok", 50_000, idle).unwrap());
    assert!(!db.session_check("quiet", "tok", 120_000, idle).unwrap(), "the 50 s check did not refresh it");
    // 70 s: refreshed, so at 150 s it has been idle only 80 s.
    assert!(db.session_check("busy", "tok", 70_000, idle).unwrap());
    assert!(db.session_check("busy", "tok", 150_000, idle).unwrap());
    // Exactly `idle` is still signed in.
    db.session_create("edge", "tok", 0, 5).unwrap();
    assert!(db.session_check("edge", "tok", idle, idle).unwrap());
}

fn trimming_sessions_keeps_the_most_recently_seen_and_the_newest_on_a_tie(db: &dyn Database) {
    db.session_create("a", "tok", 0, 2).unwrap();
    db.session_create("b", "tok", 1_000, 2).unwrap();
    assert!(db.session_check("a", "tok", 70_000, u64::MAX).unwrap()); // seen again: refreshed
    db.session_create("c", "tok", 70_000, 2).unwrap();
    assert!(!db.session_check("b", "tok", 70_000, u64::MAX).unwrap(), "least recently seen goes");
    assert!(db.session_check("a", "tok", 70_000, u64::MAX).unwrap());
    // Same millisecond: the session just made is never the one signed out.
    for s in ["d", "e", "f"] {
        db.session_create(s, "tok", 80_000, 1).unwrap();
        assert!(db.session_check(s, "tok", 80_000, u64::MAX).unwrap(), "{s} was just made");
    }
    // Creating an existing session again restarts it.
    db.session_create("f", "tok", 90_000, 1).unwrap();
    assert!(db.session_check("f", "tok", 90_000, 0).unwrap());
    db.session_create("g", "tok", 90_000, 0).unwrap();
    assert_eq!(db.sessions_clear().unwrap(), 0, "keep 0 keeps none");
}

fn audit_counts_and_prunes_oldest_first(db: &dyn Database) {
    let id = db.audit(&entry(1)).unwrap();
    db.audit_add_count(id, 4).unwrap();
    assert_eq!(db.audit_log(10).unwrap(), vec![AuditEntry { count: 5, ..entry(1) }]);
    for t in 2..=10 {
        db.audit(&entry(t)).unwrap();
    }
    // Older than 3 ms: two rows; then at most 5 rows: three more.
    assert_eq!(db.audit_prune(3, 5).unwrap(), 5);
    let left: Vec<u64> = db.audit_log(10).unwrap().iter().map(|e| e.at_ms).collect();
    assert_eq!(left, vec![10, 9, 8, 7, 6]);
    // By age alone, then nothing to do.
    assert_eq!(db.audit_prune(8, 100).unwrap(), 2);
    assert_eq!(db.audit_prune(8, 100).unwrap(), 0);
    assert_eq!(db.audit_prune(0, 0).unwrap(), 3, "max 0 empties the log");
    assert!(db.audit_log(10).unwrap().is_empty());
}

fn audit_ids_grow_and_limits_hold(db: &dyn Database) {
    let a = db.audit(&AuditEntry { count: 0, ..entry(5) }).unwrap();
    let b = db.audit(&entry(1)).unwrap();
    assert!(b > a);
    db.audit_add_count(b + 100, 3).unwrap(); // unknown id: ignored
    let log = db.audit_log(10).unwrap();
    assert_eq!(log, vec![entry(1), entry(5)], "newest first by insertion, not by time; a count of 0 is 1");
    assert_eq!(db.audit_log(1).unwrap(), vec![entry(1)]);
    assert!(db.audit_log(0).unwrap().is_empty());
    // Retention drops the oldest rows by insertion: the row written first goes, though it is younger.
    assert_eq!(db.audit_prune(2, 100).unwrap(), 1);
    assert_eq!(db.audit_log(10).unwrap(), vec![entry(1)]);
    db.audit_prune(0, 0).unwrap();
    let c = db.audit(&entry(7)).unwrap();
    assert!(c > b, "ids are not reused, even once the log was emptied");
}
