//! Background maintenance: expired files go, expired tus uploads go, and chunks whose count has been 0
//! for the grace period are deleted (never a chunk an upload in progress has pinned).

use crate::error::Result;
use crate::{FileStore, lock, now_ms};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct SweepReport {
    pub expired_files: usize,
    pub expired_uploads: usize,
    pub chunks_deleted: usize,
}

impl FileStore {
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
