//! Tool failures: a result with `isError` and `{code, message}` as structured content (the codes
//! are the server's error catalogue's), never a protocol error or a panic.

use quire_notebook::NotebookError;
use quire_runtime::RunError;
use quire_service::ServiceError;
use serde_json::json;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ToolError {
    pub code: &'static str,
    pub message: String,
}

impl ToolError {
    pub fn new(code: &'static str, message: impl Into<String>) -> Self {
        ToolError { code, message: message.into() }
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new("invalid_arguments", message)
    }

    pub fn result(&self) -> rmcp::model::CallToolResult {
        let mut r = rmcp::model::CallToolResult::structured_error(
            json!({"code": self.code, "message": self.message}),
        );
        // Clients that read only text see the code too.
        r.content = vec![rmcp::model::ContentBlock::text(format!("{}: {}", self.code, self.message))];
        r
    }
}

impl From<NotebookError> for ToolError {
    fn from(e: NotebookError) -> Self {
        use NotebookError as E;
        let code = match &e {
            E::NotebookNotFound(_) => "notebook_not_found",
            E::CellNotFound(_) => "cell_not_found",
            E::SecretNotFound(_) => "secret_not_found",
            E::InvalidPath(_) => "invalid_path",
            E::InvalidFilename(_) => "invalid_filename",
            E::FilenameTaken(_) => "already_exists",
            E::InvalidMarkdown(_) => "invalid_markdown",
            E::InvalidTitle(_) => "invalid_title",
            E::InvalidTsconfig(_) => "invalid_tsconfig",
            E::InvalidCell(_) => "invalid_cell",
            E::InvalidInput(_) => "invalid_input",
            E::InvalidSrcmd(_) => "invalid_srcmd",
            E::Io(err) if quire_notebook::is_storage_full(err) => "insufficient_storage",
            E::Busy(_) => "database_busy",
            E::Io(_) => "io_error",
            E::Database(_) => "database_error",
        };
        ToolError::new(code, e.to_string())
    }
}

impl From<RunError> for ToolError {
    fn from(e: RunError) -> Self {
        let code = match &e {
            RunError::AlreadyRunning(_) => "already_running",
            RunError::Invalid(_) => "invalid_payload",
            RunError::PackageSource(_) => "package_source_refused",
            RunError::Host(_) => "runtime_unavailable",
            RunError::Io(_) => "internal",
        };
        ToolError::new(code, e.to_string())
    }
}

impl From<ServiceError> for ToolError {
    fn from(e: ServiceError) -> Self {
        let message = e.to_string();
        match e {
            ServiceError::Notebook(e) => e.into(),
            ServiceError::Run(e) => e.into(),
            ServiceError::NotACodeCell(_) => ToolError::new("not_a_code_cell", message),
            ServiceError::NotRunning => ToolError::new("not_running", message),
            ServiceError::NoPackageJson => ToolError::new("no_package_json", message),
            ServiceError::Invalid(_) => ToolError::new("invalid_payload", message),
            ServiceError::Internal(_) => ToolError::new("internal", message),
        }
    }
}
