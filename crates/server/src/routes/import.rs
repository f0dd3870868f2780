//! `POST /api/import`: from `{path}` (allowed roots only), `{url}` (http(s), size and time limits) or `{text}`.

use crate::error::{ApiError, ApiResult, Code};
use crate::extract::JsonBody;
use crate::routes::examples;
use crate::routes::notebooks::blocking;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::State;
use futures_util::StreamExt;
use quire_notebook::{Handle, lock};
use serde::Deserialize;
use serde_json::{Value, json};

#[derive(Deserialize)]
pub struct ImportBody {
    path: Option<String>,
    url: Option<String>,
    text: Option<String>,
}

pub async fn import(State(s): State<AppState>, JsonBody(b): JsonBody<ImportBody>) -> ApiResult<Json<Value>> {
    let handle = if let Some(path) = b.path {
        import_path(&s, path).await?
    } else if let Some(url) = b.url {
        let text = fetch(&s, &url).await?;
        import_text(&s, text).await?
    } else if let Some(text) = b.text {
        import_text(&s, text).await?
    } else {
        return Err(ApiError::new(Code::InvalidPayload, "One of path, url or text is required"));
    };
    let nb = lock(&handle);
    Ok(wire::ok(json!({"dir": nb.dir, "id": nb.id})))
}

async fn import_text(s: &AppState, text: String) -> ApiResult<Handle> {
    let s = s.clone();
    blocking(move || Ok(s.store.import(&text, None)?)).await
}

async fn import_path(s: &AppState, path: String) -> ApiResult<Handle> {
    if !path.ends_with(".src.md") {
        return Err(ApiError::new(Code::InvalidPath, "Importing only works with .src.md files"));
    }
    let file = quire_notebook::contain(&path, &s.import_roots)?;
    // The stock client imports a bundled example by its path: reuse its fixed-id notebook.
    let fixed = examples::fixed_id_for(s, &file);
    if let Some(id) = fixed
        && let Ok(h) = s.store.get(id)
    {
        return Ok(h);
    }
    let s = s.clone();
    blocking(move || {
        let meta = std::fs::metadata(&file).map_err(quire_notebook::NotebookError::from)?;
        if !meta.is_file() {
            return Err(ApiError::new(Code::InvalidPath, "Not a regular file"));
        }
        if meta.len() as usize > s.config.max_body_bytes {
            return Err(too_large(s.config.max_body_bytes));
        }
        let text = std::fs::read_to_string(&file).map_err(quire_notebook::NotebookError::from)?;
        Ok(s.store.import(&text, fixed)?)
    })
    .await
}

fn too_large(limit: usize) -> ApiError {
    ApiError::new(Code::PayloadTooLarge, format!("The document is larger than {limit} bytes"))
}

fn fetch_error(url: &str, detail: impl std::fmt::Display) -> ApiError {
    ApiError::new(Code::ImportFetchFailed, format!("Error requesting {url}: {detail}"))
}

/// Fetch a document over http(s) only, stopping at the size limit; the client's timeout bounds time.
async fn fetch(s: &AppState, url: &str) -> ApiResult<String> {
    let parsed =
        reqwest::Url::parse(url).map_err(|e| ApiError::new(Code::InvalidUrl, format!("{url}: {e}")))?;
    if !matches!(parsed.scheme(), "http" | "https") {
        return Err(ApiError::new(Code::InvalidUrl, "Only http and https URLs can be imported"));
    }
    let limit = s.config.url_import_max_bytes;
    let resp = s.http.get(parsed).send().await.map_err(|e| fetch_error(url, e))?;
    let status = resp.status();
    if resp.content_length().is_some_and(|n| n as usize > limit) {
        return Err(too_large(limit));
    }
    let mut body = Vec::new();
    let mut stream = resp.bytes_stream();
    while let Some(chunk) = stream.next().await {
        let chunk = chunk.map_err(|e| fetch_error(url, e))?;
        if body.len() + chunk.len() > limit {
            return Err(too_large(limit));
        }
        body.extend_from_slice(&chunk);
    }
    let text = String::from_utf8(body).map_err(|_| fetch_error(url, "the document is not UTF-8"))?;
    if !status.is_success() {
        let snippet: String = text.chars().take(200).collect();
        return Err(fetch_error(url, format!("{} {snippet}", status.as_u16())));
    }
    Ok(text)
}
