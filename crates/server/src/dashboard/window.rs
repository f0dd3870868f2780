//! The rolling window behind the dashboard: one slot per second for the last minute, each with a
//! request count, error counts and a log-linear latency histogram (4 buckets per doubling, so a
//! percentile is within ~12% of the true value). Recording is a few adds under a short mutex.

/// The dashboard's longest span in seconds.
pub const SECONDS: u64 = 60;
/// Slots in the ring: one more than the span, so the current second, still filling, never overwrites
/// the oldest completed second of the per-second series.
const SLOTS: u64 = SECONDS + 1;
/// Four sub-buckets per power of two of microseconds, up to ~33 hours.
const BUCKETS: usize = 144;

/// Histogram bucket of a latency in microseconds: exact below 4 µs, then 4 per doubling.
fn bucket_of(us: u64) -> usize {
    if us < 4 {
        return us as usize;
    }
    let octave = 63 - us.leading_zeros() as usize; // >= 2
    let sub = ((us >> (octave - 2)) & 3) as usize;
    ((octave - 1) * 4 + sub).min(BUCKETS - 1)
}

/// `[low, high)` of a bucket in microseconds.
fn bucket_range(i: usize) -> (u64, u64) {
    if i < 4 {
        return (i as u64, i as u64 + 1);
    }
    let (octave, sub) = (i / 4 + 1, (i % 4) as u64);
    let width = 1u64 << (octave - 2);
    ((4 + sub) * width, (5 + sub) * width)
}

#[derive(Clone)]
struct Slot {
    /// Which second (since start) the slot holds; a slot left from an older lap counts as empty.
    second: u64,
    count: u32,
    client_errors: u32,
    server_errors: u32,
    min_us: u64,
    max_us: u64,
    hist: [u32; BUCKETS],
}

impl Slot {
    fn empty(second: u64) -> Self {
        Slot {
            second,
            count: 0,
            client_errors: 0,
            server_errors: 0,
            min_us: u64::MAX,
            max_us: 0,
            hist: [0; BUCKETS],
        }
    }
}

/// Figures over a span of seconds.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Summary {
    pub requests: u64,
    pub client_errors: u64,
    pub server_errors: u64,
    /// Latency percentiles in milliseconds; `None` without samples.
    pub p50_ms: Option<f64>,
    pub p95_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub max_ms: Option<f64>,
}

pub struct Window {
    slots: Vec<Slot>,
    pub total: u64,
    pub total_client_errors: u64,
    pub total_server_errors: u64,
}

impl Default for Window {
    fn default() -> Self {
        // Slot i starts out holding second i (empty), so no slot is mistaken for a later second.
        Window {
            slots: (0..SLOTS).map(Slot::empty).collect(),
            total: 0,
            total_client_errors: 0,
            total_server_errors: 0,
        }
    }
}

impl Window {
    /// One finished request at `second` (since start) that took `us` microseconds; `None` for one
    /// refused before it was timed (it counts, but adds no latency sample).
    pub fn record(&mut self, second: u64, us: Option<u64>, status: u16) {
        let slot = &mut self.slots[(second % SLOTS) as usize];
        if slot.second != second {
            *slot = Slot::empty(second);
        }
        slot.count += 1;
        if let Some(us) = us {
            slot.min_us = slot.min_us.min(us);
            slot.max_us = slot.max_us.max(us);
            slot.hist[bucket_of(us)] += 1;
        }
        self.total += 1;
        match status {
            400..=499 => {
                slot.client_errors += 1;
                self.total_client_errors += 1;
            }
            500..=599 => {
                slot.server_errors += 1;
                self.total_server_errors += 1;
            }
            _ => {}
        }
    }

    fn slot(&self, second: u64) -> Option<&Slot> {
        let s = &self.slots[(second % SLOTS) as usize];
        (s.second == second).then_some(s)
    }

    /// Figures over the seconds `first..=last` (only those still in the window count).
    pub fn summary(&self, first: u64, last: u64) -> Summary {
        let first = first.max(last.saturating_sub(SLOTS - 1));
        let mut hist = [0u64; BUCKETS];
        let mut sum = Summary::default();
        let (mut min_us, mut max_us) = (u64::MAX, 0);
        for s in (first..=last).filter_map(|sec| self.slot(sec)) {
            sum.requests += s.count as u64;
            sum.client_errors += s.client_errors as u64;
            sum.server_errors += s.server_errors as u64;
            min_us = min_us.min(s.min_us);
            max_us = max_us.max(s.max_us);
            for (h, c) in hist.iter_mut().zip(s.hist.iter()) {
                *h += *c as u64;
            }
        }
        let samples: u64 = hist.iter().sum();
        if samples > 0 {
            let q = |p: f64| Some(quantile(&hist, samples, p, (min_us, max_us)));
            (sum.p50_ms, sum.p95_ms, sum.p99_ms) = (q(0.50), q(0.95), q(0.99));
            sum.max_ms = Some(max_us as f64 / 1000.0);
        }
        sum
    }
}

/// The `p` quantile in milliseconds: the middle of the bucket holding the rank, kept within the
/// smallest and largest samples seen (so a lone 3 ms request reads 3 ms, not its bucket's middle).
fn quantile(hist: &[u64; BUCKETS], n: u64, p: f64, (min_us, max_us): (u64, u64)) -> f64 {
    let rank = ((p * n as f64).ceil() as u64).clamp(1, n);
    let mut seen = 0;
    for (i, c) in hist.iter().enumerate() {
        seen += c;
        if seen >= rank {
            let (lo, hi) = bucket_range(i);
            let mid = (lo as f64 + hi as f64) / 2.0;
            return mid.clamp(min_us as f64, max_us as f64) / 1000.0;
        }
    }
    max_us as f64 / 1000.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_contain_their_values() {
        let mut prev_high = 0;
        for i in 0..BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert_eq!(lo, prev_high, "gap before bucket {i}");
            assert!(hi > lo);
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi - 1), i);
            prev_high = hi;
        }
        assert_eq!(bucket_of(u64::MAX), BUCKETS - 1);
        // 4 per doubling: a bucket is at most 25% wide relative to its low edge.
        for i in 8..BUCKETS {
            let (lo, hi) = bucket_range(i);
            assert!((hi - lo) as f64 / lo as f64 <= 0.25 + 1e-9);
        }
    }

    #[test]
    fn percentiles_land_within_the_bucket_error() {
        let mut w = Window::default();
        // 1..=1000 ms, one each, spread over ten seconds.
        for ms in 1..=1000u64 {
            w.record(ms % 10, Some(ms * 1000), 200);
        }
        let s = w.summary(0, 9);
        assert_eq!(s.requests, 1000);
        for (got, want) in [(s.p50_ms, 500.0), (s.p95_ms, 950.0), (s.p99_ms, 990.0)] {
            let got = got.unwrap();
            assert!((got - want).abs() / want < 0.125, "got {got}, want ~{want}");
        }
        assert_eq!(s.max_ms, Some(1000.0));
    }

    #[test]
    fn a_lone_sample_reads_as_itself() {
        let mut w = Window::default();
        w.record(3, Some(3_000), 200);
        let s = w.summary(0, 3);
        assert_eq!((s.p50_ms, s.p99_ms, s.max_ms), (Some(3.0), Some(3.0), Some(3.0)));
        assert_eq!(Window::default().summary(0, 59), Summary::default());
    }

    #[test]
    fn refused_requests_count_without_a_latency_sample() {
        let mut w = Window::default();
        w.record(1, Some(2_000), 200);
        w.record(1, None, 429);
        let s = w.summary(0, 1);
        assert_eq!((s.requests, s.client_errors), (2, 1));
        assert_eq!((s.p50_ms, s.max_ms), (Some(2.0), Some(2.0)));
        let mut only_refused = Window::default();
        only_refused.record(0, None, 429);
        assert_eq!(only_refused.summary(0, 0).p50_ms, None);
    }

    #[test]
    fn errors_are_counted_by_class_in_the_span_and_in_totals() {
        let mut w = Window::default();
        for (sec, status) in [(0, 200), (1, 404), (1, 401), (2, 500), (2, 503), (2, 302)] {
            w.record(sec, Some(100), status);
        }
        let s = w.summary(0, 2);
        assert_eq!((s.requests, s.client_errors, s.server_errors), (6, 2, 2));
        let s = w.summary(2, 2);
        assert_eq!((s.requests, s.client_errors, s.server_errors), (3, 0, 2));
        assert_eq!((w.total, w.total_client_errors, w.total_server_errors), (6, 2, 2));
    }

    #[test]
    fn the_current_second_keeps_the_oldest_completed_one() {
        let mut w = Window::default();
        w.record(0, Some(100), 200);
        w.record(60, Some(100), 200);
        // At second 60 the series covers 0..=59: second 0 still reads its request.
        assert_eq!(w.summary(0, 0).requests, 1);
        assert_eq!(w.summary(0, 60).requests, 2);
    }

    #[test]
    fn old_seconds_fall_out_of_the_window() {
        let mut w = Window::default();
        w.record(5, Some(100), 500);
        assert_eq!(w.summary(5, 65).requests, 1);
        // Second 66 reuses second 5's slot: the old data is gone from every span.
        w.record(66, Some(100), 200);
        let s = w.summary(6, 66);
        assert_eq!((s.requests, s.server_errors), (1, 0));
        assert_eq!(w.summary(0, 10).requests, 0, "second 5 was overwritten");
        // A span longer than the ring is cut to it; a slot not rewritten for a lap is stale.
        assert_eq!(w.summary(0, 127).requests, 0);
        assert_eq!(w.total, 2, "totals keep everything");
    }
}
