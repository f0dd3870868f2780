//! Heartbeats of the background workers (the file store's sweeper, …) so `/health` can say whether
//! each one still runs and whether its last run worked, instead of assuming it.

use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Default)]
pub struct Workers {
    map: Mutex<BTreeMap<&'static str, Beat>>,
}

struct Beat {
    every: Duration,
    registered: Instant,
    last_ok: Option<Instant>,
    last_error: Option<String>,
    runs: u64,
    failures: u64,
}

impl Beat {
    /// Overdue once it missed two turns (plus slack for a slow run).
    fn overdue(&self, now: Instant) -> bool {
        let since = self.last_ok.unwrap_or(self.registered);
        now.duration_since(since) > self.every * 2 + Duration::from_secs(30)
    }
}

impl Workers {
    pub fn register(&self, name: &'static str, every: Duration) {
        let beat =
            Beat { every, registered: Instant::now(), last_ok: None, last_error: None, runs: 0, failures: 0 };
        self.lock().insert(name, beat);
    }

    /// One run of `name` finished.
    pub fn record(&self, name: &'static str, result: Result<(), String>) {
        let mut map = self.lock();
        let Some(b) = map.get_mut(name) else { return };
        b.runs += 1;
        match result {
            Ok(()) => {
                b.last_ok = Some(Instant::now());
                b.last_error = None;
            }
            Err(e) => {
                b.failures += 1;
                b.last_error = Some(e);
            }
        }
    }

    /// `("ok" | "degraded", details)`: degraded when a worker's last run failed or it is overdue.
    pub fn report(&self) -> (&'static str, Value) {
        let now = Instant::now();
        let map = self.lock();
        let mut worst = "ok";
        let mut out = serde_json::Map::new();
        for (name, b) in map.iter() {
            let status = if b.last_error.is_some() || b.overdue(now) { "degraded" } else { "ok" };
            if status != "ok" {
                worst = status;
            }
            out.insert(
                name.to_string(),
                json!({
                    "status": status,
                    "runs": b.runs,
                    "failures": b.failures,
                    "everySeconds": b.every.as_secs(),
                    "lastOkSecondsAgo": b.last_ok.map(|t| now.duration_since(t).as_secs()),
                    "lastError": b.last_error,
                }),
            );
        }
        (worst, Value::Object(out))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<&'static str, Beat>> {
        quire_stdx::lock(&self.map)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_or_overdue_worker_is_degraded() {
        let w = Workers::default();
        w.register("a", Duration::from_secs(60));
        assert_eq!(w.report().0, "ok", "not due yet");
        w.record("a", Err("disk on fire".into()));
        let (status, v) = w.report();
        assert_eq!(status, "degraded");
        assert_eq!(v["a"]["lastError"], "disk on fire");
        w.record("a", Ok(()));
        assert_eq!(w.report().0, "ok");
        assert_eq!(w.report().1["a"]["runs"], 2);
        w.register("b", Duration::ZERO);
        w.lock().get_mut("b").unwrap().registered = Instant::now() - Duration::from_secs(31);
        assert_eq!(w.report().0, "degraded", "b never ran and is overdue");
    }
}
