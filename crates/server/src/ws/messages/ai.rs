//! The AI events: Srcbook's `ai:generate` and `ai:fix_diagnostics` (answered `ai:generated`), and
//! for connections with the `ai` capability a `jobId` on each, `ai:generate_cells`, `ai:stop`, and
//! the streamed answer (`ai:started`, `ai:delta`, `ai:step`, then `ai:done` or `ai:failed`).

use serde::{Deserialize, Serialize};
use srcmd::Cell;

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiGenerate {
    pub cell_id: String,
    pub prompt: String,
    pub job_id: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiFix {
    pub cell_id: String,
    #[serde(default)]
    pub diagnostics: Option<String>,
    #[serde(default)]
    pub output: Option<String>,
    pub job_id: Option<String>,
    pub max_steps: Option<u32>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AiCells {
    pub job_id: String,
    pub insert_idx: f64,
    pub query: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JobRef {
    pub job_id: String,
}

pub enum AiEvent {
    Generate(AiGenerate),
    Fix(AiFix),
    Cells(AiCells),
    Stop(JobRef),
}

#[derive(Serialize, Debug, Clone)]
pub struct PromptSent {
    pub system: String,
    pub user: String,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiStarted {
    pub job_id: String,
    pub kind: quire_assist::Kind,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_id: Option<String>,
    pub prompt: PromptSent,
    pub provider: String,
    pub model: String,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiStep {
    pub job_id: String,
    pub step: u32,
    pub max_steps: u32,
    pub code: String,
    pub diagnostics: Vec<String>,
    pub output: String,
    pub exit_code: Option<i32>,
    pub ok: bool,
}

/// The model asked for a tool: the call waits for approval (`mcp:approval`), then runs.
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiToolCall {
    pub job_id: String,
    pub step: u32,
    pub call_id: String,
    /// `server__tool`, as offered to the model.
    pub tool: String,
    pub arguments: serde_json::Value,
}

/// A tool call ended: `done`, `error` (the tool said so), `denied` or `failed` (could not run).
#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiToolResult {
    pub job_id: String,
    pub call_id: String,
    pub status: quire_assist::ToolStatus,
    pub result: serde_json::Value,
    pub duration_ms: u64,
}

#[derive(Serialize, Debug, Clone, Default)]
#[serde(rename_all = "camelCase")]
pub struct TokenUsage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiDone {
    pub job_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cell_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cells: Option<Vec<Cell>>,
    pub steps: u32,
    pub ok: bool,
    pub usage: TokenUsage,
    pub first_token_ms: Option<u64>,
}

#[derive(Serialize, Debug, Clone)]
#[serde(rename_all = "camelCase")]
pub struct AiFailed {
    pub job_id: String,
    pub code: &'static str,
    pub message: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}
