use quire_notebook::NotebookError;
use quire_runtime::RunError;

/// Why a service call was refused. The server maps each to a status and a stable code.
#[derive(Debug, thiserror::Error)]
pub enum ServiceError {
    #[error(transparent)]
    Notebook(#[from] NotebookError),
    #[error(transparent)]
    Run(#[from] RunError),
    /// Running or formatting anything but a code cell (the message says which).
    #[error("{0}")]
    NotACodeCell(&'static str),
    #[error("That cell is not running")]
    NotRunning,
    #[error("This notebook has no package.json")]
    NoPackageJson,
    /// A request that cannot mean anything (a negative index, an update with neither text nor source).
    #[error("{0}")]
    Invalid(String),
    #[error("{0}")]
    Internal(String),
}

pub type Result<T, E = ServiceError> = std::result::Result<T, E>;
