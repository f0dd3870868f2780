//! The store's behaviour suite: every case runs on both metadata backends (`for_each_backend!`),
//! against a real directory for chunks and part files.

use crate::blob::{BlobStore, LocalBlobStore};
use crate::memory::MemoryMeta;
use crate::*;
use std::io::Cursor;
use std::path::Path;

/// Which `MetadataStore` a case runs on.
#[derive(Clone, Copy, Debug)]
pub(crate) enum Backend {
    Sqlite,
    Memory,
}

/// One `#[test]` per case and backend: `<module>::sqlite::<case>` and `<module>::memory::<case>`.
macro_rules! for_each_backend {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(#[test] fn $case() { super::$case($crate::tests::Backend::Sqlite) })*
        }
        mod memory {
            $(#[test] fn $case() { super::$case($crate::tests::Backend::Memory) })*
        }
    };
}
pub(crate) use for_each_backend;

impl Backend {
    /// The store in `dir` on this backend, with `blobs` for chunk bodies.
    pub(crate) fn open_with_blobs(
        self,
        dir: &Path,
        cfg: StoreConfig,
        blobs: Arc<dyn BlobStore>,
    ) -> Arc<FileStore> {
        match self {
            Backend::Sqlite => FileStore::open_with_blobs(dir, cfg, blobs).unwrap(),
            Backend::Memory => FileStore::open_with(dir, cfg, blobs, Arc::new(MemoryMeta::new())).unwrap(),
        }
    }

    /// The store in `dir` on this backend, chunks on local disk.
    pub(crate) fn open(self, dir: &Path, cfg: StoreConfig) -> Arc<FileStore> {
        let blobs = Arc::new(LocalBlobStore::open(&dir.join("chunks")).unwrap());
        self.open_with_blobs(dir, cfg, blobs)
    }
}

fn store(b: Backend, cfg: StoreConfig) -> (tempfile::TempDir, Arc<FileStore>) {
    let dir = tempfile::tempdir().unwrap();
    let s = b.open(dir.path(), cfg);
    (dir, s)
}

fn small_chunks() -> StoreConfig {
    StoreConfig { chunk: ChunkParams { min: 4096, avg: 16384, max: 65536 }, ..Default::default() }
}

pub(crate) fn noise(n: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
    (0..n)
        .map(|_| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x as u8
        })
        .collect()
}

fn user(id: &str) -> Actor {
    Actor { user_id: id.into(), admin: false }
}

fn nf(name: &str) -> NewFile {
    NewFile { filename: name.into(), content_type: "application/octet-stream".into(), ..Default::default() }
}

fn read_all(s: &Arc<FileStore>, a: &Actor, id: &str, start: u64, end: u64) -> Result<Vec<u8>> {
    let f = s.file(a, id)?;
    let mut out = Vec::new();
    for piece in s.read_range(f, start, end)? {
        out.extend(piece?);
    }
    Ok(out)
}

for_each_backend!(
    round_trip_sizes_and_ranges,
    dedup_shares_chunks_and_gc_waits_for_grace,
    corruption_is_detected_marked_and_reported_by_fsck,
    quota_daily_limit_and_size,
    idempotency_replay_mismatch_and_in_flight,
    expiry_hides_then_sweeps,
    tus_append_checksum_offset_and_finish,
    orphan_blobs_are_adopted_then_collected,
    chunks_of_an_upload_that_never_commits_are_removed,
    scrub_walks_every_chunk_in_slices_and_flags_damage,
    totals_count_files_once_and_shared_chunks_once,
    small_files_are_one_chunk_like_the_chunker_cuts_them,
);

fn round_trip_sizes_and_ranges(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    for size in [0usize, 1, 4096, 4097, 300_000] {
        let data = noise(size, size as u64);
        let out = s.put(&a, &mut Cursor::new(&data), nf("x.bin"), None).unwrap();
        let f = s.file(&a, &out.file_id).unwrap();
        assert_eq!(f.size, size as u64);
        assert_eq!(f.inline.is_some(), size <= 4096);
        assert_eq!(read_all(&s, &a, &out.file_id, 0, u64::MAX).unwrap(), data);
        if size > 10 {
            let (x, y) = (size as u64 / 3, size as u64 / 3 * 2);
            assert_eq!(read_all(&s, &a, &out.file_id, x, y).unwrap(), &data[x as usize..y as usize]);
        }
    }
}

fn dedup_shares_chunks_and_gc_waits_for_grace(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let data = noise(500_000, 7);
    let one = s.put(&a, &mut Cursor::new(&data), nf("a"), None).unwrap();
    let blobs = s.blobs.list().unwrap().len();
    let mut edited = data.clone();
    edited[250_000..250_100].copy_from_slice(&[0u8; 100]);
    let two = s.put(&user("u2"), &mut Cursor::new(&edited), nf("b"), None).unwrap();
    let added = s.blobs.list().unwrap().len() - blobs;
    assert!(added <= 3, "a 100-byte edit added {added} chunks");
    s.delete(&a, &one.file_id).unwrap();
    s.delete(&user("u2"), &two.file_id).unwrap();
    assert_eq!(s.sweep().unwrap().chunks_deleted, 0, "the grace period protects fresh zero counts");
    let later = now_ms() + s.config.gc_grace_ms + 1;
    assert!(s.sweep_at(later).unwrap().chunks_deleted > 0);
    assert!(s.blobs.list().unwrap().is_empty());
}

fn corruption_is_detected_marked_and_reported_by_fsck(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let data = noise(200_000, 3);
    let out = s.put(&a, &mut Cursor::new(&data), nf("c"), None).unwrap();
    let chunk = s.chunks(&out.file_id).unwrap()[1].hash;
    let p = s.chunk_path(&chunk);
    let mut b = std::fs::read(&p).unwrap();
    let last = b.len() - 1;
    b[last] ^= 1;
    std::fs::write(&p, b).unwrap();
    assert!(matches!(read_all(&s, &a, &out.file_id, 0, u64::MAX), Err(FileStoreError::Corrupt { .. })));
    assert!(s.file(&a, &out.file_id).unwrap().damaged);
    let r = s.fsck(false).unwrap();
    assert_eq!(r.corrupt_chunks, vec![hex(&chunk)]);
    assert_eq!(r.damaged_files, vec![out.file_id.clone()]);
    s.fsck(true).unwrap();
    assert!(!p.exists(), "repair quarantines the chunk");
}

fn quota_daily_limit_and_size(b: Backend) {
    let cfg =
        StoreConfig { quota_bytes: 10_000, max_uploads_per_day: 2, max_file_size: 8_000, ..small_chunks() };
    let (_d, s) = store(b, cfg);
    let a = user("u1");
    assert!(matches!(
        s.put(&a, &mut Cursor::new(noise(9_000, 1)), nf("big"), None),
        Err(FileStoreError::TooLarge { .. })
    ));
    s.put(&a, &mut Cursor::new(noise(6_000, 1)), nf("a"), None).unwrap();
    assert!(matches!(
        s.put(&a, &mut Cursor::new(noise(6_000, 2)), nf("b"), None),
        Err(FileStoreError::QuotaExceeded { used: 6_000, limit: 10_000 })
    ));
    s.put(&a, &mut Cursor::new(noise(10, 2)), nf("b"), None).unwrap();
    assert!(matches!(
        s.put(&a, &mut Cursor::new(b"x"), nf("c"), None),
        Err(FileStoreError::DailyLimit { .. })
    ));
    let u = s.usage(&a).unwrap();
    assert_eq!((u.used(), u.today), (6_010, 2));
}

fn idempotency_replay_mismatch_and_in_flight(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let first = s.put(&a, &mut Cursor::new(b"hello"), nf("h.txt"), Some("key-1")).unwrap();
    let again = s.put(&a, &mut Cursor::new(b"hello"), nf("h.txt"), Some("key-1")).unwrap();
    assert_eq!((again.file_id.as_str(), again.replay), (first.file_id.as_str(), true));
    assert!(matches!(
        s.put(&a, &mut Cursor::new(b"other"), nf("h.txt"), Some("key-1")),
        Err(FileStoreError::IdempotencyMismatch)
    ));
    // Another user's key space is separate.
    assert!(!s.put(&user("u2"), &mut Cursor::new(b"hello"), nf("h.txt"), Some("key-1")).unwrap().replay);
    let held = s.begin(&a, Some("key-2")).unwrap();
    assert!(matches!(s.begin(&a, Some("key-2")), Err(FileStoreError::IdempotencyInFlight)));
    drop(held);
    assert!(s.begin(&a, Some("key-2")).is_ok(), "a dropped request releases its key");
}

fn expiry_hides_then_sweeps(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let mut n = nf("e");
    n.btl_days = Some(1);
    let out = s.put(&a, &mut Cursor::new(noise(50_000, 9)), n, None).unwrap();
    assert!(s.file(&a, &out.file_id).is_ok());
    let r = s.sweep_at(now_ms() + DAY_MS + 1).unwrap();
    assert_eq!(r.expired_files, 1);
    assert!(matches!(s.file(&a, &out.file_id), Err(FileStoreError::NotFound)));
}

fn tus_append_checksum_offset_and_finish(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let data = noise(100_000, 5);
    let meta = vec![("filename".to_string(), "t.bin".to_string())];
    let up = s.tus_create(&a, data.len() as u64, meta).unwrap();
    let r = s.tus_append(&a, &up.id, 0, &mut Cursor::new(&data[..40_000]), None).unwrap();
    assert_eq!(r.offset, 40_000);
    assert!(matches!(
        s.tus_append(&a, &up.id, 0, &mut Cursor::new(&data[..10]), None),
        Err(FileStoreError::OffsetMismatch { expected: 40_000, got: 0 })
    ));
    let bad = Checksum { algo: ChecksumAlgo::Sha1, digest: vec![0; 20] };
    assert!(matches!(
        s.tus_append(&a, &up.id, 40_000, &mut Cursor::new(&data[40_000..]), Some(bad)),
        Err(FileStoreError::ChecksumMismatch)
    ));
    assert_eq!(s.tus_get(&a, &up.id).unwrap().offset, 40_000, "a bad chunk is discarded");
    assert!(matches!(s.tus_get(&user("u2"), &up.id), Err(FileStoreError::UploadNotFound)));
    let good =
        Checksum { algo: ChecksumAlgo::Blake3, digest: blake3::hash(&data[40_000..]).as_bytes().to_vec() };
    let done = s.tus_append(&a, &up.id, 40_000, &mut Cursor::new(&data[40_000..]), Some(good)).unwrap();
    let id = done.file_id.unwrap();
    assert_eq!(read_all(&s, &a, &id, 0, u64::MAX).unwrap(), data);
    assert_eq!(s.file(&a, &id).unwrap().filename, "t.bin");
}

fn orphan_blobs_are_adopted_then_collected(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let h = *blake3::hash(b"orphan").as_bytes();
    s.blobs.put(&h, &blob::encode(b"orphan")).unwrap();
    let pinned = *blake3::hash(b"in flight").as_bytes();
    s.blobs.put(&pinned, &blob::encode(b"in flight")).unwrap();
    s.pin(&pinned);
    assert_eq!(s.adopt_orphans().unwrap(), 1, "a pinned chunk belongs to an upload in progress");
    assert_eq!(s.sweep().unwrap().chunks_deleted, 0);
    assert_eq!(s.sweep_at(now_ms() + s.config.gc_grace_ms + 1).unwrap().chunks_deleted, 1);
    assert_eq!(s.blobs.list().unwrap(), vec![pinned]);
}

fn chunks_of_an_upload_that_never_commits_are_removed(b: Backend) {
    let cfg = StoreConfig { quota_bytes: 100_000, ..small_chunks() };
    let (_d, s) = store(b, cfg);
    let a = user("u1");
    s.put(&a, &mut Cursor::new(noise(20_000, 1)), nf("a"), Some("key-abc1")).unwrap();
    // Same key, other payload: 422, but its chunks were already written.
    assert!(matches!(
        s.put(&a, &mut Cursor::new(noise(60_000, 2)), nf("a"), Some("key-abc1")),
        Err(FileStoreError::IdempotencyMismatch)
    ));
    // Over quota only after streaming (no declared size): also abandoned.
    assert!(matches!(
        s.put(&a, &mut Cursor::new(noise(90_000, 3)), nf("b"), None),
        Err(FileStoreError::QuotaExceeded { .. })
    ));
    let referenced = s.chunks(&s.list(&a, ListBy::Extension("")).unwrap()[0].id).unwrap().len();
    // Their space comes back at once, not after the GC grace period.
    assert_eq!(s.blobs.list().unwrap().len(), referenced, "abandoned chunks are removed at once");
    s.sweep_at(now_ms() + s.config.gc_grace_ms + 1).unwrap();
    assert_eq!(s.blobs.list().unwrap().len(), referenced, "only the committed file's chunks remain");
    assert!(s.fsck(false).unwrap().is_clean());
}

fn scrub_walks_every_chunk_in_slices_and_flags_damage(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    let a = user("u1");
    let out = s.put(&a, &mut Cursor::new(noise(400_000, 4)), nf("s"), None).unwrap();
    let chunks = s.chunks(&out.file_id).unwrap();
    assert!(chunks.len() > 3);
    let p = s.chunk_path(&chunks[2].hash);
    let mut b = std::fs::read(&p).unwrap();
    b[10] ^= 1;
    std::fs::write(&p, b).unwrap();
    let mut total = ScrubReport::default();
    for _ in 0..100 {
        let r = s.scrub_step(1).unwrap(); // one chunk per step
        total.checked += r.checked;
        total.corrupt += r.corrupt;
        if r.wrapped {
            break;
        }
    }
    assert_eq!(
        total.checked,
        s.blobs.list().unwrap().len() + 1,
        "every chunk once (the bad one is quarantined)"
    );
    assert_eq!(total.corrupt, 1);
    assert!(s.file(&a, &out.file_id).unwrap().damaged);
    assert!(!p.exists());
}

fn totals_count_files_once_and_shared_chunks_once(b: Backend) {
    let (_d, s) = store(b, small_chunks());
    assert_eq!(s.totals().unwrap(), StoreTotals::default());
    let a = user("u1");
    let data = noise(200_000, 7);
    s.put(&a, &mut Cursor::new(&data), nf("a.bin"), None).unwrap();
    let one = s.totals().unwrap();
    assert_eq!((one.files, one.file_bytes), (1, 200_000));
    assert!(one.chunks >= 3 && one.chunk_bytes > 0, "{one:?}");
    // The same bytes again: a second file, no new chunks.
    s.put(&a, &mut Cursor::new(&data), nf("b.bin"), None).unwrap();
    let two = s.totals().unwrap();
    assert_eq!((two.files, two.file_bytes), (2, 400_000));
    assert_eq!((two.chunks, two.chunk_bytes), (one.chunks, one.chunk_bytes));
}

/// Files below the minimum chunk skip the chunker; their chunks must be exactly the chunker's anyway,
/// and the size limit must still hold while that first part is read.
fn small_files_are_one_chunk_like_the_chunker_cuts_them(b: Backend) {
    let cfg = StoreConfig::default();
    let p = cfg.chunk;
    let (_d, s) = store(b, cfg);
    let a = user("u1");
    for size in [4097usize, 65_536, p.min as usize - 1, p.min as usize, p.min as usize + 1, 3 << 20] {
        let data = noise(size, size as u64 + 11);
        let out = s.put(&a, &mut Cursor::new(&data), nf("x.bin"), None).unwrap();
        assert_eq!(read_all(&s, &a, &out.file_id, 0, u64::MAX).unwrap(), data);
        let got: Vec<(u64, u32)> =
            s.meta.file_chunks(&out.file_id).unwrap().iter().map(|c| (c.offset, c.len)).collect();
        let want: Vec<(u64, u32)> = fastcdc::v2020::FastCDC::new(&data, p.min, p.avg, p.max)
            .map(|c| (c.offset as u64, c.length as u32))
            .collect();
        assert_eq!(got, want, "size {size}");
    }
    let (_d, s) = store(b, StoreConfig { max_file_size: 8_000, ..Default::default() });
    assert!(matches!(
        s.put(&a, &mut Cursor::new(noise(9_000, 1)), nf("big"), None),
        Err(FileStoreError::TooLarge { .. })
    ));
}
