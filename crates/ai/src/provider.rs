//! Which provider, which wire format and which base URL a request goes to, and the key it carries.

use std::fmt;

/// The providers of Srcbook's settings page (`aiProvider`), plus the format each speaks by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Provider {
    OpenAi,
    Anthropic,
    Gemini,
    Xai,
    OpenRouter,
    /// Any OpenAI-compatible server: Ollama, LM Studio, vLLM, llama.cpp server.
    Custom,
}

impl Provider {
    pub const ALL: [Provider; 6] = [
        Provider::OpenAi,
        Provider::Anthropic,
        Provider::Gemini,
        Provider::Xai,
        Provider::OpenRouter,
        Provider::Custom,
    ];

    /// Parse Srcbook's `aiProvider` value. Srcbook spells two of them capitalised (`Xai`, `Gemini`);
    /// any case is accepted.
    pub fn from_setting(value: &str) -> Option<Provider> {
        Provider::ALL.into_iter().find(|p| p.setting().eq_ignore_ascii_case(value.trim()))
    }

    /// The value Srcbook's client stores in `aiProvider`.
    pub fn setting(self) -> &'static str {
        match self {
            Provider::OpenAi => "openai",
            Provider::Anthropic => "anthropic",
            Provider::Gemini => "Gemini",
            Provider::Xai => "Xai",
            Provider::OpenRouter => "openrouter",
            Provider::Custom => "custom",
        }
    }

    /// Srcbook's settings key holding this provider's API key.
    pub fn key_setting(self) -> &'static str {
        match self {
            Provider::OpenAi => "openaiKey",
            Provider::Anthropic => "anthropicKey",
            Provider::Gemini => "geminiKey",
            Provider::Xai => "xaiKey",
            Provider::OpenRouter => "openrouterKey",
            Provider::Custom => "customApiKey",
        }
    }

    /// The public API base; `None` for custom, whose base the user gives (see `resolve_base`).
    pub fn default_base(self) -> Option<&'static str> {
        match self {
            Provider::OpenAi => Some("https://api.openai.com/v1"),
            Provider::Anthropic => Some("https://api.anthropic.com/v1"),
            Provider::Gemini => Some("https://generativelanguage.googleapis.com/v1beta"),
            Provider::Xai => Some("https://api.x.ai/v1"),
            Provider::OpenRouter => Some("https://openrouter.ai/api/v1"),
            Provider::Custom => None,
        }
    }

    /// Chat Completions for every OpenAI-compatible base: local servers serve it everywhere, while
    /// `/responses` only exists on newer ones (Ollama >= 0.13.3).
    pub fn default_format(self) -> WireFormat {
        match self {
            Provider::Anthropic => WireFormat::AnthropicMessages,
            Provider::Gemini => WireFormat::Gemini,
            Provider::OpenAi | Provider::Xai | Provider::OpenRouter | Provider::Custom => {
                WireFormat::ChatCompletions
            }
        }
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.setting())
    }
}

/// The four request/stream shapes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum WireFormat {
    /// `POST {base}/chat/completions`, SSE chunks ending with `data: [DONE]`.
    ChatCompletions,
    /// `POST {base}/responses`, typed SSE events ending with `response.completed`, no `[DONE]`.
    Responses,
    /// `POST {base}/messages` with `x-api-key` and `anthropic-version`, ending with `message_stop`.
    AnthropicMessages,
    /// `POST {base}/models/{model}:streamGenerateContent?alt=sse` with `x-goog-api-key`.
    Gemini,
}

/// An API key. Its `Debug` and `Display` never show it, so it cannot leak through a log line.
#[derive(Clone, PartialEq, Eq)]
pub struct ApiKey(String);

impl ApiKey {
    pub fn new(key: impl Into<String>) -> ApiKey {
        ApiKey(key.into())
    }

    /// The key itself, for the one header that carries it.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ApiKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ApiKey(<redacted>)")
    }
}

/// Where one chat request goes: provider, format, base URL (no trailing `/`), key.
#[derive(Debug, Clone)]
pub struct Endpoint {
    pub provider: Provider,
    pub format: WireFormat,
    pub base_url: String,
    pub api_key: Option<ApiKey>,
}

impl Endpoint {
    /// A provider at its public base with its default format. Custom has no public base: use
    /// [`Endpoint::custom`] with the URL `resolve_base` returned.
    pub fn public(provider: Provider, api_key: Option<ApiKey>) -> Option<Endpoint> {
        let base = provider.default_base()?;
        Some(Endpoint { provider, format: provider.default_format(), base_url: base.to_string(), api_key })
    }

    /// An OpenAI-compatible server at `base_url`.
    pub fn custom(base_url: &str, api_key: Option<ApiKey>) -> Endpoint {
        Endpoint {
            provider: Provider::Custom,
            format: WireFormat::ChatCompletions,
            base_url: base_url.trim_end_matches('/').to_string(),
            api_key,
        }
    }

    /// From Srcbook's settings: `aiProvider`, that provider's key, `aiBaseUrl`. A base URL overrides
    /// the public one (a proxy); custom needs one, already resolved by `resolve_base`.
    pub fn from_settings(
        provider: Provider,
        api_key: Option<ApiKey>,
        base_url: Option<&str>,
    ) -> Result<Endpoint, crate::AiError> {
        let api_key = api_key.filter(|k| !k.expose().trim().is_empty());
        let base = base_url.map(str::trim).filter(|b| !b.is_empty());
        match (provider, base) {
            (Provider::Custom, None) => Err(crate::AiError::Config {
                reason: "the custom provider needs a base URL (aiBaseUrl)".into(),
            }),
            (Provider::Custom, Some(base)) => Ok(Endpoint::custom(base, api_key)),
            (_, None) if api_key.is_none() => Err(crate::AiError::Config {
                reason: format!("no API key for {provider} ({})", provider.key_setting()),
            }),
            (_, base) => {
                let endpoint =
                    Endpoint::public(provider, api_key).expect("every provider but custom has a base");
                Ok(match base {
                    Some(base) => endpoint.at(base),
                    None => endpoint,
                })
            }
        }
    }

    /// The same provider at another base (a proxy, or the mock in tests).
    pub fn at(mut self, base_url: &str) -> Endpoint {
        self.base_url = base_url.trim_end_matches('/').to_string();
        self
    }

    pub fn with_format(mut self, format: WireFormat) -> Endpoint {
        self.format = format;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn srcbook_provider_values_round_trip_in_any_case() {
        for p in Provider::ALL {
            assert_eq!(Provider::from_setting(p.setting()), Some(p));
            assert_eq!(Provider::from_setting(&p.setting().to_uppercase()), Some(p));
        }
        assert_eq!(Provider::from_setting("xai"), Some(Provider::Xai));
        assert_eq!(Provider::from_setting("ollama"), None);
    }

    #[test]
    fn settings_make_an_endpoint_or_say_what_is_missing() {
        let key = || Some(ApiKey::new("k"));
        let e = Endpoint::from_settings(Provider::Anthropic, key(), None).unwrap();
        assert_eq!(
            (e.base_url.as_str(), e.format),
            ("https://api.anthropic.com/v1", WireFormat::AnthropicMessages)
        );
        let e = Endpoint::from_settings(Provider::OpenRouter, key(), Some(" http://proxy/v1/ ")).unwrap();
        assert_eq!(e.base_url, "http://proxy/v1");
        let e = Endpoint::from_settings(Provider::Custom, None, Some("http://h:11434/v1")).unwrap();
        assert_eq!((e.base_url.as_str(), e.format), ("http://h:11434/v1", WireFormat::ChatCompletions));
        assert_eq!(
            Endpoint::from_settings(Provider::Custom, key(), Some("")).unwrap_err().code(),
            "ai_config"
        );
        let missing = Endpoint::from_settings(Provider::Gemini, Some(ApiKey::new(" ")), None).unwrap_err();
        assert!(missing.to_string().contains("geminiKey"), "{missing}");
    }

    #[test]
    fn a_key_never_shows_in_debug() {
        let endpoint = Endpoint::public(Provider::OpenAi, Some(ApiKey::new("sk-secret"))).unwrap();
        assert!(!format!("{endpoint:?}").contains("sk-secret"));
    }
}
