//! `exec`: cell:exec → first cell:output and → final cell:updated (idle), over the WebSocket, for a
//! trivial TypeScript and JavaScript cell on a warm notebook.

use crate::{Server, Socket, report, send, start};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

/// One run: (to first output, to idle).
async fn run_once(ws: &mut Socket, topic: &str, cell: &str) -> anyhow::Result<(Duration, Duration)> {
    let t = Instant::now();
    send(ws, topic, "cell:exec", json!({"cellId": cell})).await?;
    let mut first = None;
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(10), ws.next()).await?.context("closed")??;
        let Message::Text(text) = msg else { continue };
        let v: Value = serde_json::from_str(text.as_str())?;
        match v[1].as_str() {
            Some("cell:output") if first.is_none() => first = Some(t.elapsed()),
            Some("cell:updated") if v[2]["cell"]["status"] == "idle" => {
                let done = t.elapsed();
                if v[2]["exitCode"] != 0 {
                    bail!("run failed: {}", v[2]);
                }
                return Ok((first.context("no output")?, done));
            }
            Some("error") => bail!("error event: {}", v[2]),
            _ => {}
        }
    }
}

async fn notebook(s: &Server, lang: &str, file: &str) -> anyhow::Result<(Socket, String)> {
    let created = s.post("/api/srcbooks", json!({"name": "Bench", "language": lang})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let topic = format!("session:{id}");
    let mut ws = s.ws(&id).await?;
    let cell = json!({"id": "c", "type": "code", "source": "console.log(1)\n", "language": lang, "filename": file, "status": "idle"});
    send(&mut ws, &topic, "cell:create", json!({"index": 2, "cell": cell})).await?;
    crate::wait_for(&mut ws, "cell:created").await?;
    Ok((ws, topic))
}

pub async fn exec(n: usize) -> anyhow::Result<()> {
    let s = start().await?;
    for (lang, file) in [("typescript", "main.ts"), ("javascript", "main.js")] {
        let (mut ws, topic) = notebook(&s, lang, file).await?;
        let t = Instant::now();
        let (first, _) = run_once(&mut ws, &topic, "c").await?;
        println!(
            "{lang}: first run after opening the notebook: first output {:.1} ms",
            first.as_secs_f64() * 1e3
        );
        let _ = t;
        for _ in 0..20 {
            run_once(&mut ws, &topic, "c").await?;
        }
        let (mut firsts, mut dones) = (Vec::with_capacity(n), Vec::with_capacity(n));
        for _ in 0..n {
            let (f, d) = run_once(&mut ws, &topic, "c").await?;
            firsts.push(f);
            dones.push(d);
        }
        report(&format!("{lang} back-to-back: exec -> first output"), firsts);
        report(&format!("{lang} back-to-back: exec -> idle"), dones);
        let (mut firsts, mut dones) = (Vec::new(), Vec::new());
        for _ in 0..n.min(100) {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let (f, d) = run_once(&mut ws, &topic, "c").await?;
            firsts.push(f);
            dones.push(d);
        }
        report(&format!("{lang} paced 100 ms: exec -> first output"), firsts);
        report(&format!("{lang} paced 100 ms: exec -> idle"), dones);
    }
    Ok(())
}
