//! HTTP API: create, list, get, delete, import (text/url/path), export, settings, secrets, health.

use crate::common::{TestServer, conformance_dir};
use serde_json::json;

#[tokio::test]
async fn health_and_ready_need_no_token() {
    let s = TestServer::start().await;
    let r = reqwest::get(s.url("/health")).await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v["status"], "healthy");
    assert_eq!(v["components"]["database"], "ok");
    assert_eq!(v["version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(reqwest::get(s.url("/ready")).await.unwrap().status(), 200);
    s.stop().await;
}

#[tokio::test]
async fn create_typescript_and_javascript_notebooks() {
    let s = TestServer::start().await;
    let ts = s.create("TS book", "typescript").await;
    let js = s.create("JS book", "javascript").await;
    let t = s.session(&ts).await;
    assert_eq!(t["language"], "typescript");
    assert_eq!(t["cells"][0]["type"], "title");
    assert_eq!(t["cells"][0]["text"], "TS book");
    assert_eq!(t["cells"][1]["type"], "package.json");
    assert!(t["tsconfig.json"].as_str().unwrap().contains("nodenext"));
    let j = s.session(&js).await;
    assert!(j.get("tsconfig.json").is_none());
    // The Srcbook directory layout.
    let d = s.notebook_dir(&ts);
    for f in ["README.md", "package.json", "tsconfig.json", "env.d.ts", "src"] {
        assert!(d.join(f).exists(), "{f}");
    }
    assert!(!s.notebook_dir(&js).join("tsconfig.json").exists());
    let (_, list) = s.get("/api/sessions").await;
    assert_eq!(list["result"].as_array().unwrap().len(), 2);
    // Validation: blank and too-long names.
    for name in ["", "   ", &"x".repeat(45)] {
        let (st, v) = s.post("/api/srcbooks", json!({"name": name, "language": "javascript"})).await;
        assert_eq!(st, 422, "{v}");
        assert_eq!(v["code"], "invalid_title");
        assert_eq!(v["error"], true);
    }
    let (st, v) = s.post("/api/srcbooks", json!({"name": "x", "language": "python"})).await;
    assert_eq!(st, 422, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn delete_removes_directory_and_session() {
    let s = TestServer::start().await;
    let id = s.create("Doomed", "javascript").await;
    let r = s.http.delete(s.url(&format!("/api/srcbooks/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let v: serde_json::Value = r.json().await.unwrap();
    assert_eq!(v, json!({"error": false, "deleted": true}));
    assert!(!s.notebook_dir(&id).exists());
    let (st, v) = s.get(&format!("/api/sessions/{id}")).await;
    assert_eq!(st, 404);
    assert_eq!(v["code"], "notebook_not_found");
    let r = s.http.delete(s.url(&format!("/api/srcbooks/{id}"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

async fn import_text(s: &TestServer, text: &str) -> String {
    let (st, v) = s.post("/api/import", json!({"text": text})).await;
    assert_eq!(st, 200, "{v}");
    let dir = v["result"]["dir"].as_str().unwrap().to_string();
    let (st, v) = s.post("/api/sessions", json!({"path": dir})).await;
    assert_eq!(st, 200, "{v}");
    v["result"]["id"].as_str().unwrap().to_string()
}

async fn export(s: &TestServer, id: &str) -> String {
    let r = s.http.get(s.url(&format!("/api/sessions/{id}/export-text"))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["content-type"], "text/markdown; charset=utf-8");
    r.text().await.unwrap()
}

#[tokio::test]
async fn import_then_export_gives_the_same_bytes_for_conformance_documents() {
    let s = TestServer::start().await;
    let dir = conformance_dir();
    for name in
        ["srcbook.src.md", "getting-started.src.md", "websockets.src.md", "langgraph-web-agent.src.md"]
    {
        let text = std::fs::read_to_string(dir.join(name)).unwrap();
        let expected =
            std::fs::read_to_string(dir.join("expected").join(name)).unwrap_or_else(|_| text.clone());
        let id = import_text(&s, &text).await;
        assert_eq!(export(&s, &id).await, expected, "{name}");
    }
    s.stop().await;
}

#[tokio::test]
async fn import_rejects_invalid_documents_with_the_decoder_errors() {
    let s = TestServer::start().await;
    let (st, v) = s.post("/api/import", json!({"text": "# no metadata\n"})).await;
    assert_eq!(st, 422, "{v}");
    assert_eq!(v["code"], "invalid_srcmd");
    assert!(v["message"].as_str().unwrap().contains("Srcbook does not contain required metadata"));
    let (st, v) = s.post("/api/import", json!({})).await;
    assert_eq!(st, 422, "{v}");
    let r = s
        .http
        .post(s.url("/api/import"))
        .body("{\"text\":")
        .header("content-type", "application/json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    s.stop().await;
}

/// A one-route HTTP server standing in for a remote host.
async fn file_server(body: String) -> std::net::SocketAddr {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let app = axum::Router::new()
        .route("/nb.src.md", axum::routing::get(move || async move { body }))
        .route("/missing", axum::routing::get(|| async { (axum::http::StatusCode::NOT_FOUND, "gone") }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn import_by_url_with_limits() {
    let text = std::fs::read_to_string(conformance_dir().join("getting-started.src.md")).unwrap();
    let remote = file_server(text.clone()).await;
    let s = TestServer::start().await;
    let (st, v) = s.post("/api/import", json!({"url": format!("http://{remote}/nb.src.md")})).await;
    assert_eq!(st, 200, "{v}");
    let id = v["result"]["id"].as_str().unwrap().to_string();
    assert_eq!(export(&s, &id).await, text);
    let (st, v) = s.post("/api/import", json!({"url": format!("http://{remote}/missing")})).await;
    assert_eq!(st, 422, "{v}");
    assert!(v["message"].as_str().unwrap().starts_with("Error requesting"), "{v}");
    for url in ["file:///etc/passwd", "ftp://x/y.src.md", "not a url"] {
        let (st, v) = s.post("/api/import", json!({"url": url})).await;
        assert_eq!(st, 400, "{url}: {v}");
    }
    s.stop().await;

    let big = format!("{text}\n{}", "a".repeat(4096));
    let remote = file_server(big).await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), crate::common::TOKEN.into());
    config.url_import_max_bytes = 1024;
    let s = TestServer::start_with(config).await;
    let (st, v) = s.post("/api/import", json!({"url": format!("http://{remote}/nb.src.md")})).await;
    assert_eq!(st, 413, "{v}");
    s.stop().await;
}

#[tokio::test]
async fn examples_import_by_path_under_their_fixed_id() {
    let s = TestServer::start().await;
    let (st, v) = s.get("/api/examples").await;
    assert_eq!(st, 200);
    let list = v["result"].as_array().unwrap();
    assert!(list.len() >= 2);
    for ex in list {
        let (st, v) = s.post("/api/import", json!({"path": ex["path"]})).await;
        assert_eq!(st, 200, "{v}");
        assert_eq!(v["result"]["id"], ex["id"]);
        assert_eq!(v["result"]["dir"], ex["dirname"]);
        // Again: the same notebook, not a copy.
        let (_, v2) = s.post("/api/import", json!({"path": ex["path"]})).await;
        assert_eq!(v2["result"]["id"], ex["id"]);
        let session = s.session(ex["id"].as_str().unwrap()).await;
        assert_eq!(session["cells"][0]["text"], ex["title"]);
    }
    s.stop().await;
}

#[tokio::test]
async fn settings_mask_keys_and_refuse_unknown_ones() {
    let s = TestServer::start().await;
    let (st, v) = s.post("/api/settings", json!({"openaiKey": "sk-very-secret", "aiModel": "gpt-x"})).await;
    assert_eq!(st, 200, "{v}");
    let cfg = &v["result"][0];
    assert_eq!(cfg["aiModel"], "gpt-x");
    assert!(cfg["openaiKey"].as_str().is_some_and(|k| !k.is_empty()));
    assert_eq!(cfg["anthropicKey"], serde_json::Value::Null);
    let (_, v) = s.get("/api/settings").await;
    assert!(!v.to_string().contains("sk-very-secret"));
    assert!(v["result"]["installId"].as_str().is_some_and(|i| i.len() == 32));
    let (st, v) = s.post("/api/settings", json!({"dbPath": "/tmp/x"})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("unknown_setting")));
    s.stop().await;
}

#[tokio::test]
async fn secrets_crud_links_and_env_types() {
    let s = TestServer::start().await;
    let id = s.create("Secretive", "typescript").await;
    let (st, v) = s.post("/api/secrets", json!({"name": "API_KEY", "value": "hunter2"})).await;
    assert_eq!(st, 200, "{v}");
    assert_ne!(v["result"]["value"], "hunter2");
    let r = s.http.put(s.url(&format!("/api/sessions/{id}/secrets/API_KEY"))).send().await.unwrap();
    assert_eq!(r.status(), 204);
    let env = std::fs::read_to_string(s.notebook_dir(&id).join("env.d.ts")).unwrap();
    assert!(env.contains("readonly API_KEY: string;"), "{env}");
    let (_, v) = s.get("/api/secrets").await;
    assert!(!v.to_string().contains("hunter2"));
    assert_eq!(v["result"][0]["associatedWithSessionIds"], json!([id]));
    // Rename keeps the link and rewrites env.d.ts.
    let (st, v) = s
        .post("/api/secrets/API_KEY", json!({"name": "TOKEN", "value": "x", "previousName": "API_KEY"}))
        .await;
    assert_eq!(st, 200, "{v}");
    let env = std::fs::read_to_string(s.notebook_dir(&id).join("env.d.ts")).unwrap();
    assert!(env.contains("TOKEN") && !env.contains("API_KEY"), "{env}");
    let r = s.http.put(s.url(&format!("/api/sessions/{id}/secrets/NOPE"))).send().await.unwrap();
    assert_eq!(r.status(), 404);
    let r = s.http.delete(s.url("/api/secrets/TOKEN")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let env = std::fs::read_to_string(s.notebook_dir(&id).join("env.d.ts")).unwrap();
    assert!(!env.contains("TOKEN"), "always rewritten: {env}");
    let r = s.http.delete(s.url("/api/secrets/TOKEN")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    s.stop().await;
}

#[tokio::test]
async fn a_broken_notebook_directory_is_reported_not_fatal() {
    let s = TestServer::start().await;
    let good = s.create("Good", "javascript").await;
    let bad = s.create("Bad", "javascript").await;
    let (dir, tmp) = s.stop().await;
    std::fs::write(dir.join("notebooks").join(&bad).join("README.md"), "no metadata here\n").unwrap();
    let s = TestServer::start_with(quire_server::Config::new(dir, crate::common::TOKEN.into())).await;
    s.session(&good).await;
    let (st, _) = s.get(&format!("/api/sessions/{bad}")).await;
    assert_eq!(st, 404);
    let (_, h) = s.get("/health").await;
    assert_eq!(h["status"], "degraded");
    assert_eq!(h["notebooks"]["failed"][0]["id"], bad);
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn unknown_api_route_is_a_json_404() {
    let s = TestServer::start().await;
    let (st, v) = s.get("/api/nope").await;
    assert_eq!(st, 404);
    assert_eq!(v["code"], "not_found");
    let (st, v) = s.get("/api/npm/search?q=x").await;
    assert_eq!((st, v["code"].as_str()), (501, Some("not_implemented")));
    // AI routes answer, and say what to set up first.
    let (st, v) = s.post("/api/generate", json!({"query": "x"})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("ai_not_configured")));
    s.stop().await;
}

#[tokio::test]
async fn health_reports_disk_and_runtime() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), crate::common::TOKEN.into());
    config.language.enabled = false;
    config.disk_low_bytes = u64::MAX;
    let s = TestServer::start_with(config).await;
    let (st, v) = s.get("/health").await;
    assert_eq!(st, 200, "a short disk degrades, it does not take the server down");
    assert_eq!(v["status"], "degraded");
    assert_eq!(v["components"]["disk"], "degraded");
    assert!(v["disk"]["freeBytes"].as_u64().unwrap() > 0);
    assert_eq!(v["components"]["runtime"], "ok");
    assert_eq!(v["runtime"]["activeRuns"], 0);
    assert_eq!(v["components"]["languageServices"], "disabled");
    assert_eq!(v["languageServices"]["running"], 0);
    // The file store's sweeper reports in: registered at start, its first run comes at once.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let (_, v) = s.get("/health").await;
        assert_eq!(v["components"]["workers"], "ok");
        if v["workers"]["files.sweeper"]["runs"].as_u64().unwrap_or(0) >= 1 {
            assert_eq!(v["workers"]["files.sweeper"]["status"], "ok");
            break;
        }
        assert!(std::time::Instant::now() < deadline, "the sweeper never ran: {v}");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    drop(tmp);
}
