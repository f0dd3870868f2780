//! The language service of one notebook: its view of the code cells, its tsserver (started on demand,
//! restarted with backoff after a crash) and the diagnostics bookkeeping.
//!
//! Diagnostics: after an edit only the edited cell and the cells importing it are checked (`geterr`).
//! tsserver abandons a running `geterr` when a newer change arrives, so cells waiting for a result
//! stay in `needs_check` until their `semanticDiag` arrives and every `geterr` asks for all of them.
//! Events read before tsserver acknowledged the latest change may describe older text: they are
//! ignored (the newest `geterr` will report those cells again).

mod query;
mod scratch;

use crate::cache::Installer;
use crate::imports;
use crate::process::{Msg, TsProcess};
use crate::replies;
use crate::{ConnId, Error, Launch, OutEvent, Output, Query, Snapshot};
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;

/// A reply slower than this is reported as a timeout (tsserver may still be loading a big project).
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);
/// Restart delays after consecutive crashes; the last one repeats.
const BACKOFF_MS: &[u64] = &[100, 500, 2_000, 10_000, 30_000];
/// A process that ran this long before crashing resets the backoff.
const STABLE_AFTER: Duration = Duration::from_secs(60);

struct File {
    filename: String,
    source: String,
    /// Bumped on every change of text or name; replies computed for an older version are stale.
    version: u64,
    path: PathBuf,
}

struct Running {
    proc: TsProcess,
    generation: u64,
    started: Instant,
    /// Change requests tsserver has not processed yet.
    unacked: BTreeSet<u64>,
    syntax: HashMap<String, Vec<Value>>,
}

#[derive(Default)]
struct State {
    files: BTreeMap<String, File>,
    typescript: bool,
    tsconfig: Option<String>,
    check_js: bool,
    run: Option<Running>,
    /// Should be running: a crash restarts it (cleared by stop).
    wanted: bool,
    crashes: usize,
    needs_check: BTreeSet<String>,
    /// Last lists sent per cell, replayed to a connection that subscribes later.
    diagnostics: HashMap<String, Value>,
    suggestions: HashMap<String, Value>,
    /// The tsconfig problem last reported (tsserver repeats it on every project update).
    config_error: Option<String>,
}

pub struct Service {
    pub id: String,
    dir: PathBuf,
    installer: Arc<Installer>,
    out: mpsc::UnboundedSender<Output>,
    closed: Arc<AtomicBool>,
    state: tokio::sync::Mutex<State>,
    sync_tx: mpsc::UnboundedSender<(u64, Snapshot)>,
    /// Snapshots queued so far, and (watched) how many of them tsserver has been sent: a request waits
    /// for every edit queued before it, or it could be answered for older text.
    queued: AtomicU64,
    applied: tokio::sync::watch::Sender<u64>,
    subscribers: Mutex<HashSet<ConnId>>,
    idle_gen: AtomicU64,
    /// How long tsserver outlives the last subscriber.
    launch: Arc<Launch>,
    generation: AtomicU64,
    pid: AtomicU32,
}

fn script_kind(filename: &str) -> &'static str {
    if [".ts", ".mts", ".cts"].iter().any(|e| filename.ends_with(e)) { "TS" } else { "JS" }
}

impl Service {
    pub(crate) fn new(
        id: String,
        dir: PathBuf,
        installer: Arc<Installer>,
        out: mpsc::UnboundedSender<Output>,
        closed: Arc<AtomicBool>,
        launch: Arc<Launch>,
    ) -> Arc<Self> {
        let (sync_tx, mut sync_rx) = mpsc::unbounded_channel::<(u64, Snapshot)>();
        let svc = Arc::new(Service {
            id,
            dir,
            installer,
            out,
            closed,
            state: Default::default(),
            sync_tx,
            queued: AtomicU64::new(0),
            applied: tokio::sync::watch::Sender::new(0),
            subscribers: Default::default(),
            idle_gen: AtomicU64::new(0),
            launch,
            generation: AtomicU64::new(0),
            pid: AtomicU32::new(0),
        });
        let weak = Arc::downgrade(&svc);
        tokio::spawn(async move {
            while let Some((mut seq, mut snap)) = sync_rx.recv().await {
                // Only the newest state matters: skip snapshots already superseded.
                while let Ok((newer_seq, newer)) = sync_rx.try_recv() {
                    snap = Snapshot { check_js: newer.check_js.or(snap.check_js), ..newer };
                    seq = newer_seq;
                }
                let Some(svc) = weak.upgrade() else { break };
                svc.apply(snap).await;
                svc.applied.send_replace(seq);
            }
        });
        svc
    }

    /// Queue the notebook's current cells; applied in order (the caller holds the notebook lock).
    pub fn sync(&self, snap: Snapshot) {
        let seq = self.queued.fetch_add(1, Ordering::AcqRel) + 1;
        let _ = self.sync_tx.send((seq, snap));
    }

    /// Until every snapshot queued before now has been applied (bounded: a stuck apply must not hang
    /// requests forever).
    async fn synced(&self) {
        let want = self.queued.load(Ordering::Acquire);
        let mut rx = self.applied.subscribe();
        let _ = tokio::time::timeout(REPLY_TIMEOUT, rx.wait_for(|done| *done >= want)).await;
    }

    pub fn pid(&self) -> Option<u32> {
        Some(self.pid.load(Ordering::Relaxed)).filter(|p| *p != 0)
    }

    /// Add a subscriber; returns true when it is the first.
    pub(crate) fn attach(&self, conn: ConnId) -> bool {
        self.idle_gen.fetch_add(1, Ordering::Relaxed);
        let mut s = quire_stdx::lock(&self.subscribers);
        s.insert(conn);
        s.len() == 1
    }

    /// Remove a subscriber; returns true when none are left.
    pub(crate) fn detach(&self, conn: ConnId) -> bool {
        let mut s = quire_stdx::lock(&self.subscribers);
        s.remove(&conn) && s.is_empty()
    }

    pub(crate) fn subscriber_count(&self) -> usize {
        quire_stdx::lock(&self.subscribers).len()
    }

    /// Stop tsserver after the idle time unless a subscriber arrives first (each call restarts the clock).
    pub(crate) fn arm_idle(self: &Arc<Self>) {
        let generation = self.idle_gen.fetch_add(1, Ordering::Relaxed) + 1;
        let svc = self.clone();
        tokio::spawn(async move {
            tokio::time::sleep(svc.launch.idle).await;
            if svc.idle_gen.load(Ordering::Relaxed) == generation && svc.subscriber_count() == 0 {
                tracing::debug!(notebook = %svc.id, "no subscribers left; stopping tsserver");
                svc.stop().await;
            }
        });
    }

    fn emit(&self, to: Option<ConnId>, event: OutEvent) {
        let _ = self.out.send(Output { notebook_id: self.id.clone(), to, event });
    }

    /// Start tsserver if it is not running (and check every cell).
    pub async fn start(self: &Arc<Self>) -> Result<(), Error> {
        self.running().await.map(drop)
    }

    /// The state, with tsserver running. Finding (or installing) TypeScript happens without the lock,
    /// so edits and a shutdown never wait for npm.
    async fn running(self: &Arc<Self>) -> Result<tokio::sync::MutexGuard<'_, State>, Error> {
        {
            let st = self.state.lock().await;
            if st.run.is_some() {
                return Ok(st);
            }
        }
        let tsserver = self.installer.tsserver_for(&self.dir).await.inspect_err(|e| {
            self.emit(None, OutEvent::Error { code: e.code(), message: e.to_string() });
        })?;
        let mut st = self.state.lock().await;
        self.start_locked(&mut st, &tsserver)?;
        Ok(st)
    }

    /// Started for a connection that did not subscribe: stop again when idle, so nothing runs unowned.
    fn keep_alive_unowned(self: &Arc<Self>) {
        if self.subscriber_count() == 0 {
            self.arm_idle();
        }
    }

    /// Send the current diagnostics of every cell to one connection (it just subscribed).
    pub async fn replay(&self, conn: ConnId) {
        let st = self.state.lock().await;
        for (cell, d) in &st.diagnostics {
            self.emit(Some(conn), OutEvent::Diagnostics { cell_id: cell.clone(), diagnostics: d.clone() });
        }
        for (cell, d) in &st.suggestions {
            self.emit(Some(conn), OutEvent::Suggestions { cell_id: cell.clone(), diagnostics: d.clone() });
        }
    }

    fn start_locked(self: &Arc<Self>, st: &mut State, tsserver: &Path) -> Result<(), Error> {
        if st.run.is_some() {
            return Ok(());
        }
        if self.closed.load(Ordering::Acquire) {
            return Err(Error::Stopped);
        }
        self.keep_alive_unowned();
        let (tx, rx) = mpsc::unbounded_channel();
        let sandbox = self.launch.sandbox.as_ref().map(|launcher| crate::process::Sandboxed {
            launcher,
            read: vec![self.dir.clone(), self.installer.cache_dir().to_path_buf()],
        });
        let proc = TsProcess::spawn(&self.launch.node, tsserver, &self.dir, tx, sandbox)?;
        let generation = self.generation.fetch_add(1, Ordering::Relaxed) + 1;
        tokio::spawn(pump(Arc::downgrade(self), rx, generation));

        self.pid.store(proc.pid, Ordering::Relaxed);
        tracing::info!(notebook = %self.id, pid = proc.pid, tsserver = %tsserver.display(), "tsserver started");
        proc.send(
            "configure",
            json!({"hostInfo": "quire", "preferences": {
                "includeCompletionsForModuleExports": true,
                "includeCompletionsWithInsertText": true,
                "useLabelDetailsInCompletionEntries": true,
                "providePrefixAndSuffixTextForRename": false,
                "allowRenameOfImportPath": false,
            }}),
        );
        proc.send("compilerOptionsForInferredProjects", self.inferred_options(st.check_js));
        let open: Vec<Value> = st.files.values().map(|f| open_entry(&self.dir, f)).collect();
        let seq = proc.send("updateOpen", json!({"openFiles": open}));
        st.run = Some(Running {
            proc,
            generation,
            started: Instant::now(),
            unacked: BTreeSet::from([seq]),
            syntax: HashMap::new(),
        });
        st.wanted = true;
        st.needs_check = st.files.keys().cloned().collect();
        self.check(st, &BTreeSet::new());
        Ok(())
    }

    /// Options for a notebook without a tsconfig (JavaScript): Node ESM, JS type-checking per setting.
    fn inferred_options(&self, check_js: bool) -> Value {
        json!({"options": {
            "allowJs": true, "checkJs": check_js, "module": "NodeNext", "moduleResolution": "NodeNext",
            "target": "ES2022", "allowNonTsExtensions": true, "allowImportingTsExtensions": true,
            "noEmit": true,
        }, "projectRootPath": self.dir})
    }

    /// Stop tsserver (it starts again on demand). Returns once the process is reaped.
    pub async fn stop(&self) {
        let mut st = self.state.lock().await;
        st.wanted = false;
        if let Some(run) = st.run.take() {
            self.pid.store(0, Ordering::Relaxed);
            drop(st);
            run.proc.shutdown().await;
        }
    }

    /// Reload the project (dependencies changed on disk) and check every cell.
    pub async fn reload(&self) {
        // An install may have pruned the link to the pinned @types/node (a notebook without its own).
        self.installer.link_node_types(&self.dir);
        let mut guard = self.state.lock().await;
        let st = &mut *guard;
        let Some(run) = &mut st.run else { return };
        run.unacked.insert(run.proc.send("reloadProjects", json!({})));
        st.needs_check.extend(st.files.keys().cloned());
        self.check(st, &BTreeSet::new());
    }

    /// Ask tsserver for diagnostics of the pending cells, `first` ones first.
    fn check(&self, st: &mut State, first: &BTreeSet<String>) {
        let Some(run) = &st.run else { return };
        if st.needs_check.is_empty() {
            return;
        }
        let order = first.iter().filter(|id| st.needs_check.contains(*id)).chain(st.needs_check.iter());
        let mut seen = HashSet::new();
        let files: Vec<&Path> =
            order.filter(|id| seen.insert(*id)).filter_map(|id| st.files.get(id)).map(|f| &*f.path).collect();
        run.proc.send("geterr", json!({"files": files, "delay": 0}));
    }

    async fn apply(self: &Arc<Self>, snap: Snapshot) {
        let mut st = self.state.lock().await;
        let mut open = Vec::new();
        let mut changed = Vec::new();
        let mut closed = Vec::new();
        let mut touched = BTreeSet::new();
        let mut gone = Vec::new();
        // Stems of files that appear (created, or renamed to): cached failed imports of them must go.
        let mut appeared = BTreeSet::new();
        let mut next: BTreeMap<String, (String, String)> =
            snap.cells.into_iter().map(|c| (c.id, (c.filename, c.source))).collect();
        let old_ids: Vec<String> = st.files.keys().cloned().collect();
        for id in old_ids {
            let Some((filename, source)) = next.remove(&id) else {
                let f = st.files.remove(&id).expect("listed");
                closed.push(f.path);
                gone.push(imports::stem(&f.filename).to_string());
                st.diagnostics.remove(&id);
                st.suggestions.remove(&id);
                st.needs_check.remove(&id);
                continue;
            };
            let f = st.files.get_mut(&id).expect("listed");
            if f.filename != filename {
                closed.push(f.path.clone());
                gone.push(imports::stem(&f.filename).to_string());
                f.path = self.dir.join("src").join(&filename);
                appeared.insert(imports::stem(&filename).to_string());
                f.filename = filename;
                f.source = source;
                f.version += 1;
                open.push(open_entry(&self.dir, f));
                touched.insert(id);
            } else if let Some(edit) = crate::text::change(&f.source, &source) {
                changed.push(json!({"fileName": f.path, "textChanges": [edit]}));
                f.source = source;
                f.version += 1;
                touched.insert(id);
            }
        }
        for (id, (filename, source)) in next {
            appeared.insert(imports::stem(&filename).to_string());
            let f = File { path: self.dir.join("src").join(&filename), filename, source, version: 1 };
            open.push(open_entry(&self.dir, &f));
            st.files.insert(id.clone(), f);
            touched.insert(id);
        }
        // tsserver keeps a failed module resolution even after the file is opened: when a cell some other
        // cell already imports appears, the project is reloaded (rare: creating a cell nobody imports yet
        // is the common case).
        let awaited = !appeared.is_empty()
            && st.files.values().any(|f| {
                let own = imports::stem(&f.filename);
                imports::imported_stems(&f.source).iter().any(|s| s != own && appeared.contains(s))
            });
        let config_changed = st.tsconfig != snap.tsconfig || st.typescript != snap.typescript;
        let reload = config_changed || awaited;
        st.tsconfig = snap.tsconfig;
        st.typescript = snap.typescript;
        let check_js_changed = snap.check_js.is_some_and(|c| c != st.check_js);
        st.check_js = snap.check_js.unwrap_or(st.check_js);
        let opts = self.inferred_options(st.check_js);
        let Some(run) = &mut st.run else { return };
        if !open.is_empty() || !changed.is_empty() || !closed.is_empty() {
            let args = json!({"openFiles": open, "changedFiles": changed, "closedFiles": closed});
            run.unacked.insert(run.proc.send("updateOpen", args));
        }
        if check_js_changed {
            run.unacked.insert(run.proc.send("compilerOptionsForInferredProjects", opts));
        }
        let recheck = if reload || check_js_changed {
            if reload {
                run.unacked.insert(run.proc.send("reloadProjects", json!({})));
            }
            st.files.keys().cloned().collect()
        } else {
            let cells = st.files.iter().map(|(id, f)| (id.clone(), (f.filename.clone(), f.source.clone())));
            imports::affected(&cells.collect(), &touched, &gone)
        };
        st.needs_check.extend(recheck);
        self.check(&mut st, &touched);
    }

    /// A tsserver message, in stream order. `generation` tells which process sent it.
    async fn on_msg(self: &Arc<Self>, msg: Msg, generation: u64) {
        let mut st = self.state.lock().await;
        if st.run.as_ref().is_none_or(|r| r.generation != generation) {
            return;
        }
        match msg {
            Msg::Ack(seq) => {
                st.run.as_mut().expect("checked").unacked.remove(&seq);
            }
            Msg::Event(v) => self.on_event(&mut st, &v),
            Msg::Exited(reason) => {
                let run = st.run.take().expect("checked");
                self.pid.store(0, Ordering::Relaxed);
                if run.started.elapsed() > STABLE_AFTER {
                    st.crashes = 0;
                }
                let wanted = st.wanted;
                let delay = BACKOFF_MS[st.crashes.min(BACKOFF_MS.len() - 1)];
                st.crashes += 1;
                drop(st);
                run.proc.shutdown().await;
                if !wanted {
                    return;
                }
                tracing::warn!(notebook = %self.id, reason, delay_ms = delay, "tsserver crashed; restarting");
                let message = format!("The TypeScript server stopped ({reason}); restarting in {delay} ms");
                self.emit(None, OutEvent::Error { code: "tsserver_crashed", message });
                let weak = Arc::downgrade(self);
                tokio::spawn(async move {
                    tokio::time::sleep(Duration::from_millis(delay)).await;
                    let Some(svc) = weak.upgrade() else { return };
                    if svc.state.lock().await.wanted {
                        let _ = svc.running().await;
                    }
                });
            }
        }
    }

    fn cell_for(&self, st: &State, file: &str) -> Option<String> {
        st.files.iter().find(|(_, f)| f.path.as_os_str() == file).map(|(id, _)| id.clone())
    }

    fn on_event(&self, st: &mut State, v: &Value) {
        let body = &v["body"];
        let event = v["event"].as_str().unwrap_or("");
        match event {
            "syntaxDiag" | "semanticDiag" | "suggestionDiag" => {
                let run = st.run.as_ref().expect("running");
                if !run.unacked.is_empty() {
                    return;
                }
                let Some(cell) = self.cell_for(st, body["file"].as_str().unwrap_or("")) else { return };
                let list = replies::diagnostics(&body["diagnostics"]);
                let run = st.run.as_mut().expect("running");
                match event {
                    "syntaxDiag" => {
                        run.syntax.insert(cell, list);
                    }
                    "semanticDiag" => {
                        let mut all = run.syntax.remove(&cell).unwrap_or_default();
                        all.extend(list);
                        let all = Value::Array(all);
                        st.needs_check.remove(&cell);
                        st.diagnostics.insert(cell.clone(), all.clone());
                        self.emit(None, OutEvent::Diagnostics { cell_id: cell, diagnostics: all });
                    }
                    _ => {
                        let list = Value::Array(list);
                        st.suggestions.insert(cell.clone(), list.clone());
                        self.emit(None, OutEvent::Suggestions { cell_id: cell, diagnostics: list });
                    }
                }
            }
            "configFileDiag" => {
                let errors: Vec<&str> = body["diagnostics"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter(|d| d["category"] == "error")
                    // "File not found": a cell deleted a moment ago, before tsserver's watcher saw it go.
                    .filter(|d| d["code"] != 6053)
                    .filter_map(|d| d["text"].as_str())
                    .collect();
                let message = (!errors.is_empty()).then(|| format!("tsconfig.json: {}", errors.join("; ")));
                if message != st.config_error {
                    st.config_error = message.clone();
                    if let Some(message) = message {
                        self.emit(None, OutEvent::Error { code: "invalid_tsconfig", message });
                    }
                }
            }
            // Files changed on disk (say, dependencies installed): everything may have changed.
            "projectsUpdatedInBackground" => {
                st.needs_check.extend(st.files.keys().cloned());
                self.check(st, &BTreeSet::new());
            }
            _ => {}
        }
    }
}

fn open_entry(dir: &Path, f: &File) -> Value {
    json!({"file": f.path, "fileContent": f.source, "scriptKindName": script_kind(&f.filename), "projectRootPath": dir})
}

/// Feed one process's messages to its service until the process ends or the service is dropped.
/// Boxed: a crash restart starts a new pump from inside this one, a cycle `impl Future` cannot name.
fn pump(
    svc: Weak<Service>,
    rx: mpsc::UnboundedReceiver<Msg>,
    generation: u64,
) -> std::pin::Pin<Box<dyn Future<Output = ()> + Send>> {
    Box::pin(pump_loop(svc, rx, generation))
}

async fn pump_loop(svc: Weak<Service>, mut rx: mpsc::UnboundedReceiver<Msg>, generation: u64) {
    while let Some(msg) = rx.recv().await {
        let Some(s) = svc.upgrade() else { return };
        let exited = matches!(msg, Msg::Exited(_));
        s.on_msg(msg, generation).await;
        if exited {
            return;
        }
    }
}
