//! File metadata behind `MetadataStore` (SQLite now; Postgres can implement the same trait). Every
//! multi-row change is one transaction, so a crash leaves the old state or the new one.

use crate::Hash;
use crate::error::Result;

/// One stored file's manifest header (the chunk list is separate).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    pub id: String,
    /// The authenticated user that uploaded it (quota and access are keyed on this).
    pub user_id: String,
    /// FileDB's free-form `owner` label (sanitised), used by `by-owner` queries.
    pub owner: Option<String>,
    pub filename: String,
    pub content_type: String,
    pub extension: String,
    pub size: u64,
    pub blake3: String,
    pub sha256: String,
    pub chunk_count: u32,
    pub created_at: i64,
    pub btl_days: Option<i64>,
    pub expires_at: Option<i64>,
    pub public: bool,
    pub damaged: bool,
    /// Tiny files live in the database instead of a chunk.
    pub inline: Option<Vec<u8>>,
}

/// The media type without parameters, lowercased (`by-type` matches on it).
pub fn base_type(content_type: &str) -> String {
    content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase()
}

impl FileRecord {
    pub fn expired(&self, now: i64) -> bool {
        self.expires_at.is_some_and(|t| t <= now)
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ChunkRef {
    pub hash: Hash,
    pub offset: u64,
    pub len: u32,
}

/// Which files a listing may show: everything (admin) or one user's own and public files.
#[derive(Clone, Copy, Debug)]
pub enum Viewer<'a> {
    Admin,
    User(&'a str),
}

#[derive(Clone, Copy, Debug)]
pub enum ListBy<'a> {
    Owner(&'a str),
    Extension(&'a str),
    BaseType(&'a str),
}

/// State of an `Idempotency-Key` (per user).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum IdemState {
    /// New: the caller owns the key now and will use this file id.
    Fresh {
        file_id: String,
    },
    InFlight {
        file_id: String,
    },
    Done {
        file_id: String,
        fingerprint: String,
    },
}

/// One user's use of the store, against the quota and the daily limit.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    /// Bytes of live files.
    pub stored: u64,
    /// Declared lengths of tus uploads in progress (reserved at creation, so part files count).
    pub reserved: u64,
    /// Uploads committed today.
    pub today: u64,
    /// tus uploads in progress.
    pub in_progress: u64,
}

impl Usage {
    /// What counts against the quota.
    pub fn used(&self) -> u64 {
        self.stored + self.reserved
    }
}

/// A tus upload's durable state (the bytes are in `uploads/<id>.part`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UploadRecord {
    pub id: String,
    pub user_id: String,
    pub length: Option<u64>,
    /// Bytes known to be durable in the part file.
    pub offset: u64,
    /// `Upload-Metadata` as received (decoded keys and values).
    pub metadata: Vec<(String, String)>,
    pub created_at: i64,
    pub expires_at: i64,
    /// Set once the upload became a file.
    pub file_id: Option<String>,
}

/// What commit adds besides the file: the idempotency key to complete and the day to count.
pub struct CommitExtras<'a> {
    pub idempotency: Option<(&'a str, &'a str)>,
    pub fingerprint: &'a str,
    pub day: i64,
    /// `(hash, size, stored size)` of chunks written by this upload, recorded in the same transaction.
    pub new_chunks: &'a [(crate::Hash, u32, u32)],
}

/// Whole-store figures for the admin dashboard.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct StoreTotals {
    /// Live (committed) files and the sum of their sizes, before dedup and compression.
    pub files: u64,
    pub file_bytes: u64,
    /// Distinct chunks on disk and the bytes they take (after dedup and compression).
    pub chunks: u64,
    pub chunk_bytes: u64,
}

/// Chunk rows: which blobs exist, their reference counts and GC bookkeeping. A chunk at count 0 has a
/// `zero_since` time and is collected only after the grace period.
pub trait ChunkStore: Send + Sync {
    /// Is the chunk recorded (by a committed file, possibly at count 0 in its grace period)?
    fn chunk_exists(&self, hash: &Hash) -> Result<bool>;
    /// Record a durable blob as an unreferenced chunk (fsck adopting an orphan; GC collects it later).
    /// A chunk already recorded keeps its sizes; at count 0 its grace period starts again at `now`.
    fn record_chunk(&self, hash: &Hash, size: u32, stored_size: u32, now: i64) -> Result<()>;
    /// Chunks whose count has been 0 since before `cutoff` (at most `limit`, in no set order).
    fn gc_candidates(&self, cutoff: i64, limit: usize) -> Result<Vec<Hash>>;
    /// Forget the chunk if it is still unreferenced since before `cutoff`; true when removed.
    fn forget_chunk(&self, hash: &Hash, cutoff: i64) -> Result<bool>;
    /// Up to `limit` chunks (hash, stored size) in hash order after `cursor` (scrub walks them).
    fn chunks_after(&self, cursor: Option<&Hash>, limit: usize) -> Result<Vec<(Hash, u64)>>;
    /// Files whose manifest names the chunk (each once, in no set order).
    fn files_with_chunk(&self, hash: &Hash) -> Result<Vec<String>>;
    /// Every chunk with its logical size, in hash order.
    fn all_chunks(&self) -> Result<Vec<(Hash, u64)>>;
    /// Recompute every refcount from the manifests (fsck --repair); returns how many changed.
    fn rebuild_refcounts(&self, now: i64) -> Result<usize>;
}

/// Committed files: manifests and their chunk lists.
pub trait FileIndex: Send + Sync {
    fn file(&self, id: &str) -> Result<Option<FileRecord>>;
    /// The file's chunks in file order (empty for an unknown file).
    fn file_chunks(&self, id: &str) -> Result<Vec<ChunkRef>>;
    /// Delete a manifest and release its references (chunks start their GC grace period at `now`),
    /// in one transaction; false when there was no such file.
    fn delete_file(&self, id: &str, now: i64) -> Result<bool>;
    fn set_public(&self, id: &str, public: bool) -> Result<()>;
    fn mark_damaged(&self, id: &str, damaged: bool) -> Result<()>;
    /// Unexpired files matching `by` that `viewer` may see, newest first (then by id), at most 1000.
    fn list(&self, by: ListBy<'_>, viewer: Viewer<'_>, now: i64) -> Result<Vec<FileRecord>>;
    /// Up to `limit` files expired at `now` (in no set order).
    fn expired_files(&self, now: i64, limit: usize) -> Result<Vec<String>>;
    /// Every file id, expired ones included, in id order.
    fn all_file_ids(&self) -> Result<Vec<String>>;
}

/// What users and the whole store use (quota, daily limit, dashboard).
pub trait Accounting: Send + Sync {
    /// What the user stores, has reserved by uploads in progress, and uploaded on `day`.
    fn usage(&self, user_id: &str, day: i64, now: i64) -> Result<Usage>;
    /// Every file (expired ones until swept) and every chunk.
    fn totals(&self) -> Result<StoreTotals>;
}

/// `Idempotency-Key` state, per user.
pub trait IdempotencyStore: Send + Sync {
    /// Take the key (`Fresh`, with the file id to use) or report it in flight or done.
    fn idem_begin(&self, user_id: &str, key: &str, now: i64) -> Result<IdemState>;
    /// Release a key that is still in flight (a completed key stays).
    fn idem_abort(&self, user_id: &str, key: &str) -> Result<()>;
    fn idem_get(&self, user_id: &str, key: &str) -> Result<Option<IdemState>>;
    /// Drop keys older than `cutoff` and, at startup, every in-flight key (its request died).
    fn idem_prune(&self, cutoff: i64, drop_in_flight: bool) -> Result<()>;
}

/// tus uploads in progress.
pub trait UploadStore: Send + Sync {
    /// Insert; an id already in use is an error.
    fn upload_create(&self, rec: &UploadRecord) -> Result<()>;
    fn upload(&self, id: &str) -> Result<Option<UploadRecord>>;
    /// Record durable progress; an upload expires `expires_at` unless it makes more.
    fn upload_set_offset(&self, id: &str, offset: u64, expires_at: i64) -> Result<()>;
    fn upload_set_file(&self, id: &str, file_id: &str) -> Result<()>;
    fn upload_delete(&self, id: &str) -> Result<()>;
    /// Uploads expired at `now` (finished ones too), in no set order.
    fn expired_uploads(&self, now: i64) -> Result<Vec<String>>;
}

/// All file metadata: every role, plus the one write that spans them. Implemented by `SqliteMeta`
/// and `MemoryMeta`; the suites in `tests*.rs` and `meta_suite.rs` run on both.
pub trait MetadataStore:
    ChunkStore + FileIndex + Accounting + IdempotencyStore + UploadStore + Send + Sync
{
    /// Record new chunks, insert the manifest, take a reference on every chunk, count the upload on
    /// `extras.day`, complete the idempotency key: all or nothing. A chunk that is neither recorded nor
    /// in `extras.new_chunks`, or a file id already used, fails the whole commit.
    fn commit_file(&self, file: &FileRecord, chunks: &[ChunkRef], extras: CommitExtras<'_>) -> Result<()>;
    /// A trivial query, for health checks.
    fn ping(&self) -> Result<()>;
}
