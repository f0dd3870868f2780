//! `GET /metrics` in Prometheus text format (admin token or `--metrics-token`), fed by the `metrics`
//! crate's macros across the server: HTTP, WebSocket, cell runs, and process figures read at scrape time.

use crate::auth::Credentials;
use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::extract::{MatchedPath, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use std::sync::OnceLock;
use std::time::Instant;

/// One recorder per process (the `metrics` macros write to a global one).
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let buckets = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0];
        let recorder = PrometheusBuilder::new()
            .set_buckets(&buckets)
            .expect("static bucket list is valid")
            .build_recorder();
        let handle = recorder.handle();
        if metrics::set_global_recorder(recorder).is_err() {
            tracing::warn!(
                "a metrics recorder was already installed; /metrics shows only this one's figures"
            );
        }
        handle
    })
}

pub fn init() {
    handle();
}

/// Count and time every HTTP request by route template (never the raw path: ids would explode the
/// label space) and status.
pub async fn track(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let route = route.unwrap_or_else(|| "unmatched".to_string());
    let method = crate::log::method_label(req.method());
    let start = Instant::now();
    let resp = next.run(req).await;
    let elapsed = start.elapsed();
    state.live.record(elapsed, resp.status().as_u16());
    let status = resp.status().as_u16().to_string();
    metrics::counter!("http_requests_total", "method" => method, "route" => route.clone(), "status" => status)
        .increment(1);
    metrics::histogram!("http_request_duration_seconds", "route" => route).record(elapsed.as_secs_f64());
    resp
}

/// The admin token or the metrics token, as a `Bearer` value (not the link or cookie forms).
fn authorized(state: &AppState, creds: &Credentials) -> bool {
    let Some(given) = creds.bearer.as_deref() else { return false };
    let eq = |want: &str| crate::auth::ct_eq(given.as_bytes(), want.as_bytes());
    eq(&state.config.token) || state.config.metrics_token.as_deref().is_some_and(eq)
}

/// `/proc/self` figures: resident memory in bytes and open file descriptors (Linux; `None` elsewhere).
pub fn process_figures() -> (Option<u64>, Option<u64>) {
    let rss = std::fs::read_to_string("/proc/self/status").ok().and_then(|status| {
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
            .map(|kb| kb * 1024)
    });
    let fds = std::fs::read_dir("/proc/self/fd").ok().map(|dir| dir.count() as u64);
    (rss, fds)
}

pub async fn render(State(state): State<AppState>, creds: Credentials) -> Response {
    if !authorized(&state, &creds) {
        return ApiError::new(Code::Unauthorized, "The admin or metrics token is required").into_response();
    }
    let (rss, fds) = process_figures();
    if let Some(rss) = rss {
        metrics::gauge!("process_resident_memory_bytes").set(rss as f64);
    }
    if let Some(fds) = fds {
        metrics::gauge!("process_open_fds").set(fds as f64);
    }
    metrics::gauge!("runtime_node_hosts").set(state.runtime.hosts() as f64);
    metrics::gauge!("runtime_active_runs").set(state.runtime.active_runs() as f64);
    metrics::gauge!("language_service_processes").set(state.tsls.running() as f64);
    let body = handle().render();
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], body).into_response()
}
