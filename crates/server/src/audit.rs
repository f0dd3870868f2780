//! The audit log: logins, failed logins, file-store accounts and API keys, secret and settings changes,
//! notebook deletes and approvals, file deletes —
//! who (token, browser session, or anonymous), what, when, from where, and the outcome. One middleware
//! maps the route template and method to an action, so handlers stay free of bookkeeping. Each entry
//! goes to the append-only `audit` table and to the log (target `audit`).
//!
//! Unauthenticated requests must not be able to fill the disk: refused credentials are one row per
//! client IP and minute (later ones only raise its count), every text field is cut to a bounded
//! length, and retention keeps the table within an age and a row count (`spawn_maintenance`).

pub mod failures;

use crate::log::bounded;
use crate::state::AppState;
use axum::body::Body;
use axum::extract::{MatchedPath, Request, State};
use axum::http::{Method, header};
use axum::middleware::Next;
use axum::response::Response;
use quire_notebook::AuditEntry;

/// The action a request performs, if it is one the audit log records.
fn action(method: &Method, route: &str, path: &str, query_token: bool) -> Option<&'static str> {
    Some(match (method.as_str(), route) {
        ("PUT", "/api/sessions/{id}/secrets/{name}") => "secret.link",
        ("DELETE", "/api/sessions/{id}/secrets/{name}") => "secret.unlink",
        ("POST", "/api/secrets") => "secret.set",
        ("POST", "/api/secrets/{name}") => "secret.rename",
        ("DELETE", "/api/secrets/{name}") => "secret.delete",
        ("POST", "/api/settings") => "settings.update",
        ("DELETE", "/api/srcbooks/{id}") => "notebook.delete",
        ("POST", "/api/sessions/{id}/approve") => "notebook.approve",
        ("DELETE", "/files/{id}") => "file.delete",
        ("PUT", "/api/mcp/servers/{name}") => "mcp.server.set",
        ("DELETE", "/api/mcp/servers/{name}") => "mcp.server.delete",
        ("POST", "/api/mcp/config") => "mcp.config.paste",
        ("POST", "/api/mcp/approvals/{id}") => "mcp.approval.answer",
        ("DELETE", "/api/mcp/rules") => "mcp.rule.delete",
        ("POST", "/auth/login") => "auth.login",
        ("POST", "/auth/logout") => "auth.logout",
        ("POST", "/auth/register") => "user.create",
        ("POST", "/auth/api-keys") => "apikey.create",
        ("DELETE", "/auth/api-keys/{id}") => "apikey.revoke",
        ("POST", "/auth/api-keys/{id}/rotate") => "apikey.rotate",
        // The link exchange (`/?token=` → cookie); a WebSocket or API call with `?token=` is not a login.
        _ if query_token && !path.starts_with("/api") && path != "/websocket" => "auth.login",
        _ => return None,
    })
}

fn actor(req: &Request) -> &'static str {
    let h = req.headers();
    if h.contains_key(header::AUTHORIZATION) {
        "token"
    } else if h
        .get(header::COOKIE)
        .and_then(|c| c.to_str().ok())
        .is_some_and(|c| c.contains(&format!("{}=", crate::auth::COOKIE)))
    {
        "browser-session"
    } else if req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token="))) {
        "link-token"
    } else {
        "anonymous"
    }
}

/// `POST /api/secrets` names its secret in the body: read it (bodies here are small JSON).
async fn secret_name(req: Request) -> (Request, Option<String>) {
    let (parts, body) = req.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap_or_default();
    let name = serde_json::from_slice::<serde_json::Value>(&bytes)
        .ok()
        .and_then(|v| v["name"].as_str().map(str::to_string));
    (Request::from_parts(parts, Body::from(bytes)), name)
}

pub async fn record(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string()).unwrap_or_default();
    let path = req.uri().path().to_string();
    let query_token = req.uri().query().is_some_and(|q| q.split('&').any(|kv| kv.starts_with("token=")));
    let ip = crate::log::client_ip(&req).map(|ip| ip.to_string());
    let Some(what) = action(req.method(), &route, &path, query_token) else {
        let resp = next.run(req).await;
        // Refused credentials are worth recording wherever they were tried.
        if matches!(resp.status().as_u16(), 401 | 429) && (path.starts_with("/api") || path == "/websocket") {
            state
                .audit_failures
                .record(&*state.db, entry("anonymous", "auth.failure", Some(path), ip, &resp));
        }
        return resp;
    };
    let who = actor(&req);
    let (req, named) = if what == "secret.set" { secret_name(req).await } else { (req, None) };
    let resp = next.run(req).await;
    let target = named.or_else(|| (path != "/").then(|| path.clone()));
    // A link login succeeded only if it set a session cookie; a JSON login only with a 2xx.
    let failed_login = match what {
        "auth.login" if query_token => !resp.headers().contains_key(header::SET_COOKIE),
        "auth.login" => !resp.status().is_success(),
        _ => false,
    };
    let e = entry(who, if failed_login { "auth.failure" } else { what }, target, ip, &resp);
    if failed_login {
        state.audit_failures.record(&*state.db, e);
    } else {
        write(&state, e);
    }
    resp
}

fn entry(
    actor: &str,
    action: &str,
    target: Option<String>,
    ip: Option<String>,
    resp: &Response,
) -> AuditEntry {
    let status = resp.status();
    let outcome = if status.is_success() || status.is_redirection() {
        "ok".to_string()
    } else {
        status.as_u16().to_string()
    };
    AuditEntry {
        at_ms: quire_stdx::now_ms() as u64,
        actor: actor.into(),
        action: action.into(),
        target: target.map(|t| bounded(&t)),
        ip,
        outcome,
        count: 1,
    }
}

fn write(state: &AppState, e: AuditEntry) -> Option<i64> {
    failures::write(&*state.db, e)
}

const MAINTENANCE: &str = "audit.retention";

/// Every minute: write the counts of finished minutes; every hour (and at start): retention.
pub fn spawn_maintenance(state: AppState) {
    tokio::spawn(async move {
        let every = std::time::Duration::from_secs(60);
        state.workers.register(MAINTENANCE, every);
        let mut tick = tokio::time::interval(every);
        for turn in 0u64.. {
            tick.tick().await;
            let st = state.clone();
            let r = tokio::task::spawn_blocking(move || {
                st.audit_failures.flush(&*st.db, false);
                if turn % 60 == 0 {
                    let keep_ms = st.config.audit_retention.as_millis() as u64;
                    let dropped = st.db.audit_prune(
                        (quire_stdx::now_ms() as u64).saturating_sub(keep_ms),
                        st.config.audit_max_rows,
                    )?;
                    if dropped > 0 {
                        tracing::info!(dropped, "audit log retention");
                    }
                }
                Ok::<_, quire_notebook::NotebookError>(())
            })
            .await;
            match r {
                Ok(Ok(())) => state.workers.record(MAINTENANCE, Ok(())),
                Ok(Err(e)) => state.workers.record(MAINTENANCE, Err(e.to_string())),
                Err(e) => state.workers.record(MAINTENANCE, Err(format!("task died: {e}"))),
            }
        }
    });
}

/// `GET /api/audit?limit=N` (newest first; default 100, at most 1000).
pub async fn list(
    State(state): State<AppState>,
    axum::extract::Query(q): axum::extract::Query<std::collections::HashMap<String, String>>,
) -> crate::error::ApiResult<axum::Json<serde_json::Value>> {
    let limit = q.get("limit").and_then(|l| l.parse::<usize>().ok()).unwrap_or(100).clamp(1, 1000);
    let entries = crate::routes::notebooks::blocking(move || Ok(state.db.audit_log(limit)?)).await?;
    Ok(crate::wire::ok(serde_json::json!(entries)))
}
