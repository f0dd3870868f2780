//! No Node process of Quire's outlives it: killed with SIGKILL, stopped with SIGTERM, or a notebook
//! deleted. Checked by pid against the real binary.

use common::{Server, Socket, alive, wait_gone};
use futures_util::SinkExt;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod common;

const TOKEN: &str = "orphan-test-token-0123456789";

fn start() -> (Server, String) {
    start_in(&tempfile::tempdir().unwrap().keep())
}

fn start_in(data: &std::path::Path) -> (Server, String) {
    common::serve(data, TOKEN, &[])
}

async fn next_event(ws: &mut Socket, event: &str) -> Value {
    common::next_event(ws, event, Duration::from_secs(20)).await
}

/// A notebook running a cell that spins forever after starting a `sleep` child; returns the notebook
/// id and the pids of the Node host and of `sleep`.
async fn spinning_cell(addr: &str) -> (String, Vec<u64>, Socket) {
    common::wait_ready(addr).await;
    let http = reqwest::Client::new();
    let auth = format!("Bearer {TOKEN}");
    let post = |path: &str, body: Value| {
        let req = http.post(format!("http://{addr}{path}")).header("authorization", &auth).json(&body);
        async move { req.send().await.unwrap().json::<Value>().await.unwrap() }
    };
    let v = post("/api/srcbooks", json!({"name": "Orphans", "language": "javascript"})).await;
    let v = post("/api/sessions", json!({"path": v["result"]["path"]})).await;
    let id = v["result"]["id"].as_str().unwrap().to_string();
    let mut req = format!("ws://{addr}/websocket").into_client_request().unwrap();
    req.headers_mut().insert("authorization", auth.parse().unwrap());
    let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
    let topic = format!("session:{id}");
    let send = |e: &str, p: Value| Message::Text(json!([topic, e, p]).to_string().into());
    ws.send(send("subscribe", json!({"id": "s", "capabilities": ["cells", "errors"]}))).await.unwrap();
    next_event(&mut ws, "subscribed").await;
    let src = "import { spawn } from 'node:child_process';\n\
               const c = spawn('sleep', ['1000'], { stdio: 'ignore' });\n\
               console.log(JSON.stringify([process.pid, c.pid]));\nwhile (true) {}\n";
    let cell = json!({"id": "spin", "type": "code", "source": src, "language": "javascript", "filename": "spin.js", "status": "idle"});
    ws.send(send("cell:create", json!({"index": 2, "cell": cell}))).await.unwrap();
    next_event(&mut ws, "cell:created").await;
    ws.send(send("cell:exec", json!({"cellId": "spin"}))).await.unwrap();
    let out = next_event(&mut ws, "cell:output").await;
    let pids: Vec<u64> = serde_json::from_str(out["output"]["data"].as_str().unwrap().trim()).unwrap();
    assert!(pids.iter().all(|p| alive(*p)));
    (id, pids, ws)
}

#[tokio::test]
async fn sigkill_of_the_server_leaves_no_node_process() {
    let (mut server, addr) = start();
    let (_, pids, ws) = spinning_cell(&addr).await;
    // Keep the socket open: the run must die because of the server, not because a client left.
    std::mem::forget(ws);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    wait_gone(&pids).await;
}

#[tokio::test]
async fn sigterm_stops_runs_loses_no_acknowledged_edit_and_exits_cleanly() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, addr) = start_in(data.path());
    let (id, pids, mut ws) = spinning_cell(&addr).await;
    // An edit the server acknowledged (`pong` comes once every earlier frame is applied), then SIGTERM.
    let source = "console.log('kept across shutdown');\n";
    let topic = format!("session:{id}");
    let update = json!([topic, "cell:update", {"cellId": "spin", "updates": {"source": source}}]);
    ws.send(Message::Text(update.to_string().into())).await.unwrap();
    let ping = json!([topic, "ping", {"requestId": "saved"}]);
    ws.send(Message::Text(ping.to_string().into())).await.unwrap();
    assert_eq!(next_event(&mut ws, "pong").await["requestId"], "saved");
    Command::new("kill").arg("-TERM").arg(server.0.id().to_string()).status().unwrap();
    let status = server.0.wait().unwrap();
    assert!(status.success(), "{status:?}");
    wait_gone(&pids).await;

    let (mut server, addr) = start_in(data.path());
    common::wait_ready(&addr).await;
    let text = reqwest::Client::new()
        .get(format!("http://{addr}/api/sessions/{id}/export-text"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(text.contains("kept across shutdown"), "{text}");
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}

#[tokio::test]
async fn deleting_a_notebook_stops_its_processes() {
    let (mut server, addr) = start();
    let (id, pids, _ws) = spinning_cell(&addr).await;
    let r = reqwest::Client::new()
        .delete(format!("http://{addr}/api/srcbooks/{id}"))
        .header("authorization", format!("Bearer {TOKEN}"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_gone(&pids).await;
    server.0.kill().unwrap();
    server.0.wait().unwrap();
}
