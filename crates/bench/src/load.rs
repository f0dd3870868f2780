//! `load [--secs 60] [--sessions 1000] [--notebooks 50] [--editors 100] [--edit-ms 1000]
//! [--http-clients 50] [--http-ms 50]`: a release server in its own process on loopback; `sessions`
//! WebSocket connections each subscribed to one of `notebooks` notebooks, `editors` of them sending a
//! `cell:update` + `ping` every `edit-ms` and awaiting the `pong` (the server answers it once the edit is
//! durable and broadcast); every subscriber times the `cell:updated` broadcasts it receives; `http-clients`
//! concurrent clients read the API (`/api/sessions`, one session, its export, `/health`) with `http-ms`
//! of think time between requests. Latencies are measured over `secs` after every session is connected.

use super::loadsrv::{Samples, Spawned, check_fd_limit, loadavg, opt};
use super::{Socket, TOKEN};
use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::{Semaphore, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

struct Opts {
    secs: u64,
    sessions: usize,
    notebooks: usize,
    editors: usize,
    edit_ms: u64,
    http_clients: usize,
    http_ms: u64,
}

/// What every task reports into.
struct Stats {
    /// Common clock: edit sources carry microseconds since `t0`, so receivers can time broadcasts.
    t0: Instant,
    ack: Mutex<Samples>,
    broadcast: Mutex<Samples>,
    http: Mutex<Vec<(&'static str, Samples)>>,
    errors: AtomicU64,
    first_errors: Mutex<Vec<String>>,
}

impl Stats {
    fn error(&self, what: String) {
        self.errors.fetch_add(1, Ordering::Relaxed);
        let mut first = quire_stdx::lock(&self.first_errors);
        if first.len() < 10 {
            first.push(what);
        }
    }

    fn http(&self, route: &'static str, d: Duration) {
        let mut all = quire_stdx::lock(&self.http);
        match all.iter_mut().find(|(r, _)| *r == route) {
            Some((_, s)) => s.push(d),
            None => {
                let mut s = Samples::default();
                s.push(d);
                all.push((route, s));
            }
        }
    }
}

/// The measurement phase: `Some(true)` while measuring, `Some(false)` once over.
type Phase = watch::Receiver<Option<bool>>;

async fn connect(base: &str, notebook: &str) -> anyhow::Result<Socket> {
    let mut req = format!("{}/websocket", base.replace("http://", "ws://")).into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse()?);
    let (mut s, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let sub = json!([format!("session:{notebook}"), "subscribe", {"id": "load", "capabilities": ["errors"]}]);
    s.send(Message::Text(sub.to_string().into())).await?;
    super::wait_for(&mut s, "subscribed").await?;
    Ok(s)
}

/// Microseconds since `t0` written into an edit (`// t=<us>`), read back from a broadcast.
fn stamp_of(v: &Value) -> Option<u64> {
    v[2]["cell"]["source"].as_str()?.strip_prefix("// t=")?.trim().parse().ok()
}

/// One session: subscribe, then (editors) edit + ping on a timer, and time whatever comes back.
async fn session(
    base: String,
    notebook: String,
    editor: Option<Duration>,
    jitter: f64,
    stats: Arc<Stats>,
    mut phase: Phase,
    connected: Arc<Semaphore>,
) {
    let s = connect(&base, &notebook).await;
    connected.add_permits(1);
    let mut s = match s {
        Ok(s) => s,
        Err(e) => return stats.error(format!("connect: {e:#}")),
    };
    let topic = format!("session:{notebook}");
    let _ = phase.wait_for(|p| p.is_some()).await;
    // Spread the editors' first edits over one interval.
    let mut next_edit = tokio::time::Instant::now() + editor.unwrap_or_default().mul_f64(jitter);
    let mut pending: Option<(u64, Instant)> = None;
    let mut seq = 0u64;
    loop {
        let measuring = *phase.borrow() == Some(true);
        if !measuring {
            break;
        }
        // A pong missing for 5 s is an error (the deadline does not move with other frames arriving).
        let pong_deadline = pending.map_or(next_edit, |(_, sent)| (sent + Duration::from_secs(5)).into());
        tokio::select! {
            _ = tokio::time::sleep_until(next_edit), if editor.is_some() && pending.is_none() => {
                seq += 1;
                let at = stats.t0.elapsed().as_micros() as u64;
                let edit = json!([topic, "cell:update", {"cellId": "c1", "updates": {"source": format!("// t={at}\n")}}]);
                let ping = json!([topic, "ping", {"requestId": seq}]);
                let sent = Instant::now();
                if let Err(e) = s.send(Message::Text(edit.to_string().into())).await {
                    stats.error(format!("send edit: {e}"));
                    return;
                }
                if let Err(e) = s.send(Message::Text(ping.to_string().into())).await {
                    stats.error(format!("send ping: {e}"));
                    return;
                }
                pending = Some((seq, sent));
            }
            _ = tokio::time::sleep_until(pong_deadline), if pending.is_some() => {
                stats.error("no pong within 5 s".into());
                pending = None;
            }
            msg = s.next() => match msg {
                Some(Ok(Message::Text(t))) => {
                    let Ok(v) = serde_json::from_str::<Value>(t.as_str()) else {
                        stats.error("unparsable frame".into());
                        continue;
                    };
                    match v[1].as_str() {
                        Some("pong") => {
                            if let Some((id, sent)) = pending
                                && v[2]["requestId"] == id
                            {
                                quire_stdx::lock(&stats.ack).push(sent.elapsed());
                                pending = None;
                                next_edit += editor.unwrap_or_default();
                            }
                        }
                        Some("cell:updated") => {
                            if let Some(at) = stamp_of(&v) {
                                let d = stats.t0.elapsed().saturating_sub(Duration::from_micros(at));
                                quire_stdx::lock(&stats.broadcast).push(d);
                            }
                        }
                        Some("error" | "cell:error") => stats.error(format!("ws error event: {}", v[2])),
                        _ => {}
                    }
                }
                Some(Ok(Message::Close(_))) | None => {
                    stats.error("server closed the WebSocket".into());
                    return;
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => {
                    stats.error(format!("ws read: {e}"));
                    return;
                }
            },
            _ = phase.changed() => {}
        }
    }
    let _ = s.close(None).await;
}

/// One HTTP client: a fixed rotation of reads with think time between them.
async fn http_client(
    n: usize,
    srv: (String, reqwest::Client),
    ids: Arc<Vec<String>>,
    think: Duration,
    stats: Arc<Stats>,
    mut phase: Phase,
) {
    let (base, http) = srv;
    let _ = phase.wait_for(|p| p.is_some()).await;
    let mut i = n;
    while *phase.borrow() == Some(true) {
        i += 1;
        let id = &ids[i % ids.len()];
        let (route, url): (&'static str, String) = match i % 4 {
            0 => ("GET /api/sessions", format!("{base}/api/sessions")),
            1 => ("GET /api/sessions/:id", format!("{base}/api/sessions/{id}")),
            2 => ("GET /api/sessions/:id/export-text", format!("{base}/api/sessions/{id}/export-text")),
            _ => ("GET /health", format!("{base}/health")),
        };
        let t = Instant::now();
        let result = async {
            let r = http.get(&url).send().await?;
            let status = r.status();
            r.bytes().await?;
            anyhow::Ok(status)
        }
        .await;
        match result {
            Ok(st) if st.is_success() => stats.http(route, t.elapsed()),
            Ok(st) => stats.error(format!("{route}: {st}")),
            Err(e) => stats.error(format!("{route}: {e:#}")),
        }
        tokio::time::sleep(think).await;
    }
}

/// Notebooks with one code cell `c1` each.
async fn notebooks(srv: &Spawned, n: usize) -> anyhow::Result<Vec<String>> {
    let mut ids = Vec::with_capacity(n);
    for i in 0..n {
        let r = srv
            .http
            .post(format!("{}/api/srcbooks", srv.base))
            .json(&json!({"name": format!("Load {i}"), "language": "typescript"}))
            .send()
            .await?;
        let v: Value = r.json().await?;
        let id = v["result"]["id"].as_str().with_context(|| format!("create notebook: {v}"))?.to_string();
        let mut s = connect(&srv.base, &id).await?;
        let topic = format!("session:{id}");
        let cell = json!({"id": "c1", "type": "code", "source": "", "language": "typescript", "filename": "main.ts", "status": "idle"});
        s.send(Message::Text(json!([topic, "cell:create", {"index": 2, "cell": cell}]).to_string().into()))
            .await?;
        s.send(Message::Text(json!([topic, "ping", {"requestId": 1}]).to_string().into())).await?;
        super::wait_for(&mut s, "pong").await?;
        s.close(None).await?;
        ids.push(id);
    }
    Ok(ids)
}

pub async fn run(args: &[String]) -> anyhow::Result<()> {
    let o = Opts {
        secs: opt(args, "--secs", 60)?,
        sessions: opt(args, "--sessions", 1000)?,
        notebooks: opt(args, "--notebooks", 50)?,
        editors: opt(args, "--editors", 100)?,
        edit_ms: opt(args, "--edit-ms", 1000)?,
        http_clients: opt(args, "--http-clients", 50)?,
        http_ms: opt(args, "--http-ms", 50)?,
    };
    check_fd_limit((o.sessions + o.http_clients) as u64 + 256)?;
    let srv = Spawned::start().await?;
    let ids = Arc::new(notebooks(&srv, o.notebooks.max(1)).await?);
    let stats = Arc::new(Stats {
        t0: Instant::now(),
        ack: Default::default(),
        broadcast: Default::default(),
        http: Default::default(),
        errors: AtomicU64::new(0),
        first_errors: Default::default(),
    });
    let (go, phase) = watch::channel(None);
    let connected = Arc::new(Semaphore::new(0));
    let t = Instant::now();
    let mut tasks = Vec::new();
    for i in 0..o.sessions {
        let editor = (i < o.editors).then(|| Duration::from_millis(o.edit_ms));
        let args = (srv.base.clone(), ids[i % ids.len()].clone(), stats.clone(), phase.clone());
        let jitter = (i as f64 * 0.618_034).fract();
        tasks.push(tokio::spawn(session(args.0, args.1, editor, jitter, args.2, args.3, connected.clone())));
        // Connect in waves of 100 (the listen backlog is finite too).
        if i % 100 == 99 {
            let _ = connected.acquire_many(100).await.map(|p| p.forget());
        }
    }
    let _ = connected.acquire_many((o.sessions % 100) as u32).await.map(|p| p.forget());
    let connect_time = t.elapsed();
    let (idle_rss, _) = srv.rss_kib();
    for n in 0..o.http_clients {
        let srv_ = (srv.base.clone(), srv.http.clone());
        let think = Duration::from_millis(o.http_ms);
        tasks.push(tokio::spawn(http_client(n, srv_, ids.clone(), think, stats.clone(), phase.clone())));
    }
    let cpu0 = srv.cpu_secs();
    let load0 = loadavg();
    let _ = go.send(Some(true));
    let started = Instant::now();
    let mut peak = idle_rss;
    while started.elapsed() < Duration::from_secs(o.secs) {
        tokio::time::sleep(Duration::from_millis(200)).await;
        peak = peak.max(srv.rss_kib().0);
    }
    let _ = go.send(Some(false));
    let secs = started.elapsed().as_secs_f64();
    let cpu = srv.cpu_secs() - cpu0;
    let load1 = loadavg();
    for t in tasks {
        let _ = t.await;
    }
    let (end_rss, hwm) = srv.rss_kib();

    println!(
        "load: {} WebSocket sessions on {} notebooks ({} editing every {} ms), {} HTTP clients ({} ms think \
         time), {secs:.1} s; server in its own process on 127.0.0.1 (release), driver in this one; 2-core \
         machine shared by both",
        o.sessions,
        ids.len(),
        o.editors.min(o.sessions),
        o.edit_ms,
        o.http_clients,
        o.http_ms
    );
    println!("  {} sessions connected and subscribed in {:.2} s", o.sessions, connect_time.as_secs_f64());
    println!("  machine load average (1 min) at start {load0}, at end {load1}");
    let mut ack = std::mem::take(&mut *quire_stdx::lock(&stats.ack));
    let mut bc = std::mem::take(&mut *quire_stdx::lock(&stats.broadcast));
    let mut http = std::mem::take(&mut *quire_stdx::lock(&stats.http));
    ack.print("ws cell:update -> pong (durable)", secs);
    bc.print("ws cell:update -> cell:updated", secs);
    let mut all_http = Samples::default();
    http.sort_by_key(|(r, _)| *r);
    for (route, s) in &mut http {
        all_http.0.extend_from_slice(&s.0);
        s.print(route, secs);
    }
    all_http.print("HTTP (all routes)", secs);
    let mut all = Samples(ack.0.iter().chain(&bc.0).chain(&all_http.0).copied().collect());
    all.print("everything", secs);
    let errors = stats.errors.load(Ordering::Relaxed);
    println!("  errors: {errors}");
    for e in quire_stdx::lock(&stats.first_errors).iter() {
        println!("    {e}");
    }
    println!(
        "  server RSS (/proc/{}/status, server process only): {:.1} MiB idle with every session \
         connected, {:.1} MiB peak sampled, {:.1} MiB at the end, VmHWM {:.1} MiB; server CPU {:.0}% of one core",
        srv.child.id(),
        idle_rss as f64 / 1024.0,
        peak as f64 / 1024.0,
        end_rss as f64 / 1024.0,
        hwm as f64 / 1024.0,
        cpu * 100.0 / secs
    );
    let pass = all.p(0.95) < 20.0 && all.p(0.99) < 50.0 && errors == 0;
    println!("  targets p95 < 20 ms, p99 < 50 ms, 0 errors: {}", if pass { "met" } else { "MISSED" });
    srv.stop();
    if errors > 0 {
        bail!("{errors} errors");
    }
    Ok(())
}
