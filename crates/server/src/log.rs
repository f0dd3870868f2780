//! One log line per request: method, path (token redacted), status, duration; and a request id on
//! every line logged while the request is handled (`X-Request-Id`, accepted or generated, echoed).

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// The request target with any `token=` value replaced, safe to log.
pub fn redacted_target(uri: &axum::http::Uri) -> String {
    match uri.query() {
        None => uri.path().to_string(),
        Some(q) => {
            let q: Vec<String> =
                q.split('&')
                    .map(|kv| {
                        if kv.starts_with("token=") { "token=[redacted]".to_string() } else { kv.to_string() }
                    })
                    .collect();
            format!("{}?{}", uri.path(), q.join("&"))
        }
    }
}

pub const REQUEST_ID: &str = "x-request-id";

/// A bounded label for an HTTP method: anyone can send `FOO / HTTP/1.1`, and each invented method
/// would otherwise become a new series (memory without limit).
pub fn method_label(method: &axum::http::Method) -> &'static str {
    use axum::http::Method as M;
    match *method {
        M::GET => "GET",
        M::HEAD => "HEAD",
        M::POST => "POST",
        M::PUT => "PUT",
        M::PATCH => "PATCH",
        M::DELETE => "DELETE",
        M::OPTIONS => "OPTIONS",
        _ => "other",
    }
}

/// The client's IP (from the accepted socket; absent for in-process requests in unit tests).
pub fn client_ip(req: &Request) -> Option<std::net::IpAddr> {
    req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

/// Longest text kept from a request (paths, names) in logs and the audit log.
const MAX_FIELD: usize = 200;

/// At most `MAX_FIELD` bytes of `text` (cut on a character boundary, the full length noted), so a
/// 60 KB path cannot become a 60 KB log line or audit row.
pub fn bounded(text: &str) -> String {
    if text.len() <= MAX_FIELD {
        return text.to_string();
    }
    format!("{}… ({} bytes)", quire_stdx::text::head(text, MAX_FIELD), text.len())
}

/// A caller's id is kept when it is short printable ASCII; anything else gets a fresh one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| crate::token::random_hex(8))
}

tokio::task_local! {
    /// The id of the request being handled (so an error body can name it without being handed it).
    static CURRENT_REQUEST_ID: String;
}

/// The `X-Request-Id` of the request this task is handling, if any.
pub fn current_request_id() -> Option<String> {
    CURRENT_REQUEST_ID.try_with(Clone::clone).ok()
}

pub async fn log_requests(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let start = Instant::now();
    let method = req.method().clone();
    // Bounded: a 60 KB path must not become a 60 KB log line.
    let target = bounded(&redacted_target(req.uri()));
    let id = request_id(&req);
    // Every line logged while the request is handled carries these (routing has run: `Router::layer`
    // wraps each route, so the matched template is known).
    let route = req.extensions().get::<axum::extract::MatchedPath>().map(|p| p.as_str().to_owned());
    let span = tracing::info_span!(
        "request",
        request_id = %id,
        method = method_label(&method),
        route = route.as_deref().unwrap_or("unmatched"),
        client_ip = client_ip(&req).map(|ip| ip.to_string()).as_deref().unwrap_or("-"),
    );
    let mut resp = CURRENT_REQUEST_ID.scope(id.clone(), next.run(req).instrument(span.clone())).await;
    if let Ok(v) = axum::http::HeaderValue::from_str(&id) {
        resp.headers_mut().insert(REQUEST_ID, v);
    }
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
    let _in = span.enter();
    if target == "/health" || target == "/ready" {
        tracing::debug!(%method, path = %target, status, duration_ms = ms, "request");
    } else {
        tracing::info!(%method, path = %target, status, duration_ms = ms, "request");
    }
    resp
}

#[cfg(test)]
mod tests {
    #[test]
    fn token_is_redacted() {
        let u: axum::http::Uri = "/x?a=1&token=secret".parse().unwrap();
        let s = super::redacted_target(&u);
        assert!(!s.contains("secret"));
        assert_eq!(s, "/x?a=1&token=[redacted]");
    }
}
