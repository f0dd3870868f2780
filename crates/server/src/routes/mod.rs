//! The route table: `/api/*` (Srcbook-compatible), `/websocket`, `/health`, `/ready`, SPA pages.

pub mod examples;
mod health;
mod import;
pub mod notebooks;
mod settings;
mod ui;

pub use health::disk_free;
pub use ui::serve_from_dir as serve_ui_from;

use crate::error::ApiError;
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post, put};

async fn not_implemented(uri: Uri) -> ApiError {
    ApiError::not_implemented(uri.path())
}

/// Third-party forwards (feedback, newsletter) are deliberately not done: Quire sends nothing off-machine.
async fn not_forwarded() -> ApiError {
    ApiError::new(
        StatusCode::NOT_IMPLEMENTED,
        "not_supported",
        "Quire does not forward data to third parties",
    )
}

/// A not-ready server answers API calls with 503 instead of an empty list.
async fn require_ready(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if s.is_ready() {
        next.run(req).await
    } else {
        let mut resp = ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            "not_ready",
            "Quire is starting; try again shortly",
        )
        .into_response();
        resp.headers_mut().insert("retry-after", axum::http::HeaderValue::from_static("1"));
        resp
    }
}

fn api(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/file", post(notebooks::file))
        .route("/examples", get(examples::list))
        .route("/srcbooks", post(notebooks::create))
        .route("/srcbooks/{id}", axum::routing::delete(notebooks::delete))
        .route("/import", post(import::import))
        .route("/sessions", post(notebooks::open_session).get(notebooks::list_sessions))
        .route("/sessions/{id}", get(notebooks::get_session))
        .route("/sessions/{id}/export-text", get(notebooks::export_text))
        .route("/sessions/{id}/approve", post(notebooks::approve))
        .route("/sessions/{id}/files", post(crate::files::attach::attach))
        .route("/sessions/{id}/secrets/{name}", put(notebooks::link_secret).delete(notebooks::unlink_secret))
        .route("/settings", get(settings::get).post(settings::update))
        .route("/audit", get(crate::audit::list))
        .route("/admin/stats", get(crate::dashboard::stats))
        .route("/secrets", get(settings::list_secrets).post(settings::upsert_secret))
        .route("/secrets/{name}", post(settings::rename_secret).delete(settings::delete_secret))
        .route("/generate", post(not_implemented))
        .route("/sessions/{id}/generate_cells", post(not_implemented))
        .route("/ai/healthcheck", get(not_implemented))
        .route("/npm/search", get(not_implemented))
        .route("/feedback", post(not_forwarded))
        .route("/subscribe", post(not_forwarded))
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::not_found(format!("No route for {method} {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::new(
                StatusCode::METHOD_NOT_ALLOWED,
                "method_not_allowed",
                format!("{method} is not allowed on {}", uri.path()),
            )
        })
        .layer(axum::middleware::from_fn_with_state(state, require_ready))
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .nest("/api", api(state.clone()))
        .route("/health", get(health::health))
        .route("/ready", get(health::ready))
        .route("/metrics", get(crate::metrics::render))
        .merge(crate::files::router(state.clone()))
        .route("/websocket", get(crate::ws::upgrade))
        .route("/websocket/", get(crate::ws::upgrade))
        .route("/", get(|headers: HeaderMap| async move { ui::index(&headers) }))
        .fallback(|method: Method, uri: Uri, headers: HeaderMap| async move {
            let api = uri.path() == "/api" || uri.path().starts_with("/api/");
            if (method == Method::GET || method == Method::HEAD) && !api {
                ui::page_or_asset(&uri, &headers)
            } else {
                ApiError::not_found("Not found").into_response()
            }
        })
}
