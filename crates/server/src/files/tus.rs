//! tus 1.0 at `/uploads/`: core, creation, creation-with-upload, expiration, checksum (sha1, sha256,
//! blake3; mismatch → 460), termination. `Tus-Resumable` on every response; 412 on another version;
//! 409 on an offset mismatch; one request at a time per upload (423 otherwise). A finished upload is a
//! file like `POST /files`; its id comes back in `X-File-Id`.

use super::tus_headers::{self, VERSION};
use super::{ChannelReader, FileError, FileResult, actor, blocking, validate};
use crate::state::AppState;
use axum::Router;
use axum::body::Body;
use axum::extract::{Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{MethodRouter, any};
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
        let mut r = FileError::new(
            StatusCode::PRECONDITION_FAILED,
            "TUS_VERSION_UNSUPPORTED",
            "Tus-Resumable must be 1.0.0",
        )
        .into_response();
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
    let v = v.to_str().map_err(|_| FileError::invalid("Upload-Checksum is not ASCII"))?;
    tus_headers::parse_checksum(v).map(Some).map_err(FileError::invalid)
}

fn number(h: &HeaderMap, name: &str) -> FileResult<Option<u64>> {
    match h.get(name) {
        None => Ok(None),
        Some(v) => v
            .to_str()
            .map_err(|_| format!("{name} must be a non-negative integer"))
            .and_then(|v| tus_headers::parse_number(name, v))
            .map(Some)
            .map_err(FileError::invalid),
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
    task.await.map_err(|e| FileError::internal(e.to_string()))?.map_err(FileError::from)
}

fn is_offset_stream(h: &HeaderMap) -> bool {
    h.get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.trim().eq_ignore_ascii_case(OFFSET_TYPE))
}

async fn create(State(s): State<AppState>, uri: Uri, headers: HeaderMap, body: Body) -> FileResult<Response> {
    let who = actor(&s, &headers, &uri).await?;
    if headers.contains_key("upload-defer-length") {
        return Err(FileError::invalid("Upload-Defer-Length is not supported; send Upload-Length"));
    }
    let length =
        number(&headers, "upload-length")?.ok_or_else(|| FileError::invalid("Upload-Length is required"))?;
    let metadata = match headers.get("upload-metadata") {
        Some(v) if v.len() > validate::MAX_METADATA_BYTES => {
            return Err(FileError::invalid(format!(
                "Upload-Metadata is {} bytes; at most {} are allowed",
                v.len(),
                validate::MAX_METADATA_BYTES
            )));
        }
        Some(v) => {
            let v = v
                .to_str()
                .map_err(|_| FileError::invalid("Upload-Metadata must be ASCII (base64 values)"))?;
            validate::tus_metadata(tus_headers::parse_metadata(v).map_err(FileError::invalid)?)?
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

async fn head(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> FileResult<Response> {
    let who = actor(&s, &headers, &uri).await?;
    let files = s.files.clone();
    let rec = blocking(move || files.tus_get(&who, &id)).await?;
    let mut r = StatusCode::OK.into_response();
    upload_headers(&mut r, &rec);
    set(&mut r, "cache-control", "no-store".into());
    Ok(r)
}

async fn patch(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
    body: Body,
) -> FileResult<Response> {
    let who = actor(&s, &headers, &uri).await?;
    if !is_offset_stream(&headers) {
        return Err(FileError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            "UNSUPPORTED_MEDIA_TYPE",
            format!("Content-Type must be {OFFSET_TYPE}"),
        ));
    }
    let offset =
        number(&headers, "upload-offset")?.ok_or_else(|| FileError::invalid("Upload-Offset is required"))?;
    let checksum = parse_checksum(&headers)?;
    let rec = append(&s, who, id, offset, checksum, body).await?;
    let mut r = StatusCode::NO_CONTENT.into_response();
    upload_headers(&mut r, &rec);
    Ok(r)
}

async fn terminate(
    State(s): State<AppState>,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> FileResult<StatusCode> {
    let who = actor(&s, &headers, &uri).await?;
    let files = s.files.clone();
    blocking(move || files.tus_terminate(&who, &id)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn collection() -> MethodRouter<AppState> {
    any(|State(s): State<AppState>, uri: Uri, method: Method, headers: HeaderMap, body: Body| async move {
        match method {
            Method::OPTIONS => options(State(s)).await,
            Method::POST => create(State(s), uri, headers, body).await.into_response(),
            _ => FileError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "METHOD_NOT_ALLOWED",
                "Use POST to create an upload",
            )
            .into_response(),
        }
    })
}

fn member() -> MethodRouter<AppState> {
    any(
        |State(s): State<AppState>,
         uri: Uri,
         method: Method,
         headers: HeaderMap,
         Path(id): Path<String>,
         body: Body| async move {
            match method {
                Method::OPTIONS => options(State(s)).await,
                Method::HEAD => head(State(s), uri, headers, Path(id)).await.into_response(),
                Method::PATCH => patch(State(s), uri, headers, Path(id), body).await.into_response(),
                Method::DELETE => terminate(State(s), uri, headers, Path(id)).await.into_response(),
                _ => FileError::new(
                    StatusCode::METHOD_NOT_ALLOWED,
                    "METHOD_NOT_ALLOWED",
                    "Use HEAD, PATCH or DELETE on an upload",
                )
                .into_response(),
            }
        },
    )
}

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/uploads", collection())
        .route("/uploads/", collection())
        .route("/uploads/{id}", member())
        .layer(axum::middleware::from_fn(tus_headers))
}
