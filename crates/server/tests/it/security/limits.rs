//! Bounded resources an attacker can name: metric labels, subscription capabilities, package specs,
//! cell filenames.

use crate::common::TestServer;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

#[tokio::test]
async fn invented_http_methods_share_one_metrics_label() {
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.rate_limit_rps = 0;
    })
    .await;
    for i in 0..200 {
        let mut sock = tokio::net::TcpStream::connect(s.addr).await.unwrap();
        let req = format!("M{i}X /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
        sock.write_all(req.as_bytes()).await.unwrap();
        let mut out = Vec::new();
        sock.read_to_end(&mut out).await.unwrap();
    }
    let text = s.http.get(s.url("/metrics")).send().await.unwrap().text().await.unwrap();
    let mut methods: Vec<&str> = text
        .lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.split("method=\"").nth(1)?.split('"').next())
        .collect();
    methods.sort();
    methods.dedup();
    assert!(methods.contains(&"other"), "{methods:?}");
    assert!(methods.len() <= 8, "{methods:?}");
    s.stop().await;
}

#[tokio::test]
async fn subscribe_capabilities_are_bounded() {
    let s = TestServer::start().await;
    let id = s.create("Caps", "javascript").await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    // 40 frames of long invented capabilities held hundreds of MiB.
    let long: Vec<String> = (0..30).map(|i| format!("{i}{}", "c".repeat(100_000))).collect();
    ws.send(&topic, "subscribe", serde_json::json!({"id": "s2", "capabilities": long})).await;
    let p = ws.recv_event("error").await;
    assert_eq!(p["code"], "invalid_payload", "{p}");
    let many: Vec<String> = (0..100).map(|i| format!("cap{i}")).collect();
    ws.send(&topic, "subscribe", serde_json::json!({"id": "s3", "capabilities": many})).await;
    assert_eq!(ws.recv_event("error").await["code"], "invalid_payload");
    // Announcing the same ones again is fine.
    ws.send(&topic, "subscribe", serde_json::json!({"id": "s4", "capabilities": ["errors", "cells"]})).await;
    assert_eq!(ws.recv_event("subscribed").await["id"], "s4");
    s.stop().await;
}

#[tokio::test]
async fn installs_take_registry_packages_only() {
    let s = TestServer::start_node().await;
    let id = s.create("Deps", "javascript").await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors"]).await;
    for spec in ["file:/etc", "file:../..", "git+file:///tmp/x", "http://127.0.0.1:1/x.tgz", "user/repo"] {
        ws.send(&topic, "deps:install", serde_json::json!({"packages": [spec]})).await;
        let p = ws.recv_event("error").await;
        assert_eq!(p["code"], "package_source_refused", "{spec}: {p}");
    }
    // package.json itself can name a local path: `npm install` with no names is refused too.
    let pkg = std::fs::read_to_string(s.notebook_dir(&id).join("package.json")).unwrap();
    let mut v: serde_json::Value = serde_json::from_str(&pkg).unwrap();
    v["dependencies"] = serde_json::json!({"evil": "file:/etc"});
    let nb = s.session(&id).await;
    let pkg_cell =
        nb["cells"].as_array().unwrap().iter().find(|c| c["type"] == "package.json").unwrap().clone();
    let text = serde_json::to_string_pretty(&v).unwrap();
    ws.send(
        &topic,
        "cell:update",
        serde_json::json!({"cellId": pkg_cell["id"], "updates": {"source": text}}),
    )
    .await;
    ws.send(&topic, "deps:install", serde_json::json!({})).await;
    let p = ws.recv_event("error").await;
    assert_eq!(p["code"], "package_source_refused", "{p}");
    s.stop().await;
}

#[tokio::test]
async fn long_cell_filenames_are_a_clear_400() {
    let s = TestServer::start().await;
    let id = s.create("Names", "javascript").await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    for n in [201, 250, 300] {
        let name = format!("{}.js", "a".repeat(n - 3));
        let cell = serde_json::json!({"id": format!("c{n}"), "type": "code", "source": "1", "language": "javascript", "filename": name});
        ws.send(&topic, "cell:create", serde_json::json!({"index": 2, "cell": cell})).await;
        let p = ws.recv_event("error").await;
        assert_eq!(p["code"], "invalid_filename", "{n}: {p}");
    }
    let name = format!("{}.js", "b".repeat(197));
    let cell = serde_json::json!({"id": "ok", "type": "code", "source": "1", "language": "javascript", "filename": name});
    ws.send(&topic, "cell:create", serde_json::json!({"index": 2, "cell": cell})).await;
    ws.recv_event("cell:created").await;
    s.stop().await;
}
