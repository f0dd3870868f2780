//! AI with the user's own provider, end to end: the mock LLM (four wire formats, scripted errors) on
//! 127.0.0.1, a real server, HTTP and WebSocket clients as the stock Srcbook client and Quire's UI
//! send them; the fix loop with a real tsserver and real Node runs.

use crate::common::{TestServer, Ws};
use quire_ai::mock::{MockLlm, MockOptions, Reply, Split, StreamScript};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

const UI_CAPS: &[&str] = &["errors", "cells", "tsserver", "ai"];

fn code(id: &str, filename: &str, source: &str) -> Value {
    let lang = if filename.ends_with(".ts") { "typescript" } else { "javascript" };
    json!({"id": id, "type": "code", "source": source, "language": lang, "filename": filename, "status": "idle"})
}

async fn settings(s: &TestServer, patch: Value) {
    let (status, body) = s.post("/api/settings", patch).await;
    assert_eq!(status, 200, "{body}");
}

/// A notebook with `cells`, and a connection subscribed to it with `caps`.
async fn notebook(
    s: &TestServer,
    lang: &str,
    caps: &[&str],
    cells: &[(&str, &str, &str)],
) -> (String, String, Ws) {
    let id = s.create("AI", lang).await;
    let topic = format!("session:{id}");
    let mut ws = s.ws().await;
    ws.subscribe(&id, caps).await;
    for (i, (cid, file, src)) in cells.iter().enumerate() {
        ws.send(&topic, "cell:create", json!({"index": 2 + i, "cell": code(cid, file, src)})).await;
        ws.send(&topic, "ping", json!({"requestId": format!("p{i}")})).await;
        ws.recv_event("pong").await;
    }
    (id, topic, ws)
}

/// Every AI frame of `job` until `ai:done` / `ai:failed` (that one last).
async fn job_frames(ws: &mut Ws, job: &str, limit: Duration) -> Vec<(String, Value)> {
    let deadline = Instant::now() + limit;
    let mut out = Vec::new();
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        assert!(!left.is_zero(), "job {job} did not finish in {limit:?}: {out:?}");
        let (_, e, p) = ws.recv_within(left).await;
        if e.starts_with("ai:") && p["jobId"] == job {
            let last = e == "ai:done" || e == "ai:failed";
            out.push((e, p));
            if last {
                return out;
            }
        }
    }
}

fn deltas(frames: &[(String, Value)]) -> String {
    frames.iter().filter(|(e, _)| e == "ai:delta").map(|(_, p)| p["text"].as_str().unwrap()).collect()
}

#[tokio::test]
async fn settings_test_resolves_a_local_base_without_v1_and_says_exactly_what_is_wrong() {
    let s = TestServer::start().await;
    let (status, body) = s.get("/api/ai/healthcheck").await;
    assert_eq!((status, body["code"].as_str()), (400, Some("ai_not_configured")), "{body}");
    assert!(body["message"].as_str().unwrap().contains("openaiKey"), "{body}");

    let mock = MockLlm::start(MockOptions { prefix: "/v1".into(), ..MockOptions::default() }).await;
    settings(&s, json!({"aiProvider": "custom", "aiBaseUrl": mock.url(), "aiModel": "mock-small"})).await;
    let (status, body) = s.get("/api/ai/healthcheck").await;
    assert_eq!(status, 200, "{body}");
    let want = format!("works: model mock-small at {}/chat/completions", mock.base());
    assert!(body["result"].as_str().unwrap().starts_with(&want), "{body}");
    let (_, config) = s.get("/api/settings").await;
    assert_eq!(config["result"]["aiBaseUrlResolved"], mock.base());
    let (status, models) = s.get("/api/ai/models").await;
    assert_eq!(status, 200, "{models}");
    let ids: Vec<&str> =
        models["result"].as_array().unwrap().iter().map(|m| m["id"].as_str().unwrap()).collect();
    assert_eq!(ids, ["mock-large", "mock-small"]);

    // Nothing listens there: the message names the URL tried.
    settings(&s, json!({"aiBaseUrl": "http://127.0.0.1:9"})).await;
    let (status, body) = s.get("/api/ai/healthcheck").await;
    assert_eq!(status, 502, "{body}");
    assert!(body["message"].as_str().unwrap().contains("http://127.0.0.1:9"), "{body}");

    // A refused key is 502 ai_invalid_key, with the provider's own words; the key is never shown.
    let locked =
        MockLlm::start(MockOptions { api_key: Some("right".into()), ..MockOptions::default() }).await;
    settings(&s, json!({"aiProvider": "openai", "openaiKey": "sk-wrong-key", "aiBaseUrl": locked.base()}))
        .await;
    let (status, body) = s.get("/api/ai/healthcheck").await;
    assert_eq!((status, body["code"].as_str()), (502, Some("ai_invalid_key")), "{body}");
    let (_, config) = s.get("/api/settings").await;
    assert!(!config.to_string().contains("sk-wrong-key"));
    s.assert_no_node();
}

#[tokio::test]
async fn an_edit_streams_in_each_wire_format_and_the_prompt_carries_the_notebook() {
    let s = TestServer::start().await;
    let mock = MockLlm::start(MockOptions::default()).await;
    let (_, topic, mut ws) = notebook(
        &s,
        "typescript",
        UI_CAPS,
        &[("u", "util.ts", "export const two = 2;\n"), ("m", "main.ts", "console.log(1);\n")],
    )
    .await;
    let formats = [
        json!({"aiProvider": "openai", "openaiKey": "k1", "aiWireFormat": "chat_completions"}),
        json!({"aiProvider": "openai", "aiWireFormat": "responses"}),
        json!({"aiProvider": "anthropic", "anthropicKey": "k2"}),
        json!({"aiProvider": "Gemini", "geminiKey": "k3"}),
    ];
    for (n, patch) in formats.iter().enumerate() {
        let mut patch = patch.clone();
        patch["aiBaseUrl"] = json!(mock.base());
        patch["aiModel"] = json!("mock-large");
        settings(&s, patch.clone()).await;
        mock.push(Reply::text(["Here it is:\n```ts\nconsole.log(", "two * 21", ");\n```\n"]));
        let job = format!("edit-{n}");
        ws.send(&topic, "ai:generate", json!({"jobId": job, "cellId": "m", "prompt": "print 42 using two"}))
            .await;
        let frames = job_frames(&mut ws, &job, Duration::from_secs(20)).await;
        let (first, last) = (&frames[0], frames.last().unwrap());
        assert_eq!(first.0, "ai:started", "{frames:?}");
        assert!(first.1["prompt"]["user"].as_str().unwrap().contains("export const two = 2;"));
        assert_eq!(last.0, "ai:done", "{frames:?}");
        assert_eq!(last.1["output"], "console.log(two * 21);\n", "{patch}");
        assert!(deltas(&frames).contains("two * 21"));
        let sent = mock.last_request().json().to_string();
        assert!(sent.contains("print 42 using two") && sent.contains("util.ts"), "{sent}");
    }
    // Nothing was written: the cell is as it was.
    let session = s.session(&topic["session:".len()..]).await;
    assert_eq!(session["cells"][3]["source"], "console.log(1);\n");
}

#[tokio::test]
async fn the_stock_client_gets_ai_generated_and_errors_as_srcbook_shapes_them() {
    let s = TestServer::start().await;
    let mock = MockLlm::start(MockOptions::default()).await;
    settings(&s, json!({"aiProvider": "openai", "openaiKey": "k", "aiBaseUrl": mock.base()})).await;
    let (_, topic, mut ws) = notebook(&s, "javascript", &["errors"], &[("c", "a.js", "let x = 1\n")]).await;
    mock.push(Reply::text(["```js\nconst x = 1;\n```"]));
    ws.send(&topic, "ai:generate", json!({"cellId": "c", "prompt": "use const"})).await;
    let p = ws.recv_event("ai:generated").await;
    assert_eq!(p, json!({"cellId": "c", "output": "const x = 1;\n"}));
    mock.push(Reply::text(["```js\nconst x = 1; // fixed\n```"]));
    ws.send(&topic, "ai:fix_diagnostics", json!({"cellId": "c", "diagnostics": "1:5 oops"})).await;
    let p = ws.recv_event("ai:generated").await;
    assert_eq!(p["cellId"], "c");
    assert!(mock.last_request().json().to_string().contains("1:5 oops"));

    mock.push(Reply::error(404, "The model `nope` does not exist"));
    ws.send(&topic, "ai:generate", json!({"cellId": "c", "prompt": "x"})).await;
    let e = ws.recv_event("error").await;
    assert_eq!(
        (e["code"].as_str(), e["event"].as_str()),
        (Some("ai_unknown_model"), Some("ai:generate")),
        "{e}"
    );
    assert!(e["message"].as_str().unwrap().contains("does not exist"), "{e}");

    // Over HTTP: generate_cells answers decoded cells; generate imports a notebook.
    mock.push(Reply::text(["Intro text.\n\n###### sum.js\n\n```javascript\nconsole.log(1 + 1);\n```\n"]));
    let nb = &topic["session:".len()..];
    let (status, body) =
        s.post(&format!("/api/sessions/{nb}/generate_cells"), json!({"insertIdx": 3, "query": "add"})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["result"][1]["filename"], "sum.js", "{body}");
    assert_eq!(body["result"][1]["language"], "javascript");
    let doc = "# Sums\n\n###### package.json\n\n```json\n{\"type\": \"module\"}\n```\n\n###### s.ts\n\n```typescript\nconsole.log(2)\n```\n";
    mock.push(Reply::text([doc]));
    let (status, body) = s.post("/api/generate", json!({"query": "sums"})).await;
    assert_eq!(status, 200, "{body}");
    let session = s.session(body["id"].as_str().unwrap()).await;
    assert_eq!(session["cells"][0]["text"], "Sums");
    assert_eq!(session["language"], "typescript");
    s.assert_no_node();
}

#[tokio::test]
async fn stop_mid_stream_closes_the_upstream_connection() {
    let s = TestServer::start().await;
    let mock = MockLlm::start(MockOptions::default()).await;
    settings(&s, json!({"aiProvider": "openai", "openaiKey": "k", "aiBaseUrl": mock.base()})).await;
    let (_, topic, mut ws) = notebook(&s, "javascript", UI_CAPS, &[("c", "a.js", "1\n")]).await;
    let slow: Vec<String> = (0..200).map(|i| format!("chunk {i} ")).collect();
    mock.push(StreamScript::new(slow).split(Split::Every(64)).gap(Duration::from_millis(20)));
    ws.send(&topic, "ai:generate", json!({"jobId": "j", "cellId": "c", "prompt": "long"})).await;
    loop {
        let (_, e, _) = ws.recv().await;
        if e == "ai:delta" {
            break;
        }
    }
    ws.send(&topic, "ai:stop", json!({"jobId": "j"})).await;
    let frames = job_frames(&mut ws, "j", Duration::from_secs(5)).await;
    assert_eq!(frames.last().unwrap().1["code"], "ai_stopped");
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.closed_by_client() == 0 {
        assert!(Instant::now() < deadline, "the upstream connection stayed open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    // Closing the WebSocket cancels a running job too.
    mock.push(
        StreamScript::new((0..200).map(|i| format!("more {i} ")))
            .split(Split::Every(64))
            .gap(Duration::from_millis(20)),
    );
    ws.send(&topic, "ai:generate", json!({"jobId": "k", "cellId": "c", "prompt": "long"})).await;
    loop {
        let (_, e, _) = ws.recv().await;
        if e == "ai:delta" {
            break;
        }
    }
    drop(ws);
    let deadline = Instant::now() + Duration::from_secs(5);
    while mock.closed_by_client() < 2 {
        assert!(Instant::now() < deadline, "closing the socket left the upstream request open");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
}

async fn ts_server() -> TestServer {
    let ts = crate::tsserver::shared_typescript().await;
    let tmp = tempfile::tempdir().unwrap();
    let mut config = quire_server::Config::new(tmp.path().to_path_buf(), crate::common::TOKEN.into());
    config.disk_low_bytes = 0;
    let cache = tmp.path().join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&ts, cache.join(ts.file_name().unwrap())).unwrap();
    TestServer::start_with_node_in(config, tmp).await
}

#[tokio::test]
async fn the_fix_loop_checks_and_runs_each_proposal_on_a_scratch_copy_until_one_passes() {
    let s = ts_server().await;
    let mock = MockLlm::start(MockOptions::default()).await;
    settings(&s, json!({"aiProvider": "openai", "openaiKey": "k", "aiBaseUrl": mock.base()})).await;
    let broken = "const n: number = 'six';\nconsole.log(n);\n";
    let (id, topic, mut ws) = notebook(&s, "typescript", UI_CAPS, &[("c", "calc.ts", broken)]).await;
    mock.push(Reply::text(["```ts\nconst n: number = 'still a string';\nconsole.log(n);\n```"]));
    mock.push(Reply::text(["```ts\nconst n: number = 6;\nthrow new Error('boom at run time');\n```"]));
    mock.push(Reply::text(["```ts\nconst n: number = 6;\nconsole.log('n is', n);\n```"]));
    ws.send(&topic, "ai:fix_diagnostics", json!({"jobId": "fix", "cellId": "c", "maxSteps": 3})).await;
    let frames = job_frames(&mut ws, "fix", Duration::from_secs(120)).await;
    let steps: Vec<&Value> = frames.iter().filter(|(e, _)| e == "ai:step").map(|(_, p)| p).collect();
    assert_eq!(steps.len(), 3, "{frames:?}");
    assert!(!steps[0]["ok"].as_bool().unwrap() && !steps[0]["diagnostics"].as_array().unwrap().is_empty());
    assert!(steps[0]["diagnostics"][0].as_str().unwrap().contains("TS2322"), "{}", steps[0]);
    assert_eq!(steps[1]["diagnostics"], json!([]), "{}", steps[1]);
    assert_eq!(steps[1]["exitCode"], 1, "{}", steps[1]);
    assert!(steps[1]["output"].as_str().unwrap().contains("boom at run time"), "{}", steps[1]);
    assert_eq!(
        (steps[2]["ok"].as_bool(), steps[2]["exitCode"].as_i64()),
        (Some(true), Some(0)),
        "{}",
        steps[2]
    );
    assert!(steps[2]["output"].as_str().unwrap().contains("n is 6"));
    let (e, done) = frames.last().unwrap();
    assert_eq!((e.as_str(), done["ok"].as_bool(), done["steps"].as_u64()), ("ai:done", Some(true), Some(3)));
    assert!(done["output"].as_str().unwrap().contains("console.log('n is', n)"));
    // Each retry told the model what failed.
    let requests = mock.requests();
    let third = requests.last().unwrap().json().to_string();
    assert!(third.contains("TS2322") && third.contains("boom at run time"), "{third}");
    // The user's cell and file are untouched.
    assert_eq!(s.session(&id).await["cells"][2]["source"], broken);
    let on_disk = std::fs::read_to_string(s.notebook_dir(&id).join("src/calc.ts")).unwrap();
    assert_eq!(on_disk, broken);

    // Giving up after N: two proposals that never type-check.
    for _ in 0..2 {
        mock.push(Reply::text(["```ts\nconst n: number = 'no';\n```"]));
    }
    ws.send(&topic, "ai:fix_diagnostics", json!({"jobId": "fix2", "cellId": "c", "maxSteps": 2})).await;
    let frames = job_frames(&mut ws, "fix2", Duration::from_secs(120)).await;
    let (e, done) = frames.last().unwrap();
    assert_eq!(
        (e.as_str(), done["ok"].as_bool(), done["steps"].as_u64()),
        ("ai:done", Some(false), Some(2)),
        "{frames:?}"
    );
}

#[tokio::test]
async fn a_failing_provider_is_retried_then_its_breaker_opens_shows_in_health_and_recovers() {
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.ai_policy = quire_ai::Policy {
            retries: 1,
            base_delay: Duration::from_millis(5),
            max_delay: Duration::from_millis(20),
            breaker_failures: 2,
            breaker_cooldown: Duration::from_millis(300),
            ..quire_ai::Policy::default()
        };
    })
    .await;
    let mock = MockLlm::start(MockOptions::default()).await;
    settings(&s, json!({"aiProvider": "openai", "openaiKey": "k", "aiBaseUrl": mock.base()})).await;
    let (_, topic, mut ws) = notebook(&s, "javascript", UI_CAPS, &[("c", "a.js", "1\n")]).await;
    let mut ask = async |job: &str| {
        ws.send(&topic, "ai:generate", json!({"jobId": job, "cellId": "c", "prompt": "p"})).await;
        job_frames(&mut ws, job, Duration::from_secs(10)).await.pop().unwrap()
    };

    // A 500 then an answer: one job, two requests.
    mock.push(Reply::error(500, "overloaded"));
    mock.push(Reply::text(["```js\n2\n```"]));
    let (e, p) = ask("retry").await;
    assert_eq!((e.as_str(), p["output"].as_str()), ("ai:done", Some("2\n")), "{p}");
    assert_eq!(mock.requests().len(), 2);

    // Two jobs that fail after their retry open the breaker; the next is refused without a request.
    for n in 0..2 {
        mock.push(Reply::error(503, "down"));
        mock.push(Reply::error(503, "down"));
        let (e, p) = ask(&format!("fail{n}")).await;
        assert_eq!((e.as_str(), p["code"].as_str()), ("ai:failed", Some("ai_upstream_error")), "{p}");
    }
    let sent = mock.requests().len();
    let (e, p) = ask("refused").await;
    assert_eq!((e.as_str(), p["code"].as_str()), ("ai:failed", Some("ai_breaker_open")), "{p}");
    assert!(p["retryAfterMs"].as_u64().is_some(), "{p}");
    assert_eq!(mock.requests().len(), sent, "an open breaker sends nothing");
    let (_, health) = s.get("/health").await;
    assert_eq!(health["components"]["ai"], "degraded", "{health}");
    assert_eq!(health["ai"]["breakers"][0]["state"], "open", "{health}");
    assert!(!health.to_string().contains(&mock.base()), "/health is public: no provider URL in it");

    // After the cooldown one probe goes through; its answer closes the breaker.
    mock.push(Reply::text(["```js\n3\n```"]));
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut n = 0;
    loop {
        n += 1;
        let (e, p) = ask(&format!("probe{n}")).await;
        if e == "ai:done" {
            break;
        }
        assert_eq!(p["code"], "ai_breaker_open", "{p}");
        assert!(Instant::now() < deadline, "the breaker never let a probe through");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let (_, health) = s.get("/health").await;
    assert_eq!(health["components"]["ai"], "ok", "{health}");
    let (_, stats) = s.get("/api/admin/stats").await;
    let usage = &stats["ai"]["usage"][0];
    assert_eq!(
        (usage["provider"].as_str(), usage["requests"].as_u64()),
        (Some("openai"), Some(n as u64 + 4)),
        "{stats}"
    );
}
