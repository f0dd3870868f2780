//! `mcp [N]`: a tool call through Quire — client → Quire → a stdio MCP server (Node, the gate tests'
//! `mcp-sum.mjs`) → back — over N calls each:
//! 1. approved by an allow rule (`POST /api/mcp/servers/sum/tools/add/call`): what a call costs;
//! 2. approved by a browser tab (the client answers `mcp:approval` on the WebSocket at once): the
//!    gate's round trip on top;
//! 3. the same server driven by `quire-mcp` in this process (rule-approved): the floor Node and the
//!    stdio pipe set, so 1 − 3 is what the server adds.

use crate::{Server, report, send, start, wait_for};
use anyhow::{Context, bail};
use quire_mcp::{AllowRule, ApprovalRequest, Audience, Gate, GateEvent, McpManager, RuleStore};
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::{Duration, Instant};

const WARMUP: usize = 10;

fn script() -> String {
    concat!(env!("CARGO_MANIFEST_DIR"), "/../server/tests/js/mcp-sum.mjs").to_string()
}

async fn call(s: &Server, body: Value) -> anyhow::Result<Value> {
    let v = s.post("/api/mcp/servers/sum/tools/add/call", body).await?;
    let text = v["result"]["content"][0]["text"].as_str().unwrap_or_default();
    if text != "The sum of 2 and 3 is 5." {
        bail!("unexpected result {v}");
    }
    Ok(v)
}

pub async fn run(n: usize) -> anyhow::Result<()> {
    let s = start().await?;
    let log = s._tmp.as_ref().context("data dir")?.path().join("calls.log");
    let r = s
        .http
        .put(format!("{}/api/mcp/servers/sum", s.base))
        .json(&json!({"command": "node", "args": [script(), log]}))
        .send()
        .await?;
    if !r.status().is_success() {
        bail!("adding the server: {}", r.text().await?);
    }
    let nb = s.post("/api/srcbooks", json!({"name": "MCP bench", "language": "javascript"})).await?;
    let path = nb["result"]["path"].as_str().context("path")?.to_string();
    let id = s.post("/api/sessions", json!({"path": path})).await?["result"]["id"]
        .as_str()
        .context("id")?
        .to_string();
    let topic = format!("session:{id}");
    let mut ws = s.ws(&id).await?;
    send(&mut ws, &topic, "subscribe", json!({"id": "m", "capabilities": ["mcp"]})).await?;
    wait_for(&mut ws, "subscribed").await?;
    let body = json!({"arguments": {"a": 2, "b": 3}, "notebookId": id});

    // 2. Approved by the tab, each call.
    let mut approved = Vec::new();
    for i in 0..WARMUP + n {
        let t = Instant::now();
        let pending = {
            let (http, url, body) =
                (s.http.clone(), format!("{}/api/mcp/servers/sum/tools/add/call", s.base), body.clone());
            tokio::spawn(async move { http.post(url).json(&body).send().await })
        };
        let p = wait_for(&mut ws, "mcp:approval").await?;
        send(&mut ws, &topic, "mcp:approve", json!({"id": p["id"], "decision": "allow"})).await?;
        let r = pending.await??;
        if !r.status().is_success() {
            bail!("approved call failed: {}", r.text().await?);
        }
        if i >= WARMUP {
            approved.push(t.elapsed());
        }
    }
    // An "always" answer makes the rule for part 1.
    let pending = {
        let (http, url, body) =
            (s.http.clone(), format!("{}/api/mcp/servers/sum/tools/add/call", s.base), body.clone());
        tokio::spawn(async move { http.post(url).json(&body).send().await })
    };
    let p = wait_for(&mut ws, "mcp:approval").await?;
    send(&mut ws, &topic, "mcp:approve", json!({"id": p["id"], "decision": "allow", "always": true})).await?;
    pending.await??;

    // 1. By the rule.
    let mut ruled = Vec::new();
    for i in 0..WARMUP + n {
        let t = Instant::now();
        call(&s, body.clone()).await?;
        if i >= WARMUP {
            ruled.push(t.elapsed());
        }
    }

    // 3. The same server, in-process.
    let direct = direct(n, &log).await?;
    println!("tool call `add` on a stdio MCP server (Node 20), {n} calls each:");
    report("HTTP → Quire → stdio server, allow rule", ruled);
    report("… approved by a WebSocket tab each call", approved);
    report("quire-mcp in process (the floor)", direct);
    Ok(())
}

struct Nobody;
impl Audience for Nobody {
    fn has_clients(&self, _: Option<&str>) -> bool {
        false
    }
    fn notify(&self, _: GateEvent) {}
}
struct Always;
impl RuleStore for Always {
    fn rules(&self) -> Vec<AllowRule> {
        vec![AllowRule { server: "sum".into(), tool: "add".into() }]
    }
    fn add(&self, _: AllowRule) {}
    fn remove(&self, _: &AllowRule) {}
}

async fn direct(n: usize, log: &std::path::Path) -> anyhow::Result<Vec<Duration>> {
    let config = quire_mcp::config::parse_value(
        &json!({"mcpServers": {"sum": {"command": "node", "args": [script(), log]}}}),
    )
    .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let manager = McpManager::new(config, Default::default());
    let gate = Gate::new(Arc::new(Nobody), Arc::new(Always), Duration::from_secs(1));
    let mut out = Vec::new();
    for i in 0..WARMUP + n {
        let t = Instant::now();
        let req = ApprovalRequest {
            notebook_id: None,
            job_id: None,
            server: "sum".into(),
            tool: "add".into(),
            arguments: json!({"a": 2, "b": 3}),
            source: "bench".into(),
            requested_by: "bench".into(),
        };
        let approved = gate.request(req).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        manager.call_tool(approved).await.map_err(|e| anyhow::anyhow!("{e}"))?;
        if i >= WARMUP {
            out.push(t.elapsed());
        }
    }
    Ok(out)
}
