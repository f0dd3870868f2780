//! `quire mcp` over stdio, driven by the official MCP TypeScript SDK (npm, run by Node): it starts
//! the binary, creates a notebook, adds and really runs a TypeScript cell, reads the resource.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

/// Install the SDK once per target dir.
fn install_sdk() -> PathBuf {
    quire_testkit::npm_install(Path::new(env!("CARGO_TARGET_TMPDIR")), "@modelcontextprotocol/sdk@1.32.2")
}

#[test]
fn the_typescript_sdk_drives_quire_mcp_over_stdio() {
    let modules = install_sdk();
    let data = tempfile::tempdir().unwrap();
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/js/mcp-client.js");
    let out = Command::new("node")
        .arg(&script)
        .arg("stdio")
        .arg(env!("CARGO_BIN_EXE_quire"))
        .arg("mcp")
        .arg("--data-dir")
        .arg(data.path())
        .arg("--no-language-service")
        .env("NODE_PATH", modules.join("node_modules"))
        .env_remove("QUIRE_MCP_DIAGNOSTICS")
        .output()
        .expect("node must be installed");
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(v["tools"].as_array().unwrap().iter().any(|t| t == "run_cell"), "{v}");
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");
    assert_eq!(v["run"]["exitCode"], 0, "{v}");
    assert!(v["resource"].as_str().unwrap().contains("console.log(x * 21)"), "{v}");
    assert_eq!(v["missing"]["structured"]["code"], "notebook_not_found", "{v}");
    // The notebook is on disk in the data dir, where a server started later finds it.
    let id = v["notebook"]["id"].as_str().unwrap();
    let readme = std::fs::read_to_string(data.path().join("notebooks").join(id).join("README.md")).unwrap();
    assert!(readme.contains("# From the SDK"), "{readme}");
}

#[test]
fn quire_mcp_refuses_a_data_dir_a_server_holds_and_names_the_way_in() {
    let data = tempfile::tempdir().unwrap();
    let lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(quire_stdx::DataDir::new(data.path()).lock_file())
        .unwrap();
    lock.try_lock().unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_quire"))
        .args(["mcp", "--data-dir"])
        .arg(data.path())
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("quire server is running") && err.contains("/mcp"), "{err}");
    assert!(out.stdout.is_empty(), "stdout is the protocol's: nothing else goes there");
}

#[tokio::test]
async fn quire_mcp_with_url_bridges_stdio_to_a_running_servers_endpoint() {
    let modules = install_sdk();
    let data = tempfile::tempdir().unwrap();
    let token = "bridge-token-0123456789abcdef";
    let (server, addr) = common::serve(data.path(), token, &["--no-language-service"]);
    common::wait_ready(&addr).await;
    let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../server/tests/js/mcp-client.js");
    let url = format!("http://{addr}/mcp");
    let out = tokio::task::spawn_blocking(move || {
        Command::new("node")
            .arg(&script)
            .arg("stdio")
            .arg(env!("CARGO_BIN_EXE_quire"))
            .args(["mcp", "--url", url.as_str()])
            .env("QUIRE_TOKEN", token)
            .env("NODE_PATH", modules.join("node_modules"))
            .env_remove("QUIRE_MCP_DIAGNOSTICS")
            .output()
            .expect("node must be installed")
    })
    .await
    .unwrap();
    assert!(out.status.success(), "node: {}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["run"]["stdout"], "42\n", "{v}");
    assert_eq!(v["run"]["exitCode"], 0, "{v}");
    assert_eq!(v["missing"]["structured"]["code"], "notebook_not_found", "{v}");
    // The notebook lives in the running server: its API has it.
    let id = v["notebook"]["id"].as_str().unwrap();
    let r = reqwest::Client::new()
        .get(format!("http://{addr}/api/sessions/{id}"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.text().await.unwrap().contains("console.log(x * 21)"));
    server.stop();
}
