//! The runtime: one warm Node host per notebook, runs keyed by notebook and cell.

use crate::host::{Host, HostError, HostSpec, Raw, install_scripts};
use crate::pump::{Control, PumpOptions, RunEvent, pump};
use crate::transpile::{Cache, file_url};
use crate::{shadow, transpile};
use quire_stdx::{DataDir, lock};
use rustix::process::Signal;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::{Notify, mpsc};

/// The runtime's section of the configuration (built by the binary from its flags).
#[derive(Clone, Debug)]
pub struct RuntimeConfig {
    pub node: PathBuf,
    pub npm: PathBuf,
    /// Idle workers each host keeps started.
    pub pool: usize,
    pub memory_mb: u64,
    pub output_cap: usize,
    pub timeout: Option<Duration>,
    /// Output is sent at most once per this interval (the first chunk of a burst goes at once).
    pub batch: Duration,
    /// The whole environment of Node processes, before a run's secrets: never the server's own.
    pub base_env: Vec<(String, String)>,
    /// Installs may use any package source (`file:`, git, URLs), not only the registry.
    pub any_package_source: bool,
    /// Run hosts under the sandbox supervisor (`sandbox`); `None` runs them unconfined.
    pub sandbox: Option<crate::sandbox::Launcher>,
}

impl Default for RuntimeConfig {
    fn default() -> Self {
        RuntimeConfig {
            node: PathBuf::from("node"),
            npm: PathBuf::from("npm"),
            pool: 3,
            memory_mb: 2048,
            output_cap: 8 * 1024 * 1024,
            timeout: None,
            batch: Duration::from_millis(16),
            base_env: base_env(),
            any_package_source: false,
            sandbox: None,
        }
    }
}

/// `PATH`, `HOME` and `LANG` from the server's environment; nothing else crosses over.
pub fn base_env() -> Vec<(String, String)> {
    let get = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    vec![
        ("PATH".into(), get("PATH", "/usr/local/bin:/usr/bin:/bin")),
        ("HOME".into(), get("HOME", "/tmp")),
        ("LANG".into(), get("LANG", "C.UTF-8")),
    ]
}

#[derive(Debug, thiserror::Error)]
pub enum RunError {
    #[error("cell '{0}' is already running; stop it first")]
    AlreadyRunning(String),
    #[error(transparent)]
    Host(#[from] HostError),
    #[error("could not prepare the run: {0}")]
    Io(#[from] std::io::Error),
    #[error("{0}")]
    Invalid(String),
    /// A package spec or package.json dependency from outside the registry.
    #[error("{0}")]
    PackageSource(String),
}

/// Everything a run needs from the notebook, read under its lock by the caller.
pub struct RunRequest {
    pub notebook_id: String,
    pub dir: PathBuf,
    pub cell_id: String,
    pub filename: String,
    /// Every code cell `(filename, source)`: a TypeScript run transpiles the ones it may import.
    pub cells: Vec<(String, String)>,
    pub secrets: Vec<(String, String)>,
}

type Slot = Arc<tokio::sync::Mutex<Option<Arc<Host>>>>;

pub struct Runtime {
    pub(crate) cfg: RuntimeConfig,
    /// Host scripts go to `DataDir::runtime`, TypeScript shadows to `DataDir::run_cache`.
    data_dir: DataDir,
    scripts: (PathBuf, PathBuf),
    /// Installations of Node and npm, readable inside the sandbox.
    installs: Vec<PathBuf>,
    cache: Cache,
    hosts: Mutex<HashMap<String, Slot>>,
    active: Mutex<HashMap<(String, String), Arc<Notify>>>,
    next_id: AtomicU32,
}

struct HostRun {
    host: Arc<Host>,
    id: u32,
}

impl Control for HostRun {
    fn stop(&self) {
        self.host.stop(self.id);
    }
    fn escalate(&self, sig: Signal) {
        tracing::warn!(run = self.id, ?sig, "run ignored stop; signalling its notebook's process group");
        self.host.signal(sig);
    }
    fn mute(&self) {
        self.host.mute(self.id);
    }
}

/// Removes a key from the active map when a run ends (or fails to start).
pub(crate) struct ActiveGuard {
    rt: Arc<Runtime>,
    key: (String, String),
}

impl Drop for ActiveGuard {
    fn drop(&mut self) {
        lock(&self.rt.active).remove(&self.key);
    }
}

impl Runtime {
    pub fn new(data_dir: &DataDir, cfg: RuntimeConfig) -> std::io::Result<Arc<Runtime>> {
        let scripts = install_scripts(&data_dir.runtime())?;
        // Run directories left by a previous process (a crash) are of no use to anyone.
        let _ = std::fs::remove_dir_all(data_dir.run_cache());
        crate::host::remove_stale_sock_dirs();
        let installs = [&cfg.node, &cfg.npm]
            .iter()
            .flat_map(|b| crate::sandbox::install_dirs(b, &cfg.base_env))
            .collect();
        Ok(Arc::new(Runtime {
            cfg,
            data_dir: data_dir.clone(),
            scripts,
            installs,
            cache: Cache::default(),
            hosts: Mutex::default(),
            active: Mutex::default(),
            next_id: AtomicU32::new(1),
        }))
    }

    pub(crate) fn next_run_id(&self) -> u32 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    pub fn config(&self) -> &RuntimeConfig {
        &self.cfg
    }

    /// Claim `(notebook, key)`; `None` if something already holds it.
    pub(crate) fn claim(self: &Arc<Self>, notebook: &str, key: &str) -> Option<(ActiveGuard, Arc<Notify>)> {
        let k = (notebook.to_string(), key.to_string());
        let mut active = lock(&self.active);
        if active.contains_key(&k) {
            return None;
        }
        let stop = Arc::new(Notify::new());
        active.insert(k.clone(), stop.clone());
        Some((ActiveGuard { rt: self.clone(), key: k }, stop))
    }

    pub fn is_running(&self, notebook: &str, key: &str) -> bool {
        lock(&self.active).contains_key(&(notebook.to_string(), key.to_string()))
    }

    /// Ask a run to stop; false if nothing by that key runs.
    pub fn stop(&self, notebook: &str, key: &str) -> bool {
        match lock(&self.active).get(&(notebook.to_string(), key.to_string())) {
            Some(n) => {
                n.notify_one();
                true
            }
            None => false,
        }
    }

    pub(crate) fn pump_options(&self) -> PumpOptions {
        PumpOptions { cap: self.cfg.output_cap, batch: self.cfg.batch, timeout: self.cfg.timeout }
    }

    /// The notebook's host, started if needed.
    pub async fn host(&self, notebook: &str, dir: &Path) -> Result<Arc<Host>, HostError> {
        let slot = lock(&self.hosts).entry(notebook.to_string()).or_default().clone();
        let mut held = slot.lock().await;
        if let Some(h) = held.as_ref().filter(|h| !h.is_dead()) {
            return Ok(h.clone());
        }
        let sandbox = match &self.cfg.sandbox {
            Some(launcher) => Some(HostSpec::sandbox_for(launcher, self.sandbox_paths(notebook, dir)?)),
            None => None,
        };
        let host = Arc::new(
            Host::start(HostSpec {
                node: &self.cfg.node,
                host_script: &self.scripts.0,
                worker_script: &self.scripts.1,
                cwd: dir,
                env: &self.cfg.base_env,
                pool: self.cfg.pool,
                memory_mb: self.cfg.memory_mb,
                sandbox,
            })
            .await?,
        );
        tracing::info!(notebook, pgid = host.pgid(), "node host started");
        *held = Some(host.clone());
        Ok(host)
    }

    /// Start the notebook's host ahead of its first run (a client opened it).
    pub async fn warm(&self, notebook: &str, dir: &Path) {
        if let Err(e) = self.host(notebook, dir).await {
            tracing::warn!(notebook, error = %e, "could not pre-start the node host");
        }
    }

    /// Run one code cell. Events arrive on the returned channel, ending with `RunEvent::Done`.
    pub async fn exec(self: &Arc<Self>, req: RunRequest) -> Result<mpsc::Receiver<RunEvent>, RunError> {
        let (guard, stop) = self
            .claim(&req.notebook_id, &req.cell_id)
            .ok_or_else(|| RunError::AlreadyRunning(req.filename.clone()))?;
        let id = self.next_run_id();
        let rt = self.clone();
        let root = self.shadow_root(&req.notebook_id);
        let (dir, cells, filename) = (req.dir.clone(), req.cells, req.filename.clone());
        let prepared = tokio::task::spawn_blocking(move || {
            shadow::prepare(&rt.cache, &root, &dir, &cells, &filename, id)
        })
        .await
        .map_err(|e| std::io::Error::other(e.to_string()))??;
        let cleanup = RunDir(prepared.dir.clone());
        let host = self.host(&req.notebook_id, &req.dir).await?;
        let (raw_tx, raw_rx) = mpsc::channel::<Raw>(64);
        let mut env = self.cfg.base_env.clone();
        env.extend(req.secrets);
        host.run(id, &file_url(&prepared.entry), &env, prepared.recyclable, raw_tx)?;
        let (tx, rx) = mpsc::channel(16);
        let ctl = Arc::new(HostRun { host, id });
        let opts = self.pump_options();
        tokio::spawn(async move {
            let _guard = guard;
            let _cleanup = cleanup;
            pump(raw_rx, tx, ctl, stop, opts).await;
        });
        Ok(rx)
    }

    /// What a notebook's processes may touch: its own directory and run directory (created now: a
    /// rule needs the path to exist) for writing; Quire's host scripts, Node and npm for reading.
    fn sandbox_paths(&self, notebook: &str, dir: &Path) -> Result<crate::sandbox::Paths, HostError> {
        let runs = self.shadow_root(notebook);
        std::fs::create_dir_all(&runs).map_err(HostError::Spawn)?;
        let mut read = self.installs.clone();
        read.push(self.data_dir.runtime());
        let home = self.cfg.base_env.iter().find(|(k, _)| k == "HOME").map(|(_, v)| PathBuf::from(v));
        Ok(crate::sandbox::Paths::for_notebook(&read, &[dir.to_path_buf(), runs], home.as_deref()))
    }

    fn shadow_root(&self, notebook: &str) -> PathBuf {
        self.data_dir.run_cache().join(notebook)
    }

    /// Transpile problems of a TypeScript source, for callers that want them without running.
    pub fn check_typescript(&self, source: &str, path: &Path) -> Vec<transpile::Problem> {
        self.cache.get(source, path).err().map(|p| p.to_vec()).unwrap_or_default()
    }

    /// The notebook was deleted: stop everything of it and drop its cache.
    pub async fn forget(&self, notebook: &str) {
        self.stop_host(notebook).await;
        let _ = std::fs::remove_dir_all(self.shadow_root(notebook));
    }

    /// Stop the notebook's host (and with it every run and install of the notebook).
    pub async fn stop_host(&self, notebook: &str) {
        let slot = lock(&self.hosts).remove(notebook);
        if let Some(slot) = slot
            && let Some(host) = slot.lock().await.take()
        {
            terminate(&host).await;
        }
    }

    /// Stop the host of a notebook nobody has open, unless something of it still runs.
    pub async fn release(&self, notebook: &str) {
        let busy = lock(&self.active).keys().any(|(nb, _)| nb == notebook);
        if !busy {
            self.stop_host(notebook).await;
        }
    }

    pub fn hosts(&self) -> usize {
        lock(&self.hosts).len()
    }

    pub fn active_runs(&self) -> usize {
        lock(&self.active).len()
    }

    /// Server shutdown: every host gets SIGTERM, then SIGKILL.
    pub async fn shutdown(&self) {
        let slots: Vec<Slot> = lock(&self.hosts).drain().map(|(_, s)| s).collect();
        for slot in slots {
            if let Some(host) = slot.lock().await.take() {
                terminate(&host).await;
            }
        }
    }
}

/// A run's directory, removed (off the async threads) when the run is over.
struct RunDir(PathBuf);

impl Drop for RunDir {
    fn drop(&mut self) {
        let dir = std::mem::take(&mut self.0);
        let remove = move || {
            let _ = std::fs::remove_dir_all(&dir);
        };
        match tokio::runtime::Handle::try_current() {
            Ok(h) => drop(h.spawn_blocking(remove)),
            Err(_) => remove(),
        }
    }
}

async fn terminate(host: &Host) {
    host.signal(Signal::TERM);
    for _ in 0..20 {
        if host.is_dead() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    host.signal(Signal::KILL);
}
