//! The sandbox, against the real binary: a cell cannot read the instance key, the databases, the file
//! store or another notebook, cannot find the token, cannot signal the server; and no process a run
//! starts — `detached`, `setsid` or ordinary — outlives a stop, a delete or the server.

use common::{Socket, alive, wait_gone};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod common;

const TOKEN: &str = "sandbox-test-token-0123456789";

struct Session {
    addr: String,
    http: reqwest::Client,
}

impl Session {
    async fn post(&self, path: &str, body: Value) -> Value {
        let req = self.http.post(format!("http://{}{path}", self.addr)).bearer_auth(TOKEN).json(&body);
        req.send().await.unwrap().json().await.unwrap()
    }

    async fn notebook(&self, name: &str) -> String {
        let v = self.post("/api/srcbooks", json!({"name": name, "language": "javascript"})).await;
        let v = self.post("/api/sessions", json!({"path": v["result"]["path"]})).await;
        v["result"]["id"].as_str().unwrap().to_string()
    }

    async fn ws(&self, id: &str) -> Socket {
        let mut req = format!("ws://{}/websocket", self.addr).into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        send(&mut ws, id, "subscribe", json!({"id": "s", "capabilities": ["cells", "errors"]})).await;
        next_event(&mut ws, "subscribed").await;
        ws
    }
}

async fn send(ws: &mut Socket, id: &str, event: &str, payload: Value) {
    ws.send(Message::Text(json!([format!("session:{id}"), event, payload]).to_string().into()))
        .await
        .unwrap();
}

async fn next_event(ws: &mut Socket, event: &str) -> Value {
    common::next_event(ws, event, Duration::from_secs(30)).await
}

/// Create a cell with `source`, run it and return its first line of output, parsed as JSON.
async fn run_cell(ws: &mut Socket, id: &str, cell: &str, source: &str) -> Value {
    let c = json!({"id": cell, "type": "code", "source": source, "language": "javascript", "filename": format!("{cell}.js")});
    send(ws, id, "cell:create", json!({"index": 2, "cell": c})).await;
    next_event(ws, "cell:created").await;
    send(ws, id, "cell:exec", json!({"cellId": cell})).await;
    let out = next_event(ws, "cell:output").await;
    let text = out["output"]["data"].as_str().unwrap().to_string();
    serde_json::from_str(text.lines().next().unwrap()).unwrap_or_else(|e| panic!("{e}: {text}"))
}

#[tokio::test]
async fn a_cell_cannot_read_the_key_the_databases_other_notebooks_or_the_token_nor_signal_the_server() {
    let data = tempfile::tempdir().unwrap();
    let (server, addr) = common::serve_env_token(data.path(), TOKEN);
    common::wait_ready(&addr).await;
    let s = Session { addr, http: reqwest::Client::new() };
    let health: Value =
        s.http.get(format!("http://{}/health", s.addr)).send().await.unwrap().json().await.unwrap();
    assert_eq!(
        health["sandbox"]["landlock"], "enforced",
        "this machine's kernel has Landlock ABI ≥ 6: {health}"
    );
    let other = s.notebook("Other").await;
    let id = s.notebook("Attacker").await;
    let mut ws = s.ws(&id).await;
    let src = format!(
        r#"import fs from 'node:fs';
import os from 'node:os';
const tryRead = (p) => {{ try {{ fs.readFileSync(p); return 'READ'; }} catch (e) {{ return e.code; }} }};
const has = (p) => {{ try {{ return fs.readFileSync(p, 'latin1').includes('{TOKEN}'); }} catch (e) {{ return e.code; }} }};
const tryWrite = (p) => {{ try {{ fs.writeFileSync(p, 'x'); return 'WROTE'; }} catch (e) {{ return e.code; }} }};
const signal = () => {{ try {{ process.kill({server_pid}, 'SIGKILL'); return 'SENT'; }} catch (e) {{ return e.code; }} }};
console.log(JSON.stringify({{
  key: tryRead('../../secret.key'), db: tryRead('../../quire.db'), files: tryRead('../../files/files.db'),
  other: tryRead('../{other}/README.md'), listOthers: (() => {{ try {{ fs.readdirSync('..'); return 'LISTED'; }} catch (e) {{ return e.code; }} }})(),
  openHtml: tryRead('../../open.html'),
  own: tryRead('README.md'), tmp: tryWrite(os.tmpdir() + '/scratch'), ownWrite: tryWrite('scratch.txt'),
  outside: tryWrite('../../evil.txt'), etcShadow: tryRead('/etc/shadow'),
  parentCmdline: has(`/proc/${{process.ppid}}/cmdline`), parentEnviron: has(`/proc/${{process.ppid}}/environ`),
  serverCmdline: has('/proc/{server_pid}/cmdline'), serverEnviron: has('/proc/{server_pid}/environ'),
  signal: signal(),
}}));
"#,
        server_pid = server.pid()
    );
    let got = run_cell(&mut ws, &id, "attack", &src).await;
    let want = json!({
        "key": "EACCES", "db": "EACCES", "files": "EACCES", "other": "EACCES", "listOthers": "EACCES",
        "openHtml": got["openHtml"].as_str().filter(|v| *v != "READ").unwrap_or("READ"), "own": "READ", "tmp": "WROTE", "ownWrite": "WROTE", "outside": "EACCES",
        "etcShadow": "EACCES", "parentCmdline": false, "parentEnviron": "EACCES", "serverCmdline": false,
        "serverEnviron": "EACCES", "signal": "EPERM",
    });
    assert_eq!(got, want);
    assert!(!data.path().join("evil.txt").exists());
    assert!(alive(server.pid() as u64), "the server survived the attempt to kill it");
    server.stop();
}

const SPAWNER: &str = r#"import { spawn } from 'node:child_process';
const detached = spawn('sleep', ['1000'], { detached: true, stdio: 'ignore' });
detached.unref();
const setsid = spawn('setsid', ['sleep', '1001'], { stdio: 'ignore' });
const plain = spawn('sleep', ['1002'], { stdio: 'ignore' });
await new Promise((r) => setTimeout(r, 200));
console.log(JSON.stringify([detached.pid, setsid.pid, plain.pid]));
while (true) {}
"#;

/// The pids of the three `sleep`s (setsid's child has its own pid: find it by its argument).
fn sleepers(pids: &Value) -> Vec<u64> {
    let mut out: Vec<u64> = pids.as_array().unwrap().iter().map(|p| p.as_u64().unwrap()).collect();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = e.file_name().to_string_lossy().parse::<u64>() else { continue };
        let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
        if cmd == b"sleep\x001001\x00" {
            out.push(pid);
        }
    }
    out
}

#[tokio::test]
async fn detached_setsid_and_ordinary_children_end_with_stop_delete_and_the_server() {
    let data = tempfile::tempdir().unwrap();
    let (mut server, addr) = common::serve_env_token(data.path(), TOKEN);
    common::wait_ready(&addr).await;
    let s = Session { addr, http: reqwest::Client::new() };
    let id = s.notebook("Spawner").await;
    let mut ws = s.ws(&id).await;

    // Stop: the run's processes go, however they were started.
    let pids = sleepers(&run_cell(&mut ws, &id, "spawn1", SPAWNER).await);
    assert!(pids.len() >= 4 && pids.iter().all(|p| alive(*p)), "{pids:?}");
    send(&mut ws, &id, "cell:stop", json!({"cellId": "spawn1"})).await;
    wait_gone(&pids).await;

    // Delete: everything of the notebook goes.
    let pids = sleepers(&run_cell(&mut ws, &id, "spawn2", SPAWNER).await);
    let r = s
        .http
        .delete(format!("http://{}/api/srcbooks/{id}", s.addr))
        .bearer_auth(TOKEN)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200);
    wait_gone(&pids).await;

    // The server killed with SIGKILL: nothing of any notebook outlives it.
    let id = s.notebook("Spawner 2").await;
    let mut ws = s.ws(&id).await;
    let pids = sleepers(&run_cell(&mut ws, &id, "spawn3", SPAWNER).await);
    server.0.kill().unwrap();
    server.0.wait().unwrap();
    wait_gone(&pids).await;
    // And it leaves no per-host directory behind for long: the next start removes stale ones.
    let (server, addr) = common::serve_env_token(data.path(), TOKEN);
    common::wait_ready(&addr).await;
    let stale: Vec<String> = std::fs::read_dir(std::env::temp_dir())
        .unwrap()
        .flatten()
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|n| n.starts_with(&format!("quire-host-{}-", std::process::id())))
        .collect();
    assert!(stale.is_empty(), "{stale:?}");
    server.stop();
}

#[tokio::test]
async fn npm_installs_and_formats_inside_the_sandbox() {
    let data = tempfile::tempdir().unwrap();
    let (server, addr) = common::serve_env_token(data.path(), TOKEN);
    common::wait_ready(&addr).await;
    let s = Session { addr, http: reqwest::Client::new() };
    let id = s.notebook("Deps").await;
    let mut ws = s.ws(&id).await;
    send(&mut ws, &id, "deps:install", json!({"packages": ["is-number@7.0.0"]})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(120);
    let mut log = String::new();
    let ok = loop {
        let msg =
            tokio::time::timeout_at(deadline, ws.next()).await.expect("install finished").unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v[1].as_str().unwrap() {
            "cell:output" => log.push_str(v[2]["output"]["data"].as_str().unwrap_or("")),
            "deps:install:status" | "cell:updated"
                if v[2]["status"] == "failed" || v[2]["cell"]["status"] == "failed" =>
            {
                break false;
            }
            "deps:install:status" if v[2]["status"] == "complete" => break true,
            "cell:updated" if v[2]["cell"]["type"] == "package.json" && v[2]["cell"]["status"] == "idle" => {
                break true;
            }
            _ => {}
        }
    };
    assert!(ok, "npm install failed inside the sandbox:\n{log}");
    assert!(
        data.path().join(format!("notebooks/{id}/node_modules/is-number/package.json")).exists(),
        "{log}"
    );
    let got = run_cell(
        &mut ws,
        &id,
        "use",
        "import isNumber from 'is-number';\nconsole.log(JSON.stringify(isNumber(5)));\n",
    )
    .await;
    assert_eq!(got, json!(true));
    // prettier is installed into the notebook on first use, then run from there: both in the sandbox.
    let ugly = json!({"id": "ugly", "type": "code", "source": "const  a={b:1}\n", "language": "javascript", "filename": "ugly.js"});
    send(&mut ws, &id, "cell:create", json!({"index": 2, "cell": ugly})).await;
    next_event(&mut ws, "cell:created").await;
    send(&mut ws, &id, "cell:format", json!({"cellId": "ugly"})).await;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(180);
    let formatted = loop {
        let msg = tokio::time::timeout_at(deadline, ws.next()).await.expect("formatted").unwrap().unwrap();
        let Message::Text(t) = msg else { continue };
        let v: Value = serde_json::from_str(t.as_str()).unwrap();
        match v[1].as_str().unwrap() {
            "cell:formatted" => break v[2]["cell"]["source"].as_str().unwrap().to_string(),
            "cell:error" => panic!("formatting failed: {}", v[2]),
            _ => {}
        }
    };
    assert_eq!(formatted, "const a = { b: 1 };\n");
    server.stop();
}
