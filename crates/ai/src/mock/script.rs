//! What the mock answers: scripted replies, and how each is rendered in the wire format the request
//! asked for (event sequences, error bodies and model lists as each provider shapes them).

use std::time::Duration;

use serde_json::{Value, json};

use crate::provider::WireFormat;

/// How the model stopped, spelled per format when rendered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MockFinish {
    Stop,
    Length,
}

/// Where the body bytes are cut into separately flushed pieces.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Split {
    Whole,
    /// Pieces of `n` bytes: `Every(1)` cuts inside every UTF-8 character and every CRLF.
    Every(usize),
    /// Cut at these byte offsets.
    At(Vec<usize>),
}

/// How a stream goes over the wire.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Shape {
    pub split: Split,
    /// Pause after each piece (zero: only a yield).
    pub gap: Duration,
    /// CRLF line ends instead of LF.
    pub crlf: bool,
    /// `: keep-alive` comments between events (Anthropic streams also carry `ping` events).
    pub keepalives: bool,
    /// Each event's JSON spread over two `data:` lines.
    pub multiline_data: bool,
    /// Drop the connection after this many body bytes, without ending the chunked body.
    pub cut_after: Option<usize>,
}

impl Default for Shape {
    fn default() -> Shape {
        Shape {
            split: Split::Whole,
            gap: Duration::ZERO,
            crlf: false,
            keepalives: true,
            multiline_data: false,
            cut_after: None,
        }
    }
}

/// A streamed answer: its text chunks, how it ends, the usage it reports.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamScript {
    pub chunks: Vec<String>,
    pub finish: MockFinish,
    pub input_tokens: u64,
    pub output_tokens: u64,
    pub shape: Shape,
    /// Leave out the format's closing event(s) (`[DONE]`, `message_stop`, `response.completed`,
    /// Gemini's finish frame), ending the HTTP body cleanly: a stream that stops at an event
    /// boundary.
    pub drop_ending: bool,
    /// Tool calls after the text: `(id, name, arguments)`, their arguments streamed in two pieces where
    /// the format streams them.
    pub tool_calls: Vec<(String, String, Value)>,
}

impl StreamScript {
    pub fn new<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> StreamScript {
        StreamScript {
            chunks: chunks.into_iter().map(Into::into).collect(),
            finish: MockFinish::Stop,
            input_tokens: 11,
            output_tokens: 7,
            shape: Shape::default(),
            drop_ending: false,
            tool_calls: Vec::new(),
        }
    }
    pub fn tool_call(mut self, id: &str, name: &str, arguments: Value) -> StreamScript {
        self.tool_calls.push((id.into(), name.into(), arguments));
        self
    }
    pub fn split(mut self, split: Split) -> StreamScript {
        self.shape.split = split;
        self
    }
    pub fn gap(mut self, gap: Duration) -> StreamScript {
        self.shape.gap = gap;
        self
    }
    pub fn crlf(mut self) -> StreamScript {
        self.shape.crlf = true;
        self
    }
    pub fn multiline_data(mut self) -> StreamScript {
        self.shape.multiline_data = true;
        self
    }
    pub fn cut_after(mut self, bytes: usize) -> StreamScript {
        self.shape.cut_after = Some(bytes);
        self
    }
    pub fn drop_ending(mut self) -> StreamScript {
        self.drop_ending = true;
        self
    }
    pub fn finish(mut self, finish: MockFinish) -> StreamScript {
        self.finish = finish;
        self
    }
    pub fn usage(mut self, input: u64, output: u64) -> StreamScript {
        self.input_tokens = input;
        self.output_tokens = output;
        self
    }
}

/// One scripted answer, used by the next request that reaches the script (see `MockLlm::push`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reply {
    Stream(StreamScript),
    /// An error answer in the provider's own body shape.
    Error {
        status: u16,
        message: String,
        retry_after: Option<String>,
    },
    /// Any status, headers and body, verbatim.
    Raw {
        status: u16,
        headers: Vec<(String, String)>,
        content_type: String,
        body: String,
    },
    /// A raw event-stream body (for events the script does not model), sent with `shape`.
    RawSse {
        body: String,
        shape: Shape,
    },
    /// Read the request, then send nothing until the client gives up.
    Hang,
}

impl Reply {
    pub fn text<S: Into<String>>(chunks: impl IntoIterator<Item = S>) -> Reply {
        Reply::Stream(StreamScript::new(chunks))
    }
    pub fn error(status: u16, message: impl Into<String>) -> Reply {
        Reply::Error { status, message: message.into(), retry_after: None }
    }
    pub fn rate_limited(retry_after: impl Into<String>) -> Reply {
        Reply::Error {
            status: 429,
            message: "Rate limit reached".into(),
            retry_after: Some(retry_after.into()),
        }
    }
    pub fn raw_sse(body: impl Into<String>) -> Reply {
        Reply::RawSse { body: body.into(), shape: Shape { keepalives: false, ..Shape::default() } }
    }
}

impl From<StreamScript> for Reply {
    fn from(script: StreamScript) -> Reply {
        Reply::Stream(script)
    }
}

/// The events of a scripted stream in `format`: `(event name, JSON data)`.
pub(super) fn events(format: WireFormat, s: &StreamScript) -> Vec<(Option<&'static str>, String)> {
    let mut out: Vec<(Option<&'static str>, Value)> = Vec::new();
    let stop = s.finish == MockFinish::Stop;
    match format {
        WireFormat::ChatCompletions => {
            let chunk = |delta: Value, finish: Value| {
                json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "model": "mock",
                       "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
            };
            out.push((None, chunk(json!({"role": "assistant", "content": ""}), Value::Null)));
            for c in &s.chunks {
                out.push((None, chunk(json!({"content": c}), Value::Null)));
            }
            for (i, (id, name, args)) in s.tool_calls.iter().enumerate() {
                out.push((
                    None,
                    chunk(
                        json!({"tool_calls": [{"index": i, "id": id, "type": "function",
                    "function": {"name": name, "arguments": ""}}]}),
                        Value::Null,
                    ),
                ));
                for piece in halves(&args.to_string()) {
                    out.push((
                        None,
                        chunk(
                            json!({"tool_calls": [{"index": i, "function": {"arguments": piece}}]}),
                            Value::Null,
                        ),
                    ));
                }
            }
            let calls = !s.tool_calls.is_empty();
            if !s.drop_ending {
                let reason = if calls {
                    "tool_calls"
                } else if stop {
                    "stop"
                } else {
                    "length"
                };
                out.push((None, chunk(json!({}), json!(reason))));
                out.push((
                    None,
                    json!({"id": "chatcmpl-mock", "object": "chat.completion.chunk", "choices": [],
                    "usage": {"prompt_tokens": s.input_tokens, "completion_tokens": s.output_tokens,
                              "total_tokens": s.input_tokens + s.output_tokens}}),
                ));
            }
        }
        WireFormat::Responses => {
            let mut seq = 0u64;
            let mut ev = |name: &'static str, mut v: Value| {
                v["type"] = json!(name);
                v["sequence_number"] = json!(seq);
                seq += 1;
                (Some(name), v)
            };
            out.push(ev(
                "response.created",
                json!({"response": {"id": "resp_mock", "status": "in_progress"}}),
            ));
            out.push(ev(
                "response.output_item.added",
                json!({"output_index": 0, "item": {"type": "message"}}),
            ));
            out.push(ev("response.content_part.added", json!({"output_index": 0, "content_index": 0})));
            for c in &s.chunks {
                out.push(ev(
                    "response.output_text.delta",
                    json!({"output_index": 0, "content_index": 0, "delta": c}),
                ));
            }
            out.push(ev("response.output_text.done", json!({"text": s.chunks.concat()})));
            for (i, (id, name, args)) in s.tool_calls.iter().enumerate() {
                let item = |arguments: &str| {
                    json!({"type": "function_call", "id": format!("fc_{i}"),
                    "call_id": id, "name": name, "arguments": arguments, "status": "in_progress"})
                };
                out.push(ev("response.output_item.added", json!({"output_index": i + 1, "item": item("")})));
                for piece in halves(&args.to_string()) {
                    out.push(ev(
                        "response.function_call_arguments.delta",
                        json!({"item_id": format!("fc_{i}"), "output_index": i + 1, "delta": piece}),
                    ));
                }
                out.push(ev(
                    "response.function_call_arguments.done",
                    json!({"item_id": format!("fc_{i}"), "arguments": args.to_string()}),
                ));
                out.push(ev(
                    "response.output_item.done",
                    json!({"output_index": i + 1, "item": item(&args.to_string())}),
                ));
            }
            if !s.drop_ending {
                let usage = json!({"input_tokens": s.input_tokens, "output_tokens": s.output_tokens});
                out.push(if stop {
                    ev("response.completed", json!({"response": {"status": "completed", "usage": usage}}))
                } else {
                    ev(
                        "response.incomplete",
                        json!({"response": {"status": "incomplete",
                        "incomplete_details": {"reason": "max_output_tokens"}, "usage": usage}}),
                    )
                });
            }
        }
        WireFormat::AnthropicMessages => {
            let ev = |name: &'static str, mut v: Value| {
                v["type"] = json!(name);
                (Some(name), v)
            };
            out.push(ev("message_start", json!({"message": {"id": "msg_mock", "type": "message", "role": "assistant",
                "content": [], "model": "mock", "usage": {"input_tokens": s.input_tokens, "output_tokens": 1}}})));
            out.push(ev(
                "content_block_start",
                json!({"index": 0, "content_block": {"type": "text", "text": ""}}),
            ));
            out.push(ev("ping", json!({})));
            for (i, c) in s.chunks.iter().enumerate() {
                out.push(ev(
                    "content_block_delta",
                    json!({"index": 0, "delta": {"type": "text_delta", "text": c}}),
                ));
                if s.shape.keepalives && i == 0 {
                    out.push(ev("ping", json!({})));
                }
            }
            out.push(ev("content_block_stop", json!({"index": 0})));
            for (i, (id, name, args)) in s.tool_calls.iter().enumerate() {
                out.push(ev("content_block_start",
                    json!({"index": i + 1, "content_block": {"type": "tool_use", "id": id, "name": name, "input": {}}})));
                for piece in halves(&args.to_string()) {
                    out.push(ev(
                        "content_block_delta",
                        json!({"index": i + 1, "delta": {"type": "input_json_delta", "partial_json": piece}}),
                    ));
                }
                out.push(ev("content_block_stop", json!({"index": i + 1})));
            }
            let reason = if !s.tool_calls.is_empty() {
                "tool_use"
            } else if stop {
                "end_turn"
            } else {
                "max_tokens"
            };
            if !s.drop_ending {
                out.push(ev(
                    "message_delta",
                    json!({"delta": {"stop_reason": reason},
                    "usage": {"output_tokens": s.output_tokens}}),
                ));
                out.push(ev("message_stop", json!({})));
            }
        }
        WireFormat::Gemini => {
            let frame = |text: &str| json!({"candidates": [{"content": {"role": "model", "parts": [{"text": text}]}, "index": 0}]});
            let last = if s.drop_ending { s.chunks.len() } else { s.chunks.len().saturating_sub(1) };
            for c in &s.chunks[..last] {
                out.push((None, frame(c)));
            }
            if !s.tool_calls.is_empty() {
                // Gemini sends each call whole, without an id.
                let parts: Vec<Value> = s
                    .tool_calls
                    .iter()
                    .map(|(_, name, args)| json!({"functionCall": {"name": name, "args": args}}))
                    .collect();
                out.push((
                    None,
                    json!({"candidates": [{"content": {"role": "model", "parts": parts}, "index": 0}]}),
                ));
            }
            if !s.drop_ending {
                let mut end = frame(s.chunks.last().map(String::as_str).unwrap_or(""));
                end["candidates"][0]["finishReason"] = json!(if stop { "STOP" } else { "MAX_TOKENS" });
                end["usageMetadata"] = json!({"promptTokenCount": s.input_tokens, "candidatesTokenCount": s.output_tokens,
                    "totalTokenCount": s.input_tokens + s.output_tokens});
                out.push((None, end));
            }
        }
    }
    let mut events: Vec<(Option<&'static str>, String)> =
        out.into_iter().map(|(n, v)| (n, v.to_string())).collect();
    if format == WireFormat::ChatCompletions && !s.drop_ending {
        events.push((None, "[DONE]".to_string()));
    }
    events
}

/// `text` in two pieces (at a character boundary near the middle), as providers stream arguments.
fn halves(text: &str) -> [&str; 2] {
    let mut mid = text.len() / 2;
    while !text.is_char_boundary(mid) {
        mid += 1;
    }
    [&text[..mid], &text[mid..]]
}

/// The event-stream text of `events` with the shape's line ends, comments and multi-line data.
pub(super) fn sse_body(events: &[(Option<&str>, String)], shape: &Shape) -> String {
    let nl = if shape.crlf { "\r\n" } else { "\n" };
    let mut body = String::new();
    if shape.keepalives {
        body.push_str(&format!(": keep-alive{nl}{nl}"));
    }
    for (i, (name, data)) in events.iter().enumerate() {
        if let Some(name) = name {
            body.push_str(&format!("event: {name}{nl}"));
        }
        match data.strip_prefix('{') {
            // After the opening brace is always outside a JSON string, so the joined lines
            // ("{" + "\n" + rest) are the same JSON.
            Some(rest) if shape.multiline_data => body.push_str(&format!("data: {{{nl}data: {rest}{nl}{nl}")),
            _ => body.push_str(&format!("data: {data}{nl}{nl}")),
        }
        if shape.keepalives && i % 2 == 1 {
            body.push_str(&format!(": keep-alive{nl}"));
        }
    }
    body
}

/// The body cut into pieces per `split`.
pub(super) fn pieces<'a>(body: &'a [u8], split: &Split) -> Vec<&'a [u8]> {
    match split {
        Split::Whole => vec![body],
        Split::Every(n) => body.chunks((*n).max(1)).collect(),
        Split::At(offsets) => {
            let mut cuts: Vec<usize> = offsets.iter().copied().filter(|&o| o < body.len()).collect();
            cuts.sort_unstable();
            let mut out = Vec::new();
            let mut at = 0;
            for cut in cuts {
                out.push(&body[at..cut]);
                at = cut;
            }
            out.push(&body[at..]);
            out
        }
    }
}

/// An error body as `format`'s provider writes it.
pub(super) fn error_body(format: Option<WireFormat>, status: u16, message: &str) -> String {
    let (openai_code, anthropic_type, google_status) = match status {
        401 => ("invalid_api_key", "authentication_error", "UNAUTHENTICATED"),
        403 => ("permission_denied", "permission_error", "PERMISSION_DENIED"),
        404 => ("model_not_found", "not_found_error", "NOT_FOUND"),
        429 => ("rate_limit_exceeded", "rate_limit_error", "RESOURCE_EXHAUSTED"),
        400 | 413 => ("invalid_request_error", "invalid_request_error", "INVALID_ARGUMENT"),
        _ => ("server_error", "api_error", "INTERNAL"),
    };
    match format {
        Some(WireFormat::AnthropicMessages) => {
            json!({"type": "error", "error": {"type": anthropic_type, "message": message}}).to_string()
        }
        Some(WireFormat::Gemini) => {
            json!({"error": {"code": status, "message": message, "status": google_status}}).to_string()
        }
        _ => json!({"error": {"message": message, "type": openai_code, "code": openai_code}}).to_string(),
    }
}

/// A model list in the shape of the provider whose auth header the request carried.
pub(super) fn model_list(format: Option<WireFormat>, models: &[String]) -> String {
    match format {
        Some(WireFormat::Gemini) => json!({"models": models.iter().map(|m| json!({"name": format!("models/{m}"),
            "displayName": m, "supportedGenerationMethods": ["generateContent", "countTokens"]})).collect::<Vec<_>>()}),
        Some(WireFormat::AnthropicMessages) => json!({"data": models.iter().map(|m| json!({"id": m, "type": "model",
            "display_name": m})).collect::<Vec<_>>(), "has_more": false}),
        _ => json!({"object": "list", "data": models.iter().map(|m| json!({"id": m, "object": "model",
            "owned_by": "mock"})).collect::<Vec<_>>()}),
    }
    .to_string()
}
