//! Password work (Argon2id: ~19 MiB and tens of ms per hash) on two dedicated threads with a bounded
//! queue. Why not `spawn_blocking`: each blocking thread that hashes keeps its ~19 MiB in its own
//! malloc arena afterwards, so a login flood spread over hundreds of threads grew RSS by gigabytes.
//! Here memory is bounded by the thread count, and a full queue is a clear 429, not a pile-up.

use crate::error::{ApiError, ApiResult, Code};
use quire_filestore::FileStoreError;
use std::sync::mpsc::{Receiver, SyncSender, TrySendError, sync_channel};
use std::sync::{Arc, Mutex};

type Job = Box<dyn FnOnce() + Send>;

pub struct PasswordWorkers {
    jobs: SyncSender<Job>,
}

/// Sign-ins waiting for a thread at most; each waits ~20–40 ms per one ahead of it.
const QUEUE: usize = 64;

impl PasswordWorkers {
    pub fn start(threads: usize) -> Self {
        let (jobs, rx) = sync_channel::<Job>(QUEUE);
        let rx = Arc::new(Mutex::new(rx));
        for i in 0..threads.max(1) {
            let rx: Arc<Mutex<Receiver<Job>>> = rx.clone();
            let spawned = std::thread::Builder::new().name(format!("quire-password-{i}")).spawn(move || {
                loop {
                    let job = quire_stdx::lock(&rx).recv();
                    match job {
                        Ok(job) => job(),
                        Err(_) => return, // the server is gone
                    }
                }
            });
            if let Err(e) = spawned {
                tracing::error!(error = %e, "could not start a password thread");
            }
        }
        PasswordWorkers { jobs }
    }

    /// Run `f` (which hashes or verifies a password) on a password thread.
    pub async fn run<T: Send + 'static>(
        &self,
        f: impl FnOnce() -> Result<T, FileStoreError> + Send + 'static,
    ) -> ApiResult<T> {
        let (tx, rx) = tokio::sync::oneshot::channel();
        let job: Job = Box::new(move || {
            let _ = tx.send(f());
        });
        match self.jobs.try_send(job) {
            Ok(()) => {}
            Err(TrySendError::Full(_)) => {
                return Err(ApiError::too_many(
                    Code::RateLimited,
                    "The server is busy checking other sign-ins; try again shortly",
                    std::time::Duration::from_secs(1),
                ));
            }
            Err(TrySendError::Disconnected(_)) => {
                return Err(ApiError::internal("no password thread is running"));
            }
        }
        match rx.await {
            Ok(r) => r.map_err(ApiError::from),
            Err(_) => Err(ApiError::internal("the password check failed")),
        }
    }
}
