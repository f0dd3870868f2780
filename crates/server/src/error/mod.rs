//! One error type at the edge: every failure is an `ApiError` with a `Code` from the catalogue
//! (`code.rs`), rendered in the shape of the API that was called: Srcbook's envelope
//! (`{error: true, code, message, result}`) by default, FileDB's (`{error, code, context?}`) on the
//! file routes (`files::router` re-renders, see `in_filedb_shape`). A server-side failure (5xx but 501)
//! says only "internal error" and the request id; its detail goes to the log.

mod code;
pub use code::{Code, ErrorType};

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use quire_filestore::FileStoreError;
use quire_notebook::NotebookError;
use serde_json::{Value, json};

/// The message a redacted (server-side) failure carries instead of its detail.
pub const INTERNAL_MESSAGE: &str = "internal error";

#[derive(Debug, Clone)]
pub struct ApiError {
    pub code: Code,
    pub message: String,
    /// Srcbook's `attribute` for cell errors (e.g. `filename`).
    pub attribute: Option<&'static str>,
    /// FileDB's `context` object (only rendered in FileDB's shape; boxed to keep results small).
    pub context: Option<Box<Value>>,
    /// Seconds for `Retry-After` (FileDB also gets `context.retryAfter`); a 503 defaults to 1.
    pub retry_after: Option<u64>,
}

/// The two body shapes the compatible APIs expect.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    Srcbook,
    FileDb,
}

impl ApiError {
    pub fn new(code: Code, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into(), attribute: None, context: None, retry_after: None }
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(Code::NotFound, message)
    }
    pub fn not_implemented(what: &str) -> Self {
        Self::new(Code::NotImplemented, format!("{what} is not implemented in this version of Quire"))
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(Code::Internal, message)
    }
    /// FileDB's 400 `VALIDATION_ERROR`.
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(Code::Validation, message)
    }
    /// A 429 (or any refusal worth retrying) with the wait in `Retry-After`.
    pub fn too_many(code: Code, message: impl Into<String>, wait: std::time::Duration) -> Self {
        Self::new(code, message).retry_in(crate::ratelimit::retry_secs(wait))
    }
    /// The general per-IP limit (or the wrong-token budget) is used up.
    pub fn rate_limited(wait: std::time::Duration) -> Self {
        let secs = crate::ratelimit::retry_secs(wait);
        Self::new(Code::RateLimited, format!("Too many requests; retry in {secs} s")).retry_in(secs)
    }
    pub fn retry_in(mut self, secs: u64) -> Self {
        self.retry_after = Some(secs);
        self
    }
    pub fn with_context(mut self, context: Value) -> Self {
        self.context = Some(Box::new(context));
        self
    }

    pub fn status(&self) -> StatusCode {
        self.code.status()
    }

    /// What the client may see: the message, or "internal error" for a server-side failure.
    pub fn public_message(&self) -> &str {
        if self.code.is_redacted() { INTERNAL_MESSAGE } else { &self.message }
    }

    /// The body in `shape`; a redacted failure names the request (`X-Request-Id`) it answered.
    pub fn body(&self, shape: Shape, request_id: Option<&str>) -> Value {
        let message = self.public_message();
        let mut body = match shape {
            Shape::Srcbook => {
                let mut body =
                    json!({"error": true, "code": self.code.as_str(), "message": message, "result": message});
                // Details a client can act on (e.g. which field of an MCP server is wrong).
                if let Some(c) = &self.context {
                    body["context"] = (**c).clone();
                }
                body
            }
            Shape::FileDb => {
                let mut body = json!({"error": message, "code": self.code.filedb()});
                let mut context = self.context.as_deref().cloned();
                if let Some(secs) = self.retry_after {
                    context.get_or_insert_with(|| json!({}))["retryAfter"] = json!(secs);
                }
                if let Some(c) = context {
                    body["context"] = c;
                }
                body
            }
        };
        if let (true, Some(id)) = (self.code.is_redacted(), request_id) {
            body["requestId"] = json!(id);
        }
        body
    }

    /// The response in `shape`, with `Retry-After` when there is a wait, and this error attached as
    /// an extension (so a router can re-render it in its own shape).
    pub fn render(self, shape: Shape) -> Response {
        let request_id = crate::log::current_request_id();
        let body = self.body(shape, request_id.as_deref());
        let mut resp = (self.status(), axum::Json(body)).into_response();
        let retry = self.retry_after.or((self.status() == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        if let Some(secs) = retry {
            resp.headers_mut().insert(axum::http::header::RETRY_AFTER, secs.into());
        }
        resp.extensions_mut().insert(self);
        resp
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        // The detail of a redacted failure exists only here, in the log (with the request id).
        if self.code.is_redacted() {
            let code = self.code.as_str();
            if self.code.error_type() == ErrorType::Internal {
                tracing::error!(code, message = %self.message, "request failed");
            } else {
                tracing::warn!(code, message = %self.message, "request refused");
            }
        }
        self.render(Shape::Srcbook)
    }
}

/// Middleware for routers that speak FileDB: an error rendered in Srcbook's shape (by a handler, an
/// extractor or an inner layer) is rendered again in FileDB's, keeping its status and headers.
pub async fn in_filedb_shape(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let resp = next.run(req).await;
    let Some(err) = resp.extensions().get::<ApiError>().cloned() else { return resp };
    let (mut parts, _) = resp.into_parts();
    let body = err.body(Shape::FileDb, crate::log::current_request_id().as_deref());
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    Response::from_parts(parts, axum::body::Body::from(body.to_string()))
}

impl From<NotebookError> for ApiError {
    fn from(e: NotebookError) -> Self {
        use NotebookError as E;
        let message = e.to_string();
        let (code, attribute) = match &e {
            E::NotebookNotFound(_) => (Code::NotebookNotFound, None),
            E::CellNotFound(_) => (Code::CellNotFound, None),
            E::SecretNotFound(_) => (Code::SecretNotFound, None),
            E::InvalidPath(_) => (Code::InvalidPath, None),
            E::InvalidFilename(_) => (Code::InvalidFilename, Some("filename")),
            E::FilenameTaken(_) => (Code::AlreadyExists, Some("filename")),
            E::InvalidMarkdown(_) => (Code::InvalidMarkdown, None),
            E::InvalidTitle(_) => (Code::InvalidTitle, None),
            E::InvalidTsconfig(_) => (Code::InvalidTsconfig, None),
            E::InvalidCell(_) => (Code::InvalidCell, None),
            E::InvalidInput(_) => (Code::InvalidInput, None),
            E::InvalidSrcmd(_) => (Code::InvalidSrcmd, None),
            E::Io(err) if quire_notebook::is_storage_full(err) => (Code::InsufficientStorage, None),
            E::Busy(_) => (Code::DatabaseBusy, None),
            E::Io(_) => (Code::IoError, None),
            E::Database(_) => (Code::DatabaseError, None),
        };
        ApiError { attribute, ..ApiError::new(code, message) }
    }
}

impl From<quire_runtime::RunError> for ApiError {
    fn from(e: quire_runtime::RunError) -> Self {
        use quire_runtime::RunError as E;
        let code = match &e {
            E::AlreadyRunning(_) => Code::AlreadyRunning,
            E::Invalid(_) => Code::InvalidPayload,
            E::PackageSource(_) => Code::PackageSourceRefused,
            E::Host(_) => Code::RuntimeUnavailable,
            E::Io(_) => Code::Internal,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<FileStoreError> for ApiError {
    fn from(e: FileStoreError) -> Self {
        use FileStoreError as E;
        let message = e.to_string();
        let (code, context) = match &e {
            E::NotFound => (Code::FileNotFound, None),
            E::Corrupt { file_id, .. } => (Code::CorruptData, Some(json!({"fileId": file_id}))),
            E::TooLarge { max } => (Code::FileTooLarge, Some(json!({"limit": max}))),
            E::QuotaExceeded { used, limit } | E::DailyLimit { used, limit } => {
                (Code::QuotaExceeded, Some(json!({"used": used, "limit": limit})))
            }
            E::TooManyUploads { limit } => (Code::TooManyUploads, Some(json!({"limit": limit}))),
            E::IdempotencyInFlight => (Code::IdempotencyInFlight, None),
            E::IdempotencyMismatch => (Code::IdempotencyMismatch, None),
            E::Invalid(_) => (Code::Validation, None),
            E::Unauthorized(_) => (Code::Unauthorized, None),
            E::Forbidden(_) => (Code::Forbidden, None),
            E::Conflict(_) => (Code::AlreadyExists, None),
            E::UploadNotFound => (Code::UploadNotFound, None),
            E::UploadGone => (Code::UploadExpired, None),
            E::UploadLocked => (Code::UploadLocked, None),
            E::OffsetMismatch { expected, .. } => (Code::OffsetMismatch, Some(json!({"offset": expected}))),
            E::ChecksumMismatch => (Code::ChecksumMismatch, None),
            E::Aborted(_) => (Code::UploadError, None),
            _ if e.is_storage_full() => (Code::InsufficientStorage, None),
            E::Busy(_) => (Code::DatabaseBusy, None),
            E::Io(_) | E::Database(_) => (Code::Internal, None),
        };
        ApiError { context: context.map(Box::new), ..ApiError::new(code, message) }
    }
}

pub type ApiResult<T> = Result<T, ApiError>;

impl From<quire_service::ServiceError> for ApiError {
    fn from(e: quire_service::ServiceError) -> Self {
        use quire_service::ServiceError as E;
        let message = e.to_string();
        match e {
            E::Notebook(e) => e.into(),
            E::Run(e) => e.into(),
            E::NotACodeCell(_) => Self::new(Code::NotACodeCell, message),
            E::NotRunning => Self::new(Code::NotRunning, message),
            E::NoPackageJson => Self::new(Code::NoPackageJson, message),
            E::Invalid(_) => Self::new(Code::InvalidPayload, message),
            E::Internal(_) => Self::internal(message),
        }
    }
}

impl From<quire_assist::AssistError> for ApiError {
    fn from(e: quire_assist::AssistError) -> Self {
        use quire_ai::AiError as A;
        use quire_assist::AssistError as E;
        let message = e.to_string();
        let ai = match e {
            E::Ai(ai) => ai,
            E::Service(e) => return e.into(),
            E::NotConfigured(_) => return Self::new(Code::AiNotConfigured, message),
            E::AnswerInvalid(_) => return Self::new(Code::AiAnswerInvalid, message),
            E::Internal(_) => return Self::internal(message),
        };
        let code = match &ai {
            A::InvalidKey { .. } => Code::AiInvalidKey,
            A::UnknownModel { .. } => Code::AiUnknownModel,
            A::RateLimited { retry_after, .. } => {
                let wait = retry_after.unwrap_or(std::time::Duration::from_secs(1));
                return Self::too_many(Code::AiRateLimited, message, wait);
            }
            A::ContextTooLong { .. } => Code::AiContextTooLong,
            A::Unreachable { .. } => Code::AiUnreachable,
            A::Timeout { .. } => Code::AiTimeout,
            A::StreamCut { .. } => Code::AiStreamCut,
            A::Upstream { .. } => Code::AiUpstreamError,
            A::BadResponse { .. } => Code::AiBadResponse,
            A::Config { .. } => Code::AiConfig,
            A::BaseUrlUnresolved { .. } => Code::AiBaseUrlUnresolved,
            A::BreakerOpen { retry_in, .. } => {
                return Self::too_many(Code::AiBreakerOpen, message, *retry_in);
            }
            A::Busy { .. } => Code::AiBusy,
            A::Stopped => Code::AiStopped,
        };
        Self::new(code, message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_renders_in_both_shapes() {
        for &code in Code::ALL {
            let e = ApiError::new(code, "detail with /var/lib/quire/quire.db");
            let s = e.body(Shape::Srcbook, Some("rid"));
            let f = e.body(Shape::FileDb, Some("rid"));
            assert_eq!((s["error"].as_bool(), s["code"].as_str()), (Some(true), Some(code.as_str())));
            assert_eq!(f["code"].as_str(), Some(code.filedb()));
            assert_eq!(s["message"], s["result"]);
            let resp = e.clone().render(Shape::Srcbook);
            assert_eq!(resp.status(), code.status(), "{code:?}");
            if code.is_redacted() {
                assert_eq!(
                    (s["message"].as_str(), s["requestId"].as_str()),
                    (Some(INTERNAL_MESSAGE), Some("rid"))
                );
                assert_eq!(
                    (f["error"].as_str(), f["requestId"].as_str()),
                    (Some(INTERNAL_MESSAGE), Some("rid"))
                );
            } else {
                assert_eq!(s["message"], "detail with /var/lib/quire/quire.db");
                assert_eq!(f["error"], "detail with /var/lib/quire/quire.db");
                assert!(s.get("requestId").is_none() && f.get("requestId").is_none());
            }
        }
    }

    #[test]
    fn filedb_context_carries_the_wait() {
        let e = ApiError::too_many(Code::RateLimited, "slow down", std::time::Duration::from_millis(1500));
        assert_eq!(e.body(Shape::FileDb, None)["context"]["retryAfter"], 2);
        assert!(e.body(Shape::Srcbook, None).get("context").is_none());
        let resp = e.render(Shape::Srcbook);
        assert_eq!(resp.headers()["retry-after"], "2");
    }
}
