//! A custom provider's base URL as a user types it: `http://host:port` resolves to `…/v1` when the
//! API lives there (Srcbook's 404 with Ollama), and a failure names each URL tried and its answer.

use quire_ai::mock::{MockLlm, MockOptions};
use quire_ai::{ApiKey, ChatRequest, Endpoint};

use crate::client;

async fn ollama_like() -> MockLlm {
    MockLlm::start(MockOptions { prefix: "/v1".into(), ..MockOptions::default() }).await
}

#[tokio::test]
async fn a_base_without_v1_resolves_to_v1_and_chat_works_there() {
    let mock = ollama_like().await;
    let resolved = client().resolve_base(&mock.url(), None).await.unwrap();
    assert_eq!(resolved.base_url, format!("{}/v1", mock.url()));
    let ids: Vec<&str> = resolved.models.iter().map(|m| m.id.as_str()).collect();
    assert_eq!(ids, ["mock-large", "mock-small"]);
    assert_eq!(resolved.tried.len(), 1);
    assert!(resolved.tried[0].answer.starts_with("404"), "{:?}", resolved.tried);

    let endpoint = Endpoint::custom(&resolved.base_url, None);
    let answer =
        client().chat(&endpoint, &ChatRequest::new("mock-small", "hi")).await.unwrap().collect().await;
    assert_eq!(answer.unwrap().text, "Hello from the mock.");
    let paths: Vec<String> = mock.requests().iter().map(|r| r.path.clone()).collect();
    assert_eq!(paths, ["/models", "/v1/models", "/v1/chat/completions"]);
}

#[tokio::test]
async fn the_settings_test_says_which_model_answered_at_which_url() {
    let mock = ollama_like().await;
    let resolved = client().resolve_base(&mock.url(), None).await.unwrap();
    let check = client().check(&Endpoint::custom(&resolved.base_url, None), "mock-small").await.unwrap();
    assert_eq!(check.sample, "Hello from the mock.");
    let text = check.to_string();
    assert!(
        text.starts_with(&format!("works: model mock-small at {}/v1/chat/completions", mock.url())),
        "{text}"
    );
    assert_eq!(mock.last_request().json()["max_tokens"], 16);
}

#[tokio::test]
async fn a_base_that_already_works_is_kept_and_probed_once() {
    let mock = ollama_like().await;
    let resolved = client().resolve_base(&format!("{}/v1/", mock.url()), None).await.unwrap();
    assert_eq!(resolved.base_url, mock.base());
    assert!(resolved.tried.is_empty());
    assert_eq!(mock.requests().len(), 1);
}

#[tokio::test]
async fn a_pasted_chat_completions_url_is_cut_back_to_its_base() {
    let mock = ollama_like().await;
    let resolved = client().resolve_base(&format!("{}/v1/chat/completions", mock.url()), None).await.unwrap();
    assert_eq!(resolved.base_url, mock.base());
}

#[tokio::test]
async fn the_key_is_sent_when_probing_and_a_wrong_one_stops_the_search() {
    let mock = MockLlm::start(MockOptions { api_key: Some("right".into()), ..MockOptions::default() }).await;
    let ok = client().resolve_base(&mock.url(), Some(&ApiKey::new("right"))).await.unwrap();
    assert_eq!(ok.base_url, mock.url());
    assert_eq!(mock.last_request().header("authorization"), Some("Bearer right"));

    let err = client().resolve_base(&mock.url(), Some(&ApiKey::new("wrong"))).await.unwrap_err();
    assert_eq!(err.code(), "ai_invalid_key");
    assert!(err.to_string().contains(&format!("{}/models", mock.url())), "{err}");
}

#[tokio::test]
async fn nothing_there_names_every_url_tried_and_what_answered() {
    // A listener that is bound and then closed: connecting is refused.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let base = format!("http://127.0.0.1:{port}");
    let err = client().resolve_base(&base, None).await.unwrap_err();
    assert_eq!(err.code(), "ai_base_url_unresolved");
    let text = err.to_string();
    assert!(text.contains(&format!("GET {base}/models answered nothing")), "{text}");
    assert!(text.contains(&format!("GET {base}/v1/models answered nothing")), "{text}");

    let mock = MockLlm::start(MockOptions { prefix: "/api/v2".into(), ..MockOptions::default() }).await;
    let err = client().resolve_base(&mock.url(), None).await.unwrap_err();
    let text = err.to_string();
    assert!(text.contains(&format!("GET {}/models answered 404: 404 page not found", mock.url())), "{text}");
    assert!(text.contains(&format!("GET {}/v1/models answered 404", mock.url())), "{text}");
}

#[tokio::test]
async fn not_a_url_is_a_settings_error() {
    let err = client().resolve_base("localhost:11434", None).await.unwrap_err();
    assert_eq!(err.code(), "ai_config");
}
