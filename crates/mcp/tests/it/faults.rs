//! Servers that crash, hang, grow their tool list; the breaker and the concurrency limit.

use crate::common::*;
use quire_mcp::{ManagerOptions, McpConfig, McpManager, ServerStatus};
use serde_json::json;
use std::time::{Duration, Instant};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_crashed_server_fails_with_its_stderr_then_reconnects() {
    let dir = tempfile::tempdir().unwrap();
    let marker = dir.path().join("crashed");
    let m = manager(vec![("crashy", tiny("crash", &marker, None))]);
    let e = m.call_tool(approved("crashy", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_closed", "{e}");
    let st = m.server("crashy").unwrap();
    let ServerStatus::Failed { error } = st.status else { panic!("not failed: {:?}", st.status) };
    assert!(error.contains("boom, exiting on purpose"), "stderr missing from {error:?}");
    assert!(st.retry_in_ms.is_some(), "a failure starts the backoff");
    let e = m.call_tool(approved("crashy", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_connect_failed", "within the backoff no new attempt: {e}");
    let st = m.reconnect("crashy").await.unwrap();
    assert_eq!(st.status, ServerStatus::Ready);
    let r = m.call_tool(approved("crashy", "work", json!({})).await).await.unwrap();
    assert_eq!(r.text(), "worked");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_silent_server_times_out_then_the_breaker_opens() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let m = manager(vec![("silent", tiny("hang", &log, Some(150)))]);
    m.connect("silent").await.unwrap();
    for i in 0..5 {
        let t = Instant::now();
        let e = m.call_tool(approved("silent", "work", json!({})).await).await.unwrap_err();
        assert_eq!(e.code(), "mcp_timeout", "call {i}: {e}");
        assert!(t.elapsed() < Duration::from_secs(10), "the call timeout (150 ms) bounds the call");
    }
    let e = m.call_tool(approved("silent", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_breaker_open", "{e}");
    assert!(e.to_string().contains("silent"));
    let calls = std::fs::read_to_string(&log).unwrap();
    assert_eq!(calls.lines().count(), 5, "an open breaker sends nothing");
    // An explicit reconnect closes the breaker.
    m.reconnect("silent").await.unwrap();
    let e = m.call_tool(approved("silent", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_timeout");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calls_beyond_the_limit_get_busy() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("calls");
    let config = McpConfig { servers: [("silent".to_string(), tiny("hang", &log, Some(5_000)))].into() };
    let opts =
        ManagerOptions { max_concurrent: 1, busy_wait: Duration::from_millis(100), ..Default::default() };
    let m = std::sync::Arc::new(McpManager::new(config, opts));
    m.connect("silent").await.unwrap();
    let first = approved("silent", "work", json!({})).await;
    let m2 = m.clone();
    let held = tokio::spawn(async move { m2.call_tool(first).await });
    // The first call is in flight once the server logged it.
    while !std::fs::read_to_string(&log).is_ok_and(|s| !s.is_empty()) {
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let e = m.call_tool(approved("silent", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_busy", "{e}");
    held.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tools_are_relisted_on_list_changed() {
    let dir = tempfile::tempdir().unwrap();
    let m = manager(vec![("grow", tiny("grow", &dir.path().join("x"), None))]);
    assert_eq!(m.tools("grow").await.unwrap().len(), 1);
    let r = m.call_tool(approved("grow", "work", json!({})).await).await.unwrap();
    assert_eq!(r.text(), "grown");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !m.server("grow").unwrap().tools.iter().any(|t| t.name == "extra") {
        assert!(Instant::now() < deadline, "the list was not refreshed");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let names: Vec<_> = m.server("grow").unwrap().tools.into_iter().map(|t| t.name).collect();
    assert_eq!(names, ["work", "extra"], "both pages are listed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn apply_config_restarts_only_what_changed() {
    let dir = tempfile::tempdir().unwrap();
    let a = tiny("crash", &dir.path().join("a"), None);
    let b = tiny("crash", &dir.path().join("b"), None);
    let m = manager(vec![("a", a.clone()), ("b", b.clone())]);
    let pid_a = m.connect("a").await.unwrap().pid.unwrap();
    let pid_b = m.connect("b").await.unwrap().pid.unwrap();
    let b2 = tiny("crash", &dir.path().join("b2"), None);
    let c = tiny("grow", &dir.path().join("c"), None);
    let report =
        m.apply_config(McpConfig { servers: [("a".into(), a), ("b".into(), b2), ("c".into(), c)].into() });
    assert_eq!(report.unchanged, ["a"]);
    assert_eq!(report.restarted, ["b"]);
    assert_eq!(report.added, ["c"]);
    assert_eq!(m.server("a").unwrap().pid, Some(pid_a), "unchanged servers keep their process");
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_gone(pid_b) {
        assert!(Instant::now() < deadline, "the reconfigured server's process was not killed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let report = m.apply_config(McpConfig::default());
    assert_eq!(report.removed, ["a", "b", "c"]);
    assert_eq!(m.server("a").unwrap_err().code(), "mcp_unknown_server");
}

#[tokio::test]
async fn a_disabled_server_is_never_started() {
    let dir = tempfile::tempdir().unwrap();
    let mut spec = tiny("crash", &dir.path().join("x"), None);
    if let quire_mcp::ServerSpec::Stdio(s) = &mut spec {
        s.options.disabled = true;
    }
    let m = manager(vec![("off", spec)]);
    let e = m.call_tool(approved("off", "work", json!({})).await).await.unwrap_err();
    assert_eq!(e.code(), "mcp_disabled");
    assert_eq!(m.server("off").unwrap().status, ServerStatus::Idle);
}

/// Run by `a_stdio_server_dies_with_quire` in a child process (the stand-in for Quire): connects a
/// server, writes its pid to the file named by QUIRE_MCP_PID_FILE, then waits to be killed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore = "a helper run by a_stdio_server_dies_with_quire"]
async fn helper_hold_a_server() {
    let Some(out) = std::env::var_os("QUIRE_MCP_PID_FILE") else { return };
    let out = std::path::PathBuf::from(out);
    let m = manager(vec![("silent", tiny("hang", &out.with_extension("log"), None))]);
    let pid = m.connect("silent").await.unwrap().pid.unwrap();
    quire_stdx::fs::write_atomic(&out, pid.to_string().as_bytes()).unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdio_server_dies_with_quire() {
    let dir = tempfile::tempdir().unwrap();
    let pid_file = dir.path().join("pid");
    let mut quire = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "faults::helper_hold_a_server", "--include-ignored", "--nocapture"])
        .env("QUIRE_MCP_PID_FILE", &pid_file)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    let pid: u32 = loop {
        if let Ok(s) = std::fs::read_to_string(&pid_file) {
            break s.trim().parse().unwrap();
        }
        assert!(Instant::now() < deadline, "the helper never connected");
        assert!(quire.try_wait().unwrap().is_none(), "the helper exited early");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(!pid_gone(pid));
    quire.kill().unwrap(); // SIGKILL: no destructor runs, only the parent-death signal can help
    quire.wait().unwrap();
    let deadline = Instant::now() + Duration::from_secs(5);
    while !pid_gone(pid) {
        assert!(Instant::now() < deadline, "server {pid} outlived the killed Quire process");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_servers_get_the_configured_headers() {
    use tokio::io::AsyncBufReadExt;
    let script = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/js/tiny-http.mjs");
    let mut child = tokio::process::Command::new("node")
        .arg(script)
        .arg("sekrit")
        .stdout(std::process::Stdio::piped())
        .kill_on_drop(true)
        .spawn()
        .unwrap();
    let mut lines = tokio::io::BufReader::new(child.stdout.take().unwrap()).lines();
    let port: u16 = lines.next_line().await.unwrap().unwrap().trim().parse().unwrap();
    let url = format!("http://127.0.0.1:{port}/mcp");
    let config = quire_mcp::config::parse(
        &serde_json::json!({"mcpServers": {
            "good": {"url": url, "headers": {"Authorization": "Bearer sekrit", "X-Quire-Test": "hello"}},
            "bad": {"url": url, "headers": {"Authorization": "Bearer wrong"}}
        }})
        .to_string(),
    )
    .unwrap();
    let m = McpManager::new(config, ManagerOptions::default());
    let r = m.call_tool(approved("good", "whoami", json!({})).await).await.unwrap();
    assert_eq!(r.text(), "hello");
    let e = m.connect("bad").await.unwrap_err();
    assert_eq!(e.code(), "mcp_connect_failed", "{e}");
    assert!(matches!(m.server("bad").unwrap().status, ServerStatus::Failed { .. }));
    child.kill().await.unwrap();
}
