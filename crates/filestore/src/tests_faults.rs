//! Hardening of the store (issue 14): what a failed write leaves behind, and what uploads in
//! progress count against the quota, the daily limit and their own cap.

use crate::blob::{BlobStore, LocalBlobStore};
use crate::tests::{Backend, for_each_backend, noise};
use crate::*;
use std::io::Cursor;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Chunk bodies on disk, until `ok_puts` writes have succeeded: then "disk full".
struct FillsUp {
    inner: LocalBlobStore,
    ok_puts: AtomicUsize,
}

impl BlobStore for FillsUp {
    fn put(&self, hash: &Hash, stored: &[u8]) -> Result<()> {
        if self.ok_puts.fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1)).is_err() {
            return Err(FileStoreError::Io(std::io::Error::from_raw_os_error(28)));
        }
        self.inner.put(hash, stored)
    }
    fn sync(&self, hashes: &[Hash]) -> Result<()> {
        self.inner.sync(hashes)
    }
    fn get(&self, hash: &Hash) -> Result<Option<Vec<u8>>> {
        self.inner.get(hash)
    }
    fn exists(&self, hash: &Hash) -> Result<bool> {
        self.inner.exists(hash)
    }
    fn delete(&self, hash: &Hash) -> Result<()> {
        self.inner.delete(hash)
    }
    fn list(&self) -> Result<Vec<Hash>> {
        self.inner.list()
    }
    fn quarantine(&self, hash: &Hash) -> Result<()> {
        self.inner.quarantine(hash)
    }
}

fn user(id: &str) -> Actor {
    Actor { user_id: id.into(), admin: false }
}

fn nf() -> NewFile {
    NewFile {
        filename: "x.bin".into(),
        content_type: "application/octet-stream".into(),
        ..Default::default()
    }
}

for_each_backend!(
    a_failed_upload_frees_every_chunk_it_wrote_even_those_of_the_writer_that_failed,
    uploads_in_progress_reserve_quota_count_today_and_are_capped,
    the_daily_limit_counts_uploads_in_progress_and_is_checked_again_at_commit,
    an_upload_expires_after_a_quiet_hour_and_each_write_extends_it,
);

fn a_failed_upload_frees_every_chunk_it_wrote_even_those_of_the_writer_that_failed(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let blobs = Arc::new(FillsUp {
        inner: LocalBlobStore::open(&dir.path().join("chunks")).unwrap(),
        ok_puts: AtomicUsize::new(20),
    });
    let cfg = StoreConfig { chunk: ChunkParams { min: 4096, avg: 16384, max: 65536 }, ..Default::default() };
    let s = b.open_with_blobs(dir.path(), cfg, blobs.clone());
    let err = s.put(&user("u"), &mut Cursor::new(noise(4 << 20, 7)), nf(), None).unwrap_err();
    assert!(err.is_storage_full(), "{err}");
    assert_eq!(blobs.list().unwrap(), Vec::<Hash>::new(), "no chunk of the failed upload is left");
}

fn uploads_in_progress_reserve_quota_count_today_and_are_capped(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StoreConfig { quota_bytes: 1 << 20, max_uploads_in_progress: 2, ..Default::default() };
    let s = b.open(dir.path(), cfg);
    let a = user("a");
    // A declared length is reserved at creation: a second megabyte does not fit the quota.
    let big = s.tus_create(&a, 1 << 20, vec![]).unwrap();
    assert!(matches!(s.tus_create(&a, 1 << 20, vec![]), Err(FileStoreError::QuotaExceeded { .. })));
    let small = s.put(&a, &mut Cursor::new(vec![1u8; 10]), nf(), None);
    assert!(matches!(small, Err(FileStoreError::QuotaExceeded { .. })));
    s.tus_terminate(&a, &big.id).unwrap();
    assert_eq!(s.usage(&a).unwrap().reserved, 0, "a deleted upload gives its reservation back");
    // The cap on uploads in progress.
    s.tus_create(&a, 10, vec![]).unwrap();
    s.tus_create(&a, 10, vec![]).unwrap();
    assert!(matches!(s.tus_create(&a, 10, vec![]), Err(FileStoreError::TooManyUploads { limit: 2 })));
    assert!(s.tus_create(&user("b"), 10, vec![]).is_ok(), "per user");
}

fn the_daily_limit_counts_uploads_in_progress_and_is_checked_again_at_commit(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let s = b.open(dir.path(), StoreConfig { max_uploads_per_day: 3, ..Default::default() });
    let a = user("a");
    let u1 = s.tus_create(&a, 10, vec![]).unwrap();
    let u2 = s.tus_create(&a, 10, vec![]).unwrap();
    s.put(&a, &mut Cursor::new(vec![1u8; 10]), nf(), None).unwrap();
    // One committed and two in progress: the day is used up for new uploads.
    assert!(matches!(s.tus_create(&a, 10, vec![]), Err(FileStoreError::DailyLimit { .. })));
    // Uploads created before the limit was reached are checked again when they finish.
    s.put(&a, &mut Cursor::new(vec![2u8; 10]), nf(), None).unwrap();
    s.tus_append(&a, &u1.id, 0, &mut Cursor::new(vec![3u8; 10]), None).unwrap();
    let err = s.tus_append(&a, &u2.id, 0, &mut Cursor::new(vec![4u8; 10]), None).unwrap_err();
    assert!(matches!(err, FileStoreError::DailyLimit { used: 3, limit: 3 }), "{err}");
    assert_eq!(s.usage(&a).unwrap().today, 3);
}

fn an_upload_expires_after_a_quiet_hour_and_each_write_extends_it(b: Backend) {
    let dir = tempfile::tempdir().unwrap();
    let s = b.open(dir.path(), StoreConfig::default());
    let a = user("a");
    let rec = s.tus_create(&a, 100, vec![]).unwrap();
    assert!(rec.expires_at <= now_ms() + 60 * 60 * 1000, "an hour, not a day");
    let part = dir.path().join("uploads").join(format!("{}.part", rec.id));
    let later = s.tus_append(&a, &rec.id, 0, &mut Cursor::new(vec![1u8; 10]), None).unwrap();
    assert!(later.expires_at >= rec.expires_at, "progress extends the upload's life");
    assert_eq!(s.sweep_at(later.expires_at - 1).unwrap().expired_uploads, 0);
    assert!(part.exists());
    assert_eq!(s.sweep_at(later.expires_at + 1).unwrap().expired_uploads, 1);
    assert!(!part.exists(), "the part file goes with it");
}
