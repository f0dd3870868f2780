//! The AI routes: Settings' "Test", the provider's model list, a notebook generated from a sentence
//! (as JSON, or streamed as NDJSON lines), and cells generated for a position.

use crate::error::{ApiError, ApiResult};
use crate::extract::JsonBody;
use crate::routes::notebooks::blocking;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Response};
use quire_assist::Progress;
use quire_notebook::lock;
use serde::Deserialize;
use serde_json::{Value, json};
use tokio::sync::mpsc;

pub async fn healthcheck(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let check = s.ai.check().await?;
    Ok(Json(json!({
        "error": false,
        "result": check.to_string(),
        "model": check.model,
        "url": check.url,
        "firstTokenMs": check.first_token.as_millis() as u64,
    })))
}

pub async fn models(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let (models, base) = s.ai.models().await?;
    let list: Vec<Value> = models.iter().map(|m| json!({"id": m.id, "name": m.name})).collect();
    Ok(Json(json!({"error": false, "result": list, "baseUrl": base})))
}

#[derive(Deserialize)]
pub struct GenerateBody {
    query: String,
}

fn wants_ndjson(headers: &HeaderMap) -> bool {
    headers
        .get(header::ACCEPT)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|a| a.contains("application/x-ndjson"))
}

async fn import(s: &AppState, text: String) -> ApiResult<Value> {
    let s = s.clone();
    blocking(move || {
        let h = s.store.import(&text, None)?;
        let nb = lock(&h);
        Ok(json!({"dir": nb.dir, "id": nb.id}))
    })
    .await
}

/// Aborts the generation when the response body is dropped (the client went away).
struct AbortOnDrop(tokio::task::AbortHandle);
impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub async fn generate(
    State(s): State<AppState>,
    headers: HeaderMap,
    JsonBody(b): JsonBody<GenerateBody>,
) -> ApiResult<Response> {
    if !wants_ndjson(&headers) {
        let done = s.ai.generate_notebook(&b.query, &|_| {}).await?;
        let imported = import(&s, done.output.unwrap_or_default()).await?;
        return Ok(Json(imported).into_response());
    }
    let (tx, rx) = mpsc::unbounded_channel::<Value>();
    let task = tokio::spawn(async move {
        let sink = |p: Progress| {
            if let Progress::Delta { text, .. } = p {
                let _ = tx.send(json!({"delta": text}));
            }
        };
        let line = match s.ai.generate_notebook(&b.query, &sink).await {
            Ok(done) => import(&s, done.output.unwrap_or_default()).await,
            Err(e) => Err(ApiError::from(e)),
        };
        let _ = tx.send(match line {
            Ok(v) => v,
            Err(e) => json!({"error": {"code": e.code.as_str(), "message": e.public_message()}}),
        });
    });
    let guard = AbortOnDrop(task.abort_handle());
    let lines = futures_util::stream::unfold((rx, guard), |(mut rx, guard)| async move {
        let v = rx.recv().await?;
        let mut line = serde_json::to_vec(&v).unwrap_or_default();
        line.push(b'\n');
        Some((Ok::<_, std::convert::Infallible>(line), (rx, guard)))
    });
    Ok(([(header::CONTENT_TYPE, "application/x-ndjson")], Body::from_stream(lines)).into_response())
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CellsBody {
    insert_idx: Option<f64>,
    query: String,
}

pub async fn generate_cells(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(b): JsonBody<CellsBody>,
) -> ApiResult<Json<Value>> {
    let index = b.insert_idx.filter(|i| i.is_finite() && *i >= 0.0).unwrap_or(0.0) as usize;
    let done = s.ai.generate_cells(&id, index, &b.query, &|_| {}).await?;
    Ok(wire::ok(done.cells.unwrap_or_default()))
}
