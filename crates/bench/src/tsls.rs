//! `tsls`: the language service on a 30-cell TypeScript notebook, as a client sees it. One cell is edited
//! 50 times (`cell:update` → that cell's `tsserver:cell:diagnostics`), completions are requested 50 times
//! (request → reply, with and without inline details), and the tsserver's resident memory is read.

use crate::{Server, Socket, TOKEN, report, send};
use anyhow::{Context, bail};
use futures_util::StreamExt;
use serde_json::{Value, json};
use std::path::Path;
use std::time::{Duration, Instant};
use tokio_tungstenite::tungstenite::Message;

const CELLS: usize = 30;
const EDITED: usize = 10;

/// Next frame matching `pred` (tsserver's first project load can take seconds).
pub async fn wait(s: &mut Socket, mut pred: impl FnMut(&str, &Value) -> bool) -> anyhow::Result<Value> {
    loop {
        let msg = tokio::time::timeout(Duration::from_secs(60), s.next()).await?.context("closed")??;
        if let Message::Text(t) = msg {
            let v: Value = serde_json::from_str(t.as_str())?;
            let event = v[1].as_str().unwrap_or("");
            if pred(event, &v[2]) {
                return Ok(v[2].clone());
            }
            if event == "error" || event == "tsserver:error" {
                bail!("{event}: {}", v[2]);
            }
        }
    }
}

fn cell_source(i: usize, broken: bool) -> String {
    let mut s = String::new();
    if i > 0 && !i.is_multiple_of(5) {
        s.push_str(&format!("import {{ f{} }} from './c{}.ts';\n", i - 1, i - 1));
    }
    s.push_str(&format!(
        "/** Cell {i}. */\nexport const v{i}: number = {i};\nexport function f{i}(x: number): number {{\n  return x * 2 + v{i};\n}}\n"
    ));
    s.push_str("interface Point { x: number; y: number }\nexport const points: Point[] = [];\n");
    for k in 0..8 {
        s.push_str(&format!(
            "export function g{i}_{k}(p: Point): string {{ return `${{p.x + {k}}},${{p.y}}`; }}\n"
        ));
    }
    if broken {
        s.push_str(&format!("const wrong: string = v{i};\n"));
    }
    s
}

/// Resident memory of a tsserver working in `dir`, in MiB.
fn tsserver_rss(dir: &Path) -> Option<(u32, f64)> {
    let dir = dir.canonicalize().ok()?;
    for e in std::fs::read_dir("/proc").ok()?.flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        if std::fs::read_link(e.path().join("cwd")).ok().as_deref() != Some(&*dir) {
            continue;
        }
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if !String::from_utf8_lossy(&cmd).contains("tsserver.js") {
            continue;
        }
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        let kb: f64 =
            status.lines().find(|l| l.starts_with("VmRSS:"))?.split_whitespace().nth(1)?.parse().ok()?;
        return Some((pid, kb / 1024.0));
    }
    None
}

/// A server with the language service on, TypeScript from Quire's own cache (installed on first use).
pub async fn ts_server() -> anyhow::Result<Server> {
    // Quire's own TypeScript cache, shared between runs (installed by quire-tsls on first use).
    let cache = std::env::temp_dir().join("quire-bench-typescript");
    let installer = quire_tsls::Installer::new(cache);
    let t = Instant::now();
    installer.ensure().await.map_err(|e| anyhow::anyhow!("{e}"))?;
    println!("TypeScript {} ready in {:.0} ms", quire_tsls::TS_VERSION, t.elapsed().as_secs_f64() * 1000.0);
    crate::start_with(
        |data| {
            let link = quire_stdx::DataDir::new(data).cache();
            std::fs::create_dir_all(&link)?;
            std::os::unix::fs::symlink(
                installer.dir(),
                link.join(installer.dir().file_name().context("name")?),
            )?;
            Ok(())
        },
        true,
    )
    .await
}

pub async fn run(n: usize) -> anyhow::Result<()> {
    let s = ts_server().await?;
    let created = s.post("/api/srcbooks", json!({"name": "Bench", "language": "typescript"})).await?;
    let id = created["result"]["id"].as_str().context("id")?.to_string();
    let dir = created["result"]["path"].as_str().context("path")?.to_string();
    let topic = format!("session:{id}");
    let mut a = ws_with_caps(&s, &id, &["cells", "errors", "tsserver"]).await?;
    let started = Instant::now();
    for i in 0..CELLS {
        let cell = json!({"id": format!("c{i}"), "type": "code", "source": cell_source(i, false),
            "language": "typescript", "filename": format!("c{i}.ts"), "status": "idle"});
        send(&mut a, &topic, "cell:create", json!({"index": 2 + i, "cell": cell})).await?;
    }
    let probe = "import { f3 } from './c3.ts';\nconst n = f3(1);\nn.\n";
    let cell = json!({"id": "probe", "type": "code", "source": probe, "language": "typescript",
        "filename": "probe.ts", "status": "idle"});
    send(&mut a, &topic, "cell:create", json!({"index": 2 + CELLS, "cell": cell})).await?;
    let mut seen = std::collections::HashSet::new();
    while seen.len() < CELLS + 1 {
        let p = wait(&mut a, |e, _| e == "tsserver:cell:diagnostics").await?;
        seen.insert(p["cellId"].as_str().unwrap_or("").to_string());
    }
    println!(
        "first diagnostics for all {} cells: {:.0} ms",
        CELLS + 1,
        started.elapsed().as_secs_f64() * 1000.0
    );

    let edited = format!("c{EDITED}");
    let mut edits = Vec::with_capacity(n);
    for k in 0..n {
        let broken = k % 2 == 0;
        let t = Instant::now();
        let update = json!({"cellId": edited, "updates": {"source": cell_source(EDITED, broken)}});
        send(&mut a, &topic, "cell:update", update).await?;
        wait(&mut a, |e, p| {
            e == "tsserver:cell:diagnostics"
                && p["cellId"] == edited.as_str()
                && p["diagnostics"].as_array().is_some_and(|d| d.is_empty() != broken)
        })
        .await?;
        edits.push(t.elapsed());
    }
    report("cell:update -> that cell's diagnostics", edits);

    for (label, caps) in [("with details", &["tsserver"][..]), ("stock client", &[][..])] {
        let mut b = ws_with_caps(&s, &id, caps).await?;
        let mut comps = Vec::with_capacity(n);
        for k in 0..n {
            let rid = format!("r{k}");
            let t = Instant::now();
            let req = json!({"cellId": "probe", "request": {"location": {"line": 3, "offset": 2}}, "requestId": rid});
            send(&mut b, &topic, "tsserver:cell:completions:request", req).await?;
            let reply = wait(&mut b, |e, p| {
                e == "tsserver:cell:completions:response" && p["requestId"] == rid.as_str()
            })
            .await?;
            comps.push(t.elapsed());
            if reply["response"]["entries"]
                .as_array()
                .is_none_or(|e| !e.iter().any(|x| x["name"] == "toFixed"))
            {
                bail!("completions without toFixed: {reply}");
            }
        }
        report(&format!("completions request -> reply ({label})"), comps);
    }
    match tsserver_rss(Path::new(&dir)) {
        Some((pid, mib)) => println!("tsserver pid {pid}: RSS {mib:.1} MiB ({} cells)", CELLS + 1),
        None => println!("tsserver process not found"),
    }
    Ok(())
}

pub async fn ws_with_caps(s: &Server, notebook: &str, caps: &[&str]) -> anyhow::Result<Socket> {
    use tokio_tungstenite::tungstenite::client::IntoClientRequest;
    let mut req = format!("{}/websocket", s.base.replace("http://", "ws://")).into_client_request()?;
    req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse()?);
    let (mut sock, _) = tokio_tungstenite::connect_async_with_config(req, None, true).await?;
    let topic = format!("session:{notebook}");
    send(&mut sock, &topic, "subscribe", json!({"id": "b", "capabilities": caps})).await?;
    wait(&mut sock, |e, _| e == "subscribed").await?;
    Ok(sock)
}
