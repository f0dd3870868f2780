//! Model lists from the providers' own `/models`, so the settings page offers real choices.

use serde_json::Value;

use crate::client::AiClient;
use crate::error::{AiError, ErrorAnswer, from_answer, retry_after};
use crate::formats::{anthropic_headers, bearer, gemini_headers};
use crate::provider::{Endpoint, WireFormat};

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ModelInfo {
    /// What goes in `aiModel` and in the request.
    pub id: String,
    /// A human name, where the provider gives one.
    pub name: Option<String>,
}

/// Pages followed at most (Anthropic `has_more`, Gemini `nextPageToken`).
const MAX_PAGES: usize = 10;

impl AiClient {
    /// The models the endpoint offers, sorted by id.
    pub async fn list_models(&self, endpoint: &Endpoint) -> Result<Vec<ModelInfo>, AiError> {
        let base = &endpoint.base_url;
        let mut models = Vec::new();
        match endpoint.format {
            WireFormat::ChatCompletions | WireFormat::Responses => {
                let page = self.get_list(&format!("{base}/models"), &bearer(endpoint)).await?;
                models = openai_models(&page)?;
            }
            WireFormat::AnthropicMessages => {
                let mut after: Option<String> = None;
                for _ in 0..MAX_PAGES {
                    let mut url = format!("{base}/models?limit=1000");
                    if let Some(id) = &after {
                        url.push_str(&format!("&after_id={id}"));
                    }
                    let page = self.get_list(&url, &anthropic_headers(endpoint)).await?;
                    models.extend(openai_models(&page)?);
                    after = page.get("last_id").and_then(Value::as_str).map(str::to_string);
                    if page.get("has_more").and_then(Value::as_bool) != Some(true) || after.is_none() {
                        break;
                    }
                }
            }
            WireFormat::Gemini => {
                let mut token: Option<String> = None;
                for _ in 0..MAX_PAGES {
                    let mut url = format!("{base}/models?pageSize=1000");
                    if let Some(t) = &token {
                        url.push_str(&format!("&pageToken={t}"));
                    }
                    let page = self.get_list(&url, &gemini_headers(endpoint)).await?;
                    models.extend(gemini_models(&page));
                    token = page.get("nextPageToken").and_then(Value::as_str).map(str::to_string);
                    if token.is_none() {
                        break;
                    }
                }
            }
        }
        models.sort_by(|a, b| a.id.cmp(&b.id));
        models.dedup_by(|a, b| a.id == b.id);
        Ok(models)
    }

    async fn get_list(&self, url: &str, headers: &[(&'static str, String)]) -> Result<Value, AiError> {
        let (status, answer_headers, body) = self.get(url, headers).await?;
        if !(200..300).contains(&status) {
            let retry = retry_after(&answer_headers);
            return Err(
                match from_answer(ErrorAnswer { status, url, model: "", retry_after: retry, body: &body }) {
                    // A 404 on a list is a wrong base URL, not a wrong model.
                    AiError::UnknownModel { status, message, .. } => {
                        AiError::Upstream { status, message: format!("no model list at {url}: {message}") }
                    }
                    other => other,
                },
            );
        }
        serde_json::from_str(&body)
            .map_err(|_| AiError::bad(format!("{url} did not answer a JSON model list")))
    }
}

/// `{"data": [{"id": ...}]}`: OpenAI, xAI, OpenRouter, Ollama, LM Studio, vLLM, and Anthropic
/// (which adds `display_name`).
pub(crate) fn openai_models(page: &Value) -> Result<Vec<ModelInfo>, AiError> {
    let data =
        page.get("data").and_then(Value::as_array).ok_or_else(|| AiError::bad("no `data` list of models"))?;
    Ok(data
        .iter()
        .filter_map(|m| {
            let id = m.get("id").and_then(Value::as_str)?.to_string();
            let name =
                m.get("display_name").or_else(|| m.get("name")).and_then(Value::as_str).map(str::to_string);
            Some(ModelInfo { id, name })
        })
        .collect())
}

/// `{"models": [{"name": "models/…", "supportedGenerationMethods": [...]}]}`: only models that
/// generate content, with the `models/` prefix dropped.
fn gemini_models(page: &Value) -> Vec<ModelInfo> {
    let models = page.get("models").and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default();
    models
        .iter()
        .filter(|m| {
            let methods = m.get("supportedGenerationMethods").and_then(Value::as_array);
            methods.is_none_or(|list| list.iter().any(|x| x.as_str() == Some("generateContent")))
        })
        .filter_map(|m| {
            let name = m.get("name").and_then(Value::as_str)?;
            let id = name.strip_prefix("models/").unwrap_or(name).to_string();
            Some(ModelInfo { id, name: m.get("displayName").and_then(Value::as_str).map(str::to_string) })
        })
        .collect()
}
