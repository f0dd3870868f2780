//! Running cells over the WebSocket with real Node: status, streamed output, outcome fields, stop,
//! caps, environment, run-all, npm install and prettier.

use crate::common::{TestServer, Ws};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

fn code(id: &str, filename: &str, source: &str) -> Value {
    let lang = if filename.ends_with(".ts") { "typescript" } else { "javascript" };
    json!({"id": id, "type": "code", "source": source, "language": lang, "filename": filename, "status": "idle"})
}

struct Nb {
    id: String,
    topic: String,
    ws: Ws,
}

async fn notebook(s: &TestServer, lang: &str, cells: &[(&str, &str, &str)]) -> Nb {
    let id = s.create("Runs", lang).await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    for (i, (cid, file, src)) in cells.iter().enumerate() {
        ws.send(&topic, "cell:create", json!({"index": 2 + i, "cell": code(cid, file, src)})).await;
        ws.recv_event("cell:created").await;
    }
    Nb { id, topic, ws }
}

/// Everything a run sends until its final `cell:updated` (idle/failed): (stdout, stderr, final payload).
async fn until_done(ws: &mut Ws, cell: &str, limit: Duration) -> (String, String, Value) {
    let (mut out, mut err) = (String::new(), String::new());
    let deadline = Instant::now() + limit;
    loop {
        assert!(Instant::now() < deadline, "run of {cell} did not finish in {limit:?}");
        let (_, e, p) = ws.recv_within(limit).await;
        match e.as_str() {
            "cell:output" if p["cellId"] == cell => {
                let data = p["output"]["data"].as_str().unwrap();
                if p["output"]["type"] == "stdout" { out.push_str(data) } else { err.push_str(data) }
            }
            "cell:updated" if p["cell"]["id"] == cell && p["cell"]["status"] != "running" => {
                return (out, err, p);
            }
            _ => {}
        }
    }
}

async fn exec(nb: &mut Nb, cell: &str) -> (String, String, Value) {
    nb.ws.send(&nb.topic, "cell:exec", json!({"cellId": cell})).await;
    let p = nb.ws.recv_event("cell:updated").await;
    assert_eq!(
        (p["cell"]["id"].as_str(), p["cell"]["status"].as_str()),
        (Some(cell), Some("running")),
        "{p}"
    );
    until_done(&mut nb.ws, cell, Duration::from_secs(20)).await
}

#[tokio::test]
async fn typescript_cell_runs_with_outcome_fields() {
    let s = TestServer::start_node().await;
    let mut nb = notebook(
        &s,
        "typescript",
        &[
            ("u", "util.ts", "export const greet = (n: string): string => `hi ${n}`;\n"),
            ("m", "main.ts", "import { greet } from './util.ts';\nconsole.log(greet('ts'));\n"),
            ("x", "exit.ts", "process.exit(3);\n"),
        ],
    )
    .await;
    let (out, err, done) = exec(&mut nb, "m").await;
    assert_eq!((out.as_str(), err.as_str()), ("hi ts\n", ""));
    assert_eq!(done["exitCode"], 0, "{done}");
    assert_eq!(done["cell"]["exitCode"], 0);
    assert!(done["signal"].is_null() && done["durationMs"].is_u64(), "{done}");
    // An edit of the imported cell is seen by the next run.
    nb.ws
        .send(
            &nb.topic,
            "cell:update",
            json!({"cellId": "u", "updates": {"source": "export const greet = (n: string) => `yo ${n}`;\n"}}),
        )
        .await;
    let (out, _, _) = exec(&mut nb, "m").await;
    assert_eq!(out, "yo ts\n");
    assert_eq!(exec(&mut nb, "x").await.2["exitCode"], 3);
    // The session shows the cell idle again.
    let session = s.session(&nb.id).await;
    let cell = session["cells"].as_array().unwrap().iter().find(|c| c["id"] == "m").unwrap().clone();
    assert_eq!(cell["status"], "idle");
}

#[tokio::test]
async fn environment_is_scrubbed_and_secrets_are_linked() {
    let s = TestServer::start_node().await;
    let src = "console.log(JSON.stringify(Object.keys(process.env).sort()), process.env.API_KEY)";
    let mut nb = notebook(&s, "javascript", &[("e", "env.js", src)]).await;
    let (st, _) = s.post("/api/secrets", json!({"name": "API_KEY", "value": "hunter2"})).await;
    assert_eq!(st, 200);
    let r = s.http.put(s.url(&format!("/api/sessions/{}/secrets/API_KEY", nb.id))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    // The test process has CARGO_*, RUST_* and more in its environment: none of it may reach the cell.
    let (out, _, _) = exec(&mut nb, "e").await;
    assert_eq!(out, "[\"API_KEY\",\"HOME\",\"LANG\",\"PATH\",\"QUIRE_RUN_ID\",\"TMPDIR\"] hunter2\n");
}

#[tokio::test]
async fn stop_ends_an_infinite_loop_and_a_second_exec_is_refused() {
    let s = TestServer::start_node().await;
    let mut nb = notebook(&s, "javascript", &[("l", "loop.js", "console.log('go'); while (true) {}")]).await;
    nb.ws.send(&nb.topic, "cell:exec", json!({"cellId": "l"})).await;
    let p = nb.ws.recv_event("cell:output").await;
    assert_eq!(p["output"]["data"], "go\n");
    nb.ws.send(&nb.topic, "cell:exec", json!({"cellId": "l"})).await;
    let e = nb.ws.recv_event("error").await;
    assert_eq!(e["code"], "already_running", "{e}");
    let t = Instant::now();
    nb.ws.send(&nb.topic, "cell:stop", json!({"cellId": "l"})).await;
    let (_, _, done) = until_done(&mut nb.ws, "l", Duration::from_secs(5)).await;
    assert!(t.elapsed() < Duration::from_secs(2), "stop took {:?}", t.elapsed());
    assert_eq!((done["exitCode"].clone(), done["signal"].clone()), (Value::Null, json!("SIGTERM")));
}

#[tokio::test]
async fn a_flood_is_truncated_and_the_server_stays_responsive() {
    let s = TestServer::start_node().await;
    // 100 MB of output.
    let src = "const line = 'x'.repeat(99); for (let i = 0; i < 1e6; i++) console.log(line);";
    let mut nb = notebook(&s, "javascript", &[("f", "flood.js", src)]).await;
    nb.ws.send(&nb.topic, "cell:exec", json!({"cellId": "f"})).await;
    nb.ws.recv_event("cell:output").await;
    let t = Instant::now();
    let (st, _) = s.get("/health").await;
    let health = t.elapsed();
    assert_eq!(st, 200);
    assert!(health < Duration::from_secs(1), "/health took {health:?} during a flood");
    let (out, err, done) = until_done(&mut nb.ws, "f", Duration::from_secs(60)).await;
    assert!(out.len() <= 8 * 1024 * 1024, "{}", out.len());
    assert!(err.contains("Output truncated"), "{err}");
    assert_eq!(done["exitCode"], 0);
}

#[tokio::test]
async fn run_all_stops_at_the_first_failure() {
    let s = TestServer::start_node().await;
    let mut nb = notebook(
        &s,
        "javascript",
        &[
            ("a", "a.js", "console.log('a')"),
            ("b", "b.js", "throw new Error('b failed')"),
            ("c", "c.js", "console.log('c')"),
        ],
    )
    .await;
    nb.ws.send(&nb.topic, "cell:exec_all", json!({})).await;
    let (out, _, done) = until_done(&mut nb.ws, "a", Duration::from_secs(20)).await;
    assert_eq!((out.as_str(), done["exitCode"].as_i64()), ("a\n", Some(0)));
    let (_, err, done) = until_done(&mut nb.ws, "b", Duration::from_secs(20)).await;
    assert!(err.contains("b failed"), "{err}");
    assert_eq!(done["exitCode"], 1);
    // c never runs.
    let r = tokio::time::timeout(Duration::from_millis(500), nb.ws.recv_event("cell:updated")).await;
    assert!(r.is_err(), "c must not run: {r:?}");
}

#[tokio::test]
async fn npm_install_then_import_then_format() {
    let s = TestServer::start_node().await;
    let src = "import isNumber from 'is-number';\nconsole.log(isNumber(5), isNumber('x'));\n";
    let mut nb = notebook(&s, "typescript", &[("n", "num.ts", src)]).await;
    // Missing from package.json.
    nb.ws.send(&nb.topic, "deps:validate", json!({})).await;
    let v = nb.ws.recv_event("deps:validate:response").await;
    let v = if v.get("packages").is_some() { v } else { nb.ws.recv_event("deps:validate:response").await };
    assert_eq!(v["packages"], json!(["is-number"]));

    let pkg_id = s.session(&nb.id).await["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["type"] == "package.json")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_string();
    nb.ws.send(&nb.topic, "deps:install", json!({"packages": ["is-number@7.0.0"]})).await;
    let (_, _, done) = until_done(&mut nb.ws, &pkg_id, Duration::from_secs(180)).await;
    assert_eq!(done["cell"]["status"], "idle", "npm install failed: {done}");
    assert!(done["cell"]["source"].as_str().unwrap().contains("is-number"), "package.json re-read: {done}");
    let (out, err, _) = exec(&mut nb, "n").await;
    assert_eq!(out, "true false\n", "{err}");

    // Formatting installs prettier on demand and saves the result.
    nb.ws
        .send(&nb.topic, "cell:update", json!({"cellId": "n", "updates": {"source": "const  a = {b:1}\n"}}))
        .await;
    nb.ws.send(&nb.topic, "cell:format", json!({"cellId": "n"})).await;
    let deadline = Instant::now() + Duration::from_secs(240);
    let formatted = loop {
        assert!(Instant::now() < deadline, "format did not finish");
        let (_, e, p) = nb.ws.recv_within(Duration::from_secs(240)).await;
        match e.as_str() {
            "cell:formatted" => break p,
            "cell:error" => panic!("format failed: {p}"),
            _ => {}
        }
    };
    assert_eq!(formatted["cell"]["source"], "const a = { b: 1 };\n");
    let on_disk = std::fs::read_to_string(s.notebook_dir(&nb.id).join("src/num.ts")).unwrap();
    assert_eq!(on_disk, "const a = { b: 1 };\n");
}

#[tokio::test]
async fn secrets_are_withheld_from_a_notebook_changed_outside_quire_until_approved() {
    let s = TestServer::start_node().await;
    let mut nb =
        notebook(&s, "javascript", &[("e", "env.js", "console.log(process.env.API_KEY ?? 'none')")]).await;
    s.post("/api/secrets", json!({"name": "API_KEY", "value": "hunter2"})).await;
    s.http.put(s.url(&format!("/api/sessions/{}/secrets/API_KEY", nb.id))).send().await.unwrap();
    // Edits through Quire keep the approval.
    nb.ws
        .send(&nb.topic, "cell:update", json!({"cellId": "e", "updates": {"source": "console.log('key:', process.env.API_KEY ?? 'none')"}}))
        .await;
    assert_eq!(exec(&mut nb, "e").await.0, "key: hunter2\n");
    let id = nb.id.clone();
    drop(nb);
    // Someone rewrites the cell on disk while Quire is down.
    let (dir, tmp) = s.stop().await;
    let file = dir.join("notebooks").join(&id).join("src/env.js");
    std::fs::write(&file, "console.log('stolen:', process.env.API_KEY ?? 'none')").unwrap();
    let s = TestServer::start_with_node(quire_server::Config::new(dir.clone(), crate::common::TOKEN.into()))
        .await;
    let mut ws = s.ws().await;
    ws.subscribe(&id, &["errors", "cells"]).await;
    let mut nb = Nb { id: id.clone(), topic: format!("session:{id}"), ws };
    // Cell ids are not stored in .src.md: find the cell again by its file.
    let cells = s.session(&id).await["cells"].clone();
    let cell = cells.as_array().unwrap().iter().find(|c| c["filename"] == "env.js").unwrap()["id"].clone();
    let cell = cell.as_str().unwrap();
    let (out, err, _) = exec(&mut nb, cell).await;
    assert_eq!(out, "stolen: none\n");
    assert!(err.contains("secrets are withheld"), "{err}");
    let (st, _) = s.post(&format!("/api/sessions/{id}/approve"), json!({})).await;
    assert_eq!(st, 200);
    assert_eq!(exec(&mut nb, cell).await.0, "stolen: hunter2\n");
    drop(tmp);
}

#[tokio::test]
async fn metrics_after_a_scripted_session() {
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().into(), crate::common::TOKEN.into());
    config.metrics_token = Some("metrics-only-token-123".into());
    let s = TestServer::start_with_node(config).await;
    let mut nb = notebook(&s, "javascript", &[("m", "m.js", "console.log('hi')")]).await;
    assert_eq!(exec(&mut nb, "m").await.0, "hi\n");
    // An upload and a verified download of a chunked file.
    let data: Vec<u8> = (0..300_000u32).map(|i| (i.wrapping_mul(2654435761) >> 13) as u8).collect();
    let token = crate::common::TOKEN;
    let form = crate::files::form("m.bin", "application/octet-stream", data.clone());
    let (_, v) = crate::files::upload(&s, token, form, &[]).await;
    let id = v["file_id"].as_str().unwrap();
    assert_eq!(crate::files::get_bytes(&s, token, &format!("/files/{id}")).await.2.len(), data.len());
    let anon = reqwest::Client::new();
    assert_eq!(anon.get(s.url("/metrics")).send().await.unwrap().status(), 401);
    let r = anon.get(s.url("/metrics")).bearer_auth("metrics-only-token-123").send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(r.headers()["content-type"].to_str().unwrap().starts_with("text/plain"));
    let text = r.text().await.unwrap();
    for family in [
        "http_requests_total{",
        "http_request_duration_seconds_bucket{",
        "route=\"/api/srcbooks\"",
        "ws_connections",
        "ws_frames_received_total",
        "ws_frames_sent_total",
        "cell_runs_total{result=\"ok\"}",
        "cell_run_duration_seconds_bucket",
        "runtime_node_hosts",
        "process_resident_memory_bytes",
        "process_open_fds",
        "language_service_processes",
        "file_uploads_total 1",
        "file_upload_bytes_total 300000",
        "file_upload_stored_bytes_total",
        "file_upload_duration_seconds_bucket",
        "file_upload_dedup_ratio",
        "chunk_verifications_total{result=\"ok\"}",
        "sqlite_statement_duration_seconds_bucket{db=\"quire\"",
        "sqlite_statement_duration_seconds_bucket{db=\"files\"",
    ] {
        assert!(text.contains(family), "{family} missing from:\n{text}");
    }
    // The metrics token opens nothing else.
    let r = anon.get(s.url("/api/settings")).bearer_auth("metrics-only-token-123").send().await.unwrap();
    assert_eq!(r.status(), 401);
    drop(tmp);
}
