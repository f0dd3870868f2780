//! The `MetadataStore` contracts, case by case, on both backends: what the store above relies on
//! (all-or-nothing commits, refcounts and the GC grace period, listings, usage, idempotency keys, tus
//! state) checked at the trait itself, so a new backend learns of a difference here first.

use crate::memory::MemoryMeta;
use crate::meta::*;
use crate::sqlite::SqliteMeta;
use crate::tests::{Backend, for_each_backend};
use crate::{FileStoreError, Hash};

for_each_backend!(
    a_failed_commit_changes_nothing,
    commit_takes_references_counts_the_day_and_completes_the_key,
    deleting_releases_references_and_gc_waits_for_the_grace_period,
    recording_a_chunk_restarts_its_grace_only_at_count_zero,
    listings_filter_hide_and_order,
    usage_counts_live_files_and_reservations_of_unfinished_uploads,
    totals_count_every_file_until_swept,
    idempotency_keys_move_from_fresh_to_in_flight_to_done,
    pruning_idempotency_keys,
    tus_state_round_trips_and_expires,
    walking_chunks_in_slices_and_finding_their_files,
    changes_to_unknown_files_are_no_ops,
);

impl Backend {
    fn meta(self) -> (tempfile::TempDir, Box<dyn MetadataStore>) {
        let dir = tempfile::tempdir().unwrap();
        let m: Box<dyn MetadataStore> = match self {
            Backend::Sqlite => Box::new(SqliteMeta::open(&dir.path().join("files.db")).unwrap()),
            Backend::Memory => Box::new(MemoryMeta::new()),
        };
        (dir, m)
    }
}

fn h(n: u8) -> Hash {
    [n; 32]
}

fn file(id: &str, user: &str, created_at: i64) -> FileRecord {
    FileRecord {
        id: id.into(),
        user_id: user.into(),
        owner: None,
        filename: format!("{id}.bin"),
        content_type: "application/octet-stream".into(),
        extension: "bin".into(),
        size: 100,
        blake3: "b3".into(),
        sha256: "s2".into(),
        chunk_count: 1,
        created_at,
        btl_days: None,
        expires_at: None,
        public: false,
        damaged: false,
        inline: None,
    }
}

fn refs(hashes: &[u8]) -> Vec<ChunkRef> {
    hashes.iter().enumerate().map(|(i, n)| ChunkRef { hash: h(*n), offset: i as u64 * 10, len: 10 }).collect()
}

fn extras<'a>(day: i64, new_chunks: &'a [(Hash, u32, u32)]) -> CommitExtras<'a> {
    CommitExtras { idempotency: None, fingerprint: "", day, new_chunks }
}

/// Commit `id` for `user` naming chunks `hashes`, recording them as new.
fn commit(m: &dyn MetadataStore, f: FileRecord, hashes: &[u8]) {
    let new: Vec<(Hash, u32, u32)> = hashes.iter().map(|n| (h(*n), 10, 7)).collect();
    m.commit_file(&f, &refs(hashes), extras(1, &new)).unwrap();
}

fn a_failed_commit_changes_nothing(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    m.record_chunk(&h(1), 10, 7, 5).unwrap();
    let key = match m.idem_begin("u", "k", 0).unwrap() {
        IdemState::Fresh { file_id } => file_id,
        other => panic!("{other:?}"),
    };
    let new = [(h(2), 10, 7)];
    let ex = CommitExtras { idempotency: Some(("u", "k")), fingerprint: "fp", day: 1, new_chunks: &new };
    // Chunk 3 is neither recorded nor new: the whole commit fails.
    let err = m.commit_file(&file(&key, "u", 1), &refs(&[1, 2, 3]), ex).unwrap_err();
    assert!(matches!(err, FileStoreError::Database(ref e) if e.contains("not recorded")), "{err}");
    assert_eq!(m.file(&key).unwrap(), None);
    assert!(m.file_chunks(&key).unwrap().is_empty());
    assert!(!m.chunk_exists(&h(2)).unwrap(), "the new chunk row rolled back too");
    assert_eq!(m.gc_candidates(6, 10).unwrap(), vec![h(1)], "no reference was taken");
    assert_eq!(m.usage("u", 1, 0).unwrap().today, 0, "the day is not counted");
    assert_eq!(m.idem_get("u", "k").unwrap(), Some(IdemState::InFlight { file_id: key.clone() }));
    assert_eq!(m.totals().unwrap(), StoreTotals { chunks: 1, chunk_bytes: 7, ..Default::default() });
    // A file id used twice: refused, and the first commit stands alone.
    commit(m, file("f", "u", 1), &[1]);
    let err = m.commit_file(&file("f", "u", 2), &refs(&[1]), extras(1, &[])).unwrap_err();
    assert!(matches!(err, FileStoreError::Database(_)), "{err}");
    assert_eq!(m.file("f").unwrap().unwrap().created_at, 1);
    assert_eq!(m.usage("u", 1, 0).unwrap().today, 1);
    m.delete_file("f", 10).unwrap();
    assert_eq!(m.gc_candidates(11, 10).unwrap(), vec![h(1)], "one reference had been taken, not two");
}

fn commit_takes_references_counts_the_day_and_completes_the_key(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let IdemState::Fresh { file_id } = m.idem_begin("u", "k", 0).unwrap() else { panic!() };
    let new = [(h(1), 10, 7), (h(2), 10, 7)];
    let ex = CommitExtras { idempotency: Some(("u", "k")), fingerprint: "fp", day: 3, new_chunks: &new };
    // A chunk named twice in one file counts twice.
    m.commit_file(&file(&file_id, "u", 1), &refs(&[1, 2, 1]), ex).unwrap();
    assert_eq!(m.file_chunks(&file_id).unwrap(), refs(&[1, 2, 1]), "in file order");
    assert_eq!(
        m.idem_get("u", "k").unwrap(),
        Some(IdemState::Done { file_id: file_id.clone(), fingerprint: "fp".into() })
    );
    assert_eq!((m.usage("u", 3, 0).unwrap().today, m.usage("u", 4, 0).unwrap().today), (1, 0));
    assert_eq!(m.usage("other", 3, 0).unwrap().today, 0);
    assert_eq!(m.rebuild_refcounts(0).unwrap(), 0, "counts match the manifests");
    assert_eq!(m.files_with_chunk(&h(1)).unwrap(), vec![file_id.clone()], "once, though named twice");
    m.delete_file(&file_id, 5).unwrap();
    let mut gone = m.gc_candidates(6, 10).unwrap();
    gone.sort();
    assert_eq!(gone, vec![h(1), h(2)], "both references of chunk 1 released");
    m.ping().unwrap();
}

fn deleting_releases_references_and_gc_waits_for_the_grace_period(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    commit(m, file("a", "u", 1), &[1, 2]);
    m.commit_file(&file("b", "u", 2), &refs(&[2]), extras(1, &[])).unwrap();
    assert!(m.gc_candidates(i64::MAX, 10).unwrap().is_empty());
    assert!(m.delete_file("a", 100).unwrap());
    assert!(!m.delete_file("a", 100).unwrap(), "already gone");
    assert_eq!(m.gc_candidates(101, 10).unwrap(), vec![h(1)], "chunk 2 is still used by b");
    assert!(m.gc_candidates(100, 10).unwrap().is_empty(), "not before the grace period ends");
    assert!(!m.forget_chunk(&h(1), 100).unwrap());
    assert!(!m.forget_chunk(&h(2), 101).unwrap(), "a referenced chunk is never forgotten");
    assert!(m.forget_chunk(&h(1), 101).unwrap());
    assert!(!m.chunk_exists(&h(1)).unwrap());
    // A dedup against a chunk at count 0 takes it back out of GC.
    m.delete_file("b", 200).unwrap();
    m.commit_file(&file("c", "u", 3), &refs(&[2]), extras(1, &[])).unwrap();
    assert!(m.gc_candidates(i64::MAX, 10).unwrap().is_empty());
    assert_eq!(m.rebuild_refcounts(300).unwrap(), 0);
}

fn recording_a_chunk_restarts_its_grace_only_at_count_zero(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    m.record_chunk(&h(1), 10, 7, 10).unwrap();
    assert!(m.chunk_exists(&h(1)).unwrap());
    assert_eq!(m.gc_candidates(11, 10).unwrap(), vec![h(1)]);
    m.record_chunk(&h(1), 99, 99, 20).unwrap();
    assert!(m.gc_candidates(11, 10).unwrap().is_empty(), "its grace period started again");
    assert_eq!(m.all_chunks().unwrap(), vec![(h(1), 10)], "a recorded chunk keeps its sizes");
    m.commit_file(&file("f", "u", 1), &refs(&[1]), extras(1, &[])).unwrap();
    m.record_chunk(&h(1), 10, 7, 30).unwrap();
    assert!(m.gc_candidates(i64::MAX, 10).unwrap().is_empty(), "a referenced chunk stays out of GC");
    for n in 2..=5 {
        m.record_chunk(&h(n), 1, 1, 0).unwrap();
    }
    assert_eq!(m.gc_candidates(1, 2).unwrap().len(), 2, "the limit holds");
}

fn listings_filter_hide_and_order(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let mk = |id: &str, user: &str, at: i64, f: &dyn Fn(&mut FileRecord)| {
        let mut r = file(id, user, at);
        r.owner = Some("team".into());
        r.content_type = "text/plain; charset=utf-8".into();
        r.extension = "txt".into();
        f(&mut r);
        m.commit_file(&r, &[], extras(1, &[])).unwrap();
    };
    mk("b", "u", 5, &|_| {});
    mk("a", "u", 5, &|_| {});
    mk("c", "u", 9, &|_| {});
    mk("theirs", "v", 7, &|_| {});
    mk("shared", "v", 6, &|r| r.public = true);
    mk("old", "u", 8, &|r| r.expires_at = Some(50));
    mk("nobody", "u", 4, &|r| r.owner = None);
    let ids =
        |by, viewer| -> Vec<String> { m.list(by, viewer, 50).unwrap().into_iter().map(|f| f.id).collect() };
    assert_eq!(
        ids(ListBy::Owner("team"), Viewer::User("u")),
        ["c", "shared", "a", "b"],
        "newest first, then id"
    );
    assert_eq!(ids(ListBy::Owner("team"), Viewer::Admin), ["c", "theirs", "shared", "a", "b"]);
    assert_eq!(ids(ListBy::Extension("TXT"), Viewer::User("v")), ["theirs", "shared"]);
    assert_eq!(ids(ListBy::BaseType(" Text/Plain ;q=1"), Viewer::User("u")).len(), 5);
    assert!(ids(ListBy::BaseType("text/html"), Viewer::Admin).is_empty());
    let before = m.list(ListBy::Owner("team"), Viewer::Admin, 49).unwrap();
    assert!(before.iter().any(|f| f.id == "old"), "live until it expires");
    assert_eq!(m.expired_files(50, 10).unwrap(), vec!["old".to_string()]);
    assert!(m.expired_files(49, 10).unwrap().is_empty());
    assert_eq!(m.all_file_ids().unwrap(), ["a", "b", "c", "nobody", "old", "shared", "theirs"]);
}

fn usage_counts_live_files_and_reservations_of_unfinished_uploads(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let mut live = file("live", "u", 1);
    live.size = 1000;
    let mut expired = file("expired", "u", 1);
    expired.expires_at = Some(10);
    m.commit_file(&live, &[], extras(1, &[])).unwrap();
    m.commit_file(&expired, &[], extras(1, &[])).unwrap();
    let up = |id: &str, length: Option<u64>, expires_at: i64, file_id: Option<&str>| UploadRecord {
        id: id.into(),
        user_id: "u".into(),
        length,
        offset: 0,
        metadata: vec![],
        created_at: 0,
        expires_at,
        file_id: file_id.map(str::to_string),
    };
    m.upload_create(&up("declared", Some(300), 100, None)).unwrap();
    m.upload_create(&up("deferred", None, 100, None)).unwrap();
    m.upload_create(&up("done", Some(5000), 100, Some("live"))).unwrap();
    m.upload_create(&up("stale", Some(7000), 20, None)).unwrap();
    let u = m.usage("u", 1, 50).unwrap();
    assert_eq!(u, Usage { stored: 1000, reserved: 300, today: 2, in_progress: 2 });
    assert_eq!(u.used(), 1300);
    assert_eq!(m.usage("u", 1, 5).unwrap().stored, 1100, "before the expiry");
    assert_eq!(m.usage("nobody", 1, 50).unwrap(), Usage::default());
}

fn totals_count_every_file_until_swept(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let mut f = file("e", "u", 1);
    f.expires_at = Some(1);
    let new = [(h(1), 10, 4), (h(2), 10, 6)];
    m.commit_file(&f, &refs(&[1, 2]), extras(1, &new)).unwrap();
    m.commit_file(&file("f", "u", 1), &refs(&[1]), extras(1, &[])).unwrap();
    assert_eq!(m.totals().unwrap(), StoreTotals { files: 2, file_bytes: 200, chunks: 2, chunk_bytes: 10 });
    m.delete_file("e", 5).unwrap();
    assert_eq!(m.totals().unwrap(), StoreTotals { files: 1, file_bytes: 100, chunks: 2, chunk_bytes: 10 });
}

fn idempotency_keys_move_from_fresh_to_in_flight_to_done(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    assert_eq!(m.idem_get("u", "k").unwrap(), None);
    let IdemState::Fresh { file_id } = m.idem_begin("u", "k", 0).unwrap() else { panic!() };
    assert_eq!(m.idem_begin("u", "k", 1).unwrap(), IdemState::InFlight { file_id: file_id.clone() });
    assert!(matches!(m.idem_begin("v", "k", 1).unwrap(), IdemState::Fresh { .. }), "per user");
    m.idem_abort("u", "k").unwrap();
    assert_eq!(m.idem_get("u", "k").unwrap(), None, "released");
    let IdemState::Fresh { file_id: again } = m.idem_begin("u", "k", 2).unwrap() else { panic!() };
    assert_ne!(again, file_id, "a new file id each time a key is taken");
    let ex = CommitExtras { idempotency: Some(("u", "k")), fingerprint: "fp", day: 1, new_chunks: &[] };
    m.commit_file(&file(&again, "u", 1), &[], ex).unwrap();
    let done = IdemState::Done { file_id: again.clone(), fingerprint: "fp".into() };
    assert_eq!(m.idem_begin("u", "k", 3).unwrap(), done);
    m.idem_abort("u", "k").unwrap();
    assert_eq!(m.idem_get("u", "k").unwrap(), Some(done), "a completed key is not released");
}

fn pruning_idempotency_keys(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    m.idem_begin("u", "old-pending", 1).unwrap();
    m.idem_begin("u", "new-pending", 10).unwrap();
    let IdemState::Fresh { file_id } = m.idem_begin("u", "new-done", 10).unwrap() else { panic!() };
    let ex =
        CommitExtras { idempotency: Some(("u", "new-done")), fingerprint: "fp", day: 1, new_chunks: &[] };
    m.commit_file(&file(&file_id, "u", 1), &[], ex).unwrap();
    m.idem_prune(5, false).unwrap();
    assert_eq!(m.idem_get("u", "old-pending").unwrap(), None, "older than the cutoff");
    assert!(m.idem_get("u", "new-pending").unwrap().is_some());
    m.idem_prune(5, true).unwrap();
    assert_eq!(m.idem_get("u", "new-pending").unwrap(), None, "in flight at startup: its request died");
    assert!(matches!(m.idem_get("u", "new-done").unwrap(), Some(IdemState::Done { .. })));
    m.idem_prune(11, false).unwrap();
    assert_eq!(m.idem_get("u", "new-done").unwrap(), None);
}

fn tus_state_round_trips_and_expires(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let rec = UploadRecord {
        id: "up".into(),
        user_id: "u".into(),
        length: Some(1 << 40),
        offset: 0,
        metadata: vec![("filename".into(), "a b.txt".into()), ("filename".into(), "dup".into())],
        created_at: 1,
        expires_at: 100,
        file_id: None,
    };
    m.upload_create(&rec).unwrap();
    assert!(m.upload_create(&rec).is_err(), "an id is used once");
    assert_eq!(m.upload("up").unwrap(), Some(rec.clone()));
    m.upload_set_offset("up", 4096, 200).unwrap();
    assert!(m.expired_uploads(100).unwrap().is_empty(), "progress extended it");
    m.upload_set_file("up", "file-1").unwrap();
    let got = m.upload("up").unwrap().unwrap();
    assert_eq!((got.offset, got.expires_at, got.file_id.as_deref()), (4096, 200, Some("file-1")));
    assert_eq!(m.expired_uploads(200).unwrap(), vec!["up".to_string()], "finished ones expire too");
    m.upload_delete("up").unwrap();
    m.upload_delete("up").unwrap();
    assert_eq!(m.upload("up").unwrap(), None);
    m.upload_set_offset("missing", 1, 1).unwrap();
    assert_eq!(m.upload("missing").unwrap(), None);
}

fn walking_chunks_in_slices_and_finding_their_files(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    let new: Vec<(Hash, u32, u32)> = (1..=5).map(|n| (h(n), 100 + u32::from(n), u32::from(n))).collect();
    m.commit_file(&file("x", "u", 1), &refs(&[5, 3, 1]), extras(1, &new)).unwrap();
    m.commit_file(&file("y", "u", 1), &refs(&[3]), extras(1, &[])).unwrap();
    let mut walked = Vec::new();
    let mut cursor = None;
    loop {
        let slice = m.chunks_after(cursor.as_ref(), 2).unwrap();
        let Some(last) = slice.last() else { break };
        cursor = Some(last.0);
        walked.extend(slice);
    }
    assert_eq!(walked, (1..=5).map(|n| (h(n), u64::from(n))).collect::<Vec<_>>(), "hash order, stored sizes");
    assert_eq!(m.all_chunks().unwrap(), (1..=5).map(|n| (h(n), 100 + u64::from(n))).collect::<Vec<_>>());
    let mut with3 = m.files_with_chunk(&h(3)).unwrap();
    with3.sort();
    assert_eq!(with3, ["x", "y"]);
    assert!(m.files_with_chunk(&h(2)).unwrap().is_empty());
}

fn changes_to_unknown_files_are_no_ops(b: Backend) {
    let (_d, m) = b.meta();
    let m = m.as_ref();
    m.set_public("nope", true).unwrap();
    m.mark_damaged("nope", true).unwrap();
    assert!(!m.delete_file("nope", 1).unwrap());
    assert!(m.file_chunks("nope").unwrap().is_empty());
    commit(m, file("f", "u", 1), &[1]);
    m.set_public("f", true).unwrap();
    m.mark_damaged("f", true).unwrap();
    let f = m.file("f").unwrap().unwrap();
    assert!(f.public && f.damaged);
    m.mark_damaged("f", false).unwrap();
    assert!(!m.file("f").unwrap().unwrap().damaged);
    assert_eq!(m.all_file_ids().unwrap(), ["f"]);
}
