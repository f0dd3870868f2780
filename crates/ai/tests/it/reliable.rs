//! The reliability layer against the mock: retries of connect errors, 429 and 5xx before the first
//! delta (never after text), Retry-After honoured or handed back, the concurrency limit, and
//! cancellation by dropping the stream; with usage as the dashboard reads it.

use std::time::{Duration, Instant};

use quire_ai::mock::{MockLlm, Reply, Split, StreamScript};
use quire_ai::{AiError, ChatRequest, Endpoint, Policy, Reliable, WireFormat};

use crate::{client, endpoint, mock};

/// Short waits so retries cost milliseconds; a breaker far from opening.
pub(crate) fn fast() -> Policy {
    Policy {
        retries: 2,
        base_delay: Duration::from_millis(5),
        max_delay: Duration::from_millis(20),
        max_retry_after: Duration::from_secs(2),
        max_concurrent: 4,
        queue_wait: Duration::from_secs(5),
        breaker_failures: 100,
        breaker_cooldown: Duration::from_secs(30),
    }
}

pub(crate) fn openai(mock: &MockLlm) -> Endpoint {
    endpoint(mock, WireFormat::ChatCompletions, "k")
}

pub(crate) fn request() -> ChatRequest {
    ChatRequest::new("mock-large", "p")
}

/// The error of a call, whether `chat` or the stream returned it.
pub(crate) async fn call_error(r: &Reliable, endpoint: &Endpoint) -> AiError {
    match r.chat(endpoint, &request()).await {
        Err(e) => e,
        Ok(stream) => stream.collect().await.expect_err("the call should fail"),
    }
}

#[tokio::test]
async fn a_500_then_a_429_then_text_is_one_successful_call() {
    let mock = mock().await;
    mock.push(Reply::error(500, "boom"));
    mock.push(Reply::rate_limited("0"));
    mock.push(Reply::text(["Hi", " there"]));
    let r = Reliable::new(client(), fast());
    let mut stream = r.chat(&openai(&mock), &request()).await.unwrap();
    assert_eq!(stream.url(), format!("{}/chat/completions", mock.base()));
    let mut text = String::new();
    while let Some(delta) = stream.next().await {
        if let quire_ai::Delta::Text(t) = delta.unwrap() {
            text.push_str(&t);
        }
    }
    assert_eq!(text, "Hi there");
    assert!(stream.first_token().is_some());
    drop(stream);
    assert_eq!(mock.requests().len(), 3);
    let usage = r.usage();
    assert_eq!(usage.len(), 1);
    let row = &usage[0];
    assert_eq!((row.provider.as_str(), row.model.as_str()), ("openai", "mock-large"));
    assert_eq!((row.requests, row.errors, row.input_tokens, row.output_tokens), (1, 0, 11, 7));
    assert!(row.first_token_ms_p50.is_some());
    let breakers = r.breakers();
    assert_eq!((breakers[0].state, breakers[0].consecutive_failures), ("closed", 0));
}

#[tokio::test]
async fn when_retries_run_out_the_last_error_comes_back() {
    let mock = mock().await;
    mock.push(Reply::error(500, "boom 1"));
    mock.push(Reply::error(502, "boom 2"));
    mock.push(Reply::error(503, "boom 3"));
    mock.push(Reply::text(["never sent"]));
    let r = Reliable::new(client(), fast());
    let err = call_error(&r, &openai(&mock)).await;
    assert_eq!(err, AiError::Upstream { status: 503, message: "boom 3".into() });
    assert_eq!(mock.requests().len(), 3);
    let row = &r.usage()[0];
    assert_eq!((row.requests, row.errors), (1, 1));
    // One failed call, however many attempts it took.
    assert_eq!(r.breakers()[0].consecutive_failures, 1);
}

#[tokio::test]
async fn no_server_is_retried_then_unreachable() {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let endpoint = Endpoint::custom(&format!("http://127.0.0.1:{port}/v1"), None);
    let r = Reliable::new(client(), fast());
    assert_eq!(call_error(&r, &endpoint).await.code(), "ai_unreachable");
    assert_eq!(r.breakers()[0].provider, "custom");
}

#[tokio::test]
async fn a_refused_key_is_not_retried_and_does_not_count_against_the_provider() {
    let mock = mock().await;
    mock.push(Reply::error(401, "Incorrect API key provided"));
    let r = Reliable::new(client(), fast());
    assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_invalid_key");
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(r.breakers()[0].consecutive_failures, 0);
    assert_eq!(r.usage()[0].errors, 1);
}

#[tokio::test]
async fn a_retry_after_over_the_limit_comes_back_at_once_with_the_wait() {
    let mock = mock().await;
    mock.push(Reply::rate_limited("120"));
    mock.push(Reply::text(["never sent"]));
    let r = Reliable::new(client(), Policy { max_retry_after: Duration::from_secs(1), ..fast() });
    let started = Instant::now();
    let err = call_error(&r, &openai(&mock)).await;
    match &err {
        AiError::RateLimited { retry_after, .. } => assert_eq!(*retry_after, Some(Duration::from_secs(120))),
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("retry in 120 s"), "{err}");
    assert!(started.elapsed() < Duration::from_secs(5));
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn an_error_event_before_any_text_is_retried() {
    let mock = mock().await;
    mock.push(Reply::raw_sse(
        "event: error\ndata: {\"type\":\"error\",\"error\":{\"type\":\"overloaded_error\",\"message\":\"Overloaded\"}}\n\n",
    ));
    mock.push(Reply::text(["fine"]));
    let r = Reliable::new(client(), fast());
    let endpoint = endpoint(&mock, WireFormat::AnthropicMessages, "k");
    let answer = r.chat(&endpoint, &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "fine");
    assert_eq!(mock.requests().len(), 2);
    assert_eq!(r.breakers()[0].provider, "anthropic");
}

#[tokio::test]
async fn a_stream_cut_after_text_is_not_replayed() {
    let mock = mock().await;
    mock.push(StreamScript::new(vec!["word "; 20]).cut_after(600));
    mock.push(Reply::text(["never sent"]));
    let r = Reliable::new(client(), fast());
    let mut stream = r.chat(&openai(&mock), &request()).await.unwrap();
    let mut texts = 0;
    let err = loop {
        match stream.next().await {
            Some(Ok(_)) => texts += 1,
            Some(Err(e)) => break e,
            None => panic!("the stream ended without an error"),
        }
    };
    assert!(texts > 0);
    assert_eq!(err.code(), "ai_stream_cut");
    assert!(stream.next().await.is_none());
    assert_eq!(mock.requests().len(), 1);
    assert_eq!(r.breakers()[0].consecutive_failures, 1);
}

#[tokio::test]
async fn with_one_slot_a_second_call_is_busy_until_the_first_stream_is_dropped() {
    let mock = mock().await;
    // Headers and one byte, then nothing for a long while: the first call holds its slot.
    mock.push(StreamScript::new(["slow"]).split(Split::At(vec![1])).gap(Duration::from_secs(60)));
    let policy = Policy { max_concurrent: 1, queue_wait: Duration::from_millis(200), ..fast() };
    let r = Reliable::new(client(), policy);
    let endpoint = openai(&mock);
    let first = r.chat(&endpoint, &request()).await.unwrap();
    let started = Instant::now();
    let err = r.chat(&endpoint, &request()).await.unwrap_err();
    assert_eq!(err.code(), "ai_busy");
    match err {
        AiError::Busy { waited } => assert!(waited >= Duration::from_millis(200), "{waited:?}"),
        other => panic!("{other:?}"),
    }
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert_eq!(mock.requests().len(), 1, "a busy call sends nothing");
    drop(first);
    let answer = r.chat(&endpoint, &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "Hello from the mock.");
    let row = &r.usage()[0];
    // Stopped, busy, answered: only busy is an error.
    assert_eq!((row.requests, row.errors), (3, 1));
}

#[tokio::test]
async fn dropping_a_stream_mid_answer_closes_the_upstream_connection() {
    let mock = mock().await;
    mock.push(StreamScript::new(vec!["tok "; 200]).split(Split::Every(16)).gap(Duration::from_millis(10)));
    let r = Reliable::new(client(), Policy { max_concurrent: 1, ..fast() });
    let mut stream = r.chat(&openai(&mock), &request()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(quire_ai::Delta::Text(_)))));
    assert!(stream.first_token().is_some());
    drop(stream);
    for _ in 0..250 {
        if mock.closed_by_client() == 1 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(mock.closed_by_client(), 1, "the dropped stream's connection stayed open");
    // The slot is free again.
    let answer = r.chat(&openai(&mock), &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "Hello from the mock.");
    let row = &r.usage()[0];
    assert_eq!((row.requests, row.errors), (2, 0));
    assert!(row.first_token_ms_p50.is_some());
}
