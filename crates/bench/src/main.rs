//! `cargo run --release -p quire-bench -- [edit|http|codec|exec|files|tsls|ai|load|load-uploads] [N]`:
//! starts the real server on 127.0.0.1:0 in a temp dir and prints latency percentiles measured exactly as a client sees them.

mod ai;
mod aimem;
mod aimock;
mod exec;
mod mcp;
mod tsls;

use anyhow::{Context, bail};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod files;
mod load;
mod loadsrv;
mod uploads;

const TOKEN: &str = "bench-token-0123456789abcdef";

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

struct Server {
    base: String,
    http: reqwest::Client,
    /// The data dir, when this process owns the server.
    _tmp: Option<tempfile::TempDir>,
}

async fn start() -> anyhow::Result<Server> {
    start_with(|_| Ok(()), false).await
}

/// Start with `prepare` run on the data dir first.
async fn start_with(
    prepare: impl FnOnce(&std::path::Path) -> anyhow::Result<()>,
    language_service: bool,
) -> anyhow::Result<Server> {
    quire_server::install_crypto_provider();
    let tmp = tempfile::tempdir()?;
    prepare(tmp.path())?;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let mut config = quire_server::Config::new(tmp.path().into(), TOKEN.into());
    config.language.enabled = language_service;
    tokio::spawn(quire_server::serve(config, listener, std::future::pending()));
    let mut h = reqwest::header::HeaderMap::new();
    h.insert("authorization", format!("Bearer {TOKEN}").parse()?);
    let http = reqwest::Client::builder().default_headers(h).build()?;
    let base = format!("http://{addr}");
    for _ in 0..500 {
        if http.get(format!("{base}/ready")).send().await.is_ok_and(|r| r.status() == 200) {
            return Ok(Server { base, http, _tmp: Some(tmp) });
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    bail!("server never became ready")
}

impl Server {
    async fn post(&self, path: &str, body: Value) -> anyhow::Result<Value> {
        let r = self.http.post(format!("{}{path}", self.base)).json(&body).send().await?;
        let status = r.status();
        let v: Value = r.json().await?;
        if !status.is_success() {
            bail!("{path}: {status} {v}");
        }
        Ok(v)
    }

    async fn ws(&self, notebook: &str) -> anyhow::Result<Socket> {
        let mut req = format!("{}/websocket", self.base.replace("http://", "ws://")).into_client_request()?;
        req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse()?);
        // Nagle off on the client too, or a small frame can wait for a delayed ACK.
        let (mut s, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
        let topic = format!("session:{notebook}");
        send(&mut s, &topic, "subscribe", json!({"id": "b", "capabilities": ["cells", "errors"]})).await?;
        wait_for(&mut s, "subscribed").await?;
        Ok(s)
    }
}

async fn send(s: &mut Socket, topic: &str, event: &str, payload: Value) -> anyhow::Result<()> {
    s.send(Message::Text(json!([topic, event, payload]).to_string().into())).await?;
    Ok(())
}

async fn wait_for(s: &mut Socket, event: &str) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(5), s.next()).await?.context("closed")??;
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str())?;
            if v[1] == event {
                return Ok(v[2].clone());
            }
            if v[1] == "error" {
                bail!("error event: {}", v[2]);
            }
        }
    }
}

fn report(name: &str, mut samples: Vec<Duration>) {
    samples.sort();
    let pct = |p: f64| {
        let i = ((samples.len() as f64 - 1.0) * p).round() as usize;
        samples[i].as_secs_f64() * 1000.0
    };
    println!(
        "{name:<44} n={:<5} p50={:>8.3} ms  p90={:>8.3} ms  p99={:>8.3} ms  max={:>8.3} ms",
        samples.len(),
        pct(0.5),
        pct(0.9),
        pct(0.99),
        pct(1.0)
    );
}

/// cell:update from one tab until the other tab sees cell:updated (persisted first).
async fn edit(n: usize) -> anyhow::Result<()> {
    let s = start().await?;
    let created = s.post("/api/srcbooks", json!({"name": "Bench", "language": "typescript"})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let topic = format!("session:{id}");
    let mut a = s.ws(&id).await?;
    let mut b = s.ws(&id).await?;
    let cell = json!({"id": "c1", "type": "code", "source": "", "language": "typescript", "filename": "main.ts", "status": "idle"});
    send(&mut a, &topic, "cell:create", json!({"index": 2, "cell": cell})).await?;
    wait_for(&mut b, "cell:created").await?;
    let mut code = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        let source = format!("console.log({i});\n");
        send(&mut a, &topic, "cell:update", json!({"cellId": "c1", "updates": {"source": source}})).await?;
        wait_for(&mut b, "cell:updated").await?;
        code.push(t.elapsed());
    }
    report("ws cell:update (code) -> other tab", code);
    let md = json!({"id": "m1", "type": "markdown", "text": "x"});
    send(&mut a, &topic, "cell:create", json!({"index": 2, "cell": md})).await?;
    wait_for(&mut b, "cell:created").await?;
    let mut mds = Vec::with_capacity(n);
    for i in 0..n {
        let t = Instant::now();
        send(
            &mut a,
            &topic,
            "cell:update",
            json!({"cellId": "m1", "updates": {"text": format!("para {i}")}}),
        )
        .await?;
        wait_for(&mut b, "cell:updated").await?;
        mds.push(t.elapsed());
    }
    report("ws cell:update (markdown, README) -> other tab", mds);
    Ok(())
}

/// HTTP round trips: session get, create, import + export.
async fn http(n: usize) -> anyhow::Result<()> {
    let s = start().await?;
    let created = s.post("/api/srcbooks", json!({"name": "Bench", "language": "typescript"})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let mut get = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        s.http.get(format!("{}/api/sessions/{id}", s.base)).send().await?.bytes().await?;
        get.push(t.elapsed());
    }
    report("GET /api/sessions/:id", get);
    let mut create = Vec::with_capacity(n);
    for _ in 0..n.min(200) {
        let t = Instant::now();
        s.post("/api/srcbooks", json!({"name": "B", "language": "javascript"})).await?;
        create.push(t.elapsed());
    }
    report("POST /api/srcbooks (durable create)", create);
    Ok(())
}

/// Decode and encode throughput of the codec on a generated 40-cell notebook.
fn codec(n: usize) -> anyhow::Result<()> {
    let mut text = String::from(
        "<!-- srcbook:{\"language\":\"typescript\"} -->\n\n# Bench\n\n###### package.json\n\n```json\n{}\n```\n\n",
    );
    for i in 0..40 {
        text.push_str(&format!(
            "## Part {i}\n\nSome *prose* with a [link](http://x) and `code`.\n\n- a\n- b\n\n"
        ));
        text.push_str(&format!(
            "###### cell{i}.ts\n\n```typescript\n{}```\n\n",
            "export const x: number = 1;\n".repeat(20)
        ));
    }
    let text = format!("{}\n", text.trim_end());
    let mut dec = Vec::with_capacity(n);
    let mut enc = Vec::with_capacity(n);
    for _ in 0..n {
        let t = Instant::now();
        let nb = srcmd::decode(&text).map_err(|e| anyhow::anyhow!("{e}"))?;
        dec.push(t.elapsed());
        let t = Instant::now();
        let out = srcmd::encode(&nb, srcmd::Form::Inline);
        enc.push(t.elapsed());
        if out != text {
            bail!("round trip changed the document");
        }
    }
    println!("document: {} KiB, 81 cells", text.len() / 1024);
    report("srcmd::decode", dec);
    report("srcmd::encode (inline)", enc);
    Ok(())
}

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let what = args.first().map(String::as_str).unwrap_or("all");
    let named_options = matches!(what, "load" | "load-uploads" | "serve-load");
    let n: usize = args.get(1).filter(|_| !named_options).map(|s| s.parse()).transpose()?.unwrap_or(500);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match what {
        "edit" => rt.block_on(edit(n)),
        "http" => rt.block_on(http(n)),
        "codec" => codec(n),
        // 50 edits unless told otherwise (the language service is slower than the codec).
        "tsls" => rt.block_on(tsls::run(if args.len() > 1 { n } else { 50 })),
        "exec" => rt.block_on(exec::exec(n)),
        // 200 edits unless told otherwise; see ai.rs.
        "ai" => rt.block_on(ai::run(if args.len() > 1 { n } else { 200 })),
        // 200 calls per mode unless told otherwise; see mcp.rs.
        "mcp" => rt.block_on(mcp::run(if args.len() > 1 { n } else { 200 })),
        // `files [MiB]`: the file store (default 100 MiB).
        "files" => rt.block_on(files::run(args.get(1).map(|s| s.parse()).transpose()?.unwrap_or(100))),
        // `load [--secs 60] [--sessions 1000] …` and `load-uploads [--count 1000]`: see load.rs, uploads.rs.
        "load" => rt.block_on(load::run(&args[1..])),
        "load-uploads" => rt.block_on(uploads::run(&args[1..])),
        "serve-load" => rt.block_on(loadsrv::serve_child(std::path::Path::new(args.get(1).context("dir")?))),
        "all" => {
            codec(n)?;
            rt.block_on(http(n))?;
            rt.block_on(edit(n))?;
            rt.block_on(exec::exec(n))
        }
        other => bail!(
            "unknown benchmark '{other}' (edit, http, codec, exec, files, tsls, ai, mcp, load, load-uploads, all)"
        ),
    }
}
