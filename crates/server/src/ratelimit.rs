//! Rate limits with GCRA (a token bucket kept as one timestamp per key): per client IP, a general limit
//! on every request and a strict one on failed token attempts (brute force); per file-store user, a
//! limit on their requests (so one account cannot hog the store from many addresses). Over the limit:
//! 429 with `Retry-After` (`ApiError::rate_limited`).

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct Gcra<K = IpAddr> {
    /// Time one request "costs" (1 / rate).
    interval: Duration,
    /// How far ahead of now the theoretical arrival time may run (the burst).
    tolerance: Duration,
    tat: Mutex<HashMap<K, Instant>>,
}

/// Keys idle this long are forgotten, so the map stays bounded by recent clients.
const SWEEP_AT: usize = 10_000;

impl<K: std::hash::Hash + Eq> Gcra<K> {
    /// `per_second` requests per second on average, `burst` at once.
    pub fn new(per_second: f64, burst: u32) -> Gcra<K> {
        let interval = Duration::from_secs_f64(1.0 / per_second.max(1e-6));
        Gcra { interval, tolerance: interval * burst.saturating_sub(1), tat: Mutex::default() }
    }

    /// Count one request from `ip` (or any key); `Err(retry_after)` when over the limit (nothing is
    /// counted then).
    pub fn check(&self, ip: K, now: Instant) -> Result<(), Duration> {
        let mut map = quire_stdx::lock(&self.tat);
        if map.len() >= SWEEP_AT {
            map.retain(|_, t| *t > now);
        }
        let tat = map.get(&ip).copied().unwrap_or(now).max(now);
        let allow_at = tat.checked_sub(self.tolerance).unwrap_or(now);
        if allow_at > now {
            return Err(allow_at - now);
        }
        map.insert(ip, tat + self.interval);
        Ok(())
    }
}

impl<K: std::hash::Hash + Eq> Gcra<K> {
    /// Give back one request counted by `check` (it turned out not to count: a correct password).
    pub fn refund(&self, key: &K) {
        let mut map = quire_stdx::lock(&self.tat);
        if let Some(t) = map.get_mut(key) {
            *t = t.checked_sub(self.interval).unwrap_or(*t);
        }
    }
}

/// Whole seconds to wait (at least 1), for `Retry-After`.
pub fn retry_secs(retry: Duration) -> u64 {
    (retry.as_secs() + u64::from(retry.subsec_nanos() > 0)).max(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn burst_then_steady_rate() {
        let g = Gcra::new(10.0, 3);
        let ip: IpAddr = "10.0.0.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(g.check(ip, t0).is_ok());
        }
        let wait = g.check(ip, t0).unwrap_err();
        assert!(wait <= Duration::from_millis(100) && wait > Duration::ZERO, "{wait:?}");
        assert!(g.check(ip, t0 + Duration::from_millis(100)).is_ok());
        assert!(g.check("10.0.0.2".parse().unwrap(), t0).is_ok(), "keys are independent");
        let users: Gcra<String> = Gcra::new(1.0, 1);
        assert!(users.check("u1".into(), t0).is_ok());
        assert!(users.check("u1".into(), t0).is_err());
        assert!(users.check("u2".into(), t0).is_ok());
        users.refund(&"u1".to_string());
        assert!(users.check("u1".into(), t0).is_ok(), "a refunded request does not count");
    }
}
