//! `/api/mcp/*`: the user's MCP servers (list with status and tools, add, update, remove, reconnect,
//! a pasted config), a direct tool call (held by the approval gate like the AI's), and the pending
//! approvals and allow rules.

use crate::error::{ApiError, ApiResult, Code};
use crate::extract::JsonBody;
use crate::routes::notebooks::blocking;
use crate::state::AppState;
use crate::wire;
use axum::Json;
use axum::extract::{Path, State};
use quire_mcp::{AllowRule, ApprovalRequest, Decision, RuleStore};
use serde::Deserialize;
use serde_json::{Value, json};

fn rules(s: &AppState) -> Vec<AllowRule> {
    crate::tools::SettingsRules(s.db.clone()).rules()
}

pub async fn list(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    let st = s.clone();
    let (servers, rules, problems) =
        blocking(move || Ok((st.mcp.views(), rules(&st), st.mcp.problems()))).await?;
    Ok(wire::ok(json!({"servers": servers, "rules": rules, "problems": problems})))
}

pub async fn upsert(
    State(s): State<AppState>,
    Path(name): Path<String>,
    JsonBody(body): JsonBody<Value>,
) -> ApiResult<Json<Value>> {
    let view = blocking(move || {
        s.mcp.upsert(&name, body)?;
        s.mcp.view(&name)
    })
    .await?;
    Ok(wire::ok(view))
}

pub async fn remove(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    blocking(move || s.mcp.remove(&name)).await?;
    Ok(wire::ok(json!({})))
}

pub async fn reconnect(State(s): State<AppState>, Path(name): Path<String>) -> ApiResult<Json<Value>> {
    // A failed attempt is shown in the view (state "failed" and its error), not as an error answer.
    if let Err(e) = s.mcp.manager.reconnect(&name).await
        && e.code() == "mcp_unknown_server"
    {
        return Err(e.into());
    }
    Ok(wire::ok(s.mcp.view(&name)?))
}

pub async fn paste(State(s): State<AppState>, JsonBody(body): JsonBody<Value>) -> ApiResult<Json<Value>> {
    let servers = blocking(move || {
        s.mcp.paste(&body)?;
        Ok(s.mcp.views())
    })
    .await?;
    Ok(wire::ok(json!({"servers": servers})))
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CallBody {
    #[serde(default)]
    arguments: Option<Value>,
    notebook_id: Option<String>,
}

/// A tool call asked over HTTP: held until a browser tab approves it (or a rule does), never run
/// without that.
pub async fn call(
    State(s): State<AppState>,
    Path((server, tool)): Path<(String, String)>,
    JsonBody(body): JsonBody<CallBody>,
) -> ApiResult<Json<Value>> {
    let arguments = body.arguments.unwrap_or_else(|| json!({}));
    if !arguments.is_object() {
        return Err(ApiError::new(Code::InvalidBody, "arguments must be a JSON object"));
    }
    let req = ApprovalRequest {
        notebook_id: body.notebook_id,
        job_id: None,
        server,
        tool,
        arguments,
        source: "rest".into(),
        requested_by: "an API client".into(),
    };
    let result = s.mcp.call(req).await?;
    Ok(wire::ok(result))
}

pub async fn approvals(State(s): State<AppState>) -> ApiResult<Json<Value>> {
    Ok(wire::ok(s.mcp.gate.pending()))
}

#[derive(Deserialize)]
#[serde(rename_all = "lowercase")]
enum AnswerDecision {
    Allow,
    Deny,
}

#[derive(Deserialize)]
pub struct AnswerBody {
    decision: AnswerDecision,
    #[serde(default)]
    always: bool,
}

pub async fn answer(
    State(s): State<AppState>,
    Path(id): Path<String>,
    JsonBody(body): JsonBody<AnswerBody>,
) -> ApiResult<Json<Value>> {
    let decision = match body.decision {
        AnswerDecision::Allow => Decision::Allow,
        AnswerDecision::Deny => Decision::Deny,
    };
    let gate = s.mcp.gate.clone();
    blocking(move || Ok(gate.answer(&id, decision, body.always, "the HTTP API".into())?)).await?;
    Ok(wire::ok(json!({})))
}

pub async fn remove_rule(
    State(s): State<AppState>,
    JsonBody(rule): JsonBody<AllowRule>,
) -> ApiResult<Json<Value>> {
    blocking(move || {
        crate::tools::SettingsRules(s.db.clone()).remove(&rule);
        Ok(())
    })
    .await?;
    Ok(wire::ok(json!({})))
}
