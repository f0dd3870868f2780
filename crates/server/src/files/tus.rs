//! tus 1.0 at `/uploads/`: core, creation, creation-with-upload, expiration, checksum (sha1, sha256,
//! blake3; mismatch → 460), termination. `Tus-Resumable` on every response; 412 on another version;
//! 409 on an offset mismatch; one request at a time per upload (423 otherwise). A finished upload is a
//! file like `POST /files`; its id comes back in `X-File-Id`.

use super::actor::Actor;
use super::common::{ChannelReader, FileResult, blocking};
use super::tus_headers::{self, VERSION};
use super::validate;
use crate::error::{ApiError, Code};
use crate::routes::table::{self, Access, Route, route};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use quire_filestore::{Checksum, ChecksumAlgo, UploadRecord};
use std::time::{Duration, UNIX_EPOCH};

const EXTENSIONS: &str = "creation,creation-with-upload,expiration,checksum,termination";
const OFFSET_TYPE: &str = "application/offset+octet-stream";

/// `Tus-Resumable` on every response; another version → 412 before anything is processed.
async fn tus_headers(req: Request, next: Next) -> Response {
    let version_ok = req.method() == Method::OPTIONS
        || req
            .headers()
            .get("tus-resumable")
            .and_then(|v| v.to_str().ok())
            .is_some_and(tus_headers::version_supported);
    let mut resp = if version_ok {
        next.run(req).await
    } else {
        let mut r = ApiError::new(Code::TusVersionUnsupported, "Tus-Resumable must be 1.0.0").into_response();
        r.headers_mut().insert("tus-version", HeaderValue::from_static(VERSION));
        r
    };
    resp.headers_mut().insert("tus-resumable", HeaderValue::from_static(VERSION));
    resp
}

fn set(resp: &mut Response, name: &'static str, v: String) {
    if let Ok(v) = HeaderValue::from_str(&v) {
        resp.headers_mut().insert(HeaderName::from_static(name), v);
    }
}

fn http_date(ms: i64) -> String {
    httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_millis(ms.max(0) as u64))
}

fn upload_headers(resp: &mut Response, rec: &UploadRecord) {
    set(resp, "upload-offset", rec.offset.to_string());
    if let Some(l) = rec.length {
        set(resp, "upload-length", l.to_string());
    }
    if rec.file_id.is_none() {
        set(resp, "upload-expires", http_date(rec.expires_at));
    }
    if let Some(f) = &rec.file_id {
        set(resp, "x-file-id", f.clone());
    }
}

async fn options(State(s): State<AppState>) -> Response {
    let mut r = StatusCode::NO_CONTENT.into_response();
    set(&mut r, "tus-version", VERSION.into());
    set(&mut r, "tus-extension", EXTENSIONS.into());
    set(&mut r, "tus-max-size", s.files.config.max_file_size.to_string());
    set(&mut r, "tus-checksum-algorithm", ChecksumAlgo::NAMES.into());
    r
}

fn parse_checksum(h: &HeaderMap) -> FileResult<Option<Checksum>> {
    let Some(v) = h.get("upload-checksum") else { return Ok(None) };
    let v = v.to_str().map_err(|_| ApiError::invalid("Upload-Checksum is not ASCII"))?;
    tus_headers::parse_checksum(v).map(Some).map_err(ApiError::invalid)
}

fn number(h: &HeaderMap, name: &str) -> FileResult<Option<u64>> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map_err(|_| format!("{name} must be a non-negative integer"))
            .and_then(|v| tus_headers::parse_number(name, v))
            .map(Some)
            .map_err(ApiError::invalid),
    }
}

/// Feed the request body to the store on a blocking thread; a dropped connection reaches the store as
/// a read error, so it keeps only durable bytes.
async fn append(
    s: &AppState,
    who: quire_filestore::Actor,
    id: String,
    offset: u64,
    checksum: Option<Checksum>,
    body: Body,
) -> FileResult<UploadRecord> {
    let (tx, rx) = tokio::sync::mpsc::channel(8);
    let files = s.files.clone();
    let task = tokio::task::spawn_blocking(move || {
        files.tus_append(&who, &id, offset, &mut ChannelReader::new(rx), checksum)
    });
    let mut stream = body.into_data_stream();
    while let Some(item) = stream.next().await {
        let msg = item.map_err(|e| e.to_string());
        let failed = msg.is_err();
        if tx.send(msg).await.is_err() || failed {
            break;
        }
    }
    drop(tx);
    task.await.map_err(|e| ApiError::internal(e.to_string()))?.map_err(ApiError::from)
}

fn is_offset_stream(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_TYPE))
}

async fn create(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    body: Body,
) -> FileResult<Response> {
    if headers.contains_key("upload-defer-length") {
        return Err(ApiError::invalid("Upload-Defer-Length is not supported; send Upload-Length"));
    }
    let length =
        number(&headers, "upload-length")?.ok_or_else(|| ApiError::invalid("Upload-Length is required"))?;
    let metadata = match headers.get("upload-metadata") {
        Some(v) if v.len() > validate::MAX_METADATA_BYTES => {
            return Err(ApiError::invalid(format!(
                "Upload-Metadata is {} bytes; at most {} are allowed",
                v.len(),
                validate::MAX_METADATA_BYTES
            )));
        }
        Some(v) => {
            let v =
                v.to_str().map_err(|_| ApiError::invalid("Upload-Metadata must be ASCII (base64 values)"))?;
            validate::tus_metadata(tus_headers::parse_metadata(v).map_err(ApiError::invalid)?)?
        }
        None => Vec::new(),
    };
    let checksum = parse_checksum(&headers)?;
    let files = s.files.clone();
    let w = who.clone();
    let mut rec = blocking(move || files.tus_create(&w, length, metadata)).await?;
    let has_body = number(&headers, "content-length")?.unwrap_or(0) > 0
        || headers.contains_key(header::TRANSFER_ENCODING);
    if has_body && is_offset_stream(&headers) {
        rec = append(&s, who, rec.id.clone(), 0, checksum, body).await?;
    } else if length == 0 {
        // Nothing will ever be PATCHed: the empty file exists as soon as the upload does.
        let files = s.files.clone();
        let id = rec.id.clone();
        rec = blocking(move || files.tus_get(&who, &id)).await?;
    }
    let mut r = StatusCode::CREATED.into_response();
    set(&mut r, "location", format!("/uploads/{}", rec.id));
    upload_headers(&mut r, &rec);
    Ok(r)
}

async fn head(State(s): State<AppState>, Actor(who): Actor, Path(id): Path<String>) -> FileResult<Response> {
    let files = s.files.clone();
    let rec = blocking(move || files.tus_get(&who, &id)).await?;
    let mut r = StatusCode::OK.into_response();
    upload_headers(&mut r, &rec);
    set(&mut r, "cache-control", "no-store".into());
    Ok(r)
}

async fn patch(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> FileResult<Response> {
    if !is_offset_stream(&headers) {
        return Err(ApiError::new(Code::UnsupportedMediaType, format!("Content-Type must be {OFFSET_TYPE}")));
    }
    let offset =
        number(&headers, "upload-offset")?.ok_or_else(|| ApiError::invalid("Upload-Offset is required"))?;
    let checksum = parse_checksum(&headers)?;
    let rec = append(&s, who, id, offset, checksum, body).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    upload_headers(&mut r, &rec);
    Ok(r)
}

async fn terminate(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> FileResult<StatusCode> {
    let files = s.files.clone();
    blocking(move || files.tus_terminate(&who, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub fn routes() -> Vec<Route> {
    use Access::{FileCredentials as C, Public};
    use Method as M;
    vec![
        route(Public, M::OPTIONS, "/uploads", options),
        route(C, M::POST, "/uploads", create),
        route(Public, M::OPTIONS, "/uploads/", options),
        route(C, M::POST, "/uploads/", create),
        route(Public, M::OPTIONS, "/uploads/{id}", options),
        route(C, M::HEAD, "/uploads/{id}", head),
        route(C, M::PATCH, "/uploads/{id}", patch),
        route(C, M::DELETE, "/uploads/{id}", terminate),
    ]
}

/// Another method on a tus path: 405 saying which ones work (in FileDB's shape, with tus headers).
async fn method_not_allowed(uri: Uri) -> ApiError {
    let message = if uri.path().trim_end_matches('/') == "/uploads" {
        "Use POST to create an upload"
    } else {
        "Use HEAD, PATCH or DELETE on an upload"
    };
    ApiError::new(Code::MethodNotAllowed, message)
}

pub fn router() -> Router<AppState> {
    // tus PATCHes stream as long as the body takes: untimed, like every tus route.
    table::build(routes().into_iter().map(Route::untimed).collect())
        .method_not_allowed_fallback(method_not_allowed)
        .layer(axum::middleware::from_fn(tus_headers))
}
