//! `/health` (component status, both Quire's and FileDB's vocabulary) and `/ready` (503 until loaded).

use crate::state::AppState;
use axum::Json;
use axum::extract::State;
use axum::http::StatusCode;
use serde_json::{Value, json};

pub async fn health(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    let (db_ok, files_ok) = tokio::task::spawn_blocking({
        let s = s.clone();
        move || (s.db.ping().is_ok(), s.files.ping().is_ok())
    })
    .await
    .unwrap_or((false, false));
    let failed = s.store.failures();
    let ready = s.is_ready();
    let notebooks = if !ready {
        "degraded"
    } else if failed.is_empty() {
        "ok"
    } else {
        "degraded"
    };
    let status = match (db_ok, notebooks) {
        (false, _) => "unhealthy",
        (true, "ok") if files_ok => "healthy",
        _ => "degraded",
    };
    // Short of disk, writes (npm installs, uploads, notebooks) start to fail: say so before they do.
    let low = s.config.disk_low_bytes;
    let free = disk_free(s.config.data_dir.root());
    let disk = match free {
        Some(f) if f >= low => "ok",
        Some(_) => "degraded",
        None => "unknown",
    };
    let (workers, worker_details) = s.workers.report();
    let language = if !s.config.language.enabled { "disabled" } else { "ok" };
    // Cells confined by Landlock, or not (an old kernel, or started without the supervisor).
    let sandbox = if s.sandbox == quire_runtime::sandbox::Status::Enforced { "ok" } else { "degraded" };
    // (An unconfined sandbox is reported as a component, not as the service's health: it still serves.)
    let status = if status == "healthy" && (disk == "degraded" || workers == "degraded") {
        "degraded"
    } else {
        status
    };
    // Public: the provider and its breaker's state, never its URL.
    let breakers: Vec<Value> = s
        .ai
        .reliability()
        .breakers()
        .into_iter()
        .map(|b| json!({"provider": b.provider, "state": b.state, "consecutiveFailures": b.consecutive_failures, "retryInMs": b.retry_in_ms}))
        .collect();
    let ai = if breakers.iter().any(|b| b["state"] != "closed") { "degraded" } else { "ok" };
    let code = if db_ok { StatusCode::OK } else { StatusCode::SERVICE_UNAVAILABLE };
    let body = json!({
        "status": status,
        "version": env!("CARGO_PKG_VERSION"),
        "timestamp": quire_stdx::now_ms(),
        "ready": ready,
        // FileDB's vocabulary; Quire has no Redis, so "unknown" (clarification 13).
        "services": {"database": if db_ok && files_ok { "connected" } else { "disconnected" }, "redis": "unknown"},
        "components": {
            "database": if db_ok { "ok" } else { "down" },
            "notebooks": notebooks,
            "files": if files_ok { "ok" } else { "down" },
            "disk": disk,
            "runtime": "ok",
            "languageServices": language,
            "workers": workers,
            "sandbox": sandbox,
            "ai": ai,
        },
        "ai": {"breakers": breakers},
        "sandbox": {"landlock": s.sandbox},
        "disk": {"freeBytes": free, "lowBytes": low},
        "runtime": {"nodeHosts": s.runtime.hosts(), "activeRuns": s.runtime.active_runs()},
        "languageServices": {"enabled": s.config.language.enabled, "running": s.tsls.running()},
        "workers": worker_details,
        "notebooks": {"loaded": s.store.list().len(), "failed": failed},
    });
    (code, Json(body))
}

/// Bytes free to unprivileged writers on the file system holding `dir`.
pub fn disk_free(dir: &std::path::Path) -> Option<u64> {
    rustix::fs::statvfs(dir).ok().map(|st| st.f_bavail.saturating_mul(st.f_frsize))
}

pub async fn ready(State(s): State<AppState>) -> (StatusCode, Json<Value>) {
    if s.is_ready() {
        (StatusCode::OK, Json(json!({"ready": true})))
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, Json(json!({"ready": false})))
    }
}
