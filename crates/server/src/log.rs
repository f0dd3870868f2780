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

/// A caller's id is kept when it is short printable ASCII; anything else gets a fresh one.
fn request_id(req: &Request) -> String {
    req.headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| !v.is_empty() && v.len() <= 128 && v.bytes().all(|b| b.is_ascii_graphic()))
        .map(str::to_string)
        .unwrap_or_else(|| crate::random_hex(8))
}

pub async fn log_requests(req: Request, next: Next) -> Response {
    use tracing::Instrument;
    let start = Instant::now();
    let method = req.method().clone();
    // Bounded: a 60 KB path must not become a 60 KB log line.
    let target = crate::audit::bounded(&redacted_target(req.uri()));
    let id = request_id(&req);
    let span = tracing::info_span!("request", request_id = %id);
    let mut resp = next.run(req).instrument(span.clone()).await;
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
