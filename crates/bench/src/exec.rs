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
    notebook_with(s, lang, file, "console.log(1)\n").await
}

async fn notebook_with(s: &Server, lang: &str, file: &str, source: &str) -> anyhow::Result<(Socket, String)> {
    let created = s.post("/api/srcbooks", json!({"name": "Bench", "language": lang})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let topic = format!("session:{id}");
    let mut ws = s.ws(&id).await?;
    let cell = json!({"id": "c", "type": "code", "source": source, "language": lang, "filename": file, "status": "idle"});
    send(&mut ws, &topic, "cell:create", json!({"index": 2, "cell": cell})).await?;
    crate::wait_for(&mut ws, "cell:created").await?;
    Ok((ws, topic))
}

/// `count` runs, back-to-back or with `pace` between them; prints both latencies under `label`.
async fn series(
    ws: &mut Socket,
    topic: &str,
    count: usize,
    pace: Option<Duration>,
    label: &str,
) -> anyhow::Result<()> {
    let (mut firsts, mut dones) = (Vec::with_capacity(count), Vec::with_capacity(count));
    for _ in 0..count {
        if let Some(p) = pace {
            tokio::time::sleep(p).await;
        }
        let (f, d) = run_once(ws, topic, "c").await?;
        firsts.push(f);
        dones.push(d);
    }
    report(&format!("{label}: exec -> first output"), firsts);
    report(&format!("{label}: exec -> idle"), dones);
    Ok(())
}

pub async fn exec(n: usize) -> anyhow::Result<()> {
    let s = start().await?;
    let pace = Some(Duration::from_millis(100));
    for (lang, file) in [("typescript", "main.ts"), ("javascript", "main.js")] {
        let (mut ws, topic) = notebook(&s, lang, file).await?;
        let (first, _) = run_once(&mut ws, &topic, "c").await?;
        let ms = first.as_secs_f64() * 1e3;
        println!("{lang}: first run right after opening (host still booting): first output {ms:.1} ms");
        series(&mut ws, &topic, 20, None, &format!("{lang} warm-up")).await?;
        series(&mut ws, &topic, n, None, &format!("{lang} back-to-back")).await?;
        series(&mut ws, &topic, n.min(100), pace, &format!("{lang} paced 100 ms")).await?;
    }
    // The path a run takes when its worker cannot be recycled (here: it leaves a global behind), so
    // every run starts on a pre-booted fresh worker.
    let (mut ws, topic) =
        notebook_with(&s, "javascript", "dirty.js", "globalThis.x = 1;\nconsole.log(1)\n").await?;
    series(&mut ws, &topic, 5, None, "fresh worker per run, warm-up").await?;
    series(&mut ws, &topic, n.min(100), pace, "fresh worker per run, paced 100 ms").await?;
    series(&mut ws, &topic, n.min(100), None, "fresh worker per run, back-to-back").await
}
