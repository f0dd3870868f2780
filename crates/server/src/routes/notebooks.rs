//! Notebook routes: create, delete, sessions (open/list/get/export), secret links, `/file`.

use crate::error::{ApiError, ApiResult, Code};
use crate::extract::JsonBody;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{StatusCode, header};
use axum::response::IntoResponse;
use quire_notebook::{Handle, lock};
use quire_stdx::now_ms;
use serde::Deserialize;
use serde_json::{Value, json};
use srcmd::Language;

/// Run blocking notebook I/O off the async workers.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> ApiResult<T> + Send + 'static) -> ApiResult<T> {
    tokio::task::spawn_blocking(f).await.map_err(|e| ApiError::internal(format!("task failed: {e}")))?
}

#[derive(Deserialize)]
pub struct CreateBody {
    name: String,
    language: Language,
}

pub async fn create(State(s): State<AppState>, JsonBody(b): JsonBody<CreateBody>) -> ApiResult<Json<Value>> {
    let name = b.name.clone();
    let s2 = s.clone();
    let handle = blocking(move || Ok(s2.store.create(&b.name, b.language)?)).await?;
    let id = lock(&handle).id.clone();
    s.notebooks.approve(&id)?;
    let nb = lock(&handle);
    Ok(wire::ok(json!({"name": name, "path": nb.dir, "id": nb.id})))
}

pub async fn delete(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    s.store.get(&id)?;
    // Stop its runs, host and tsserver first: they run inside the directory about to go.
    s.notebooks.forget(&id).await;
    let s2 = s.clone();
    let id2 = id.clone();
    blocking(move || {
        s2.store.delete(&id2)?;
        s2.db.forget_notebook(&id2)?;
        Ok(())
    })
    .await?;
    s.hub.forget_topic(&id);
    Ok(Json(json!({"error": false, "deleted": true})))
}

#[derive(Deserialize)]
pub struct OpenBody {
    path: String,
}

pub async fn open_session(
    State(s): State<AppState>,
    JsonBody(b): JsonBody<OpenBody>,
) -> ApiResult<Json<Value>> {
    let id = s.store.id_for_path(&b.path).map_err(|e| match e {
        quire_notebook::NotebookError::NotebookNotFound(_) => {
            ApiError::not_found(format!("{} is not a srcbook directory", b.path))
        }
        other => other.into(),
    })?;
    get_session(State(s), Path(id)).await
}

pub async fn list_sessions(State(s): State<AppState>) -> Json<Value> {
    let mut list: Vec<Value> = s.store.list().iter().map(|h| wire::session(&lock(h))).collect();
    list.sort_by_key(|v| std::cmp::Reverse(v["openedAt"].as_u64().unwrap_or(0)));
    wire::ok(list)
}

pub async fn get_session(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let handle = s.store.get(&id)?;
    let mut nb = lock(&handle);
    nb.opened_at = now_ms() as u64;
    Ok(wire::ok(wire::session(&nb)))
}

pub async fn export_text(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<impl IntoResponse> {
    let handle: Handle = s.store.get(&id)?;
    let text = srcmd::encode(&lock(&handle).nb, srcmd::Form::Inline);
    Ok(([(header::CONTENT_TYPE, "text/markdown; charset=utf-8")], text))
}

/// Link or unlink a secret (the service rewrites env.d.ts with every linked name).
async fn set_link(s: AppState, id: String, name: String, link: bool) -> ApiResult<StatusCode> {
    s.notebooks.link_secret(&id, &name, link).await?;
    Ok(StatusCode::NO_CONTENT)
}

pub async fn link_secret(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_link(s, id, name, true).await
}

pub async fn unlink_secret(
    State(s): State<AppState>,
    Path((id, name)): Path<(String, String)>,
) -> ApiResult<StatusCode> {
    set_link(s, id, name, false).await
}

#[derive(Deserialize)]
pub struct FileBody {
    file: String,
}

/// Go-to-definition target: a notebook source is a `cell`; a typings file in a notebook's
/// node_modules is returned as `filepath` with its content. Nothing outside the notebooks is readable.
pub async fn file(State(s): State<AppState>, JsonBody(b): JsonBody<FileBody>) -> ApiResult<Json<Value>> {
    let root = s.store.root().to_path_buf();
    let path = quire_notebook::contain(&b.file, std::slice::from_ref(&root))?;
    let rel = path.strip_prefix(&root).map_err(|_| ApiError::new(Code::InvalidPath, "outside notebooks"))?;
    let mut parts = rel.components().map(|c| c.as_os_str().to_string_lossy().into_owned());
    let id = parts.next().unwrap_or_default();
    s.store.get(&id)?;
    let in_modules = rel.components().any(|c| c.as_os_str() == "node_modules");
    let basename = path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    if !in_modules {
        return Ok(wire::ok(json!({"content": "", "filename": basename, "type": "cell"})));
    }
    let typed =
        [".d.ts", ".d.mts", ".d.cts", ".ts", ".js", ".mjs", ".cjs"].iter().any(|e| basename.ends_with(e));
    if !typed {
        return Err(ApiError::new(Code::InvalidPath, "Only source and typings files can be read"));
    }
    let content =
        blocking(move || Ok(std::fs::read_to_string(&path).map_err(quire_notebook::NotebookError::from)?))
            .await?;
    Ok(wire::ok(json!({"content": content, "filename": b.file, "type": "filepath"})))
}

/// `POST /api/sessions/:id/approve`: the user trusts the notebook's current content, so its secret
/// links are honoured again (a notebook changed outside Quire loses its stamp).
pub async fn approve(State(s): State<AppState>, Path(id): Path<String>) -> ApiResult<Json<Value>> {
    let s2 = s.clone();
    blocking(move || Ok(s2.notebooks.approve(&id)?)).await?;
    Ok(wire::ok(json!({"approved": true})))
}
