//! Settings' "Test": one tiny request to the configured model, answering "works: model X at URL Y"
//! or the error that says what is wrong.

use std::fmt;
use std::time::{Duration, Instant};

use crate::client::AiClient;
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::stream::{ChatRequest, Delta};

/// A model that answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Check {
    pub model: String,
    /// The URL the request went to.
    pub url: String,
    /// From sending the request to the first text.
    pub first_token: Duration,
    /// The start of the answer, to show that it is a model talking.
    pub sample: String,
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "works: model {} at {} (first token after {} ms)",
            self.model,
            self.url,
            self.first_token.as_millis()
        )
    }
}

impl AiClient {
    /// Ask `model` for a one-word answer and read it to the end.
    pub async fn check(&self, endpoint: &Endpoint, model: &str) -> Result<Check, AiError> {
        let mut request = ChatRequest::new(model, "Reply with the single word: ok");
        request.max_tokens = Some(16);
        let started = Instant::now();
        let mut stream = self.chat(endpoint, &request).await?;
        let url = stream.url().to_string();
        let mut first_token = None;
        let mut sample = String::new();
        while let Some(delta) = stream.next().await {
            match delta? {
                Delta::Text(text) => {
                    first_token.get_or_insert_with(|| started.elapsed());
                    if sample.chars().count() < 80 {
                        sample.push_str(&text);
                    }
                }
                Delta::ToolCall(_) => {}
                Delta::Done { .. } => break,
            }
        }
        let first_token = first_token.unwrap_or_else(|| started.elapsed());
        Ok(Check { model: model.to_string(), url, first_token, sample: sample.chars().take(80).collect() })
    }
}
