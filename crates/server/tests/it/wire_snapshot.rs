//! The bytes a stock Srcbook client sees: a scripted session over HTTP and two WebSocket connections
//! (one with Quire's capabilities, one without), recorded frame by frame and compared with
//! `snapshots/wire.txt`. Ids and timings are replaced by placeholders; everything else — event
//! names, key order, escaping — must stay byte-identical. `QUIRE_UPDATE_SNAPSHOTS=1` rewrites it.

use crate::common::{TestServer, Ws};
use serde_json::{Value, json};
use std::path::Path;

/// Keys whose values change between runs (times).
const VOLATILE: &[&str] = &["durationMs", "openedAt", "createdAt", "updatedAt", "installId"];

struct Recorder {
    lines: Vec<String>,
    ids: Vec<String>,
}

impl Recorder {
    fn id(&mut self, id: &str) {
        if !id.is_empty() && !self.ids.iter().any(|i| i == id) {
            self.ids.push(id.to_string());
        }
    }

    fn normalise(&self, text: &str) -> String {
        let mut text = text.to_string();
        for (n, id) in self.ids.iter().enumerate() {
            text = text.replace(id.as_str(), &format!("<id{n}>"));
        }
        let Ok(mut v) = serde_json::from_str::<Value>(&text) else { return text };
        fn walk(v: &mut Value) {
            match v {
                Value::Object(m) => {
                    for (k, x) in m.iter_mut() {
                        if VOLATILE.contains(&k.as_str()) && !x.is_null() {
                            *x = json!("<t>");
                        } else {
                            walk(x);
                        }
                    }
                }
                Value::Array(a) => a.iter_mut().for_each(walk),
                _ => {}
            }
        }
        walk(&mut v);
        v.to_string()
    }

    fn http(&mut self, what: &str, status: u16, body: &str) {
        let mut what = what.to_string();
        for (n, id) in self.ids.iter().enumerate() {
            what = what.replace(id.as_str(), &format!("<id{n}>"));
        }
        let line = format!("http {what} -> {status} {}", self.normalise(body));
        self.lines.push(line);
    }

    /// Everything `ws` received up to the answer to a ping sent now (frames are handled in order).
    /// After a run the `deps:validate:response` nudge comes at a time of its own: it is awaited and
    /// recorded last.
    async fn drain(&mut self, who: &str, ws: &mut Ws, topic: &str, mut nudges: usize) {
        ws.send(topic, "ping", json!({"requestId": "sync"})).await;
        let mut late = Vec::new();
        let mut synced = false;
        while !synced || nudges > 0 {
            let raw = next_text(ws).await;
            if raw.contains(r#""pong",{"requestId":"sync"}"#) {
                synced = true;
                continue;
            }
            let line = format!("{who} <- {}", self.normalise(&raw));
            if raw.contains("deps:validate:response") && nudges > 0 {
                nudges -= 1;
                late.push(line);
            } else {
                self.lines.push(line);
            }
        }
        self.lines.extend(late);
    }

    /// Frames up to a run's outcome (the status with `exitCode`); nudges are left for `drain`.
    async fn run(&mut self, ws: &mut Ws, pending: &mut Vec<String>) {
        loop {
            let raw = next_text(ws).await;
            if raw.contains("deps:validate:response") {
                pending.push(format!("a <- {}", self.normalise(&raw)));
                continue;
            }
            let done = raw.contains("\"exitCode\"");
            self.lines.push(format!("a <- {}", self.normalise(&raw)));
            if done {
                return;
            }
        }
    }
}

async fn next_text(ws: &mut Ws) -> String {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let msg = tokio::time::timeout(std::time::Duration::from_secs(20), ws.stream.next())
            .await
            .expect("timed out waiting for a frame")
            .expect("socket closed")
            .expect("socket error");
        if let Message::Text(t) = msg {
            return t.as_str().to_string();
        }
    }
}

async fn raw(s: &TestServer, method: &str, path: &str, body: Option<Value>) -> (u16, String) {
    let mut req = s.http.request(method.parse().unwrap(), s.url(path));
    if let Some(b) = body {
        req = req.json(&b);
    }
    let r = req.send().await.unwrap();
    (r.status().as_u16(), r.text().await.unwrap())
}

#[tokio::test]
async fn a_scripted_session_sends_the_same_bytes_as_before() {
    let s = TestServer::start_node().await;
    let mut rec = Recorder { lines: Vec::new(), ids: Vec::new() };

    let (st, body) =
        raw(&s, "POST", "/api/srcbooks", Some(json!({"name": "Snap", "language": "typescript"}))).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let path = v["result"]["path"].as_str().unwrap().to_string();
    rec.id(&path);
    rec.id(v["result"]["id"].as_str().unwrap());
    rec.http("POST /api/srcbooks", st, &body);
    let (st, body) = raw(&s, "POST", "/api/sessions", Some(json!({"path": path}))).await;
    let v: Value = serde_json::from_str(&body).unwrap();
    let id = v["result"]["id"].as_str().unwrap().to_string();
    rec.id(&id);
    for c in v["result"]["cells"].as_array().unwrap() {
        rec.id(c["id"].as_str().unwrap());
    }
    rec.http("POST /api/sessions", st, &body);
    let title_id = v["result"]["cells"][0]["id"].as_str().unwrap().to_string();
    for (m, p, b) in [
        ("GET", format!("/api/sessions/{id}"), None),
        ("GET", "/api/sessions/0123456789abcdef0123456789abcdef".to_string(), None),
        ("POST", "/api/sessions".to_string(), Some(json!({"path": 7}))),
        ("POST", "/api/srcbooks".to_string(), Some(json!({"name": "", "language": "cobol"}))),
        ("GET", "/api/nope".to_string(), None),
        ("GET", "/files/0123456789abcdef0123456789abcdef".to_string(), None),
        ("GET", "/files/nope/info".to_string(), None),
        ("POST", "/files".to_string(), Some(json!({}))),
        ("GET", "/files/by-extension/x".to_string(), None),
    ] {
        let (st, body) = raw(&s, m, &p, b).await;
        rec.http(&format!("{m} {p}"), st, &body);
    }

    let topic = format!("session:{id}");
    let mut a = s.ws().await;
    let mut b = s.ws().await;
    let sub = |caps: Value| json!({"id": "sub-1", "capabilities": caps});
    a.send(&topic, "subscribe", sub(json!(["errors", "cells"]))).await;
    b.send(&topic, "subscribe", sub(json!([]))).await;
    rec.drain("a", &mut a, &topic, 0).await;
    rec.drain("b", &mut b, &topic, 0).await;

    rec.id("c-new");
    let steps: Vec<(&str, &str, Value)> = vec![
        ("raw", "{", json!(null)),
        ("raw", r#"["session:x","cell:update"]"#, json!(null)),
        ("raw", r#"["chat:1","subscribe",{}]"#, json!(null)),
        ("ev", "no:such", json!({"requestId": 3})),
        ("ev", "cell:update", json!({"cellId": 5})),
        (
            "ev",
            "cell:create",
            json!({"index": 2, "cell": {"id": "c-new", "type": "code", "source": "console.log('hi');\n",
                "language": "typescript", "filename": "hi.ts", "status": "idle"}}),
        ),
        ("ev", "cell:update", json!({"cellId": "c-new", "updates": {"source": "console.log('hi', 2);\n"}})),
        ("ev", "cell:rename", json!({"cellId": "c-new", "filename": "../bad.ts"})),
        ("ev", "cell:rename", json!({"cellId": "c-new", "filename": "hello.ts"})),
        ("ev", "cell:update", json!({"cellId": "nope", "updates": {"source": "x"}})),
        ("run", "c-new", json!(null)),
        ("ev", "cell:stop", json!({"cellId": "c-new"})),
        ("ev", "cell:move", json!({"cellId": "c-new", "index": 1})),
        ("ev", "tsconfig.json:update", json!({"source": "{\"compilerOptions\":{\"strict\":true}}"})),
        ("ev", "deps:validate", json!({})),
        ("ev", "ai:generate", json!({"requestId": "g1"})),
        ("ev", "cell:exec", json!({"cellId": title_id.clone()})),
        ("ev", "cell:format", json!({"cellId": title_id.clone()})),
        ("ev", "cell:delete", json!({"cellId": "c-new"})),
        ("ev", "unsubscribe", json!({})),
    ];
    for (kind, what, payload) in steps {
        rec.lines.push(format!("-- {kind} {what} {}", rec.normalise(&payload.to_string())));
        let mut early = Vec::new();
        let runs = match kind {
            "raw" => {
                a.send_raw(what).await;
                0
            }
            "run" => {
                a.send(&topic, "cell:exec", json!({"cellId": what})).await;
                rec.run(&mut a, &mut early).await;
                1
            }
            _ => {
                a.send(&topic, what, payload).await;
                0
            }
        };
        rec.drain("a", &mut a, &topic, runs - early.len()).await;
        rec.lines.extend(early);
        rec.drain("b", &mut b, &topic, runs).await;
    }

    let file = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/it/snapshots/wire.txt");
    let got = rec.lines.join("\n") + "\n";
    if std::env::var_os("QUIRE_UPDATE_SNAPSHOTS").is_some() {
        std::fs::create_dir_all(file.parent().unwrap()).unwrap();
        std::fs::write(&file, &got).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&file).expect("snapshot missing: run with QUIRE_UPDATE_SNAPSHOTS=1");
    for (n, (g, w)) in got.lines().zip(want.lines()).enumerate() {
        assert_eq!(g, w, "line {} of {} differs", n + 1, file.display());
    }
    assert_eq!(got.lines().count(), want.lines().count(), "number of lines differs");
}
