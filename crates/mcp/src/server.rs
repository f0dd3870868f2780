//! One configured server: its connection (made lazily), status, lists, breaker, backoff and
//! concurrency limit.

use crate::breaker::{Admit, Backoff, Breaker};
use crate::config::ServerSpec;
use crate::connect::{self, Connection};
use crate::content::{PromptInfo, ResourceInfo, ServerInfo, ToolContent, ToolInfo, ToolResult};
use crate::error::McpError;
use crate::handler::ListKind;
use crate::manager::{ManagerOptions, ServerState, ServerStatus};
use rmcp::RoleClient;
use rmcp::service::Peer;
use serde_json::Value;
use std::sync::{Arc, Mutex, Weak};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;
use tokio::sync::mpsc::UnboundedReceiver;

pub(crate) struct ServerHandle {
    pub(crate) name: String,
    pub(crate) spec: ServerSpec,
    opts: ManagerOptions,
    connect_lock: tokio::sync::Mutex<()>,
    /// One `lost` at a time: the process watcher and a failed call both notice a crash, and the
    /// second must see the first's verdict (with the stderr), not the status from before it.
    lost_lock: tokio::sync::Mutex<()>,
    state: Mutex<State>,
    permits: Semaphore,
}

#[derive(Default)]
struct State {
    status: ServerStatus,
    info: Option<ServerInfo>,
    tools: Vec<ToolInfo>,
    resources: Vec<ResourceInfo>,
    prompts: Vec<PromptInfo>,
    live: Option<(Peer<RoleClient>, Connection)>,
    /// Bumped on every new connection or teardown, so a late report about an old one is ignored.
    generation: u64,
    backoff: Backoff,
    breaker: Breaker,
}

impl ServerHandle {
    pub(crate) fn new(name: String, spec: ServerSpec, opts: ManagerOptions) -> Arc<ServerHandle> {
        Arc::new(ServerHandle {
            permits: Semaphore::new(opts.max_concurrent.max(1)),
            name,
            spec,
            opts,
            connect_lock: tokio::sync::Mutex::new(()),
            lost_lock: tokio::sync::Mutex::new(()),
            state: Mutex::new(State::default()),
        })
    }

    fn state(&self) -> std::sync::MutexGuard<'_, State> {
        quire_stdx::lock(&self.state)
    }

    pub(crate) fn snapshot(&self) -> ServerState {
        let s = self.state();
        let now = Instant::now();
        ServerState {
            name: self.name.clone(),
            transport: match self.spec {
                ServerSpec::Stdio(_) => "stdio",
                ServerSpec::Http(_) => "http",
            },
            disabled: self.spec.options().disabled,
            status: s.status.clone(),
            info: s.info.clone(),
            tools: s.tools.clone(),
            resources: s.resources.clone(),
            prompts: s.prompts.clone(),
            retry_in_ms: s.backoff.wait(now).map(|d| d.as_millis() as u64),
            pid: s.live.as_ref().and_then(|(_, c)| c.pgid),
        }
    }

    fn call_timeout(&self) -> Duration {
        self.spec.options().timeout_ms.map(Duration::from_millis).unwrap_or(self.opts.call_timeout)
    }

    /// The live peer, connecting first when there is none. `force` ignores the reconnect backoff.
    pub(crate) async fn ready(self: &Arc<Self>, force: bool) -> Result<Peer<RoleClient>, McpError> {
        if self.spec.options().disabled {
            return Err(McpError::Disabled(self.name.clone()));
        }
        if let Some(p) = self.live_peer() {
            return Ok(p);
        }
        let _one = self.connect_lock.lock().await;
        if let Some(p) = self.live_peer() {
            return Ok(p);
        }
        let generation = {
            let mut s = self.state();
            if !force && let Some(wait) = s.backoff.wait(Instant::now()) {
                let last = match &s.status {
                    ServerStatus::Failed { error } => error.clone(),
                    _ => "the last attempt failed".into(),
                };
                return Err(McpError::ConnectFailed {
                    server: self.name.clone(),
                    message: format!("{last} (next attempt in {} ms)", wait.as_millis()),
                });
            }
            s.status = ServerStatus::Connecting;
            s.generation += 1;
            s.generation
        };
        let mut connecting = Connecting { handle: self, generation, armed: true };
        let (tx, rx) = tokio::sync::mpsc::unbounded_channel();
        let opened = connect::connect(&self.name, &self.spec, tx, self.opts.connect_timeout).await;
        let mut conn = match opened {
            Ok(c) => c,
            Err(e) => {
                connecting.armed = false;
                let mut s = self.state();
                s.status = ServerStatus::Failed { error: e.to_string() };
                s.backoff.failed(Instant::now(), &self.opts.backoff);
                return Err(e);
            }
        };
        let Some(service) = conn.service.take() else {
            return Err(McpError::Protocol { server: self.name.clone(), message: "no session".into() });
        };
        let peer = service.peer().clone();
        conn.ct = Some(service.cancellation_token());
        let info = peer.peer_info().map(|i| server_info(&i));
        let lists =
            Lists::fetch(&peer, info.as_ref(), self.call_timeout().min(self.opts.connect_timeout)).await;
        connecting.armed = false;
        {
            let mut s = self.state();
            if s.generation != generation {
                return Err(McpError::ConnectFailed {
                    server: self.name.clone(),
                    message: "the server was reconfigured while connecting".into(),
                });
            }
            s.status = ServerStatus::Ready;
            s.info = info;
            lists.store(&mut s);
            s.backoff.reset();
            s.live = Some((peer.clone(), conn));
        }
        let weak = Arc::downgrade(self);
        tokio::spawn(async move {
            let _ = service.waiting().await;
            if let Some(h) = weak.upgrade() {
                h.lost(generation, "the server closed the connection".into()).await;
            }
        });
        tokio::spawn(refresh(Arc::downgrade(self), peer.clone(), generation, rx));
        Ok(peer)
    }

    fn live_peer(&self) -> Option<Peer<RoleClient>> {
        let s = self.state();
        s.live.as_ref().filter(|(p, _)| !p.is_transport_closed()).map(|(p, _)| p.clone())
    }

    /// The connection of `generation` is gone: mark the server failed (with its stderr) and start
    /// the backoff. Returns the message.
    async fn lost(&self, generation: u64, reason: String) -> String {
        let _one = self.lost_lock.lock().await;
        let taken = {
            let mut s = self.state();
            if s.generation != generation {
                return reason;
            }
            s.live.take()
        };
        let Some((_, mut conn)) = taken else {
            return match &self.state().status {
                ServerStatus::Failed { error } => error.clone(),
                _ => reason,
            };
        };
        let stderr = conn.stderr_text().await;
        drop(conn);
        let message = connect::with_stderr(reason, &stderr);
        let mut s = self.state();
        if s.generation == generation {
            s.status = ServerStatus::Failed { error: message.clone() };
            s.backoff.failed(Instant::now(), &self.opts.backoff);
        }
        message
    }

    /// Tear the connection down (stdio: its process group is killed) and go back to idle.
    pub(crate) fn shutdown(&self) {
        let mut s = self.state();
        s.generation += 1;
        s.live = None;
        s.status = ServerStatus::Idle;
    }

    /// An explicit reconnect: forget backoff and breaker, drop the connection, connect now.
    pub(crate) async fn reconnect(self: &Arc<Self>) -> Result<(), McpError> {
        {
            let _one = self.connect_lock.lock().await;
            self.shutdown();
            let mut s = self.state();
            s.backoff.reset();
            s.breaker.reset();
        }
        self.ready(true).await.map(|_| ())
    }

    pub(crate) async fn lists(self: &Arc<Self>) -> Result<ServerState, McpError> {
        self.ready(false).await?;
        Ok(self.snapshot())
    }

    pub(crate) async fn call(self: &Arc<Self>, tool: &str, arguments: Value) -> Result<ToolResult, McpError> {
        if self.spec.options().disabled {
            return Err(McpError::Disabled(self.name.clone()));
        }
        let probe = match self.state().breaker.admit(Instant::now()) {
            Admit::No { failures, retry_in } => {
                return Err(McpError::BreakerOpen { server: self.name.clone(), failures, retry_in });
            }
            Admit::Probe => true,
            Admit::Yes => false,
        };
        let mut verdict = Verdict { handle: self, probe, done: false };
        let _permit = self.permit().await?;
        let result = self.call_inner(tool, arguments).await;
        match &result {
            Err(e) if e.counts_for_breaker() => verdict.failure(),
            Err(_) => {}
            Ok(_) => verdict.success(),
        }
        result
    }

    async fn permit(&self) -> Result<tokio::sync::SemaphorePermit<'_>, McpError> {
        match tokio::time::timeout(self.opts.busy_wait, self.permits.acquire()).await {
            Ok(Ok(p)) => Ok(p),
            _ => Err(McpError::Busy { server: self.name.clone(), limit: self.opts.max_concurrent }),
        }
    }

    /// `resources/read`: the contents as `ToolContent::Resource` items.
    pub(crate) async fn read_resource(self: &Arc<Self>, uri: &str) -> Result<Vec<ToolContent>, McpError> {
        let _permit = self.permit().await?;
        let peer = self.ready(false).await?;
        let timeout = self.call_timeout();
        let params = rmcp::model::ReadResourceRequestParams::new(uri);
        let r = tokio::time::timeout(timeout, peer.read_resource(params))
            .await
            .map_err(|_| McpError::Timeout {
                server: self.name.clone(),
                what: format!("resources/read {uri}"),
                timeout,
            })?
            .map_err(|e| McpError::from_service(&self.name, e))?;
        let v = serde_json::to_value(&r).unwrap_or_default();
        let items = v.get("contents").and_then(Value::as_array).cloned().unwrap_or_default();
        Ok(items
            .into_iter()
            .map(|c| ToolContent::from_json(serde_json::json!({"type": "resource", "resource": c})))
            .collect())
    }

    async fn call_inner(self: &Arc<Self>, tool: &str, arguments: Value) -> Result<ToolResult, McpError> {
        let peer = self.ready(false).await?;
        let generation = self.state().generation;
        if !self.state().tools.iter().any(|t| t.name == tool) {
            return Err(McpError::UnknownTool { server: self.name.clone(), tool: tool.to_owned() });
        }
        let arguments = match arguments {
            Value::Object(m) => Some(m),
            Value::Null => None,
            _ => {
                return Err(McpError::Protocol {
                    server: self.name.clone(),
                    message: "tool arguments must be a JSON object".into(),
                });
            }
        };
        let mut params = rmcp::model::CallToolRequestParams::new(tool.to_owned());
        params.arguments = arguments;
        let timeout = self.call_timeout();
        match tokio::time::timeout(timeout, peer.call_tool(params)).await {
            Ok(Ok(r)) => Ok(ToolResult::from_rmcp(r)),
            Ok(Err(e)) => match McpError::from_service(&self.name, e) {
                McpError::Closed { server, message } => {
                    let message = self
                        .lost(generation, format!("the connection closed during the call ({message})"))
                        .await;
                    Err(McpError::Closed { server, message })
                }
                other => Err(other),
            },
            Err(_) => Err(McpError::Timeout {
                server: self.name.clone(),
                what: format!("tools/call {tool}"),
                timeout,
            }),
        }
    }
}

/// A connect attempt whose caller went away mid-way leaves the status idle, not "connecting".
struct Connecting<'a> {
    handle: &'a ServerHandle,
    generation: u64,
    armed: bool,
}

impl Drop for Connecting<'_> {
    fn drop(&mut self) {
        let mut s = self.handle.state();
        if self.armed && s.generation == self.generation && s.status == ServerStatus::Connecting {
            s.status = ServerStatus::Idle;
        }
    }
}

/// Tells the breaker how a call ended; dropped without a verdict (the caller went away) a probe is
/// released so the next call can probe.
struct Verdict<'a> {
    handle: &'a ServerHandle,
    probe: bool,
    done: bool,
}

impl Verdict<'_> {
    fn success(&mut self) {
        self.done = true;
        self.handle.state().breaker.success();
    }

    fn failure(&mut self) {
        self.done = true;
        self.handle.state().breaker.failure(Instant::now(), &self.handle.opts.breaker);
    }
}

impl Drop for Verdict<'_> {
    fn drop(&mut self) {
        if self.probe && !self.done {
            self.handle.state().breaker.abandon_probe();
        }
    }
}

fn server_info(i: &rmcp::model::ServerPeerInfo) -> ServerInfo {
    ServerInfo {
        name: i.server_info.as_ref().map(|s| s.name.clone()),
        version: i.server_info.as_ref().map(|s| s.version.clone()),
        protocol_version: i.protocol_version.to_string(),
        instructions: i.instructions.clone(),
        capabilities: serde_json::to_value(&i.capabilities).unwrap_or_default(),
    }
}

#[derive(Default)]
struct Lists {
    tools: Option<Vec<ToolInfo>>,
    resources: Option<Vec<ResourceInfo>>,
    prompts: Option<Vec<PromptInfo>>,
}

impl Lists {
    /// Every page of each list the server offers (rmcp follows `nextCursor`).
    async fn fetch(peer: &Peer<RoleClient>, info: Option<&ServerInfo>, timeout: Duration) -> Lists {
        let has = |k: &str| info.is_none_or(|i| i.capabilities.get(k).is_some_and(|v| !v.is_null()));
        let mut l = Lists::default();
        for kind in [ListKind::Tools, ListKind::Resources, ListKind::Prompts] {
            let cap = match kind {
                ListKind::Tools => "tools",
                ListKind::Resources => "resources",
                ListKind::Prompts => "prompts",
            };
            if has(cap) {
                l.fetch_one(peer, kind, timeout).await;
            } else {
                l.set_empty(kind);
            }
        }
        l
    }

    fn set_empty(&mut self, kind: ListKind) {
        match kind {
            ListKind::Tools => self.tools = Some(Vec::new()),
            ListKind::Resources => self.resources = Some(Vec::new()),
            ListKind::Prompts => self.prompts = Some(Vec::new()),
        }
    }

    async fn fetch_one(&mut self, peer: &Peer<RoleClient>, kind: ListKind, timeout: Duration) {
        match kind {
            ListKind::Tools => {
                if let Ok(Ok(v)) = tokio::time::timeout(timeout, peer.list_all_tools()).await {
                    self.tools = Some(v.iter().map(ToolInfo::from_rmcp).collect());
                }
            }
            ListKind::Resources => {
                if let Ok(Ok(v)) = tokio::time::timeout(timeout, peer.list_all_resources()).await {
                    self.resources = Some(v.iter().map(ResourceInfo::from_rmcp).collect());
                }
            }
            ListKind::Prompts => {
                if let Ok(Ok(v)) = tokio::time::timeout(timeout, peer.list_all_prompts()).await {
                    self.prompts = Some(v.iter().map(PromptInfo::from_rmcp).collect());
                }
            }
        }
    }

    fn store(self, s: &mut State) {
        if let Some(v) = self.tools {
            s.tools = v;
        }
        if let Some(v) = self.resources {
            s.resources = v;
        }
        if let Some(v) = self.prompts {
            s.prompts = v;
        }
    }
}

/// Re-list what a `list_changed` notification names, for as long as the connection lives.
async fn refresh(
    handle: Weak<ServerHandle>,
    peer: Peer<RoleClient>,
    generation: u64,
    mut rx: UnboundedReceiver<ListKind>,
) {
    while let Some(kind) = rx.recv().await {
        let Some(h) = handle.upgrade() else { return };
        let mut l = Lists::default();
        l.fetch_one(&peer, kind, h.call_timeout()).await;
        let mut s = h.state();
        if s.generation != generation {
            return;
        }
        l.store(&mut s);
    }
}
