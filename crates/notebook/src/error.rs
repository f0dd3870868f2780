//! The notebook layer's error type; `server` maps each variant to an HTTP status and a stable code.

use std::io;

#[derive(Debug, thiserror::Error)]
pub enum NotebookError {
    #[error("Notebook '{0}' not found")]
    NotebookNotFound(String),
    #[error("Cell '{0}' not found")]
    CellNotFound(String),
    #[error("Secret '{0}' not found")]
    SecretNotFound(String),
    /// A path, id or name from a request that is malformed or escapes its root.
    #[error("{0}")]
    InvalidPath(String),
    /// A cell filename that breaks the rules (Srcbook's messages, `attribute: "filename"`).
    #[error("{0}")]
    InvalidFilename(String),
    #[error("{0}")]
    FilenameTaken(String),
    #[error("{0}")]
    InvalidMarkdown(String),
    #[error("{0}")]
    InvalidTitle(String),
    #[error("{0}")]
    InvalidTsconfig(String),
    /// A well-formed request that this cell or notebook cannot take (wrong cell type, bad update).
    #[error("{0}")]
    InvalidCell(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error("Cannot decode invalid srcmd: {}", .0.errors.join("; "))]
    InvalidSrcmd(srcmd::DecodeError),
    #[error("An error occurred persisting files to disk")]
    Io(#[from] io::Error),
    #[error("database error: {0}")]
    Database(String),
    /// Another writer held the database past the busy timeout (retried meanwhile); try again later.
    #[error("The database is busy; try again shortly ({0})")]
    Busy(String),
}

impl From<rusqlite::Error> for NotebookError {
    fn from(e: rusqlite::Error) -> Self {
        use rusqlite::ErrorCode as C;
        match e.sqlite_error_code() {
            Some(C::DatabaseBusy | C::DatabaseLocked) => NotebookError::Busy(e.to_string()),
            Some(C::DiskFull) => NotebookError::Io(io::Error::new(io::ErrorKind::StorageFull, e.to_string())),
            _ => NotebookError::Database(e.to_string()),
        }
    }
}

/// ENOSPC and EDQUOT: the write failed for lack of space, not because anything is broken.
pub fn is_storage_full(e: &io::Error) -> bool {
    e.kind() == io::ErrorKind::StorageFull
        || e.kind() == io::ErrorKind::QuotaExceeded
        || matches!(e.raw_os_error(), Some(28 | 122))
}

pub type Result<T, E = NotebookError> = std::result::Result<T, E>;
