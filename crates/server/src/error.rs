//! One error type at the edge: every failure becomes a status, a stable snake_case code and a message,
//! rendered in Srcbook's envelope (`{error: true, result}`) plus `code` and `message`.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quire_notebook::NotebookError;

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// Srcbook's `attribute` for cell errors (e.g. `filename`).
    pub attribute: Option<&'static str>,
}

impl ApiError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        ApiError { status, code, message: message.into(), attribute: None }
    }
    pub fn bad_request(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, message)
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(StatusCode::NOT_FOUND, "not_found", message)
    }
    pub fn not_implemented(what: &str) -> Self {
        Self::new(
            StatusCode::NOT_IMPLEMENTED,
            "not_implemented",
            format!("{what} is not implemented in this version of Quire"),
        )
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", message)
    }
    pub fn body(&self) -> serde_json::Value {
        serde_json::json!({"error": true, "code": self.code, "message": self.message, "result": self.message})
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "request failed");
        }
        let mut resp = (self.status, axum::Json(self.body())).into_response();
        if self.status == StatusCode::SERVICE_UNAVAILABLE {
            crate::ratelimit::set_retry_after(&mut resp, 1);
        }
        resp
    }
}

impl From<NotebookError> for ApiError {
    fn from(e: NotebookError) -> Self {
        use NotebookError as E;
        use StatusCode as S;
        let message = e.to_string();
        let (status, code, attribute) = match &e {
            E::NotebookNotFound(_) => (S::NOT_FOUND, "notebook_not_found", None),
            E::CellNotFound(_) => (S::NOT_FOUND, "cell_not_found", None),
            E::SecretNotFound(_) => (S::NOT_FOUND, "secret_not_found", None),
            E::InvalidPath(_) => (S::BAD_REQUEST, "invalid_path", None),
            E::InvalidFilename(_) => (S::BAD_REQUEST, "invalid_filename", Some("filename")),
            E::FilenameTaken(_) => (S::CONFLICT, "already_exists", Some("filename")),
            E::InvalidMarkdown(_) => (S::UNPROCESSABLE_ENTITY, "invalid_markdown", None),
            E::InvalidTitle(_) => (S::UNPROCESSABLE_ENTITY, "invalid_title", None),
            E::InvalidTsconfig(_) => (S::UNPROCESSABLE_ENTITY, "invalid_tsconfig", None),
            E::InvalidCell(_) => (S::UNPROCESSABLE_ENTITY, "invalid_cell", None),
            E::InvalidInput(_) => (S::UNPROCESSABLE_ENTITY, "invalid_input", None),
            E::InvalidSrcmd(_) => (S::UNPROCESSABLE_ENTITY, "invalid_srcmd", None),
            E::Io(err) if quire_notebook::is_storage_full(err) => {
                (S::INSUFFICIENT_STORAGE, "insufficient_storage", None)
            }
            E::Busy(_) => (S::SERVICE_UNAVAILABLE, "database_busy", None),
            E::Io(err) => {
                tracing::error!(error = %err, "notebook write failed");
                (S::INTERNAL_SERVER_ERROR, "io_error", None)
            }
            E::Database(err) => {
                tracing::error!(error = %err, "database error");
                (S::INTERNAL_SERVER_ERROR, "database_error", None)
            }
        };
        ApiError { status, code, message, attribute }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<quire_runtime::RunError> for ApiError {
    fn from(e: quire_runtime::RunError) -> Self {
        use quire_runtime::RunError as E;
        let message = e.to_string();
        match e {
            E::AlreadyRunning(_) => Self::new(StatusCode::CONFLICT, "already_running", message),
            E::Invalid(_) => Self::new(StatusCode::UNPROCESSABLE_ENTITY, "invalid_payload", message),
            E::PackageSource(_) => {
                Self::new(StatusCode::UNPROCESSABLE_ENTITY, "package_source_refused", message)
            }
            E::Host(_) => Self::new(StatusCode::SERVICE_UNAVAILABLE, "runtime_unavailable", message),
            E::Io(_) => Self::internal(message),
        }
    }
}
