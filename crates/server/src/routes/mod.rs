//! The route table: `/api/*` (Srcbook-compatible), `/websocket`, `/health`, `/ready`, SPA pages.

mod ai;
pub mod examples;
pub mod health;
mod import;
mod mcp_client;
pub mod notebooks;
mod settings;
pub mod table;
mod ui;

pub use ui::serve_from_dir as serve_ui_from;

use crate::error::{ApiError, Code};
use crate::state::AppState;
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderMap, Method, Uri};
use axum::response::{IntoResponse, Response};
use table::{Access, Route, RouteInfo, route};

async fn not_implemented(uri: Uri) -> ApiError {
    ApiError::not_implemented(uri.path())
}

/// Third-party forwards (feedback, newsletter) are deliberately not done: Quire sends nothing off-machine.
async fn not_forwarded() -> ApiError {
    ApiError::new(Code::NotSupported, "Quire does not forward data to third parties")
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
        // A 503 carries `Retry-After: 1`.
        ApiError::new(Code::NotReady, "Quire is starting; try again shortly").into_response()
    }
}

/// The Srcbook-compatible API, under `/api` (all need the server token).
fn api_routes() -> Vec<Route> {
    use Access::Token as T;
    use Method as M;
    vec![
        route(T, M::POST, "/file", notebooks::file),
        route(T, M::GET, "/examples", examples::list),
        route(T, M::POST, "/srcbooks", notebooks::create),
        route(T, M::DELETE, "/srcbooks/{id}", notebooks::delete),
        route(T, M::POST, "/import", import::import),
        route(T, M::POST, "/sessions", notebooks::open_session),
        route(T, M::GET, "/sessions", notebooks::list_sessions),
        route(T, M::GET, "/sessions/{id}", notebooks::get_session),
        route(T, M::GET, "/sessions/{id}/export-text", notebooks::export_text),
        route(T, M::POST, "/sessions/{id}/approve", notebooks::approve),
        route(T, M::POST, "/sessions/{id}/files", crate::files::attach::attach),
        route(T, M::PUT, "/sessions/{id}/secrets/{name}", notebooks::link_secret),
        route(T, M::DELETE, "/sessions/{id}/secrets/{name}", notebooks::unlink_secret),
        route(T, M::GET, "/settings", settings::get),
        route(T, M::POST, "/settings", settings::update),
        route(T, M::GET, "/audit", crate::audit::list),
        route(T, M::GET, "/admin/stats", crate::dashboard::stats),
        route(T, M::GET, "/secrets", settings::list_secrets),
        route(T, M::POST, "/secrets", settings::upsert_secret),
        route(T, M::POST, "/secrets/{name}", settings::rename_secret),
        route(T, M::DELETE, "/secrets/{name}", settings::delete_secret),
        route(T, M::POST, "/generate", ai::generate).untimed(),
        route(T, M::POST, "/sessions/{id}/generate_cells", ai::generate_cells).untimed(),
        route(T, M::GET, "/ai/healthcheck", ai::healthcheck).untimed(),
        route(T, M::GET, "/ai/models", ai::models),
        route(T, M::GET, "/mcp/servers", mcp_client::list),
        route(T, M::PUT, "/mcp/servers/{name}", mcp_client::upsert),
        route(T, M::DELETE, "/mcp/servers/{name}", mcp_client::remove),
        route(T, M::POST, "/mcp/servers/{name}/reconnect", mcp_client::reconnect).untimed(),
        route(T, M::POST, "/mcp/config", mcp_client::paste),
        route(T, M::POST, "/mcp/servers/{name}/tools/{tool}/call", mcp_client::call).untimed(),
        route(T, M::GET, "/mcp/approvals", mcp_client::approvals),
        route(T, M::POST, "/mcp/approvals/{id}", mcp_client::answer),
        route(T, M::DELETE, "/mcp/rules", mcp_client::remove_rule),
        route(T, M::GET, "/npm/search", not_implemented),
        route(T, M::POST, "/feedback", not_forwarded),
        route(T, M::POST, "/subscribe", not_forwarded),
    ]
}

fn api(state: AppState) -> Router<AppState> {
    table::build(api_routes())
        .fallback(|method: Method, uri: Uri| async move {
            ApiError::not_found(format!("No route for {method} {}", uri.path()))
        })
        .method_not_allowed_fallback(|method: Method, uri: Uri| async move {
            ApiError::new(Code::MethodNotAllowed, format!("{method} is not allowed on {}", uri.path()))
        })
        .layer(axum::middleware::from_fn_with_state(state, require_ready))
}

/// Health, metrics, the WebSocket and the UI shell.
fn root_routes() -> Vec<Route> {
    use Access::{Public, Token};
    use Method as M;
    vec![
        route(Public, M::GET, "/health", health::health),
        route(Public, M::GET, "/ready", health::ready),
        route(Token, M::GET, "/metrics", crate::metrics::render),
        route(Token, M::GET, "/websocket", crate::ws::upgrade).untimed(),
        route(Token, M::GET, "/websocket/", crate::ws::upgrade).untimed(),
        route(Token, M::GET, "/mcp", crate::mcp::handle).untimed(),
        route(Token, M::POST, "/mcp", crate::mcp::handle).untimed(),
        route(Token, M::DELETE, "/mcp", crate::mcp::handle),
        route(Public, M::GET, "/", |headers: HeaderMap| async move { ui::index(&headers) }),
    ]
}

/// Every route the server answers, as `router` builds it (SPA pages and fallbacks aside).
pub fn route_list() -> Vec<RouteInfo> {
    table::info("/api", api_routes())
        .chain(table::info("", root_routes()))
        .chain(crate::files::route_list())
        .collect()
}

pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .nest("/api", api(state.clone()))
        .merge(table::build(root_routes()))
        .merge(crate::files::router(state.clone()))
        .fallback(|method: Method, uri: Uri, headers: HeaderMap| async move {
            let api = uri.path() == "/api" || uri.path().starts_with("/api/");
            if (method == Method::GET || method == Method::HEAD) && !api {
                ui::page_or_asset(&uri, &headers)
            } else {
                ApiError::not_found("Not found").into_response()
            }
        })
}
