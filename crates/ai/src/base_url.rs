//! A custom provider's base URL as the user typed it (`http://host:11434`) resolved to the one that
//! serves the OpenAI API (`http://host:11434/v1`) by probing `GET …/models`: Srcbook used the URL
//! verbatim and local servers answered 404 (srcbook #488).

use crate::client::AiClient;
use crate::error::{AiError, body_message};
use crate::formats::bearer;
use crate::models::{ModelInfo, openai_models};
use crate::provider::{ApiKey, Endpoint};

/// One probe: the URL and what answered it, for the failure message.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct Attempt {
    pub url: String,
    pub answer: String,
}

/// A base that answered with a model list.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    /// To store as the effective base and show in Settings.
    pub base_url: String,
    pub models: Vec<ModelInfo>,
    /// Probes before the one that worked (empty when the given base was right).
    pub tried: Vec<Attempt>,
}

/// The bases to probe, in order: the given one (a pasted `/chat/completions`, `/responses` or
/// `/models` endpoint cut back to its base), then with `/v1` appended.
pub fn candidates(base: &str) -> Result<Vec<String>, AiError> {
    let mut base = base.trim().trim_end_matches('/');
    for suffix in ["/chat/completions", "/responses", "/models"] {
        base = base.strip_suffix(suffix).unwrap_or(base).trim_end_matches('/');
    }
    let parsed = reqwest::Url::parse(base)
        .map_err(|e| AiError::Config { reason: format!("base URL {base:?}: {e}") })?;
    if !matches!(parsed.scheme(), "http" | "https") || parsed.host_str().is_none() {
        return Err(AiError::Config {
            reason: format!("base URL {base:?}: must be http:// or https:// with a host"),
        });
    }
    let mut list = vec![base.to_string()];
    if !base.ends_with("/v1") {
        list.push(format!("{base}/v1"));
    }
    Ok(list)
}

impl AiClient {
    /// Find the base under which an OpenAI-compatible server answers `GET /models`. A 401/403
    /// stops the search: the server is there and the key is wrong.
    pub async fn resolve_base(&self, base: &str, api_key: Option<&ApiKey>) -> Result<Resolved, AiError> {
        let mut tried = Vec::new();
        for candidate in candidates(base)? {
            let endpoint = Endpoint::custom(&candidate, api_key.cloned());
            let url = format!("{candidate}/models");
            let answer = match self.get(&url, &bearer(&endpoint)).await {
                Err(AiError::Unreachable { reason, .. }) => format!("nothing ({reason})"),
                Err(AiError::Timeout { after, .. }) => format!("nothing within {:.1} s", after.as_secs_f64()),
                Err(other) => other.to_string(),
                Ok((status @ (401 | 403), _, body)) => {
                    return Err(AiError::InvalidKey { status, url, message: body_message(&body) });
                }
                Ok((status, _, body)) if (200..300).contains(&status) => {
                    let list = serde_json::from_str(&body).ok().and_then(|v| openai_models(&v).ok());
                    match list {
                        Some(mut models) => {
                            models.sort_by(|a, b| a.id.cmp(&b.id));
                            return Ok(Resolved { base_url: candidate, models, tried });
                        }
                        None => format!("{status} but not a model list: {}", body_message(&body)),
                    }
                }
                Ok((status, _, body)) => format!("{status}: {}", body_message(&body)),
            };
            tried.push(Attempt { url, answer });
        }
        Err(AiError::BaseUrlUnresolved { tried })
    }
}

#[cfg(test)]
mod tests {
    use super::candidates;

    #[test]
    fn candidates_are_the_base_then_with_v1() {
        assert_eq!(candidates("http://h:11434").unwrap(), ["http://h:11434", "http://h:11434/v1"]);
        assert_eq!(candidates(" http://h:11434/ ").unwrap(), ["http://h:11434", "http://h:11434/v1"]);
        assert_eq!(candidates("http://h:1234/v1/").unwrap(), ["http://h:1234/v1"]);
        assert_eq!(candidates("http://h/v1/chat/completions").unwrap(), ["http://h/v1"]);
        assert_eq!(candidates("https://h/api/models").unwrap(), ["https://h/api", "https://h/api/v1"]);
        assert_eq!(candidates("localhost:11434").unwrap_err().code(), "ai_config");
        assert_eq!(candidates("ftp://h").unwrap_err().code(), "ai_config");
    }
}
