//! One error enum for the file store; the server maps each variant to a status and a stable code.

use crate::Hash;

#[derive(Debug, thiserror::Error)]
pub enum FileStoreError {
    #[error("File not found or expired")]
    NotFound,
    #[error("File {file_id} is damaged: chunk {} failed verification ({detail})", crate::hex(chunk))]
    Corrupt { file_id: String, chunk: Hash, detail: String },
    #[error("File too large. Max size: {max} bytes")]
    TooLarge { max: u64 },
    #[error("Quota exceeded. Used: {used}/{limit} bytes")]
    QuotaExceeded { used: u64, limit: u64 },
    #[error("Daily upload limit exceeded. Used: {used}/{limit} uploads")]
    DailyLimit { used: u64, limit: u64 },
    #[error("Too many uploads in progress ({limit}); finish or delete some first")]
    TooManyUploads { limit: u64 },
    #[error("A request with this Idempotency-Key is still in progress")]
    IdempotencyInFlight,
    #[error("This Idempotency-Key was already used with a different payload")]
    IdempotencyMismatch,
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Unauthorized(String),
    #[error("{0}")]
    Forbidden(String),
    #[error("{0}")]
    Conflict(String),
    #[error("Upload not found")]
    UploadNotFound,
    #[error("Upload has expired")]
    UploadGone,
    #[error("Upload is locked by another request; retry shortly")]
    UploadLocked,
    #[error("Upload-Offset {got} does not match the upload's offset {expected}")]
    OffsetMismatch { expected: u64, got: u64 },
    #[error("Upload-Checksum does not match the received data; the data was discarded")]
    ChecksumMismatch,
    #[error("The request body ended early: {0}")]
    Aborted(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("database error: {0}")]
    Database(String),
    /// Another writer held the database past the busy timeout (retried meanwhile); try again later.
    #[error("The database is busy; try again shortly ({0})")]
    Busy(String),
}

impl FileStoreError {
    /// The write failed for lack of disk space (ENOSPC, EDQUOT, SQLITE_FULL).
    pub fn is_storage_full(&self) -> bool {
        match self {
            FileStoreError::Io(e) => {
                e.kind() == std::io::ErrorKind::StorageFull
                    || e.kind() == std::io::ErrorKind::QuotaExceeded
                    || matches!(e.raw_os_error(), Some(28 | 122))
            }
            FileStoreError::Database(m) => m.contains("database or disk is full"),
            _ => false,
        }
    }
}

impl From<rusqlite::Error> for FileStoreError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => FileStoreError::Busy(e.to_string()),
            Some(C::DiskFull) => {
                FileStoreError::Io(std::io::Error::new(std::io::ErrorKind::StorageFull, e.to_string()))
            }
            _ => FileStoreError::Database(e.to_string()),
        }
    }
}

pub type Result<T> = std::result::Result<T, FileStoreError>;
