//! Attach a stored file to a notebook: `POST /api/sessions/:id/files {file_id, filename?}` copies it
//! (streamed, every chunk verified) into the notebook's `files/` directory, durably. Cells run with the
//! notebook directory as their working directory, so they read it as `files/<name>`.

use super::actor::admin_actor;
use super::common::blocking;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::Json;
use axum::extract::{Path, State};
use quire_filestore::FileStoreError;
use serde_json::{Value, json};
use std::io::Write;

/// A plain file name: `[A-Za-z0-9._-]`, no leading dot, at most 128 characters.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 128
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'))
}

pub async fn attach(
    State(s): State<AppState>,
    Path(id): Path<String>,
    body: axum::body::Bytes,
) -> Result<Json<Value>, ApiError> {
    let v: Value =
        serde_json::from_slice(&body).map_err(|_| ApiError::new(Code::InvalidJson, "Expected {file_id}"))?;
    let Some(file_id) = v["file_id"].as_str().map(str::to_string) else {
        return Err(ApiError::new(Code::InvalidPayload, "file_id is required"));
    };
    let handle = s.store.get(&id)?;
    let dir = quire_notebook::lock(&handle).dir.join("files");
    let files = s.files.clone();
    let f = blocking(move || files.file(&admin_actor(), &file_id)).await?;
    let name = v["filename"].as_str().unwrap_or(&f.filename).to_string();
    if !valid_name(&name) {
        return Err(ApiError::new(Code::InvalidFilename, format!("{name:?} is not a plain file name")));
    }
    let files = s.files.clone();
    let size = f.size;
    let target = dir.join(&name);
    let path = format!("files/{name}");
    blocking(move || {
        std::fs::create_dir_all(&dir)?;
        let tmp = quire_stdx::fs::DeleteOnDrop::new(quire_stdx::fs::temp_path(&target)?);
        let mut out = std::fs::File::create(tmp.path())?;
        for piece in files.read_range(f, 0, u64::MAX)? {
            out.write_all(&piece?)?;
        }
        out.sync_all()?;
        std::fs::rename(tmp.path(), &target)?;
        tmp.keep();
        quire_stdx::fs::sync_dir(&dir)?;
        Ok::<_, FileStoreError>(())
    })
    .await?;
    Ok(Json(json!({"error": false, "result": {"path": path, "size": size}})))
}
