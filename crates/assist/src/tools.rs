//! Tools during an answer: the model may ask for tools (the user's MCP servers' tools, offered by the
//! server through [`Toolbox`]); each call is run by the toolbox, which enforces approval, and its output
//! goes back to the model, for at most [`MAX_TOOL_ROUNDS`] rounds.

use std::future::Future;
use std::pin::Pin;
use std::time::Duration;

use quire_ai::{ToolCall, ToolOutput, ToolSpec};

/// Rounds of tool calls one answer may take; the round after the last is sent without tools, so the
/// model has to answer in words.
pub const MAX_TOOL_ROUNDS: u32 = 8;

pub type BoxFuture<'a, T> = Pin<Box<dyn Future<Output = T> + Send + 'a>>;

/// Who asks for a tool call: the notebook and job it serves (the approval gate shows both).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallContext {
    pub notebook: Option<String>,
    pub job_id: Option<String>,
}

/// How a call ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ToolStatus {
    Done,
    /// The tool ran and said it failed (`isError`).
    Error,
    /// Not approved (denied, timed out, no client to ask).
    Denied,
    /// It could not be run (server down, timeout, breaker open).
    Failed,
}

/// A call's outcome: what the model is told, and the whole result for the user's tool-call card.
#[derive(Debug, Clone)]
pub struct ToolOutcome {
    pub status: ToolStatus,
    /// Text for the model (a denial or failure says why, so the model can go on without it).
    pub for_model: String,
    /// The result as the UI shows it (content parts, structured content), or `{code, message}`.
    pub detail: serde_json::Value,
    pub duration: Duration,
}

/// The tools a server offers to the AI. Implementations must put every call behind the approval gate.
pub trait Toolbox: Send + Sync {
    /// The tools to offer now (an empty list: none are offered).
    fn tools<'a>(&'a self, cx: &'a CallContext) -> BoxFuture<'a, Vec<ToolSpec>>;
    /// Run one call, waiting for its approval.
    fn call<'a>(&'a self, cx: &'a CallContext, call: &'a ToolCall) -> BoxFuture<'a, ToolOutcome>;
}

pub(crate) fn output(call: &ToolCall, outcome: &ToolOutcome) -> ToolOutput {
    ToolOutput {
        call_id: call.id.clone(),
        name: call.name.clone(),
        content: outcome.for_model.clone(),
        is_error: outcome.status != ToolStatus::Done,
    }
}
