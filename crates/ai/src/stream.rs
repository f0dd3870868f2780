//! One chat request's answer as a stream of [`Delta`]s, whatever the wire format: bytes from the
//! connection go through the SSE decoder and the format's event mapping.

use std::collections::VecDeque;
use std::time::Duration;

use crate::error::AiError;
use crate::formats::EventParser;
use crate::sse::{SseDecoder, SseEvent};
use crate::tools::{ToolCall, ToolOutput, ToolSpec};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    User,
    Assistant,
}

/// One turn. An assistant turn may carry the tool calls it asked for; the user turn after it carries
/// their outputs (each format spells both its own way).
#[derive(Debug, Clone, PartialEq)]
pub struct ChatMessage {
    pub role: Role,
    pub content: String,
    pub tool_calls: Vec<ToolCall>,
    pub tool_outputs: Vec<ToolOutput>,
}

impl ChatMessage {
    pub fn user(content: impl Into<String>) -> ChatMessage {
        ChatMessage { role: Role::User, content: content.into(), tool_calls: vec![], tool_outputs: vec![] }
    }
    pub fn assistant(content: impl Into<String>) -> ChatMessage {
        ChatMessage {
            role: Role::Assistant,
            content: content.into(),
            tool_calls: vec![],
            tool_outputs: vec![],
        }
    }
    /// The model's turn that asked for `calls` (with any text it wrote before them).
    pub fn tool_calls(content: impl Into<String>, calls: Vec<ToolCall>) -> ChatMessage {
        ChatMessage { tool_calls: calls, ..ChatMessage::assistant(content) }
    }
    /// The outputs of the previous turn's calls.
    pub fn tool_outputs(outputs: Vec<ToolOutput>) -> ChatMessage {
        ChatMessage { tool_outputs: outputs, ..ChatMessage::user("") }
    }
}

/// What every format can carry: a system prompt, the turns, a cap on the answer's length.
#[derive(Debug, Clone, PartialEq)]
pub struct ChatRequest {
    pub model: String,
    pub system: Option<String>,
    pub messages: Vec<ChatMessage>,
    /// Required by Anthropic (4096 is sent when `None`); optional elsewhere.
    pub max_tokens: Option<u32>,
    pub temperature: Option<f32>,
    /// Tools the model may call; none: a plain chat.
    pub tools: Vec<ToolSpec>,
}

impl ChatRequest {
    /// One user turn to `model`.
    pub fn new(model: impl Into<String>, prompt: impl Into<String>) -> ChatRequest {
        ChatRequest {
            model: model.into(),
            system: None,
            messages: vec![ChatMessage::user(prompt)],
            max_tokens: None,
            temperature: None,
            tools: Vec::new(),
        }
    }

    pub fn with_system(mut self, system: impl Into<String>) -> ChatRequest {
        self.system = Some(system.into());
        self
    }
}

/// Why the model stopped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FinishReason {
    Stop,
    /// The token cap was reached: the answer is cut.
    Length,
    ContentFilter,
    ToolUse,
    /// A reason this crate does not know, as the provider spelled it.
    Other(String),
}

/// Tokens as the provider counted them; `None` when it did not say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Usage {
    pub input_tokens: Option<u64>,
    pub output_tokens: Option<u64>,
}

/// A stream is `Text*`, then the `ToolCall`s the model asked for (if any, each complete), then exactly
/// one `Done`; or it ends in an error.
#[derive(Debug, Clone, PartialEq)]
pub enum Delta {
    Text(String),
    ToolCall(ToolCall),
    Done { finish: FinishReason, usage: Usage },
}

/// A whole answer, for callers that do not stream.
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub text: String,
    pub tool_calls: Vec<ToolCall>,
    pub finish: FinishReason,
    pub usage: Usage,
}

/// Folds a stream's deltas into its [`Answer`] (shared by the plain and the guarded stream).
#[derive(Default)]
pub(crate) struct Collector {
    text: String,
    tool_calls: Vec<ToolCall>,
}

impl Collector {
    /// The answer, once `delta` is the stream's `Done`.
    pub(crate) fn push(&mut self, delta: Delta) -> Option<Answer> {
        match delta {
            Delta::Text(t) => {
                self.text.push_str(&t);
                None
            }
            Delta::ToolCall(call) => {
                self.tool_calls.push(call);
                None
            }
            Delta::Done { finish, usage } => Some(Answer {
                text: std::mem::take(&mut self.text),
                tool_calls: std::mem::take(&mut self.tool_calls),
                finish,
                usage,
            }),
        }
    }

    /// The error for a stream that ended before its `Done`.
    pub(crate) fn cut() -> AiError {
        AiError::StreamCut { reason: "the stream ended without a result".into() }
    }
}

/// The answer being read. Dropping it closes the upstream connection: that is how a stop or a
/// closed WebSocket cancels the request.
pub struct ChatStream {
    response: Option<reqwest::Response>,
    url: String,
    decoder: SseDecoder,
    parser: EventParser,
    events: Vec<SseEvent>,
    queue: VecDeque<Delta>,
    first_byte: Duration,
    idle: Duration,
    got_bytes: bool,
    finished: bool,
}

/// The stream moves into the task that forwards it to a WebSocket.
const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<ChatStream>();
};

impl std::fmt::Debug for ChatStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChatStream").field("url", &self.url).field("finished", &self.finished).finish()
    }
}

impl ChatStream {
    pub(crate) fn new(
        response: reqwest::Response,
        url: String,
        parser: EventParser,
        first_byte: Duration,
        idle: Duration,
    ) -> ChatStream {
        ChatStream {
            response: Some(response),
            url,
            decoder: SseDecoder::new(),
            parser,
            events: Vec::new(),
            queue: VecDeque::new(),
            first_byte,
            idle,
            got_bytes: false,
            finished: false,
        }
    }

    /// The URL the request went to (shown to the user with errors and in "Test").
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The next delta; `None` after `Done` or an error.
    pub async fn next(&mut self) -> Option<Result<Delta, AiError>> {
        loop {
            if let Some(delta) = self.queue.pop_front() {
                return Some(Ok(delta));
            }
            if self.finished {
                return None;
            }
            match self.read_more().await {
                Ok(()) => {}
                Err(e) => {
                    self.finish_reading();
                    return Some(Err(e));
                }
            }
        }
    }

    /// Read the whole answer.
    pub async fn collect(mut self) -> Result<Answer, AiError> {
        let mut answer = Collector::default();
        while let Some(delta) = self.next().await {
            if let Some(done) = answer.push(delta?) {
                return Ok(done);
            }
        }
        Err(Collector::cut())
    }

    /// As a `futures` stream, for `select!` and combinators.
    pub fn into_stream(self) -> impl futures_util::Stream<Item = Result<Delta, AiError>> + Send {
        futures_util::stream::unfold(self, |mut s| async move { s.next().await.map(|d| (d, s)) })
    }

    fn finish_reading(&mut self) {
        self.finished = true;
        self.response = None; // closes the connection now, not when the caller drops the stream
    }

    async fn read_more(&mut self) -> Result<(), AiError> {
        let Some(response) = self.response.as_mut() else {
            self.finished = true;
            return Ok(());
        };
        let wait = if self.got_bytes { self.idle } else { self.first_byte };
        let chunk = match tokio::time::timeout(wait, response.chunk()).await {
            Err(_) if self.got_bytes => {
                return Err(AiError::StreamCut {
                    reason: format!("no data for {:.1} s", wait.as_secs_f64()),
                });
            }
            Err(_) => return Err(AiError::Timeout { url: self.url.clone(), after: wait }),
            Ok(Err(e)) => return Err(AiError::StreamCut { reason: crate::client::error_chain(&e) }),
            Ok(Ok(chunk)) => chunk,
        };
        let Some(chunk) = chunk else {
            let done = self.parser.at_end()?;
            self.queue.extend(self.parser.take_tool_calls().into_iter().map(Delta::ToolCall));
            self.queue.push_back(done);
            self.finish_reading();
            return Ok(());
        };
        self.got_bytes = true;
        self.decoder
            .feed(&chunk, &mut self.events)
            .map_err(|_| AiError::bad("an event larger than 8 MiB: not an event stream"))?;
        let mut texts = Vec::new();
        let events = std::mem::take(&mut self.events);
        for event in &events {
            if self.parser.on_event(event, &mut texts)? {
                // The terminal event: stop reading, whatever the server sends after it.
                self.queue.extend(texts.drain(..).filter(|t| !t.is_empty()).map(Delta::Text));
                let done = self.parser.at_end()?;
                self.queue.extend(self.parser.take_tool_calls().into_iter().map(Delta::ToolCall));
                self.queue.push_back(done);
                self.finish_reading();
                return Ok(());
            }
        }
        self.queue.extend(texts.into_iter().filter(|t| !t.is_empty()).map(Delta::Text));
        self.events = events; // keep the buffer for the next chunk
        self.events.clear();
        Ok(())
    }
}
