//! One log line per request: method, path (token redacted), status, duration.

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

pub async fn log_requests(req: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = req.method().clone();
    let target = redacted_target(req.uri());
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let ms = start.elapsed().as_secs_f64() * 1000.0;
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
