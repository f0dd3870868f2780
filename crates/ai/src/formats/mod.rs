//! The four wire formats: each builds its request and maps its stream's events to text, a finish
//! reason and usage. What they share (JSON of an event, in-stream errors, the end rule) is here.

mod anthropic;
mod chat_completions;
mod gemini;
mod responses;

pub(crate) use anthropic::headers as anthropic_headers;
pub(crate) use gemini::headers as gemini_headers;
use serde_json::Value;

use crate::error::{AiError, mentions_context};
use crate::provider::{Endpoint, WireFormat};
use crate::sse::SseEvent;
use crate::stream::{ChatRequest, Delta, FinishReason, Usage};
use crate::tools::{PendingCalls, ToolCall};

/// A request ready to send: URL, headers (the key among them) and JSON body.
pub(crate) struct Prepared {
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: Value,
}

pub(crate) fn prepare(endpoint: &Endpoint, request: &ChatRequest) -> Prepared {
    match endpoint.format {
        WireFormat::ChatCompletions => chat_completions::prepare(endpoint, request),
        WireFormat::Responses => responses::prepare(endpoint, request),
        WireFormat::AnthropicMessages => anthropic::prepare(endpoint, request),
        WireFormat::Gemini => gemini::prepare(endpoint, request),
    }
}

/// `Authorization: Bearer` for the OpenAI-shaped APIs, when there is a key (local servers need none).
pub(crate) fn bearer(endpoint: &Endpoint) -> Vec<(&'static str, String)> {
    endpoint.api_key.iter().map(|k| ("authorization", format!("Bearer {}", k.expose()))).collect()
}

pub(crate) enum EventParser {
    ChatCompletions(chat_completions::Parser),
    Responses(responses::Parser),
    Anthropic(anthropic::Parser),
    Gemini(gemini::Parser),
}

impl EventParser {
    pub fn new(format: WireFormat) -> EventParser {
        match format {
            WireFormat::ChatCompletions => EventParser::ChatCompletions(Default::default()),
            WireFormat::Responses => EventParser::Responses(Default::default()),
            WireFormat::AnthropicMessages => EventParser::Anthropic(Default::default()),
            WireFormat::Gemini => EventParser::Gemini(Default::default()),
        }
    }

    /// Map one event, pushing its text. `Ok(true)`: this was the format's last event.
    pub fn on_event(&mut self, event: &SseEvent, texts: &mut Vec<String>) -> Result<bool, AiError> {
        let outcome = match self {
            EventParser::ChatCompletions(p) => p.on_event(event, texts)?,
            EventParser::Responses(p) => p.on_event(event, texts)?,
            EventParser::Anthropic(p) => p.on_event(event, texts)?,
            EventParser::Gemini(p) => p.on_event(event, texts)?,
        };
        Ok(outcome.terminal)
    }

    /// The closing `Done`, or `StreamCut` when the answer stopped before the provider said it was
    /// complete: neither its last event nor a finish reason came.
    pub fn at_end(&self) -> Result<Delta, AiError> {
        let outcome = self.outcome();
        // Some servers say `stop` after tool calls: the calls decide.
        if outcome.calls.any() && matches!(outcome.finish, None | Some(FinishReason::Stop)) {
            return Ok(Delta::Done { finish: FinishReason::ToolUse, usage: outcome.usage });
        }
        match (&outcome.finish, outcome.terminal) {
            (Some(finish), _) => Ok(Delta::Done { finish: finish.clone(), usage: outcome.usage }),
            (None, true) => Ok(Delta::Done { finish: FinishReason::Stop, usage: outcome.usage }),
            (None, false) => Err(AiError::StreamCut {
                reason: "the connection ended before the provider's final event".into(),
            }),
        }
    }
}

impl EventParser {
    fn outcome(&self) -> &Outcome {
        match self {
            EventParser::ChatCompletions(p) => &p.outcome,
            EventParser::Responses(p) => &p.outcome,
            EventParser::Anthropic(p) => &p.outcome,
            EventParser::Gemini(p) => &p.outcome,
        }
    }

    /// The tool calls the answer asked for, complete (taken once, at the end).
    pub fn take_tool_calls(&mut self) -> Vec<ToolCall> {
        match self {
            EventParser::ChatCompletions(p) => p.outcome.calls.take(),
            EventParser::Responses(p) => p.outcome.calls.take(),
            EventParser::Anthropic(p) => p.outcome.calls.take(),
            EventParser::Gemini(p) => p.outcome.calls.take(),
        }
    }
}

/// What a stream has said so far about how it ends.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub finish: Option<FinishReason>,
    pub usage: Usage,
    pub terminal: bool,
    pub calls: PendingCalls,
}

pub(crate) fn event_json(event: &SseEvent) -> Result<Value, AiError> {
    serde_json::from_str(&event.data).map_err(|e| {
        let head: String = event.data.chars().take(80).collect();
        AiError::bad(format!("an event that is not JSON ({e}): {head}"))
    })
}

pub(crate) fn u64_at(value: &Value, pointer: &str) -> Option<u64> {
    value.pointer(pointer).and_then(Value::as_u64)
}

/// An error reported inside a 200 stream (`{"error": {...}}`, Anthropic's `error` event, Responses'
/// `response.failed`), classified by its type/code words.
pub(crate) fn stream_error(error: &Value) -> AiError {
    let word = |k: &str| error.get(k).and_then(Value::as_str).unwrap_or_default().to_ascii_lowercase();
    let kind = format!("{} {} {}", word("type"), word("code"), word("status"));
    let message =
        error.get("message").and_then(Value::as_str).unwrap_or("an error inside the stream").to_string();
    let lower = message.to_ascii_lowercase();
    if kind.contains("rate_limit") || kind.contains("resource_exhausted") {
        AiError::RateLimited { retry_after: None, message }
    } else if mentions_context(&kind) || mentions_context(&lower) {
        AiError::ContextTooLong { message }
    } else if kind.contains("authentication")
        || kind.contains("permission")
        || kind.contains("invalid_api_key")
    {
        AiError::InvalidKey { status: 401, url: String::new(), message }
    } else if kind.contains("overloaded") {
        AiError::Upstream { status: 529, message }
    } else {
        AiError::Upstream { status: 500, message }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(format: WireFormat, events: &[(&str, &str)]) -> (String, Result<Delta, AiError>) {
        let mut parser = EventParser::new(format);
        let mut texts = Vec::new();
        for (event, data) in events {
            let ev = SseEvent { event: event.to_string(), data: data.to_string() };
            match parser.on_event(&ev, &mut texts) {
                Ok(true) => break,
                Ok(false) => {}
                Err(e) => return (texts.concat(), Err(e)),
            }
        }
        (texts.concat(), parser.at_end())
    }

    #[test]
    fn chat_completions_without_done_marker_ends_on_its_finish_reason() {
        let (text, done) = run(
            WireFormat::ChatCompletions,
            &[
                ("", r#"{"choices":[{"delta":{"content":"hi"},"finish_reason":null}]}"#),
                ("", r#"{"choices":[{"delta":{},"finish_reason":"tool_calls"}]}"#),
            ],
        );
        assert_eq!(text, "hi");
        assert_eq!(done.unwrap(), Delta::Done { finish: FinishReason::ToolUse, usage: Usage::default() });
    }

    #[test]
    fn chat_completions_done_marker_alone_means_stop() {
        let (_, done) = run(
            WireFormat::ChatCompletions,
            &[("", r#"{"choices":[{"delta":{"content":"x"}}]}"#), ("", "[DONE]")],
        );
        assert_eq!(done.unwrap(), Delta::Done { finish: FinishReason::Stop, usage: Usage::default() });
    }

    #[test]
    fn anthropic_usage_combines_message_start_and_message_delta() {
        let (text, done) = run(
            WireFormat::AnthropicMessages,
            &[
                (
                    "message_start",
                    r#"{"type":"message_start","message":{"usage":{"input_tokens":25,"output_tokens":1}}}"#,
                ),
                (
                    "content_block_delta",
                    r#"{"type":"content_block_delta","delta":{"type":"thinking_delta","thinking":"hmm"}}"#,
                ),
                (
                    "content_block_delta",
                    r#"{"type":"content_block_delta","delta":{"type":"text_delta","text":"ok"}}"#,
                ),
                (
                    "message_delta",
                    r#"{"type":"message_delta","delta":{"stop_reason":"refusal"},"usage":{"output_tokens":15}}"#,
                ),
                ("message_stop", r#"{"type":"message_stop"}"#),
            ],
        );
        assert_eq!(text, "ok", "thinking is not the answer");
        let usage = Usage { input_tokens: Some(25), output_tokens: Some(15) };
        assert_eq!(done.unwrap(), Delta::Done { finish: FinishReason::ContentFilter, usage });
    }

    #[test]
    fn gemini_skips_thought_parts_and_reports_a_blocked_prompt() {
        let (text, done) = run(
            WireFormat::Gemini,
            &[(
                "",
                r#"{"candidates":[{"content":{"parts":[{"text":"plan","thought":true},{"text":"answer"}]},"finishReason":"SAFETY"}]}"#,
            )],
        );
        assert_eq!(text, "answer");
        assert!(matches!(done.unwrap(), Delta::Done { finish: FinishReason::ContentFilter, .. }));
        let (_, done) = run(WireFormat::Gemini, &[("", r#"{"promptFeedback":{"blockReason":"SAFETY"}}"#)]);
        assert!(
            matches!(done.unwrap(), Delta::Done { finish: FinishReason::Other(r), .. } if r.contains("SAFETY"))
        );
    }

    #[test]
    fn responses_incomplete_for_length_and_the_event_name_as_fallback_type() {
        let (text, done) = run(
            WireFormat::Responses,
            &[
                ("response.output_text.delta", r#"{"delta":"par"}"#),
                (
                    "response.incomplete",
                    r#"{"response":{"incomplete_details":{"reason":"max_output_tokens"},"usage":{"input_tokens":3,"output_tokens":9}}}"#,
                ),
            ],
        );
        assert_eq!(text, "par");
        let usage = Usage { input_tokens: Some(3), output_tokens: Some(9) };
        assert_eq!(done.unwrap(), Delta::Done { finish: FinishReason::Length, usage });
    }

    #[test]
    fn a_stream_that_ends_before_any_final_event_is_cut() {
        for format in [
            WireFormat::ChatCompletions,
            WireFormat::Responses,
            WireFormat::AnthropicMessages,
            WireFormat::Gemini,
        ] {
            let (_, done) = run(format, &[("ping", r#"{"type":"ping"}"#)]);
            assert_eq!(done.unwrap_err().code(), "ai_stream_cut", "{format:?}");
        }
    }
}
