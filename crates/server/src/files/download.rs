//! `GET /files/:id` (streamed, `Range`, every chunk verified before its bytes leave), `/info` and
//! `/entities` answered from the manifest alone.

use super::actor::Actor;
use super::common::{FileResult, blocking, iso8601};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use quire_filestore::{FileRecord, FileStoreError};
use quire_stdx::hex::encode as hex;
use serde_json::{Value, json};

/// One `bytes=` range, resolved against `size` (end exclusive). `Err` = unsatisfiable.
fn parse_range(v: &str, size: u64) -> Option<Result<(u64, u64), ()>> {
    let spec = v.trim().strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None; // multiple ranges: answer the whole file (allowed by RFC 9110)
    }
    let (a, b) = spec.split_once('-')?;
    let (a, b) = (a.trim(), b.trim());
    let r = if a.is_empty() {
        let n: u64 = b.parse().ok()?;
        if n == 0 { Err(()) } else { Ok((size.saturating_sub(n), size)) }
    } else {
        let start: u64 = a.parse().ok()?;
        let end = if b.is_empty() { size } else { b.parse::<u64>().ok()?.saturating_add(1).min(size) };
        if start >= size || end <= start { Err(()) } else { Ok((start, end)) }
    };
    Some(r)
}

/// `?inline=1` (or `true`) asks to show the file in the browser; only inert types get that.
fn inline_requested(uri: &Uri) -> bool {
    uri.query().is_some_and(|q| {
        q.split('&').any(|kv| matches!(kv, "inline" | "inline=1" | "inline=true" | "disposition=inline"))
    })
}

/// The stored type when it is still an allowed, well-formed type; else bytes. (Files stored before
/// tus types were checked may hold anything.)
fn served_type(stored: &str) -> String {
    let ok = super::validate::content_type(stored).is_ok() && HeaderValue::from_str(stored).is_ok();
    if ok { stored.to_string() } else { "application/octet-stream".into() }
}

/// A filename safe inside a quoted `Content-Disposition` parameter. Anything but an inert type shown
/// on request is an attachment: a browser must never render an uploaded HTML or SVG file on Quire's
/// origin, where its script would act with the owner's session.
fn disposition(name: &str, inline: bool) -> String {
    let clean: String = name.chars().filter(|c| !c.is_control() && *c != '"' && *c != '\\').collect();
    let ascii: String = clean.chars().map(|c| if c.is_ascii() { c } else { '_' }).collect();
    let encoded = percent_encoding::utf8_percent_encode(&clean, percent_encoding::NON_ALPHANUMERIC);
    let kind = if inline { "inline" } else { "attachment" };
    format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")
}

async fn readable(s: &AppState, Actor(who): Actor, id: String) -> FileResult<FileRecord> {
    let files = s.files.clone();
    let fid = id.clone();
    blocking(move || files.file(&who, &fid))
        .await
        .map_err(|e| if e.code == Code::FileNotFound { e.with_context(json!({"fileId": id})) } else { e })
}

pub async fn download(
    State(s): State<AppState>,
    who: Actor,
    uri: Uri,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> FileResult<Response> {
    let f = readable(&s, who, id).await?;
    if f.damaged {
        let message = format!("File {} is damaged: stored data failed verification (run quire fsck)", f.id);
        return Err(ApiError::new(Code::CorruptData, message).with_context(json!({"fileId": f.id})));
    }
    let range = headers.get(header::RANGE).and_then(|v| v.to_str().ok()).and_then(|v| parse_range(v, f.size));
    let (start, end, partial) = match range {
        None => (0, f.size, false),
        Some(Ok((a, b))) => (a, b, true),
        Some(Err(())) => {
            let mut resp = ApiError::new(Code::RangeNotSatisfiable, "Range not satisfiable").into_response();
            if let Ok(v) = HeaderValue::from_str(&format!("bytes */{}", f.size)) {
                resp.headers_mut().insert(header::CONTENT_RANGE, v);
            }
            return Ok(resp);
        }
    };
    let files = s.files.clone();
    let rec = f.clone();
    // The first piece is read before the status goes out, so a bad first chunk is a clean 500.
    let (mut reader, first) = blocking(move || {
        let mut r = files.read_range(rec, start, end)?;
        let first = r.next_piece().transpose()?;
        Ok((r, first))
    })
    .await?;
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Bytes, FileStoreError>>(2);
    if let Some(first) = first {
        let _ = tx.try_send(Ok(Bytes::from(first)));
        tokio::task::spawn_blocking(move || {
            for piece in reader.by_ref() {
                let failed = piece.is_err();
                // A later bad chunk can only abort the connection: the status is already sent.
                if tx.blocking_send(piece.map(Bytes::from)).is_err() || failed {
                    break;
                }
            }
        });
    }
    let stream =
        futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    let mut resp = Response::new(Body::from_stream(stream));
    *resp.status_mut() = if partial { StatusCode::PARTIAL_CONTENT } else { StatusCode::OK };
    let h = resp.headers_mut();
    let mut set = |name: header::HeaderName, v: String| {
        if let Ok(v) = HeaderValue::from_str(&v) {
            h.insert(name, v);
        }
    };
    let content_type = served_type(&f.content_type);
    let inline = inline_requested(&uri) && super::validate::inline_safe(&content_type);
    set(header::CONTENT_TYPE, content_type);
    set(header::CONTENT_LENGTH, (end - start).to_string());
    set(header::CONTENT_DISPOSITION, disposition(&f.filename, inline));
    let cache = if f.public { "public, max-age=86400" } else { "private, max-age=86400" };
    set(header::CACHE_CONTROL, cache.into());
    set(header::ACCEPT_RANGES, "bytes".into());
    set(header::ETAG, format!("\"{}\"", f.blake3));
    set(header::HeaderName::from_static("x-file-extension"), f.extension.clone());
    set(header::HeaderName::from_static("x-file-size"), f.size.to_string());
    set(header::HeaderName::from_static("x-upload-date"), iso8601(f.created_at));
    if partial {
        set(header::CONTENT_RANGE, format!("bytes {start}-{}/{}", end - 1, f.size));
    }
    Ok(resp)
}

async fn entity_keys(s: &AppState, f: &FileRecord) -> FileResult<(String, Vec<String>)> {
    let files = s.files.clone();
    let id = f.id.clone();
    let chunks = blocking(move || files.chunks(&id)).await?;
    Ok((format!("manifest:{}", f.id), chunks.iter().map(|c| format!("chunk:{}", hex(&c.hash))).collect()))
}

pub async fn info(State(s): State<AppState>, who: Actor, Path(id): Path<String>) -> FileResult<Json<Value>> {
    let f = readable(&s, who, id).await?;
    let (manifest, keys) = entity_keys(&s, &f).await?;
    let mut v = json!({
        "file_id": f.id,
        "original_filename": f.filename,
        "content_type": f.content_type,
        "file_extension": f.extension,
        "total_size": f.size,
        "chunk_count": f.chunk_count,
        "checksum": f.sha256,
        "blake3": f.blake3,
        "created_at": iso8601(f.created_at),
        "btl_days": f.btl_days,
        "expires_at": f.expires_at.map(iso8601),
        "metadata_entity_key": manifest,
        "total_blockchain_entities": keys.len() + 1,
        "chunk_entity_keys": keys,
        "public": f.public,
        "damaged": f.damaged,
    });
    if let Some(o) = &f.owner {
        v["owner"] = json!(o);
    }
    // Whose account the file is in (`owner` is only a label the uploader chose).
    v["user_id"] = json!(f.user_id);
    Ok(Json(v))
}

pub async fn entities(
    State(s): State<AppState>,
    who: Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    let f = readable(&s, who, id).await?;
    let (manifest, keys) = entity_keys(&s, &f).await?;
    Ok(Json(json!({
        "file_id": f.id,
        "metadata_entity_key": manifest,
        "total_entities": keys.len() + 1,
        "chunk_entity_keys": keys,
    })))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some(Ok((0, 10))));
        assert_eq!(parse_range("bytes=90-", 100), Some(Ok((90, 100))));
        assert_eq!(parse_range("bytes=-5", 100), Some(Ok((95, 100))));
        assert_eq!(parse_range("bytes=50-500", 100), Some(Ok((50, 100))));
        assert_eq!(parse_range("bytes=100-", 100), Some(Err(())));
        assert_eq!(parse_range("bytes=0-1,3-4", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }
}
