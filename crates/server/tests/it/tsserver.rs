//! The language service end to end: a real server, a real tsserver (TypeScript 5.9 installed with npm by
//! quire-tsls's own cache logic), WebSocket clients.

use crate::common::{TestServer, Ws};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// Caps of Quire's own client.
const CAPS: &[&str] = &["tsserver", "errors", "cells"];
/// tsserver's first project load takes seconds on a busy 2-core machine.
const PATIENCE: Duration = Duration::from_secs(60);

/// Install the pinned TypeScript once per target dir (concurrent test processes race safely: each
/// installs into its own temp dir and the first rename wins), then link it into a server's cache.
pub(crate) async fn shared_typescript() -> PathBuf {
    let shared = Path::new(env!("CARGO_TARGET_TMPDIR")).join("quire-typescript-cache");
    let installer = quire_tsls::Installer::new(shared);
    installer.ensure().await.expect("npm install typescript");
    installer.dir()
}

async fn server_with_idle(idle: Duration) -> TestServer {
    let ts = shared_typescript().await;
    let s = TestServer::start_configured(|c| c.language.idle = idle).await;
    let cache = s.data_dir.join("cache");
    std::fs::create_dir_all(&cache).unwrap();
    std::os::unix::fs::symlink(&ts, cache.join(ts.file_name().unwrap())).unwrap();
    s
}

async fn server() -> TestServer {
    server_with_idle(Duration::from_secs(60)).await
}

fn code_cell(id: &str, filename: &str, source: &str) -> Value {
    let language = if filename.ends_with(".js") { "javascript" } else { "typescript" };
    json!({"id": id, "type": "code", "source": source, "language": language, "filename": filename, "status": "idle"})
}

struct Nb {
    id: String,
    topic: String,
}

async fn notebook(s: &TestServer, ws: &mut Ws, language: &str, cells: &[(&str, &str, &str)]) -> Nb {
    let id = s.create("TS", language).await;
    let topic = format!("session:{id}");
    subscribe(ws, &id).await;
    for (i, (cid, file, src)) in cells.iter().enumerate() {
        ws.send(&topic, "cell:create", json!({"index": 2 + i, "cell": code_cell(cid, file, src)})).await;
    }
    Nb { id, topic }
}

/// Subscribe with Quire's capabilities; frames of earlier subscriptions may still be on the way.
async fn subscribe(ws: &mut Ws, id: &str) {
    ws.send(&format!("session:{id}"), "subscribe", json!({"id": "s", "capabilities": CAPS})).await;
    until(ws, |e, p| e == "subscribed" && p["id"] == "s").await;
}

/// Receive until a frame satisfies `pred`; fails after `PATIENCE`.
async fn until(ws: &mut Ws, mut pred: impl FnMut(&str, &Value) -> bool) -> Value {
    let deadline = Instant::now() + PATIENCE;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        let (_, e, p) =
            tokio::time::timeout(left, ws.recv_any()).await.expect("timed out waiting for an event");
        if pred(&e, &p) {
            return p;
        }
        assert_ne!(e, "tsserver:error", "{p}");
    }
}

async fn diagnostics(ws: &mut Ws, cell: &str, pred: impl Fn(&[Value]) -> bool) -> Vec<Value> {
    let p = until(ws, |e, p| {
        e == "tsserver:cell:diagnostics"
            && p["cellId"] == cell
            && pred(p["diagnostics"].as_array().expect("a list"))
    })
    .await;
    p["diagnostics"].as_array().unwrap().clone()
}

/// Send a `tsserver:cell:<what>:request` at `(cell, line, 0-based column)` and await its reply.
async fn ask(ws: &mut Ws, nb: &Nb, what: &str, rid: &str, at: (&str, u64, u64), extra: Value) -> Value {
    let (cell, line, col) = at;
    let mut request = json!({"location": {"line": line, "offset": col}});
    if let Value::Object(m) = extra {
        request.as_object_mut().unwrap().extend(m);
    }
    let payload = json!({"cellId": cell, "request": request, "requestId": rid});
    ws.send(&nb.topic, &format!("tsserver:cell:{what}:request"), payload).await;
    let reply = format!("tsserver:cell:{what}:response");
    until(ws, |e, p| e == reply && p["requestId"] == rid).await["response"].clone()
}

/// Pids of tsserver processes whose working directory is `dir`.
fn tsserver_pids(dir: &Path) -> Vec<u32> {
    let dir = dir.canonicalize().unwrap_or(dir.to_path_buf());
    let mut out = Vec::new();
    for e in std::fs::read_dir("/proc").unwrap().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else { continue };
        let cwd = std::fs::read_link(e.path().join("cwd")).ok();
        let cmd = std::fs::read(e.path().join("cmdline")).unwrap_or_default();
        if cwd.as_deref() == Some(&*dir) && String::from_utf8_lossy(&cmd).contains("tsserver.js") {
            out.push(pid);
        }
    }
    out
}

fn alive(pid: u32) -> bool {
    Path::new(&format!("/proc/{pid}")).exists()
}

/// Poll for a condition with no event to await (a process appearing or going away).
async fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + PATIENCE;
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting until {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test]
async fn type_and_syntax_errors_on_the_right_cell_then_cleared() {
    let s = server().await;
    let mut ws = s.ws().await;
    let nb =
        notebook(&s, &mut ws, "typescript", &[("c1", "a.ts", "const ok = 1;\nconst x: number = \"a\";\n")])
            .await;
    let d = diagnostics(&mut ws, "c1", |d| !d.is_empty()).await;
    assert_eq!(d.len(), 1, "{d:?}");
    assert_eq!(d[0]["code"], 2322);
    assert_eq!(d[0]["category"], "error");
    assert_eq!(d[0]["start"], json!({"line": 2, "offset": 7}));
    assert_eq!(d[0]["end"], json!({"line": 2, "offset": 8}));

    let fix =
        json!({"cellId": "c1", "updates": {"source": "const ok = 1;\nconst x: number = 1;\nexport {};\n"}});
    ws.send(&nb.topic, "cell:update", fix).await;
    diagnostics(&mut ws, "c1", |d| d.is_empty()).await;

    // A syntax error arrives in the same single event as any semantic ones.
    let broken = json!({"cellId": "c1", "updates": {"source": "const = 1;\nconst y: string = 2;\n"}});
    ws.send(&nb.topic, "cell:update", broken).await;
    let d = diagnostics(&mut ws, "c1", |d| !d.is_empty()).await;
    assert!(d.iter().any(|x| x["code"] == 1134 || x["text"].as_str().unwrap().contains("expected")), "{d:?}");
    assert!(d.iter().any(|x| x["code"] == 2322), "syntax and semantic merged: {d:?}");
}

#[tokio::test]
async fn an_edit_of_a_cell_reports_errors_in_the_cells_importing_it() {
    let s = server().await;
    let mut ws = s.ws().await;
    let a = "export function f(): number {\n  return 1;\n}\n";
    let b = "import { f } from './a.ts';\nconst n: number = f();\nexport { n };\n";
    let nb = notebook(&s, &mut ws, "typescript", &[("A", "a.ts", a), ("B", "b.ts", b)]).await;
    diagnostics(&mut ws, "B", |d| d.is_empty()).await;
    let changed = "export function f(): string {\n  return 'x';\n}\n";
    ws.send(&nb.topic, "cell:update", json!({"cellId": "A", "updates": {"source": changed}})).await;
    let d = diagnostics(&mut ws, "B", |d| !d.is_empty()).await;
    assert_eq!(d[0]["code"], 2322, "{d:?}");
    assert_eq!(d[0]["start"]["line"], 2);

    // Renaming the imported cell breaks the import; renaming it back fixes it.
    ws.send(&nb.topic, "cell:rename", json!({"cellId": "A", "filename": "renamed.ts"})).await;
    diagnostics(&mut ws, "B", |d| d.iter().any(|x| x["code"] == 2307)).await;
    ws.send(&nb.topic, "cell:rename", json!({"cellId": "A", "filename": "a.ts"})).await;
    diagnostics(&mut ws, "B", |d| d.iter().all(|x| x["code"] != 2307)).await;
    // Deleting it too.
    ws.send(&nb.topic, "cell:delete", json!({"cellId": "A"})).await;
    diagnostics(&mut ws, "B", |d| d.iter().any(|x| x["code"] == 2307)).await;
}

#[tokio::test]
async fn hover_completions_definition_signature_help_and_rename() {
    let s = server().await;
    let mut ws = s.ws().await;
    let util = "/** Server settings. */\nexport const config = { port: 8080, host: 'localhost' };\nexport function add(a: number, b: number) {\n  return a + b;\n}\n";
    let main = "import { config, add } from './util.ts';\nadd(1, );\nconfig.\n";
    let nb = notebook(&s, &mut ws, "typescript", &[("U", "util.ts", util), ("M", "main.ts", main)]).await;
    diagnostics(&mut ws, "M", |_| true).await;

    // Columns are 0-based: column 0 of line 3 is the `c` of `config`.
    let hover = ask(&mut ws, &nb, "quickinfo", "h1", ("M", 3, 0), json!({})).await;
    let shown = hover["displayString"].as_str().unwrap();
    assert!(shown.contains("config: {") && shown.contains("port: number"), "{hover}");

    let comp = ask(&mut ws, &nb, "completions", "c1", ("M", 3, 7), json!({})).await;
    let entries = comp["entries"].as_array().unwrap();
    let port = entries.iter().find(|e| e["name"] == "port").expect("port is offered");
    assert!(port["details"]["signature"].as_str().unwrap().contains("port: number"), "{port}");

    let def = ask(&mut ws, &nb, "definition_location", "d1", ("M", 3, 2), json!({})).await;
    assert_eq!(def["cellId"], "U", "{def}");
    assert_eq!(def["start"]["line"], 2);
    assert!(def["file"].as_str().unwrap().ends_with("/src/util.ts"));

    let sig = ask(&mut ws, &nb, "signature_help", "s1", ("M", 2, 7), json!({})).await;
    assert_eq!(sig["argumentIndex"], 1, "{sig}");
    let params = &sig["items"][0]["parameters"];
    assert_eq!(params.as_array().map(Vec::len), Some(2), "{sig}");

    let ren = ask(&mut ws, &nb, "rename", "r1", ("M", 3, 0), json!({"newName": "settings"})).await;
    assert_eq!(ren["canRename"], true, "{ren}");
    let cells: Vec<&str> =
        ren["edits"].as_array().unwrap().iter().map(|e| e["cellId"].as_str().unwrap()).collect();
    assert!(cells.contains(&"U") && cells.contains(&"M"), "{ren}");
}

#[tokio::test]
async fn two_connections_each_get_only_their_own_replies() {
    let s = server().await;
    let mut a = s.ws().await;
    let src = "export const alpha = 1;\nexport const beta = 'b';\n";
    let nb = notebook(&s, &mut a, "typescript", &[("X", "x.ts", src)]).await;
    let mut b = s.ws().await;
    b.subscribe(&nb.id, &[]).await; // a stock Srcbook client: no capabilities
    diagnostics(&mut a, "X", |_| true).await;
    let req = |rid: &str, line: u64| json!({"cellId": "X", "request": {"location": {"line": line, "offset": 13}}, "requestId": rid});
    a.send(&nb.topic, "tsserver:cell:quickinfo:request", req("from-a", 1)).await;
    b.send(&nb.topic, "tsserver:cell:quickinfo:request", req("from-b", 2)).await;
    let got_a = until(&mut a, |e, _| e == "tsserver:cell:quickinfo:response").await;
    let got_b = until(&mut b, |e, _| e == "tsserver:cell:quickinfo:response").await;
    assert_eq!(got_a["requestId"], "from-a");
    assert!(got_a["response"]["displayString"].as_str().unwrap().contains("alpha"));
    assert_eq!(got_b["requestId"], "from-b");
    assert!(got_b["response"]["displayString"].as_str().unwrap().contains("beta"));
    // Neither sees the other's reply (a few diagnostics may still pass by).
    for ws in [&mut a, &mut b] {
        let extra = tokio::time::timeout(Duration::from_millis(500), async {
            loop {
                let (_, e, p) = ws.recv_any().await;
                if e.ends_with(":response") {
                    return p;
                }
            }
        })
        .await;
        assert!(extra.is_err(), "unexpected second reply: {extra:?}");
    }
    // New event names need the capability.
    let sig = json!({"cellId": "X", "request": {"location": {"line": 1, "offset": 0}}, "requestId": "sig"});
    b.send(&nb.topic, "tsserver:cell:signature_help:request", sig).await;
    let reply = tokio::time::timeout(Duration::from_millis(500), async {
        loop {
            let (_, e, p) = b.recv_any().await;
            if e.starts_with("tsserver:cell:signature_help") || e == "error" {
                return p;
            }
        }
    })
    .await;
    assert!(reply.is_err(), "a client without the capability got {reply:?}");
}

#[tokio::test]
async fn javascript_notebooks_get_hover_and_completions() {
    let s = server().await;
    let mut ws = s.ws().await;
    let src = "const greeting = 'hi';\ngreeting.\n";
    let nb = notebook(&s, &mut ws, "javascript", &[("J", "main.js", src)]).await;
    let hover = ask(&mut ws, &nb, "quickinfo", "h", ("J", 1, 6), json!({})).await;
    assert!(hover["displayString"].as_str().unwrap().contains("greeting"), "{hover}");
    let comp = ask(&mut ws, &nb, "completions", "c", ("J", 2, 9), json!({})).await;
    assert!(comp["entries"].as_array().unwrap().iter().any(|e| e["name"] == "toUpperCase"), "{comp}");
}

#[tokio::test]
async fn no_tsserver_outlives_idle_time_crash_delete_or_shutdown() {
    let s = server_with_idle(Duration::from_millis(300)).await;
    let mut ws = s.ws().await;
    let nb = notebook(&s, &mut ws, "typescript", &[("c", "a.ts", "export const a = 1;\n")]).await;
    let dir = s.notebook_dir(&nb.id);
    diagnostics(&mut ws, "c", |_| true).await;
    let pids = tsserver_pids(&dir);
    assert_eq!(pids.len(), 1, "one tsserver per notebook: {pids:?}");

    // Crash: restarted, with the diagnostics sent again.
    let killed = std::process::Command::new("kill").arg("-9").arg(pids[0].to_string()).status().unwrap();
    assert!(killed.success());
    let e = until(&mut ws, |e, _| e == "tsserver:error").await;
    assert_eq!(e["code"], "tsserver_crashed");
    diagnostics(&mut ws, "c", |_| true).await;
    let restarted = tsserver_pids(&dir);
    assert_eq!(restarted.len(), 1);
    assert!(!alive(pids[0]), "the crashed process was reaped");

    // Last subscriber leaves: gone after the idle time.
    ws.send(&nb.topic, "unsubscribe", json!({})).await;
    eventually("the idle tsserver stops", || !alive(restarted[0])).await;

    // Delete: gone (and reaped) by the time the DELETE returns.
    subscribe(&mut ws, &nb.id).await;
    eventually("tsserver restarts on subscribe", || !tsserver_pids(&dir).is_empty()).await;
    let pid = tsserver_pids(&dir)[0];
    let r = s.http.delete(s.url(&format!("/api/srcbooks/{}", nb.id))).send().await.unwrap();
    assert_eq!(r.status(), 200);
    assert!(!alive(pid), "tsserver {pid} left after delete");

    // Shutdown: every tsserver stopped before serve returns.
    let nb2 = notebook(&s, &mut ws, "typescript", &[("d", "b.ts", "export const b = 2;\n")]).await;
    let dir2 = s.notebook_dir(&nb2.id).canonicalize().unwrap();
    diagnostics(&mut ws, "d", |_| true).await;
    let pid = tsserver_pids(&dir2)[0];
    drop(ws);
    let _keep = s.stop().await;
    assert!(!alive(pid), "tsserver {pid} left after shutdown");
}

#[tokio::test]
async fn tsconfig_update_reloads_the_project_and_a_bad_one_is_reported() {
    let s = server().await;
    let mut ws = s.ws().await;
    let nb =
        notebook(&s, &mut ws, "typescript", &[("c", "a.ts", "export function f(a) {\n  return a;\n}\n")])
            .await;
    let d = diagnostics(&mut ws, "c", |d| !d.is_empty()).await;
    assert_eq!(d[0]["code"], 7006, "strict: implicit any: {d:?}");

    // Not JSON: refused, the previous config stays.
    let before = s.session(&nb.id).await["tsconfig.json"].clone();
    ws.send(&nb.topic, "tsconfig.json:update", json!({"source": "{ nope", "requestId": "t1"})).await;
    let e = until(&mut ws, |e, p| e == "error" && p["requestId"] == "t1").await;
    assert_eq!(e["code"], "invalid_tsconfig");
    assert_eq!(s.session(&nb.id).await["tsconfig.json"], before);

    // Options TypeScript rejects: a clear tsserver:error.
    let bad = json!({"compilerOptions": {"strict": true, "target": "es1999"}, "include": ["src/**/*"]});
    ws.send(&nb.topic, "tsconfig.json:update", json!({"source": bad.to_string()})).await;
    let e = until(&mut ws, |e, _| e == "tsserver:error").await;
    assert_eq!(e["code"], "invalid_tsconfig", "{e}");
    assert!(e["message"].as_str().unwrap().contains("target"), "{e}");

    // A valid change reloads the project: without strict the implicit any is fine.
    let lax = before.as_str().unwrap().replace("\"strict\": true", "\"strict\": false");
    ws.send(&nb.topic, "tsconfig.json:update", json!({"source": lax})).await;
    diagnostics(&mut ws, "c", |d| d.is_empty()).await;
}

#[tokio::test]
async fn completions_offer_auto_imports_from_other_cells_with_their_source() {
    let s = server().await;
    let mut ws = s.ws().await;
    let util = "/** Multiplies. */\nexport function multiply(a: number, b: number) {\n  return a * b;\n}\n";
    let nb = notebook(
        &s,
        &mut ws,
        "typescript",
        &[("U", "util.ts", util), ("N", "new.ts", "multi\nexport {};\n")],
    )
    .await;
    diagnostics(&mut ws, "N", |d| !d.is_empty()).await;
    let comp = ask(&mut ws, &nb, "completions", "c", ("N", 1, 5), json!({})).await;
    let entry = comp["entries"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "multiply")
        .unwrap_or_else(|| panic!("multiply offered: {comp}"));
    assert!(entry["source"].is_string(), "an auto-import entry: {entry}");
    let details = &entry["details"];
    assert!(details["source"].as_str().unwrap().contains("util"), "{entry}");
    assert!(details["signature"].as_str().unwrap().contains("multiply(a: number, b: number)"), "{entry}");
    assert_eq!(details["documentation"], "Multiplies.");
}

#[tokio::test]
async fn javascript_type_errors_only_with_the_setting() {
    let s = server().await;
    let src = "const n = 1;\nn.nope;\nconst = 2;\n";
    let mut ws = s.ws().await;
    notebook(&s, &mut ws, "javascript", &[("J", "main.js", src)]).await;
    let d = diagnostics(&mut ws, "J", |d| !d.is_empty()).await;
    assert!(d.iter().all(|x| x["code"] != 2339), "no type errors by default: {d:?}");
    assert!(!d.is_empty(), "syntax errors are always reported");

    let (st, v) = s.post("/api/settings", json!({"javascriptTypeCheck": true})).await;
    assert_eq!(st, 200, "{v}");
    let mut ws2 = s.ws().await;
    notebook(&s, &mut ws2, "javascript", &[("K", "main.js", src)]).await;
    diagnostics(&mut ws2, "K", |d| d.iter().any(|x| x["code"] == 2339)).await;
}

#[tokio::test]
async fn a_new_typescript_notebook_knows_node_and_its_typed_secrets() {
    let s = server().await;
    let mut ws = s.ws().await;
    let src = "import fs from 'node:fs';\nimport { join } from 'node:path';\n\
               const b: Buffer = Buffer.from('x');\nprocess.stdout.write(b);\nprocess.exitCode = 0;\n\
               const key: string = process.env.API_KEY;\nconsole.log(fs.existsSync(join('.', key)));\n";
    let nb = notebook(&s, &mut ws, "typescript", &[]).await;
    // A linked secret is typed: it extends Node's ProcessEnv instead of replacing `process`.
    s.post("/api/secrets", json!({"name": "API_KEY", "value": "v"})).await;
    let r = s.http.put(s.url(&format!("/api/sessions/{}/secrets/API_KEY", nb.id))).send().await.unwrap();
    assert!(r.status().is_success(), "{}", r.status());
    ws.send(&nb.topic, "cell:create", json!({"index": 2, "cell": code_cell("n", "node.ts", src)})).await;
    let d = diagnostics(&mut ws, "n", |_| true).await;
    assert!(d.is_empty(), "Node's APIs and typed secrets type-check with nothing installed: {d:?}");
    // A real error is still reported (the check did run).
    let bad =
        json!({"cellId": "n", "updates": {"source": format!("{src}const n: number = Buffer.from('x');\n")}});
    ws.send(&nb.topic, "cell:update", bad).await;
    let d = diagnostics(&mut ws, "n", |d| !d.is_empty()).await;
    assert!(d.iter().all(|x| x["start"]["line"] == 8), "only the new line: {d:?}");
}

#[tokio::test]
async fn a_request_right_after_an_edit_is_answered_for_the_edited_text() {
    let s = server().await;
    let mut ws = s.ws().await;
    let base = "const rows = [1, 2];\nfunction label(name: string, n: number) { return name + n; }\n";
    let nb = notebook(&s, &mut ws, "typescript", &[("R", "rows.ts", base)]).await;
    diagnostics(&mut ws, "R", |_| true).await;
    // Each time the text before the edit has nothing at the asked position; the edit and the request
    // leave back to back, as the UI sends them: the answer must be about the edited text.
    for i in 0..5 {
        let src = format!("{base}rows.");
        ws.send(&nb.topic, "cell:update", json!({"cellId": "R", "updates": {"source": src}})).await;
        let comp = ask(&mut ws, &nb, "completions", &format!("c{i}"), ("R", 3, 5), json!({})).await;
        let names: Vec<&str> = comp["entries"]
            .as_array()
            .map(|e| e.iter().filter_map(|e| e["name"].as_str()).collect())
            .unwrap_or_default();
        assert!(names.contains(&"map") && names.contains(&"filter"), "{i}: {comp}");
        let call = format!("{base}label(");
        ws.send(&nb.topic, "cell:update", json!({"cellId": "R", "updates": {"source": call}})).await;
        let sig = ask(&mut ws, &nb, "signature_help", &format!("s{i}"), ("R", 3, 6), json!({})).await;
        assert_eq!(sig["items"][0]["parameters"].as_array().map(Vec::len), Some(2), "{i}: {sig}");
        ws.send(&nb.topic, "cell:update", json!({"cellId": "R", "updates": {"source": base}})).await;
        diagnostics(&mut ws, "R", |_| true).await;
    }
}
