//! Gemini: `POST {base}/models/{model}:streamGenerateContent?alt=sse` with `x-goog-api-key`; one
//! `GenerateContentResponse` per event, the finish reason and usage in the last, no `[DONE]`.

use serde_json::{Value, json};

use super::{Outcome, Prepared, event_json, stream_error, u64_at};
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::sse::SseEvent;
use crate::stream::{ChatMessage, ChatRequest, FinishReason, Role};

pub(crate) fn headers(endpoint: &Endpoint) -> Vec<(&'static str, String)> {
    endpoint.api_key.iter().map(|k| ("x-goog-api-key", k.expose().to_string())).collect()
}

/// Gemini names models `models/gemini-…` in its lists; either spelling is accepted.
pub(crate) fn model_path(model: &str) -> &str {
    model.strip_prefix("models/").unwrap_or(model)
}

pub(crate) fn prepare(endpoint: &Endpoint, request: &ChatRequest) -> Prepared {
    let contents: Vec<Value> = request.messages.iter().map(content).collect();
    let mut body = json!({"contents": contents});
    if let Some(system) = &request.system {
        body["systemInstruction"] = json!({"parts": [{"text": system}]});
    }
    let mut config = serde_json::Map::new();
    if let Some(max) = request.max_tokens {
        config.insert("maxOutputTokens".into(), json!(max));
    }
    if let Some(t) = request.temperature {
        config.insert("temperature".into(), json!(t));
    }
    if !config.is_empty() {
        body["generationConfig"] = Value::Object(config);
    }
    if !request.tools.is_empty() {
        // `parametersJsonSchema` takes full JSON Schema (`parameters` only an OpenAPI subset).
        let declarations: Vec<Value> = request
            .tools
            .iter()
            .map(|t| json!({"name": t.name, "description": t.description, "parametersJsonSchema": t.input_schema}))
            .collect();
        body["tools"] = json!([{"functionDeclarations": declarations}]);
    }
    // Without `alt=sse` the answer is one JSON array, not an event stream.
    let url =
        format!("{}/models/{}:streamGenerateContent?alt=sse", endpoint.base_url, model_path(&request.model));
    Prepared { url, headers: headers(endpoint), body }
}

fn content(m: &ChatMessage) -> Value {
    let role = match m.role {
        Role::User => "user",
        Role::Assistant => "model",
    };
    let mut parts: Vec<Value> = m
        .tool_outputs
        .iter()
        .map(|o| {
            let response =
                if o.is_error { json!({"error": o.content}) } else { json!({"output": o.content}) };
            json!({"functionResponse": {"id": o.call_id, "name": o.name, "response": response}})
        })
        .collect();
    if !m.content.is_empty() || (m.tool_calls.is_empty() && m.tool_outputs.is_empty()) {
        parts.push(json!({"text": m.content}));
    }
    for c in &m.tool_calls {
        parts.push(json!({"functionCall": {"id": c.id, "name": c.name, "args": c.arguments}}));
    }
    json!({"role": role, "parts": parts})
}

#[derive(Debug, Default)]
pub(crate) struct Parser {
    pub outcome: Outcome,
}

impl Parser {
    pub fn on_event(&mut self, event: &SseEvent, texts: &mut Vec<String>) -> Result<&Outcome, AiError> {
        let value = event_json(event)?;
        if let Some(error) = value.get("error") {
            return Err(stream_error(error));
        }
        if let Some(blocked) = value.pointer("/promptFeedback/blockReason").and_then(Value::as_str) {
            self.outcome.finish = Some(FinishReason::Other(format!("prompt blocked: {blocked}")));
        }
        if let Some(candidate) = value.pointer("/candidates/0") {
            for part in candidate.pointer("/content/parts").and_then(Value::as_array).into_iter().flatten() {
                // Parts marked `thought` are the model's reasoning, not the answer.
                if part.get("thought").and_then(Value::as_bool) != Some(true)
                    && let Some(text) = part.get("text").and_then(Value::as_str)
                {
                    texts.push(text.to_string());
                }
                // Gemini sends a call whole, in one part.
                if let Some(call) = part.get("functionCall") {
                    let name = call.get("name").and_then(Value::as_str).unwrap_or_default();
                    let args = call.get("args").cloned().unwrap_or_else(|| json!({}));
                    self.outcome.calls.whole(call.get("id").and_then(Value::as_str), name, args);
                }
            }
            if let Some(reason) = candidate.get("finishReason").and_then(Value::as_str) {
                self.outcome.finish = Some(finish_reason(reason));
            }
        }
        if let Some(usage) = value.get("usageMetadata") {
            self.outcome.usage.input_tokens = u64_at(usage, "/promptTokenCount");
            self.outcome.usage.output_tokens = u64_at(usage, "/candidatesTokenCount");
        }
        Ok(&self.outcome)
    }
}

fn finish_reason(reason: &str) -> FinishReason {
    match reason {
        "STOP" => FinishReason::Stop,
        "MAX_TOKENS" => FinishReason::Length,
        "SAFETY" | "RECITATION" | "BLOCKLIST" | "PROHIBITED_CONTENT" | "SPII" => FinishReason::ContentFilter,
        "MALFORMED_FUNCTION_CALL" => FinishReason::ToolUse,
        other => FinishReason::Other(other.to_string()),
    }
}
