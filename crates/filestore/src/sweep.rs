//! Background maintenance: expired files go, expired tus uploads go, and chunks whose count has been 0
//! for the grace period are deleted (never a chunk an upload in progress has pinned).

use crate::error::Result;
use crate::{FileStore, lock, now_ms};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct ScrubReport {
    pub checked: usize,
    pub corrupt: usize,
    /// The walk reached the last chunk and starts over next time.
    pub wrapped: bool,
}

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_files: usize,
    pub expired_uploads: usize,
    pub chunks_deleted: usize,
}

impl FileStore {
    /// Verify up to `budget` stored bytes of chunks, continuing where the last step stopped (the
    /// sweeper calls it every minute, so the whole store is re-read slowly and continuously). A bad
    /// chunk is quarantined and every file that uses it is marked damaged.
    pub fn scrub_step(&self, budget: u64) -> Result<ScrubReport> {
        let mut r = ScrubReport::default();
        let mut cursor = *lock(&self.scrub_cursor);
        let mut spent = 0u64;
        while spent < budget {
            let batch = self.meta.chunks_after(cursor.as_ref(), 64)?;
            if batch.is_empty() {
                r.wrapped = true;
                cursor = None;
                break;
            }
            for (hash, stored) in batch {
                cursor = Some(hash);
                spent += stored.max(1);
                r.checked += 1;
                if lock(&self.pins).contains_key(&hash) {
                    continue; // an upload in progress may be (re)writing it
                }
                if let Err(detail) = self.verified_chunk(&hash) {
                    r.corrupt += 1;
                    tracing::error!(chunk = %crate::hex(&hash), %detail, "scrub: chunk failed verification");
                    self.blobs.quarantine(&hash)?;
                    for id in self.meta.files_with_chunk(&hash)? {
                        self.meta.mark_damaged(&id, true)?;
                    }
                }
                if spent >= budget {
                    break;
                }
            }
        }
        *lock(&self.scrub_cursor) = cursor;
        Ok(r)
    }

    /// Adopt blobs that no chunk row knows (an upload died between writing chunks and committing) as
    /// unreferenced chunks, so GC removes them after the grace period. Chunks pinned by uploads in
    /// progress are left alone. Returns how many were adopted.
    pub fn adopt_orphans(&self) -> Result<usize> {
        let known: std::collections::HashSet<crate::Hash> =
            self.meta.all_chunks()?.into_iter().map(|(h, _)| h).collect();
        let mut n = 0;
        for hash in self.blobs.list()? {
            let pins = lock(&self.pins);
            if known.contains(&hash) || pins.contains_key(&hash) {
                continue;
            }
            // Sizes are informational; 0 marks "adopted, not measured".
            self.meta.record_chunk(&hash, 0, 0, now_ms())?;
            n += 1;
        }
        Ok(n)
    }

    pub fn sweep(&self) -> Result<SweepReport> {
        self.sweep_at(now_ms())
    }

    /// One pass at time `now` (tests pass a future time instead of waiting).
    pub fn sweep_at(&self, now: i64) -> Result<SweepReport> {
        let mut r = SweepReport::default();
        loop {
            let ids = self.meta.expired_files(now, 500)?;
            if ids.is_empty() {
                break;
            }
            for id in ids {
                self.meta.delete_file(&id, now)?;
                r.expired_files += 1;
            }
        }
        for id in self.meta.expired_uploads(now)? {
            if self.delete_upload_data(&id).is_ok() {
                r.expired_uploads += 1;
            }
        }
        let cutoff = now - self.config.gc_grace_ms;
        loop {
            let candidates = self.meta.gc_candidates(cutoff, 500)?;
            let mut progressed = false;
            for hash in candidates {
                let pins = lock(&self.pins);
                if pins.contains_key(&hash) {
                    continue;
                }
                if self.meta.forget_chunk(&hash, cutoff)? {
                    self.blobs.delete(&hash)?;
                    r.chunks_deleted += 1;
                    progressed = true;
                }
                drop(pins);
            }
            if !progressed {
                break;
            }
        }
        self.meta.idem_prune(now - self.config.idempotency_ttl_ms, false)?;
        Ok(r)
    }
}
