//! One circuit breaker per provider and base URL: closed while calls succeed, open for a cooldown
//! after `threshold` failures in a row, then half-open with exactly one probe let through, whose
//! outcome closes or re-opens it.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::error::AiError;

/// Provider setting name and base URL: two bases of one provider (a proxy and the public API)
/// fail on their own.
pub(crate) type Key = (&'static str, String);

/// A breaker as `/health` and the dashboard show it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BreakerStatus {
    /// The provider's setting name (`openai`, `anthropic`, `Gemini`, …).
    pub provider: String,
    pub base_url: String,
    /// `"closed"`, `"open"` or `"half_open"`.
    pub state: &'static str,
    pub consecutive_failures: u32,
    /// While open: how long until the probe may go.
    pub retry_in_ms: Option<u64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Closed,
    Open {
        until: Instant,
    },
    /// `probe`: the epoch of the probe in flight, if one is.
    HalfOpen {
        probe: Option<u64>,
    },
}

#[derive(Debug)]
struct Breaker {
    state: State,
    failures: u32,
}

/// What admission gave a call: a probe carries its epoch, so a late outcome of an old probe never
/// settles a newer one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Admit {
    Normal,
    Probe(u64),
}

pub(crate) struct Breakers {
    threshold: u32,
    cooldown: Duration,
    epoch: AtomicU64,
    map: Mutex<BTreeMap<Key, Breaker>>,
}

impl Breakers {
    pub(crate) fn new(threshold: u32, cooldown: Duration) -> Breakers {
        Breakers {
            threshold: threshold.max(1),
            cooldown,
            epoch: AtomicU64::new(0),
            map: Mutex::new(BTreeMap::new()),
        }
    }

    /// Refuse at once when open (before a call queues for a slot); claims nothing.
    pub(crate) fn check(&self, key: &Key) -> Result<(), AiError> {
        let mut map = quire_stdx::lock(&self.map);
        let Some(b) = map.get_mut(key) else { return Ok(()) };
        advance(b, Instant::now());
        match b.state {
            State::Closed | State::HalfOpen { probe: None } => Ok(()),
            _ => Err(self.refusal(key, b)),
        }
    }

    /// Let a call through, claiming the probe when half-open.
    pub(crate) fn admit(&self, key: &Key) -> Result<Admit, AiError> {
        let mut map = quire_stdx::lock(&self.map);
        let b = map.entry(key.clone()).or_insert(Breaker { state: State::Closed, failures: 0 });
        advance(b, Instant::now());
        match b.state {
            State::Closed => Ok(Admit::Normal),
            State::HalfOpen { probe: None } => {
                let epoch = self.epoch.fetch_add(1, Ordering::Relaxed) + 1;
                b.state = State::HalfOpen { probe: Some(epoch) };
                Ok(Admit::Probe(epoch))
            }
            _ => Err(self.refusal(key, b)),
        }
    }

    /// Open now (another call opened it while this one waited to retry).
    pub(crate) fn is_open(&self, key: &Key) -> bool {
        let mut map = quire_stdx::lock(&self.map);
        map.get_mut(key).is_some_and(|b| {
            advance(b, Instant::now());
            matches!(b.state, State::Open { .. })
        })
    }

    /// The provider answered (text, or an error that is about the request, not its health): a
    /// probe's answer closes the breaker; the failure count is left to the call's end.
    pub(crate) fn answered(&self, key: &Key, admit: Admit) {
        self.with(key, |b| {
            if let (Admit::Probe(epoch), State::HalfOpen { probe: Some(p) }) = (admit, b.state)
                && p == epoch
            {
                *b = Breaker { state: State::Closed, failures: 0 };
            }
        });
    }

    pub(crate) fn success(&self, key: &Key) {
        self.with(key, |b| *b = Breaker { state: State::Closed, failures: 0 });
    }

    pub(crate) fn failure(&self, key: &Key, admit: Admit) {
        let (threshold, cooldown) = (self.threshold, self.cooldown);
        self.with(key, |b| {
            b.failures = b.failures.saturating_add(1);
            let reopen = match (b.state, admit) {
                (State::Closed, _) => b.failures >= threshold,
                (State::HalfOpen { probe: Some(p) }, Admit::Probe(epoch)) => p == epoch,
                _ => false,
            };
            if reopen {
                b.state = State::Open { until: Instant::now() + cooldown };
            }
        });
    }

    /// A probe ended without an outcome (stopped): the next call may probe.
    pub(crate) fn release(&self, key: &Key, admit: Admit) {
        self.with(key, |b| {
            if let (Admit::Probe(epoch), State::HalfOpen { probe: Some(p) }) = (admit, b.state)
                && p == epoch
            {
                b.state = State::HalfOpen { probe: None };
            }
        });
    }

    pub(crate) fn statuses(&self) -> Vec<BreakerStatus> {
        let now = Instant::now();
        let mut map = quire_stdx::lock(&self.map);
        map.iter_mut()
            .map(|((provider, base_url), b)| {
                advance(b, now);
                let (state, retry_in_ms) = match b.state {
                    State::Closed => ("closed", None),
                    State::Open { until } => ("open", Some(millis_up(until.saturating_duration_since(now)))),
                    State::HalfOpen { .. } => ("half_open", None),
                };
                BreakerStatus {
                    provider: provider.to_string(),
                    base_url: base_url.clone(),
                    state,
                    consecutive_failures: b.failures,
                    retry_in_ms,
                }
            })
            .collect()
    }

    fn with(&self, key: &Key, f: impl FnOnce(&mut Breaker)) {
        let mut map = quire_stdx::lock(&self.map);
        if let Some(b) = map.get_mut(key) {
            advance(b, Instant::now());
            f(b);
        }
    }

    fn refusal(&self, key: &Key, b: &Breaker) -> AiError {
        let retry_in = match b.state {
            State::Open { until } => until.saturating_duration_since(Instant::now()),
            // A probe is under way: its answer decides, usually within a second or two.
            _ => Duration::from_secs(1),
        };
        AiError::BreakerOpen { provider: key.0.to_string(), failures: b.failures, retry_in }
    }
}

/// An open breaker whose cooldown is over is half-open.
fn advance(b: &mut Breaker, now: Instant) {
    if let State::Open { until } = b.state
        && now >= until
    {
        b.state = State::HalfOpen { probe: None };
    }
}

fn millis_up(d: Duration) -> u64 {
    d.as_micros().div_ceil(1000) as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key() -> Key {
        ("openai", "http://x/v1".to_string())
    }

    #[test]
    fn opens_after_the_threshold_then_lets_one_probe_through() {
        let b = Breakers::new(2, Duration::from_millis(30));
        assert_eq!(b.admit(&key()).unwrap(), Admit::Normal);
        b.failure(&key(), Admit::Normal);
        assert!(b.check(&key()).is_ok());
        b.failure(&key(), Admit::Normal);
        let err = b.admit(&key()).unwrap_err();
        assert_eq!(err.code(), "ai_breaker_open");
        assert_eq!(b.statuses()[0].state, "open");
        std::thread::sleep(Duration::from_millis(40));
        assert_eq!(b.statuses()[0].state, "half_open");
        let probe = b.admit(&key()).unwrap();
        assert!(matches!(probe, Admit::Probe(_)));
        assert!(b.admit(&key()).is_err(), "one probe at a time");
        b.release(&key(), probe);
        let probe = b.admit(&key()).unwrap();
        b.failure(&key(), probe);
        assert_eq!(b.statuses()[0].state, "open");
        assert_eq!(b.statuses()[0].consecutive_failures, 3);
        std::thread::sleep(Duration::from_millis(40));
        let probe = b.admit(&key()).unwrap();
        b.answered(&key(), probe);
        let s = &b.statuses()[0];
        assert_eq!((s.state, s.consecutive_failures, s.retry_in_ms), ("closed", 0, None));
    }

    #[test]
    fn an_old_probes_outcome_does_not_settle_a_newer_one() {
        let b = Breakers::new(1, Duration::ZERO);
        b.admit(&key()).unwrap();
        b.failure(&key(), Admit::Normal);
        let old = b.admit(&key()).unwrap();
        b.release(&key(), old);
        let new = b.admit(&key()).unwrap();
        assert_ne!(old, new);
        b.failure(&key(), old);
        b.answered(&key(), old);
        assert!(b.admit(&key()).is_err(), "the newer probe is still in flight");
        b.success(&key());
        assert_eq!(b.statuses()[0].state, "closed");
    }
}
