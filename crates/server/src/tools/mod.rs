//! The user's MCP servers as this server runs them: `DATA_DIR/mcp.json` (values sealed with the
//! instance key, re-read when the file changes), the manager, the approval gate (the WebSocket hub
//! answers, settings keep the allow rules) and the AI's toolbox over them. Every tool call — from the
//! AI or from `POST /api/mcp/.../call` — goes through [`McpTools::call`]: the gate, then the manager,
//! then the audit log.

mod hooks;
mod toolbox;
mod view;

pub use hooks::{HubAudience, KeySealer, SettingsRules};
pub use toolbox::McpToolbox;

use crate::error::{ApiError, Code};
use quire_mcp::{
    ApprovalRequest, ConfigError, ConfigFile, Gate, ManagerOptions, McpConfig, McpError, McpManager,
    ToolResult,
};
use quire_notebook::{AuditEntry, Database};
use serde_json::Value;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

/// How often the file is checked for edits made by hand.
const WATCH_EVERY: Duration = Duration::from_secs(2);

pub struct McpTools {
    pub manager: McpManager,
    pub gate: Gate,
    file: Mutex<ConfigFile>,
    sealer: KeySealer,
    db: Arc<dyn Database>,
    /// The file's problems when it was last read (a hand edit that does not parse keeps the old config).
    problems: Mutex<Vec<ConfigError>>,
    seen: Mutex<Option<(SystemTime, u64)>>,
}

/// Why a call did not give a result.
pub enum CallFailure {
    Denied(quire_mcp::Denied),
    Failed(McpError),
}

impl McpTools {
    pub fn load(path: PathBuf, sealer: KeySealer, gate: Gate, db: Arc<dyn Database>) -> McpTools {
        let (file, problems) = match ConfigFile::load(&path, &sealer) {
            Ok(f) => (f, Vec::new()),
            Err(errors) => {
                for e in &errors {
                    tracing::error!(file = %path.display(), error = %e, "mcp.json is not valid: no MCP servers until it is fixed");
                }
                (ConfigFile::new(&path, McpConfig::default()), errors)
            }
        };
        let manager = McpManager::new(file.config.clone(), ManagerOptions::default());
        let tools = McpTools {
            manager,
            gate,
            file: Mutex::new(file),
            sealer,
            db,
            problems: Mutex::new(problems),
            seen: Mutex::new(None),
        };
        *quire_stdx::lock(&tools.seen) = tools.stamp();
        tools
    }

    fn path(&self) -> PathBuf {
        quire_stdx::lock(&self.file).path.clone()
    }

    fn stamp(&self) -> Option<(SystemTime, u64)> {
        let m = std::fs::metadata(self.path()).ok()?;
        Some((m.modified().ok()?, m.len()))
    }

    /// Re-read the file if it changed since it was last read or written here.
    pub fn reload_if_changed(&self) {
        let now = self.stamp();
        if *quire_stdx::lock(&self.seen) == now {
            return;
        }
        *quire_stdx::lock(&self.seen) = now;
        match ConfigFile::load(&self.path(), &self.sealer) {
            Ok(file) => {
                let report = self.manager.apply_config(file.config.clone());
                tracing::info!(added = ?report.added, removed = ?report.removed, restarted = ?report.restarted, "mcp.json reloaded");
                *quire_stdx::lock(&self.file) = file;
                quire_stdx::lock(&self.problems).clear();
                *quire_stdx::lock(&self.seen) = self.stamp();
            }
            Err(errors) => {
                for e in &errors {
                    tracing::error!(error = %e, "mcp.json changed but is not valid: the running servers are kept");
                }
                *quire_stdx::lock(&self.problems) = errors;
            }
        }
    }

    /// Watch the file for hand edits while the server runs.
    pub fn watch(self: &Arc<Self>) {
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(WATCH_EVERY);
            loop {
                tick.tick().await;
                let Some(tools) = weak.upgrade() else { return };
                let _ = tokio::task::spawn_blocking(move || tools.reload_if_changed()).await;
            }
        });
    }

    pub fn problems(&self) -> Vec<ConfigError> {
        quire_stdx::lock(&self.problems).clone()
    }

    /// Write the edited file, then run what it says. A config that cannot be saved is not applied.
    fn commit(&self, edit: impl FnOnce(&mut ConfigFile) -> Result<(), ApiError>) -> Result<(), ApiError> {
        let mut file = quire_stdx::lock(&self.file);
        let mut next = file.clone();
        edit(&mut next)?;
        next.save(&self.sealer).map_err(invalid)?;
        *file = next;
        let config = file.config.clone();
        drop(file);
        *quire_stdx::lock(&self.seen) = self.stamp();
        quire_stdx::lock(&self.problems).clear();
        self.manager.apply_config(config);
        Ok(())
    }

    /// Add or replace one server from the UI's JSON. In `env` and `headers` a `null` value keeps the
    /// stored one (the UI never sees secret values).
    pub fn upsert(&self, name: &str, mut body: Value) -> Result<(), ApiError> {
        quire_mcp::config::check_name(name).map_err(|m| ApiError::new(Code::McpConfigInvalid, m))?;
        let old = quire_stdx::lock(&self.file).config.servers.get(name).cloned();
        view::keep_unchanged_secrets(&mut body, old.as_ref());
        let spec = quire_mcp::config::parse_server_value(name, &body).map_err(invalid)?;
        self.commit(|f| f.upsert(name, spec).map_err(|e| invalid(vec![e])))
    }

    pub fn remove(&self, name: &str) -> Result<(), ApiError> {
        self.commit(|f| if f.remove(name) { Ok(()) } else { Err(unknown_server(name)) })
    }

    /// A pasted `{"mcpServers": …}`: its servers are added or replaced, the others kept.
    pub fn paste(&self, root: &Value) -> Result<Vec<String>, ApiError> {
        let pasted = quire_mcp::config::parse_value(root).map_err(invalid)?;
        let names: Vec<String> = pasted.servers.keys().cloned().collect();
        self.commit(|f| {
            for (name, spec) in pasted.servers {
                f.upsert(&name, spec).map_err(|e| invalid(vec![e]))?;
            }
            Ok(())
        })?;
        Ok(names)
    }

    /// Every server as the UI shows it (no secret value).
    pub fn views(&self) -> Vec<Value> {
        let config = quire_stdx::lock(&self.file).config.clone();
        view::servers(&config, &self.manager.servers())
    }

    pub fn view(&self, name: &str) -> Result<Value, ApiError> {
        self.views().into_iter().find(|v| v["name"] == name).ok_or_else(|| unknown_server(name))
    }

    /// One tool call: approved by the gate (a rule or a client's answer), run, audited.
    pub async fn call(&self, req: ApprovalRequest) -> Result<ToolResult, CallFailure> {
        let (server, tool, source) = (req.server.clone(), req.tool.clone(), req.source.clone());
        tracing::debug!(%server, %tool, arguments = %req.arguments, "MCP tool call asked");
        let approved = match self.gate.request(req).await {
            Ok(a) => a,
            Err(denied) => {
                self.audit(&server, &tool, denied.by.as_deref().unwrap_or("nobody"), denied.code(), None);
                return Err(CallFailure::Denied(denied));
            }
        };
        let by = approved.by().to_string();
        let started = Instant::now();
        let result = self.manager.call_tool(approved).await;
        let took = started.elapsed();
        let outcome = match &result {
            Ok(r) if r.is_error => "tool_error",
            Ok(_) => "ok",
            Err(e) => e.code(),
        };
        tracing::info!(%server, %tool, %source, approved_by = %by, ms = took.as_millis() as u64, outcome, "MCP tool call");
        self.audit(&server, &tool, &by, outcome, Some(took));
        result.map_err(CallFailure::Failed)
    }

    fn audit(&self, server: &str, tool: &str, by: &str, outcome: &str, took: Option<Duration>) {
        let outcome = match took {
            Some(t) => format!("{outcome} in {} ms", t.as_millis()),
            None => outcome.to_string(),
        };
        let entry = AuditEntry {
            at_ms: quire_stdx::now_ms() as u64,
            actor: crate::log::bounded(&format!("approved by {by}")),
            action: "mcp.tool_call".into(),
            target: Some(crate::log::bounded(&format!("{server}/{tool}"))),
            ip: None,
            outcome,
            count: 1,
        };
        let db = self.db.clone();
        // SQLite is synchronous: off the async thread.
        tokio::task::spawn_blocking(move || crate::audit::failures::write(&*db, entry));
    }
}

fn invalid(errors: Vec<ConfigError>) -> ApiError {
    let first = errors.first().cloned();
    let message = errors.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ");
    let e = ApiError::new(Code::McpConfigInvalid, message);
    // `attribute`: the first wrong field's path (`mcpServers.github.command`), all of them in `errors`.
    e.with_context(serde_json::json!({"attribute": first.map(|f| f.path), "errors": errors}))
}

fn unknown_server(name: &str) -> ApiError {
    ApiError::new(Code::McpUnknownServer, format!("No MCP server named '{name}'"))
}

impl From<McpError> for ApiError {
    fn from(e: McpError) -> Self {
        let code = match e.code() {
            "mcp_unknown_server" => Code::McpUnknownServer,
            "mcp_disabled" => Code::McpDisabled,
            "mcp_connect_failed" => Code::McpConnectFailed,
            "mcp_timeout" => Code::McpTimeout,
            "mcp_breaker_open" => Code::McpBreakerOpen,
            "mcp_busy" => Code::McpBusy,
            "mcp_unknown_tool" => Code::McpUnknownTool,
            "mcp_server_error" => Code::McpServerError,
            "mcp_closed" => Code::McpClosed,
            "mcp_config_invalid" => Code::McpConfigInvalid,
            "mcp_approval_unknown" => Code::McpApprovalUnknown,
            _ => Code::McpProtocol,
        };
        ApiError::new(code, e.to_string())
    }
}

impl From<quire_mcp::Denied> for ApiError {
    fn from(d: quire_mcp::Denied) -> Self {
        let code = match d.reason {
            quire_mcp::DenyReason::NoClient => Code::McpApprovalNoClient,
            quire_mcp::DenyReason::Denied => Code::McpApprovalDenied,
            quire_mcp::DenyReason::Timeout => Code::McpApprovalTimeout,
        };
        let why = match d.reason {
            quire_mcp::DenyReason::NoClient => "no browser tab is open to approve it".to_string(),
            quire_mcp::DenyReason::Denied => format!("denied by {}", d.by.as_deref().unwrap_or("the user")),
            quire_mcp::DenyReason::Timeout => "nobody answered in time".to_string(),
        };
        ApiError::new(
            code,
            format!("The call of '{}' on MCP server '{}' was not approved: {why}", d.tool, d.server),
        )
    }
}

impl From<CallFailure> for ApiError {
    fn from(f: CallFailure) -> Self {
        match f {
            CallFailure::Denied(d) => d.into(),
            CallFailure::Failed(e) => e.into(),
        }
    }
}
