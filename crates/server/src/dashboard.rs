//! `GET /api/admin/stats`: the live figures the admin page shows (requests/s, latency, errors, runs,
//! WebSocket connections, storage, process), computed in-process from a rolling one-minute window fed
//! by `metrics::track`, so the dashboard needs no Prometheus or other external service.

pub mod live;
mod window;

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use serde_json::{Value, json};
use std::sync::atomic::Ordering;

pub async fn stats(State(s): State<AppState>) -> Json<Value> {
    let elapsed = s.live.started.elapsed();
    let mut body = s.live.requests_json(elapsed);
    let storage = tokio::task::spawn_blocking({
        let s = s.clone();
        move || (s.live.store_totals(&s.files), crate::routes::health::disk_free(s.config.data_dir.root()))
    })
    .await
    .unwrap_or((None, None));
    let (files, disk_free) = storage;
    let (rss, fds) = crate::metrics::process_figures();
    let extra = json!({
        "timestamp": quire_stdx::now_ms(),
        "version": env!("CARGO_PKG_VERSION"),
        "uptimeSeconds": elapsed.as_secs(),
        "runtime": {
            "activeRuns": s.runtime.active_runs(),
            "nodeHosts": s.runtime.hosts(),
            "languageServices": s.tsls.running(),
        },
        "websocket": {"connections": s.live.ws_connections.load(Ordering::Relaxed)},
        "storage": {
            "files": files.map(|t| t.files),
            "fileBytes": files.map(|t| t.file_bytes),
            "chunks": files.map(|t| t.chunks),
            "chunkBytes": files.map(|t| t.chunk_bytes),
            "notebooks": s.store.list().len(),
            "notebooksFailed": s.store.failures().len(),
            "diskFreeBytes": disk_free,
            "diskLowBytes": s.config.disk_low_bytes,
        },
        "process": {"rssBytes": rss, "openFds": fds},
        "ai": {"breakers": s.ai.reliability().breakers(), "usage": s.ai.reliability().usage()},
    });
    if let (Value::Object(b), Value::Object(e)) = (&mut body, extra) {
        b.extend(e);
    }
    Json(body)
}
