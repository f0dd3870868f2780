//! Each wire format end to end: the request the provider receives (path, auth headers, prompt) and
//! the answer streamed back as text deltas and one `Done` with finish reason and usage.

use quire_ai::mock::{MockFinish, MockLlm, MockOptions, Reply, StreamScript};
use quire_ai::{ChatRequest, Delta, Endpoint, FinishReason, Usage, WireFormat};

use crate::{FORMATS, client, endpoint, mock};

fn request() -> ChatRequest {
    ChatRequest::new("mock-large", "Write a cell that prints 2+2").with_system("You write TypeScript cells.")
}

#[tokio::test]
async fn openai_chat_completions_streams_text_then_done_with_usage() {
    let mock = mock().await;
    mock.push(Reply::text(["const x", " = 2 + 2;"]));
    let mut stream =
        client().chat(&endpoint(&mock, WireFormat::ChatCompletions, "sk-1"), &request()).await.unwrap();
    let mut deltas = Vec::new();
    while let Some(delta) = stream.next().await {
        deltas.push(delta.unwrap());
    }
    let usage = Usage { input_tokens: Some(11), output_tokens: Some(7) };
    assert_eq!(
        deltas,
        [
            Delta::Text("const x".into()),
            Delta::Text(" = 2 + 2;".into()),
            Delta::Done { finish: FinishReason::Stop, usage }
        ]
    );
    let sent = mock.last_request();
    assert_eq!(sent.path, "/chat/completions");
    assert_eq!(sent.header("authorization"), Some("Bearer sk-1"));
    let body = sent.json();
    assert_eq!(body["model"], "mock-large");
    assert_eq!(body["stream"], true);
    assert_eq!(body["stream_options"]["include_usage"], true);
    assert_eq!(body["messages"][0]["role"], "system");
    assert_eq!(body["messages"][1]["content"], "Write a cell that prints 2+2");
}

#[tokio::test]
async fn openai_responses_streams_typed_events_without_done_marker() {
    let mock = mock().await;
    mock.push(StreamScript::new(["console", ".log(4)"]).usage(30, 5));
    let answer = client()
        .chat(&endpoint(&mock, WireFormat::Responses, "sk-2"), &request())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(answer.text, "console.log(4)");
    assert_eq!(answer.usage, Usage { input_tokens: Some(30), output_tokens: Some(5) });
    let sent = mock.last_request();
    assert_eq!(sent.path, "/responses");
    assert_eq!(sent.json()["instructions"], "You write TypeScript cells.");
    assert_eq!(sent.json()["input"][0]["content"], "Write a cell that prints 2+2");
    assert_eq!(sent.json()["store"], false);
}

#[tokio::test]
async fn anthropic_messages_sends_its_key_headers_and_skips_pings() {
    let mock = mock().await;
    mock.push(Reply::text(["Hé", "llo"]));
    let answer = client()
        .chat(&endpoint(&mock, WireFormat::AnthropicMessages, "sk-ant"), &request())
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(answer.text, "Héllo");
    assert_eq!(answer.finish, FinishReason::Stop);
    assert_eq!(answer.usage, Usage { input_tokens: Some(11), output_tokens: Some(7) });
    let sent = mock.last_request();
    assert_eq!(sent.path, "/messages");
    assert_eq!(sent.header("x-api-key"), Some("sk-ant"));
    assert_eq!(sent.header("anthropic-version"), Some("2023-06-01"));
    assert_eq!(sent.header("authorization"), None, "the key goes only in x-api-key");
    assert_eq!(sent.json()["system"], "You write TypeScript cells.");
    assert_eq!(sent.json()["max_tokens"], 4096);
}

#[tokio::test]
async fn gemini_streams_with_alt_sse_and_the_goog_key_header() {
    let mock = mock().await;
    mock.push(StreamScript::new(["a", "b", "c"]).finish(MockFinish::Length));
    let request = ChatRequest::new("models/gemini-pro", "hi");
    let answer = client()
        .chat(&endpoint(&mock, WireFormat::Gemini, "g-key"), &request)
        .await
        .unwrap()
        .collect()
        .await
        .unwrap();
    assert_eq!(answer.text, "abc");
    assert_eq!(answer.finish, FinishReason::Length);
    let sent = mock.last_request();
    assert_eq!(sent.path, "/models/gemini-pro:streamGenerateContent?alt=sse");
    assert_eq!(sent.header("x-goog-api-key"), Some("g-key"));
    assert_eq!(sent.json()["contents"][0]["parts"][0]["text"], "hi");
}

#[tokio::test]
async fn a_length_finish_is_reported_in_every_format() {
    let mock = mock().await;
    for format in FORMATS {
        mock.push(StreamScript::new(["cut"]).finish(MockFinish::Length));
        let answer =
            client().chat(&endpoint(&mock, format, "k"), &request()).await.unwrap().collect().await.unwrap();
        assert_eq!((answer.text.as_str(), answer.finish), ("cut", FinishReason::Length), "{format:?}");
    }
}

#[tokio::test]
async fn a_local_server_without_a_key_gets_no_auth_header() {
    let mock = MockLlm::start(MockOptions { prefix: "/v1".into(), ..MockOptions::default() }).await;
    let endpoint = Endpoint::custom(&format!("{}/", mock.base()), None);
    let answer = client().chat(&endpoint, &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "Hello from the mock.");
    let sent = mock.last_request();
    assert_eq!(sent.path, "/v1/chat/completions");
    assert_eq!(sent.header("authorization"), None);
    assert_eq!(sent.json()["max_tokens"], serde_json::Value::Null);
}

#[tokio::test]
async fn model_lists_come_from_each_providers_models_route() {
    let mock = mock().await;
    for format in FORMATS {
        let models = client().list_models(&endpoint(&mock, format, "k")).await.unwrap();
        let ids: Vec<&str> = models.iter().map(|m| m.id.as_str()).collect();
        assert_eq!(ids, ["mock-large", "mock-small"], "{format:?}");
    }
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path_only().to_string()).collect();
    assert_eq!(paths, ["/models"; 4]);
}

#[tokio::test]
async fn dropping_the_stream_closes_the_upstream_connection() {
    let mock = mock().await;
    let chunks: Vec<String> = (0..200).map(|i| format!("token{i} ")).collect();
    mock.push(StreamScript::new(chunks).gap(std::time::Duration::from_millis(5)));
    let mut stream =
        client().chat(&endpoint(&mock, WireFormat::ChatCompletions, "k"), &request()).await.unwrap();
    assert!(matches!(stream.next().await, Some(Ok(Delta::Text(_)))));
    drop(stream);
    for _ in 0..250 {
        if mock.closed_by_client() == 1 {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
    panic!("the mock never saw the connection close");
}
