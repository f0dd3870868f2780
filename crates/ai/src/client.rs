//! The HTTP side: one reqwest client, sending a chat request and reading short JSON answers, with
//! the timeouts and the error mapping every call shares.

use std::time::Duration;

use reqwest::header::HeaderMap;

use crate::error::{AiError, ErrorAnswer, from_answer, retry_after};
use crate::formats::{self, EventParser};
use crate::provider::Endpoint;
use crate::stream::{ChatRequest, ChatStream};

/// How long to wait. `first_byte` covers the answer's headers and its first body bytes (a model
/// may think for a while before its first token); `idle` the gaps between chunks after that.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Timeouts {
    pub connect: Duration,
    pub first_byte: Duration,
    pub idle: Duration,
}

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            connect: Duration::from_secs(10),
            first_byte: Duration::from_secs(60),
            idle: Duration::from_secs(60),
        }
    }
}

/// Error bodies and model lists larger than this are refused.
const MAX_BODY: usize = 16 << 20;

#[derive(Debug, Clone)]
pub struct AiClient {
    pub(crate) http: reqwest::Client,
    pub(crate) timeouts: Timeouts,
}

impl AiClient {
    pub fn new(timeouts: Timeouts) -> Result<AiClient, AiError> {
        // ring as the TLS provider, as in `server` (no aws-lc C build); idempotent.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let http = reqwest::Client::builder()
            .connect_timeout(timeouts.connect)
            // No redirects: reqwest drops `Authorization` on a cross-host redirect but would carry
            // `x-api-key` / `x-goog-api-key` along, and no provider API redirects.
            .redirect(reqwest::redirect::Policy::none())
            .user_agent(concat!("quire/", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| AiError::Config { reason: format!("HTTP client: {}", error_chain(&e)) })?;
        Ok(AiClient { http, timeouts })
    }

    pub fn timeouts(&self) -> Timeouts {
        self.timeouts
    }

    /// Send one chat request; the answer streams from the returned [`ChatStream`]. An error answer
    /// (any non-2xx) comes back here, before any delta.
    pub async fn chat(&self, endpoint: &Endpoint, request: &ChatRequest) -> Result<ChatStream, AiError> {
        let prepared = formats::prepare(endpoint, request);
        let url = prepared.url;
        let mut builder = self
            .http
            .post(&url)
            .header("content-type", "application/json")
            .header("accept", "text/event-stream")
            .body(serde_json::to_vec(&prepared.body).expect("a JSON value serialises"));
        for (name, value) in prepared.headers {
            builder = builder.header(name, value);
        }
        let response = self.send(builder, &url).await?;
        let status = response.status().as_u16();
        if !(200..300).contains(&status) {
            let retry = retry_after(response.headers());
            let body = self.read_body(response, &url).await.unwrap_or_default();
            let answer =
                ErrorAnswer { status, url: &url, model: &request.model, retry_after: retry, body: &body };
            return Err(from_answer(answer));
        }
        let content_type = response.headers().get("content-type").and_then(|v| v.to_str().ok()).unwrap_or("");
        if content_type.starts_with("application/json") {
            let body = self.read_body(response, &url).await.unwrap_or_default();
            let head: String = body.chars().take(200).collect();
            return Err(AiError::bad(format!("{url} answered JSON, not an event stream: {head}")));
        }
        let t = self.timeouts;
        Ok(ChatStream::new(response, url, EventParser::new(endpoint.format), t.first_byte, t.idle))
    }

    /// `GET url` with `headers`: status, headers and body (read whole, capped).
    pub(crate) async fn get(
        &self,
        url: &str,
        headers: &[(&'static str, String)],
    ) -> Result<(u16, HeaderMap, String), AiError> {
        let mut builder = self.http.get(url).header("accept", "application/json");
        for (name, value) in headers {
            builder = builder.header(*name, value);
        }
        let response = self.send(builder, url).await?;
        let status = response.status().as_u16();
        let headers = response.headers().clone();
        let body = self.read_body(response, url).await?;
        Ok((status, headers, body))
    }

    async fn send(&self, builder: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response, AiError> {
        let wait = self.timeouts.first_byte;
        match tokio::time::timeout(wait, builder.send()).await {
            Err(_) => Err(AiError::Timeout { url: url.to_string(), after: wait }),
            Ok(Err(e)) => Err(AiError::Unreachable { url: url.to_string(), reason: error_chain(&e) }),
            Ok(Ok(response)) => Ok(response),
        }
    }

    async fn read_body(&self, mut response: reqwest::Response, url: &str) -> Result<String, AiError> {
        let mut body = Vec::new();
        loop {
            let wait = self.timeouts.first_byte;
            let chunk = match tokio::time::timeout(wait, response.chunk()).await {
                Err(_) => return Err(AiError::Timeout { url: url.to_string(), after: wait }),
                Ok(Err(e)) => return Err(AiError::StreamCut { reason: error_chain(&e) }),
                Ok(Ok(None)) => break,
                Ok(Ok(Some(chunk))) => chunk,
            };
            if body.len() + chunk.len() > MAX_BODY {
                return Err(AiError::bad(format!("{url} answered more than 16 MiB")));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(String::from_utf8_lossy(&body).into_owned())
    }
}

/// The innermost causes of a reqwest error ("tcp connect error: Connection refused (os error
/// 111)"), which say more to a user than "error sending request".
pub(crate) fn error_chain(error: &reqwest::Error) -> String {
    let mut parts = Vec::new();
    let mut source: Option<&dyn std::error::Error> = std::error::Error::source(error);
    while let Some(e) = source {
        parts.push(e.to_string());
        source = e.source();
    }
    let tail: Vec<String> = parts.into_iter().rev().take(2).collect::<Vec<_>>().into_iter().rev().collect();
    if tail.is_empty() {
        error.to_string()
    } else {
        // Each source's text repeats its own source's, so the last one or two say it all.
        tail.join(": ")
    }
}
