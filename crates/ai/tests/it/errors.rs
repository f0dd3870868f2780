//! Every way a provider call fails, each mapped to its stable code with the provider's own message:
//! refused key, unknown model, rate limit with its wait, context too long, server error, no server,
//! a hang before the first byte, a stream cut mid-way (mid-body and at an event boundary), and
//! errors sent inside a 200 stream.

use std::time::Duration;

use quire_ai::mock::{MockLlm, MockOptions, Reply, StreamScript};
use quire_ai::{AiError, ChatRequest, Endpoint, WireFormat};

use crate::{FORMATS, client, endpoint, impatient, mock};

async fn chat_error(mock: &MockLlm, format: WireFormat) -> AiError {
    let request = ChatRequest::new("mock-large", "p");
    match client().chat(&endpoint(mock, format, "k"), &request).await {
        Err(e) => e,
        Ok(stream) => stream.collect().await.expect_err("the call should fail"),
    }
}

#[tokio::test]
async fn a_wrong_key_is_invalid_key_in_every_format() {
    let mock = MockLlm::start(MockOptions { api_key: Some("right".into()), ..MockOptions::default() }).await;
    for format in FORMATS {
        let err = chat_error(&mock, format).await;
        assert_eq!(err.code(), "ai_invalid_key", "{format:?}: {err}");
        assert!(err.to_string().contains("Incorrect API key provided"), "{err}");
    }
    mock.push(Reply::error(403, "not allowed"));
    let request = ChatRequest::new("m", "p");
    let ok = Endpoint::custom(&mock.base(), Some(quire_ai::ApiKey::new("right")));
    assert_eq!(client().chat(&ok, &request).await.unwrap_err().code(), "ai_invalid_key");
}

#[tokio::test]
async fn gemini_says_a_bad_key_with_a_400() {
    let mock = mock().await;
    mock.push(Reply::error(400, "API key not valid. Please pass a valid API key."));
    assert_eq!(chat_error(&mock, WireFormat::Gemini).await.code(), "ai_invalid_key");
}

#[tokio::test]
async fn an_unknown_model_names_the_model_and_url() {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(Reply::error(404, "The model `mock-large` does not exist"));
        let err = chat_error(&mock, format).await;
        assert_eq!(err.code(), "ai_unknown_model", "{format:?}");
        assert!(err.to_string().contains("\"mock-large\""), "{err}");
        assert!(err.to_string().contains(&mock.base()), "{err}");
    }
}

#[tokio::test]
async fn a_plain_404_from_a_base_without_v1_says_to_check_the_base_url() {
    let mock = MockLlm::start(MockOptions { prefix: "/v1".into(), ..MockOptions::default() }).await;
    let err = client()
        .chat(&Endpoint::custom(&mock.url(), None), &ChatRequest::new("llama3", "p"))
        .await
        .unwrap_err();
    assert_eq!(err.code(), "ai_unknown_model");
    let text = err.to_string();
    assert!(text.contains(&format!("{}/chat/completions", mock.url())) && text.contains("/v1"), "{text}");
}

#[tokio::test]
async fn rate_limited_carries_the_retry_after_wait() {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(Reply::rate_limited("7"));
        match chat_error(&mock, format).await {
            AiError::RateLimited { retry_after, .. } => assert_eq!(retry_after, Some(Duration::from_secs(7))),
            other => panic!("{format:?}: {other:?}"),
        }
    }
    mock.push(Reply::rate_limited("3"));
    let err = chat_error(&mock, WireFormat::ChatCompletions).await;
    assert_eq!(err.code(), "ai_rate_limited");
    assert!(err.to_string().contains("retry in 3 s"), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn a_prompt_over_the_context_is_context_too_long() {
    let mock = mock().await;
    mock.push(Reply::error(400, "This model's maximum context length is 8192 tokens."));
    assert_eq!(chat_error(&mock, WireFormat::ChatCompletions).await.code(), "ai_context_too_long");
    mock.push(Reply::error(400, "prompt is too long: 250000 tokens > 200000 maximum"));
    assert_eq!(chat_error(&mock, WireFormat::AnthropicMessages).await.code(), "ai_context_too_long");
}

#[tokio::test]
async fn a_server_error_is_upstream_and_transient() {
    let mock = mock().await;
    mock.push(Reply::error(500, "internal boom"));
    let err = chat_error(&mock, WireFormat::Responses).await;
    assert_eq!(err.code(), "ai_upstream_error");
    assert!(err.to_string().contains("internal boom"), "{err}");
    assert!(err.is_transient());
}

#[tokio::test]
async fn no_server_is_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = Endpoint::custom(&format!("http://127.0.0.1:{port}/v1"), None);
    let err = client().chat(&endpoint, &ChatRequest::new("m", "p")).await.unwrap_err();
    assert_eq!(err.code(), "ai_unreachable");
    assert!(err.to_string().contains(&format!("127.0.0.1:{port}")), "{err}");
}

#[tokio::test]
async fn a_hang_before_the_first_byte_times_out_and_the_connection_is_dropped() {
    let mock = mock().await;
    mock.push(Reply::Hang);
    let client = impatient(Duration::from_millis(300), Duration::from_secs(10));
    let endpoint = endpoint(&mock, WireFormat::AnthropicMessages, "k");
    let err = client.chat(&endpoint, &ChatRequest::new("m", "p")).await.unwrap_err();
    assert_eq!(err.code(), "ai_timeout");
    assert!(err.to_string().contains("within 0.3 s"), "{err}");
    for _ in 0..250 {
        if mock.closed_by_client() == 1 {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the hung connection was not closed");
}

#[tokio::test]
async fn a_stream_cut_mid_body_is_stream_cut_in_every_format() {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(StreamScript::new(["one ", "two ", "three"]).cut_after(200));
        let err = chat_error(&mock, format).await;
        assert_eq!(err.code(), "ai_stream_cut", "{format:?}: {err}");
    }
}

#[tokio::test]
async fn a_stream_that_stalls_mid_way_is_stream_cut() {
    let mock = mock().await;
    mock.push(
        StreamScript::new(["one ", "two"])
            .split(quire_ai::mock::Split::Every(40))
            .gap(Duration::from_millis(600)),
    );
    let impatient = quire_ai::AiClient::new(quire_ai::Timeouts {
        idle: Duration::from_millis(200),
        ..client().timeouts()
    });
    let mut stream = impatient
        .unwrap()
        .chat(&endpoint(&mock, WireFormat::ChatCompletions, "k"), &ChatRequest::new("m", "p"))
        .await
        .unwrap();
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => continue,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without an error"),
        }
    };
    assert_eq!(err.code(), "ai_stream_cut");
    assert!(err.to_string().contains("no data for 0.2 s"), "{err}");
}

#[tokio::test]
async fn a_stream_ending_cleanly_without_its_final_event_is_stream_cut() {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(StreamScript::new(["one ", "two"]).drop_ending());
        let err = chat_error(&mock, format).await;
        assert_eq!(err.code(), "ai_stream_cut", "{format:?}: {err}");
    }
}

#[tokio::test]
async fn errors_inside_a_200_stream_are_classified() {
    let mock = mock().await;
    mock.push(Reply::raw_sse(
        "event: message_start\ndata: {\"type\":\"message_start\",\"message\":{\"usage\":{\"input_tokens\":1}}}\n\n\
         event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ));
    match chat_error(&mock, WireFormat::AnthropicMessages).await {
        AiError::Upstream { status: 529, message } => assert_eq!(message, "Overloaded"),
        other => panic!("{other:?}"),
    }
    mock.push(Reply::raw_sse(
        "data: {\"type\":\"response.failed\",\"response\":{\"error\":{\"code\":\"rate_limit_exceeded\",\"message\":\"slow\"}}}\n\n",
    ));
    assert_eq!(chat_error(&mock, WireFormat::Responses).await.code(), "ai_rate_limited");
    mock.push(Reply::raw_sse(
        "data: {\"error\":{\"message\":\"context length exceeded\",\"type\":\"invalid_request_error\"}}\n\n",
    ));
    assert_eq!(chat_error(&mock, WireFormat::ChatCompletions).await.code(), "ai_context_too_long");
}

#[tokio::test]
async fn a_json_answer_where_a_stream_was_asked_is_a_bad_response() {
    let mock = mock().await;
    mock.push(Reply::Raw {
        status: 200,
        headers: vec![],
        content_type: "application/json".into(),
        body: "{\"choices\":[]}".into(),
    });
    assert_eq!(chat_error(&mock, WireFormat::ChatCompletions).await.code(), "ai_bad_response");
    mock.push(Reply::raw_sse("data: not json\n\n"));
    assert_eq!(chat_error(&mock, WireFormat::Gemini).await.code(), "ai_bad_response");
}
