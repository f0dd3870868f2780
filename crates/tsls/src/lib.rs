//! Quire's TypeScript language service: one tsserver (TypeScript 5.9) per open notebook, fed
//! incremental edits, answering diagnostics, hover, completions, definitions, signature help and
//! renames with cell ids instead of file paths.
//!
//! The server owns a `Manager`. It syncs a notebook's cells (`Service::sync`) after every edit, attaches
//! and detaches subscribers (the last one leaving starts an idle timer), asks `Service::query`, and
//! forwards the `Output`s it takes from `Manager::take_outputs`. Nothing here knows about WebSockets.

#![forbid(unsafe_code)]

pub mod cache;
mod framing;
mod imports;
mod process;
mod replies;
mod service;
pub mod text;

pub use cache::{Installer, TS_VERSION};
pub use service::Service;

use serde_json::Value;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::sync::mpsc;

/// The language service's section of the configuration (built by the binary from its flags).
#[derive(Clone, Debug)]
pub struct LanguageConfig {
    /// Run tsserver for notebooks (off: `tsserver:*` requests are refused).
    pub enabled: bool,
    /// How long a notebook's tsserver outlives its last subscriber.
    pub idle: Duration,
}

impl Default for LanguageConfig {
    fn default() -> Self {
        LanguageConfig { enabled: true, idle: Duration::from_secs(60) }
    }
}

/// A connection id as the server numbers them.
pub type ConnId = u64;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Node or TypeScript could not be started or installed.
    #[error("TypeScript language service unavailable: {0}")]
    Unavailable(String),
    #[error("No code cell '{0}' in this notebook")]
    UnknownCell(String),
    /// The cell changed after the request was made; the reply would describe old text.
    #[error("The cell changed before the reply arrived")]
    Stale,
    #[error("The TypeScript server did not answer in time")]
    Timeout,
    #[error("The TypeScript server stopped")]
    Stopped,
}

impl Error {
    /// Stable machine-readable code for `error` events.
    pub fn code(&self) -> &'static str {
        match self {
            Error::Unavailable(_) => "tsserver_unavailable",
            Error::UnknownCell(_) => "cell_not_found",
            Error::Stale => "stale_request",
            Error::Timeout => "tsserver_timeout",
            Error::Stopped => "tsserver_stopped",
        }
    }
}

/// One code cell as the language service sees it.
#[derive(Clone, Debug)]
pub struct SourceCell {
    pub id: String,
    pub filename: String,
    pub source: String,
}

/// A notebook's current state, sent after every edit.
#[derive(Clone, Debug)]
pub struct Snapshot {
    pub typescript: bool,
    pub cells: Vec<SourceCell>,
    pub tsconfig: Option<String>,
    /// Type-check JavaScript cells; `None` keeps the current setting.
    pub check_js: Option<bool>,
}

/// What a request asks for.
#[derive(Clone, Debug)]
pub enum Query {
    QuickInfo,
    /// `details`: attach signature, documentation and auto-import source to the entries matching the
    /// word being typed.
    Completions {
        details: bool,
    },
    Definition,
    SignatureHelp,
    Rename {
        new_name: String,
    },
    /// tsserver `completionEntryDetails` for the named entries (`{name, source?, data?}`).
    CompletionDetails {
        entries: Vec<Value>,
    },
}

/// Events the server forwards to a notebook's subscribers (`to`: only that connection).
#[derive(Debug)]
pub struct Output {
    pub notebook_id: String,
    pub to: Option<ConnId>,
    pub event: OutEvent,
}

#[derive(Debug)]
pub enum OutEvent {
    /// Syntactic and semantic diagnostics of one cell, merged: the full list (`[]` clears).
    Diagnostics {
        cell_id: String,
        diagnostics: Value,
    },
    Suggestions {
        cell_id: String,
        diagnostics: Value,
    },
    Error {
        code: &'static str,
        message: String,
    },
}

/// How every notebook's tsserver is started.
pub(crate) struct Launch {
    /// How long tsserver outlives the last subscriber.
    pub idle: Duration,
    pub node: PathBuf,
    /// Run tsserver in the notebook's sandbox (it may be the notebook's own TypeScript, which a cell
    /// can rewrite).
    pub sandbox: Option<quire_sandbox::Launcher>,
}

pub struct Manager {
    installer: Arc<Installer>,
    launch: Arc<Launch>,
    services: Mutex<HashMap<String, Arc<Service>>>,
    out: mpsc::UnboundedSender<Output>,
    outputs: Mutex<Option<mpsc::UnboundedReceiver<Output>>>,
    closed: Arc<AtomicBool>,
}

impl Manager {
    /// `cache_dir` holds Quire's own TypeScript install; `idle` is how long a notebook's tsserver
    /// outlives its last subscriber; `node` runs tsserver.
    pub fn new(cache_dir: PathBuf, idle: Duration, node: PathBuf) -> Self {
        let (out, rx) = mpsc::unbounded_channel();
        Manager {
            installer: Arc::new(Installer::new(cache_dir)),
            launch: Arc::new(Launch { idle, node, sandbox: None }),
            services: Default::default(),
            out,
            outputs: Mutex::new(Some(rx)),
            closed: Default::default(),
        }
    }

    /// Start every tsserver under the sandbox supervisor.
    pub fn with_sandbox(mut self, launcher: Option<quire_sandbox::Launcher>) -> Self {
        self.launch =
            Arc::new(Launch { idle: self.launch.idle, node: self.launch.node.clone(), sandbox: launcher });
        self
    }

    /// The event stream (once).
    pub fn take_outputs(&self) -> Option<mpsc::UnboundedReceiver<Output>> {
        quire_stdx::lock(&self.outputs).take()
    }

    pub fn installer(&self) -> &Arc<Installer> {
        &self.installer
    }

    pub fn get(&self, notebook_id: &str) -> Option<Arc<Service>> {
        quire_stdx::lock(&self.services).get(notebook_id).cloned()
    }

    /// tsserver processes running now (services created but not started, or stopped, do not count).
    pub fn running(&self) -> usize {
        quire_stdx::lock(&self.services).values().filter(|s| s.pid().is_some()).count()
    }

    /// The notebook's service, created (not started) if needed.
    pub fn service(&self, notebook_id: &str, dir: PathBuf) -> Arc<Service> {
        let mut map = quire_stdx::lock(&self.services);
        map.entry(notebook_id.to_string())
            .or_insert_with(|| {
                Service::new(
                    notebook_id.to_string(),
                    dir,
                    self.installer.clone(),
                    self.out.clone(),
                    self.closed.clone(),
                    self.launch.clone(),
                )
            })
            .clone()
    }

    /// A connection subscribed; the caller then starts the service.
    pub fn attach(&self, svc: &Arc<Service>, conn: ConnId) {
        svc.attach(conn);
    }

    /// A connection left (unsubscribe or close). The last one leaving stops tsserver after the idle time
    /// unless someone subscribes again first.
    pub fn detach(&self, notebook_id: &str, conn: ConnId) {
        let Some(svc) = self.get(notebook_id) else { return };
        if !svc.detach(conn) {
            return;
        }
        svc.arm_idle();
    }

    /// The notebook was deleted: stop its tsserver (reaped before this returns) and forget it.
    pub async fn remove(&self, notebook_id: &str) {
        let svc = quire_stdx::lock(&self.services).remove(notebook_id);
        if let Some(svc) = svc {
            svc.stop().await;
        }
    }

    /// Server shutdown: no new processes, every running one stopped and reaped.
    pub async fn shutdown(&self) {
        self.closed.store(true, Ordering::Release);
        let all: Vec<Arc<Service>> = quire_stdx::lock(&self.services).drain().map(|(_, s)| s).collect();
        // Concurrently, so many notebooks do not take their grace periods in turn.
        let mut set = tokio::task::JoinSet::new();
        for svc in all {
            set.spawn(async move { svc.stop().await });
        }
        while set.join_next().await.is_some() {}
    }
}
