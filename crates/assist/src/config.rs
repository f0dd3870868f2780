//! The AI settings (Srcbook's keys) turned into an endpoint and a model. A custom base URL is
//! resolved once (`http://host:11434` → `http://host:11434/v1`) and the answer kept in the settings,
//! keyed by the URL it was resolved from, so a changed `aiBaseUrl` is probed again.

use crate::AssistError;
use quire_ai::{AiClient, ApiKey, Endpoint, Provider, WireFormat};
use quire_notebook::Database;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// Read-only settings Quire keeps beside Srcbook's.
pub const RESOLVED_SETTING: &str = "aiBaseUrlResolved";
const RESOLVED_FROM_SETTING: &str = "aiBaseUrlResolvedFrom";
/// Quire's setting for OpenAI-compatible providers: `chat_completions` (the default: every local
/// server has it) or `responses`.
pub const WIRE_FORMAT_SETTING: &str = "aiWireFormat";
pub const WIRE_FORMATS: &[&str] = &["chat_completions", "responses"];

/// A model each provider certainly has, for a user who did not choose one.
pub fn default_model(provider: Provider) -> &'static str {
    match provider {
        Provider::OpenAi => "gpt-4o-mini",
        Provider::Anthropic => "claude-3-5-haiku-latest",
        Provider::Gemini => "gemini-2.0-flash",
        Provider::Xai => "grok-2-latest",
        Provider::OpenRouter => "openai/gpt-4o-mini",
        Provider::Custom => "llama3.1",
    }
}

/// Where AI requests go, from the settings now.
#[derive(Debug, Clone)]
pub struct AiTarget {
    pub endpoint: Endpoint,
    pub model: String,
}

fn text<'a>(settings: &'a BTreeMap<String, Value>, key: &str) -> Option<&'a str> {
    settings.get(key).and_then(Value::as_str).map(str::trim).filter(|s| !s.is_empty())
}

/// The settings' endpoint and model; a custom base is resolved (and the result stored) first.
pub async fn target(client: &AiClient, db: &dyn Database) -> Result<AiTarget, AssistError> {
    let settings = db.settings().map_err(|e| AssistError::Internal(e.to_string()))?;
    let provider = match text(&settings, "aiProvider") {
        None => Provider::OpenAi,
        Some(p) => Provider::from_setting(p)
            .ok_or_else(|| AssistError::NotConfigured(format!("unknown AI provider {p:?} (aiProvider)")))?,
    };
    let key = text(&settings, provider.key_setting()).map(ApiKey::new);
    let base = text(&settings, "aiBaseUrl");
    if provider != Provider::Custom && key.is_none() && base.is_none() {
        return Err(AssistError::NotConfigured(format!(
            "AI is not set up: add an API key for {provider} ({}) in Settings",
            provider.key_setting()
        )));
    }
    if provider == Provider::Custom && base.is_none() {
        return Err(AssistError::NotConfigured(
            "AI is not set up: the custom provider needs a base URL (aiBaseUrl) in Settings".into(),
        ));
    }
    let model = text(&settings, "aiModel").unwrap_or(default_model(provider)).to_string();
    let base = match (provider, base) {
        (Provider::Custom, Some(given)) => {
            let cached = (text(&settings, RESOLVED_FROM_SETTING) == Some(given))
                .then(|| text(&settings, RESOLVED_SETTING))
                .flatten();
            match cached {
                Some(resolved) => Some(resolved.to_string()),
                None => Some(resolve_and_store(client, db, given, key.clone()).await?),
            }
        }
        (_, base) => base.map(str::to_string),
    };
    let mut endpoint = Endpoint::from_settings(provider, key, base.as_deref())?;
    if endpoint.format == WireFormat::ChatCompletions
        && text(&settings, WIRE_FORMAT_SETTING) == Some("responses")
    {
        endpoint = endpoint.with_format(WireFormat::Responses);
    }
    Ok(AiTarget { endpoint, model })
}

/// Probe a custom base (as typed, then with `/v1`) and remember the one that answered.
pub async fn resolve_and_store(
    client: &AiClient,
    db: &dyn Database,
    given: &str,
    key: Option<ApiKey>,
) -> Result<String, AssistError> {
    let resolved = client.resolve_base(given, key.as_ref()).await?;
    let patch = BTreeMap::from([
        (RESOLVED_SETTING.to_string(), json!(resolved.base_url)),
        (RESOLVED_FROM_SETTING.to_string(), json!(given)),
    ]);
    db.update_settings(&patch).map_err(|e| AssistError::Internal(e.to_string()))?;
    Ok(resolved.base_url)
}
