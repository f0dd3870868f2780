//! Server → client events: each a payload type, named in `ServerEvent::name`, with the capabilities
//! a connection needs to receive it in `ServerEvent::needs`.

use super::{AiDone, AiFailed, AiStarted, AiStep, AiToolCall, AiToolResult, TsQuery, caps};
use serde::Serialize;
use serde_json::Value;
use srcmd::Cell;

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct ErrorPayload {
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub event: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Value>,
}

/// A run's result, on the `cell:updated` that ends it (beside the cell and on it).
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct RunResult {
    pub exit_code: Option<i32>,
    pub signal: Option<String>,
    pub duration_ms: u64,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CellWithResult {
    #[serde(flatten)]
    pub cell: Cell,
    #[serde(flatten)]
    pub result: Option<RunResult>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct CellUpdated {
    #[serde(flatten)]
    pub result: Option<RunResult>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub timed_out: bool,
    pub cell: CellWithResult,
}

#[derive(Serialize, Debug, Clone)]
pub struct Output {
    #[serde(rename = "type")]
    pub stream: &'static str,
    pub data: String,
}

#[derive(Serialize, Debug, Clone)]
pub struct CellErrorItem {
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub attribute: Option<&'static str>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct TsAnswer {
    #[serde(skip)]
    pub query: TsQuery,
    pub response: Value,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request_id: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_id: Option<String>,
}

/// Every server → client event; serialised as the payload, named by `name`.
#[derive(Serialize, Debug, Clone)]
#[serde(untagged, rename_all_fields = "camelCase")]
pub enum ServerEvent {
    Subscribed {
        id: Value,
    },
    Pong {
        request_id: Option<Value>,
    },
    /// An answer every client gets: the frame could not mean anything.
    Error(ErrorPayload),
    /// A well-formed request that was refused (clients with `errors`).
    Refused(ErrorPayload),
    /// A refused language-service request (clients with `errors` or `tsserver`).
    TsRefused(ErrorPayload),
    CellCreated {
        index: usize,
        cell: Cell,
    },
    CellUpdated(Box<CellUpdated>),
    CellDeleted {
        cell_id: String,
    },
    CellMoved {
        cell_id: String,
        index: usize,
    },
    TsconfigUpdated {
        source: String,
    },
    CellOutput {
        cell_id: String,
        output: Output,
    },
    CellError {
        cell_id: String,
        errors: Vec<CellErrorItem>,
    },
    CellFormatted {
        cell_id: String,
        cell: Cell,
    },
    /// `{}`: package.json and node_modules disagree; `{packages}`: imports not declared.
    DepsValidate {
        #[serde(skip_serializing_if = "Option::is_none")]
        packages: Option<Vec<String>>,
    },
    TsDiagnostics {
        cell_id: String,
        diagnostics: Value,
    },
    TsSuggestions {
        cell_id: String,
        diagnostics: Value,
    },
    TsError {
        code: &'static str,
        message: String,
    },
    TsAnswer(TsAnswer),
    /// Srcbook's answer to `ai:generate` / `ai:fix_diagnostics`: the proposed code.
    AiGenerated {
        cell_id: String,
        output: String,
    },
    AiStarted(Box<AiStarted>),
    AiDelta {
        job_id: String,
        step: u32,
        text: String,
    },
    AiStep(Box<AiStep>),
    AiToolCall(Box<AiToolCall>),
    AiToolResult(Box<AiToolResult>),
    AiDone(Box<AiDone>),
    AiFailed(AiFailed),
    /// A tool call waits for a client's answer (`mcp:approve`).
    McpApproval(Box<quire_mcp::PendingApproval>),
    McpApprovalResolved {
        id: String,
        outcome: quire_mcp::Outcome,
        #[serde(skip_serializing_if = "Option::is_none")]
        by: Option<String>,
    },
}

impl ServerEvent {
    pub fn name(&self) -> &'static str {
        use ServerEvent as E;
        match self {
            E::Subscribed { .. } => "subscribed",
            E::Pong { .. } => "pong",
            E::Error(_) | E::Refused(_) | E::TsRefused(_) => "error",
            E::CellCreated { .. } => "cell:created",
            E::CellUpdated(_) => "cell:updated",
            E::CellDeleted { .. } => "cell:deleted",
            E::CellMoved { .. } => "cell:moved",
            E::TsconfigUpdated { .. } => "tsconfig.json:updated",
            E::CellOutput { .. } => "cell:output",
            E::CellError { .. } => "cell:error",
            E::CellFormatted { .. } => "cell:formatted",
            E::DepsValidate { .. } => "deps:validate:response",
            E::TsDiagnostics { .. } => "tsserver:cell:diagnostics",
            E::TsSuggestions { .. } => "tsserver:cell:suggestions",
            E::TsError { .. } => "tsserver:error",
            E::AiGenerated { .. } => "ai:generated",
            E::AiStarted(_) => "ai:started",
            E::AiDelta { .. } => "ai:delta",
            E::AiStep(_) => "ai:step",
            E::AiToolCall(_) => "ai:tool_call",
            E::AiToolResult(_) => "ai:tool_result",
            E::AiDone(_) => "ai:done",
            E::AiFailed(_) => "ai:failed",
            E::McpApproval(_) => "mcp:approval",
            E::McpApprovalResolved { .. } => "mcp:approval:resolved",
            E::TsAnswer(a) => match a.query {
                TsQuery::QuickInfo => "tsserver:cell:quickinfo:response",
                TsQuery::Completions => "tsserver:cell:completions:response",
                TsQuery::Definition => "tsserver:cell:definition_location:response",
                TsQuery::SignatureHelp => "tsserver:cell:signature_help:response",
                TsQuery::Rename => "tsserver:cell:rename:response",
                TsQuery::CompletionDetails => "tsserver:cell:completion_details:response",
            },
        }
    }

    /// Which connections may receive it: the capabilities of which one is enough (none: everyone).
    pub fn needs(&self) -> &'static [&'static str] {
        use ServerEvent as E;
        match self {
            E::Refused(_) => &[caps::ERRORS],
            E::TsRefused(_) => &[caps::ERRORS, caps::TSSERVER],
            E::CellCreated { .. } | E::CellDeleted { .. } | E::CellMoved { .. } => &[caps::CELLS],
            E::TsError { .. } => &[caps::TSSERVER],
            E::TsAnswer(a) if a.query.is_new() => &[caps::TSSERVER],
            E::AiStarted(_)
            | E::AiDelta { .. }
            | E::AiStep(_)
            | E::AiToolCall(_)
            | E::AiToolResult(_)
            | E::AiDone(_)
            | E::AiFailed(_) => &[caps::AI],
            E::McpApproval(_) | E::McpApprovalResolved { .. } => &[caps::MCP],
            _ => &[],
        }
    }

    /// The frame's text: `[topic, event, payload]`.
    pub fn frame(&self, topic: &str) -> String {
        serde_json::to_string(&(topic, self.name(), self)).unwrap_or_default()
    }
}

/// The topic of a notebook.
pub fn topic(notebook_id: &str) -> String {
    format!("session:{notebook_id}")
}
