//! The user's MCP servers through the real server: added, listed with their tools and removed over
//! `/api/mcp` (secret values sealed on disk and never sent back), and the approval gate on every path
//! that can call a tool — a direct REST call and the AI's tool calls — with a server that logs each
//! call it receives, so "never executed" is checked at the server's end.

use crate::common::{TestServer, Ws};
use quire_ai::mock::{MockLlm, MockOptions, Reply, StreamScript};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::Duration;

const SECRET: &str = "s3cret-value-never-shown";

fn script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/mcp-sum.mjs")
}

async fn put(s: &TestServer, path: &str, body: Value) -> (u16, Value) {
    let r = s.http.put(s.url(path)).json(&body).send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

async fn delete(s: &TestServer, path: &str, body: Option<Value>) -> (u16, Value) {
    let mut req = s.http.delete(s.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap_or(Value::Null))
}

/// The `sum` server added over the API; its calls are logged to the returned file.
async fn add_sum_server(s: &TestServer) -> PathBuf {
    let log = s.data_dir.join("sum-calls.log");
    let body = json!({"command": "node", "args": [script(), log], "env": {"SECRET_TOKEN": SECRET}});
    let (status, view) = put(s, "/api/mcp/servers/sum", body).await;
    assert_eq!(status, 200, "{view}");
    log
}

fn calls_received(log: &Path) -> usize {
    std::fs::read_to_string(log).map(|t| t.lines().count()).unwrap_or(0)
}

async fn approval_for(ws: &mut Ws, tool: &str) -> Value {
    let p = ws.recv_event("mcp:approval").await;
    assert_eq!(p["tool"], tool, "{p}");
    p
}

#[tokio::test]
async fn servers_are_added_listed_with_their_tools_edited_without_their_secrets_and_removed() {
    let s = TestServer::start().await;
    let (_, list) = s.get("/api/mcp/servers").await;
    assert_eq!(list["result"]["servers"], json!([]));
    add_sum_server(&s).await;

    let (status, view) = s.post("/api/mcp/servers/sum/reconnect", json!({})).await;
    assert_eq!(status, 200, "{view}");
    let v = &view["result"];
    assert_eq!((v["state"].as_str(), v["transport"].as_str()), (Some("ready"), Some("stdio")), "{v}");
    assert_eq!(v["serverInfo"]["name"], "sum");
    let tools: Vec<&str> =
        v["tools"].as_array().unwrap().iter().map(|t| t["name"].as_str().unwrap()).collect();
    assert_eq!(tools, ["add", "secret"]);
    assert_eq!(v["envKeys"], json!(["SECRET_TOKEN"]));

    // The secret is sealed on disk and never sent back.
    let (_, list) = s.get("/api/mcp/servers").await;
    assert!(!list.to_string().contains(SECRET));
    let on_disk = std::fs::read_to_string(s.data_dir.join("mcp.json")).unwrap();
    assert!(!on_disk.contains(SECRET), "{on_disk}");
    assert!(on_disk.contains("\"SECRET_TOKEN\": \"x1."), "{on_disk}");

    // Editing with `null` keeps the stored value: the server still gets it.
    let log = s.data_dir.join("sum-calls.log");
    let (status, body) = put(
        &s,
        "/api/mcp/servers/sum",
        json!({"command": "node", "args": [script(), log], "env": {"SECRET_TOKEN": null}}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    let rule = json!({"server": "sum", "tool": "secret"});
    crate::mcp_client::allow(&s, &rule).await;
    let (status, out) = s.post("/api/mcp/servers/sum/tools/secret/call", json!({})).await;
    assert_eq!(status, 200, "{out}");
    assert_eq!(out["result"]["content"][0]["text"], SECRET);

    // A wrong field is named.
    let (status, body) = put(&s, "/api/mcp/servers/bad", json!({"command": ""})).await;
    assert_eq!((status, body["code"].as_str()), (400, Some("mcp_config_invalid")), "{body}");
    assert_eq!(body["context"]["attribute"], "mcpServers.bad.command", "{body}");
    let (status, body) = put(&s, "/api/mcp/servers/web", json!({"url": "ftp://example.com"})).await;
    assert_eq!(status, 400, "{body}");

    // A pasted Claude Desktop config adds its servers beside the others.
    let (status, body) = s
        .post("/api/mcp/config", json!({"mcpServers": {"remote": {"url": "http://127.0.0.1:9/mcp", "headers": {"Authorization": "Bearer t0ken"}}}}))
        .await;
    assert_eq!(status, 200, "{body}");
    let names: Vec<&str> =
        body["result"]["servers"].as_array().unwrap().iter().map(|v| v["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["remote", "sum"]);
    assert!(!body.to_string().contains("t0ken"));
    // Unreachable: failed, with the reason.
    let (_, view) = s.post("/api/mcp/servers/remote/reconnect", json!({})).await;
    assert_eq!(view["result"]["state"], "failed", "{view}");
    assert!(!view["result"]["error"].as_str().unwrap().is_empty());

    let (status, _) = delete(&s, "/api/mcp/servers/remote", None).await;
    assert_eq!(status, 200);
    let (status, body) = delete(&s, "/api/mcp/servers/remote", None).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("mcp_unknown_server")));
    let (_, audit) = s.get("/api/audit").await;
    let actions = audit.to_string();
    assert!(actions.contains("mcp.server.set") && actions.contains("mcp.server.delete"), "{audit}");
}

/// An allow rule for `rule`, made the way a user makes one: approve a call with "always".
pub async fn allow(s: &TestServer, rule: &Value) {
    let (server, tool) = (rule["server"].as_str().unwrap(), rule["tool"].as_str().unwrap());
    let nb = s.create("Rules", "javascript").await;
    let mut ws = s.ws().await;
    ws.subscribe(&nb, &["mcp"]).await;
    let path = format!("/api/mcp/servers/{server}/tools/{tool}/call");
    let (http, url) = (s.http.clone(), s.url(&path));
    let call =
        tokio::spawn(async move { http.post(url).json(&json!({"notebookId": nb})).send().await.unwrap() });
    let p = approval_for(&mut ws, tool).await;
    ws.send(
        &format!("session:{}", p["notebookId"].as_str().unwrap()),
        "mcp:approve",
        json!({"id": p["id"], "decision": "allow", "always": true}),
    )
    .await;
    assert_eq!(call.await.unwrap().status(), 200);
}

#[tokio::test]
async fn a_rest_call_runs_only_after_a_browser_tab_approves_it() {
    let s = TestServer::start().await;
    let log = add_sum_server(&s).await;
    let args = json!({"a": 2, "b": 3});

    // Nobody to ask: refused at once, and the server never saw the call.
    let (status, body) = s.post("/api/mcp/servers/sum/tools/add/call", json!({"arguments": args})).await;
    assert_eq!((status, body["code"].as_str()), (403, Some("mcp_approval_no_client")), "{body}");
    assert_eq!(calls_received(&log), 0);

    let nb = s.create("Gate", "javascript").await;
    let topic = format!("session:{nb}");
    let mut ws = s.ws().await;
    ws.subscribe(&nb, &["mcp"]).await;
    // A tab without the capability cannot answer, so it does not count.
    let mut stock = s.ws().await;
    stock.subscribe(&nb, &["errors"]).await;

    let call = |body: Value| {
        let (http, url) = (s.http.clone(), s.url("/api/mcp/servers/sum/tools/add/call"));
        tokio::spawn(async move {
            let r = http.post(url).json(&body).send().await.unwrap();
            (r.status().as_u16(), r.json::<Value>().await.unwrap())
        })
    };

    // Denied: the caller hears why, the server never saw it.
    let pending = call(json!({"arguments": args, "notebookId": nb}));
    let p = approval_for(&mut ws, "add").await;
    assert_eq!(
        (p["server"].as_str(), &p["arguments"], p["source"].as_str()),
        (Some("sum"), &args, Some("rest"))
    );
    assert!(p["expiresAt"].as_i64().unwrap() > 0);
    let (_, listed) = s.get("/api/mcp/approvals").await;
    assert_eq!(listed["result"][0]["id"], p["id"]);
    ws.send(&topic, "mcp:approve", json!({"id": p["id"], "decision": "deny"})).await;
    let (status, body) = pending.await.unwrap();
    assert_eq!((status, body["code"].as_str()), (403, Some("mcp_approval_denied")), "{body}");
    let resolved = ws.recv_event("mcp:approval:resolved").await;
    assert_eq!((resolved["id"].clone(), resolved["outcome"].as_str()), (p["id"].clone(), Some("denied")));
    assert_eq!(calls_received(&log), 0);

    // Allowed once: it runs, and the next call asks again.
    let pending = call(json!({"arguments": args, "notebookId": nb}));
    let p = approval_for(&mut ws, "add").await;
    ws.send(&topic, "mcp:approve", json!({"id": p["id"], "decision": "allow"})).await;
    let (status, body) = pending.await.unwrap();
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"]["content"][0]["text"], "The sum of 2 and 3 is 5.");
    assert_eq!(body["result"]["structuredContent"], json!({"sum": 5}));
    assert_eq!(calls_received(&log), 1);

    // Answered over HTTP, "always": a rule, after which no one is asked.
    let pending = call(json!({"arguments": args, "notebookId": nb}));
    let p = approval_for(&mut ws, "add").await;
    let (status, _) = s
        .post(
            &format!("/api/mcp/approvals/{}", p["id"].as_str().unwrap()),
            json!({"decision": "allow", "always": true}),
        )
        .await;
    assert_eq!(status, 200);
    assert_eq!(pending.await.unwrap().0, 200);
    let (status, body) = s.post("/api/mcp/servers/sum/tools/add/call", json!({"arguments": args})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(calls_received(&log), 3);
    let (_, list) = s.get("/api/mcp/servers").await;
    assert_eq!(list["result"]["rules"], json!([{"server": "sum", "tool": "add"}]));
    let (status, _) = delete(&s, "/api/mcp/rules", Some(json!({"server": "sum", "tool": "add"}))).await;
    assert_eq!(status, 200);
    drop(ws);
    // The rule is gone and the tab closed: refused again, not run.
    let (status, _) =
        s.post("/api/mcp/servers/sum/tools/add/call", json!({"arguments": args, "notebookId": nb})).await;
    assert_eq!(status, 403);
    assert_eq!(calls_received(&log), 3);
    stock.expect_silence().await;

    let (status, body) = s.post("/api/mcp/approvals/nope", json!({"decision": "allow"})).await;
    assert_eq!((status, body["code"].as_str()), (404, Some("mcp_approval_unknown")), "{body}");
    let (_, audit) = s.get("/api/audit?action=mcp.tool_call").await;
    assert!(audit.to_string().contains("sum/add"), "{audit}");
}

#[tokio::test]
async fn an_unanswered_approval_times_out_and_the_call_never_runs() {
    let s = TestServer::start_configured(|c| c.mcp_approval_timeout = Duration::from_millis(300)).await;
    let log = add_sum_server(&s).await;
    let nb = s.create("Timeout", "javascript").await;
    let mut ws = s.ws().await;
    ws.subscribe(&nb, &["mcp"]).await;
    let (status, body) = s
        .post("/api/mcp/servers/sum/tools/add/call", json!({"arguments": {"a": 1, "b": 1}, "notebookId": nb}))
        .await;
    assert_eq!((status, body["code"].as_str()), (403, Some("mcp_approval_timeout")), "{body}");
    approval_for(&mut ws, "add").await;
    let resolved = ws.recv_event("mcp:approval:resolved").await;
    assert_eq!(resolved["outcome"], "timeout");
    assert_eq!(calls_received(&log), 0);
}

#[tokio::test]
async fn the_ai_calls_a_tool_once_approved_and_the_result_goes_back_to_the_model() {
    let s = TestServer::start().await;
    let log = add_sum_server(&s).await;
    let mock = MockLlm::start(MockOptions::default()).await;
    let (status, body) = s
        .post(
            "/api/settings",
            json!({"aiProvider": "custom", "aiBaseUrl": mock.base(), "aiModel": "mock-large"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    // The base is probed once (GET /models) before any reply is scripted.
    let (status, _) = s.get("/api/ai/models").await;
    assert_eq!(status, 200);
    mock.push(Reply::Stream(StreamScript::new(["Let me add."]).tool_call(
        "call_1",
        "sum__add",
        json!({"a": 2, "b": 3}),
    )));
    mock.push(Reply::text(["```js\nconsole.log(5);\n```"]));

    let nb = s.create("AI tools", "javascript").await;
    let topic = format!("session:{nb}");
    let mut ws = s.ws().await;
    ws.subscribe(&nb, &["errors", "cells", "ai", "mcp"]).await;
    let cell = json!({"id": "c1", "type": "code", "source": "console.log(1)", "language": "javascript", "filename": "a.js", "status": "idle"});
    ws.send(&topic, "cell:create", json!({"index": 2, "cell": cell})).await;
    ws.send(&topic, "ai:generate", json!({"jobId": "j1", "cellId": "c1", "prompt": "print 2 + 3"})).await;

    let call = ws.recv_event("ai:tool_call").await;
    assert_eq!((call["jobId"].as_str(), call["tool"].as_str()), (Some("j1"), Some("sum__add")), "{call}");
    let p = approval_for(&mut ws, "add").await;
    assert_eq!((p["jobId"].as_str(), p["source"].as_str()), (Some("j1"), Some("ai")), "{p}");
    assert_eq!(calls_received(&log), 0, "nothing runs before the approval");
    ws.send(&topic, "mcp:approve", json!({"id": p["id"], "decision": "allow"})).await;
    let result = ws.recv_event("ai:tool_result").await;
    assert_eq!(result["status"], "done", "{result}");
    assert_eq!(result["result"]["content"][0]["text"], "The sum of 2 and 3 is 5.");
    let done = ws.recv_event("ai:done").await;
    assert_eq!(done["output"], "console.log(5);\n", "{done}");
    assert_eq!(calls_received(&log), 1);

    let chats: Vec<Value> = mock
        .requests()
        .iter()
        .filter(|r| r.path_only().ends_with("/chat/completions"))
        .map(|r| r.json())
        .collect();
    assert_eq!(chats.len(), 2);
    assert_eq!(chats[0]["tools"][0]["function"]["name"], "sum__add");
    let fed: Vec<&Value> =
        chats[1]["messages"].as_array().unwrap().iter().filter(|m| m["role"] == "tool").collect();
    assert!(fed[0]["content"].as_str().unwrap().starts_with("The sum of 2 and 3 is 5."), "{fed:?}");
}
