//! Quire as an MCP server: an rmcp `ServerHandler` over the notebook service, so an assistant can
//! list, edit and really run notebooks. Every call goes through `quire_service::NotebookService`
//! (the same paths as the WebSocket), so policy stays there; edits are handed to an `Announce`
//! so the transport can tell open tabs. No HTTP framework here: `http_service` is a tower
//! service the server mounts, `serve_stdio` serves the same handler on stdin/stdout.

#![forbid(unsafe_code)]

#[cfg(feature = "bridge")]
mod bridge;
mod error;
mod ops;
mod resources;
mod tools;

#[cfg(feature = "bridge")]
pub use bridge::bridge_stdio;
pub use error::ToolError;

use quire_service::NotebookService;
use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, Implementation, ListResourceTemplatesResult,
    ListResourcesResult, ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams,
    ReadResourceResponse, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::transport::streamable_http_server::session::local::LocalSessionManager;
use rmcp::transport::streamable_http_server::{StreamableHttpServerConfig, StreamableHttpService};
use std::sync::Arc;

/// Where edits made through MCP are announced (the server renders them for the notebook's
/// subscribers, exactly as it does for a WebSocket edit); `Quiet` when nobody can be listening.
pub use quire_service::{Announce, Quiet};

/// The MCP handler: cheap to clone (one per HTTP session).
#[derive(Clone)]
pub struct QuireMcp {
    svc: NotebookService,
    announce: Arc<dyn Announce>,
}

impl QuireMcp {
    pub fn new(svc: NotebookService, announce: Arc<dyn Announce>) -> Self {
        QuireMcp { svc, announce }
    }
}

/// The Streamable HTTP endpoint (a tower service).
pub type HttpService = StreamableHttpService<QuireMcp, LocalSessionManager>;

/// End every MCP session and stream (server shutdown).
pub fn close(svc: &HttpService) {
    svc.config.cancellation_token.cancel();
}

/// The Streamable HTTP endpoint as a tower service. Host, Origin and credentials are the
/// caller's to check (the server's guard does it for every route), so rmcp's own checks are off.
pub fn http_service(mcp: QuireMcp, max_body_bytes: usize) -> HttpService {
    let config = StreamableHttpServerConfig::default()
        .disable_allowed_hosts()
        .disable_allowed_origins()
        .with_max_request_body_bytes(max_body_bytes);
    StreamableHttpService::new(move || Ok(mcp.clone()), Arc::new(LocalSessionManager::default()), config)
}

/// Serve the handler on stdin/stdout until the client closes them.
pub async fn serve_stdio(mcp: QuireMcp) -> std::io::Result<()> {
    use rmcp::ServiceExt;
    let running = mcp.serve(rmcp::transport::stdio()).await.map_err(std::io::Error::other)?;
    running.waiting().await.map_err(std::io::Error::other)?;
    Ok(())
}

impl QuireMcp {
    fn info() -> ServerConfig {
        let caps = ServerCapabilities::builder().enable_tools().enable_resources().build();
        ServerConfig::new(caps)
            .with_server_info(Implementation::new("quire", env!("CARGO_PKG_VERSION")))
            .with_instructions(
                "Quire notebooks (TypeScript/JavaScript on Node). Create or import a notebook, add \
                 code cells, run them for real (stdout, stderr, exit code) and read diagnostics.",
            )
    }
}

impl ServerHandler for QuireMcp {
    fn get_info(&self) -> ServerConfig {
        Self::info()
    }

    async fn list_tools(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, rmcp::ErrorData> {
        Ok(ListToolsResult::with_all_items(tools::all()))
    }

    fn get_tool(&self, name: &str) -> Option<Tool> {
        tools::all().into_iter().find(|t| t.name == name)
    }

    async fn call_tool(
        &self,
        req: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, rmcp::ErrorData> {
        let args = serde_json::Value::Object(req.arguments.unwrap_or_default());
        Ok(self.call(&req.name, args).await.into())
    }

    async fn list_resources(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, rmcp::ErrorData> {
        Ok(ListResourcesResult::with_all_items(resources::list(&self.svc)))
    }

    async fn list_resource_templates(
        &self,
        _: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, rmcp::ErrorData> {
        Ok(ListResourceTemplatesResult::with_all_items(resources::templates()))
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, rmcp::ErrorData> {
        resources::read(&self.svc, &req.uri).map(Into::into)
    }
}
