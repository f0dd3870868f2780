//! `GET /api/admin/stats`: the dashboard's figures move with real traffic, and need the token.

use crate::common::TestServer;
use reqwest::multipart::{Form, Part};
use serde_json::Value;

async fn stats(s: &TestServer) -> Value {
    let (st, v) = s.get("/api/admin/stats").await;
    assert_eq!(st, 200, "{v}");
    v
}

fn n(v: &Value, path: &[&str]) -> f64 {
    let mut cur = v;
    for p in path {
        cur = &cur[*p];
    }
    cur.as_f64().unwrap_or_else(|| panic!("{path:?} is not a number in {v}"))
}

#[tokio::test]
async fn figures_follow_the_requests_made() {
    let s = TestServer::start().await;
    let before = stats(&s).await;
    for _ in 0..20 {
        assert_eq!(s.get("/api/sessions").await.0, 200);
    }
    for _ in 0..3 {
        assert_eq!(s.get("/api/no-such-route").await.0, 404);
    }
    s.create("dash", "javascript").await;
    let v = stats(&s).await;
    // The 23 requests above, the two of `create`, and the first stats call are all finished.
    let sent = 20.0 + 3.0 + 2.0 + 1.0;
    let total = n(&v, &["requests", "total"]);
    assert!(total - n(&before, &["requests", "total"]) >= sent, "{v}");
    assert!(n(&v, &["requests", "last60s"]) >= sent, "{v}");
    // Everything happened within ten seconds of start: both rates are positive.
    assert!(n(&v, &["requests", "perSecond10s"]) > 0.0, "{v}");
    assert!(n(&v, &["requests", "perSecond60s"]) > 0.0, "{v}");
    assert!(n(&v, &["errors", "clientLast60s"]) >= 3.0, "{v}");
    assert!(n(&v, &["errors", "clientTotal"]) >= 3.0, "{v}");
    // None of these failed on the server (start-up `/ready` polls may have seen a 503 before).
    assert_eq!(n(&v, &["errors", "serverTotal"]), n(&before, &["errors", "serverTotal"]), "{v}");
    let (p50, p95, p99) =
        (n(&v, &["latencyMs", "p50"]), n(&v, &["latencyMs", "p95"]), n(&v, &["latencyMs", "p99"]));
    assert!(0.0 < p50 && p50 <= p95 && p95 <= p99 && p99 <= n(&v, &["latencyMs", "max"]), "{v}");
    assert_eq!(v["series"]["requests"].as_array().unwrap().len(), 60);
    assert_eq!(v["series"]["p95Ms"].as_array().unwrap().len(), 60);
    assert_eq!(n(&v, &["storage", "notebooks"]), 1.0, "{v}");
    assert_eq!(n(&v, &["storage", "files"]), 0.0, "{v}");
    assert!(n(&v, &["storage", "diskFreeBytes"]) > 0.0, "{v}");
    assert!(n(&v, &["process", "rssBytes"]) > 1e6, "{v}");
    assert!(n(&v, &["process", "openFds"]) > 0.0, "{v}");
    assert_eq!(n(&v, &["runtime", "activeRuns"]), 0.0, "{v}");
    assert_eq!(n(&v, &["runtime", "languageServices"]), 0.0, "{v}");
}

#[tokio::test]
async fn storage_and_websocket_figures_are_live() {
    let s = TestServer::start().await;
    let mut ws = s.ws().await;
    // A reply proves the connection's task runs (and so is counted) on the server.
    ws.send_raw("not json").await;
    assert_eq!(ws.recv().await.1, "error");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let part = Part::bytes(data).file_name("a.bin").mime_str("application/octet-stream").unwrap();
    let r = s.http.post(s.url("/files")).multipart(Form::new().part("file", part)).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.text().await.unwrap());
    let v = stats(&s).await;
    assert_eq!(n(&v, &["websocket", "connections"]), 1.0, "{v}");
    assert_eq!(n(&v, &["storage", "files"]), 1.0, "{v}");
    assert_eq!(n(&v, &["storage", "fileBytes"]), 100_000.0, "{v}");
    assert!(n(&v, &["storage", "chunks"]) >= 1.0, "{v}");
    assert!(n(&v, &["storage", "chunkBytes"]) > 0.0, "{v}");
    drop(ws);
    // Closing is counted too (the server notices the close asynchronously: wait for it).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while n(&stats(&s).await, &["websocket", "connections"]) != 0.0 {
        assert!(std::time::Instant::now() < deadline, "the closed connection is still counted");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn stats_need_the_token() {
    let s = TestServer::start().await;
    let r = reqwest::get(s.url("/api/admin/stats")).await.unwrap();
    assert_eq!(r.status(), 401);
    let v: Value = r.json().await.unwrap();
    assert_eq!(v["code"], "unauthorized");
    let r = reqwest::Client::new()
        .get(s.url("/api/admin/stats"))
        .header("authorization", "Bearer not-the-token-at-all")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The refused requests still count as client errors.
    let v = stats(&s).await;
    assert!(n(&v, &["errors", "clientTotal"]) >= 2.0, "{v}");
}

#[tokio::test]
async fn rate_limited_requests_are_counted_as_client_errors() {
    let s = TestServer::start_configured(|c| {
        c.rate_limit_rps = 5;
        c.language.enabled = false;
        c.disk_low_bytes = 0;
    })
    .await;
    let mut refused = 0;
    for _ in 0..30 {
        let st = s.http.get(s.url("/api/sessions")).send().await.unwrap().status();
        refused += usize::from(st == 429);
    }
    assert!(refused > 0, "the burst was not limited");
    // The stats call is limited too: wait for the bucket to refill as Retry-After says.
    let mut tries = 0;
    let v = loop {
        let r = s.http.get(s.url("/api/admin/stats")).send().await.unwrap();
        tries += 1;
        if r.status() == 429 && tries < 50 {
            tokio::time::sleep(std::time::Duration::from_millis(200)).await;
            continue;
        }
        assert_eq!(r.status(), 200);
        break r.json::<Value>().await.unwrap();
    };
    assert!(n(&v, &["errors", "clientTotal"]) >= refused as f64, "{refused} refused: {v}");
    assert!(n(&v, &["requests", "total"]) >= 30.0, "{v}");
}
