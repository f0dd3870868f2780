//! The MCP client of Quire: the user's MCP servers (`DATA_DIR/mcp.json`, the `mcpServers` shape
//! Claude Desktop and Cursor use) over stdio or Streamable HTTP, on rmcp. No HTTP framework here:
//! `server` adds the routes and events.
//!
//! - `config` / `config_file`: parsing with path-precise errors; env and header values sealed at
//!   rest through a `Sealer` (plaintext pasted by hand is sealed on load and the file rewritten
//!   atomically); `McpConfig::view` never carries a secret value. A file with errors yields no
//!   config, so it never replaces the running one.
//! - `McpManager`: one handle per server, connected lazily; status, server info and negotiated
//!   protocol version; tools, resources and prompts (all pages) refreshed on `list_changed`;
//!   reconnect backoff; per-call timeout; a breaker and a concurrency limit per server.
//! - `Gate`: the approval gate.
//!
//! **Invariants.**
//! - No tool call without an approval: `McpManager::call_tool` takes an `Approved`, which only
//!   `Gate::request` makes (by an allow rule, or a client's answer) and which the call consumes.
//! - A stdio server sees only a scrubbed environment (`connect::PASSED_ENV` plus its own `env`), runs
//!   in its own process group, and that group is killed when the server is removed, reconfigured or
//!   reconnected, or the manager is dropped. Where util-linux `setpriv` exists (Debian/Ubuntu), the
//!   server also gets `SIGKILL` as parent-death signal, so it dies with Quire. Caveat: the kernel
//!   ties that signal to the spawning *thread*; tokio's worker threads live as long as the runtime.
//!   (Without `unsafe` we cannot set it in `pre_exec` ourselves.)

#![forbid(unsafe_code)]

mod breaker;
pub mod config;
mod config_file;
pub mod connect;
mod content;
mod error;
mod gate;
mod handler;
mod manager;
mod server;

pub use breaker::{BackoffConfig, BreakerConfig};
pub use config::{ConfigError, HttpSpec, McpConfig, ServerOptions, ServerSpec, ServerView, StdioSpec};
pub use config_file::{ConfigFile, Sealer};
pub use content::{PromptInfo, ResourceInfo, ServerInfo, ToolContent, ToolInfo, ToolResult};
pub use error::McpError;
pub use gate::{
    AllowRule, ApprovalRequest, Approved, Audience, DEFAULT_APPROVAL_TIMEOUT, Decision, Denied, DenyReason,
    Gate, GateEvent, Outcome, PendingApproval, RuleStore,
};
pub use manager::{ApplyReport, ManagerOptions, McpManager, ServerState, ServerStatus};
