//! OpenAI Chat Completions: `POST {base}/chat/completions`, `chat.completion.chunk` events, the
//! usage chunk asked for with `stream_options`, `data: [DONE]` last.

use serde_json::{Value, json};

use super::{Outcome, Prepared, bearer, event_json, stream_error, u64_at};
use crate::error::AiError;
use crate::provider::{Endpoint, Provider};
use crate::sse::SseEvent;
use crate::stream::{ChatRequest, FinishReason, Role};

pub(crate) fn prepare(endpoint: &Endpoint, request: &ChatRequest) -> Prepared {
    let mut messages = Vec::new();
    if let Some(system) = &request.system {
        messages.push(json!({"role": "system", "content": system}));
    }
    for m in &request.messages {
        for out in &m.tool_outputs {
            messages.push(json!({"role": "tool", "tool_call_id": out.call_id, "content": out.content}));
        }
        if m.role == Role::Assistant && !m.tool_calls.is_empty() {
            let calls: Vec<Value> = m
                .tool_calls
                .iter()
                .map(|c| {
                    json!({"id": c.id, "type": "function",
                    "function": {"name": c.name, "arguments": c.arguments.to_string()}})
                })
                .collect();
            let content = if m.content.is_empty() { Value::Null } else { json!(m.content) };
            messages.push(json!({"role": "assistant", "content": content, "tool_calls": calls}));
            continue;
        }
        if m.content.is_empty() && !m.tool_outputs.is_empty() {
            continue;
        }
        let role = match m.role {
            Role::User => "user",
            Role::Assistant => "assistant",
        };
        messages.push(json!({"role": role, "content": m.content}));
    }
    let mut body = json!({
        "model": request.model,
        "messages": messages,
        "stream": true,
        "stream_options": {"include_usage": true},
    });
    if let Some(max) = request.max_tokens {
        // OpenAI's reasoning models refuse `max_tokens`; compatible servers only know `max_tokens`.
        let key = if endpoint.provider == Provider::OpenAi { "max_completion_tokens" } else { "max_tokens" };
        body[key] = json!(max);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function",
                "function": {"name": t.name, "description": t.description, "parameters": t.input_schema}})
            })
            .collect();
        body["tools"] = json!(tools);
    }
    Prepared { url: format!("{}/chat/completions", endpoint.base_url), headers: bearer(endpoint), body }
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    pub outcome: Outcome,
}

impl Parser {
    pub fn on_event(&mut self, event: &SseEvent, texts: &mut Vec<String>) -> Result<&Outcome, AiError> {
        if event.data.trim() == "[DONE]" {
            self.outcome.terminal = true;
            return Ok(&self.outcome);
        }
        let chunk = event_json(event)?;
        if let Some(error) = chunk.get("error") {
            return Err(stream_error(error));
        }
        for choice in chunk.get("choices").and_then(Value::as_array).into_iter().flatten() {
            if let Some(text) = choice.pointer("/delta/content").and_then(Value::as_str) {
                texts.push(text.to_string());
            }
            // Calls come in pieces by `index`: the first piece names the call, later ones add arguments.
            for call in choice.pointer("/delta/tool_calls").and_then(Value::as_array).into_iter().flatten() {
                let key = call.get("index").map(Value::to_string).unwrap_or_default();
                let text = |p: &str| call.pointer(p).and_then(Value::as_str).unwrap_or_default();
                self.outcome.calls.update(
                    &key,
                    text("/id"),
                    text("/function/name"),
                    text("/function/arguments"),
                );
            }
            if let Some(reason) = choice.get("finish_reason").and_then(Value::as_str) {
                self.outcome.finish = Some(finish_reason(reason));
            }
        }
        if let Some(usage) = chunk.get("usage").filter(|u| u.is_object()) {
            self.outcome.usage.input_tokens = u64_at(usage, "/prompt_tokens");
            self.outcome.usage.output_tokens = u64_at(usage, "/completion_tokens");
        }
        Ok(&self.outcome)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "stop" => FinishReason::Stop,
        "length" => FinishReason::Length,
        "content_filter" => FinishReason::ContentFilter,
        "tool_calls" | "function_call" => FinishReason::ToolUse,
        other => FinishReason::Other(other.to_string()),
    }
}
