//! What can go wrong talking to a provider, each with a stable code for the server's catalogue, and
//! the mapping from an HTTP error answer (status, body, `Retry-After`) to it.

use std::time::{Duration, SystemTime};

use crate::base_url::Attempt;

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum AiError {
    /// 401/403, or Gemini's 400 `API_KEY_INVALID`.
    #[error("the provider refused the API key ({status} from {url}): {message}")]
    InvalidKey { status: u16, url: String, message: String },
    #[error("model {model:?} not found ({status} from {url}): {message}")]
    UnknownModel { model: String, status: u16, url: String, message: String },
    #[error("rate limited by the provider{}: {message}", wait_text(*.retry_after))]
    RateLimited { retry_after: Option<Duration>, message: String },
    #[error("the prompt is longer than the model's context: {message}")]
    ContextTooLong { message: String },
    /// No HTTP answer at all: DNS, connection refused, TLS.
    #[error("provider unreachable at {url}: {reason}")]
    Unreachable { url: String, reason: String },
    /// Connected, but no byte (or no next byte) came within the time allowed.
    #[error("no answer from {url} within {:.1} s", .after.as_secs_f64())]
    Timeout { url: String, after: Duration },
    /// The answer stopped before the provider said it was complete.
    #[error("the provider's answer stopped in the middle: {reason}")]
    StreamCut { reason: String },
    /// Any other error answer (5xx, an unexpected 4xx, an error event inside the stream).
    #[error("the provider answered {status}: {message}")]
    Upstream { status: u16, message: String },
    /// The answer is not the wire format it should be.
    #[error("unexpected answer from the provider: {reason}")]
    BadResponse { reason: String },
    #[error("AI settings: {reason}")]
    Config { reason: String },
    /// No OpenAI-compatible server at the custom base URL: every URL tried, and what answered.
    #[error("no OpenAI-compatible server found: {}", tried_text(.tried))]
    BaseUrlUnresolved { tried: Vec<Attempt> },
    /// The provider's circuit breaker is open after `failures` failures in a row: no request is
    /// sent until `retry_in` has passed (then one probe goes through).
    #[error(
        "{provider} is paused: it failed {failures} times in a row; it will be tried again in {} s",
        secs_up(*.retry_in)
    )]
    BreakerOpen { provider: String, failures: u32, retry_in: Duration },
    /// Every request slot stayed taken for `waited`.
    #[error("too many AI requests at once: no slot came free within {:.1} s; try again shortly", .waited.as_secs_f64())]
    Busy { waited: Duration },
    /// The caller stopped the request (the user pressed stop, or the WebSocket closed).
    #[error("the request was stopped")]
    Stopped,
}

/// Whole seconds, rounded up, at least 1: "tried again in 0 s" would be wrong.
fn secs_up(d: Duration) -> u64 {
    d.as_millis().div_ceil(1000).max(1) as u64
}

fn wait_text(retry_after: Option<Duration>) -> String {
    retry_after.map(|d| format!(" (retry in {} s)", d.as_secs().max(1))).unwrap_or_default()
}

fn tried_text(tried: &[Attempt]) -> String {
    tried.iter().map(|a| format!("GET {} answered {}", a.url, a.answer)).collect::<Vec<_>>().join("; ")
}

impl AiError {
    /// The stable code the server puts in its error body; clients branch on it.
    pub fn code(&self) -> &'static str {
        match self {
            AiError::InvalidKey { .. } => "ai_invalid_key",
            AiError::UnknownModel { .. } => "ai_unknown_model",
            AiError::RateLimited { .. } => "ai_rate_limited",
            AiError::ContextTooLong { .. } => "ai_context_too_long",
            AiError::Unreachable { .. } => "ai_unreachable",
            AiError::Timeout { .. } => "ai_timeout",
            AiError::StreamCut { .. } => "ai_stream_cut",
            AiError::Upstream { .. } => "ai_upstream_error",
            AiError::BadResponse { .. } => "ai_bad_response",
            AiError::Config { .. } => "ai_config",
            AiError::BaseUrlUnresolved { .. } => "ai_base_url_unresolved",
            AiError::BreakerOpen { .. } => "ai_breaker_open",
            AiError::Busy { .. } => "ai_busy",
            AiError::Stopped => "ai_stopped",
        }
    }

    /// Worth retrying the same request later (the reliability layer decides how and when). The
    /// reliability layer's own refusals (breaker open, busy) are not: retrying them at once only
    /// adds load.
    pub fn is_transient(&self) -> bool {
        match self {
            AiError::RateLimited { .. } | AiError::Unreachable { .. } | AiError::Timeout { .. } => true,
            AiError::Upstream { status, .. } => *status >= 500,
            _ => false,
        }
    }

    pub(crate) fn bad(reason: impl Into<String>) -> AiError {
        AiError::BadResponse { reason: reason.into() }
    }
}

/// An error answer as it came: enough to classify it.
pub(crate) struct ErrorAnswer<'a> {
    pub status: u16,
    pub url: &'a str,
    pub model: &'a str,
    pub retry_after: Option<Duration>,
    pub body: &'a str,
}

/// Map a non-2xx answer to an error. The body's own message is kept (cut short), since it is what
/// tells a user which key or which model; the kind comes from the status, then from the body.
pub(crate) fn from_answer(a: ErrorAnswer<'_>) -> AiError {
    let message = body_message(a.body);
    let lower = a.body.to_ascii_lowercase();
    let (status, url) = (a.status, a.url.to_string());
    if status == 401
        || status == 403
        || lower.contains("api_key_invalid")
        || lower.contains("api key not valid")
    {
        return AiError::InvalidKey { status, url, message };
    }
    if status == 413 || (status == 400 && mentions_context(&lower)) {
        return AiError::ContextTooLong { message };
    }
    match status {
        404 => {
            // A plain-text 404 ("404 page not found") is the server's router, not its model lookup.
            let hint = if serde_json::from_str::<serde_json::Value>(a.body).is_err() {
                " (no API at this URL: check the base URL; local servers serve it under /v1)"
            } else {
                ""
            };
            AiError::UnknownModel {
                model: a.model.to_string(),
                status,
                url,
                message: format!("{message}{hint}"),
            }
        }
        429 => AiError::RateLimited { retry_after: a.retry_after, message },
        _ => AiError::Upstream { status, message },
    }
}

/// The phrases providers use for a prompt over the context window (OpenAI `context_length_exceeded`,
/// Anthropic "prompt is too long", Gemini "input token count ... exceeds", llama.cpp/vLLM wording).
pub(crate) fn mentions_context(lower: &str) -> bool {
    [
        "context_length_exceeded",
        "context length",
        "context window",
        "prompt is too long",
        "exceeds the maximum",
    ]
    .iter()
    .any(|p| lower.contains(p))
}

/// `error.message` from the providers' JSON error bodies, else the body itself, cut to 300 chars.
pub(crate) fn body_message(body: &str) -> String {
    let json: Option<serde_json::Value> = serde_json::from_str(body).ok();
    let picked = json.as_ref().and_then(|v| {
        let err = v.get("error").unwrap_or(v);
        err.get("message").and_then(|m| m.as_str()).or_else(|| err.as_str())
    });
    let text = picked.unwrap_or(body).trim();
    let mut cut: String = text.chars().take(300).collect();
    if cut.len() < text.len() {
        cut.push('…');
    }
    if cut.is_empty() { "(empty answer)".to_string() } else { cut }
}

/// `retry-after-ms` (OpenAI), else `Retry-After` as seconds or an HTTP date.
pub(crate) fn retry_after(headers: &reqwest::header::HeaderMap) -> Option<Duration> {
    let text = |name: &str| headers.get(name).and_then(|v| v.to_str().ok()).map(str::trim);
    if let Some(ms) = text("retry-after-ms").and_then(|v| v.parse::<f64>().ok()) {
        return Some(Duration::from_secs_f64(ms.max(0.0) / 1000.0));
    }
    let value = text("retry-after")?;
    if let Ok(secs) = value.parse::<f64>() {
        return Some(Duration::from_secs_f64(secs.max(0.0)));
    }
    let when = httpdate::parse_http_date(value).ok()?;
    Some(when.duration_since(SystemTime::now()).unwrap_or(Duration::ZERO))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn answer(status: u16, body: &str) -> AiError {
        from_answer(ErrorAnswer {
            status,
            url: "http://x/v1/chat/completions",
            model: "m",
            retry_after: None,
            body,
        })
    }

    #[test]
    fn statuses_and_bodies_map_to_their_codes() {
        assert_eq!(answer(401, "{}").code(), "ai_invalid_key");
        assert_eq!(answer(403, "").code(), "ai_invalid_key");
        let gemini = r#"{"error":{"code":400,"message":"API key not valid. Please pass a valid API key.","status":"INVALID_ARGUMENT"}}"#;
        assert_eq!(answer(400, gemini).code(), "ai_invalid_key");
        assert_eq!(answer(404, "404 page not found").code(), "ai_unknown_model");
        assert_eq!(answer(429, "{}").code(), "ai_rate_limited");
        let openai = r#"{"error":{"message":"This model's maximum context length is 8192 tokens","code":"context_length_exceeded"}}"#;
        assert_eq!(answer(400, openai).code(), "ai_context_too_long");
        assert_eq!(answer(400, r#"{"type":"error","error":{"type":"invalid_request_error","message":"prompt is too long: 250000 tokens > 200000 maximum"}}"#).code(), "ai_context_too_long");
        assert_eq!(answer(500, "boom").code(), "ai_upstream_error");
        assert_eq!(answer(400, r#"{"error":{"message":"bad temperature"}}"#).code(), "ai_upstream_error");
    }

    #[test]
    fn the_reliability_layers_errors_say_what_to_wait_for() {
        let open = AiError::BreakerOpen {
            provider: "openai".into(),
            failures: 5,
            retry_in: Duration::from_millis(29_200),
        };
        assert_eq!(open.code(), "ai_breaker_open");
        assert_eq!(
            open.to_string(),
            "openai is paused: it failed 5 times in a row; it will be tried again in 30 s"
        );
        let busy = AiError::Busy { waited: Duration::from_secs(10) };
        assert_eq!(busy.code(), "ai_busy");
        assert!(busy.to_string().contains("within 10.0 s"), "{busy}");
        assert_eq!(AiError::Stopped.code(), "ai_stopped");
        assert!(!open.is_transient() && !busy.is_transient() && !AiError::Stopped.is_transient());
    }

    #[test]
    fn the_body_message_is_the_providers_own_words() {
        assert_eq!(
            body_message(r#"{"error":{"message":"Incorrect API key provided"}}"#),
            "Incorrect API key provided"
        );
        assert_eq!(body_message("  plain text\n"), "plain text");
        assert_eq!(body_message(""), "(empty answer)");
        assert!(body_message(&"x".repeat(1000)).chars().count() <= 301);
    }

    #[test]
    fn retry_after_reads_seconds_milliseconds_and_dates() {
        let mut h = reqwest::header::HeaderMap::new();
        h.insert("retry-after", "7".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_secs(7)));
        h.insert("retry-after-ms", "1500".parse().unwrap());
        assert_eq!(retry_after(&h), Some(Duration::from_millis(1500)));
        let mut h = reqwest::header::HeaderMap::new();
        let later = httpdate::fmt_http_date(SystemTime::now() + Duration::from_secs(120));
        h.insert("retry-after", later.parse().unwrap());
        let wait = retry_after(&h).unwrap();
        assert!(wait > Duration::from_secs(100) && wait <= Duration::from_secs(120), "{wait:?}");
    }
}
