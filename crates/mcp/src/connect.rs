//! Opening one connection: a stdio child (scrubbed environment, own process group, parent-death
//! signal, stderr kept) or Streamable HTTP (configured headers), then the MCP handshake.

use crate::config::{HttpSpec, ServerSpec, StdioSpec};
use crate::error::McpError;
use crate::handler::{Handler, ListKind};
use process_wrap::tokio::{CommandWrap, ProcessGroup};
use rmcp::RoleClient;
use rmcp::model::ProtocolVersion;
use rmcp::service::RunningServiceCancellationToken;
use rmcp::service::{ClientLifecycleMode, RunningService, serve_client_with_lifecycle};
use rmcp::transport::TokioChildProcess;
use rmcp::transport::streamable_http_client::{
    StreamableHttpClientTransport, StreamableHttpClientTransportConfig,
};
use std::collections::{BTreeMap, HashMap};
use std::path::PathBuf;
use std::process::Stdio;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;
use tokio::io::AsyncReadExt;
use tokio::sync::mpsc::UnboundedSender;
use tokio::task::JoinHandle;

/// The parent's variables a stdio server may see (everything else is dropped; its `env` is added).
pub const PASSED_ENV: &[&str] =
    &["PATH", "HOME", "USER", "LOGNAME", "LANG", "LC_ALL", "LC_CTYPE", "TZ", "TMPDIR", "TEMP", "TMP"];

/// How much of a stdio server's stderr is kept for the failure message.
pub const STDERR_TAIL: usize = 4096;

/// The environment a stdio server starts with: the allowed basics from `parent`, then its own `env`.
pub fn scrubbed_env(
    parent: impl IntoIterator<Item = (String, String)>,
    configured: &BTreeMap<String, String>,
) -> Vec<(String, String)> {
    let mut env: BTreeMap<String, String> =
        parent.into_iter().filter(|(k, _)| PASSED_ENV.contains(&k.as_str())).collect();
    env.extend(configured.iter().map(|(k, v)| (k.clone(), v.clone())));
    env.into_iter().collect()
}

/// The last `STDERR_TAIL` bytes a child wrote to stderr.
#[derive(Debug, Default)]
pub(crate) struct Tail(Mutex<Vec<u8>>);

impl Tail {
    fn push(&self, bytes: &[u8]) {
        let mut buf = quire_stdx::lock(&self.0);
        buf.extend_from_slice(bytes);
        if buf.len() > STDERR_TAIL {
            let cut = buf.len() - STDERR_TAIL;
            buf.drain(..cut);
        }
    }

    pub(crate) fn text(&self) -> String {
        String::from_utf8_lossy(&quire_stdx::lock(&self.0)).trim().to_owned()
    }
}

/// A live connection. Dropping it cancels the session and kills a stdio server's process group.
pub(crate) struct Connection {
    pub(crate) service: Option<RunningService<RoleClient, Handler>>,
    /// Set once the service was moved into its watcher task.
    pub(crate) ct: Option<RunningServiceCancellationToken>,
    pub(crate) pgid: Option<u32>,
    pub(crate) stderr: Option<(Arc<Tail>, JoinHandle<()>)>,
}

impl Drop for Connection {
    fn drop(&mut self) {
        if let Some(s) = self.service.take() {
            s.cancellation_token().cancel();
        }
        if let Some(ct) = self.ct.take() {
            ct.cancel();
        }
        kill_group(self.pgid);
    }
}

/// SIGKILL a process group (the leader's pid is the group id). Synchronous, so it also works while
/// the runtime shuts down, when rmcp's own kill-on-drop task would never run.
pub(crate) fn kill_group(pgid: Option<u32>) {
    let Some(pid) = pgid.and_then(|p| rustix::process::Pid::from_raw(p as i32)) else { return };
    let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
}

fn lifecycle(auto: bool) -> ClientLifecycleMode {
    if auto {
        ClientLifecycleMode::Auto {
            preferred_versions: vec![ProtocolVersion::LATEST],
            legacy_version: Some(ProtocolVersion::LATEST_WITH_INITIALIZE),
        }
    } else {
        ClientLifecycleMode::Initialize
    }
}

pub(crate) fn client_info() -> rmcp::model::ClientConfig {
    rmcp::model::ClientConfig::new(
        Default::default(),
        rmcp::model::Implementation::new("quire", env!("CARGO_PKG_VERSION")),
    )
}

/// Connect and shake hands: rmcp's auto mode (`server/discover`, falling back to `initialize`
/// 2025-11-25); if that fails, once more with a plain `initialize` on a fresh transport.
pub(crate) async fn connect(
    name: &str,
    spec: &ServerSpec,
    lists: UnboundedSender<ListKind>,
    timeout: Duration,
) -> Result<Connection, McpError> {
    let attempt = |auto| {
        let handler = Handler { info: client_info(), lists: lists.clone() };
        async move {
            match tokio::time::timeout(timeout, open(name, spec, handler, auto)).await {
                Ok(r) => r,
                Err(_) => {
                    Err(McpError::Timeout { server: name.to_owned(), what: "the handshake".into(), timeout })
                }
            }
        }
    };
    match attempt(true).await {
        Ok(c) => Ok(c),
        Err(first) => {
            tracing::debug!(server = name, error = %first, "auto handshake failed; trying initialize");
            attempt(false).await.map_err(|second| match (&first, second) {
                (McpError::ConnectFailed { .. }, McpError::ConnectFailed { message, .. }) => {
                    McpError::ConnectFailed { server: name.to_owned(), message }
                }
                (_, e) => e,
            })
        }
    }
}

async fn open(name: &str, spec: &ServerSpec, handler: Handler, auto: bool) -> Result<Connection, McpError> {
    match spec {
        ServerSpec::Stdio(s) => open_stdio(name, s, handler, auto).await,
        ServerSpec::Http(h) => open_http(name, h, handler, auto).await,
    }
}

fn failed(name: &str, message: String) -> McpError {
    McpError::ConnectFailed { server: name.to_owned(), message }
}

/// `setpriv` (util-linux) sets the parent-death signal in the child before exec, which our crate
/// cannot do without `unsafe` (`pre_exec`). Looked up once in the parent's PATH.
fn setpriv() -> Option<&'static PathBuf> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let path = std::env::var_os("PATH")?;
            std::env::split_paths(&path).map(|d| d.join("setpriv")).find(|p| p.is_file())
        })
        .as_ref()
}

async fn open_stdio(name: &str, s: &StdioSpec, handler: Handler, auto: bool) -> Result<Connection, McpError> {
    let mut cmd = match setpriv() {
        Some(sp) => {
            let mut c = tokio::process::Command::new(sp);
            c.args(["--pdeathsig", "KILL", "--"]).arg(&s.command);
            c
        }
        None => tokio::process::Command::new(&s.command),
    };
    cmd.args(&s.args).env_clear().envs(scrubbed_env(std::env::vars(), &s.env));
    if let Some(cwd) = &s.cwd {
        cmd.current_dir(cwd);
    }
    let mut wrap = CommandWrap::from(cmd);
    wrap.wrap(ProcessGroup::leader());
    let (child, stderr) = TokioChildProcess::builder(wrap)
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| failed(name, format!("cannot start {:?}: {e}", s.command)))?;
    let pgid = child.id();
    let tail = Arc::new(Tail::default());
    let reader = stderr.map(|mut err| {
        let tail = tail.clone();
        tokio::spawn(async move {
            let mut buf = [0u8; 1024];
            while let Ok(n) = err.read(&mut buf).await {
                if n == 0 {
                    break;
                }
                tail.push(&buf[..n]);
            }
        })
    });
    let mut conn = Connection { service: None, ct: None, pgid, stderr: reader.map(|r| (tail.clone(), r)) };
    match serve_client_with_lifecycle(handler, child, lifecycle(auto)).await {
        Ok(service) => {
            conn.service = Some(service);
            Ok(conn)
        }
        Err(e) => {
            let stderr = conn.stderr_text().await;
            Err(failed(name, with_stderr(e.to_string(), &stderr)))
        }
    }
}

pub(crate) fn with_stderr(message: String, stderr: &str) -> String {
    if stderr.is_empty() { message } else { format!("{message}; stderr: {stderr}") }
}

impl Connection {
    /// The stderr kept so far, after giving the reader a moment to drain a pipe that is closing.
    pub(crate) async fn stderr_text(&mut self) -> String {
        let Some((tail, reader)) = &mut self.stderr else { return String::new() };
        let _ = tokio::time::timeout(Duration::from_millis(500), reader).await;
        tail.text()
    }
}

static TLS: OnceLock<()> = OnceLock::new();

async fn open_http(name: &str, h: &HttpSpec, handler: Handler, auto: bool) -> Result<Connection, McpError> {
    TLS.get_or_init(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(10))
        .build()
        .map_err(|e| failed(name, format!("cannot build the HTTP client: {e}")))?;
    let mut headers = HashMap::new();
    for (k, v) in &h.headers {
        let name_ = reqwest::header::HeaderName::from_bytes(k.as_bytes())
            .map_err(|e| failed(name, format!("header {k:?}: {e}")))?;
        let mut value = reqwest::header::HeaderValue::from_str(v)
            .map_err(|e| failed(name, format!("header {k:?}: {e}")))?;
        value.set_sensitive(true);
        headers.insert(name_, value);
    }
    let config = StreamableHttpClientTransportConfig::with_uri(h.url.as_str()).custom_headers(headers);
    let transport = StreamableHttpClientTransport::with_client(http, config);
    let service = serve_client_with_lifecycle(handler, transport, lifecycle(auto))
        .await
        .map_err(|e| failed(name, e.to_string()))?;
    Ok(Connection { service: Some(service), ct: None, pgid: None, stderr: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_basics_and_the_configured_env_pass() {
        let parent =
            [("PATH", "/bin"), ("HOME", "/h"), ("QUIRE_TEST_SECRET", "s"), ("AWS_SECRET_ACCESS_KEY", "k")]
                .map(|(k, v)| (k.to_string(), v.to_string()));
        let configured =
            [("TOKEN".to_string(), "t".to_string()), ("PATH".to_string(), "/mine".to_string())].into();
        let env = scrubbed_env(parent, &configured);
        let want =
            [("HOME", "/h"), ("PATH", "/mine"), ("TOKEN", "t")].map(|(k, v)| (k.to_string(), v.to_string()));
        assert_eq!(env, want);
    }

    #[test]
    fn the_stderr_tail_keeps_the_last_bytes() {
        let t = Tail::default();
        t.push(&vec![b'a'; STDERR_TAIL]);
        t.push(b"the end");
        let text = t.text();
        assert_eq!(text.len(), STDERR_TAIL);
        assert!(text.ends_with("the end"));
    }
}
