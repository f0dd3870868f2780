//! Unauthenticated disk fill through the audit log: refused requests become one row per IP and
//! minute with a count, no stored field is unbounded, and a good `?token=` WebSocket is no failure.

use crate::common::{TOKEN, TestServer};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

fn db_bytes(dir: &std::path::Path) -> u64 {
    ["quire.db", "quire.db-wal"]
        .iter()
        .map(|f| std::fs::metadata(dir.join(f)).map(|m| m.len()).unwrap_or(0))
        .sum()
}

#[tokio::test]
async fn two_thousand_refused_long_paths_add_one_bounded_row_with_a_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.rate_limit_rps = 0; // the worst case: nothing in front of the audit log
    config.language.enabled = false;
    let s = TestServer::start_with(config.clone()).await;
    let before = db_bytes(tmp.path());
    let long = format!("/api/{}", "a".repeat(60_000));
    let anon = reqwest::Client::new();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..8 {
        let (anon, url) = (anon.clone(), s.url(&long));
        tasks.spawn(async move {
            for _ in 0..250 {
                assert_eq!(anon.get(&url).send().await.unwrap().status(), 401);
            }
        });
    }
    while let Some(r) = tasks.join_next().await {
        r.unwrap();
    }
    let grown = db_bytes(tmp.path()).saturating_sub(before);
    assert!(grown < 512 << 10, "2000 refused requests grew quire.db by {grown} bytes");
    // Counts are written when the minute ends or the server stops.
    let (dir, tmp) = s.stop().await;
    let s = TestServer::start_with(quire_server::Config { data_dir: dir.into(), ..config }).await;
    let (_, v) = s.get("/api/audit?limit=1000").await;
    let failures: Vec<&serde_json::Value> =
        v["result"].as_array().unwrap().iter().filter(|e| e["action"] == "auth.failure").collect();
    assert!((1..=3).contains(&failures.len()), "one row per minute: {}", failures.len());
    let total: u64 = failures.iter().map(|e| e["count"].as_u64().unwrap()).sum();
    assert_eq!(total, 2000);
    for e in failures {
        assert!(e["target"].as_str().unwrap().len() < 300, "the stored path is cut");
    }
    drop(tmp);
}

#[tokio::test]
async fn a_websocket_opened_with_the_link_token_is_not_a_failure() {
    let s = TestServer::start().await;
    let req = format!("ws://{}/websocket?token={TOKEN}", s.addr).into_client_request().unwrap();
    let (ws, resp) = tokio_tungstenite::connect_async(req).await.unwrap();
    assert_eq!(resp.status(), 101);
    drop(ws);
    let (_, v) = s.get("/api/audit?limit=50").await;
    let actions: Vec<&str> =
        v["result"].as_array().unwrap().iter().map(|e| e["action"].as_str().unwrap()).collect();
    assert!(!actions.contains(&"auth.failure"), "{actions:?}");
    s.stop().await;
}

#[tokio::test]
async fn retention_keeps_the_table_within_its_row_count() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.language.enabled = false;
    config.audit_max_rows = 3;
    let s = TestServer::start_with(config.clone()).await;
    for i in 0..6 {
        s.post("/api/settings", serde_json::json!({"aiModel": format!("m{i}")})).await;
    }
    let (dir, tmp) = s.stop().await;
    // Retention runs at start, then hourly.
    let s = TestServer::start_with(quire_server::Config { data_dir: dir.into(), ..config }).await;
    let mut rows = usize::MAX;
    for _ in 0..200 {
        let (_, v) = s.get("/api/audit?limit=100").await;
        rows = v["result"].as_array().unwrap().len();
        if rows <= 3 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    assert!(rows <= 3, "{rows} rows kept");
    drop(tmp);
}
