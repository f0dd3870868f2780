//! The browser UI, embedded from `web/dist` at compile time (see build.rs). Hashed assets under
//! `/assets/` are immutable; every other GET that is not an asset gets `index.html` (SPA routes).
//! `scripts/build-web` writes `.br` and `.gz` siblings, served when the browser accepts them.

use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use include_dir::{Dir, include_dir};

static DIST: Dir<'static> = include_dir!("$QUIRE_WEB_DIST");

/// `--web-dir`: serve the UI from this directory instead of the embedded build (UI development: a
/// fresh `vite build` shows without rebuilding the server). Set once at start.
static WEB_DIR: std::sync::OnceLock<std::path::PathBuf> = std::sync::OnceLock::new();

pub fn serve_from_dir(dir: std::path::PathBuf) {
    let _ = WEB_DIR.set(dir);
}

/// A UI file's bytes: from `--web-dir` when set, else embedded. `path` is relative, `/`-separated.
fn asset(path: &str) -> Option<std::borrow::Cow<'static, [u8]>> {
    if path.split('/').any(|part| part.is_empty() || part == "." || part == "..") {
        return None;
    }
    match WEB_DIR.get() {
        Some(dir) => std::fs::read(dir.join(path)).ok().map(std::borrow::Cow::Owned),
        None => DIST.get_file(path).map(|f| std::borrow::Cow::Borrowed(f.contents())),
    }
}

/// File names in the UI's `assets/` directory.
fn asset_names() -> Vec<String> {
    match WEB_DIR.get() {
        Some(dir) => std::fs::read_dir(dir.join("assets"))
            .map(|rd| rd.filter_map(|e| e.ok()?.file_name().into_string().ok()).collect())
            .unwrap_or_default(),
        None => DIST
            .get_dir("assets")
            .map(|d| d.files().filter_map(|f| Some(f.path().file_name()?.to_str()?.to_string())).collect())
            .unwrap_or_default(),
    }
}

const NOT_BUILT: &str = r#"<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Quire</title>
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family: system-ui, sans-serif; max-width: 40rem; margin: 4rem auto; line-height: 1.5">
<h1>Quire is running</h1>
<p>The server is up, but this binary was built without the browser UI. Build it with
<code>bash scripts/build-web</code>, then rebuild and restart: <code>cargo run --release -p quire -- serve</code>.</p>
<p>The Srcbook-compatible API is at <code>/api</code>, the WebSocket at <code>/websocket</code>.
Health: <a href="/health">/health</a></p>
</body></html>"#;

fn content_type(path: &str) -> &'static str {
    match path.rsplit_once('.').map(|(_, ext)| ext) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("json" | "webmanifest") => "application/json",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

fn accepts(headers: &HeaderMap, encoding: &str) -> bool {
    headers.get_all(header::ACCEPT_ENCODING).iter().filter_map(|v| v.to_str().ok()).any(|v| {
        v.split(',').any(|part| {
            let mut it = part.split(';');
            let name = it.next().unwrap_or("").trim();
            let refused = it.any(|q| q.trim().replace(' ', "") == "q=0");
            name.eq_ignore_ascii_case(encoding) && !refused
        })
    })
}

/// The file's bytes, in the best precompressed form the client accepts.
fn file_response(path: &str, headers: &HeaderMap, cache: &'static str) -> Option<Response> {
    let mut body = asset(path)?;
    let mut encoding = None;
    for (enc, ext) in [("br", "br"), ("gzip", "gz")] {
        if accepts(headers, enc)
            && let Some(f) = asset(&format!("{path}.{ext}"))
        {
            body = f;
            encoding = Some(enc);
            break;
        }
    }
    let mut resp = (
        [(header::CONTENT_TYPE, content_type(path)), (header::CACHE_CONTROL, cache)],
        axum::body::Body::from(body),
    )
        .into_response();
    let h = resp.headers_mut();
    h.insert(header::VARY, HeaderValue::from_static("Accept-Encoding"));
    if let Some(enc) = encoding {
        h.insert(header::CONTENT_ENCODING, HeaderValue::from_static(enc));
    }
    Some(resp)
}

/// `index.html` for every page route (no-cache: it names the current hashed assets).
pub fn index(headers: &HeaderMap) -> Response {
    file_response("index.html", headers, "no-cache").unwrap_or_else(|| {
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], NOT_BUILT)
            .into_response()
    })
}

/// The notebook page with its code chunk preloaded, so the chunk downloads in parallel with the entry
/// script instead of after it (one round trip less before a notebook shows).
fn notebook_page() -> Option<Response> {
    let index = asset("index.html")?;
    let index = std::str::from_utf8(&index).ok()?;
    let names = asset_names();
    let chunk = names.iter().find(|name| name.starts_with("Notebook-") && name.ends_with(".js"))?;
    let link = format!(r#"<link rel="modulepreload" crossorigin href="/assets/{chunk}">"#);
    let html = index.replacen("</head>", &format!("{link}</head>"), 1);
    Some(
        ([(header::CONTENT_TYPE, "text/html; charset=utf-8"), (header::CACHE_CONTROL, "no-cache")], html)
            .into_response(),
    )
}

/// A GET outside `/api`: an embedded asset, else the SPA page. A missing hashed asset is a 404, so a
/// stale tab never runs HTML as a script.
pub fn page_or_asset(uri: &Uri, headers: &HeaderMap) -> Response {
    let path = uri.path().trim_start_matches('/');
    if path.starts_with("assets/") {
        return file_response(path, headers, "public, max-age=31536000, immutable")
            .unwrap_or_else(|| (StatusCode::NOT_FOUND, "Not found").into_response());
    }
    let top_level_file =
        !path.is_empty() && !path.contains('/') && path.contains('.') && path != "index.html";
    if top_level_file && let Some(resp) = file_response(path, headers, "public, max-age=3600") {
        return resp;
    }
    if path.starts_with("srcbooks/")
        && let Some(resp) = notebook_page()
    {
        return resp;
    }
    index(headers)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodings() {
        let mut h = HeaderMap::new();
        h.insert(header::ACCEPT_ENCODING, HeaderValue::from_static("gzip, deflate, br;q=0"));
        assert!(accepts(&h, "gzip"));
        assert!(!accepts(&h, "br"));
        assert!(!accepts(&HeaderMap::new(), "gzip"));
    }

    #[test]
    fn types() {
        assert_eq!(content_type("assets/a-1.js"), "text/javascript; charset=utf-8");
        assert_eq!(content_type("x"), "application/octet-stream");
    }
}
