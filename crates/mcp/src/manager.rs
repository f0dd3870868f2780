//! `McpManager`: one handle per configured server; the only place tool calls are made, and only
//! with an `Approved` from the gate.

use crate::breaker::{BackoffConfig, BreakerConfig};
use crate::config::McpConfig;
use crate::content::{PromptInfo, ResourceInfo, ServerInfo, ToolContent, ToolInfo, ToolResult};
use crate::error::McpError;
use crate::gate::Approved;
use crate::server::ServerHandle;
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

#[derive(Clone, Debug)]
pub struct ManagerOptions {
    /// Per-call timeout unless a server sets `timeoutMs`.
    pub call_timeout: Duration,
    /// Bound on starting a server and its handshake.
    pub connect_timeout: Duration,
    /// Calls in flight per server.
    pub max_concurrent: usize,
    /// How long a call waits for a free slot before `mcp_busy`.
    pub busy_wait: Duration,
    pub breaker: BreakerConfig,
    pub backoff: BackoffConfig,
}

impl Default for ManagerOptions {
    fn default() -> Self {
        ManagerOptions {
            call_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(30),
            max_concurrent: 4,
            busy_wait: Duration::from_secs(10),
            breaker: BreakerConfig::default(),
            backoff: BackoffConfig::default(),
        }
    }
}

#[derive(Clone, Debug, Default, PartialEq, Serialize)]
#[serde(tag = "state", rename_all = "camelCase")]
pub enum ServerStatus {
    #[default]
    Idle,
    Connecting,
    Ready,
    Failed {
        error: String,
    },
}

/// A server as the UI and the AI see it.
#[derive(Clone, Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ServerState {
    pub name: String,
    pub transport: &'static str,
    pub disabled: bool,
    pub status: ServerStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub info: Option<ServerInfo>,
    pub tools: Vec<ToolInfo>,
    pub resources: Vec<ResourceInfo>,
    pub prompts: Vec<PromptInfo>,
    /// After a failure: when the next automatic attempt may start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_in_ms: Option<u64>,
    /// A stdio server's process (group) id while connected.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid: Option<u32>,
}

/// What `apply_config` changed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct ApplyReport {
    pub added: Vec<String>,
    pub removed: Vec<String>,
    pub restarted: Vec<String>,
    pub unchanged: Vec<String>,
}

pub struct McpManager {
    opts: ManagerOptions,
    servers: Mutex<BTreeMap<String, Arc<ServerHandle>>>,
}

impl McpManager {
    pub fn new(config: McpConfig, opts: ManagerOptions) -> McpManager {
        let m = McpManager { opts, servers: Mutex::new(BTreeMap::new()) };
        m.apply_config(config);
        m
    }

    fn handle(&self, name: &str) -> Result<Arc<ServerHandle>, McpError> {
        quire_stdx::lock(&self.servers)
            .get(name)
            .cloned()
            .ok_or_else(|| McpError::UnknownServer(name.to_owned()))
    }

    /// Swap in a new (already validated) configuration: only servers whose spec changed are
    /// restarted; removed ones are shut down (a stdio server's process group is killed).
    pub fn apply_config(&self, config: McpConfig) -> ApplyReport {
        let mut report = ApplyReport::default();
        let mut servers = quire_stdx::lock(&self.servers);
        servers.retain(|name, h| {
            let keep = config.servers.get(name).is_some_and(|s| *s == h.spec);
            if !keep {
                h.shutdown();
                if config.servers.contains_key(name) {
                    report.restarted.push(name.clone());
                } else {
                    report.removed.push(name.clone());
                }
            }
            keep
        });
        for (name, spec) in config.servers {
            if servers.contains_key(&name) {
                report.unchanged.push(name);
                continue;
            }
            if !report.restarted.contains(&name) {
                report.added.push(name.clone());
            }
            servers.insert(name.clone(), ServerHandle::new(name, spec, self.opts.clone()));
        }
        report
    }

    /// Every server's state (no connection is made).
    pub fn servers(&self) -> Vec<ServerState> {
        let handles: Vec<_> = quire_stdx::lock(&self.servers).values().cloned().collect();
        handles.iter().map(|h| h.snapshot()).collect()
    }

    pub fn server(&self, name: &str) -> Result<ServerState, McpError> {
        Ok(self.handle(name)?.snapshot())
    }

    /// Connect if not connected (respecting the reconnect backoff), then the server's state.
    pub async fn connect(&self, name: &str) -> Result<ServerState, McpError> {
        self.handle(name)?.lists().await
    }

    /// Drop the connection and connect now, resetting backoff and breaker.
    pub async fn reconnect(&self, name: &str) -> Result<ServerState, McpError> {
        let h = self.handle(name)?;
        h.reconnect().await?;
        Ok(h.snapshot())
    }

    /// The server's tools, connecting lazily.
    pub async fn tools(&self, name: &str) -> Result<Vec<ToolInfo>, McpError> {
        Ok(self.handle(name)?.lists().await?.tools)
    }

    /// Read a resource (no approval: reading is not running a tool; the server decides what to expose).
    pub async fn read_resource(&self, name: &str, uri: &str) -> Result<Vec<ToolContent>, McpError> {
        self.handle(name)?.read_resource(uri).await
    }

    /// Call a tool. The only way to: `approved` comes from `Gate::request` and is used up here, so
    /// every call has an approval (or an allow rule) behind it.
    pub async fn call_tool(&self, approved: Approved) -> Result<ToolResult, McpError> {
        let (server, tool, arguments) = approved.into_parts();
        self.handle(&server)?.call(&tool, arguments).await
    }
}

impl Drop for McpManager {
    fn drop(&mut self) {
        for h in quire_stdx::lock(&self.servers).values() {
            h.shutdown();
        }
    }
}
