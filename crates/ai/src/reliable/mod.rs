//! The reliability layer every provider call goes through ([`Reliable::chat`]):
//! - **a concurrency limit**: `max_concurrent` calls at once; a call that waits `queue_wait` for a
//!   slot fails with [`AiError::Busy`]. The slot is held until the [`GuardedStream`] is dropped.
//! - **a circuit breaker per provider and base URL**: `breaker_failures` failed calls in a row open
//!   it; for `breaker_cooldown` calls fail at once with [`AiError::BreakerOpen`]; then exactly one
//!   probe goes through, whose answer closes it and whose failure re-opens it. Only errors that say
//!   the provider is unhealthy count (transient ones and cut streams), never a refused key, an
//!   unknown model or a prompt over the context. [`Reliable::breakers`] is for `/health`.
//! - **retries** of connect errors, 429 and 5xx, with exponential backoff and full jitter, or the
//!   provider's `Retry-After` (up to `max_retry_after`; a longer wait goes back to the caller as
//!   `RateLimited` at once). Only before the first delta: text already streamed is never replayed.
//!   The breaker counts a call once, after its retries.
//! - **cancellation**: dropping the stream (or the `chat` future) drops the upstream connection
//!   and frees the slot at once.
//! - **usage**: `ai_requests_total`, `ai_retries_total`, `ai_tokens_total` and
//!   `ai_first_token_seconds` for `/metrics`, and [`Reliable::usage`] for the dashboard.
//!
//! The connect and first-byte timeouts are the client's ([`crate::Timeouts`]).

mod breaker;
mod guarded;
mod usage;

pub use breaker::BreakerStatus;
pub use guarded::GuardedStream;
pub use usage::UsageRow;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tokio::sync::Semaphore;

use crate::client::AiClient;
use crate::error::AiError;
use crate::provider::Endpoint;
use crate::stream::{ChatRequest, ChatStream};
use breaker::{Admit, Breakers, Key};
use guarded::{Call, Resend};
use usage::UsageTable;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// Retries after the first attempt.
    pub retries: u32,
    /// The first backoff's upper bound; it doubles each retry, up to `max_delay`.
    pub base_delay: Duration,
    pub max_delay: Duration,
    /// A longer `Retry-After` is returned to the caller as `RateLimited` at once.
    pub max_retry_after: Duration,
    pub max_concurrent: usize,
    /// Waiting longer than this for a slot is [`AiError::Busy`].
    pub queue_wait: Duration,
    /// Failed calls in a row that open a provider's breaker.
    pub breaker_failures: u32,
    pub breaker_cooldown: Duration,
}

impl Default for Policy {
    fn default() -> Policy {
        Policy {
            retries: 2,
            base_delay: Duration::from_millis(250),
            max_delay: Duration::from_secs(8),
            max_retry_after: Duration::from_secs(20),
            max_concurrent: 8,
            queue_wait: Duration::from_secs(10),
            breaker_failures: 5,
            breaker_cooldown: Duration::from_secs(30),
        }
    }
}

/// The client behind its limits; clones share the slots, breakers and usage.
#[derive(Clone)]
pub struct Reliable {
    inner: Arc<Inner>,
}

struct Inner {
    client: AiClient,
    policy: Policy,
    slots: Arc<Semaphore>,
    breakers: Breakers,
    usage: UsageTable,
}

const _: () = {
    const fn is_send_sync<T: Send + Sync>() {}
    is_send_sync::<Reliable>();
};

impl std::fmt::Debug for Reliable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Reliable").field("policy", &self.inner.policy).finish_non_exhaustive()
    }
}

impl Reliable {
    pub fn new(client: AiClient, policy: Policy) -> Reliable {
        let slots = Arc::new(Semaphore::new(policy.max_concurrent.max(1)));
        let breakers = Breakers::new(policy.breaker_failures, policy.breaker_cooldown);
        Reliable { inner: Arc::new(Inner { client, policy, slots, breakers, usage: UsageTable::default() }) }
    }

    pub fn client(&self) -> &AiClient {
        &self.inner.client
    }

    pub fn policy(&self) -> &Policy {
        &self.inner.policy
    }

    /// Acquire a slot, check the breaker, send with retries. The answer streams from the returned
    /// [`GuardedStream`]; an error before its first delta may still be retried there.
    pub async fn chat(&self, endpoint: &Endpoint, request: &ChatRequest) -> Result<GuardedStream, AiError> {
        let started = Instant::now();
        let inner = &*self.inner;
        let provider = endpoint.provider.setting();
        let key: Key = (provider, endpoint.base_url.clone());
        let refuse = |e: AiError| {
            inner.usage.request(provider, &request.model, e.code());
            Err(e)
        };
        // Fail fast when open, rather than after queueing for a slot.
        if let Err(e) = inner.breakers.check(&key) {
            return refuse(e);
        }
        let permit =
            match tokio::time::timeout(inner.policy.queue_wait, inner.slots.clone().acquire_owned()).await {
                Ok(Ok(permit)) => permit,
                _ => return refuse(AiError::Busy { waited: started.elapsed() }),
            };
        let admit = match inner.breakers.admit(&key) {
            Ok(admit) => admit,
            Err(e) => return refuse(e),
        };
        let mut call = Call::new(self.clone(), key, request.model.clone(), started, admit, permit);
        let mut retries = 0;
        match self.send(endpoint, request, &mut retries, &call).await {
            Ok(stream) => {
                let resend = (retries < inner.policy.retries && admit == Admit::Normal).then(|| {
                    Box::new(Resend { endpoint: endpoint.clone(), request: request.clone(), retries })
                });
                Ok(GuardedStream::new(stream, resend, call))
            }
            Err(e) => {
                call.failed(&e);
                Err(e)
            }
        }
    }

    /// Every breaker that has seen a call, by provider and base URL.
    pub fn breakers(&self) -> Vec<BreakerStatus> {
        self.inner.breakers.statuses()
    }

    /// Totals by provider and model since this `Reliable` was made.
    pub fn usage(&self) -> Vec<UsageRow> {
        self.inner.usage.rows()
    }

    /// One attempt and its retries; `retries` counts those spent (across calls of one stream).
    pub(crate) async fn send(
        &self,
        endpoint: &Endpoint,
        request: &ChatRequest,
        retries: &mut u32,
        call: &Call,
    ) -> Result<ChatStream, AiError> {
        loop {
            match self.inner.client.chat(endpoint, request).await {
                Ok(stream) => return Ok(stream),
                Err(e) => {
                    if !self.pause(&e, retries, call).await {
                        return Err(e);
                    }
                }
            }
        }
    }

    /// Wait before retrying after `e`, or `false` when it is not to be retried.
    pub(crate) async fn pause(&self, e: &AiError, retries: &mut u32, call: &Call) -> bool {
        let policy = &self.inner.policy;
        // A probe is one request: its answer alone decides the breaker.
        if *retries >= policy.retries || call.is_probe() {
            return false;
        }
        let wait = match e {
            AiError::RateLimited { retry_after: Some(wait), .. } if *wait > policy.max_retry_after => {
                return false;
            }
            AiError::RateLimited { retry_after: Some(wait), .. } => *wait,
            AiError::RateLimited { retry_after: None, .. } | AiError::Unreachable { .. } => {
                self.backoff(*retries)
            }
            AiError::Upstream { status, .. } if *status >= 500 => self.backoff(*retries),
            _ => return false,
        };
        // Another call opened the breaker meanwhile: stop adding load.
        if self.inner.breakers.is_open(call.key()) {
            return false;
        }
        *retries += 1;
        self.inner.usage.retry(call.key().0);
        tokio::time::sleep(wait).await;
        true
    }

    /// Full jitter: uniform in `[0, min(max_delay, base_delay * 2^retry)]`.
    fn backoff(&self, retry: u32) -> Duration {
        let policy = &self.inner.policy;
        let cap = policy.base_delay.saturating_mul(1u32 << retry.min(20)).min(policy.max_delay);
        // Without an OS random source, the whole delay.
        let r = u64::from_le_bytes(quire_stdx::random::try_bytes::<8>().unwrap_or([0xff; 8]));
        cap.mul_f64(r as f64 / u64::MAX as f64)
    }

    pub(crate) fn breakers_ref(&self) -> &Breakers {
        &self.inner.breakers
    }

    pub(crate) fn usage_ref(&self) -> &UsageTable {
        &self.inner.usage
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_is_full_jitter_under_a_doubling_cap() {
        let policy = Policy {
            base_delay: Duration::from_millis(100),
            max_delay: Duration::from_millis(350),
            ..Policy::default()
        };
        let r = Reliable::new(AiClient::new(crate::Timeouts::default()).unwrap(), policy);
        for (retry, cap) in [(0, 100), (1, 200), (2, 350), (30, 350)] {
            let delays: Vec<Duration> = (0..200).map(|_| r.backoff(retry)).collect();
            assert!(delays.iter().all(|d| *d <= Duration::from_millis(cap)), "{retry}: {delays:?}");
            assert!(delays.iter().any(|d| *d < Duration::from_millis(cap / 2)), "jittered: {delays:?}");
        }
    }
}
