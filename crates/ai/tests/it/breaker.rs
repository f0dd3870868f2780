//! The circuit breaker per provider and base URL: open after failures in a row (refusing without
//! a request), one probe after the cooldown, closed by its answer, re-opened by its failure.
//! Cooldowns are short real durations; each test sleeps only past a cooldown it set itself.

use std::time::Duration;

use quire_ai::mock::{MockLlm, Reply};
use quire_ai::{AiError, Policy, Reliable};

use crate::reliable::{call_error, fast, openai, request};
use crate::{client, mock};

fn breaking(cooldown: Duration) -> Policy {
    Policy { retries: 0, breaker_failures: 3, breaker_cooldown: cooldown, ..fast() }
}

/// Three failed calls (each with its retries): the breaker is open.
async fn open(r: &Reliable, mock: &MockLlm) {
    for i in 0..3 {
        for _ in 0..=r.policy().retries {
            mock.push(Reply::error(500, format!("boom {i}")));
        }
        assert_eq!(call_error(r, &openai(mock)).await.code(), "ai_upstream_error");
    }
}

async fn wait_for_requests(mock: &MockLlm, n: usize) {
    for _ in 0..250 {
        if mock.requests().len() >= n {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    panic!("the mock got {} requests, not {n}", mock.requests().len());
}

#[tokio::test]
async fn after_repeated_failures_the_breaker_refuses_without_a_request() {
    let mock = mock().await;
    let r = Reliable::new(client(), breaking(Duration::from_secs(30)));
    open(&r, &mock).await;
    let err = call_error(&r, &openai(&mock)).await;
    assert_eq!(err.code(), "ai_breaker_open");
    match &err {
        AiError::BreakerOpen { provider, failures, retry_in } => {
            assert_eq!((provider.as_str(), *failures), ("openai", 3));
            assert!(
                *retry_in <= Duration::from_secs(30) && *retry_in > Duration::from_secs(20),
                "{retry_in:?}"
            );
        }
        other => panic!("{other:?}"),
    }
    assert!(err.to_string().contains("openai is paused: it failed 3 times in a row"), "{err}");
    assert_eq!(mock.requests().len(), 3, "the refused call reached the mock");
    let status = &r.breakers()[0];
    assert_eq!((status.provider.as_str(), status.base_url.as_str()), ("openai", mock.base().as_str()));
    assert_eq!((status.state, status.consecutive_failures), ("open", 3));
    assert!(status.retry_in_ms.is_some_and(|ms| ms <= 30_000));
    let json = serde_json::to_value(status).unwrap();
    assert_eq!(json["state"], "open");
    assert_eq!(json["consecutiveFailures"], 3);
    assert!(json["retryInMs"].is_u64() && json["baseUrl"].is_string());
    let row = &r.usage()[0];
    assert_eq!((row.requests, row.errors), (4, 4));

    // Another base URL has its own breaker.
    let other = crate::mock().await;
    let answer = r.chat(&openai(&other), &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "Hello from the mock.");
    assert_eq!(r.breakers().len(), 2);
}

#[tokio::test]
async fn after_the_cooldown_one_probe_goes_through_and_its_answer_closes_the_breaker() {
    let mock = mock().await;
    let r = Reliable::new(client(), breaking(Duration::from_millis(300)));
    open(&r, &mock).await;
    tokio::time::sleep(Duration::from_millis(350)).await;
    assert_eq!(r.breakers()[0].state, "half_open");

    // A probe that hangs: everyone else is refused while it is out.
    mock.push(Reply::Hang);
    let probe = tokio::spawn({
        let (r, endpoint) = (r.clone(), openai(&mock));
        async move { r.chat(&endpoint, &request()).await.map(drop) }
    });
    wait_for_requests(&mock, 4).await;
    assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_breaker_open");
    assert_eq!(mock.requests().len(), 4);
    // Stopping the probe hands the probe to the next call.
    probe.abort();
    assert!(probe.await.unwrap_err().is_cancelled());
    assert_eq!(r.breakers()[0].state, "half_open");

    mock.push(Reply::text(["back"]));
    let answer = r.chat(&openai(&mock), &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "back");
    let status = &r.breakers()[0];
    assert_eq!((status.state, status.consecutive_failures, status.retry_in_ms), ("closed", 0, None));
    let answer = r.chat(&openai(&mock), &request()).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "Hello from the mock.");
    assert_eq!(mock.requests().len(), 6);
}

#[tokio::test]
async fn a_failed_probe_reopens_the_breaker() {
    let mock = mock().await;
    let r = Reliable::new(client(), Policy { retries: 2, ..breaking(Duration::from_millis(300)) });
    open(&r, &mock).await;
    assert_eq!(mock.requests().len(), 9);
    tokio::time::sleep(Duration::from_millis(350)).await;
    mock.push(Reply::error(503, "still down"));
    mock.push(Reply::text(["never sent"]));
    // A probe is one request: not retried even when the policy retries.
    assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_upstream_error");
    let status = &r.breakers()[0];
    assert_eq!((status.state, status.consecutive_failures), ("open", 4));
    assert!(status.retry_in_ms.is_some_and(|ms| ms <= 300));
    assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_breaker_open");
    assert_eq!(mock.requests().len(), 10);
}

#[tokio::test]
async fn errors_about_the_request_never_open_the_breaker() {
    let mock = mock().await;
    let r = Reliable::new(client(), breaking(Duration::from_secs(30)));
    for _ in 0..4 {
        mock.push(Reply::error(404, "The model `mock-large` does not exist"));
        assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_unknown_model");
        mock.push(Reply::error(400, "This model's maximum context length is 8192 tokens."));
        assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_context_too_long");
    }
    let status = &r.breakers()[0];
    assert_eq!((status.state, status.consecutive_failures), ("closed", 0));
}
