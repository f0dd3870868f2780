//! Per-server circuit breaker and reconnect backoff: plain state machines, time passed in.

use std::time::{Duration, Instant};

#[derive(Clone, Copy, Debug)]
pub struct BreakerConfig {
    /// Consecutive failures (timeouts, transport and connect errors) that open the breaker.
    pub threshold: u32,
    /// How long it stays open before one probe call is let through.
    pub open_for: Duration,
}

impl Default for BreakerConfig {
    fn default() -> Self {
        BreakerConfig { threshold: 5, open_for: Duration::from_secs(30) }
    }
}

#[derive(Debug, Default)]
pub(crate) struct Breaker {
    failures: u32,
    open_until: Option<Instant>,
    probing: bool,
}

/// What the breaker says about a call about to be made.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Admit {
    Yes,
    /// The one half-open probe: its outcome closes or reopens the breaker.
    Probe,
    No {
        failures: u32,
        retry_in: Duration,
    },
}

impl Breaker {
    pub(crate) fn admit(&mut self, now: Instant) -> Admit {
        match self.open_until {
            None => Admit::Yes,
            Some(until) if now < until || self.probing => {
                Admit::No { failures: self.failures, retry_in: until.saturating_duration_since(now) }
            }
            Some(_) => {
                self.probing = true;
                Admit::Probe
            }
        }
    }

    pub(crate) fn success(&mut self) {
        *self = Breaker::default();
    }

    pub(crate) fn failure(&mut self, now: Instant, cfg: &BreakerConfig) {
        self.failures = self.failures.saturating_add(1);
        if self.probing || self.failures >= cfg.threshold {
            self.open_until = Some(now + cfg.open_for);
        }
        self.probing = false;
    }

    /// A probe that ended without a verdict (cancelled): let the next call probe.
    pub(crate) fn abandon_probe(&mut self) {
        self.probing = false;
    }

    pub(crate) fn reset(&mut self) {
        *self = Breaker::default();
    }
}

#[derive(Clone, Copy, Debug)]
pub struct BackoffConfig {
    pub initial: Duration,
    pub max: Duration,
}

impl Default for BackoffConfig {
    fn default() -> Self {
        BackoffConfig { initial: Duration::from_millis(500), max: Duration::from_secs(30) }
    }
}

/// Reconnect backoff: after a failed connection, no new attempt before `next`; the delay doubles.
#[derive(Debug, Default)]
pub(crate) struct Backoff {
    delay: Option<Duration>,
    pub(crate) next: Option<Instant>,
}

impl Backoff {
    pub(crate) fn failed(&mut self, now: Instant, cfg: &BackoffConfig) {
        let d = match self.delay {
            None => cfg.initial,
            Some(d) => (d * 2).min(cfg.max),
        };
        self.delay = Some(d);
        self.next = Some(now + d);
    }

    pub(crate) fn wait(&self, now: Instant) -> Option<Duration> {
        self.next.filter(|n| *n > now).map(|n| n - now)
    }

    pub(crate) fn reset(&mut self) {
        *self = Backoff::default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn opens_after_threshold_then_probes_once() {
        let cfg = BreakerConfig { threshold: 3, open_for: Duration::from_secs(10) };
        let t = Instant::now();
        let mut b = Breaker::default();
        for _ in 0..2 {
            assert_eq!(b.admit(t), Admit::Yes);
            b.failure(t, &cfg);
        }
        assert_eq!(b.admit(t), Admit::Yes);
        b.failure(t, &cfg);
        assert!(matches!(b.admit(t), Admit::No { failures: 3, .. }));
        let later = t + Duration::from_secs(11);
        assert_eq!(b.admit(later), Admit::Probe);
        assert!(matches!(b.admit(later), Admit::No { .. }), "only one probe at a time");
        b.failure(later, &cfg);
        assert!(
            matches!(b.admit(later + Duration::from_secs(1)), Admit::No { .. }),
            "a failed probe reopens"
        );
        let much_later = later + Duration::from_secs(20);
        assert_eq!(b.admit(much_later), Admit::Probe);
        b.success();
        assert_eq!(b.admit(much_later), Admit::Yes);
    }

    #[test]
    fn backoff_doubles_to_the_cap_and_resets() {
        let cfg = BackoffConfig { initial: Duration::from_millis(500), max: Duration::from_secs(2) };
        let t = Instant::now();
        let mut b = Backoff::default();
        let mut seen = Vec::new();
        for _ in 0..5 {
            b.failed(t, &cfg);
            seen.push(b.wait(t).unwrap().as_millis());
        }
        assert_eq!(seen, [500, 1000, 2000, 2000, 2000]);
        b.reset();
        assert_eq!(b.wait(t), None);
    }
}
