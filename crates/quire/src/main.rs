//! `quire`: parse options, set up logging, bind, serve until Ctrl-C/SIGTERM. Nothing else lives here.

mod admin;
mod config;
mod doctor;
mod logfile;
mod mcp;

use anyhow::{Context, bail};
use clap::{CommandFactory, FromArgMatches, Parser, Subcommand, ValueEnum};
use quire_server::Config;
use quire_stdx::DataDir;
use serde::Serialize;
use std::io::IsTerminal;
use std::net::IpAddr;
use std::path::PathBuf;

#[derive(Parser)]
#[command(name = "quire", version, about = "A fast, secure notebook server for TypeScript and JavaScript")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

// Parsed once per process: the size of the largest variant does not matter.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand)]
enum Command {
    /// Serve notebooks over HTTP and WebSocket.
    Serve(Box<ServeArgs>),
    /// Serve the notebooks of the data dir to an MCP client on stdin/stdout (Claude Desktop, Cursor…):
    /// with the engine in this process, or with `--url` in front of a running server's /mcp
    /// (token from --token, --token-file or QUIRE_TOKEN). Takes `serve`'s options.
    Mcp(Box<mcp::McpArgs>),
    /// Check this machine for what Quire needs (Node, npm, data dir, disk, database) and say what to fix.
    Doctor {
        /// Data directory. Default: ~/.quire
        #[arg(long, env = "QUIRE_DATA_DIR")]
        data_dir: Option<PathBuf>,
        /// The Node.js binary cells run on.
        #[arg(long, env = "QUIRE_NODE", default_value = "node")]
        node: PathBuf,
        #[command(flatten)]
        key: SecretKey,
    },
    /// The configuration `serve` would run with.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Check every stored file chunk and manifest (re-hash everything); exit 1 when damage is found.
    Fsck(FsckArgs),
    /// Maintenance of a data directory (the server must be stopped).
    #[command(subcommand)]
    Admin(admin::AdminCommand),
    /// Internal: supervise one notebook's Node processes in the sandbox (started by `serve`).
    #[command(hide = true)]
    Sandbox { spec: String },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print the effective configuration of `serve` with these arguments as TOML (defaults < config
    /// file < environment < flags), secrets redacted.
    Show(Box<ServeArgs>),
}

/// The instance key, when it is not `DATA_DIR/secret.key`.
#[derive(clap::Args, Clone, Default, Serialize)]
pub struct SecretKey {
    /// The instance key (64 hex digits) that seals secrets; default: DATA_DIR/secret.key, created on
    /// first start.
    #[arg(long = "secret-key", env = "QUIRE_SECRET_KEY", hide_env_values = true)]
    #[serde(rename = "secret-key", skip_serializing_if = "Option::is_none")]
    pub secret_key: Option<String>,
}

#[derive(Parser)]
struct FsckArgs {
    /// Data directory. Default: ~/.quire
    #[arg(long, env = "QUIRE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Quarantine bad chunks, mark damaged files, recompute reference counts (server stopped).
    #[arg(long)]
    repair: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum Signup {
    /// Only the server token can create users.
    Closed,
    /// Anyone can register at /auth/register.
    Open,
}

#[derive(Clone, Copy, ValueEnum, Serialize)]
#[serde(rename_all = "lowercase")]
enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object per line.
    Json,
}

/// Every flag is also a key of the config file (its long name); `config show` serializes this struct,
/// so the field names must be the flags' long names in kebab case (a unit test checks).
#[derive(Parser, Serialize)]
#[serde(rename_all = "kebab-case")]
struct ServeArgs {
    /// Read settings from this TOML file (default: DATA_DIR/quire.toml when present); the environment
    /// and flags override it.
    #[arg(long, env = "QUIRE_CONFIG")]
    #[serde(skip)]
    config: Option<PathBuf>,
    /// Address to bind. Anything but loopback requires --token.
    #[arg(long, env = "QUIRE_HOST", default_value = "127.0.0.1")]
    host: IpAddr,
    /// Port to bind; 0 picks a free port.
    #[arg(long, env = "QUIRE_PORT", default_value_t = 2150)]
    port: u16,
    /// Data directory (notebooks, database). Default: ~/.quire
    #[arg(long, env = "QUIRE_DATA_DIR")]
    data_dir: Option<PathBuf>,
    /// Access token. Default: a random 256-bit token per start.
    #[arg(long, env = "QUIRE_TOKEN", hide_env_values = true, conflicts_with = "token_file")]
    token: Option<String>,
    /// Read the access token from this file (its first line): unlike --token, it never shows in the
    /// process list.
    #[arg(long, env = "QUIRE_TOKEN_FILE")]
    token_file: Option<PathBuf>,
    /// Do not try to open a browser.
    #[arg(long)]
    no_browser: bool,
    /// Extra host name accepted in the Host header (repeatable); loopback names are always accepted.
    #[arg(long = "allow-host", env = "QUIRE_ALLOW_HOSTS", value_delimiter = ',')]
    #[serde(rename = "allow-host")]
    allow_hosts: Vec<String>,
    /// Origin allowed to make state-changing requests and get CORS headers (repeatable).
    #[arg(long = "allow-origin", env = "QUIRE_ALLOW_ORIGINS", value_delimiter = ',')]
    #[serde(rename = "allow-origin")]
    allow_origins: Vec<String>,
    /// Directory that POST /api/import {path} may read .src.md files from (repeatable).
    #[arg(long = "import-root", env = "QUIRE_IMPORT_ROOTS", value_delimiter = ',')]
    #[serde(rename = "import-root")]
    import_roots: Vec<PathBuf>,
    /// Maximum JSON request body in bytes.
    #[arg(long, env = "QUIRE_MAX_BODY", default_value_t = 10 * 1024 * 1024)]
    max_body: usize,
    /// Maximum WebSocket message in bytes.
    #[arg(long, env = "QUIRE_MAX_WS_MESSAGE", default_value_t = 4 * 1024 * 1024)]
    max_ws_message: usize,
    /// Who may register file-store users at /auth/register.
    #[arg(long, env = "QUIRE_SIGNUP", value_enum, default_value = "closed")]
    signup: Signup,
    /// Largest file the file store accepts, in bytes.
    #[arg(long, env = "QUIRE_FILE_MAX_SIZE", default_value_t = 5 << 30)]
    file_max_size: u64,
    /// Bytes each file-store user may keep (the server token is unlimited).
    #[arg(long, env = "QUIRE_FILE_QUOTA", default_value_t = 500 << 20)]
    file_quota: u64,
    /// Default lifetime of uploaded files in days when BTL-Days is absent (0 = never expire).
    #[arg(long, env = "QUIRE_FILE_BTL_DAYS", default_value_t = 7)]
    file_btl_days: i64,
    /// Minutes an unfinished tus upload may go without progress before it expires and its part file goes.
    #[arg(long, env = "QUIRE_UPLOAD_EXPIRY_MINUTES", default_value_t = 60.0)]
    upload_expiry_minutes: f64,
    /// tus uploads each file-store user may have in progress at once.
    #[arg(long, env = "QUIRE_MAX_UPLOADS_IN_PROGRESS", default_value_t = 10)]
    max_uploads_in_progress: u64,
    /// Stop a cell run after this many seconds (default: no limit).
    #[arg(long, env = "QUIRE_CELL_TIMEOUT")]
    cell_timeout: Option<f64>,
    /// Heap limit of one cell run in MiB; a run over it fails, nothing else does.
    #[arg(long, env = "QUIRE_CELL_MEMORY_MB", default_value_t = 2048)]
    cell_memory_mb: u64,
    /// Output kept per run in bytes; past it the output is truncated with a notice.
    #[arg(long, env = "QUIRE_CELL_OUTPUT_LIMIT", default_value_t = 8 * 1024 * 1024)]
    cell_output_limit: usize,
    /// Requests per second per client IP (bursts of twice that); 0 turns the limit off.
    #[arg(long, env = "QUIRE_RATE_LIMIT", default_value_t = 200)]
    rate_limit: u32,
    /// Requests per second per file-store account (bursts of twice that); 0 turns the limit off.
    #[arg(long, env = "QUIRE_USER_RATE_LIMIT", default_value_t = 100)]
    user_rate_limit: u32,
    /// Wrong-token attempts per minute per client IP before answers become 429.
    #[arg(long, env = "QUIRE_AUTH_FAILURES_PER_MINUTE", default_value_t = 10)]
    auth_failures_per_minute: u32,
    /// A token that may read /metrics only (the access token always may).
    #[arg(long, env = "QUIRE_METRICS_TOKEN")]
    metrics_token: Option<String>,
    /// Serve HTTPS with this PEM certificate chain (needs --tls-key); adds HSTS to every response.
    #[arg(long, env = "QUIRE_TLS_CERT", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The PEM private key for --tls-cert.
    #[arg(long, env = "QUIRE_TLS_KEY", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Export a trace span per request to this OpenTelemetry collector (OTLP over HTTP, JSON), e.g.
    /// http://127.0.0.1:4318. Off by default.
    #[arg(long, env = "QUIRE_OTLP_ENDPOINT")]
    otlp_endpoint: Option<String>,
    /// Seconds shutdown waits for in-flight requests before dropping them.
    #[arg(long, env = "QUIRE_SHUTDOWN_TIMEOUT", default_value_t = 10.0)]
    shutdown_timeout: f64,
    /// The Node.js binary cells run on.
    #[arg(long, env = "QUIRE_NODE", default_value = "node")]
    node: PathBuf,
    /// Days a browser session may go unused before it is signed out.
    #[arg(long, env = "QUIRE_SESSION_IDLE_DAYS", default_value_t = 7.0)]
    session_idle_days: f64,
    /// Also append log lines to this file, rotated by size (see --log-max-bytes).
    #[arg(long, env = "QUIRE_LOG_FILE")]
    log_file: Option<PathBuf>,
    /// Size at which the log file rotates; 5 old files are kept.
    #[arg(long, env = "QUIRE_LOG_MAX_BYTES", default_value_t = 10 * 1024 * 1024)]
    log_max_bytes: u64,
    /// Log format: human-readable text (default) or one JSON object per line.
    #[arg(long, env = "QUIRE_LOG_FORMAT", value_enum, default_value = "text")]
    log_format: LogFormat,
    /// Run no TypeScript language service (no tsserver, no npm install of TypeScript).
    #[arg(long, env = "QUIRE_NO_LANGUAGE_SERVICE")]
    no_language_service: bool,
    /// Seconds a client has to send a request's headers; idle keep-alive connections close after it too.
    #[arg(long, env = "QUIRE_HEADER_TIMEOUT", default_value_t = 10.0)]
    header_timeout: f64,
    /// Open connections at most (lowered to fit the file-descriptor limit); 503 beyond.
    #[arg(long, env = "QUIRE_MAX_CONNECTIONS", default_value_t = 4096)]
    max_connections: usize,
    /// Open connections at most per client IP; 503 beyond.
    #[arg(long, env = "QUIRE_MAX_CONNECTIONS_PER_IP", default_value_t = 512)]
    max_connections_per_ip: usize,
    /// Days the audit log keeps entries.
    #[arg(long, env = "QUIRE_AUDIT_RETENTION_DAYS", default_value_t = 90.0)]
    audit_retention_days: f64,
    /// Most audit log entries kept (the oldest go first).
    #[arg(long, env = "QUIRE_AUDIT_MAX_ROWS", default_value_t = 100_000)]
    audit_max_rows: u64,
    /// Let deps:install use any package source (file:, git, URLs, paths), not only the npm registry.
    #[arg(long, env = "QUIRE_ANY_PACKAGE_SOURCE")]
    any_package_source: bool,
    /// Run cells without the sandbox (Landlock confinement and process-tree supervision). Unsafe:
    /// cells can then read the instance key, the databases and other notebooks.
    #[arg(long, env = "QUIRE_NO_SANDBOX")]
    no_sandbox: bool,
    /// Serve the browser UI from this directory (a `vite build` output) instead of the embedded one.
    #[arg(long, env = "QUIRE_WEB_DIR", hide = true)]
    web_dir: Option<PathBuf>,
    #[command(flatten)]
    #[serde(flatten)]
    key: SecretKey,
}

fn init_logging(format: LogFormat, file: Option<logfile::RotatingFile>) {
    use tracing_subscriber::fmt::writer::MakeWriterExt;
    let filter = tracing_subscriber::EnvFilter::try_from_env("QUIRE_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,hyper=warn,tower=warn"));
    let file = std::sync::Mutex::new(
        file.map(tracing_subscriber::fmt::writer::EitherWriter::A)
            .unwrap_or(tracing_subscriber::fmt::writer::EitherWriter::B(std::io::sink())),
    );
    let writer = std::io::stderr.and(file);
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_writer(writer);
    match format {
        LogFormat::Json => builder.json().flatten_event(true).init(),
        // Colours only when both go to a terminal: escape codes do not belong in a log file.
        LogFormat::Text => builder.with_ansi(std::io::stderr().is_terminal() && !has_file()).init(),
    }
}

static LOG_FILE_SET: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

fn has_file() -> bool {
    LOG_FILE_SET.load(std::sync::atomic::Ordering::Relaxed)
}

fn data_dir_or_default(given: Option<PathBuf>) -> anyhow::Result<DataDir> {
    given.map_or_else(default_data_dir, Ok).map(DataDir::new)
}

fn default_data_dir() -> anyhow::Result<PathBuf> {
    let home = std::env::var_os("HOME").context("HOME is not set; pass --data-dir")?;
    Ok(PathBuf::from(home).join(".quire"))
}

/// Open the browser on a 0600 redirect file in the data dir (as Jupyter does), so the token never
/// appears on a command line that other users can read in the process list.
fn open_browser(data_dir: &DataDir, url: &str) {
    use std::io::Write;
    #[cfg(unix)]
    use std::os::unix::fs::OpenOptionsExt;
    let path = data_dir.open_page();
    let page = format!(
        "<!doctype html><meta charset=\"utf-8\"><meta http-equiv=\"refresh\" content=\"0;url={url}\">\
         <title>Quire</title><a href=\"{url}\">Open Quire</a>\n"
    );
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    opts.mode(0o600);
    let written = opts.open(&path).and_then(|mut f| f.write_all(page.as_bytes()));
    if let Err(e) = written {
        tracing::warn!(error = %e, "could not write the browser redirect file");
        return;
    }
    // The page holds the token: it goes once the browser has surely read it (the server also removes
    // it at the first link exchange).
    let stale = path.clone();
    std::thread::spawn(move || {
        std::thread::sleep(std::time::Duration::from_secs(60));
        let _ = std::fs::remove_file(stale);
    });
    // Best effort; a server without a browser is fine.
    let _ = std::process::Command::new("xdg-open")
        .arg(&path)
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn();
}

/// Install the signal handlers now (before the listening line is printed, so an early SIGTERM is not
/// lost) and return a future that resolves on SIGINT or SIGTERM.
fn shutdown_signal() -> anyhow::Result<impl std::future::Future<Output = ()> + Send + 'static> {
    #[cfg(unix)]
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    #[cfg(unix)]
    let mut int = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())?;
    Ok(async move {
        #[cfg(unix)]
        tokio::select! { _ = term.recv() => {}, _ = int.recv() => {} }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("shutting down");
    })
}

async fn serve(args: ServeArgs, file: Option<PathBuf>) -> anyhow::Result<()> {
    let log_file = match &args.log_file {
        Some(path) => Some(
            logfile::RotatingFile::open(path.clone(), args.log_max_bytes, 5)
                .with_context(|| format!("cannot open the log file {}", path.display()))?,
        ),
        None => None,
    };
    LOG_FILE_SET.store(log_file.is_some(), std::sync::atomic::Ordering::Relaxed);
    init_logging(args.log_format, log_file);
    if let Some(file) = &file {
        tracing::info!(file = %file.display(), "read the config file");
    }
    let mut args = args;
    if let Some(path) = &args.token_file {
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?;
        args.token = Some(text.lines().next().unwrap_or("").trim().to_string());
    }
    if !args.host.is_loopback() && args.token.is_none() {
        bail!(
            "refusing to bind {} without --token: a non-loopback address needs an explicit token",
            args.host
        );
    }
    if args.token.as_deref().is_some_and(|t| t.len() < 16) {
        bail!("--token must be at least 16 characters");
    }
    let (files, runtime) = (file_store_section(&args)?, runtime_section(&args)?);
    let language = quire_tsls::LanguageConfig { enabled: !args.no_language_service, ..Default::default() };
    let token = args.token.unwrap_or_else(|| quire_server::random_hex(32));
    // Not dumpable: processes of the same user (a cell among them) cannot read this process's
    // environment (QUIRE_TOKEN, QUIRE_SECRET_KEY) or memory through /proc.
    if let Err(e) = rustix::process::set_dumpable_behavior(rustix::process::DumpableBehavior::NotDumpable) {
        tracing::warn!(error = %e, "could not make the server process non-dumpable");
    }
    let data_dir = data_dir_or_default(args.data_dir)?;
    std::fs::create_dir_all(data_dir.root())
        .with_context(|| format!("cannot create {}", data_dir.root().display()))?;
    let _lock = admin::lock_data_dir(&data_dir)?;
    // A redirect page a previous run left (it held that run's token).
    let _ = std::fs::remove_file(data_dir.open_page());
    admin::refuse_unfinished_restore(&data_dir)?;
    if let (Some(cert), Some(key)) = (&args.tls_cert, &args.tls_key) {
        quire_server::check_tls(&quire_server::TlsFiles { cert: cert.clone(), key: key.clone() })?;
    }
    let shutdown = shutdown_signal()?;
    let listener = tokio::net::TcpListener::bind((args.host, args.port))
        .await
        .with_context(|| format!("cannot bind {}:{}", args.host, args.port))?;
    let addr = listener.local_addr()?;
    let host = if addr.is_ipv6() { format!("[{}]", addr.ip()) } else { addr.ip().to_string() };
    let scheme = if args.tls_cert.is_some() { "https" } else { "http" };
    let url = format!("{scheme}://{host}:{}/?token={token}", addr.port());
    println!("Quire listening on {url}");
    if !args.no_browser && std::env::var_os("CI").is_none() {
        open_browser(&data_dir, &url);
    }
    let mut config = Config::new(data_dir.root().to_path_buf(), token);
    // Each crate's own section, built here from the flags.
    config.files = files;
    config.runtime = runtime;
    config.language = language;
    config.allowed_hosts = args.allow_hosts;
    config.allowed_origins = args.allow_origins;
    config.import_roots = args.import_roots;
    config.max_body_bytes = args.max_body;
    config.max_ws_message_bytes = args.max_ws_message;
    config.signup_open = args.signup == Signup::Open;
    config.secret_key = args.key.secret_key;
    config.rate_limit_rps = args.rate_limit;
    config.user_rate_limit_rps = args.user_rate_limit;
    if let Some(e) = &args.otlp_endpoint
        && !(e.starts_with("http://") || e.starts_with("https://"))
    {
        bail!("--otlp-endpoint must be an http:// or https:// URL, got {e}");
    }
    config.otlp_endpoint = args.otlp_endpoint;
    config.metrics_token = args.metrics_token;
    config.web_dir = args.web_dir;
    if !(args.audit_retention_days.is_finite() && args.audit_retention_days > 0.0) {
        bail!("--audit-retention-days must be a positive number");
    }
    config.audit_retention = std::time::Duration::from_secs_f64(args.audit_retention_days * 86400.0);
    config.audit_max_rows = args.audit_max_rows.max(1);
    if !(args.header_timeout.is_finite() && args.header_timeout > 0.0) {
        bail!("--header-timeout must be a positive number of seconds");
    }
    config.header_timeout = std::time::Duration::from_secs_f64(args.header_timeout);
    config.max_connections = args.max_connections.max(1);
    config.max_connections_per_ip = args.max_connections_per_ip.max(1);
    if let (Some(cert), Some(key)) = (args.tls_cert, args.tls_key) {
        config.tls = Some(quire_server::TlsFiles { cert, key });
    }
    if !(args.shutdown_timeout.is_finite() && args.shutdown_timeout >= 0.0) {
        bail!("--shutdown-timeout must be a number of seconds");
    }
    config.shutdown_grace = std::time::Duration::from_secs_f64(args.shutdown_timeout);
    if !(args.session_idle_days.is_finite() && args.session_idle_days > 0.0) {
        bail!("--session-idle-days must be a positive number");
    }
    config.session_idle = std::time::Duration::from_secs_f64(args.session_idle_days * 86400.0);
    config.auth_failures_per_minute = args.auth_failures_per_minute.max(1);
    tracing::info!(?config, %addr, "starting");
    quire_server::serve(config, listener, shutdown).await
}

/// Parse the command line; for `serve` and `config show`, with the config file's values below the
/// environment's and the flags' (see `config`). Returns the file that was read.
fn parse() -> anyhow::Result<(Cli, Option<PathBuf>)> {
    let argv: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let matches = Cli::command().get_matches_from(argv.clone());
    // Where the subcommand's own arguments start: `quire serve …`, `quire config show …`.
    let (names, at): (&[&str], usize) = match matches.subcommand() {
        Some(("serve", _)) => (&["serve"], 2),
        Some(("mcp", _)) => (&["mcp"], 2),
        Some(("config", m)) if m.subcommand_name() == Some("show") => (&["config", "show"], 3),
        _ => return Ok((Cli::from_arg_matches(&matches)?, None)),
    };
    let sub = names.iter().try_fold(&matches, |m, n| m.subcommand_matches(n)).context("subcommand")?;
    let Some(file) = config::file_for(sub, default_data_dir)? else {
        return Ok((Cli::from_arg_matches(&matches)?, None));
    };
    let mut cmd = Cli::command();
    cmd.build();
    let sub_cmd = names.iter().try_fold(&cmd, |c, n| c.find_subcommand(n)).context("subcommand")?;
    let merged = config::merge(argv, at, sub_cmd, sub, &file)?;
    let matches = Cli::command().try_get_matches_from(merged).unwrap_or_else(|e| e.exit());
    Ok((Cli::from_arg_matches(&matches)?, Some(file)))
}

/// The file store's section of the configuration.
fn file_store_section(args: &ServeArgs) -> anyhow::Result<quire_filestore::StoreConfig> {
    if !(args.upload_expiry_minutes.is_finite() && args.upload_expiry_minutes > 0.0) {
        bail!("--upload-expiry-minutes must be a positive number");
    }
    Ok(quire_filestore::StoreConfig {
        max_file_size: args.file_max_size,
        quota_bytes: args.file_quota,
        upload_expiry_ms: (args.upload_expiry_minutes * 60_000.0) as i64,
        max_uploads_in_progress: args.max_uploads_in_progress,
        default_btl_days: args.file_btl_days,
        ..Default::default()
    })
}

/// The runtime's section: Node, run limits, package sources, the sandbox (this binary re-executed).
fn runtime_section(args: &ServeArgs) -> anyhow::Result<quire_runtime::RuntimeConfig> {
    let timeout = match args.cell_timeout {
        Some(t) if t.is_finite() && t > 0.0 => Some(std::time::Duration::from_secs_f64(t)),
        Some(t) => bail!("--cell-timeout must be a positive number of seconds, got {t}"),
        None => None,
    };
    let sandbox = if args.no_sandbox {
        None
    } else {
        let program = std::env::current_exe().context("cannot find the quire binary to run the sandbox")?;
        Some(quire_sandbox::Launcher { program, args: vec!["sandbox".into()] })
    };
    Ok(quire_runtime::RuntimeConfig {
        node: args.node.clone(),
        timeout,
        memory_mb: args.cell_memory_mb.max(16),
        output_cap: args.cell_output_limit,
        any_package_source: args.any_package_source,
        sandbox,
        ..Default::default()
    })
}

fn main() -> anyhow::Result<()> {
    let (cli, file) = parse()?;
    // The sandbox supervisor needs no async runtime, logging or anything else of the server.
    let command = match cli.command {
        Command::Sandbox { spec } => std::process::exit(quire_sandbox::supervise(&spec)),
        other => other,
    };
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    match command {
        Command::Serve(args) => rt.block_on(serve(*args, file)),
        Command::Mcp(args) => rt.block_on(mcp::run(*args)),
        Command::Fsck(args) => fsck(args),
        Command::Admin(cmd) => admin::run(cmd),
        Command::Sandbox { .. } => Ok(()), // already run above
        Command::Config(ConfigCommand::Show(args)) => {
            print!("{}", config::show(&*args, file.as_deref())?);
            Ok(())
        }
        Command::Doctor { data_dir, node, key } => {
            let data_dir = data_dir_or_default(data_dir)?;
            if doctor::run(&data_dir, &node, key.secret_key.as_deref())? {
                Ok(())
            } else {
                std::process::exit(1)
            }
        }
    }
}

fn fsck(args: FsckArgs) -> anyhow::Result<()> {
    init_logging(LogFormat::Text, None);
    let data_dir = data_dir_or_default(args.data_dir)?;
    // Repair rewrites the store; checking alone can run next to a live server.
    let _lock = if args.repair { Some(admin::lock_data_dir(&data_dir)?) } else { None };
    let report = quire_server::fsck(&data_dir, args.repair)?;
    println!("{}", serde_json::to_string_pretty(&report)?);
    if !report["clean"].as_bool().unwrap_or(false) {
        std::process::exit(1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `config show` prints a valid config file: each key it prints is a flag's long name, and every
    /// flag of `serve` but `--config` (and `--token-file`, which excludes `--token`) is printed when set.
    #[test]
    fn config_show_keys_are_the_flags() {
        let args = ServeArgs::try_parse_from([
            "serve",
            "--token=t-0123456789abcdef",
            "--secret-key=k",
            "--metrics-token=m",
            "--data-dir=/d",
            "--cell-timeout=1",
            "--tls-cert=c",
            "--tls-key=k",
            "--otlp-endpoint=http://x",
            "--log-file=l",
            "--web-dir=w",
        ])
        .unwrap();
        let table = toml::Table::try_from(&args).unwrap();
        let cmd = ServeArgs::command();
        let longs: Vec<&str> = cmd.get_arguments().filter_map(|a| a.get_long()).collect();
        for key in table.keys() {
            assert!(longs.contains(&key.as_str()), "`{key}` is not a flag");
        }
        for long in longs {
            assert!(
                ["config", "token-file"].contains(&long) || table.contains_key(long),
                "--{long} has no key in `config show`"
            );
        }
    }
}
