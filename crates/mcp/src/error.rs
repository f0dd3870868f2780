//! `McpError`: every failure of the client with a stable code and a message naming the server.

use std::time::Duration;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
#[non_exhaustive]
pub enum McpError {
    #[error("no MCP server named {0:?} is configured")]
    UnknownServer(String),
    #[error("MCP server {0:?} is disabled in mcp.json")]
    Disabled(String),
    #[error("cannot connect to MCP server {server:?}: {message}")]
    ConnectFailed { server: String, message: String },
    #[error("MCP server {server:?} did not answer {what} within {} ms", timeout.as_millis())]
    Timeout { server: String, what: String, timeout: Duration },
    #[error("MCP server {server:?} failed {failures} times in a row; calls are paused for {} s", retry_in.as_secs().max(1))]
    BreakerOpen { server: String, failures: u32, retry_in: Duration },
    #[error("MCP server {server:?} already runs {limit} calls; try again later")]
    Busy { server: String, limit: usize },
    #[error("MCP server {server:?} has no tool named {tool:?}")]
    UnknownTool { server: String, tool: String },
    #[error("MCP server {server:?} broke the protocol: {message}")]
    Protocol { server: String, message: String },
    #[error("MCP server {server:?} answered with error {code}: {message}")]
    ServerError { server: String, code: i32, message: String },
    #[error("MCP server {server:?} closed the connection: {message}")]
    Closed { server: String, message: String },
    #[error("mcp.json is invalid: {0}")]
    ConfigInvalid(String),
    #[error("no pending approval has id {0:?} (answered, expired or cancelled)")]
    UnknownApproval(String),
}

impl McpError {
    /// The stable machine-readable code (the REST and WebSocket layers pass it on as is).
    pub fn code(&self) -> &'static str {
        match self {
            McpError::UnknownServer(_) => "mcp_unknown_server",
            McpError::Disabled(_) => "mcp_disabled",
            McpError::ConnectFailed { .. } => "mcp_connect_failed",
            McpError::Timeout { .. } => "mcp_timeout",
            McpError::BreakerOpen { .. } => "mcp_breaker_open",
            McpError::Busy { .. } => "mcp_busy",
            McpError::UnknownTool { .. } => "mcp_unknown_tool",
            McpError::Protocol { .. } => "mcp_protocol",
            McpError::ServerError { .. } => "mcp_server_error",
            McpError::Closed { .. } => "mcp_closed",
            McpError::ConfigInvalid(_) => "mcp_config_invalid",
            McpError::UnknownApproval(_) => "mcp_approval_unknown",
        }
    }

    /// Failures that say the server (not the request) is unwell: they count for the breaker.
    pub(crate) fn counts_for_breaker(&self) -> bool {
        matches!(self, McpError::Timeout { .. } | McpError::ConnectFailed { .. } | McpError::Closed { .. })
    }

    pub(crate) fn from_service(server: &str, e: rmcp::ServiceError) -> McpError {
        use rmcp::ServiceError as S;
        let server = server.to_owned();
        match e {
            S::McpError(data) => {
                McpError::ServerError { server, code: data.code.0, message: data.message.to_string() }
            }
            S::TransportClosed => McpError::Closed { server, message: "transport closed".into() },
            S::TransportSend(e) => McpError::Closed { server, message: e.to_string() },
            // In-flight requests end this way when the session stops under them.
            S::Cancelled { reason } => {
                McpError::Closed { server, message: reason.unwrap_or_else(|| "the session ended".into()) }
            }
            S::Timeout { timeout } => McpError::Timeout { server, what: "a request".into(), timeout },
            other => McpError::Protocol { server, message: other.to_string() },
        }
    }
}
