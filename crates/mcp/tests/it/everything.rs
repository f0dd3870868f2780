//! `@modelcontextprotocol/server-everything` over stdio and Streamable HTTP, and `server-memory`.

use crate::common::*;
use quire_mcp::{McpManager, ServerStatus, ToolContent, connect::PASSED_ENV};
use serde_json::json;
use std::process::Stdio;
use tokio::io::{AsyncBufReadExt, BufReader};

async fn call(m: &McpManager, server: &str, tool: &str, args: serde_json::Value) -> quire_mcp::ToolResult {
    m.call_tool(approved(server, tool, args).await).await.unwrap_or_else(|e| panic!("{tool}: {e}"))
}

/// The same checks on either transport.
async fn exercise(m: &McpManager, name: &str) {
    let tools = m.tools(name).await.unwrap();
    let names: Vec<&str> = tools.iter().map(|t| t.name.as_str()).collect();
    for t in ["get-sum", "echo", "get-structured-content"] {
        assert!(names.contains(&t), "{t} missing from {names:?}");
    }
    let st = m.server(name).unwrap();
    assert_eq!(st.status, ServerStatus::Ready);
    let info = st.info.unwrap();
    assert_eq!(info.protocol_version, "2025-11-25");
    assert_eq!(info.name.as_deref(), Some("mcp-servers/everything"));
    assert!(st.prompts.iter().any(|p| p.name == "simple-prompt"), "prompts: {:?}", st.prompts);

    let res = st.resources.first().expect("server-everything lists resources");
    let read = m.read_resource(name, &res.uri).await.unwrap();
    assert!(
        matches!(&read[0], ToolContent::Resource { uri, text, blob, .. } if *uri == res.uri && (text.is_some() || blob.is_some())),
        "{read:?}"
    );

    let r = call(m, name, "get-sum", json!({"a": 2, "b": 3})).await;
    assert!(!r.is_error);
    assert_eq!(r.content, vec![ToolContent::Text { text: "The sum of 2 and 3 is 5.".into() }]);

    let r = call(m, name, "get-structured-content", json!({"location": "Chicago"})).await;
    let s = r.structured.expect("structuredContent");
    assert!(s["temperature"].is_number() && s["conditions"].is_string(), "{s}");
    let wire = serde_json::to_value(&r.content).unwrap();
    assert_eq!(wire[0]["type"], "text");

    let r = call(m, name, "get-sum", json!({"a": "two", "b": 3})).await;
    assert!(r.is_error, "invalid arguments give an error result: {r:?}");

    let e = m.call_tool(approved(name, "no-such-tool", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_unknown_tool");
    assert!(e.to_string().contains(name));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_stdio() {
    let pkg = npm_package(EVERYTHING);
    let m = manager(vec![("everything", node_server(&pkg, &["stdio"], &[]))]);
    assert_eq!(m.server("everything").unwrap().status, ServerStatus::Idle, "connects lazily");
    exercise(&m, "everything").await;
    assert_eq!(m.server("nope").unwrap_err().code(), "mcp_unknown_server");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn everything_over_streamable_http() {
    let pkg = npm_package(EVERYTHING);
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = tokio::process::Command::new("node")
        .arg(pkg.join("dist/index.js"))
        .arg("streamableHttp")
        .env("PORT", port.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stderr.take().unwrap()).lines();
    loop {
        let line = lines.next_line().await.unwrap().expect("the server exited before listening");
        if line.contains("listening on port") {
            break;
        }
    }
    tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });
    let m = manager(vec![("web", http(&format!("http://127.0.0.1:{port}/mcp")))]);
    exercise(&m, "web").await;
    drop(m);
    child.kill().await.unwrap();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_server_keeps_a_graph() {
    let pkg = npm_package(MEMORY);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("memory.jsonl");
    let m =
        manager(vec![("memory", node_server(&pkg, &[], &[("MEMORY_FILE_PATH", file.to_str().unwrap())]))]);
    let entities =
        json!({"entities": [{"name": "Quire", "entityType": "project", "observations": ["runs notebooks"]}]});
    let r = call(&m, "memory", "create_entities", entities).await;
    assert!(!r.is_error, "{r:?}");
    let r = call(&m, "memory", "read_graph", json!({})).await;
    let graph = r.structured.expect("read_graph has structuredContent");
    assert_eq!(graph["entities"][0]["name"], "Quire", "{graph}");
    assert!(file.exists(), "the graph is in MEMORY_FILE_PATH");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stdio_servers_see_a_scrubbed_environment() {
    // A parent secret is needed, and setting one here would be `unsafe`: run this test again in a
    // child process of the test binary that has QUIRE_TEST_SECRET in its environment.
    if std::env::var_os("QUIRE_TEST_SECRET").is_none() {
        let out = std::process::Command::new(std::env::current_exe().unwrap())
            .args(["--exact", "everything::stdio_servers_see_a_scrubbed_environment", "--nocapture"])
            .env("QUIRE_TEST_SECRET", "s3cret-parent-value")
            .output()
            .unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
        assert!(stdout.contains("1 passed"), "the child ran no test: {stdout}");
        return;
    }
    let pkg = npm_package(EVERYTHING);
    let m = manager(vec![("everything", node_server(&pkg, &["stdio"], &[("QUIRE_CONFIGURED", "yes")]))]);
    let r = call(&m, "everything", "get-env", json!({})).await;
    let env: serde_json::Map<String, serde_json::Value> = serde_json::from_str(&r.text()).unwrap();
    assert_eq!(env["QUIRE_CONFIGURED"], "yes");
    assert!(env.contains_key("PATH") && env.contains_key("HOME"));
    assert!(!env.contains_key("QUIRE_TEST_SECRET"));
    assert!(!r.text().contains("s3cret-parent-value"));
    for k in env.keys() {
        assert!(
            PASSED_ENV.contains(&k.as_str()) || k == "QUIRE_CONFIGURED",
            "{k} leaked into the server's env"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_manager_leaves_no_orphan() {
    let pkg = npm_package(EVERYTHING);
    let m = manager(vec![("everything", node_server(&pkg, &["stdio"], &[]))]);
    let st = m.connect("everything").await.unwrap();
    let pid = st.pid.expect("a stdio server has a pid");
    assert!(!pid_gone(pid));
    drop(m);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !pid_gone(pid) {
        assert!(std::time::Instant::now() < deadline, "pid {pid} outlived its manager");
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}
