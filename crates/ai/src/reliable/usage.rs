//! Usage by provider and model: `metrics` counters and a histogram for `/metrics`, and the same
//! totals in-process for the dashboard (readable without a recorder). Labels are the provider's
//! setting name, the model name and a result code: never a prompt or an answer.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Mutex;
use std::time::Duration;

/// One provider and model's totals since the server started.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UsageRow {
    pub provider: String,
    pub model: String,
    /// Calls that ended: answered, failed or stopped.
    pub requests: u64,
    pub errors: u64,
    pub input_tokens: u64,
    pub output_tokens: u64,
    /// Median time to first token over the last 64 answers.
    pub first_token_ms_p50: Option<u64>,
}

/// How many recent first-token times each row keeps for its median.
pub(crate) const RECENT: usize = 64;

#[derive(Default)]
struct Row {
    requests: u64,
    errors: u64,
    input_tokens: u64,
    output_tokens: u64,
    first_token_ms: VecDeque<u64>,
}

/// The provider's setting name and the model.
type Key = (&'static str, String);

#[derive(Default)]
pub(crate) struct UsageTable {
    rows: Mutex<BTreeMap<Key, Row>>,
}

impl UsageTable {
    /// A call ended with `result`: `"ok"` or an error code (`ai_stopped` for a dropped stream).
    pub(crate) fn request(&self, provider: &'static str, model: &str, result: &'static str) {
        metrics::counter!("ai_requests_total", "provider" => provider, "model" => model.to_string(),
            "result" => result)
        .increment(1);
        self.with(provider, model, |row| {
            row.requests += 1;
            if result != "ok" && result != "ai_stopped" {
                row.errors += 1;
            }
        });
    }

    pub(crate) fn retry(&self, provider: &'static str) {
        metrics::counter!("ai_retries_total", "provider" => provider).increment(1);
    }

    pub(crate) fn first_token(&self, provider: &'static str, model: &str, after: Duration) {
        metrics::histogram!("ai_first_token_seconds", "provider" => provider, "model" => model.to_string())
            .record(after.as_secs_f64());
        self.with(provider, model, |row| {
            if row.first_token_ms.len() == RECENT {
                row.first_token_ms.pop_front();
            }
            row.first_token_ms.push_back(after.as_millis() as u64);
        });
    }

    pub(crate) fn tokens(&self, provider: &'static str, model: &str, input: u64, output: u64) {
        for (direction, n) in [("in", input), ("out", output)] {
            metrics::counter!("ai_tokens_total", "provider" => provider, "model" => model.to_string(),
                "direction" => direction)
            .increment(n);
        }
        self.with(provider, model, |row| {
            row.input_tokens += input;
            row.output_tokens += output;
        });
    }

    pub(crate) fn rows(&self) -> Vec<UsageRow> {
        let rows = quire_stdx::lock(&self.rows);
        rows.iter()
            .map(|((provider, model), r)| UsageRow {
                provider: provider.to_string(),
                model: model.clone(),
                requests: r.requests,
                errors: r.errors,
                input_tokens: r.input_tokens,
                output_tokens: r.output_tokens,
                first_token_ms_p50: median(&r.first_token_ms),
            })
            .collect()
    }

    fn with(&self, provider: &'static str, model: &str, f: impl FnOnce(&mut Row)) {
        f(quire_stdx::lock(&self.rows).entry((provider, model.to_string())).or_default());
    }
}

fn median(values: &VecDeque<u64>) -> Option<u64> {
    let mut v: Vec<u64> = values.iter().copied().collect();
    v.sort_unstable();
    v.get(v.len().checked_sub(1)? / 2).copied()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_requests_errors_tokens_and_a_median() {
        let t = UsageTable::default();
        t.request("openai", "m", "ok");
        t.request("openai", "m", "ai_rate_limited");
        t.request("openai", "m", "ai_stopped");
        t.tokens("openai", "m", 10, 3);
        for ms in [30, 10, 20, 1000] {
            t.first_token("openai", "m", Duration::from_millis(ms));
        }
        let row = &t.rows()[0];
        assert_eq!((row.requests, row.errors, row.input_tokens, row.output_tokens), (3, 1, 10, 3));
        assert_eq!(row.first_token_ms_p50, Some(20));
        for _ in 0..RECENT {
            t.first_token("openai", "m", Duration::from_millis(5));
        }
        assert_eq!(t.rows()[0].first_token_ms_p50, Some(5));
        assert_eq!(median(&VecDeque::new()), None);
    }
}
