//! `ai [N]`: what Quire adds around a model, with the provider played by `aimock` in this process so
//! the mock's clock and the client's are one clock:
//! 1. time to first token Quire adds: the mock writing the first answer byte → the client receiving
//!    the first `ai:delta`, over N edits (`ai:generate`);
//! 2. memory for one 5 MiB streamed answer (4 KiB chunks), see `aimem.rs`;
//! 3. the fix loop's own cost per step (language-service check, scratch run), model time excluded.

use crate::aimock::{Answer, Mock, Served};
use crate::{Server, Socket, report, send, tsls};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

pub const CAPS: &[&str] = &["errors", "cells", "ai"];
/// Edits before the measured ones (first connection to the provider, lazy initialisation).
const WARMUP: usize = 5;
const FIX_REPS: usize = 10;

/// One AI job as the client saw it; instants are taken as each frame comes off the socket.
pub struct Job {
    pub sent: Instant,
    pub first_delta: Option<Instant>,
    pub delta_bytes: usize,
    pub deltas: usize,
    pub steps: Vec<(Instant, Value)>,
    pub end: Instant,
    pub done: Value,
}

/// Point the server at the mock (the Chat Completions wire format, Quire's default for OpenAI).
pub async fn configure(s: &Server, mock: &Mock) -> anyhow::Result<()> {
    let settings = json!({"aiProvider": "openai", "openaiKey": "k", "aiBaseUrl": mock.base, "aiModel": "m"});
    s.post("/api/settings", settings).await?;
    Ok(())
}

/// A notebook with `cells` (id, filename, source) and a connection subscribed with `CAPS`.
pub async fn notebook(
    s: &Server,
    language: &str,
    cells: &[(&str, &str, &str)],
) -> anyhow::Result<(String, Socket)> {
    let created = s.post("/api/srcbooks", json!({"name": "AI bench", "language": language})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let topic = format!("session:{id}");
    let mut ws = tsls::ws_with_caps(s, &id, CAPS).await?;
    for (i, (cid, filename, source)) in cells.iter().enumerate() {
        let cell = json!({"id": cid, "type": "code", "source": source, "language": language,
            "filename": filename, "status": "idle"});
        send(&mut ws, &topic, "cell:create", json!({"index": 2 + i, "cell": cell})).await?;
    }
    // The server answers a ping after everything sent before it.
    send(&mut ws, &topic, "ping", json!({"requestId": "ready"})).await?;
    tsls::wait(&mut ws, |e, _| e == "pong").await?;
    Ok((topic, ws))
}

/// Send `event` for job `payload.jobId` and read its frames until `ai:done` (`ai:failed` is an error).
pub async fn job(ws: &mut Socket, topic: &str, event: &str, payload: Value) -> anyhow::Result<Job> {
    let id = payload["jobId"].as_str().context("jobId")?.to_string();
    let sent = Instant::now();
    send(ws, topic, event, payload).await?;
    let (mut first_delta, mut delta_bytes, mut deltas, mut steps) = (None, 0, 0, Vec::new());
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(120), ws.next()).await?.context("closed")??;
        let at = Instant::now();
        let Message::Text(t) = msg else { continue };
        let mut v: Value = serde_json::from_str(t.as_str())?;
        let (name, p) = (v[1].as_str().unwrap_or("").to_string(), v[2].take());
        if name == "error" {
            bail!("error event: {p}");
        }
        if !name.starts_with("ai:") || p["jobId"] != id.as_str() {
            continue;
        }
        match name.as_str() {
            "ai:delta" => {
                first_delta.get_or_insert(at);
                deltas += 1;
                delta_bytes += p["text"].as_str().map_or(0, str::len);
            }
            "ai:step" => steps.push((at, p)),
            "ai:done" => return Ok(Job { sent, first_delta, delta_bytes, deltas, steps, end: at, done: p }),
            "ai:failed" => bail!("job {id} failed: {p}"),
            _ => {}
        }
    }
}

pub async fn run(n: usize) -> anyhow::Result<()> {
    let cores = std::thread::available_parallelism().map_or(0, |c| c.get());
    println!("cores: {cores}, load average (1 min) at start: {}", crate::loadsrv::loadavg());
    let mock = Mock::start().await?;
    ttft(&mock, n).await?;
    crate::aimem::run(&mock).await?;
    fix_loop(&mock).await?;
    println!("load average (1 min) at end: {}", crate::loadsrv::loadavg());
    Ok(())
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Part 1: `ai:generate` N times on a one-cell notebook; the answer is three small SSE events.
async fn ttft(mock: &Mock, n: usize) -> anyhow::Result<()> {
    println!("\n1. time to first token Quire adds ({n} edits after {WARMUP} warm-up, language service off)");
    let s = crate::start().await?;
    configure(&s, mock).await?;
    let (topic, mut ws) = notebook(&s, "typescript", &[("c", "main.ts", "console.log(0);\n")]).await?;
    let mut added = Vec::with_capacity(n);
    let (mut to_mock, mut mock_own, mut client, mut total, mut reported) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for i in 0..WARMUP + n {
        let code = format!("console.log({i});\n");
        mock.push(Answer::new(["```ts\n", code.as_str(), "```\n"]));
        let before = mock.count();
        let payload = json!({"jobId": format!("e{i}"), "cellId": "c", "prompt": "log the counter"});
        let j = job(&mut ws, &topic, "ai:generate", payload).await?;
        let served: Served = mock.served(before + 1).await?[before];
        if j.done["output"] != code.as_str() {
            bail!("edit {i}: output {} instead of {code:?}", j.done["output"]);
        }
        if i < WARMUP {
            continue;
        }
        let first = j.first_delta.context("no ai:delta")?;
        added.push(first.saturating_duration_since(served.first_byte));
        to_mock.push(served.received.saturating_duration_since(j.sent));
        mock_own.push(served.first_byte.saturating_duration_since(served.received));
        client.push(first.saturating_duration_since(j.sent));
        total.push(j.end.saturating_duration_since(j.sent));
        reported.push(Duration::from_millis(j.done["firstTokenMs"].as_u64().unwrap_or(0)));
    }
    report("mock's first answer byte -> first ai:delta", added);
    report("  (send ai:generate -> mock has the request)", to_mock);
    report("  (mock: request read -> first byte)", mock_own);
    report("  (send ai:generate -> first ai:delta)", client);
    report("  (send ai:generate -> ai:done)", total);
    report("  (server's own firstTokenMs, whole ms)", reported);
    Ok(())
}

const BROKEN: &str = "const n: number = 'six';\nconsole.log(n);\n";
const STILL_BROKEN: &str = "```ts\nconst n: number = 'still a string';\nconsole.log(n);\n```\n";
const FIXED: &str = "```ts\nconst n: number = 6;\nconsole.log('n is', n);\n```\n";

/// Per fix job, each span in ms (see `fix_loop`).
#[derive(Default)]
struct FixSpans {
    wall: Vec<Duration>,
    model: Vec<Duration>,
    overhead: Vec<Duration>,
    before_first_request: Vec<Duration>,
    check: Vec<Duration>,
    between: Vec<Duration>,
    check_and_run: Vec<Duration>,
    run_estimate: Vec<Duration>,
    after_last_step: Vec<Duration>,
}

/// Part 3: `ai:fix_diagnostics` with two instant proposals, one with a type error (step 1: checked
/// only), one that passes (step 2: checked, then run in the sandbox).
async fn fix_loop(mock: &Mock) -> anyhow::Result<()> {
    println!("\n3. fix loop, 2 steps, instant mock ({FIX_REPS} jobs after 1 cold one)");
    let s = tsls::ts_server().await?;
    configure(&s, mock).await?;
    let (topic, mut ws) = notebook(&s, "typescript", &[("c", "calc.ts", BROKEN)]).await?;
    // The tsserver is up once the cell's diagnostics are out.
    tsls::wait(&mut ws, |e, p| e == "tsserver:cell:diagnostics" && p["cellId"] == "c").await?;
    let mut spans = FixSpans::default();
    for r in 0..=FIX_REPS {
        mock.push(Answer::new([STILL_BROKEN]));
        mock.push(Answer::new([FIXED]));
        let before = mock.count();
        let payload = json!({"jobId": format!("fix{r}"), "cellId": "c", "maxSteps": 2});
        let j = job(&mut ws, &topic, "ai:fix_diagnostics", payload).await?;
        let served = mock.served(before + 2).await?;
        let (m1, m2) = (served[before], served[before + 1]);
        check_fix(&j)?;
        let (s1, s2) = (j.steps[0].0, j.steps[1].0);
        let wall = j.end - j.sent;
        let model = (m1.last_byte - m1.received) + (m2.last_byte - m2.received);
        let check = s1.saturating_duration_since(m1.last_byte);
        let check_and_run = s2.saturating_duration_since(m2.last_byte);
        if r == 0 {
            println!(
                "cold job (first check on a fresh tsserver): wall {:.3} ms, step 1 check {:.3} ms, step 2 check + run {:.3} ms",
                ms(wall),
                ms(check),
                ms(check_and_run)
            );
            continue;
        }
        spans.wall.push(wall);
        spans.model.push(model);
        spans.overhead.push(wall.saturating_sub(model));
        spans.before_first_request.push(m1.received.saturating_duration_since(j.sent));
        spans.check.push(check);
        spans.between.push(m2.received.saturating_duration_since(s1));
        spans.check_and_run.push(check_and_run);
        spans.run_estimate.push(check_and_run.saturating_sub(check));
        spans.after_last_step.push(j.end.saturating_duration_since(s2));
    }
    report("whole ai:fix_diagnostics job (wall)", spans.wall);
    report("  mock answering (request read -> last byte)", spans.model);
    report("wall - model = Quire's overhead per job", spans.overhead);
    report("  send -> 1st request (first check, prompt)", spans.before_first_request);
    report("  step 1: answer end -> ai:step (check)", spans.check);
    report("  ai:step 1 -> 2nd request at the mock", spans.between);
    report("  step 2: answer end -> ai:step (check+run)", spans.check_and_run);
    report("  step 2 - step 1 = scratch run (estimate)", spans.run_estimate);
    report("  ai:step 2 -> ai:done", spans.after_last_step);
    Ok(())
}

fn check_fix(j: &Job) -> anyhow::Result<()> {
    let [(_, a), (_, b)] = j.steps.as_slice() else { bail!("{} ai:step frames, not 2", j.steps.len()) };
    if a["ok"] != false
        || a["diagnostics"].as_array().is_none_or(|d| d.is_empty())
        || a["exitCode"] != Value::Null
    {
        bail!("step 1 should fail the check without running: {a}");
    }
    if b["ok"] != true || b["exitCode"] != 0 || !b["output"].as_str().unwrap_or("").contains("n is 6") {
        bail!("step 2 should pass and run: {b}");
    }
    if j.done["ok"] != true || j.done["steps"] != 2 {
        bail!("the job should pass in 2 steps: {}", j.done);
    }
    Ok(())
}
