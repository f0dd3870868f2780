//! One test per weakness Srcbook has: auth, Origin, Host, path traversal, key echo, malformed frames.

use crate::common::{TOKEN, TestServer, tree};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

#[tokio::test]
async fn every_api_route_needs_the_token() {
    // Many wrong tokens on purpose: lift the guessing throttle (tested on its own below).
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.auth_failures_per_minute = 100_000;
    let s = TestServer::start_with(config).await;
    let id = s.create("x", "javascript").await;
    let anon = reqwest::Client::new();
    // Every route the router exports, with its parameters filled in; plus an unknown `/api` path.
    let routes = quire_server::route_list();
    assert!(routes.len() > 50, "the list holds every route: {routes:?}");
    let concrete = |path: &str| {
        path.split('/')
            .map(|seg| match seg {
                "{id}" => id.clone(),
                "{name}" => "A".into(),
                "{*content_type}" => "text/plain".into(),
                s if s.starts_with('{') => "x".into(),
                s => s.to_string(),
            })
            .collect::<Vec<_>>()
            .join("/")
    };
    let mut checked =
        vec![(reqwest::Method::GET, "/api/nonexistent".to_string(), quire_server::Access::Token)];
    checked.extend(routes.iter().map(|r| (r.method.clone(), concrete(&r.path), r.access)));
    for (method, path, access) in &checked {
        let auths: &[Option<&str>] = match access {
            quire_server::Access::Public => &[None],
            _ => &[None, Some("Bearer wrong-token-wrong-token"), Some("Basic xyz")],
        };
        for auth in auths {
            let mut req = anon.request(method.clone(), s.url(path)).header("tus-resumable", "1.0.0");
            if method != reqwest::Method::HEAD {
                req = req.json(&json!({}));
            }
            if let Some(a) = auth {
                req = req.header("authorization", *a);
            }
            let r = req.send().await.unwrap();
            let status = r.status();
            let body: serde_json::Value = r.json().await.unwrap_or_default();
            match access {
                quire_server::Access::Public => assert_ne!(status, 401, "{method} {path} is public"),
                quire_server::Access::Token => {
                    assert_eq!(status, 401, "{method} {path} {auth:?}");
                    assert_eq!(body["code"], "unauthorized", "{method} {path}");
                }
                quire_server::Access::FileCredentials => {
                    assert_eq!(status, 401, "{method} {path} {auth:?}");
                    if method != reqwest::Method::HEAD {
                        assert_eq!(body["code"], "AUTHENTICATION_ERROR", "{method} {path}");
                    }
                }
            }
        }
    }
    // The other accepted forms.
    for (header, query) in [(Some(format!("token {TOKEN}")), ""), (None, "?token=")] {
        let url = format!("{}{query}{}", s.url("/api/sessions"), if query.is_empty() { "" } else { TOKEN });
        let mut req = anon.get(url);
        if let Some(h) = header {
            req = req.header("authorization", h);
        }
        assert_eq!(req.send().await.unwrap().status(), 200);
    }
    // WebSocket upgrade without a token.
    let req = format!("ws://{}/websocket", s.addr).into_client_request().unwrap();
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("401"), "{err}");
    s.stop().await;
}

#[tokio::test]
async fn browser_link_token_becomes_a_cookie_and_leaves_the_url() {
    let s = TestServer::start().await;
    // The launch page `quire serve` writes holds the token; following the link removes it.
    let page = s.data_dir.join("open.html");
    std::fs::write(&page, TOKEN).unwrap();
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = anon.get(s.url(&format!("/srcbooks/abc?token={TOKEN}&x=1"))).send().await.unwrap();
    assert_eq!(r.status(), 302);
    assert!(!page.exists(), "open.html is gone once the browser has used it");
    assert_eq!(r.headers()["location"], "/srcbooks/abc?x=1");
    let cookie = r.headers()["set-cookie"].to_str().unwrap().to_string();
    assert!(cookie.contains("HttpOnly") && cookie.contains("SameSite=Strict"), "{cookie}");
    let pair = cookie.split(';').next().unwrap().to_string();
    assert!(!pair.contains(TOKEN), "the cookie is a session id, not the token");
    let r = anon.get(s.url("/api/sessions")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(r.status(), 200);
    let r = anon.get(s.url("/api/sessions")).header("cookie", "quire_session=forged").send().await.unwrap();
    assert_eq!(r.status(), 401);
    // The cookie also authenticates the WebSocket (the stock client sends no token).
    let mut req = format!("ws://{}/websocket", s.addr).into_client_request().unwrap();
    req.headers_mut().insert("cookie", pair.parse().unwrap());
    req.headers_mut().insert("origin", format!("http://{}", s.addr).parse().unwrap());
    assert!(tokio_tungstenite::connect_async(req).await.is_ok());
    s.stop().await;
}

#[tokio::test]
async fn foreign_origin_is_refused_even_with_the_token() {
    let s = TestServer::start().await;
    for origin in ["http://evil.example", "null", "http://127.0.0.1:1"] {
        let r = s
            .http
            .post(s.url("/api/srcbooks"))
            .header("origin", origin)
            .json(&json!({"name": "x", "language": "javascript"}))
            .send()
            .await
            .unwrap();
        assert_eq!(r.status(), 403, "{origin}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], "forbidden_origin");
        assert!(r_no_cors(&s, origin).await);
    }
    assert!(tree(&s.data_dir.join("notebooks")).is_empty(), "nothing was created");
    // Same origin passes.
    let r = s
        .http
        .post(s.url("/api/srcbooks"))
        .header("origin", format!("http://{}", s.addr))
        .json(&json!({"name": "x", "language": "javascript"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    // WebSocket upgrade with a foreign Origin.
    let mut req = format!("ws://{}/websocket", s.addr).into_client_request().unwrap();
    req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
    req.headers_mut().insert("origin", "http://evil.example".parse().unwrap());
    let err = tokio_tungstenite::connect_async(req).await.unwrap_err();
    assert!(err.to_string().contains("403"), "{err}");
    s.stop().await;
}

/// No CORS header is ever reflected to an unconfigured origin.
async fn r_no_cors(s: &TestServer, origin: &str) -> bool {
    let r = s.http.get(s.url("/api/sessions")).header("origin", origin).send().await.unwrap();
    r.headers().get("access-control-allow-origin").is_none()
}

#[tokio::test]
async fn configured_origin_gets_cors() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.allowed_origins = vec!["http://app.example".into()];
    let s = TestServer::start_with(config).await;
    let r = s
        .http
        .post(s.url("/api/srcbooks"))
        .header("origin", "http://app.example")
        .json(&json!({"name": "x", "language": "javascript"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(r.headers()["access-control-allow-origin"], "http://app.example");
    s.stop().await;
}

#[tokio::test]
async fn bad_host_is_refused() {
    let s = TestServer::start().await;
    for host in ["evil.example", "localhost.evil.example:80", "10.0.0.1"] {
        let r = s.http.get(s.url("/api/sessions")).header("host", host).send().await.unwrap();
        assert_eq!(r.status(), 403, "{host}");
        let v: serde_json::Value = r.json().await.unwrap();
        assert_eq!(v["code"], "forbidden_host");
    }
    for host in ["localhost:2150", "127.0.0.1", "[::1]:80"] {
        let r = s.http.get(s.url("/api/sessions")).header("host", host).send().await.unwrap();
        assert_eq!(r.status(), 200, "{host}");
    }
    s.stop().await;
}

#[tokio::test]
async fn path_traversal_attempts_are_refused_and_write_nothing_outside() {
    let outside = tempfile::tempdir().unwrap();
    let roots = tempfile::tempdir().unwrap();
    std::fs::write(
        outside.path().join("evil.src.md"),
        std::fs::read(crate::common::conformance_dir().join("srcbook.src.md")).unwrap(),
    )
    .unwrap();
    std::os::unix::fs::symlink(outside.path().join("evil.src.md"), roots.path().join("link.src.md")).unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.import_roots = vec![roots.path().into()];
    let s = TestServer::start_with(config).await;
    let id = s.create("Target", "javascript").await;
    let before_outside = tree(outside.path());
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors"]).await;

    // 1. cell filename ../x.js (create and rename)
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": {"id": "c", "type": "code", "source": "x", "language": "javascript", "filename": "../x.js", "status": "idle"}})).await;
    assert_eq!(ws.recv_event("error").await["code"], "invalid_filename");
    assert!(!s.notebook_dir(&id).join("x.js").exists());
    // 2. import path outside the allowed roots
    let (st, v) = s.post("/api/import", json!({"path": outside.path().join("evil.src.md")})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_path")), "{v}");
    let (st, _) = s.post("/api/import", json!({"path": format!("{}/../{}/evil.src.md", roots.path().display(), outside.path().display())})).await;
    assert_eq!(st, 400);
    // 3. encoded .. in an id
    for path in ["/api/sessions/..%2F..%2Fetc", "/api/sessions/%2E%2E%2F%2E%2E", "/api/sessions/%2e%2e%00"] {
        let (st, v) = s.get(path).await;
        assert_eq!((st, v["code"].as_str()), (400, Some("invalid_path")), "{path}: {v}");
    }
    let r = s.http.delete(s.url("/api/srcbooks/..%2F..%2F")).send().await.unwrap();
    assert_eq!(r.status(), 400);
    // 4. a symlink out of an allowed root; and a session path that is a link out of the notebooks dir
    let (st, v) = s.post("/api/import", json!({"path": roots.path().join("link.src.md")})).await;
    assert_eq!((st, v["code"].as_str()), (400, Some("invalid_path")), "{v}");
    let link = s.data_dir.join("notebooks").join("linked");
    std::os::unix::fs::symlink(outside.path(), &link).unwrap();
    let (st, _) = s.post("/api/sessions", json!({"path": link})).await;
    assert_eq!(st, 400);
    let (st, _) = s.post("/api/file", json!({"file": "/etc/passwd"})).await;
    assert_eq!(st, 400);
    // 5. NUL bytes
    let (st, _) =
        s.post("/api/import", json!({"path": format!("{}/a\0.src.md", roots.path().display())})).await;
    assert_eq!(st, 400);
    let r = s.http.put(s.url(&format!("/api/sessions/{id}/secrets/A%00B"))).send().await.unwrap();
    assert_eq!(r.status(), 400);
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": {"id": "d", "type": "code", "source": "x", "language": "javascript", "filename": "a\u{0}.js", "status": "idle"}})).await;
    assert_eq!(ws.recv_event("error").await["code"], "invalid_filename");

    assert_eq!(tree(outside.path()), before_outside, "nothing written outside");
    let files = tree(&s.notebook_dir(&id));
    assert_eq!(files, [".quire-cells.json", "README.md", "env.d.ts", "package.json", "src"]);
    s.stop().await;
}

#[tokio::test]
async fn settings_never_echo_a_key() {
    let s = TestServer::start().await;
    for key in ["openaiKey", "anthropicKey", "xaiKey", "geminiKey", "openrouterKey", "customApiKey"] {
        let (st, v) = s.post("/api/settings", json!({key: "sk-SECRET-123"})).await;
        assert_eq!(st, 200);
        assert!(!v.to_string().contains("SECRET"), "{key}: {v}");
        assert!(v["result"][0][key].as_str().is_some_and(|x| !x.is_empty()));
    }
    let (_, v) = s.get("/api/settings").await;
    assert!(!v.to_string().contains("SECRET"));
    let (_, v) = s.post("/api/secrets", json!({"name": "S", "value": "SECRET"})).await;
    assert!(!v.to_string().contains("SECRET"));
    s.stop().await;
}

#[tokio::test]
async fn a_thousand_malformed_frames_each_get_an_error_and_the_server_lives() {
    let s = TestServer::start().await;
    let id = s.create("x", "javascript").await;
    let mut ws = s.ws().await;
    let topic = format!("session:{id}");
    let cases = [
        "not json".to_string(),
        "{}".into(),
        "[]".into(),
        "[1,2,3]".into(),
        r#"["session:x"]"#.into(),
        r#"["unknown:topic","subscribe",{}]"#.into(),
        format!(r#"["{topic}","no:such:event",{{}}]"#),
        format!(r#"["{topic}","cell:update",{{"cellId":5}}]"#),
        format!(r#"["{topic}","cell:create",{{"index":-1}}]"#),
        format!(r#"["{topic}","subscribe",[]]"#),
    ];
    for i in 0..1000 {
        ws.send_raw(&cases[i % cases.len()]).await;
    }
    for i in 0..1000 {
        let (_, e, p) = ws.recv().await;
        assert_eq!(e, "error", "frame {i}: {p}");
        assert!(p["code"].is_string() && p["message"].is_string());
    }
    let (st, _) = s.get("/health").await;
    assert_eq!(st, 200);
    // The connection is still usable.
    ws.subscribe(&id, &[]).await;
    s.stop().await;
}

#[tokio::test]
async fn oversized_bodies_and_frames_are_refused() {
    let s = TestServer::start().await;
    let big = "x".repeat(11 * 1024 * 1024);
    let (st, v) = s.post("/api/import", json!({"text": big})).await;
    assert_eq!((st, v["code"].as_str()), (413, Some("payload_too_large")), "{v}");
    let r = s
        .http
        .post(s.url("/api/srcbooks"))
        .header("content-type", "text/plain")
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);
    let mut ws = s.ws().await;
    // The send itself may fail once the server has closed the connection.
    let _ = ws.stream.send(Message::Text("y".repeat(5 * 1024 * 1024).into())).await;
    // The server closes a connection that sends a message over the limit.
    let end = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.stream.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(m)) if m.is_close() => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(end.unwrap_or(false));
    assert_eq!(s.get("/health").await.0, 200);
    s.stop().await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_generated() {
    let s = TestServer::start().await;
    let r = s.http.get(s.url("/api/settings")).header("x-request-id", "abc-123").send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"], "abc-123");
    let r = s.http.get(s.url("/api/settings")).send().await.unwrap();
    let id = r.headers()["x-request-id"].to_str().unwrap().to_string();
    assert_eq!(id.len(), 16, "{id}");
    // A header that is not short printable ASCII is replaced, not echoed.
    let r = s.http.get(s.url("/health")).header("x-request-id", "x".repeat(300)).send().await.unwrap();
    assert_eq!(r.headers()["x-request-id"].len(), 16);
}

#[tokio::test]
async fn token_guessing_is_throttled_with_retry_after() {
    let s = TestServer::start().await;
    let guess = || reqwest::Client::new().get(s.url("/api/settings")).bearer_auth("wrong-token-0123456789");
    let mut statuses = Vec::new();
    for _ in 0..12 {
        statuses.push(guess().send().await.unwrap().status().as_u16());
    }
    assert_eq!(&statuses[..10], &[401; 10], "{statuses:?}");
    let r = guess().send().await.unwrap();
    assert_eq!(r.status(), 429);
    let retry: u64 = r.headers()["retry-after"].to_str().unwrap().parse().unwrap();
    assert!((1..=6).contains(&retry), "{retry}");
    assert_eq!(r.json::<serde_json::Value>().await.unwrap()["code"], "rate_limited");
    // The right token still works.
    assert_eq!(s.get("/api/settings").await.0, 200);
}

#[tokio::test]
async fn a_request_flood_gets_429() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.rate_limit_rps = 5;
    let s = TestServer::start_with(config).await;
    let mut codes = Vec::new();
    for _ in 0..30 {
        codes.push(s.get("/api/settings").await.0);
    }
    assert!(codes.contains(&429), "{codes:?}");
    assert_eq!(codes[0], 200);
    // Health checks are exempt.
    assert_eq!(s.get("/health").await.0, 200);
    drop(tmp);
}

#[tokio::test]
async fn audit_log_records_who_did_what() {
    let s = TestServer::start().await;
    let id = s.create("Audited", "javascript").await;
    s.post("/api/secrets", json!({"name": "API_KEY", "value": "v"})).await;
    s.http.put(s.url(&format!("/api/sessions/{id}/secrets/API_KEY"))).send().await.unwrap();
    s.http.delete(s.url(&format!("/api/sessions/{id}/secrets/API_KEY"))).send().await.unwrap();
    s.http.delete(s.url("/api/secrets/API_KEY")).send().await.unwrap();
    s.post("/api/settings", json!({"aiModel": "x"})).await;
    reqwest::Client::new()
        .get(s.url("/api/settings"))
        .bearer_auth("nope-nope-nope-nope")
        .send()
        .await
        .unwrap();
    s.http.delete(s.url(&format!("/api/srcbooks/{id}"))).send().await.unwrap();
    let (st, v) = s.get("/api/audit?limit=50").await;
    assert_eq!(st, 200);
    let got: Vec<(String, String, String)> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| {
            (
                e["actor"].as_str().unwrap().into(),
                e["action"].as_str().unwrap().into(),
                e["outcome"].as_str().unwrap().into(),
            )
        })
        .collect();
    let want = [
        ("token", "secret.set", "ok"),
        ("token", "secret.link", "ok"),
        ("token", "secret.unlink", "ok"),
        ("token", "secret.delete", "ok"),
        ("token", "settings.update", "ok"),
        ("anonymous", "auth.failure", "401"),
        ("token", "notebook.delete", "ok"),
    ];
    let want: Vec<(String, String, String)> =
        want.iter().map(|(a, b, c)| (a.to_string(), b.to_string(), c.to_string())).collect();
    assert_eq!(got, want);
    let first = &v["result"].as_array().unwrap().last().unwrap().clone();
    assert_eq!(first["target"], "API_KEY");
    assert_eq!(first["ip"], "127.0.0.1");
}

#[tokio::test]
async fn browser_sessions_outlive_a_restart_but_not_a_new_token() {
    let s = TestServer::start().await;
    let anon = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().unwrap();
    let r = anon.get(s.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    let pair = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    let (dir, tmp) = s.stop().await;
    // Same token: still signed in.
    let s = TestServer::start_with(quire_server::Config::new(dir.clone(), TOKEN.into())).await;
    let r = anon.get(s.url("/api/sessions")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(r.status(), 200);
    s.stop().await;
    // A new token signs every browser out.
    let s = TestServer::start_with(quire_server::Config::new(dir.clone(), "another-token-0123456789".into()))
        .await;
    let r = anon.get(s.url("/api/sessions")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(r.status(), 401);
    // An idle session expires.
    let mut config = quire_server::Config::new(dir, TOKEN.into());
    config.session_idle = std::time::Duration::from_millis(1);
    drop(s);
    let s = TestServer::start_with(config).await;
    let r = anon.get(s.url(&format!("/?token={TOKEN}"))).send().await.unwrap();
    let pair = r.headers()["set-cookie"].to_str().unwrap().split(';').next().unwrap().to_string();
    tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    let r = anon.get(s.url("/api/sessions")).header("cookie", &pair).send().await.unwrap();
    assert_eq!(r.status(), 401);
    drop(tmp);
}

#[tokio::test]
async fn audit_log_covers_accounts_api_keys_and_file_deletes() {
    let s = TestServer::start().await;
    let anon = reqwest::Client::new();
    let creds = json!({"email": "a@x.io", "password": "longenough"});
    assert_eq!(s.http.post(s.url("/auth/register")).json(&creds).send().await.unwrap().status(), 201);
    let ok: serde_json::Value =
        anon.post(s.url("/auth/login")).json(&creds).send().await.unwrap().json().await.unwrap();
    let access = ok["accessToken"].as_str().unwrap().to_string();
    let bad = json!({"email": "a@x.io", "password": "wrong-password"});
    assert_eq!(anon.post(s.url("/auth/login")).json(&bad).send().await.unwrap().status(), 401);
    let r = anon.post(s.url("/auth/api-keys")).bearer_auth(&access).json(&json!({"name": "ci"})).send().await;
    let key: serde_json::Value = r.unwrap().json().await.unwrap();
    let key_id = key["id"].as_str().or(key["key"]["id"].as_str()).unwrap().to_string();
    let r = anon.post(s.url(&format!("/auth/api-keys/{key_id}/rotate"))).bearer_auth(&access).send().await;
    let rotated: serde_json::Value = r.unwrap().json().await.unwrap();
    let key_id = rotated["id"].as_str().or(rotated["key"]["id"].as_str()).unwrap_or(&key_id).to_string();
    anon.delete(s.url(&format!("/auth/api-keys/{key_id}"))).bearer_auth(&access).send().await.unwrap();
    let form = crate::files::form("a.bin", "application/octet-stream", vec![1u8; 10]);
    let (_, up) = crate::files::upload(&s, &access, form, &[]).await;
    let file = up["file_id"].as_str().unwrap();
    anon.delete(s.url(&format!("/files/{file}"))).bearer_auth(&access).send().await.unwrap();
    anon.post(s.url("/auth/logout")).bearer_auth(&access).send().await.unwrap();
    let (_, v) = s.get("/api/audit?limit=50").await;
    let got: Vec<(String, String)> = v["result"]
        .as_array()
        .unwrap()
        .iter()
        .rev()
        .map(|e| (e["action"].as_str().unwrap().into(), e["outcome"].as_str().unwrap().into()))
        .collect();
    let want: Vec<(String, String)> = [
        ("user.create", "ok"),
        ("auth.login", "ok"),
        ("auth.failure", "401"),
        ("apikey.create", "ok"),
        ("apikey.rotate", "ok"),
        ("apikey.revoke", "ok"),
        ("file.delete", "ok"),
        ("auth.logout", "ok"),
    ]
    .iter()
    .map(|(a, b)| (a.to_string(), b.to_string()))
    .collect();
    assert_eq!(got, want);
}

// Findings of the independent attack testing (issue 14), one module per area.
mod audit_flood;
mod connections;
mod limits;
mod logins;
mod quotas;
mod stored_files;
