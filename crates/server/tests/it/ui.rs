//! The embedded browser UI: SPA pages, hashed assets (immutable, precompressed), and the page served by a
//! binary built without `web/dist`.

use crate::common::TestServer;

async fn page(s: &TestServer, path: &str, accept_encoding: Option<&str>) -> reqwest::Response {
    let mut req = reqwest::Client::new().get(s.url(path));
    if let Some(enc) = accept_encoding {
        req = req.header("accept-encoding", enc);
    }
    req.send().await.unwrap()
}

fn header<'a>(r: &'a reqwest::Response, name: &str) -> &'a str {
    r.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("")
}

#[tokio::test]
async fn spa_routes_get_the_page_under_a_strict_csp() {
    let s = TestServer::start().await;
    for path in ["/", "/srcbooks/abc", "/secrets", "/settings", "/storage", "/no/such/page"] {
        let r = page(&s, path, None).await;
        assert_eq!(r.status(), 200, "{path}");
        assert!(header(&r, "content-type").starts_with("text/html"), "{path}");
        let csp = header(&r, "content-security-policy");
        assert!(csp.contains("default-src 'self'") && csp.contains("frame-ancestors 'none'"), "{csp}");
        assert!(!csp.contains("'unsafe-eval'"), "{csp}");
    }
    // A missing hashed asset is a 404, never the HTML page (a stale tab must not run HTML as a script).
    let r = page(&s, "/assets/index-missing.js", None).await;
    assert_eq!(r.status(), 404);
}

#[tokio::test]
async fn hashed_assets_are_immutable_and_precompressed() {
    let s = TestServer::start().await;
    let html = page(&s, "/", None).await.text().await.unwrap();
    let Some(start) = html.find("/assets/") else {
        // Built without the UI: the page says how to build it.
        assert!(html.contains("scripts/build-web"), "{html}");
        return;
    };
    let asset = &html[start..start + html[start..].find('"').unwrap()];
    assert!(asset.ends_with(".js"), "{asset}");

    let plain = page(&s, asset, None).await;
    assert_eq!(plain.status(), 200);
    assert_eq!(header(&plain, "cache-control"), "public, max-age=31536000, immutable");
    assert!(header(&plain, "content-type").starts_with("text/javascript"));
    assert_eq!(header(&plain, "content-encoding"), "");
    let plain_len = plain.bytes().await.unwrap().len();

    for (accept, enc) in [("gzip, deflate, br", "br"), ("gzip", "gzip")] {
        let r = page(&s, asset, Some(accept)).await;
        assert_eq!(header(&r, "content-encoding"), enc);
        assert_eq!(header(&r, "vary"), "Accept-Encoding");
        let len = r.bytes().await.unwrap().len();
        assert!(len > 0 && len < plain_len, "{enc}: {len} vs {plain_len}");
    }
    let index = page(&s, "/", Some("br")).await;
    assert_eq!(header(&index, "cache-control"), "no-cache");
}

#[tokio::test]
async fn notebook_pages_preload_their_chunk() {
    let s = TestServer::start().await;
    let html = page(&s, "/srcbooks/abc", None).await.text().await.unwrap();
    if !html.contains("/assets/") {
        return; // built without the UI (checked above)
    }
    let start =
        html.find(r#"<link rel="modulepreload" crossorigin href="/assets/Notebook-"#).expect("preload link");
    let href = html[start..].split('"').nth(3).unwrap();
    assert_eq!(page(&s, href, None).await.status(), 200, "{href}");
    assert!(!page(&s, "/", None).await.text().await.unwrap().contains("modulepreload"));
}

/// The browser UI's save acknowledgement: `ping` is answered with `pong` after earlier frames are applied.
#[tokio::test]
async fn ping_answers_after_the_edits_before_it() {
    let s = TestServer::start().await;
    let id = s.create("Ping", "typescript").await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors"]).await;
    let title = s.session(&id).await["cells"][0]["id"].as_str().unwrap().to_string();
    ws.send(&topic, "cell:update", serde_json::json!({"cellId": title, "updates": {"text": "Pinged"}})).await;
    ws.send(&topic, "ping", serde_json::json!({"requestId": "r7"})).await;
    let pong = ws.recv_event("pong").await;
    assert_eq!(pong["requestId"], "r7");
    assert_eq!(s.session(&id).await["cells"][0]["text"], "Pinged");
}
