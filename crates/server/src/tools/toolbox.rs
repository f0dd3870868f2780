//! The AI's tools: every ready-or-idle MCP server's tools, named `server__tool` for the model (the
//! providers allow `[A-Za-z0-9_-]{1,64}`), each call through [`McpTools::call`] (gate, run, audit).

use super::{CallFailure, McpTools};
use quire_ai::{ToolCall, ToolSpec};
use quire_assist::tools::BoxFuture;
use quire_assist::{CallContext, ToolOutcome, ToolStatus, Toolbox};
use quire_mcp::{ApprovalRequest, ServerStatus};
use serde_json::json;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How long listing tools may hold up the start of an AI job (a slow server is left out).
const LIST_WAIT: Duration = Duration::from_secs(5);
/// What the model is given of a result (the user's card shows all of it).
const MAX_FOR_MODEL: usize = 32 * 1024;

pub struct McpToolbox(pub Arc<McpTools>);

/// `server__tool`, cut to the providers' alphabet and length.
pub fn model_name(server: &str, tool: &str) -> String {
    let clean = |s: &str| {
        s.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' { c } else { '_' }).collect::<String>()
    };
    let name = format!("{}__{}", clean(server), clean(tool));
    quire_stdx::text::head(&name, 64).to_string()
}

impl McpToolbox {
    async fn list(&self) -> Vec<(String, quire_mcp::ToolInfo)> {
        let mut out = Vec::new();
        for s in self.0.manager.servers() {
            if s.disabled || matches!(s.status, ServerStatus::Failed { .. }) && s.retry_in_ms.is_some() {
                continue;
            }
            match tokio::time::timeout(LIST_WAIT, self.0.manager.tools(&s.name)).await {
                Ok(Ok(tools)) => out.extend(tools.into_iter().map(|t| (s.name.clone(), t))),
                Ok(Err(e)) => {
                    tracing::info!(server = %s.name, error = %e, "MCP server left out of the AI's tools")
                }
                Err(_) => tracing::info!(server = %s.name, "MCP server too slow to list its tools; left out"),
            }
        }
        out
    }
}

impl Toolbox for McpToolbox {
    fn tools<'a>(&'a self, _: &'a CallContext) -> BoxFuture<'a, Vec<ToolSpec>> {
        Box::pin(async move {
            self.list()
                .await
                .into_iter()
                .map(|(server, t)| ToolSpec {
                    name: model_name(&server, &t.name),
                    description: t.description.or(t.title).unwrap_or_default(),
                    input_schema: t.input_schema,
                })
                .collect()
        })
    }

    fn call<'a>(&'a self, cx: &'a CallContext, call: &'a ToolCall) -> BoxFuture<'a, ToolOutcome> {
        Box::pin(async move {
            let started = Instant::now();
            let found = self.list().await.into_iter().find(|(s, t)| model_name(s, &t.name) == call.name);
            let Some((server, tool)) = found else {
                let message = format!("There is no tool named {}", call.name);
                return failed(ToolStatus::Failed, "mcp_unknown_tool", message, started);
            };
            let req = ApprovalRequest {
                notebook_id: cx.notebook.clone(),
                job_id: cx.job_id.clone(),
                server,
                tool: tool.name,
                arguments: call.arguments.clone(),
                source: "ai".into(),
                requested_by: cx.job_id.as_deref().map_or("ai".into(), |j| format!("AI job {j}")),
            };
            match self.0.call(req).await {
                Ok(result) => {
                    let mut text = result.text();
                    if let Some(s) = &result.structured {
                        text.push_str(&format!("\nstructuredContent: {s}"));
                    }
                    ToolOutcome {
                        status: if result.is_error { ToolStatus::Error } else { ToolStatus::Done },
                        for_model: quire_stdx::text::head(&text, MAX_FOR_MODEL).to_string(),
                        detail: json!(result),
                        duration: started.elapsed(),
                    }
                }
                Err(CallFailure::Denied(d)) => {
                    let e = crate::error::ApiError::from(d);
                    failed(ToolStatus::Denied, e.code.as_str(), e.message, started)
                }
                Err(CallFailure::Failed(e)) => failed(ToolStatus::Failed, e.code(), e.to_string(), started),
            }
        })
    }
}

fn failed(status: ToolStatus, code: &str, message: String, started: Instant) -> ToolOutcome {
    ToolOutcome {
        status,
        for_model: format!("The tool call did not run: {message}"),
        detail: json!({"code": code, "message": message}),
        duration: started.elapsed(),
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn model_names_fit_every_provider() {
        assert_eq!(super::model_name("everything", "get-sum"), "everything__get-sum");
        assert_eq!(super::model_name("my.server", "do it"), "my_server__do_it");
        assert!(super::model_name(&"s".repeat(80), "t").len() <= 64);
    }
}
