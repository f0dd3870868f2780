//! WebSocket: edits from one connection are persisted and broadcast to a second one; restarts keep them.

use crate::common::{TestServer, Ws};
use futures_util::StreamExt;
use serde_json::{Value, json};

fn code_cell(id: &str, filename: &str, source: &str, lang: &str) -> Value {
    json!({"id": id, "type": "code", "source": source, "language": lang, "filename": filename, "status": "idle"})
}

async fn pair(s: &TestServer, id: &str) -> (Ws, Ws) {
    let mut a = s.ws().await;
    let mut b = s.ws().await;
    a.subscribe(id, &["errors", "cells"]).await;
    b.subscribe(id, &["errors", "cells"]).await;
    (a, b)
}

#[tokio::test]
async fn edits_broadcast_persist_and_survive_restart() {
    let s = TestServer::start().await;
    let id = s.create("Live", "typescript").await;
    let topic = format!("session:{id}");
    let (mut a, mut b) = pair(&s, &id).await;

    // create
    a.send(
        &topic,
        "cell:create",
        json!({"index": 2, "cell": code_cell("c1", "util.ts", "export const x = 1;\n", "typescript")}),
    )
    .await;
    let p = b.recv_event("cell:created").await;
    assert_eq!(p["index"], 2);
    assert_eq!(p["cell"]["filename"], "util.ts");
    let md = json!({"id": "m1", "type": "markdown", "text": "Some *notes*"});
    a.send(&topic, "cell:create", json!({"index": 2, "cell": md})).await;
    assert_eq!(b.recv_event("cell:created").await["cell"]["id"], "m1");

    // update code and markdown
    a.send(&topic, "cell:update", json!({"cellId": "c1", "updates": {"source": "export const x = 2;\n"}}))
        .await;
    let p = b.recv_event("cell:updated").await;
    assert_eq!(p["cell"]["source"], "export const x = 2;\n");
    a.send(&topic, "cell:update", json!({"cellId": "m1", "updates": {"text": "Para one\n\n\n\nPara two  "}}))
        .await;
    // Stored in the form the decoder reads back, echoed to every client including the sender.
    assert_eq!(b.recv_event("cell:updated").await["cell"]["text"], "Para one\n\nPara two");
    assert_eq!(a.recv_event("cell:updated").await["cell"]["text"], "Para one\n\nPara two");

    // rename
    a.send(&topic, "cell:rename", json!({"cellId": "c1", "filename": "lib.ts"})).await;
    assert_eq!(b.recv_event("cell:updated").await["cell"]["filename"], "lib.ts");
    let dir = s.notebook_dir(&id);
    assert!(dir.join("src/lib.ts").exists() && !dir.join("src/util.ts").exists());
    assert_eq!(std::fs::read_to_string(dir.join("src/lib.ts")).unwrap(), "export const x = 2;\n");

    // another code cell, then move it to the front and delete the markdown
    a.send(
        &topic,
        "cell:create",
        json!({"index": 99, "cell": code_cell("c2", "main.ts", "import './lib.ts';\n", "typescript")}),
    )
    .await;
    assert_eq!(b.recv_event("cell:created").await["index"], 4);
    a.send(&topic, "cell:move", json!({"cellId": "c2", "index": 2})).await;
    assert_eq!(b.recv_event("cell:moved").await, json!({"cellId": "c2", "index": 2}));
    a.send(&topic, "cell:delete", json!({"cellId": "m1"})).await;
    assert_eq!(b.recv_event("cell:deleted").await, json!({"cellId": "m1"}));

    // title and tsconfig
    a.send(
        &topic,
        "cell:update",
        json!({"cellId": s.session(&id).await["cells"][0]["id"], "updates": {"text": "Renamed book"}}),
    )
    .await;
    assert_eq!(b.recv_event("cell:updated").await["cell"]["text"], "Renamed book");
    let tsconfig = r#"{"compilerOptions":{"strict":false}}"#;
    a.send(&topic, "tsconfig.json:update", json!({"source": tsconfig})).await;
    assert_eq!(b.recv_event("tsconfig.json:updated").await["source"], tsconfig);
    assert_eq!(a.recv_event("tsconfig.json:updated").await["source"], tsconfig);

    let before = s.session(&id).await;
    let names: Vec<&str> =
        before["cells"].as_array().unwrap().iter().map(|c| c["type"].as_str().unwrap()).collect();
    assert_eq!(names, ["title", "package.json", "code", "code"]);
    assert_eq!(before["cells"][2]["filename"], "main.ts");

    drop((a, b));
    let (data, tmp) = s.stop().await;
    let s = TestServer::start_with(quire_server::Config::new(data, crate::common::TOKEN.into())).await;
    let after = s.session(&id).await;
    let strip = |v: &Value| -> Vec<Value> {
        v["cells"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                let mut c = c.clone();
                c.as_object_mut().unwrap().remove("id");
                c
            })
            .collect()
    };
    assert_eq!(strip(&after), strip(&before));
    assert_eq!(after["tsconfig.json"], tsconfig);
    assert!(s.notebook_dir(&id).join("README.md").exists());
    s.assert_no_node();
    s.stop().await;
    drop(tmp);
}

#[tokio::test]
async fn refused_edits_answer_the_sender_only() {
    let s = TestServer::start().await;
    let id = s.create("Strict", "javascript").await;
    let topic = format!("session:{id}");
    let (mut a, mut b) = pair(&s, &id).await;
    a.send(&topic, "cell:create", json!({"index": 2, "cell": code_cell("c1", "a.js", "1", "javascript")}))
        .await;
    b.recv_event("cell:created").await;
    a.recv_event("cell:created").await;

    // Wrong extension for the notebook language: Srcbook's message and attribute, plus a rollback.
    a.send(&topic, "cell:rename", json!({"cellId": "c1", "filename": "b.ts", "requestId": "r1"})).await;
    let (_, e, p) = a.recv().await;
    assert_eq!(e, "error");
    assert_eq!(p["code"], "invalid_filename");
    assert_eq!(p["requestId"], "r1");
    let p = a.recv_event("cell:error").await;
    assert_eq!(p["errors"][0]["message"], "File must have one of the following extensions: js,cjs,mjs");
    assert_eq!(p["errors"][0]["attribute"], "filename");
    assert_eq!(a.recv_event("cell:updated").await["cell"]["filename"], "a.js");

    // Markdown holding an h1 cannot be stored.
    a.send(
        &topic,
        "cell:create",
        json!({"index": 2, "cell": {"id": "m", "type": "markdown", "text": "ok\n\n# Heading"}}),
    )
    .await;
    let (_, e, p) = a.recv().await;
    assert_eq!((e.as_str(), p["code"].as_str()), ("error", Some("invalid_markdown")), "{p}");

    // Unknown cell, duplicate filename, a title that is too long.
    a.send(&topic, "cell:delete", json!({"cellId": "nope"})).await;
    assert_eq!(a.recv_event("error").await["code"], "cell_not_found");
    a.send(&topic, "cell:create", json!({"index": 2, "cell": code_cell("c2", "a.js", "", "javascript")}))
        .await;
    assert_eq!(a.recv_event("error").await["code"], "already_exists");
    let title = s.session(&id).await["cells"][0]["id"].clone();
    a.send(&topic, "cell:update", json!({"cellId": title, "updates": {"text": "x".repeat(45)}})).await;
    assert_eq!(a.recv_event("error").await["message"], "Title must be 44 characters or fewer");
    b.expect_silence().await;
    s.assert_no_node();
    s.stop().await;
}

#[tokio::test]
async fn stock_client_without_capabilities_gets_only_known_events() {
    let s = TestServer::start().await;
    let id = s.create("Stock", "javascript").await;
    let topic = format!("session:{id}");
    let mut stock = s.ws().await;
    stock.subscribe(&id, &[]).await;
    let mut other = s.ws().await;
    other.subscribe(&id, &["cells"]).await;
    // A create is announced only to clients that understand cell:created.
    other
        .send(&topic, "cell:create", json!({"index": 2, "cell": code_cell("c1", "a.js", "", "javascript")}))
        .await;
    other.recv_event("cell:created").await;
    // A refused request is logged, not sent to a client that did not ask for errors.
    stock.send(&topic, "cell:rename", json!({"cellId": "c1", "filename": "../x.js"})).await;
    let p = stock.recv_event("cell:error").await;
    assert_eq!(p["errors"][0]["message"], "../x.js is not a valid filename");
    assert_eq!(stock.recv_event("cell:updated").await["cell"]["filename"], "a.js");
    // A run: the stock client sees running, then idle, and only event names it knows.
    stock.send(&topic, "cell:exec", json!({"cellId": "c1"})).await;
    let (_, e, p) = stock.recv().await;
    assert_eq!((e.as_str(), p["cell"]["status"].as_str()), ("cell:updated", Some("running")));
    // Srcbook's dependency nudge (a known event) may come in between.
    let (e, p) = loop {
        let (_, e, p) = stock.recv().await;
        if e != "deps:validate:response" {
            break (e, p);
        }
    };
    assert_eq!((e.as_str(), p["cell"]["status"].as_str()), ("cell:updated", Some("idle")), "{p}");
    assert_eq!(p["exitCode"], 0);
    stock.send(&topic, "tsserver:start", json!({})).await;
    while let Ok(Some(Ok(m))) =
        tokio::time::timeout(std::time::Duration::from_millis(150), stock.stream.next()).await
    {
        assert!(m.to_string().contains("deps:validate:response"), "unexpected frame: {m}");
    }
    // Other tabs see the update of a known cell.
    stock.send(&topic, "cell:update", json!({"cellId": "c1", "updates": {"source": "console.log(1)"}})).await;
    // (The other tab also saw the run's status changes first.)
    while other.recv_event("cell:updated").await["cell"]["source"] != "console.log(1)" {}
    stock.expect_silence().await;
    s.assert_no_node();
    s.stop().await;
}

#[tokio::test]
async fn ai_events_without_ai_set_up_answer_clearly_with_errors_capability() {
    let s = TestServer::start().await;
    let id = s.create("Later", "typescript").await;
    let topic = format!("session:{id}");
    let mut a = s.ws().await;
    a.subscribe(&id, &["errors"]).await;
    a.send(&topic, "ai:generate", json!({"requestId": "g", "cellId": "c", "prompt": "x"})).await;
    let p = a.recv_event("error").await;
    assert_eq!((p["code"].as_str(), p["requestId"].as_str()), (Some("ai_not_configured"), Some("g")), "{p}");
    a.send(&topic, "ai:fix_diagnostics", json!({"requestId": "f"})).await;
    let p = a.recv_event("error").await;
    assert_eq!((p["code"].as_str(), p["requestId"].as_str()), (Some("invalid_payload"), Some("f")), "{p}");
    // Subscribing to a notebook that does not exist is refused.
    a.send(&format!("session:{}", srcmd::new_cell_id()), "subscribe", json!({"id": "x"})).await;
    assert_eq!(a.recv_event("error").await["code"], "notebook_not_found");
    s.assert_no_node();
    s.stop().await;
}

#[tokio::test]
async fn an_unresponsive_peer_is_dropped_after_three_heartbeats() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), crate::common::TOKEN.into());
    // Generous against a loaded CI machine: `live` must not miss a 750 ms window.
    config.ws_heartbeat = std::time::Duration::from_millis(250);
    let s = TestServer::start_with(config).await;
    let id = s.create("Beat", "javascript").await;
    let mut live = s.ws().await;
    live.subscribe(&id, &[]).await;
    let mut dead = s.ws().await;
    dead.subscribe(&id, &[]).await;
    // `live` keeps reading (tungstenite answers pings as it reads); `dead` reads nothing for a while.
    let t = std::time::Instant::now();
    while t.elapsed() < std::time::Duration::from_millis(1500) {
        let _ = tokio::time::timeout(std::time::Duration::from_millis(20), live.stream.next()).await;
    }
    // The server has given up on `dead`: after its queued pings, the stream ends.
    let ended = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match dead.stream.next().await {
                None | Some(Err(_)) => return true,
                Some(Ok(m)) if m.is_close() => return true,
                Some(Ok(_)) => {}
            }
        }
    })
    .await;
    assert!(ended.unwrap_or(false), "the unresponsive connection must be closed");
    // The responsive one is still served.
    live.send(&format!("session:{id}"), "subscribe", serde_json::json!({"id": "again"})).await;
    assert_eq!(live.recv_event("subscribed").await["id"], "again");
    drop(tmp);
}

#[tokio::test]
async fn shutdown_tells_websocket_clients() {
    let s = TestServer::start().await;
    let id = s.create("Bye", "javascript").await;
    let mut ws = s.ws().await;
    ws.subscribe(&id, &[]).await;
    let (_dir, _tmp) = s.stop().await;
    let close = tokio::time::timeout(std::time::Duration::from_secs(5), async {
        loop {
            match ws.stream.next().await {
                Some(Ok(tokio_tungstenite::tungstenite::Message::Close(f))) => {
                    return f.map(|f| u16::from(f.code));
                }
                Some(Ok(_)) => {}
                _ => return None,
            }
        }
    })
    .await
    .unwrap();
    assert_eq!(close, Some(1001));
}
