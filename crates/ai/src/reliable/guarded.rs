//! The answer of a call admitted by [`Reliable`]: the upstream stream, the slot it holds and the
//! accounting of how the call ends (usage, first-token time, the breaker's outcome).

use std::time::{Duration, Instant};

use tokio::sync::OwnedSemaphorePermit;

use super::Reliable;
use super::breaker::{Admit, Key};
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::stream::{Answer, ChatRequest, ChatStream, Collector, Delta, Usage};

/// What a retry before the first delta needs to send the request again.
pub(crate) struct Resend {
    pub endpoint: Endpoint,
    pub request: ChatRequest,
    pub retries: u32,
}

/// A streaming answer holding its request slot. Dropping it drops the upstream connection and frees
/// the slot at once: that is how a stop or a closed WebSocket cancels the request.
pub struct GuardedStream {
    // Declared first so the connection closes before the slot frees.
    stream: ChatStream,
    /// Until the first delta: a stream that fails before any text is sent again.
    resend: Option<Box<Resend>>,
    call: Call,
    ended: bool,
}

const _: () = {
    const fn is_send<T: Send>() {}
    is_send::<GuardedStream>();
};

impl std::fmt::Debug for GuardedStream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GuardedStream")
            .field("url", &self.stream.url())
            .field("first_token", &self.call.first_token)
            .field("ended", &self.ended)
            .finish()
    }
}

impl GuardedStream {
    pub(crate) fn new(stream: ChatStream, resend: Option<Box<Resend>>, call: Call) -> GuardedStream {
        GuardedStream { stream, resend, call, ended: false }
    }

    pub fn url(&self) -> &str {
        self.stream.url()
    }

    /// From the start of [`Reliable::chat`] (queueing and retries included) to the first text.
    pub fn first_token(&self) -> Option<Duration> {
        self.call.first_token
    }

    /// The next delta; `None` after `Done` or an error.
    pub async fn next(&mut self) -> Option<Result<Delta, AiError>> {
        if self.ended {
            return None;
        }
        loop {
            let result = match self.stream.next().await {
                Some(result) => result,
                None => {
                    // A ChatStream always ends in Done or an error; this is only after those.
                    self.ended = true;
                    return None;
                }
            };
            match result {
                Ok(delta) => {
                    self.resend = None;
                    match &delta {
                        // A tool call is output too: from here a retry would repeat what the user saw.
                        Delta::Text(_) | Delta::ToolCall(_) => self.call.text(),
                        Delta::Done { usage, .. } => {
                            self.call.done(usage);
                            self.ended = true;
                        }
                    }
                    return Some(Ok(delta));
                }
                Err(e) => match self.resend.take() {
                    Some(mut resend) => {
                        let reliable = self.call.reliable.clone();
                        let again = if reliable.pause(&e, &mut resend.retries, &self.call).await {
                            let Resend { endpoint, request, retries } = &mut *resend;
                            reliable.send(endpoint, request, retries, &self.call).await
                        } else {
                            Err(e)
                        };
                        match again {
                            Ok(stream) => {
                                self.stream = stream;
                                self.resend = Some(resend);
                            }
                            Err(e) => return Some(Err(self.fail(e))),
                        }
                    }
                    None => return Some(Err(self.fail(e))),
                },
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

    fn fail(&mut self, e: AiError) -> AiError {
        self.resend = None;
        self.ended = true;
        self.call.failed(&e);
        e
    }
}

/// One admitted call's accounting. Its drop before an outcome is a stop: counted as `ai_stopped`,
/// and a probe's claim on a half-open breaker is given back.
pub(crate) struct Call {
    pub(crate) reliable: Reliable,
    key: Key,
    model: String,
    started: Instant,
    first_token: Option<Duration>,
    admit: Admit,
    settled: bool,
    _permit: OwnedSemaphorePermit,
}

impl Call {
    pub(crate) fn new(
        reliable: Reliable,
        key: Key,
        model: String,
        started: Instant,
        admit: Admit,
        permit: OwnedSemaphorePermit,
    ) -> Call {
        Call { reliable, key, model, started, first_token: None, admit, settled: false, _permit: permit }
    }

    pub(crate) fn key(&self) -> &Key {
        &self.key
    }

    pub(crate) fn is_probe(&self) -> bool {
        matches!(self.admit, Admit::Probe(_))
    }

    fn text(&mut self) {
        if self.first_token.is_some() {
            return;
        }
        let after = self.started.elapsed();
        self.first_token = Some(after);
        self.reliable.usage_ref().first_token(self.key.0, &self.model, after);
        // The provider is answering: a probe has done its job.
        self.reliable.breakers_ref().answered(&self.key, self.admit);
        self.admit = Admit::Normal;
    }

    fn done(&mut self, usage: &Usage) {
        self.settled = true;
        let table = self.reliable.usage_ref();
        table.tokens(
            self.key.0,
            &self.model,
            usage.input_tokens.unwrap_or(0),
            usage.output_tokens.unwrap_or(0),
        );
        table.request(self.key.0, &self.model, "ok");
        self.reliable.breakers_ref().success(&self.key);
    }

    pub(crate) fn failed(&mut self, e: &AiError) {
        self.settled = true;
        self.reliable.usage_ref().request(self.key.0, &self.model, e.code());
        let breakers = self.reliable.breakers_ref();
        if unhealthy(e) {
            breakers.failure(&self.key, self.admit);
        } else {
            breakers.answered(&self.key, self.admit);
        }
    }
}

impl Drop for Call {
    fn drop(&mut self) {
        if !self.settled {
            self.reliable.usage_ref().request(self.key.0, &self.model, "ai_stopped");
            self.reliable.breakers_ref().release(&self.key, self.admit);
        }
    }
}

/// Errors that say the provider is unwell, as opposed to the request (key, model, context) or the
/// settings being wrong.
fn unhealthy(e: &AiError) -> bool {
    e.is_transient() || matches!(e, AiError::StreamCut { .. })
}
