//! FileDB-compatible file routes (`/files`, `/quota`, `/status`, `/auth`), tus 1.0 at `/uploads/`, over
//! `quire_filestore`. Errors use FileDB's body shape `{error, code, context?}`.
//!
//! Credentials: the server token (header, `?token=`, cookie) acts as admin; a `Bearer` value that is
//! not the server token is checked as a FileDB access token; `X-API-Key` as an API key.

mod account;
mod actor;
pub mod attach;
pub mod common;
mod download;
pub mod passwords;
mod query;
mod tus;
pub mod tus_headers;
mod upload;
mod validate;

use crate::error::{ApiError, Code};
use crate::routes::table::{self, Access, Route, RouteInfo, route};
use crate::state::AppState;
use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::http::Method;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};

const SWEEPER: &str = "files.sweeper";

/// Every minute: expired files and uploads are swept, chunks past their grace period collected, and
/// the next slice of chunks scrubbed (re-hashed).
pub fn spawn_sweeper(s: AppState) {
    tokio::spawn(async move {
        let files = s.files.clone();
        match tokio::task::spawn_blocking(move || files.adopt_orphans()).await {
            Ok(Ok(n)) if n > 0 => {
                tracing::info!(chunks = n, "orphan chunks from an interrupted upload will be collected")
            }
            Ok(Err(e)) => tracing::error!(error = %e, "orphan chunk scan failed"),
            _ => {}
        }
        let every = std::time::Duration::from_secs(60);
        s.workers.register(SWEEPER, every);
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            let files = s.files.clone();
            // The scrub re-reads at most 256 MiB a minute, so it never competes with real traffic.
            let st = s.clone();
            match tokio::task::spawn_blocking(move || {
                st.users.prune_expired()?;
                Ok::<_, quire_filestore::FileStoreError>((files.sweep()?, files.scrub_step(256 << 20)?))
            })
            .await
            {
                Ok(Ok((r, scrub))) => {
                    s.workers.record(SWEEPER, Ok(()));
                    if r != Default::default() {
                        tracing::info!(?r, "file store swept");
                    }
                    if scrub.corrupt > 0 {
                        tracing::error!(?scrub, "scrub found damaged chunks");
                    }
                }
                Ok(Err(e)) => {
                    tracing::error!(error = %e, "file store sweep failed");
                    s.workers.record(SWEEPER, Err(e.to_string()));
                }
                Err(e) => s.workers.record(SWEEPER, Err(format!("sweep task died: {e}"))),
            }
        }
    });
}

/// Failed credentials (401 with a token, key or password presented) count against the client's
/// failure budget, like a wrong server token; past it the answer is 429. Good credentials never count.
async fn throttle_failures(
    axum::extract::State(s): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let ip = crate::log::client_ip(&req);
    if req.uri().path() == "/auth/login"
        && let Some(ip) = ip
    {
        return throttle_login(&s, ip, req, next).await;
    }
    let presented =
        req.headers().contains_key(header::AUTHORIZATION) || req.headers().contains_key("x-api-key");
    let resp = next.run(req).await;
    if resp.status() == StatusCode::UNAUTHORIZED
        && presented
        && let Some(ip) = ip
        && let Err(retry) = s.auth_failure_limit.check(ip, std::time::Instant::now())
    {
        tracing::warn!(%ip, "too many failed file-store credentials");
        let msg = "Too many failed sign-in attempts; try again later";
        return ApiError::too_many(Code::RateLimited, msg, retry).into_response();
    }
    resp
}

/// Nothing the file routes send may run in a browser, whatever its type: a sandboxed, script-free
/// document even if someone opens it directly (the global headers add `nosniff`).
async fn inert_responses(req: axum::extract::Request, next: axum::middleware::Next) -> Response {
    let mut resp = next.run(req).await;
    resp.headers_mut().insert(
        header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox; default-src 'none'; frame-ancestors 'none'"),
    );
    resp
}

/// A login attempt is counted before its password is hashed (and given back if it succeeds): past the
/// budget every attempt gets 429 for the window, whatever the password, and costs no hash — so
/// guessing is limited by the budget, not by Argon2's speed, and a flood costs no memory.
async fn throttle_login(
    s: &AppState,
    ip: std::net::IpAddr,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    if let Err(retry) = s.auth_failure_limit.check(ip, std::time::Instant::now()) {
        tracing::warn!(%ip, "too many failed sign-ins");
        let msg = "Too many failed sign-in attempts; try again later";
        return ApiError::too_many(Code::RateLimited, msg, retry).into_response();
    }
    let resp = next.run(req).await;
    if resp.status() != StatusCode::UNAUTHORIZED {
        s.auth_failure_limit.refund(&ip);
    }
    resp
}

/// FileDB's file routes (tus and `/auth` are in their modules).
fn file_routes() -> Vec<Route> {
    use Access::FileCredentials as C;
    use Method as M;
    vec![
        // A multipart upload streams into the store before it answers: as long as the body takes.
        route(C, M::POST, "/files", upload::upload).untimed(),
        route(C, M::GET, "/files/{id}", download::download),
        route(C, M::DELETE, "/files/{id}", upload::delete),
        route(C, M::GET, "/files/{id}/info", download::info),
        route(C, M::GET, "/files/{id}/entities", download::entities),
        route(C, M::GET, "/files/{id}/status", query::file_status),
        route(C, M::POST, "/files/{id}/public", upload::make_public),
        route(C, M::DELETE, "/files/{id}/public", upload::make_private),
        route(C, M::GET, "/files/by-owner/{owner}", query::by_owner),
        route(C, M::GET, "/api/files/owner/{owner}", query::by_owner),
        route(C, M::GET, "/files/by-extension/{ext}", query::by_extension),
        route(C, M::GET, "/files/by-type/{*content_type}", query::by_type),
        route(C, M::GET, "/status/{key}", query::key_status),
        route(C, M::GET, "/quota", query::quota),
    ]
}

pub fn route_list() -> impl Iterator<Item = RouteInfo> {
    table::info("", file_routes())
        .chain(table::info("", account::routes()))
        .chain(table::info("", tus::routes()))
}

pub fn router(state: AppState) -> Router<AppState> {
    table::build(file_routes())
        .merge(table::build(account::routes()))
        .merge(tus::router())
        .layer(axum::middleware::from_fn_with_state(state, throttle_failures))
        .layer(axum::middleware::from_fn(inert_responses))
        .layer(DefaultBodyLimit::disable())
        .layer(axum::middleware::from_fn(crate::error::in_filedb_shape))
}
