//! FileDB-compatible file routes (`/files`, `/quota`, `/status`, `/auth`), tus 1.0 at `/uploads/`, over
//! `quire_filestore`. Errors use FileDB's body shape `{error, code, context?}`.
//!
//! Credentials: the server token (header, `?token=`, cookie) acts as admin; a `Bearer` value that is
//! not the server token is checked as a FileDB access token; `X-API-Key` as an API key.

mod account;
pub mod attach;
mod download;
mod passwords;
mod query;
mod tus;
pub mod tus_headers;
pub use passwords::PasswordWorkers;
mod upload;
mod validate;

use crate::state::AppState;
use axum::Router;
use axum::body::Bytes;
use axum::extract::DefaultBodyLimit;
use axum::http::{HeaderMap, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use quire_filestore::{Actor, FileStoreError};
use serde_json::{Value, json};
use std::io::{self, Read};

/// An error in FileDB's shape. Every body is JSON with `error` (the SDK parses it before the status).
#[derive(Debug)]
pub struct FileError {
    pub status: StatusCode,
    pub code: &'static str,
    pub message: String,
    /// `retryAfter` here (seconds) also becomes the `Retry-After` header.
    pub context: Option<Value>,
}

impl FileError {
    pub fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Self {
        FileError { status, code, message: message.into(), context: None }
    }

    /// 429 with the wait in the body (`context.retryAfter`) and in `Retry-After`.
    pub fn too_many(code: &'static str, message: impl Into<String>, wait: std::time::Duration) -> Self {
        let secs = crate::ratelimit::retry_secs(wait);
        let mut e = Self::new(StatusCode::TOO_MANY_REQUESTS, code, message);
        e.context = Some(json!({"retryAfter": secs}));
        e
    }
    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, "VALIDATION_ERROR", message)
    }
    pub fn internal(message: impl Into<String>) -> Self {
        Self::new(StatusCode::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", message)
    }
}

impl IntoResponse for FileError {
    fn into_response(self) -> Response {
        if self.status.is_server_error() {
            tracing::error!(code = self.code, message = %self.message, "file request failed");
        }
        let mut body = json!({"error": self.message, "code": self.code});
        if let Some(c) = self.context {
            body["context"] = c;
        }
        let retry = body["context"]["retryAfter"].as_u64();
        let retry = retry.or((self.status == StatusCode::SERVICE_UNAVAILABLE).then_some(1));
        let mut resp = (self.status, axum::Json(body)).into_response();
        if let Some(secs) = retry {
            crate::ratelimit::set_retry_after(&mut resp, secs);
        }
        resp
    }
}

impl From<FileStoreError> for FileError {
    fn from(e: FileStoreError) -> Self {
        use FileStoreError as E;
        use StatusCode as S;
        let message = e.to_string();
        let (status, code, context) = match &e {
            E::NotFound => (S::NOT_FOUND, "FILE_NOT_FOUND", None),
            E::Corrupt { file_id, .. } => {
                (S::INTERNAL_SERVER_ERROR, "CORRUPT_DATA", Some(json!({"fileId": file_id})))
            }
            E::TooLarge { max } => (S::PAYLOAD_TOO_LARGE, "FILE_TOO_LARGE", Some(json!({"limit": max}))),
            E::QuotaExceeded { used, limit } | E::DailyLimit { used, limit } => {
                (S::TOO_MANY_REQUESTS, "QUOTA_EXCEEDED", Some(json!({"used": used, "limit": limit})))
            }
            E::TooManyUploads { limit } => {
                (S::TOO_MANY_REQUESTS, "TOO_MANY_UPLOADS", Some(json!({"limit": limit})))
            }
            E::IdempotencyInFlight => (S::CONFLICT, "IDEMPOTENCY_IN_FLIGHT", None),
            E::IdempotencyMismatch => (S::UNPROCESSABLE_ENTITY, "IDEMPOTENCY_MISMATCH", None),
            E::Invalid(_) => (S::BAD_REQUEST, "VALIDATION_ERROR", None),
            E::Unauthorized(_) => (S::UNAUTHORIZED, "AUTHENTICATION_ERROR", None),
            E::Forbidden(_) => (S::FORBIDDEN, "AUTHORIZATION_ERROR", None),
            E::Conflict(_) => (S::CONFLICT, "CONFLICT", None),
            E::UploadNotFound => (S::NOT_FOUND, "UPLOAD_NOT_FOUND", None),
            E::UploadGone => (S::GONE, "UPLOAD_EXPIRED", None),
            E::UploadLocked => (S::LOCKED, "UPLOAD_LOCKED", None),
            E::OffsetMismatch { expected, .. } => {
                (S::CONFLICT, "OFFSET_MISMATCH", Some(json!({"offset": expected})))
            }
            E::ChecksumMismatch => (checksum_mismatch(), "CHECKSUM_MISMATCH", None),
            E::Aborted(_) => (S::BAD_REQUEST, "UPLOAD_ERROR", None),
            _ if e.is_storage_full() => (S::INSUFFICIENT_STORAGE, "INSUFFICIENT_STORAGE", None),
            E::Busy(_) => (S::SERVICE_UNAVAILABLE, "SERVICE_UNAVAILABLE", None),
            E::Io(_) | E::Database(_) => (S::INTERNAL_SERVER_ERROR, "INTERNAL_ERROR", None),
        };
        FileError { status, code, message, context }
    }
}

/// tus's 460 Checksum Mismatch.
pub fn checksum_mismatch() -> StatusCode {
    StatusCode::from_u16(460).unwrap_or(StatusCode::BAD_REQUEST)
}

pub type FileResult<T> = Result<T, FileError>;

/// Run store work (SQLite, disk) off the async runtime.
pub async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, FileStoreError> + Send + 'static,
) -> FileResult<T> {
    match tokio::task::spawn_blocking(f).await {
        Ok(r) => r.map_err(FileError::from),
        Err(e) => Err(FileError::internal(format!("task failed: {e}"))),
    }
}

/// FileDB's header rule: `X-User-Id` and `X-API-Key` are `[A-Za-z0-9_-]+` when present.
fn check_headers(headers: &HeaderMap) -> FileResult<()> {
    for name in ["x-user-id", "x-api-key"] {
        if let Some(v) = headers.get(name) {
            let ok = !v.is_empty()
                && v.as_bytes().iter().all(|b| b.is_ascii_alphanumeric() || *b == b'_' || *b == b'-');
            if !ok {
                let mut e = FileError::invalid("Validation failed");
                e.context =
                    Some(json!({"field": name, "message": format!("{name} must match ^[A-Za-z0-9_-]+$")}));
                return Err(e);
            }
        }
    }
    Ok(())
}

fn bearer(headers: &HeaderMap) -> Option<&str> {
    let v = headers.get(header::AUTHORIZATION)?.to_str().ok()?;
    let (scheme, t) = v.trim().split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then_some(t.trim())
}

pub fn admin_actor() -> Actor {
    Actor { user_id: quire_filestore::users::ADMIN_ID.into(), admin: true }
}

/// Who is calling, or 401.
pub async fn actor(s: &AppState, headers: &HeaderMap, uri: &Uri) -> FileResult<Actor> {
    check_headers(headers)?;
    if crate::auth::server_token_ok(s, headers, uri) {
        return Ok(admin_actor());
    }
    let token = bearer(headers).map(str::to_string);
    let key = headers.get("x-api-key").and_then(|v| v.to_str().ok()).map(str::to_string);
    let st = s.clone();
    let user = blocking(move || {
        if let Some(t) = token
            && let Some(u) = st.users.by_access_token(&t)?
        {
            return Ok(Some(u));
        }
        match key {
            Some(k) => st.users.by_api_key(&k),
            None => Ok(None),
        }
    })
    .await?;
    match user {
        Some(u) => {
            if let Some(limit) = &s.user_limit
                && let Err(wait) = limit.check(u.id.clone(), std::time::Instant::now())
            {
                let secs = crate::ratelimit::retry_secs(wait);
                let message = format!("Too many requests for this account; retry in {secs} s");
                return Err(FileError::too_many("RATE_LIMIT_EXCEEDED", message, wait));
            }
            Ok(Actor { admin: u.role == "admin", user_id: u.id })
        }
        None => Err(FileError::new(
            StatusCode::UNAUTHORIZED,
            "AUTHENTICATION_ERROR",
            "Authentication required: Authorization: Bearer <access token or server token>, or X-API-Key",
        )),
    }
}

/// FileDB's sanitising of `owner` and emails: tags removed, `<>'"&` removed, whitespace runs made one
/// space, cut to 100 characters, trimmed.
pub fn sanitize(input: &str) -> String {
    let mut out = String::new();
    let mut in_tag = false;
    for c in input.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            _ if in_tag => {}
            '>' | '\'' | '"' | '&' => {}
            c => out.push(c),
        }
    }
    let collapsed = out.split_whitespace().collect::<Vec<_>>().join(" ");
    let spaced = if out.starts_with(char::is_whitespace) { format!(" {collapsed}") } else { collapsed };
    spaced.chars().take(100).collect::<String>().trim().to_string()
}

/// ISO 8601 UTC with milliseconds, like JavaScript's `toISOString`.
pub fn iso8601(ms: i64) -> String {
    let secs = ms.div_euclid(1000);
    let (days, rem) = (secs.div_euclid(86_400), secs.rem_euclid(86_400));
    // Civil-from-days (Howard Hinnant's algorithm).
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}.{:03}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60,
        ms.rem_euclid(1000)
    )
}

/// A blocking `Read` over body pieces sent from the async side; the store reads it on a blocking thread.
pub struct ChannelReader {
    rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>,
    cur: Bytes,
}

impl ChannelReader {
    pub fn new(rx: tokio::sync::mpsc::Receiver<Result<Bytes, String>>) -> Self {
        ChannelReader { rx, cur: Bytes::new() }
    }
}

impl Read for ChannelReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.cur.is_empty() {
            match self.rx.blocking_recv() {
                Some(Ok(b)) => self.cur = b,
                Some(Err(e)) => return Err(io::Error::new(io::ErrorKind::ConnectionAborted, e)),
                None => return Ok(0),
            }
        }
        let n = buf.len().min(self.cur.len());
        buf[..n].copy_from_slice(&self.cur.split_to(n));
        Ok(n)
    }
}

/// Permissions FileDB reports for a role.
pub fn permissions(role: &str) -> Value {
    if role == "admin" {
        json!([
            "upload:files",
            "download:files",
            "list:files",
            "quota:view",
            "delete:files",
            "admin:access",
            "admin:users"
        ])
    } else {
        json!(["upload:files", "download:files", "list:files", "quota:view"])
    }
}

const SWEEPER: &str = "files.sweeper";

/// Every minute: expired files and uploads are swept, chunks past their grace period collected, and
/// the next slice of chunks scrubbed (re-hashed).
pub fn spawn_sweeper(s: AppState) {
    tokio::spawn(async move {
        let files = s.files.clone();
        match tokio::task::spawn_blocking(move || files.adopt_orphans()).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(chunks = n, "orphan chunks from an interrupted upload will be collected")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "orphan chunk scan failed"),
            _ => {}
        }
        let every = std::time::Duration::from_secs(60);
        s.workers.register(SWEEPER, every);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let files = s.files.clone();
            // The scrub re-reads at most 256 MiB a minute, so it never competes with real traffic.
            let st = s.clone();
            match tokio::task::spawn_blocking(move || {
                st.users.prune_expired()?;
                Ok::<_, quire_filestore::FileStoreError>((files.sweep()?, files.scrub_step(256 << 20)?))
            })
            .await
            {
                Ok(Ok((r, scrub))) => {
                    s.workers.record(SWEEPER, Ok(()));
                    if r != Default::default() {
                        tracing::info!(?r, "file store swept");
                    }
                    if scrub.corrupt > 0 {
                        tracing::error!(?scrub, "scrub found damaged chunks");
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "file store sweep failed");
                    s.workers.record(SWEEPER, Err(e.to_string()));
                }
                Err(e) => s.workers.record(SWEEPER, Err(format!("sweep task died: {e}"))),
            }
        }
    });
}

/// Paths served by this module (FileDB, tus, `/auth`), whose credentials are checked here.
pub fn is_file_route(path: &str) -> bool {
    ["/files", "/api/files/", "/uploads", "/auth/", "/status/"].iter().any(|p| path.starts_with(p))
        || path == "/quota"
}

/// Failed credentials (401 with a token, key or password presented) count against the client's
/// failure budget, like a wrong server token; past it the answer is 429. Good credentials never count.
async fn throttle_failures(
    axum::extract::State(s): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = crate::client_ip(&req);
    if req.uri().path() == "/auth/login"
        && let Some(ip) = ip
    {
        return throttle_login(&s, ip, req, next).await;
    }
    let presented =
        req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key("x-api-key");
    let resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED
        && presented
        && let Some(ip) = ip
        && let Err(retry) = s.auth_failure_limit.check(ip, std::time::Instant::now())
    {
        tracing::warn!(%ip, "too many failed file-store credentials");
        let e = FileError::too_many(
            "RATE_LIMIT_ERROR",
            "Too many failed sign-in attempts; try again later",
            retry,
        );
        return e.into_response();
    }
    resp
}

/// Nothing the file routes send may run in a browser, whatever its type: a sandboxed, script-free
/// document even if someone opens it directly (the global headers add `nosniff`).
async fn inert_responses(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox; default-src 'none'; frame-ancestors 'none'"),
    );
    resp
}

/// A login attempt is counted before its password is hashed (and given back if it succeeds): past the
/// budget every attempt gets 429 for the window, whatever the password, and costs no hash — so
/// guessing is limited by the budget, not by Argon2's speed, and a flood costs no memory.
async fn throttle_login(
    s: &AppState,
    ip: std::net::IpAddr,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Err(retry) = s.auth_failure_limit.check(ip, std::time::Instant::now()) {
        tracing::warn!(%ip, "too many failed sign-ins");
        let msg = "Too many failed sign-in attempts; try again later";
        return FileError::too_many("RATE_LIMIT_ERROR", msg, retry).into_response();
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::UNAUTHORIZED {
        s.auth_failure_limit.refund(&ip);
    }
    resp
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/files", post(upload::upload))
        .route("/files/{id}", get(download::download).delete(upload::delete))
        .route("/files/{id}/info", get(download::info))
        .route("/files/{id}/entities", get(download::entities))
        .route("/files/{id}/status", get(query::file_status))
        .route("/files/{id}/public", post(upload::make_public).delete(upload::make_private))
        .route("/files/by-owner/{owner}", get(query::by_owner))
        .route("/api/files/owner/{owner}", get(query::by_owner))
        .route("/files/by-extension/{ext}", get(query::by_extension))
        .route("/files/by-type/{*content_type}", get(query::by_type))
        .route("/status/{key}", get(query::key_status))
        .route("/quota", get(query::quota))
        .merge(account::router())
        .merge(tus::router())
        .layer(axum::middleware::from_fn_with_state(state, throttle_failures))
        .layer(axum::middleware::from_fn(inert_responses))
        .layer(DefaultBodyLimit::disable())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitizes_like_filedb() {
        assert_eq!(sanitize("  <b>Al   ice</b> & 'co'  "), "Al ice co");
        assert_eq!(sanitize("smoke-owner-1"), "smoke-owner-1");
    }

    #[test]
    fn iso_dates() {
        assert_eq!(iso8601(0), "1970-01-01T00:00:00.000Z");
        assert_eq!(iso8601(1_700_000_000_123), "2023-11-14T22:13:20.123Z");
    }
}
