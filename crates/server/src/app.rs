//! The middleware stack, in one place. Outermost first: the request log and its span (request id),
//! sensitive headers marked, security headers, the per-IP rate limit, traces, metrics, the audit log,
//! panics caught (a 500 `internal` naming the request), the Host/Origin/token guard, the body limit.
//! Per-route timeouts are set where the routes are listed (`routes::table`).

use crate::error::ApiError;
use crate::state::AppState;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, header};
use axum::middleware::{Next, from_fn, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use tower_http::catch_panic::CatchPanicLayer;
use tower_http::sensitive_headers::SetSensitiveHeadersLayer;

pub fn app(state: AppState) -> axum::Router {
    layered(crate::routes::router(state.clone()), state)
}

fn layered(routes: axum::Router<AppState>, state: AppState) -> axum::Router {
    let limit = state.config.max_body_bytes;
    routes
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(from_fn_with_state(state.clone(), crate::auth::guard))
        .layer(CatchPanicLayer::custom(panicked))
        .layer(from_fn_with_state(state.clone(), crate::audit::record))
        .layer(from_fn_with_state(state.clone(), crate::metrics::track))
        .layer(from_fn_with_state(state.clone(), trace_requests))
        .layer(from_fn_with_state(state.clone(), rate_limit))
        .layer(from_fn_with_state(state.clone(), security_headers))
        .layer(SetSensitiveHeadersLayer::new([header::AUTHORIZATION, header::COOKIE, header::SET_COOKIE]))
        .layer(from_fn(crate::log::log_requests))
        .with_state(state)
}

/// A handler (or inner middleware) panicked: 500 `internal` with the request id; the panic text
/// goes to the log only.
fn panicked(err: Box<dyn std::any::Any + Send + 'static>) -> Response {
    let what = err
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| err.downcast_ref::<&str>().copied())
        .unwrap_or("(no message)");
    ApiError::internal(format!("handler panicked: {what}")).into_response()
}

/// One OTLP span per request when an exporter is configured.
async fn trace_requests(State(state): State<AppState>, req: Request, next: Next) -> Response {
    match state.otlp.as_ref() {
        Some(exporter) => crate::otlp::trace_request(exporter, req, next).await,
        None => next.run(req).await,
    }
}

/// The general per-IP limit; health checks are exempt (monitors poll them).
async fn rate_limit(State(state): State<AppState>, req: Request, next: Next) -> Response {
    if let (Some(limit), Some(ip)) = (&state.request_limit, crate::log::client_ip(&req))
        && !matches!(req.uri().path(), "/health" | "/ready")
        && let Err(retry) = limit.check(ip, std::time::Instant::now())
    {
        // Refused before `metrics::track` sees it: the dashboard still counts it (as a 4xx).
        state.live.record_refused(429);
        return ApiError::rate_limited(retry).into_response();
    }
    next.run(req).await
}

/// Security headers on every response (the UI and API set nothing that needs more).
async fn security_headers(State(state): State<AppState>, req: Request, next: Next) -> Response {
    let scheme = if state.config.tls.is_some() { "https" } else { "http" };
    let csp = ui_policy(scheme, req.headers().get(header::HOST));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if state.config.tls.is_some() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
    resp
}

/// The UI's policy: scripts only from the embedded build's `/assets/` (so nothing else served on this
/// origin, such as an uploaded file, can ever be a script), everything else from the same origin.
/// A path needs a host in CSP, so it is built from the request's `Host` (checked by `auth::guard`).
fn ui_policy(scheme: &str, host: Option<&HeaderValue>) -> HeaderValue {
    const REST: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; media-src 'self' data:; \
        style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
        form-action 'self'";
    let host = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
    let scripts = match host {
        Some(h) => format!("script-src {scheme}://{h}/assets/"),
        None => "script-src 'none'".to_string(),
    };
    HeaderValue::from_str(&format!("{scripts}; {REST}"))
        .unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use tower::ServiceExt;

    #[tokio::test]
    async fn a_panicking_handler_is_a_500_internal_naming_the_request() {
        let tmp = tempfile::tempdir().unwrap();
        let config = crate::Config::new(tmp.path().into(), "t".into());
        let runner = std::sync::Arc::new(crate::FakeRunner::default());
        let state = crate::build_state(config, Some(runner)).unwrap();
        let boom = axum::routing::get(|| async {
            panic!("secret detail");
            #[allow(unreachable_code)]
            ""
        });
        let app = layered(axum::Router::new().route("/boom", boom), state);
        let req = axum::http::Request::get("/boom")
            .header("host", "127.0.0.1")
            .header("x-request-id", "panic-1")
            .body(Body::empty())
            .unwrap();
        let resp = app.oneshot(req).await.unwrap();
        assert_eq!(resp.status(), 500);
        assert_eq!(resp.headers()["x-request-id"], "panic-1");
        assert_eq!(resp.headers()["x-content-type-options"], "nosniff", "still under the security headers");
        let body = axum::body::to_bytes(resp.into_body(), 1 << 16).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["code"], "internal", "{v}");
        assert_eq!(v["message"], "internal error");
        assert_eq!(v["requestId"], "panic-1");
        assert!(!v.to_string().contains("secret detail"), "{v}");
    }
}
