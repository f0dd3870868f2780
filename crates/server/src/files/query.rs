//! Listings (by owner label, extension, base media type), `/quota`, and upload status (FileDB's
//! session shape, answered from committed manifests and idempotency keys).

use super::actor::Actor;
use super::common::{FileResult, blocking, iso8601};
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use quire_filestore::{FileRecord, ListBy};
use serde_json::{Value, json};
use std::collections::HashMap;

#[derive(Clone, Copy)]
enum By {
    Owner,
    Extension,
    Type,
}

/// The files, each with who uploaded it: `owner` is only a label the uploader chose (anyone can write
/// "quire"), so listings also say whose account the file is in — `user_id` always (`admin` for the
/// server token), and `user_email` to an admin or for the viewer's own files.
async fn list(
    s: &AppState,
    who: quire_filestore::Actor,
    by: By,
    arg: String,
) -> FileResult<Vec<(FileRecord, Value)>> {
    let st = s.clone();
    blocking(move || {
        let by = match by {
            By::Owner => ListBy::Owner(&arg),
            By::Extension => ListBy::Extension(&arg),
            By::Type => ListBy::BaseType(&arg),
        };
        let found = st.files.list(&who, by)?;
        let mut emails: HashMap<String, Option<String>> = HashMap::new();
        let mut out = Vec::with_capacity(found.len());
        for f in found {
            let visible = who.admin || f.user_id == who.user_id;
            let by = if !visible || f.user_id == quire_filestore::users::ADMIN_ID {
                Value::Null
            } else {
                if !emails.contains_key(&f.user_id) {
                    let email = st.users.user(&f.user_id)?.map(|u| u.email);
                    emails.insert(f.user_id.clone(), email);
                }
                json!(emails[&f.user_id])
            };
            out.push((f, by));
        }
        Ok(out)
    })
    .await
}

fn with_uploader(mut row: Value, f: &FileRecord, by: &Value) -> Value {
    row["user_id"] = json!(f.user_id);
    row["user_email"] = by.clone();
    row
}

pub async fn by_owner(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(owner): Path<String>,
) -> FileResult<Json<Value>> {
    let found = list(&s, who, By::Owner, owner.clone()).await?;
    let files: Vec<Value> = found
        .iter()
        .map(|(f, by)| {
            let row = json!({"file_id": f.id, "original_filename": f.filename, "content_type": f.content_type,
                   "file_extension": f.extension, "total_size": f.size, "created_at": iso8601(f.created_at),
                   "owner": f.owner});
            with_uploader(row, f, by)
        })
        .collect();
    Ok(Json(json!({"owner": owner, "count": files.len(), "files": files})))
}

pub async fn by_extension(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(ext): Path<String>,
) -> FileResult<Json<Value>> {
    let found = list(&s, who, By::Extension, ext.clone()).await?;
    let files: Vec<Value> = found
        .iter()
        .map(|(f, by)| {
            let row = json!({"file_id": f.id, "original_filename": f.filename, "content_type": f.content_type,
                   "total_size": f.size, "created_at": iso8601(f.created_at)});
            with_uploader(row, f, by)
        })
        .collect();
    Ok(Json(json!({"extension": ext, "count": files.len(), "files": files})))
}

pub async fn by_type(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(ct): Path<String>,
) -> FileResult<Json<Value>> {
    let found = list(&s, who, By::Type, ct.clone()).await?;
    let files: Vec<Value> = found
        .iter()
        .map(|(f, by)| {
            let row = json!({"file_id": f.id, "original_filename": f.filename, "file_extension": f.extension,
                   "total_size": f.size, "created_at": iso8601(f.created_at)});
            with_uploader(row, f, by)
        })
        .collect();
    Ok(Json(json!({"content_type": ct, "count": files.len(), "files": files})))
}

pub async fn quota(State(s): State<AppState>, Actor(who): Actor) -> FileResult<Json<Value>> {
    let files = s.files.clone();
    let admin = who.admin;
    let usage = blocking(move || files.usage(&who)).await?;
    let used = usage.used();
    let cfg = &s.files.config;
    let pct = if cfg.quota_bytes == 0 { 0.0 } else { used as f64 * 100.0 / cfg.quota_bytes as f64 };
    Ok(Json(json!({
        "used_bytes": used,
        "stored_bytes": usage.stored,
        "reserved_bytes": usage.reserved,
        "max_bytes": cfg.quota_bytes,
        "uploads_today": usage.today,
        "uploads_in_progress": usage.in_progress,
        "max_uploads_in_progress": cfg.max_uploads_in_progress,
        "max_uploads_per_day": cfg.max_uploads_per_day,
        "usage_percentage": format!("{pct:.2}"),
        "unlimited": admin,
    })))
}

fn status_body(file_id: &str, file: Option<&FileRecord>) -> Value {
    let done = file.is_some();
    let chunks = file.map(|f| f.chunk_count).unwrap_or(0);
    let pct = if done { 100 } else { 0 };
    let mut v = json!({
        "file_id": file_id,
        "status": if done { "completed" } else { "uploading" },
        "completed": done,
        "progress": {
            "chunks_uploaded": chunks, "total_chunks": chunks, "percentage": pct, "remaining_chunks": 0,
            "elapsed_seconds": 0, "estimated_remaining_seconds": if done { json!(0) } else { Value::Null },
        },
        "chunks_received": chunks,
        "total_chunks": chunks,
        "chunks_uploaded_to_blockchain": chunks,
        "progress_percentage": pct,
        "file_info": {},
    });
    if let Some(f) = file {
        v["file_info"] =
            json!({"original_filename": f.filename, "file_size": f.size, "content_type": f.content_type});
        if let Some(o) = &f.owner {
            v["file_info"]["owner"] = json!(o);
        }
    }
    v
}

fn session_not_found() -> ApiError {
    ApiError::new(Code::NotFound, "Upload session not found")
}

pub async fn file_status(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(id): Path<String>,
) -> FileResult<Json<Value>> {
    let files = s.files.clone();
    let fid = id.clone();
    let f = blocking(move || files.file(&who, &fid)).await.map_err(|_| session_not_found())?;
    Ok(Json(status_body(&id, Some(&f))))
}

pub async fn key_status(
    State(s): State<AppState>,
    Actor(who): Actor,
    Path(key): Path<String>,
) -> FileResult<Json<Value>> {
    let files = s.files.clone();
    let found = blocking(move || {
        let Some((file_id, done)) = files.idempotency_status(&who, &key)? else { return Ok(None) };
        let f = if done { files.file(&who, &file_id).ok() } else { None };
        Ok(Some((file_id, f)))
    })
    .await?;
    let (file_id, f) = found.ok_or_else(session_not_found)?;
    Ok(Json(status_body(&file_id, f.as_ref())))
}
