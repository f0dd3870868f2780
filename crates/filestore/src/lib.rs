//! Quire's file store. Files are cut by FastCDC (v2020) into content-defined chunks, each stored once
//! under its BLAKE3 hash (zstd when that saves space; tiny files inline in SQLite). A file's manifest is
//! committed in one SQLite transaction only after all its chunks are durable; every read re-hashes each
//! chunk. Chunks are reference counted and deleted only after a grace period at count 0.
//!
//! Metadata sits behind the role traits of `meta` (composed into `MetadataStore`): `SqliteMeta` on disk,
//! `MemoryMeta` in memory, one test suite for both.
//!
//! Layout under the store's directory (`DATA_DIR/files/`): `files.db` (manifests, users, tus state),
//! `chunks/<2 hex>/<64 hex>` (blobs), `uploads/<id>.part` (tus uploads in progress).

#![forbid(unsafe_code)]

pub mod accounts;
mod accounts_memory;
mod accounts_sqlite;
pub mod backup;
pub mod blob;
mod error;
mod fsck;
mod ingest;
pub mod memory;
pub mod meta;
mod passwords;
mod read;
pub mod sqlite;
mod sweep;
mod tus;
pub mod users;

#[cfg(test)]
mod accounts_suite;
#[cfg(test)]
mod meta_suite;
#[cfg(test)]
mod tests;
#[cfg(test)]
mod tests_faults;

pub use error::{FileStoreError, Result};
pub use fsck::FsckReport;
pub use ingest::{Admission, NewFile, Staged, Ticket, UploadOutcome};
pub use meta::{FileRecord, ListBy, StoreTotals, UploadRecord, Usage, Viewer};
pub use read::RangeReader;
pub use sweep::{ScrubReport, SweepReport};
pub use tus::{Checksum, ChecksumAlgo};

use blob::{BlobStore, LocalBlobStore};
use meta::MetadataStore;
use quire_stdx::FilesDir;
use sqlite::SqliteMeta;
use std::collections::{HashMap, HashSet};
use std::path::PathBuf;
use std::sync::{Arc, Mutex};

pub type Hash = [u8; 32];

// The shared batteries under the names this crate's modules use. `random_id` is a UUIDv4 (FileDB's
// `file_id` format).
pub(crate) use quire_stdx::hex::encode as hex;
pub(crate) use quire_stdx::random::uuid_v4 as random_id;
pub(crate) use quire_stdx::{lock, now_ms};

pub const DAY_MS: i64 = 24 * 60 * 60 * 1000;

/// Who is asking. The server token maps to an admin; FileDB users map to their user id.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Actor {
    pub user_id: String,
    pub admin: bool,
}

impl Actor {
    pub fn viewer(&self) -> Viewer<'_> {
        if self.admin { Viewer::Admin } else { Viewer::User(&self.user_id) }
    }
    fn can_read(&self, f: &FileRecord) -> bool {
        self.admin || f.public || f.user_id == self.user_id
    }
}

/// FastCDC sizes. 256 KiB / 1 MiB / 4 MiB: few enough chunks that per-chunk fsync and metadata stay
/// cheap at 400+ MiB/s, small enough that a 1 MiB edit rewrites only ~2–3 MiB (ARCHITECTURE.md).
#[derive(Clone, Copy, Debug)]
pub struct ChunkParams {
    pub min: u32,
    pub avg: u32,
    pub max: u32,
}

#[derive(Clone, Debug)]
pub struct StoreConfig {
    pub max_file_size: u64,
    /// Bytes a non-admin user may store (logical sizes of their live files).
    pub quota_bytes: u64,
    pub max_uploads_per_day: u64,
    /// `BTL-Days` when the request has none; 0 = never expires.
    pub default_btl_days: i64,
    /// Length of one `BTL-Days` day (a day; tests shorten it to see expiry happen).
    pub btl_day_ms: i64,
    /// How long a chunk stays after its count reached 0 (a concurrent upload may dedup against it).
    pub gc_grace_ms: i64,
    /// Files up to this size are stored inline in SQLite.
    pub inline_max: usize,
    pub chunk: ChunkParams,
    /// An unfinished tus upload that makes no progress for this long expires (its part file goes).
    pub upload_expiry_ms: i64,
    /// tus uploads a user may have in progress at once.
    pub max_uploads_in_progress: u64,
    /// How long an `Idempotency-Key` is remembered.
    pub idempotency_ttl_ms: i64,
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            max_file_size: 5 << 30,
            quota_bytes: 500 << 20,
            max_uploads_per_day: 50,
            default_btl_days: 7,
            btl_day_ms: DAY_MS,
            gc_grace_ms: 10 * 60 * 1000,
            inline_max: 4096,
            chunk: ChunkParams { min: 256 << 10, avg: 1 << 20, max: 4 << 20 },
            upload_expiry_ms: 60 * 60 * 1000,
            max_uploads_in_progress: 10,
            idempotency_ttl_ms: DAY_MS,
        }
    }
}

pub struct FileStore {
    pub config: StoreConfig,
    dir: FilesDir,
    blobs: Arc<dyn BlobStore>,
    meta: Arc<dyn MetadataStore>,
    /// Chunks referenced by uploads that have not committed yet; GC skips them. Held while GC deletes,
    /// so a dedup decision and a deletion never interleave.
    pins: Mutex<HashMap<Hash, u32>>,
    /// tus uploads with a request in progress (one PATCH at a time per upload).
    upload_locks: Mutex<HashSet<String>>,
    /// Where the background scrub continues.
    scrub_cursor: Mutex<Option<Hash>>,
}

impl FileStore {
    /// Open (creating) the store in `dir` (`DataDir::files`) with the local blob store and SQLite metadata.
    pub fn open(dir: impl Into<FilesDir>, config: StoreConfig) -> Result<Arc<Self>> {
        let dir = dir.into();
        let blobs = Arc::new(LocalBlobStore::open(&dir.chunks())?);
        Self::open_with_blobs(dir, config, blobs)
    }

    /// The store with another place for chunk bodies (tests inject faults here).
    pub fn open_with_blobs(
        dir: impl Into<FilesDir>,
        config: StoreConfig,
        blobs: Arc<dyn BlobStore>,
    ) -> Result<Arc<Self>> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.uploads())?;
        let meta = Arc::new(SqliteMeta::open(&dir.db())?);
        Self::open_with(dir, config, blobs, meta)
    }

    /// The store over any metadata backend (tests run the same suite on `MemoryMeta`). `dir` still
    /// holds the tus part files.
    pub fn open_with(
        dir: impl Into<FilesDir>,
        config: StoreConfig,
        blobs: Arc<dyn BlobStore>,
        meta: Arc<dyn MetadataStore>,
    ) -> Result<Arc<Self>> {
        let dir = dir.into();
        std::fs::create_dir_all(dir.uploads())?;
        // Requests that were in flight when the process died can never finish.
        meta.idem_prune(now_ms() - config.idempotency_ttl_ms, true)?;
        Ok(Arc::new(FileStore {
            config,
            dir,
            blobs,
            meta,
            pins: Mutex::new(HashMap::new()),
            upload_locks: Mutex::new(HashSet::new()),
            scrub_cursor: Mutex::new(None),
        }))
    }

    pub fn dir(&self) -> &FilesDir {
        &self.dir
    }

    pub fn db_path(&self) -> PathBuf {
        self.dir.db()
    }

    /// Where a chunk lives on disk (tests flip bytes in it; fsck reports it).
    pub fn chunk_path(&self, hash: &Hash) -> PathBuf {
        self.dir.chunk(&hex(hash))
    }

    pub fn ping(&self) -> Result<()> {
        self.meta.ping()
    }

    /// A file the actor may read: not expired; someone else's private file is "not found".
    pub fn file(&self, actor: &Actor, id: &str) -> Result<FileRecord> {
        let f = self.meta.file(id)?.ok_or(FileStoreError::NotFound)?;
        if f.expired(now_ms()) || !actor.can_read(&f) {
            return Err(FileStoreError::NotFound);
        }
        Ok(f)
    }

    pub fn chunks(&self, id: &str) -> Result<Vec<meta::ChunkRef>> {
        self.meta.file_chunks(id)
    }

    /// Delete: the uploader or an admin. Another user sees a private file as missing, a public one as
    /// forbidden.
    pub fn delete(&self, actor: &Actor, id: &str) -> Result<()> {
        let f = self.file(actor, id)?;
        if !actor.admin && f.user_id != actor.user_id {
            return Err(FileStoreError::Forbidden("Only the file's owner or an admin may delete it".into()));
        }
        self.meta.delete_file(id, now_ms())?;
        Ok(())
    }

    pub fn set_public(&self, actor: &Actor, id: &str, public: bool) -> Result<()> {
        let f = self.file(actor, id)?;
        if !actor.admin && f.user_id != actor.user_id {
            return Err(FileStoreError::Forbidden("Only the file's owner or an admin may change it".into()));
        }
        self.meta.set_public(id, public)
    }

    pub fn list(&self, actor: &Actor, by: ListBy<'_>) -> Result<Vec<FileRecord>> {
        self.meta.list(by, actor.viewer(), now_ms())
    }

    /// The actor's use of the store (quota and daily limit).
    pub fn usage(&self, actor: &Actor) -> Result<meta::Usage> {
        let now = now_ms();
        self.meta.usage(&actor.user_id, now / DAY_MS, now)
    }

    /// Files, bytes and chunks in the whole store (the admin dashboard).
    pub fn totals(&self) -> Result<meta::StoreTotals> {
        self.meta.totals()
    }

    /// State of an idempotency key for this actor: `(file_id, completed)`.
    pub fn idempotency_status(&self, actor: &Actor, key: &str) -> Result<Option<(String, bool)>> {
        Ok(self.meta.idem_get(&actor.user_id, key)?.map(|s| match s {
            meta::IdemState::Done { file_id, .. } => (file_id, true),
            meta::IdemState::Fresh { file_id } | meta::IdemState::InFlight { file_id } => (file_id, false),
        }))
    }

    fn pin(&self, hash: &Hash) {
        *lock(&self.pins).entry(*hash).or_insert(0) += 1;
    }

    fn unpin(&self, hashes: &[Hash]) {
        Self::unpin_locked(&mut lock(&self.pins), hashes);
    }

    /// Unpin an abandoned upload's chunks and delete the blobs it wrote that no other upload has
    /// pinned and no chunk row knows. Under the pin lock, like GC: another upload's dedup decision
    /// (pin, then check) and this deletion never interleave.
    fn discard(&self, hashes: &[Hash], written: &[(Hash, u32, u32)]) {
        let mut pins = lock(&self.pins);
        Self::unpin_locked(&mut pins, hashes);
        for (h, size, stored) in written {
            let unused = !pins.contains_key(h) && matches!(self.meta.chunk_exists(h), Ok(false));
            if unused && self.blobs.delete(h).is_ok() {
                continue;
            }
            if let Err(e) = self.meta.record_chunk(h, *size, *stored, now_ms()) {
                tracing::warn!(error = %e, "could not record an abandoned chunk for GC");
            }
        }
    }

    fn unpin_locked(pins: &mut HashMap<Hash, u32>, hashes: &[Hash]) {
        for h in hashes {
            if let Some(n) = pins.get_mut(h) {
                *n -= 1;
                if *n == 0 {
                    pins.remove(h);
                }
            }
        }
    }
}
