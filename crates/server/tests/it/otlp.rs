//! OpenTelemetry export: a span per request reaches an OTLP/HTTP collector (a fake one here, on
//! loopback), continuing the caller's `traceparent`.

use crate::common::TestServer;
use serde_json::Value;
use std::sync::{Arc, Mutex};

/// A minimal OTLP/HTTP JSON collector that keeps every request body.
async fn collector() -> (String, Arc<Mutex<Vec<Value>>>, tokio::sync::mpsc::Receiver<()>) {
    let got: Arc<Mutex<Vec<Value>>> = Arc::default();
    let (tx, rx) = tokio::sync::mpsc::channel(64);
    let keep = got.clone();
    let app = axum::Router::new().route(
        "/v1/traces",
        axum::routing::post(move |body: String| {
            let (keep, tx) = (keep.clone(), tx.clone());
            async move {
                keep.lock().unwrap().push(serde_json::from_str(&body).unwrap());
                let _ = tx.send(()).await;
                "{}"
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (url, got, rx)
}

fn spans(batches: &[Value]) -> Vec<Value> {
    batches
        .iter()
        .flat_map(|b| b["resourceSpans"][0]["scopeSpans"][0]["spans"].as_array().cloned().unwrap_or_default())
        .collect()
}

#[tokio::test]
async fn request_spans_reach_the_collector() {
    let (url, got, mut arrived) = collector().await;
    let s = TestServer::start_configured(|c| {
        c.language.enabled = false;
        c.disk_low_bytes = 0;
        c.otlp_endpoint = Some(url);
    })
    .await;
    let trace = "4bf92f3577b34da6a3ce929d0e0e4736";
    let r = s
        .http
        .delete(s.url("/api/srcbooks/no-such-notebook"))
        .header("traceparent", format!("00-{trace}-00f067aa0ba902b7-01"))
        .send()
        .await
        .unwrap();
    let status = r.status().as_u16();
    assert!(status >= 400, "{status}");
    let wanted = |v: &Value| v["traceId"] == trace;
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    while !spans(&got.lock().unwrap()).iter().any(wanted) {
        tokio::time::timeout_at(deadline, arrived.recv()).await.expect("no span reached the collector");
    }
    let batches = got.lock().unwrap().clone();
    let resource = &batches[0]["resourceSpans"][0]["resource"]["attributes"][0];
    assert_eq!(resource["value"]["stringValue"], "quire");
    let span = spans(&batches).into_iter().find(wanted).unwrap();
    assert_eq!(span["name"], "DELETE /api/srcbooks/{id}");
    assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
    assert_eq!(span["kind"], 2);
    assert_eq!(span["spanId"].as_str().unwrap().len(), 16);
    let attrs = span["attributes"].to_string();
    assert!(
        attrs.contains("http.response.status_code") && attrs.contains(&format!("\"{status}\"")),
        "{attrs}"
    );
    let (start, end): (u64, u64) = (
        span["startTimeUnixNano"].as_str().unwrap().parse().unwrap(),
        span["endTimeUnixNano"].as_str().unwrap().parse().unwrap(),
    );
    assert!(end >= start && start > 1_600_000_000_000_000_000);
    s.stop().await;
}
