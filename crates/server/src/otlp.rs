//! Optional OpenTelemetry trace export (`--otlp-endpoint`, OTLP over HTTP with the JSON encoding):
//! one SERVER span per HTTP request, named by its route template, continuing the caller's W3C
//! `traceparent` when there is one. Spans go through a bounded queue to a batching task, so a slow or
//! absent collector never slows a request (overflow is dropped and counted).

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use quire_stdx::hex::encode as hex;
use serde_json::{Value, json};
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};
use tokio::sync::{mpsc, oneshot};

const QUEUE: usize = 4096;
const BATCH: usize = 512;
const FLUSH_EVERY: Duration = Duration::from_secs(1);

pub struct Span {
    pub trace_id: [u8; 16],
    pub span_id: [u8; 8],
    pub parent_span_id: Option<[u8; 8]>,
    pub name: String,
    pub start_ns: u64,
    pub end_ns: u64,
    pub attributes: Vec<(&'static str, Value)>,
    pub error: bool,
}

pub struct Exporter {
    tx: mpsc::Sender<Span>,
    close: Mutex<Option<oneshot::Sender<()>>>,
    task: Mutex<Option<tokio::task::JoinHandle<()>>>,
}

/// `http://host:4318` → `http://host:4318/v1/traces` (a full `/v1/traces` URL is kept).
pub fn traces_url(endpoint: &str) -> String {
    let base = endpoint.trim_end_matches('/');
    if base.ends_with("/v1/traces") { base.to_string() } else { format!("{base}/v1/traces") }
}

impl Exporter {
    pub fn start(endpoint: &str, http: reqwest::Client) -> Exporter {
        let (tx, mut rx) = mpsc::channel::<Span>(QUEUE);
        let (close, mut closed) = oneshot::channel();
        let url = traces_url(endpoint);
        let task = tokio::spawn(async move {
            let mut batch = Vec::new();
            loop {
                let deadline = tokio::time::sleep(FLUSH_EVERY);
                tokio::pin!(deadline);
                let closing = loop {
                    tokio::select! {
                        got = rx.recv() => match got {
                            Some(span) => {
                                batch.push(span);
                                if batch.len() >= BATCH { break false; }
                            }
                            None => break true,
                        },
                        _ = &mut deadline => break false,
                        _ = &mut closed => break true,
                    }
                };
                if closing {
                    while let Ok(span) = rx.try_recv() {
                        batch.push(span);
                    }
                }
                if !batch.is_empty() {
                    send(&http, &url, std::mem::take(&mut batch)).await;
                }
                if closing {
                    return;
                }
            }
        });
        Exporter { tx, close: Mutex::new(Some(close)), task: Mutex::new(Some(task)) }
    }

    pub fn record(&self, span: Span) {
        if self.tx.try_send(span).is_err() {
            metrics::counter!("otlp_spans_dropped_total").increment(1);
        }
    }

    /// Send what is queued (bounded wait), then stop.
    pub async fn shutdown(&self) {
        if let Some(close) = quire_stdx::lock(&self.close).take() {
            let _ = close.send(());
        }
        let task = quire_stdx::lock(&self.task).take();
        if let Some(task) = task {
            let _ = tokio::time::timeout(Duration::from_secs(3), task).await;
        }
    }
}

async fn send(http: &reqwest::Client, url: &str, spans: Vec<Span>) {
    let n = spans.len();
    let body = encode(spans);
    let result =
        http.post(url).header("content-type", "application/json").body(body.to_string()).send().await;
    match result {
        Ok(r) if r.status().is_success() => {
            metrics::counter!("otlp_spans_exported_total").increment(n as u64);
        }
        Ok(r) => tracing::warn!(status = r.status().as_u16(), spans = n, "OTLP collector refused spans"),
        Err(e) => tracing::warn!(error = %e, spans = n, "OTLP export failed"),
    }
}

fn attribute(key: &str, v: &Value) -> Value {
    let value = match v {
        Value::Number(n) if n.is_i64() || n.is_u64() => json!({"intValue": n.to_string()}),
        Value::Number(n) => json!({"doubleValue": n.as_f64()}),
        Value::Bool(b) => json!({"boolValue": b}),
        Value::String(s) => json!({"stringValue": s}),
        other => json!({"stringValue": other.to_string()}),
    };
    json!({"key": key, "value": value})
}

/// The OTLP/JSON `ExportTraceServiceRequest` (ids in hex, times as decimal strings).
pub fn encode(spans: Vec<Span>) -> Value {
    let spans: Vec<Value> = spans
        .into_iter()
        .map(|s| {
            json!({
                "traceId": hex(&s.trace_id),
                "spanId": hex(&s.span_id),
                "parentSpanId": s.parent_span_id.map(|p| hex(&p)).unwrap_or_default(),
                "name": s.name,
                "kind": 2,
                "startTimeUnixNano": s.start_ns.to_string(),
                "endTimeUnixNano": s.end_ns.to_string(),
                "attributes": s.attributes.iter().map(|(k, v)| attribute(k, v)).collect::<Vec<_>>(),
                "status": {"code": if s.error { 2 } else { 1 }},
            })
        })
        .collect();
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            attribute("service.name", &json!("quire")),
            attribute("service.version", &json!(env!("CARGO_PKG_VERSION"))),
        ]},
        "scopeSpans": [{"scope": {"name": "quire-server"}, "spans": spans}],
    }]})
}

/// `00-<trace id>-<parent span id>-<flags>`; an all-zero id is invalid.
pub fn parse_traceparent(v: &str) -> Option<([u8; 16], [u8; 8])> {
    let mut parts = v.trim().split('-');
    let (version, trace, parent, flags) = (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version.len() != 2 || version == "ff" || flags.len() != 2 || trace.len() != 32 || parent.len() != 16 {
        return None;
    }
    let decode = |s: &str, out: &mut [u8]| -> Option<()> {
        for (i, o) in out.iter_mut().enumerate() {
            *o = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
        }
        Some(())
    };
    let (mut t, mut p) = ([0u8; 16], [0u8; 8]);
    decode(trace, &mut t)?;
    decode(parent, &mut p)?;
    if t == [0; 16] || p == [0; 8] {
        return None;
    }
    Some((t, p))
}

fn now_ns() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_nanos() as u64).unwrap_or(0)
}

/// Trace and span ids; without randomness they are zero, which `parse_traceparent` and collectors
/// treat as absent (no request fails for a missing trace).
fn random<const N: usize>() -> [u8; N] {
    quire_stdx::random::try_bytes().unwrap_or([0; N])
}

/// One span for this request (the middleware in `app` calls it when an exporter is configured).
pub async fn trace_request(exporter: &Exporter, req: Request, next: Next) -> Response {
    let parent = req.headers().get("traceparent").and_then(|v| v.to_str().ok()).and_then(parse_traceparent);
    let route = req.extensions().get::<MatchedPath>().map(|p| p.as_str().to_string());
    let method = crate::log::method_label(req.method());
    let start_ns = now_ns();
    let resp = next.run(req).await;
    let status = resp.status().as_u16();
    let (trace_id, parent_span_id) = match parent {
        Some((t, p)) => (t, Some(p)),
        None => (random(), None),
    };
    let route = route.unwrap_or_else(|| "unmatched".into());
    exporter.record(Span {
        trace_id,
        span_id: random(),
        parent_span_id,
        name: format!("{method} {route}"),
        start_ns,
        end_ns: now_ns(),
        attributes: vec![
            ("http.request.method", json!(method)),
            ("http.route", json!(route)),
            ("http.response.status_code", json!(status)),
        ],
        error: status >= 500,
    });
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn traceparent_and_encoding() {
        let (t, p) = parse_traceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01").unwrap();
        assert_eq!(hex(&t), "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(hex(&p), "00f067aa0ba902b7");
        for bad in [
            "",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
            "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
            "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e47zz-00f067aa0ba902b7-01",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7é-01",
        ] {
            assert!(parse_traceparent(bad).is_none(), "{bad:?}");
        }
        let v = encode(vec![Span {
            trace_id: t,
            span_id: [1; 8],
            parent_span_id: Some(p),
            name: "GET /x".into(),
            start_ns: 5,
            end_ns: 9,
            attributes: vec![("http.response.status_code", json!(500))],
            error: true,
        }]);
        let span = &v["resourceSpans"][0]["scopeSpans"][0]["spans"][0];
        assert_eq!(span["traceId"], "4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(span["parentSpanId"], "00f067aa0ba902b7");
        assert_eq!(span["startTimeUnixNano"], "5");
        assert_eq!(span["status"]["code"], 2);
        assert_eq!(span["attributes"][0]["value"]["intValue"], "500");
        assert_eq!(traces_url("http://c:4318/"), "http://c:4318/v1/traces");
        assert_eq!(traces_url("http://c:4318/v1/traces"), "http://c:4318/v1/traces");
    }
}
