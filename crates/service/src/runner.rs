//! What the service needs from the runtime, as a trait: the real one runs Node hosts; `FakeRunner`
//! runs nothing, so tests of everything but runs start no Node process.

use futures_util::future::BoxFuture;
use quire_runtime::{Chunk, Outcome, RunError, RunEvent, RunRequest, Runtime, Stream};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use tokio::sync::mpsc;

pub type Events = mpsc::Receiver<RunEvent>;

pub trait Runner: Send + Sync + 'static {
    fn exec(&self, req: RunRequest) -> BoxFuture<'_, Result<Events, RunError>>;
    /// Stop the run of `key` (a cell id, or `INSTALL_KEY`); false when nothing ran.
    fn stop(&self, notebook: &str, key: &str) -> bool;
    fn is_running(&self, notebook: &str, key: &str) -> bool;
    fn install<'a>(
        &'a self,
        notebook: &'a str,
        dir: &'a Path,
        packages: &'a [String],
    ) -> BoxFuture<'a, Result<Events, RunError>>;
    /// Prettier's output, or its stderr.
    fn format<'a>(
        &'a self,
        notebook: &'a str,
        dir: &'a Path,
        filename: &'a str,
        source: &'a str,
    ) -> BoxFuture<'a, Result<String, String>>;
    /// Start the notebook's host ahead of its first run.
    fn warm<'a>(&'a self, notebook: &'a str, dir: &'a Path) -> BoxFuture<'a, ()>;
    /// Nobody has the notebook open: its host may go.
    fn release<'a>(&'a self, notebook: &'a str) -> BoxFuture<'a, ()>;
    /// The notebook was deleted.
    fn forget<'a>(&'a self, notebook: &'a str) -> BoxFuture<'a, ()>;
    fn shutdown(&self) -> BoxFuture<'_, ()>;
    fn hosts(&self) -> usize;
    fn active_runs(&self) -> usize;
    /// The transpiler's syntax errors for a TypeScript source (`line:col message`); none for JS.
    fn syntax_errors(&self, _filename: &str, _source: &str) -> Vec<String> {
        Vec::new()
    }
}

/// The real runtime: Node hosts.
pub struct NodeRunner(pub Arc<Runtime>);

impl Runner for NodeRunner {
    fn exec(&self, req: RunRequest) -> BoxFuture<'_, Result<Events, RunError>> {
        Box::pin(self.0.exec(req))
    }
    fn stop(&self, notebook: &str, key: &str) -> bool {
        self.0.stop(notebook, key)
    }
    fn is_running(&self, notebook: &str, key: &str) -> bool {
        self.0.is_running(notebook, key)
    }
    fn install<'a>(
        &'a self,
        nb: &'a str,
        dir: &'a Path,
        packages: &'a [String],
    ) -> BoxFuture<'a, Result<Events, RunError>> {
        Box::pin(self.0.install(nb, dir, packages))
    }
    fn format<'a>(
        &'a self,
        nb: &'a str,
        dir: &'a Path,
        filename: &'a str,
        source: &'a str,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(self.0.format(nb, dir, filename, source))
    }
    fn warm<'a>(&'a self, nb: &'a str, dir: &'a Path) -> BoxFuture<'a, ()> {
        Box::pin(self.0.warm(nb, dir))
    }
    fn release<'a>(&'a self, nb: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.0.release(nb))
    }
    fn forget<'a>(&'a self, nb: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(self.0.forget(nb))
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(self.0.shutdown())
    }
    fn hosts(&self) -> usize {
        self.0.hosts()
    }
    fn syntax_errors(&self, filename: &str, source: &str) -> Vec<String> {
        if !filename.ends_with(".ts") {
            return Vec::new();
        }
        let problems = self.0.check_typescript(source, Path::new(filename));
        problems.iter().map(|p| format!("{}:{} {}", p.line, p.column, p.message)).collect()
    }
    fn active_runs(&self) -> usize {
        self.0.active_runs()
    }
}

/// A runner that starts nothing: a run exits 0 at once without output (like an empty cell), an
/// install succeeds at once, formatting returns the source unchanged. It counts what it was asked.
#[derive(Default)]
pub struct FakeRunner {
    pub runs: AtomicUsize,
    pub warmed: AtomicUsize,
    /// Each run's cell file and the names of the secrets it was given.
    pub requests: std::sync::Mutex<Vec<(String, Vec<String>)>>,
}

fn finished(text: Option<String>) -> Events {
    let (tx, rx) = mpsc::channel(2);
    if let Some(text) = text {
        let _ = tx.try_send(RunEvent::Output(Chunk { stream: Stream::Stdout, text }));
    }
    let _ = tx.try_send(RunEvent::Done(Outcome { exit_code: Some(0), ..Outcome::default() }));
    rx
}

impl Runner for FakeRunner {
    fn exec(&self, req: RunRequest) -> BoxFuture<'_, Result<Events, RunError>> {
        self.runs.fetch_add(1, Ordering::Relaxed);
        if let Ok(mut r) = self.requests.lock() {
            r.push((req.filename.clone(), req.secrets.iter().map(|(n, _)| n.clone()).collect()));
        }
        Box::pin(async move { Ok(finished(None)) })
    }
    fn stop(&self, _: &str, _: &str) -> bool {
        false
    }
    fn is_running(&self, _: &str, _: &str) -> bool {
        false
    }
    fn install<'a>(
        &'a self,
        _: &'a str,
        _: &'a Path,
        _: &'a [String],
    ) -> BoxFuture<'a, Result<Events, RunError>> {
        Box::pin(async { Ok(finished(None)) })
    }
    fn format<'a>(
        &'a self,
        _: &'a str,
        _: &'a Path,
        _: &'a str,
        source: &'a str,
    ) -> BoxFuture<'a, Result<String, String>> {
        Box::pin(async move { Ok(source.to_string()) })
    }
    fn warm<'a>(&'a self, _: &'a str, _: &'a Path) -> BoxFuture<'a, ()> {
        self.warmed.fetch_add(1, Ordering::Relaxed);
        Box::pin(async {})
    }
    fn release<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn forget<'a>(&'a self, _: &'a str) -> BoxFuture<'a, ()> {
        Box::pin(async {})
    }
    fn shutdown(&self) -> BoxFuture<'_, ()> {
        Box::pin(async {})
    }
    fn hosts(&self) -> usize {
        0
    }
    fn active_runs(&self) -> usize {
        0
    }
}
