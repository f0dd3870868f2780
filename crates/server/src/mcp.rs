//! `/mcp`: Quire's MCP server (crate `quire_mcp_server`) on Streamable HTTP. `auth::guard` has
//! checked Host, Origin and the token before a request gets here; edits made through MCP reach
//! the notebook's subscribers like WebSocket edits do.

use crate::state::AppState;
use crate::ws::hub::Hub;
use axum::extract::{Request, State};
use axum::response::{IntoResponse, Response};
use quire_service::NotebookService;
use std::sync::Arc;
use tower::Service;

/// The MCP handler over `svc`, announcing its edits on `hub`.
pub fn handler(svc: NotebookService, hub: Arc<Hub>) -> quire_mcp_server::QuireMcp {
    quire_mcp_server::QuireMcp::new(svc, Arc::new(crate::ws::publish::AnnounceToHub(hub)))
}

pub fn endpoint(svc: NotebookService, hub: Arc<Hub>, max_body_bytes: usize) -> quire_mcp_server::HttpService {
    quire_mcp_server::http_service(handler(svc, hub), max_body_bytes)
}

pub async fn handle(State(s): State<AppState>, req: Request) -> Response {
    let mut svc = s.mcp_server.clone();
    match svc.call(req).await {
        Ok(resp) => resp.map(axum::body::Body::new).into_response(),
        Err(never) => match never {},
    }
}
