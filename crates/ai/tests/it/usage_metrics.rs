//! What `/metrics` gets from the reliability layer, through a recorder local to the test's thread
//! (the test runtime is single-threaded): requests by result, retries, tokens in and out, time to
//! first token; and never a prompt or an answer in a label.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use metrics::{Counter, Gauge, Histogram, Key, KeyName, Metadata, Recorder, SharedString, Unit};
use quire_ai::mock::Reply;
use quire_ai::{ChatRequest, Reliable};

use crate::reliable::{call_error, fast, openai};
use crate::{client, mock};

/// Each series as `name{k=v,…}` → (sum of increments or samples, number of samples).
#[derive(Default, Clone)]
struct Captured(Arc<Mutex<BTreeMap<String, (f64, u64)>>>);

struct Series {
    name: String,
    store: Captured,
}

impl Series {
    fn add(&self, value: f64) {
        let mut map = self.store.0.lock().unwrap();
        let entry = map.entry(self.name.clone()).or_default();
        entry.0 += value;
        entry.1 += 1;
    }
}

impl metrics::CounterFn for Series {
    fn increment(&self, value: u64) {
        self.add(value as f64);
    }
    fn absolute(&self, _: u64) {}
}

impl metrics::HistogramFn for Series {
    fn record(&self, value: f64) {
        self.add(value);
    }
}

impl Captured {
    fn series(&self, key: &Key) -> Arc<Series> {
        let mut labels: Vec<String> = key.labels().map(|l| format!("{}={}", l.key(), l.value())).collect();
        labels.sort();
        Arc::new(Series { name: format!("{}{{{}}}", key.name(), labels.join(",")), store: self.clone() })
    }

    fn get(&self, name: &str) -> (f64, u64) {
        self.0.lock().unwrap().get(name).copied().unwrap_or_default()
    }
}

impl Recorder for Captured {
    fn describe_counter(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_gauge(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn describe_histogram(&self, _: KeyName, _: Option<Unit>, _: SharedString) {}
    fn register_counter(&self, key: &Key, _: &Metadata<'_>) -> Counter {
        Counter::from_arc(self.series(key))
    }
    fn register_gauge(&self, _: &Key, _: &Metadata<'_>) -> Gauge {
        Gauge::noop()
    }
    fn register_histogram(&self, key: &Key, _: &Metadata<'_>) -> Histogram {
        Histogram::from_arc(self.series(key))
    }
}

#[tokio::test]
async fn requests_retries_tokens_and_first_token_time_by_provider_and_model() {
    let captured = Captured::default();
    let _guard = metrics::set_default_local_recorder(&captured);
    let mock = mock().await;
    mock.push(Reply::error(500, "boom"));
    mock.push(Reply::text(["SECRET-ANSWER"]));
    let r = Reliable::new(client(), fast());
    let request = ChatRequest::new("mock-large", "SECRET-PROMPT");
    let answer = r.chat(&openai(&mock), &request).await.unwrap().collect().await.unwrap();
    assert_eq!(answer.text, "SECRET-ANSWER");
    mock.push(Reply::error(401, "Incorrect API key provided"));
    assert_eq!(call_error(&r, &openai(&mock)).await.code(), "ai_invalid_key");

    let labels = "model=mock-large,provider=openai";
    assert_eq!(captured.get(&format!("ai_requests_total{{{labels},result=ok}}")).0, 1.0);
    assert_eq!(captured.get(&format!("ai_requests_total{{{labels},result=ai_invalid_key}}")).0, 1.0);
    assert_eq!(captured.get("ai_retries_total{provider=openai}").0, 1.0);
    assert_eq!(captured.get(&format!("ai_tokens_total{{direction=in,{labels}}}")).0, 11.0);
    assert_eq!(captured.get(&format!("ai_tokens_total{{direction=out,{labels}}}")).0, 7.0);
    let (seconds, samples) = captured.get(&format!("ai_first_token_seconds{{{labels}}}"));
    assert_eq!(samples, 1);
    assert!(seconds > 0.0 && seconds < 10.0, "{seconds}");
    let names: Vec<String> = captured.0.lock().unwrap().keys().cloned().collect();
    assert!(names.iter().all(|n| !n.contains("SECRET")), "{names:?}");
}
