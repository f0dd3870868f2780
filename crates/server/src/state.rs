//! Shared server state handed to every handler.

use crate::ws::hub::Hub;
use quire_notebook::{Database, NotebookStore};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Everything `serve` needs, built once by the binary (or by tests in code).
#[derive(Clone)]
pub struct Config {
    pub data_dir: PathBuf,
    pub token: String,
    /// Extra host names accepted in the `Host` header besides loopback names.
    pub allowed_hosts: Vec<String>,
    /// Origins allowed to make state-changing requests and to get CORS headers.
    pub allowed_origins: Vec<String>,
    /// Directories `POST /api/import {path}` may read from (the examples directory is always allowed).
    pub import_roots: Vec<PathBuf>,
    pub max_body_bytes: usize,
    pub max_ws_message_bytes: usize,
    /// Requests per second per client IP (burst: twice that); 0 turns the limit off.
    pub rate_limit_rps: u32,
    /// Requests per second per file-store user (bursts of twice that); 0 turns the limit off.
    pub user_rate_limit_rps: u32,
    /// Failed token attempts per minute per client IP before 429s.
    pub auth_failures_per_minute: u32,
    /// A browser session unused this long is signed out.
    pub session_idle: Duration,
    /// `/health` reports the disk `degraded` below this many free bytes in the data dir.
    pub disk_low_bytes: u64,
    /// WebSocket ping interval; a peer silent for three of them is dropped.
    pub ws_heartbeat: Duration,
    pub url_import_max_bytes: usize,
    pub url_import_timeout: Duration,
    /// File store limits and sizes (issue 6).
    pub files: quire_filestore::StoreConfig,
    /// `/auth/register` open to anyone (`--signup open`); otherwise only the server token may add users.
    pub signup_open: bool,
    /// How long a notebook's tsserver outlives its last subscriber.
    pub tsserver_idle: Duration,
    /// Run tsserver for notebooks (off: `tsserver:*` requests are refused).
    pub language_service: bool,
    /// Cell runs: wall-clock limit (None = none), heap limit per run, output cap per run.
    pub cell_timeout: Option<Duration>,
    pub cell_memory_mb: u64,
    pub cell_output_bytes: usize,
    /// The Node binary cells run on.
    pub node: PathBuf,
    /// A token that may read `/metrics` only (the admin token always may).
    pub metrics_token: Option<String>,
    /// The instance key (64 hex digits) when given by the environment; else `DATA_DIR/secret.key`.
    pub secret_key: Option<String>,
    /// How long shutdown waits for in-flight requests before dropping them.
    pub shutdown_grace: Duration,
    /// Serve HTTPS with this PEM certificate chain and private key.
    pub tls: Option<TlsFiles>,
    /// Export a span per request to this OTLP/HTTP collector (`http://host:4318`).
    pub otlp_endpoint: Option<String>,
    /// Connections: header-read (and keep-alive idle) timeout, caps in total and per client IP.
    pub header_timeout: Duration,
    pub max_connections: usize,
    pub max_connections_per_ip: usize,
    /// Audit log retention: entries older than this, and the oldest beyond `audit_max_rows`, go.
    pub audit_retention: Duration,
    pub audit_max_rows: u64,
    /// `deps:install` may use any package source (`file:`, git, URLs), not only the npm registry.
    pub any_package_source: bool,
    /// Run Node hosts under the sandbox supervisor (the `quire` binary re-executed).
    pub sandbox: Option<quire_runtime::sandbox::Launcher>,
    /// Serve the UI from this directory instead of the embedded build (UI development).
    pub web_dir: Option<PathBuf>,
}

#[derive(Clone, Debug)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

impl std::fmt::Debug for Config {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Config")
            .field("data_dir", &self.data_dir)
            .field("token", &"[redacted]")
            .field("allowed_hosts", &self.allowed_hosts)
            .field("allowed_origins", &self.allowed_origins)
            .field("import_roots", &self.import_roots)
            .finish_non_exhaustive()
    }
}

impl Config {
    /// Defaults for everything but the data dir and token.
    pub fn new(data_dir: PathBuf, token: String) -> Self {
        Config {
            data_dir,
            token,
            allowed_hosts: Vec::new(),
            allowed_origins: Vec::new(),
            import_roots: Vec::new(),
            max_body_bytes: 10 * 1024 * 1024,
            max_ws_message_bytes: 4 * 1024 * 1024,
            ws_heartbeat: Duration::from_secs(10),
            disk_low_bytes: 1 << 30,
            session_idle: Duration::from_secs(7 * 24 * 3600),
            rate_limit_rps: 200,
            user_rate_limit_rps: 100,
            auth_failures_per_minute: 10,
            url_import_max_bytes: 10 * 1024 * 1024,
            url_import_timeout: Duration::from_secs(30),
            files: Default::default(),
            signup_open: false,
            tsserver_idle: Duration::from_secs(60),
            language_service: true,
            cell_timeout: None,
            cell_memory_mb: 2048,
            cell_output_bytes: 8 * 1024 * 1024,
            node: PathBuf::from("node"),
            secret_key: None,
            metrics_token: None,
            shutdown_grace: Duration::from_secs(10),
            tls: None,
            otlp_endpoint: None,
            web_dir: None,
            sandbox: None,
            any_package_source: false,
            audit_retention: Duration::from_secs(90 * 24 * 3600),
            audit_max_rows: 100_000,
            header_timeout: Duration::from_secs(10),
            max_connections: 4096,
            max_connections_per_ip: 512,
        }
    }
}

pub struct Inner {
    pub config: Config,
    pub store: NotebookStore,
    pub db: Box<dyn Database>,
    /// Canonical directory holding the bundled example `.src.md` files.
    pub examples_dir: PathBuf,
    pub import_roots: Vec<PathBuf>,
    pub ready: AtomicBool,
    pub hub: Hub,
    pub http: reqwest::Client,
    pub files: Arc<quire_filestore::FileStore>,
    pub users: quire_filestore::users::UserStore,
    pub tsls: quire_tsls::Manager,
    pub runtime: Arc<quire_runtime::Runtime>,
    pub request_limit: Option<crate::ratelimit::Gcra>,
    pub auth_failure_limit: crate::ratelimit::Gcra,
    pub user_limit: Option<crate::ratelimit::Gcra<String>>,
    pub workers: crate::workers::Workers,
    pub otlp: Option<crate::otlp::Exporter>,
    /// Rolling request figures for the admin dashboard.
    pub live: crate::dashboard::Live,
    pub audit_failures: crate::audit::Failures,
    /// What confines cells on this machine (reported by `/health`).
    pub sandbox: quire_runtime::sandbox::Status,
    /// Where passwords are hashed and checked (a few threads: bounded memory).
    pub passwords: crate::files::PasswordWorkers,
}

pub type AppState = Arc<Inner>;

impl Inner {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
