//! quire-ai against the mock provider, as a user session would go: pick a provider, point it at a
//! base, stream an answer; and every way that can fail, by its stable code.

mod base_url;
mod breaker;
mod errors;
mod formats;
mod reliable;
mod splitting;
mod tools;
mod usage_metrics;

use std::time::Duration;

use quire_ai::mock::{MockLlm, MockOptions};
use quire_ai::{AiClient, ApiKey, Endpoint, Provider, Timeouts, WireFormat};

/// Timeouts roomy enough for a loaded 2-core CI machine; tests of timeouts use [`impatient`].
fn client() -> AiClient {
    AiClient::new(Timeouts {
        connect: Duration::from_secs(5),
        first_byte: Duration::from_secs(10),
        idle: Duration::from_secs(10),
    })
    .unwrap()
}

/// A client that gives up after `first_byte` before the first byte and `idle` between chunks.
fn impatient(first_byte: Duration, idle: Duration) -> AiClient {
    AiClient::new(Timeouts { connect: Duration::from_secs(5), first_byte, idle }).unwrap()
}

async fn mock() -> MockLlm {
    MockLlm::start(MockOptions::default()).await
}

/// The provider that speaks `format` by default, pointed at the mock.
fn endpoint(mock: &MockLlm, format: WireFormat, key: &str) -> Endpoint {
    let provider = match format {
        WireFormat::AnthropicMessages => Provider::Anthropic,
        WireFormat::Gemini => Provider::Gemini,
        WireFormat::ChatCompletions | WireFormat::Responses => Provider::OpenAi,
    };
    Endpoint::public(provider, Some(ApiKey::new(key))).unwrap().at(&mock.base()).with_format(format)
}

const FORMATS: [WireFormat; 4] =
    [WireFormat::ChatCompletions, WireFormat::Responses, WireFormat::AnthropicMessages, WireFormat::Gemini];
