//! Quire's HTTP + WebSocket server. `serve` runs on a listener it is handed (tests bind port 0) until
//! the shutdown future resolves.
//!
//! Invariant: only this crate knows HTTP; it maps every lower-layer error to a status and stable code.

mod audit;
mod auth;
mod dashboard;
mod error;
mod extract;
mod files;
mod listen;
mod log;
mod metrics;
mod otlp;
mod ratelimit;
mod routes;
mod stamps;
mod state;
mod tls;
mod wire;
mod workers;
mod ws;

pub use auth::random_hex;
pub use error::ApiError;
pub use state::{Config, TlsFiles};

/// Check a certificate and key before binding, so a bad pair fails before anything is announced.
pub fn check_tls(files: &TlsFiles) -> anyhow::Result<()> {
    tls::server_config(files).map(|_| ())
}
/// Parsers exposed for the fuzz targets (`fuzz/`).
pub use {files::tus_headers, ws::parse_client_message};

use axum::http::{HeaderValue, header};
use quire_notebook::{NotebookStore, SqliteDatabase};
use state::{AppState, Inner};
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::Ordering;

/// Security headers on every response (the UI and API set nothing that needs more).
async fn security_headers(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    let scheme = if state.config.tls.is_some() { "https" } else { "http" };
    let csp = ui_policy(scheme, req.headers().get(header::HOST));
    let mut resp = next.run(req).await;
    let h = resp.headers_mut();
    if state.config.tls.is_some() {
        h.insert(header::STRICT_TRANSPORT_SECURITY, HeaderValue::from_static("max-age=31536000"));
    }
    h.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    h.insert(header::REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    h.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    h.entry(header::CONTENT_SECURITY_POLICY).or_insert(csp);
    resp
}

/// The UI's policy: scripts only from the embedded build's `/assets/` (so nothing else served on this
/// origin, such as an uploaded file, can ever be a script), everything else from the same origin.
/// A path needs a host in CSP, so it is built from the request's `Host` (checked by `auth::guard`).
fn ui_policy(scheme: &str, host: Option<&HeaderValue>) -> HeaderValue {
    const REST: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; \
        style-src 'self' 'unsafe-inline'; object-src 'none'; frame-ancestors 'none'; base-uri 'none'; \
        form-action 'self'";
    let host = host
        .and_then(|h| h.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b".-:[]".contains(&b)));
    let scripts = match host {
        Some(h) => format!("script-src {scheme}://{h}/assets/"),
        None => "script-src 'none'".to_string(),
    };
    HeaderValue::from_str(&format!("{scripts}; {REST}"))
        .unwrap_or(HeaderValue::from_static("default-src 'none'"))
}

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
fn build_state(config: Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)?;
    if let Some(dir) = &config.web_dir {
        routes::serve_ui_from(dir.clone());
    }
    let db_path = config.data_dir.join("quire.db");
    let key = quire_notebook::seal::instance_key(&config.data_dir, &db_path, config.secret_key.as_deref())?;
    let db = SqliteDatabase::open(&db_path, key)?;
    let store = NotebookStore::open(&config.data_dir.join("notebooks"))?;
    let examples_dir = routes::examples::install(&config.data_dir)?;
    let mut import_roots = vec![examples_dir.clone()];
    for r in &config.import_roots {
        match r.canonicalize() {
            Ok(c) => import_roots.push(c),
            Err(e) => tracing::warn!(root = %r.display(), error = %e, "import root skipped"),
        }
    }
    let http = http_client(&config)?;
    let files = quire_filestore::FileStore::open(&config.data_dir.join("files"), config.files.clone())?;
    let users = quire_filestore::users::UserStore::open(&files.db_path())?;
    let tsls = ws::tsserver::manager(&config);
    let mut rc = quire_runtime::RuntimeConfig::new(config.data_dir.clone());
    rc.timeout = config.cell_timeout;
    rc.memory_mb = config.cell_memory_mb;
    rc.output_cap = config.cell_output_bytes;
    rc.node = config.node.clone();
    rc.any_package_source = config.any_package_source;
    rc.sandbox = config.sandbox.clone();
    let sandbox = match &config.sandbox {
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
    let runtime = quire_runtime::Runtime::new(rc)?;
    metrics::init();
    let (config_rps, auth_per_min) = (config.rate_limit_rps, config.auth_failures_per_minute);
    let user_rps = config.user_rate_limit_rps;
    let otlp = config.otlp_endpoint.as_deref().map(|e| otlp::Exporter::start(e, http.clone()));
    Ok(Arc::new(Inner {
        config,
        store,
        db: Box::new(db),
        examples_dir,
        import_roots,
        ready: Default::default(),
        hub: Default::default(),
        http,
        files,
        users,
        tsls,
        runtime,
        request_limit: (config_rps > 0).then(|| ratelimit::Gcra::new(config_rps as f64, config_rps * 2)),
        auth_failure_limit: ratelimit::Gcra::new(auth_per_min as f64 / 60.0, auth_per_min.max(1)),
        user_limit: (user_rps > 0).then(|| ratelimit::Gcra::new(user_rps as f64, user_rps * 2)),
        workers: Default::default(),
        otlp,
        live: Default::default(),
        audit_failures: Default::default(),
        passwords: files::PasswordWorkers::start(PASSWORD_THREADS),
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

pub fn app(state: AppState) -> axum::Router {
    let limit = state.config.max_body_bytes;
    routes::router(state.clone())
        .layer(axum::extract::DefaultBodyLimit::max(limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), auth::guard))
        .layer(axum::middleware::from_fn_with_state(state.clone(), audit::record))
        .layer(axum::middleware::from_fn_with_state(state.clone(), metrics::track))
        .layer(axum::middleware::from_fn_with_state(state.clone(), otlp::trace_requests))
        .layer(axum::middleware::from_fn_with_state(state.clone(), rate_limit))
        .layer(axum::middleware::from_fn_with_state(state.clone(), security_headers))
        .layer(axum::middleware::from_fn(log::log_requests))
        .with_state(state)
}

/// The client's IP (from the accepted socket; absent for in-process requests in unit tests).
pub fn client_ip(req: &axum::extract::Request) -> Option<std::net::IpAddr> {
    req.extensions().get::<axum::extract::ConnectInfo<std::net::SocketAddr>>().map(|c| c.0.ip())
}

/// The general per-IP limit; health checks are exempt (monitors poll them).
async fn rate_limit(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> axum::response::Response {
    if let (Some(limit), Some(ip)) = (&state.request_limit, client_ip(&req))
        && !matches!(req.uri().path(), "/health" | "/ready")
        && let Err(retry) = limit.check(ip, std::time::Instant::now())
    {
        // Refused before `metrics::track` sees it: the dashboard still counts it (as a 4xx).
        state.live.record_refused(429);
        return ratelimit::too_many(retry);
    }
    next.run(req).await
}

/// Serve until `shutdown` resolves. The listener is already bound (port 0 in tests).
pub async fn serve(
    config: Config,
    listener: tokio::net::TcpListener,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> anyhow::Result<()> {
    let tls_config = config.tls.as_ref().map(tls::server_config).transpose()?;
    let state = build_state(config)?;
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
    let app = app(state.clone());
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
    state.audit_failures.flush(&state, true);
    state.tsls.shutdown().await;
    // Whatever happened to the listener, no Node process outlives the server.
    state.runtime.shutdown().await;
    if let Some(exporter) = &state.otlp {
        exporter.shutdown().await;
    }
    Ok(())
}

/// `quire fsck`: verify (and with `repair`, fix) the file store under `data_dir`, as JSON.
pub fn fsck(data_dir: &std::path::Path, repair: bool) -> anyhow::Result<serde_json::Value> {
    let store = quire_filestore::FileStore::open(&data_dir.join("files"), Default::default())?;
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
        let state = build_state(Config::new(tmp.path().into(), "t".into())).unwrap();
        let app = app(state.clone());
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
