//! Shared server state handed to every handler.

use crate::ws::hub::Hub;
use quire_notebook::{Database, NotebookStore};
use quire_stdx::DataDir;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// Everything `serve` needs, built once by the binary (or by tests in code).
#[derive(Clone)]
pub struct Config {
    pub data_dir: DataDir,
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
    /// The language service's section (tsserver on or off, idle time).
    pub language: quire_tsls::LanguageConfig,
    /// The runtime's section: Node binary (tsserver runs on it too), run limits, package sources and
    /// the sandbox launcher.
    pub runtime: quire_runtime::RuntimeConfig,
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
    /// Serve the UI from this directory instead of the embedded build (UI development).
    pub web_dir: Option<PathBuf>,
    /// How long AI provider calls may take (connect, first byte, gaps in the stream).
    pub ai_timeouts: quire_ai::Timeouts,
    /// Retries, breaker and concurrency limit around them.
    pub ai_policy: quire_ai::Policy,
    /// How long an MCP tool call waits for a browser tab's approval.
    pub mcp_approval_timeout: Duration,
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
            data_dir: DataDir::new(data_dir),
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
            language: Default::default(),
            runtime: Default::default(),
            secret_key: None,
            metrics_token: None,
            shutdown_grace: Duration::from_secs(10),
            tls: None,
            otlp_endpoint: None,
            web_dir: None,
            ai_timeouts: Default::default(),
            ai_policy: Default::default(),
            mcp_approval_timeout: quire_mcp::DEFAULT_APPROVAL_TIMEOUT,
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
    pub store: Arc<NotebookStore>,
    pub db: Arc<dyn Database>,
    /// Canonical directory holding the bundled example `.src.md` files.
    pub examples_dir: PathBuf,
    pub import_roots: Vec<PathBuf>,
    pub ready: AtomicBool,
    pub hub: Arc<Hub>,
    pub http: reqwest::Client,
    pub files: Arc<quire_filestore::FileStore>,
    pub users: quire_filestore::users::UserStore,
    pub tsls: Arc<quire_tsls::Manager>,
    pub runtime: Arc<dyn quire_service::Runner>,
    /// Everything the transports may ask of a notebook (edits, runs, the language service's view).
    pub notebooks: quire_service::NotebookService,
    /// `/mcp`: the MCP server over the same notebook service.
    pub mcp_server: quire_mcp_server::HttpService,
    /// AI with the user's provider: edits, generated cells and notebooks, the fix loop.
    pub ai: quire_assist::Assistant,
    /// The user's MCP servers, the approval gate every tool call goes through.
    pub mcp: Arc<crate::tools::McpTools>,
    pub request_limit: Option<crate::ratelimit::Gcra>,
    pub auth_failure_limit: crate::ratelimit::Gcra,
    pub user_limit: Option<crate::ratelimit::Gcra<String>>,
    pub workers: crate::workers::Workers,
    pub otlp: Option<crate::otlp::Exporter>,
    /// Rolling request figures for the admin dashboard.
    pub live: crate::dashboard::live::Live,
    pub audit_failures: crate::audit::failures::Failures,
    /// What confines cells on this machine (reported by `/health`).
    pub sandbox: quire_runtime::sandbox::Status,
    /// Where passwords are hashed and checked (a few threads: bounded memory).
    pub passwords: crate::files::passwords::PasswordWorkers,
}

pub type AppState = Arc<Inner>;

impl Inner {
    pub fn is_ready(&self) -> bool {
        self.ready.load(Ordering::Acquire)
    }
}
