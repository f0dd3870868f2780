//! LLM providers for Quire: streaming chat over the four wire formats the providers speak, custom
//! base-URL resolution and model lists. No HTTP framework and no wire shapes of Quire's own API here;
//! `server` turns [`AiError::code`] into its error catalogue.
//!
//! # Why a thin reqwest + SSE client and not `genai` 0.7 or `async-openai` 0.43
//! - **Nothing new in the tree.** reqwest 0.13 (rustls, ring, default features off) is already locked for
//!   `server`; this crate adds no crate to `Cargo.lock`. `genai` 0.7.2 locks ~250 crates and checks
//!   in 66 s here; `async-openai` 0.43 speaks only OpenAI-shaped APIs, so Anthropic and Gemini would
//!   still need hand-written clients beside it.
//! - **The parts that matter are ours anyway.** Issue 16 asks for errors mapped from status, body and
//!   `Retry-After` to stable codes, a custom base URL probed with and without `/v1`, a first-byte
//!   timeout, cut-stream detection and cancellation by dropping the stream. Each crate would have to
//!   be bent to give these; four small formats over one SSE decoder give them directly.
//! - **The wire formats are small and stable**: one request body and one event mapping each
//!   (`formats/*`), all feeding one [`Delta`] stream.
//!
//! # Shape
//! [`AiClient::chat`] sends one request to an [`Endpoint`] and returns a [`ChatStream`] of
//! [`Delta`]s: text chunks, then exactly one [`Delta::Done`] with the finish reason and token usage, or
//! an [`AiError`]. Dropping the stream drops the upstream connection. [`AiClient::resolve_base`]
//! normalises a custom base URL; [`AiClient::list_models`] reads `/models`; [`AiClient::check`] is
//! Settings' "Test".
//!
//! Every call from the server goes through [`Reliable::chat`]: a concurrency limit, a circuit
//! breaker per provider, retries with backoff before the first delta, and usage metrics, around the
//! same stream ([`GuardedStream`]); see the `reliable` module.
//!
//! With the `mock` feature, [`mock::MockLlm`] is a scripted provider on `127.0.0.1:0` for tests.
#![forbid(unsafe_code)]

mod base_url;
mod check;
mod client;
mod error;
mod formats;
mod models;
mod provider;
mod reliable;
mod sse;
mod stream;
mod tools;

#[cfg(feature = "mock")]
pub mod mock;

pub use base_url::{Attempt, Resolved, candidates};
pub use check::Check;
pub use client::{AiClient, Timeouts};
pub use error::AiError;
pub use models::ModelInfo;
pub use provider::{ApiKey, Endpoint, Provider, WireFormat};
pub use reliable::{BreakerStatus, GuardedStream, Policy, Reliable, UsageRow};
pub use sse::{SseDecoder, SseEvent};
pub use stream::{Answer, ChatMessage, ChatRequest, ChatStream, Delta, FinishReason, Role, Usage};
pub use tools::{ToolCall, ToolOutput, ToolSpec};
