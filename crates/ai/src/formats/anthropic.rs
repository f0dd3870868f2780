//! Anthropic Messages: `POST {base}/messages` with `x-api-key` and `anthropic-version`; events
//! `message_start`, `content_block_delta` (`text_delta`), `message_delta` (stop reason, usage),
//! `message_stop` last; `ping` and `error` may come at any point.

use serde_json::{Value, json};

use super::{Outcome, Prepared, event_json, stream_error, u64_at};
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::sse::SseEvent;
use crate::stream::{ChatMessage, ChatRequest, FinishReason, Role};

pub(crate) const VERSION: &str = "2023-06-01";
/// `max_tokens` is required by the API; this is what is sent when the request has none.
const DEFAULT_MAX_TOKENS: u32 = 4096;

pub(crate) fn headers(endpoint: &Endpoint) -> Vec<(&'static str, String)> {
    let mut headers = vec![("anthropic-version", VERSION.to_string())];
    if let Some(key) = &endpoint.api_key {
        headers.push(("x-api-key", key.expose().to_string()));
    }
    headers
}

pub(crate) fn prepare(endpoint: &Endpoint, request: &ChatRequest) -> Prepared {
    let messages: Vec<Value> = request.messages.iter().map(message).collect();
    let mut body = json!({
        "model": request.model,
        "max_tokens": request.max_tokens.unwrap_or(DEFAULT_MAX_TOKENS),
        "messages": messages,
        "stream": true,
    });
    if let Some(system) = &request.system {
        body["system"] = json!(system);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "input_schema": t.input_schema}))
            .collect();
        body["tools"] = json!(tools);
    }
    Prepared { url: format!("{}/messages", endpoint.base_url), headers: headers(endpoint), body }
}

/// A turn as content blocks when it carries tool calls or outputs, else plain text.
fn message(m: &ChatMessage) -> Value {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "assistant",
    };
    if m.tool_calls.is_empty() && m.tool_outputs.is_empty() {
        return json!({"role": role, "content": m.content});
    }
    let mut blocks: Vec<Value> = m
        .tool_outputs
        .iter()
        .map(|o| json!({"type": "tool_result", "tool_use_id": o.call_id, "content": o.content, "is_error": o.is_error}))
        .collect();
    if !m.content.is_empty() {
        blocks.push(json!({"type": "text", "text": m.content}));
    }
    for c in &m.tool_calls {
        blocks.push(json!({"type": "tool_use", "id": c.id, "name": c.name, "input": c.arguments}));
    }
    json!({"role": role, "content": blocks})
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    pub outcome: Outcome,
}

impl Parser {
    pub fn on_event(&mut self, event: &SseEvent, texts: &mut Vec<String>) -> Result<&Outcome, AiError> {
        let value = event_json(event)?;
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(&event.event);
        match kind {
            "message_start" => {
                self.outcome.usage.input_tokens = u64_at(&value, "/message/usage/input_tokens");
                self.outcome.usage.output_tokens = u64_at(&value, "/message/usage/output_tokens");
            }
            "content_block_start" => {
                let block = value.get("content_block").unwrap_or(&Value::Null);
                if block.get("type").and_then(Value::as_str) == Some("tool_use") {
                    let text = |k: &str| block.get(k).and_then(Value::as_str).unwrap_or_default();
                    self.outcome.calls.update(&index(&value), text("id"), text("name"), "");
                }
            }
            "content_block_delta" => match value.pointer("/delta/type").and_then(Value::as_str) {
                Some("text_delta") => {
                    if let Some(text) = value.pointer("/delta/text").and_then(Value::as_str) {
                        texts.push(text.to_string());
                    }
                }
                Some("input_json_delta") => {
                    let part =
                        value.pointer("/delta/partial_json").and_then(Value::as_str).unwrap_or_default();
                    self.outcome.calls.update(&index(&value), "", "", part);
                }
                _ => {} // thinking
            },
            "content_block_stop" => self.outcome.calls.finish(&index(&value), None),
            "message_delta" => {
                if let Some(reason) = value.pointer("/delta/stop_reason").and_then(Value::as_str) {
                    self.outcome.finish = Some(stop_reason(reason));
                }
                // Counts here are cumulative, so they replace the ones from message_start.
                if let Some(n) = u64_at(&value, "/usage/output_tokens") {
                    self.outcome.usage.output_tokens = Some(n);
                }
                if let Some(n) = u64_at(&value, "/usage/input_tokens") {
                    self.outcome.usage.input_tokens = Some(n);
                }
            }
            "message_stop" => self.outcome.terminal = true,
            "error" => return Err(stream_error(value.get("error").unwrap_or(&value))),
            _ => {} // ping
        }
        Ok(&self.outcome)
    }
}

fn index(event: &Value) -> String {
    event.get("index").map(Value::to_string).unwrap_or_default()
}

fn stop_reason(reason: &str) -> FinishReason {
    match reason {
        "end_turn" | "stop_sequence" => FinishReason::Stop,
        "max_tokens" => FinishReason::Length,
        "tool_use" => FinishReason::ToolUse,
        "refusal" => FinishReason::ContentFilter,
        other => FinishReason::Other(other.to_string()),
    }
}
