//! OpenAI Responses: `POST {base}/responses`, typed events (`response.output_text.delta`, ...),
//! `response.completed` / `.incomplete` / `.failed` last; there is no `[DONE]`.

use serde_json::{Value, json};

use super::{Outcome, Prepared, bearer, event_json, stream_error, u64_at};
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::sse::SseEvent;
use crate::stream::{ChatRequest, FinishReason, Role};

pub(crate) fn prepare(endpoint: &Endpoint, request: &ChatRequest) -> Prepared {
    let mut input: Vec<Value> = Vec::new();
    for m in &request.messages {
        for out in &m.tool_outputs {
            input
                .push(json!({"type": "function_call_output", "call_id": out.call_id, "output": out.content}));
        }
        if !m.content.is_empty() || (m.tool_calls.is_empty() && m.tool_outputs.is_empty()) {
            let role = match m.role {
                Role::User => "user",
                Role::Assistant => "assistant",
            };
            input.push(json!({"role": role, "content": m.content}));
        }
        for c in &m.tool_calls {
            input.push(json!({"type": "function_call", "call_id": c.id, "name": c.name,
                "arguments": c.arguments.to_string()}));
        }
    }
    // `store: false`: the prompt is not kept on the provider's side for later retrieval.
    let mut body = json!({"model": request.model, "input": input, "stream": true, "store": false});
    if let Some(system) = &request.system {
        body["instructions"] = json!(system);
    }
    if let Some(max) = request.max_tokens {
        body["max_output_tokens"] = json!(max);
    }
    if let Some(t) = request.temperature {
        body["temperature"] = json!(t);
    }
    if !request.tools.is_empty() {
        let tools: Vec<Value> = request
            .tools
            .iter()
            .map(|t| {
                json!({"type": "function", "name": t.name, "description": t.description,
                "parameters": t.input_schema})
            })
            .collect();
        body["tools"] = json!(tools);
    }
    Prepared { url: format!("{}/responses", endpoint.base_url), headers: bearer(endpoint), body }
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    pub outcome: Outcome,
}

impl Parser {
    pub fn on_event(&mut self, event: &SseEvent, texts: &mut Vec<String>) -> Result<&Outcome, AiError> {
        let value = event_json(event)?;
        // The JSON's `type` is authoritative; the SSE `event:` line repeats it.
        let kind = value.get("type").and_then(Value::as_str).unwrap_or(&event.event);
        match kind {
            "response.output_text.delta" => {
                if let Some(delta) = value.get("delta").and_then(Value::as_str) {
                    texts.push(delta.to_string());
                }
            }
            // A call's arguments stream by item id; `output_item.done` carries the call whole.
            "response.output_item.added" | "response.output_item.done" => {
                let item = value.get("item").unwrap_or(&Value::Null);
                if item.get("type").and_then(Value::as_str) == Some("function_call") {
                    let text = |k: &str| item.get(k).and_then(Value::as_str).unwrap_or_default();
                    let key = text("id");
                    let key = if key.is_empty() { text("call_id") } else { key };
                    self.outcome.calls.update(key, text("call_id"), text("name"), "");
                    if kind == "response.output_item.done" {
                        let whole = text("arguments");
                        self.outcome.calls.finish(key, (!whole.is_empty()).then_some(whole));
                    }
                }
            }
            "response.function_call_arguments.delta" => {
                let key = value.get("item_id").and_then(Value::as_str).unwrap_or_default();
                let delta = value.get("delta").and_then(Value::as_str).unwrap_or_default();
                self.outcome.calls.update(key, "", "", delta);
            }
            "response.completed" | "response.incomplete" => {
                let response = value.get("response").unwrap_or(&Value::Null);
                self.outcome.usage.input_tokens = u64_at(response, "/usage/input_tokens");
                self.outcome.usage.output_tokens = u64_at(response, "/usage/output_tokens");
                let reason = response.pointer("/incomplete_details/reason").and_then(Value::as_str);
                self.outcome.finish = Some(match (kind, reason) {
                    ("response.completed", _) => FinishReason::Stop,
                    (_, Some("max_output_tokens")) => FinishReason::Length,
                    (_, Some("content_filter")) => FinishReason::ContentFilter,
                    (_, other) => FinishReason::Other(other.unwrap_or("incomplete").to_string()),
                });
                self.outcome.terminal = true;
            }
            "response.failed" => {
                let error = value.pointer("/response/error").cloned().unwrap_or(Value::Null);
                return Err(stream_error(&error));
            }
            "error" => return Err(stream_error(value.get("error").unwrap_or(&value))),
            _ => {} // created, in_progress, output_item.*, content_part.*, output_text.done, ...
        }
        Ok(&self.outcome)
    }
}
