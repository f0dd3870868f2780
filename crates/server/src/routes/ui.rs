//! The browser entry page. The full UI is built separately (web/); until it is embedded this page
//! says how to reach the API. It is served for every SPA route.

use axum::http::header;
use axum::response::IntoResponse;

const PAGE: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quire</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Quire is running</h1>
<p>The notebook server is up and this browser is signed in. The browser UI is not part of this build yet:
the Srcbook-compatible API is at <code>/api</code> and the WebSocket at <code>/websocket</code>.</p>
<p>Health: <a href="/health">/health</a></p>
</body></html>"#;

pub async fn index() -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], PAGE)
}
