//! SIGKILL while notebooks are being edited, 20 times, with the real binary. After every restart each
//! notebook still loads (none in `/health`'s failed list), and each edit the server acknowledged (a
//! `pong` after it) is there — or a later one sent after it; no torn or mixed state.

use common::Server;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::path::Path;
use std::process::Command;
use std::time::Duration;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::client::IntoClientRequest;

mod common;

const TOKEN: &str = "kill-edits-token-0123456789";
const ROUNDS: u64 = 20;

async fn start(data: &Path) -> (Server, String) {
    let (server, addr) = common::serve(data, TOKEN, &["--rate-limit", "0", "--no-language-service"]);
    common::wait_ready(&addr).await;
    (server, addr)
}

async fn api(http: &reqwest::Client, method: reqwest::Method, url: String, body: Option<Value>) -> Value {
    let mut req = http.request(method, url).header("authorization", format!("Bearer {TOKEN}"));
    if let Some(b) = body {
        req = req.json(&b);
    }
    req.send().await.unwrap().json().await.unwrap()
}

type Socket = tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

/// Per cell: every source sent, in order, and how many of them were acknowledged.
#[derive(Default, Clone)]
struct History {
    sent: Vec<String>,
    acked: usize,
}

/// Send edits as fast as acknowledgements allow until the socket dies; pongs mark what is acked.
async fn edit_until_killed(
    ws: &mut Socket,
    cells: &[(String, String)],
    round: u64,
    log: &mut HashMap<String, History>,
) {
    let mut n = 0u64;
    loop {
        let (nb, cell) = &cells[(n as usize) % cells.len()];
        let source = format!(
            "// round {round} edit {n}\nexport const v{n} = {n};\n{}",
            "x".repeat((n % 7) as usize * 300)
        );
        let topic = format!("session:{nb}");
        let frames = [
            json!([topic, "cell:update", {"cellId": cell, "updates": {"source": source}}]),
            json!([topic, "ping", {"requestId": format!("{n}")}]),
        ];
        for f in frames {
            if ws.send(Message::Text(f.to_string().into())).await.is_err() {
                return;
            }
        }
        log.entry(cell.clone()).or_default().sent.push(source);
        // Wait for this pong: everything sent before it is applied and on disk.
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    let v: Value = serde_json::from_str(t.as_str()).unwrap();
                    if v[1] == "pong" && v[2]["requestId"] == format!("{n}") {
                        let h = log.get_mut(cell).unwrap();
                        h.acked = h.sent.len();
                        break;
                    }
                }
                Some(Ok(_)) => {}
                _ => return,
            }
        }
        n += 1;
    }
}

/// `(notebook id, cell id)` of every code cell, looked up by filename: cell ids are per load.
async fn code_cells(
    http: &reqwest::Client,
    addr: &str,
    targets: &[(String, String)],
) -> Vec<(String, String, String)> {
    let mut out = Vec::new();
    for (nb, filename) in targets {
        let v = api(http, reqwest::Method::GET, format!("http://{addr}/api/sessions/{nb}"), None).await;
        let cells = v["result"]["cells"].as_array().unwrap();
        let c = cells
            .iter()
            .find(|c| c["filename"] == *filename)
            .unwrap_or_else(|| panic!("{filename} missing: {v}"));
        out.push((
            nb.clone(),
            c["id"].as_str().unwrap().to_string(),
            c["source"].as_str().unwrap().to_string(),
        ));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigkill_during_edits_twenty_times_loses_nothing_acknowledged() {
    quire_server::install_crypto_provider();
    let data = tempfile::tempdir().unwrap();
    let http = reqwest::Client::new();
    let (mut server, mut addr) = start(data.path()).await;
    // (notebook id, filename) of one code cell in each of three notebooks.
    let mut targets = Vec::new();
    for i in 0..3 {
        let text = format!(
            "<!-- srcbook:{{\"language\":\"typescript\"}} -->\n\n# Killed {i}\n\n\
             ###### package.json\n\n```json\n{{\n  \"type\": \"module\"\n}}\n```\n\n\
             ###### k{i}.ts\n\n```typescript\nexport const k = {i};\n```\n"
        );
        let v = api(
            &http,
            reqwest::Method::POST,
            format!("http://{addr}/api/import"),
            Some(json!({"text": text})),
        )
        .await;
        let id = v["result"]["id"].as_str().unwrap().to_string();
        let v = api(&http, reqwest::Method::GET, format!("http://{addr}/api/sessions/{id}"), None).await;
        let cell = v["result"]["cells"].as_array().unwrap().iter().find(|c| c["type"] == "code").cloned();
        let cell = cell.expect("a new notebook has a code cell");
        targets.push((id, cell["filename"].as_str().unwrap().to_string()));
    }
    let mut log: HashMap<String, History> = HashMap::new();
    for round in 0..ROUNDS {
        let cells = code_cells(&http, &addr, &targets).await;
        let mut req = format!("ws://{addr}/websocket").into_client_request().unwrap();
        req.headers_mut().insert("authorization", format!("Bearer {TOKEN}").parse().unwrap());
        let (mut ws, _) = tokio_tungstenite::connect_async(req).await.unwrap();
        for (nb, _) in &targets {
            let f = json!([format!("session:{nb}"), "subscribe", {"id": "s"}]);
            ws.send(Message::Text(f.to_string().into())).await.unwrap();
        }
        // Kill at a different moment each round (deterministic), mid-stream.
        let delay = Duration::from_millis(30 + (round * 37) % 170);
        let pid = server.pid();
        let killer = tokio::spawn(async move {
            tokio::time::sleep(delay).await;
            Command::new("kill").arg("-KILL").arg(pid.to_string()).status().unwrap();
        });
        let edits: Vec<(String, String)> = cells.iter().map(|(nb, id, _)| (nb.clone(), id.clone())).collect();
        let mut by_id: HashMap<String, History> = HashMap::new();
        edit_until_killed(&mut ws, &edits, round, &mut by_id).await;
        killer.await.unwrap();
        drop(server);
        // Histories are kept by filename across rounds (ids change with each load).
        for ((_, id, _), (_, filename)) in cells.iter().zip(&targets) {
            if let Some(h) = by_id.remove(id) {
                let entry = log.entry(filename.clone()).or_default();
                if h.acked > 0 {
                    entry.acked = entry.sent.len() + h.acked;
                }
                entry.sent.extend(h.sent);
            }
        }

        (server, addr) = start(data.path()).await;
        let health = api(&http, reqwest::Method::GET, format!("http://{addr}/health"), None).await;
        assert_eq!(health["notebooks"]["failed"], json!([]), "round {round}: {health}");
        for ((nb, _, source), (_, filename)) in code_cells(&http, &addr, &targets).await.iter().zip(&targets)
        {
            let text = api_text(&http, &format!("http://{addr}/api/sessions/{nb}/export-text")).await;
            assert!(text.contains(source.as_str()), "round {round}: {nb} exports its cell");
            if let Some(h) = log.get(filename)
                && h.acked > 0
            {
                let allowed = &h.sent[h.acked - 1..];
                assert!(
                    allowed.iter().any(|s| s == source),
                    "round {round}: {filename} lost an acknowledged edit"
                );
            }
        }
    }
    let total: usize = log.values().map(|h| h.acked).sum();
    eprintln!("{ROUNDS} SIGKILLs; {total} edits acknowledged in all");
    assert!(total >= ROUNDS as usize, "edits were acknowledged in most rounds ({total})");
}

async fn api_text(http: &reqwest::Client, url: &str) -> String {
    let r = http.get(url).header("authorization", format!("Bearer {TOKEN}")).send().await.unwrap();
    assert_eq!(r.status(), 200);
    r.text().await.unwrap()
}
