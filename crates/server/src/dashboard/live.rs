//! The rolling figures behind the admin dashboard (held in the shared state, fed by
//! `metrics::track`): requests, latency, errors per second over a one-minute window, and cached
//! storage totals.

use super::window::{SECONDS, Summary, Window};
use serde_json::{Value, json};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// Live request figures of one server (per state, so servers in one test process stay apart).
pub struct Live {
    pub started: Instant,
    window: Mutex<Window>,
    pub ws_connections: AtomicUsize,
    /// File-store totals scan every file row: reused for a few seconds, so open dashboards (one poll
    /// every 2 s each) cost the store at most one scan per `STORAGE_TTL`.
    storage: Mutex<Option<(Instant, quire_filestore::StoreTotals)>>,
}

const STORAGE_TTL: Duration = Duration::from_secs(5);

impl Default for Live {
    fn default() -> Self {
        Live {
            started: Instant::now(),
            window: Mutex::default(),
            ws_connections: AtomicUsize::new(0),
            storage: Mutex::default(),
        }
    }
}

impl Live {
    /// One finished HTTP request (the hot path: a few adds under a short lock).
    pub fn record(&self, latency: Duration, status: u16) {
        let us = latency.as_micros().min(u64::MAX as u128) as u64;
        self.count(Some(us), status);
    }

    /// A request refused before it was timed (the per-IP rate limit): counted, no latency sample.
    pub fn record_refused(&self, status: u16) {
        self.count(None, status);
    }

    fn count(&self, us: Option<u64>, status: u16) {
        let second = self.started.elapsed().as_secs();
        quire_stdx::lock(&self.window).record(second, us, status);
    }

    pub fn ws_opened(&self) {
        self.ws_connections.fetch_add(1, Ordering::Relaxed);
    }

    pub fn ws_closed(&self) {
        self.ws_connections.fetch_sub(1, Ordering::Relaxed);
    }

    /// File-store totals, at most `STORAGE_TTL` old (blocking: SQLite).
    pub fn store_totals(&self, files: &quire_filestore::FileStore) -> Option<quire_filestore::StoreTotals> {
        let mut cached = quire_stdx::lock(&self.storage);
        if let Some((at, t)) = *cached
            && at.elapsed() < STORAGE_TTL
        {
            return Some(t);
        }
        match files.totals() {
            Ok(t) => {
                *cached = Some((Instant::now(), t));
                Some(t)
            }
            Err(e) => {
                tracing::warn!(error = %e, "file store totals failed");
                None
            }
        }
    }

    /// The request part of the stats body, as of `elapsed` since start.
    pub fn requests_json(&self, elapsed: Duration) -> Value {
        let w = quire_stdx::lock(&self.window);
        let now = elapsed.as_secs();
        let last10 = w.summary(now.saturating_sub(9), now);
        let last60 = w.summary(now.saturating_sub(SECONDS - 1), now);
        // Completed seconds only, oldest first: the current second is still filling up.
        let series: Vec<Summary> = (1..=SECONDS)
            .rev()
            .map(|ago| now.checked_sub(ago).map_or_else(Summary::default, |s| w.summary(s, s)))
            .collect();
        let totals = (w.total, w.total_client_errors, w.total_server_errors);
        drop(w);
        json!({
            "requests": {
                "perSecond10s": rate(last10.requests, 10, elapsed),
                "perSecond60s": rate(last60.requests, SECONDS, elapsed),
                "last60s": last60.requests,
                "total": totals.0,
            },
            "latencyMs": {"p50": last60.p50_ms, "p95": last60.p95_ms, "p99": last60.p99_ms, "max": last60.max_ms},
            "errors": {
                "clientLast60s": last60.client_errors,
                "serverLast60s": last60.server_errors,
                "clientTotal": totals.1,
                "serverTotal": totals.2,
            },
            "series": {
                "requests": series.iter().map(|s| s.requests).collect::<Vec<_>>(),
                "p95Ms": series.iter().map(|s| s.p95_ms).collect::<Vec<_>>(),
            },
        })
    }
}

/// Requests per second over the last `span` seconds: the span ends now, mid-second, and is never
/// longer than the uptime (a server up 3 s that served 30 requests did 10/s, not 3/s).
fn rate(count: u64, span: u64, elapsed: Duration) -> f64 {
    let frac = elapsed.as_secs_f64().fract();
    let covered = ((span - 1) as f64 + frac).min(elapsed.as_secs_f64()).max(1.0);
    (count as f64 / covered * 100.0).round() / 100.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_divides_by_the_covered_span() {
        let at = Duration::from_secs_f64;
        // Up 3 s: 30 requests in the last 10 s is 10/s.
        assert_eq!(rate(30, 10, at(3.0)), 10.0);
        // Up long: 9.5 s of the last ten are covered half a second into the current second.
        assert_eq!(rate(95, 10, at(100.5)), 10.0);
        // Just started: never divide by less than a second.
        assert_eq!(rate(5, 10, at(0.2)), 5.0);
        assert_eq!(rate(0, 60, at(1000.0)), 0.0);
    }

    #[test]
    fn storage_totals_are_reused_for_a_few_seconds() {
        let tmp = tempfile::tempdir().unwrap();
        let files = quire_filestore::FileStore::open(tmp.path(), Default::default()).unwrap();
        let live = Live::default();
        assert_eq!(live.store_totals(&files).unwrap().files, 0);
        let actor = quire_filestore::Actor { user_id: "u".into(), admin: true };
        let new = quire_filestore::NewFile { filename: "a.txt".into(), ..Default::default() };
        files.put(&actor, &mut &b"hello"[..], new, None).unwrap();
        assert_eq!(live.store_totals(&files).unwrap().files, 0, "cached");
        // Once the cache is older than the TTL, the next call scans again.
        live.storage.lock().unwrap().as_mut().unwrap().0 -= STORAGE_TTL;
        assert_eq!(live.store_totals(&files).unwrap().files, 1);
    }

    #[test]
    fn live_records_into_the_current_second() {
        let live = Live::default();
        live.record(Duration::from_millis(2), 200);
        live.record(Duration::from_millis(4), 404);
        let v = live.requests_json(live.started.elapsed());
        assert_eq!(v["requests"]["total"], 2);
        assert_eq!(v["requests"]["last60s"], 2);
        assert_eq!(v["errors"]["clientLast60s"], 1);
        assert_eq!(v["series"]["requests"].as_array().unwrap().len(), SECONDS as usize);
        assert!(v["latencyMs"]["p99"].as_f64().unwrap() <= 4.0);
    }
}
