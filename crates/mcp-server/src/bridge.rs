//! `quire mcp --url`: stdio in front of a running server's `/mcp`. The tools and resources are the
//! server's own (forwarded as they are), so edits reach its browser tabs.

use rmcp::handler::server::ServerHandler;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, ListResourceTemplatesResult, ListResourcesResult,
    ListToolsResult, PaginatedRequestParams, ReadResourceRequestParams, ReadResourceResponse, ServerConfig,
};
use rmcp::service::{Peer, RequestContext, RoleClient, RoleServer, ServiceError};
use rmcp::transport::StreamableHttpClientTransport;
use rmcp::transport::streamable_http_client::StreamableHttpClientTransportConfig;
use rmcp::{ErrorData, ServiceExt};

struct Bridge {
    upstream: Peer<RoleClient>,
    info: ServerConfig,
}

/// The server's own error passes through; losing the server is an internal error naming it.
fn up(e: ServiceError) -> ErrorData {
    match e {
        ServiceError::McpError(e) => e,
        other => ErrorData::internal_error(format!("the Quire server's /mcp: {other}"), None),
    }
}

impl ServerHandler for Bridge {
    fn get_info(&self) -> ServerConfig {
        self.info.clone()
    }

    async fn list_tools(
        &self,
        p: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        self.upstream.list_tools(p).await.map_err(up)
    }

    async fn call_tool(
        &self,
        req: CallToolRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        self.upstream.call_tool_once(req).await.map_err(up)
    }

    async fn list_resources(
        &self,
        p: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        self.upstream.list_resources(p).await.map_err(up)
    }

    async fn list_resource_templates(
        &self,
        p: Option<PaginatedRequestParams>,
        _: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        self.upstream.list_resource_templates(p).await.map_err(up)
    }

    async fn read_resource(
        &self,
        req: ReadResourceRequestParams,
        _: RequestContext<RoleServer>,
    ) -> Result<ReadResourceResponse, ErrorData> {
        self.upstream.read_resource_once(req).await.map_err(up)
    }
}

/// Connect to `url` (a Quire server's `/mcp`) with `token`, then serve stdin/stdout until the
/// client closes them.
pub async fn bridge_stdio(url: &str, token: &str) -> std::io::Result<()> {
    let config =
        StreamableHttpClientTransportConfig::with_uri(url.to_string()).auth_header(token.to_string());
    let client =
        ().serve(StreamableHttpClientTransport::from_config(config))
            .await
            .map_err(|e| std::io::Error::other(format!("cannot reach {url}: {e}")))?;
    let mut info = crate::QuireMcp::info();
    if let Some(peer) = client.peer_info()
        && let Some(server) = &peer.server_info
    {
        info = info.with_server_info(server.clone());
    }
    let bridge = Bridge { upstream: client.peer().clone(), info };
    let running = bridge.serve(rmcp::transport::stdio()).await.map_err(std::io::Error::other)?;
    let served = running.waiting().await.map_err(std::io::Error::other);
    let _ = client.cancel().await;
    served.map(drop)
}
