//! Real Node: runs through the runtime API (the WebSocket side is tested in the server crate).

use quire_runtime::{Outcome, RunEvent, RunRequest, Runtime, RuntimeConfig, Stream};
use std::path::Path;
use std::sync::Arc;
use std::time::{Duration, Instant};

struct Nb {
    _data: tempfile::TempDir,
    dir: tempfile::TempDir,
    rt: Arc<Runtime>,
}

fn notebook(cfg: impl FnOnce(&mut RuntimeConfig)) -> Nb {
    let data = tempfile::tempdir().unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("src")).unwrap();
    std::fs::write(dir.path().join("package.json"), r#"{"type":"module"}"#).unwrap();
    let mut c = RuntimeConfig::default();
    cfg(&mut c);
    let rt = Runtime::new(&quire_stdx::DataDir::new(data.path()), c).unwrap();
    Nb { _data: data, dir, rt }
}

impl Nb {
    fn write(&self, name: &str, src: &str) {
        std::fs::write(self.dir.path().join("src").join(name), src).unwrap();
    }

    fn cells(&self) -> Vec<(String, String)> {
        std::fs::read_dir(self.dir.path().join("src"))
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name().to_string_lossy().into_owned(), std::fs::read_to_string(e.path()).unwrap())
            })
            .collect()
    }

    async fn start(&self, file: &str) -> tokio::sync::mpsc::Receiver<RunEvent> {
        self.rt
            .exec(RunRequest {
                notebook_id: "nb".into(),
                dir: self.dir.path().to_path_buf(),
                cell_id: file.into(),
                filename: file.into(),
                cells: self.cells(),
                secrets: vec![("MY_SECRET".into(), "s3cret".into())],
            })
            .await
            .expect("run starts")
    }

    async fn run(&self, file: &str) -> (String, String, Outcome) {
        collect(self.start(file).await).await
    }
}

async fn collect(mut rx: tokio::sync::mpsc::Receiver<RunEvent>) -> (String, String, Outcome) {
    let (mut out, mut err) = (String::new(), String::new());
    while let Some(ev) = rx.recv().await {
        match ev {
            RunEvent::Output(c) if c.stream == Stream::Stdout => out.push_str(&c.text),
            RunEvent::Output(c) => err.push_str(&c.text),
            RunEvent::Done(o) => return (out, err, o),
        }
    }
    panic!("run ended without Done");
}

#[tokio::test]
async fn typescript_and_javascript_cells_run() {
    let nb = notebook(|_| {});
    nb.write("a.ts", "enum E { A = 2 }\nconst x: number = E.A;\nconsole.log('ts', x);");
    nb.write("b.js", "console.log('js', 1 + 1)");
    let (out, err, o) = nb.run("a.ts").await;
    assert_eq!((out.as_str(), err.as_str(), o.exit_code), ("ts 2\n", "", Some(0)), "{o:?}");
    let (out, _, o) = nb.run("b.js").await;
    assert_eq!((out.as_str(), o.exit_code), ("js 2\n", Some(0)));
}

#[tokio::test]
async fn imports_see_edits_and_state_is_fresh() {
    let nb = notebook(|_| {});
    nb.write("util.ts", "export let n: number = 1; export function bump() { return ++n; }");
    nb.write("main.ts", "import { bump } from './util.ts';\nglobalThis.seen = (globalThis.seen ?? 0) + 1;\nconsole.log(bump(), globalThis.seen);");
    assert_eq!(nb.run("main.ts").await.0, "2 1\n");
    assert_eq!(nb.run("main.ts").await.0, "2 1\n", "module and global state must not carry over");
    nb.write("util.ts", "export let n: number = 10; export function bump() { return ++n; }");
    assert_eq!(nb.run("main.ts").await.0, "11 1\n", "an edit of an imported cell is seen");
}

#[tokio::test]
async fn errors_point_at_typescript_lines() {
    let nb = notebook(|_| {});
    nb.write("boom.ts", "type T = { a: number };\nconst t: T = { a: 1 };\n\nfunction f(): never {\n  throw new Error('boom ' + t.a);\n}\nf();\n");
    let (_, err, o) = nb.run("boom.ts").await;
    assert_eq!(o.exit_code, Some(1), "{err}");
    assert!(err.contains("Error: boom 1"), "{err}");
    assert!(
        err.contains("(src/boom.ts:5:9)"),
        "frames name the cell as src/<cell> with the TS line and column: {err}"
    );
    let dir = nb.dir.path().to_string_lossy().into_owned();
    assert!(!err.contains(&dir), "no data-dir path in a stack: {err}");
    nb.write("jsboom.js", "\n\nconst f = () => { throw new Error('js boom') };\nf();\n");
    let (_, err, _) = nb.run("jsboom.js").await;
    assert!(err.contains("(src/jsboom.js:3:25)") && !err.contains(&dir), "{err}");
    // Printed by the cell itself, the same.
    nb.write("logged.ts", "try {\n  JSON.parse('{');\n} catch (e) {\n  console.error(e);\n}\n");
    let (_, err, _) = nb.run("logged.ts").await;
    assert!(err.contains("(src/logged.ts:2:8)") && !err.contains(&dir), "{err}");
}

#[tokio::test]
async fn an_async_error_prints_its_message_once() {
    let nb = notebook(|_| {});
    nb.write("missing.ts", "import fs from 'node:fs';\nawait fs.promises.readFile('nope.txt');\n");
    let (_, err, o) = nb.run("missing.ts").await;
    assert_eq!(o.exit_code, Some(1), "{err}");
    assert_eq!(err.matches("no such file or directory").count(), 1, "{err}");
    assert!(err.contains("code: 'ENOENT'"), "its properties are shown: {err}");
    nb.write("cause.ts", "throw new Error('outer', { cause: new Error('inner') });\n");
    let (_, err, _) = nb.run("cause.ts").await;
    assert_eq!((err.matches("outer").count(), err.matches("inner").count()), (1, 1), "{err}");
    assert!(!err.contains("at async ModuleLoader.import (node:internal/modules/esm/loader:606:24)\n    at async ModuleLoader.import"), "no repeated frame: {err}");
}

#[tokio::test]
async fn exit_codes_rejections_and_syntax_errors() {
    let nb = notebook(|_| {});
    nb.write("exit.js", "console.log('bye'); process.exit(3)");
    let (out, _, o) = nb.run("exit.js").await;
    assert_eq!((out.as_str(), o.exit_code), ("bye\n", Some(3)));
    nb.write("rej.ts", "await Promise.reject(new Error('nope'))");
    let (_, err, o) = nb.run("rej.ts").await;
    assert_eq!(o.exit_code, Some(1));
    assert!(err.contains("nope"), "{err}");
    nb.write("deep.js", "function r(){ return r() + 1 } r()");
    let (_, err, o) = nb.run("deep.js").await;
    assert_eq!(o.exit_code, Some(1));
    assert!(err.contains("Maximum call stack"), "{err}");
    nb.write("bad.ts", "const x = ;");
    let (_, err, o) = nb.run("bad.ts").await;
    assert_eq!(o.exit_code, Some(1));
    assert!(err.contains("SyntaxError") && err.contains("bad.ts:1:"), "{err}");
}

#[tokio::test]
async fn environment_is_scrubbed_but_has_secrets() {
    // SAFETY-free: the variable is set for this process only; the cell must not see it.
    let nb = notebook(|c| c.base_env.push(("LANG".into(), "C.UTF-8".into())));
    nb.write("env.js", "console.log(JSON.stringify(Object.keys(process.env).sort()), process.env.MY_SECRET)");
    let (out, _, _) = nb.run("env.js").await;
    // QUIRE_RUN_ID tags the run's processes (so a stop finds them); TMPDIR is the host's private temp dir.
    assert_eq!(out, "[\"HOME\",\"LANG\",\"MY_SECRET\",\"PATH\",\"QUIRE_RUN_ID\",\"TMPDIR\"] s3cret\n");
}

#[tokio::test]
async fn stop_ends_an_infinite_loop() {
    let nb = notebook(|_| {});
    nb.write("loop.js", "console.log('spin'); while (true) {}");
    let mut rx = nb.start("loop.js").await;
    let Some(RunEvent::Output(c)) = rx.recv().await else { panic!() };
    assert_eq!(c.text, "spin\n");
    let t = Instant::now();
    assert!(nb.rt.stop("nb", "loop.js"));
    let (_, _, o) = collect(rx).await;
    assert!(t.elapsed() < Duration::from_secs(2), "{:?}", t.elapsed());
    assert_eq!((o.exit_code, o.signal.as_deref()), (None, Some("SIGTERM")));
    // The host survived and runs the next cell.
    nb.write("ok.js", "console.log('ok')");
    assert_eq!(nb.run("ok.js").await.0, "ok\n");
}

#[tokio::test]
async fn second_exec_of_a_running_cell_is_refused() {
    let nb = notebook(|_| {});
    nb.write("slow.js", "await new Promise(r => setTimeout(r, 300)); console.log('done')");
    let rx = nb.start("slow.js").await;
    let again = nb
        .rt
        .exec(RunRequest {
            notebook_id: "nb".into(),
            dir: nb.dir.path().to_path_buf(),
            cell_id: "slow.js".into(),
            filename: "slow.js".into(),
            cells: vec![],
            secrets: vec![],
        })
        .await;
    assert!(matches!(again, Err(quire_runtime::RunError::AlreadyRunning(_))));
    nb.write("other.js", "console.log('other')");
    assert_eq!(nb.run("other.js").await.0, "other\n", "different cells run concurrently");
    assert_eq!(collect(rx).await.0, "done\n");
}

#[tokio::test]
async fn timeout_and_output_cap() {
    let nb = notebook(|c| {
        c.timeout = Some(Duration::from_secs(3));
        c.output_cap = 64 * 1024;
    });
    nb.write("flood.js", "while (true) console.log('x'.repeat(99))");
    let (out, err, o) = nb.run("flood.js").await;
    assert_eq!(out.len(), 64 * 1024);
    assert!(o.timed_out && o.truncated, "{o:?}");
    assert!(err.contains("truncated") && err.contains("Timed out"), "{err}");
}

#[tokio::test]
async fn memory_limit_fails_only_the_run() {
    let nb = notebook(|c| c.memory_mb = 64);
    nb.write("hog.js", "const a = []; while (true) a.push(new Array(1e5).fill(1));");
    let (_, err, o) = nb.run("hog.js").await;
    assert_ne!(o.exit_code, Some(0), "{err}");
    assert!(err.to_lowercase().contains("memory"), "{err}");
    nb.write("ok.js", "console.log('ok')");
    assert_eq!(nb.run("ok.js").await.0, "ok\n");
}

#[tokio::test]
async fn utf8_is_never_split() {
    let nb = notebook(|_| {});
    nb.write("u.js", "for (let i = 0; i < 2000; i++) process.stdout.write('é😀');");
    let mut rx = nb.start("u.js").await;
    let mut total = String::new();
    while let Some(ev) = rx.recv().await {
        if let RunEvent::Output(c) = ev {
            assert!(!c.text.contains('\u{FFFD}'));
            total.push_str(&c.text);
        }
    }
    assert_eq!(total, "é😀".repeat(2000));
}

#[allow(dead_code)]
fn exists(p: &Path) -> bool {
    p.exists()
}

#[tokio::test]
async fn a_synchronous_loop_streams_its_output() {
    let nb = notebook(|_| {});
    nb.write(
        "busy.js",
        "console.log('a');\nconst t = Date.now(); while (Date.now() - t < 300) {}\nconsole.log('b');",
    );
    let mut rx = nb.start("busy.js").await;
    let Some(RunEvent::Output(first)) = rx.recv().await else { panic!() };
    assert_eq!(first.text, "a\n", "output written before a busy loop arrives before the loop ends");
    assert_eq!(collect(rx).await.0, "b\n");
}

#[tokio::test]
async fn clean_package_free_runs_recycle_their_worker_and_dirty_ones_do_not() {
    let nb = notebook(|c| c.pool = 1);
    nb.write("tid.js", "import { threadId } from 'node:worker_threads';\nconsole.log(threadId);");
    nb.write(
        "leak.js",
        "import { threadId } from 'node:worker_threads';\nglobalThis.leak = 1;\nconsole.log(threadId);",
    );
    nb.write(
        "proto.js",
        "import { threadId } from 'node:worker_threads';\nArray.prototype.oops = 1;\nconsole.log(threadId);",
    );
    let first = nb.run("tid.js").await.0;
    assert_eq!(nb.run("tid.js").await.0, first, "a clean run's worker takes the next run");
    let leaked = nb.run("leak.js").await.0;
    assert_eq!(leaked, first);
    let after_leak = nb.run("tid.js").await.0;
    assert_ne!(after_leak, leaked, "a run that added a global ends its worker");
    let patched = nb.run("proto.js").await.0;
    assert_ne!(nb.run("tid.js").await.0, patched, "a run that patched a prototype ends its worker");
    // Recycled or not, every run sees fresh module state.
    nb.write("counter.js", "export let n = 0; export const inc = () => ++n;");
    nb.write("use.js", "import { inc } from './counter.js'; console.log(inc());");
    for _ in 0..3 {
        assert_eq!(nb.run("use.js").await.0, "1\n");
    }
}
