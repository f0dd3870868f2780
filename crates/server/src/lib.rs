//! Quire's HTTP + WebSocket server. `serve` runs on a listener it is handed (tests bind port 0) until
//! the shutdown future resolves.
//!
//! Invariant: only this crate knows HTTP; it maps every lower-layer error to a status and stable code.

mod app;
mod audit;
mod auth;
mod dashboard;
mod error;
mod extract;
mod files;
mod listen;
mod log;
mod mcp;
mod metrics;
mod otlp;
mod ratelimit;
mod routes;
mod state;
mod tls;
mod token;
mod tools;
mod wire;
mod workers;
mod ws;

pub use error::{ApiError, Code};
pub use quire_service::{FakeRunner, Runner};
pub use routes::route_list;
pub use routes::table::{Access, RouteInfo};
pub use state::{Config, TlsFiles};
pub use token::random_hex;

/// Check a certificate and key before binding, so a bad pair fails before anything is announced.
pub fn check_tls(files: &TlsFiles) -> anyhow::Result<()> {
    tls::server_config(files).map(|_| ())
}
/// Parsers exposed for the fuzz targets (`fuzz/`).
pub use {files::tus_headers, ws::parse_client_message};

use quire_notebook::{NotebookStore, SqliteDatabase};
use state::{AppState, Inner};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Make ring the process-wide TLS crypto provider (no aws-lc C build). Idempotent; call before
/// building any HTTP client.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

fn http_client(config: &Config) -> anyhow::Result<reqwest::Client> {
    install_crypto_provider();
    let client = reqwest::Client::builder()
        .timeout(config.url_import_timeout)
        .redirect(reqwest::redirect::Policy::custom(|attempt| {
            if attempt.previous().len() >= 5 || !matches!(attempt.url().scheme(), "http" | "https") {
                attempt.stop()
            } else {
                attempt.follow()
            }
        }))
        .user_agent(concat!("quire/", env!("CARGO_PKG_VERSION")))
        .build()?;
    Ok(client)
}

/// Argon2id hashes at once: the cores of a small machine, and a bounded ~19 MiB each.
const PASSWORD_THREADS: usize = 2;

/// Build the state: open (and migrate) the database, prepare directories. Notebooks load in `serve`.
/// `runner`: what runs cells (default: Node hosts per `config`).
fn build_state(config: Config, runner: Option<Arc<dyn Runner>>) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(config.data_dir.root())?;
    if let Some(dir) = &config.web_dir {
        routes::serve_ui_from(dir.clone());
    }
    let key = quire_notebook::seal::instance_key(&config.data_dir, config.secret_key.as_deref())?;
    let db: Arc<dyn quire_notebook::Database> =
        Arc::new(SqliteDatabase::open(&config.data_dir.db(), key.clone())?);
    let store = Arc::new(NotebookStore::open(&config.data_dir.notebooks())?);
    let examples_dir = routes::examples::install(&config.data_dir)?;
    let mut import_roots = vec![examples_dir.clone()];
    for r in &config.import_roots {
        match r.canonicalize() {
            Ok(c) => import_roots.push(c),
            Err(e) => tracing::warn!(root = %r.display(), error = %e, "import root skipped"),
        }
    }
    let http = http_client(&config)?;
    let files = quire_filestore::FileStore::open(config.data_dir.files(), config.files.clone())?;
    let users = quire_filestore::users::UserStore::open(&files.db_path())?;
    let tsls = Arc::new(ws::tsserver::manager(&config));
    let sandbox = match &config.runtime.sandbox {
        None => {
            tracing::warn!("cells run without the sandbox: they can read everything this user can");
            quire_runtime::sandbox::Status::Off
        }
        Some(_) => match quire_runtime::sandbox::probe() {
            quire_runtime::sandbox::Status::Enforced => quire_runtime::sandbox::Status::Enforced,
            other => {
                tracing::warn!(
                    landlock = ?other,
                    "this kernel cannot fully confine cells (Landlock missing or old): cells can read files outside their notebook"
                );
                other
            }
        },
    };
    let runtime = match runner {
        Some(r) => r,
        None => Arc::new(quire_service::NodeRunner(quire_runtime::Runtime::new(
            &config.data_dir,
            config.runtime.clone(),
        )?)),
    };
    let hub = Arc::new(ws::hub::Hub::default());
    let notebooks = quire_service::NotebookService::new(quire_service::Parts {
        store: store.clone(),
        db: db.clone(),
        runner: runtime.clone(),
        tsls: tsls.clone(),
        publish: Arc::new(ws::publish::ToSubscribers(hub.clone())),
        language_enabled: config.language.enabled,
    });
    let mcp_server = mcp::endpoint(notebooks.clone(), hub.clone(), config.max_body_bytes);
    let reliable =
        quire_ai::Reliable::new(quire_ai::AiClient::new(config.ai_timeouts)?, config.ai_policy.clone());
    let gate = quire_mcp::Gate::new(
        Arc::new(tools::HubAudience(hub.clone())),
        Arc::new(tools::SettingsRules(db.clone())),
        config.mcp_approval_timeout,
    );
    let mcp = Arc::new(tools::McpTools::load(
        config.data_dir.mcp_config(),
        tools::KeySealer(key),
        gate,
        db.clone(),
    ));
    let ai = quire_assist::Assistant::new(reliable, notebooks.clone())
        .with_tools(Arc::new(tools::McpToolbox(mcp.clone())));
    metrics::init();
    let (config_rps, auth_per_min) = (config.rate_limit_rps, config.auth_failures_per_minute);
    let user_rps = config.user_rate_limit_rps;
    let otlp = config.otlp_endpoint.as_deref().map(|e| otlp::Exporter::start(e, http.clone()));
    Ok(Arc::new(Inner {
        config,
        store,
        db,
        examples_dir,
        import_roots,
        ready: Default::default(),
        hub,
        http,
        files,
        users,
        tsls,
        runtime,
        notebooks,
        mcp_server,
        ai,
        mcp,
        request_limit: (config_rps > 0).then(|| ratelimit::Gcra::new(config_rps as f64, config_rps * 2)),
        auth_failure_limit: ratelimit::Gcra::new(auth_per_min as f64 / 60.0, auth_per_min.max(1)),
        user_limit: (user_rps > 0).then(|| ratelimit::Gcra::new(user_rps as f64, user_rps * 2)),
        workers: Default::default(),
        otlp,
        live: Default::default(),
        audit_failures: Default::default(),
        passwords: files::passwords::PasswordWorkers::start(PASSWORD_THREADS),
        sandbox,
    }))
}

/// Ensure the install id exists (generated once, kept in settings).
fn ensure_install_id(state: &AppState) -> anyhow::Result<()> {
    if !state.db.settings()?.contains_key("installId") {
        let mut p = std::collections::BTreeMap::new();
        p.insert("installId".to_string(), serde_json::json!(random_hex(16)));
        state.db.update_settings(&p)?;
    }
    Ok(())
}

/// `quire mcp` with no server running: the engine on the data dir in this process (the state a
/// server builds, without a listener), the MCP handler on stdin/stdout until the client closes
/// them. Its edits reach nobody else: no browser can be connected to this process.
pub async fn serve_mcp_stdio(config: Config) -> anyhow::Result<()> {
    let state = build_state(config, None)?;
    let loader = state.clone();
    tokio::task::spawn_blocking(move || loader.store.load_all()).await??;
    state.ready.store(true, Ordering::Release);
    let served =
        quire_mcp_server::serve_stdio(mcp::handler(state.notebooks.clone(), state.hub.clone())).await;
    state.tsls.shutdown().await;
    // No Node process or tsserver outlives the command.
    state.runtime.shutdown().await;
    Ok(served?)
}

/// Serve until `shutdown` resolves. The listener is already bound (port 0 in tests).
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    serve_with_runner(config, None, listener, shutdown).await
}

/// `serve`, with cells run by `runner` instead of Node hosts (tests that do not test runs).
pub async fn serve_with_runner(
    config: Config,
    runner: Option<Arc<dyn Runner>>,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls_config = config.tls.as_ref().map(tls::server_config).transpose()?;
    let state = build_state(config, runner)?;
    ws::tsserver::spawn_forwarder(&state);
    let loader = state.clone();
    tokio::task::spawn_blocking(move || {
        if let Err(e) = ensure_install_id(&loader) {
            tracing::error!(error = %e, "could not store the install id");
        }
        match loader.store.load_all() {
            Ok(n) => {
                tracing::info!(notebooks = n, failed = loader.store.failures().len(), "notebooks loaded")
            }
            Err(e) => tracing::error!(error = %e, "could not read the notebooks directory"),
        }
        loader.ready.store(true, Ordering::Release);
    });
    files::spawn_sweeper(state.clone());
    audit::spawn_maintenance(state.clone());
    state.mcp.watch();
    let app = app::app(state.clone());
    let closing = state.clone();
    let begun = Arc::new(tokio::sync::Notify::new());
    let notify = begun.clone();
    let shutdown = async move {
        shutdown.await;
        // Load balancers stop sending new work while the old drains.
        closing.ready.store(false, Ordering::Release);
        notify.notify_one();
        // Upgraded WebSocket connections are not part of HTTP's graceful shutdown: tell them.
        closing.hub.close_all();
        // Nor are MCP's event streams.
        quire_mcp_server::close(&closing.mcp_server);
    };
    let grace = state.config.shutdown_grace;
    let grace_over = async move {
        begun.notified().await;
        tokio::time::sleep(grace).await;
        tracing::warn!(
            grace_secs = grace.as_secs_f64(),
            "requests still running after the shutdown grace period; dropped"
        );
    };
    let limits = listen::ConnLimits {
        header_timeout: state.config.header_timeout,
        max_connections: listen::effective_max_connections(state.config.max_connections),
        max_per_ip: state.config.max_connections_per_ip,
    };
    tokio::select! {
        _ = listen::serve(listener, tls_config, app, limits, shutdown) => {}
        _ = grace_over => {}
    }
    state.ready.store(false, Ordering::Release);
    state.audit_failures.flush(&*state.db, true);
    state.tsls.shutdown().await;
    // Whatever happened to the listener, no Node process outlives the server.
    state.runtime.shutdown().await;
    if let Some(exporter) = &state.otlp {
        exporter.shutdown().await;
    }
    Ok(())
}

/// `quire fsck`: verify (and with `repair`, fix) the file store under `data_dir`, as JSON.
pub fn fsck(data_dir: &quire_stdx::DataDir, repair: bool) -> anyhow::Result<serde_json::Value> {
    let store = quire_filestore::FileStore::open(data_dir.files(), Default::default())?;
    let r = store.fsck(repair)?;
    Ok(serde_json::json!({
        "clean": r.is_clean(),
        "repaired": r.repaired,
        "chunks_checked": r.chunks_checked,
        "files_checked": r.files_checked,
        "corrupt_chunks": r.corrupt_chunks,
        "missing_chunks": r.missing_chunks,
        "damaged_files": r.damaged_files,
        "orphan_blobs": r.orphan_blobs,
        "refcounts_fixed": r.refcounts_fixed,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::Request;
    use tower::ServiceExt;

    fn get(path: &str) -> Request<Body> {
        Request::get(path)
            .header("host", "127.0.0.1")
            .header("authorization", "Bearer t")
            .body(Body::empty())
            .unwrap()
    }

    #[tokio::test]
    async fn not_ready_until_notebooks_are_loaded() {
        let tmp = tempfile::tempdir().unwrap();
        let state =
            build_state(Config::new(tmp.path().into(), "t".into()), Some(Arc::new(FakeRunner::default())))
                .unwrap();
        let app = app::app(state.clone());
        assert_eq!(app.clone().oneshot(get("/ready")).await.unwrap().status(), 503);
        let r = app.clone().oneshot(get("/api/sessions")).await.unwrap();
        assert_eq!(r.status(), 503);
        assert_eq!(r.headers()["retry-after"], "1");
        assert_eq!(app.clone().oneshot(get("/health")).await.unwrap().status(), 200);
        state.store.load_all().unwrap();
        state.ready.store(true, Ordering::Release);
        assert_eq!(app.clone().oneshot(get("/ready")).await.unwrap().status(), 200);
        assert_eq!(app.oneshot(get("/api/sessions")).await.unwrap().status(), 200);
    }
}
