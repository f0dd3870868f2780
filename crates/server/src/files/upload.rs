//! `POST /files` (multipart, streamed into the store; replies once the file is durable), `DELETE
//! /files/:id`, and making a file public or private.

use super::actor::Actor;
use super::common::{ChannelReader, FileResult, blocking, sanitize};
use super::validate;
use crate::error::ApiError;
use crate::state::AppState;
use axum::Json;
use axum::extract::{Multipart, Path, State};
use axum::http::HeaderMap;
use quire_filestore::{Admission, NewFile};
use serde_json::{Value, json};

fn valid_key(k: &str) -> bool {
    (8..=128).contains(&k.len()) && k.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

fn header_str<'a>(h: &'a HeaderMap, name: &str) -> Option<&'a str> {
    h.get(name).and_then(|v| v.to_str().ok())
}

pub async fn upload(
    State(s): State<AppState>,
    Actor(who): Actor,
    headers: HeaderMap,
    form: Result<Multipart, axum::extract::multipart::MultipartRejection>,
) -> FileResult<Json<Value>> {
    let mut form =
        form.map_err(|e| ApiError::invalid(format!("Expected a multipart/form-data body: {e}")))?;
    let key =
        header_str(&headers, "idempotency-key").map(str::trim).filter(|k| !k.is_empty()).map(str::to_string);
    if key.as_ref().is_some_and(|k| k.len() > 255) {
        return Err(ApiError::invalid("Idempotency-Key is longer than 255 characters"));
    }
    let btl_days = match header_str(&headers, "btl-days") {
        None => None,
        Some(v) => match v.trim().parse::<i64>() {
            Ok(d) if (0..=36_500).contains(&d) => Some(d),
            _ => {
                return Err(ApiError::invalid(
                    "BTL-Days must be a whole number of days from 0 (never) to 36500",
                ));
            }
        },
    };
    let max = s.files.config.max_file_size;
    if header_str(&headers, "content-length")
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|n| n > max + (1 << 20))
    {
        return Err(quire_filestore::FileStoreError::TooLarge { max }.into());
    }
    let (files, w, k) = (s.files.clone(), who.clone(), key.clone());
    let ticket = blocking(move || files.begin(&w, k.as_deref())).await?;
    let adm = if s.files.is_replay(&ticket) {
        Admission::unlimited(max)
    } else {
        let (files, w) = (s.files.clone(), who.clone());
        blocking(move || files.admit(&w, None)).await?
    };
    let mut nf = NewFile { btl_days, ..Default::default() };
    let mut staged = None;
    while let Some(mut field) = form.next_field().await.map_err(|e| ApiError::invalid(e.to_string()))? {
        match field.name().unwrap_or("") {
            "file" if staged.is_none() => {
                nf.filename = field.file_name().unwrap_or("file").to_string();
                nf.content_type = field.content_type().unwrap_or("application/octet-stream").to_string();
                validate::filename(&nf.filename)?;
                validate::content_type(&nf.content_type)?;
                let (tx, rx) = tokio::sync::mpsc::channel(8);
                let files = s.files.clone();
                let task = tokio::task::spawn_blocking(move || files.stage(&mut ChannelReader::new(rx), adm));
                loop {
                    match field.chunk().await {
                        Ok(Some(b)) => {
                            if tx.send(Ok(b)).await.is_err() {
                                break; // the store stopped reading (limit or error); its result says why
                            }
                        }
                        Ok(None) => break,
                        Err(e) => {
                            let _ = tx.send(Err(e.to_string())).await;
                            break;
                        }
                    }
                }
                drop(tx);
                let st = task.await.map_err(|e| ApiError::internal(e.to_string()))??;
                staged = Some(st);
            }
            "owner" => {
                let v = field.text().await.map_err(|e| ApiError::invalid(e.to_string()))?;
                nf.owner = Some(sanitize(&v));
            }
            "idempotency_key" => {
                let v = field.text().await.map_err(|e| ApiError::invalid(e.to_string()))?;
                if !valid_key(&v) {
                    let why = "idempotency_key must be 8-128 characters of [A-Za-z0-9_-]";
                    return Err(ApiError::invalid("File upload validation failed")
                        .with_context(json!({"message": why})));
                }
            }
            _ => {
                // Other fields (e.g. ttl_days) are ignored, as in FileDB; drain them.
                while field.chunk().await.map_err(|e| ApiError::invalid(e.to_string()))?.is_some() {}
            }
        }
    }
    let Some(staged) = staged else { return Err(ApiError::invalid("No file provided")) };
    let files = s.files.clone();
    let out = blocking(move || files.finish(&who, ticket, staged, nf)).await?;
    Ok(Json(json!({"file_id": out.file_id, "message": "Upload successful", "checksum": out.sha256})))
}

pub async fn delete(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    let files = s.files.clone();
    let fid = id.clone();
    blocking(move || files.delete(&who, &fid)).await?;
    Ok(Json(json!({"file_id": id, "message": "File deleted"})))
}

async fn set_public(
    s: AppState,
    who: quire_filestore::Actor,
    id: String,
    public: bool,
) -> FileResult<Json<Value>> {
    let files = s.files.clone();
    let fid = id.clone();
    blocking(move || files.set_public(&who, &fid, public)).await?;
    Ok(Json(json!({"file_id": id, "public": public})))
}

pub async fn make_public(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    set_public(s, who, id, true).await
}

pub async fn make_private(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    set_public(s, who, id, false).await
}
