//! The backup layer's one error type; the CLI prints it and exits non-zero.

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("{0} exists and is not empty; choose a new or empty directory")]
    NotEmpty(String),
    #[error("{0}")]
    NotABackup(String),
    #[error("the backup is damaged: {path}: {detail}")]
    Damaged { path: String, detail: String },
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Verify(String),
    #[error("I/O error: {0}")]
    Io(#[from] std::io::Error),
    #[error("database error: {0}")]
    Database(#[from] rusqlite::Error),
    #[error("file store: {0}")]
    FileStore(#[from] quire_filestore::FileStoreError),
    #[error("notebook database: {0}")]
    Notebook(#[from] quire_notebook::NotebookError),
}

pub type Result<T> = std::result::Result<T, BackupError>;
