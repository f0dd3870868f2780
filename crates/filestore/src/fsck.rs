//! `quire fsck`: re-hash every stored chunk, check every manifest against the chunks it names, and
//! check the reference counts. `--repair` quarantines bad chunks, marks affected files damaged (and
//! clears the mark on files whose chunks verify again), records orphan blobs for GC and recomputes counts.

use crate::error::Result;
use crate::{FileStore, Hash, hex, now_ms};
use std::collections::{BTreeSet, HashMap};

#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct FsckReport {
    pub chunks_checked: usize,
    pub files_checked: usize,
    /// Chunks whose bytes do not hash to their name (hex).
    pub corrupt_chunks: Vec<String>,
    /// Chunks a manifest or the chunk table names but no blob holds (hex).
    pub missing_chunks: Vec<String>,
    /// Files that cannot be read back intact.
    pub damaged_files: Vec<String>,
    /// Blobs no chunk row knows (left by an upload that died before committing).
    pub orphan_blobs: usize,
    pub refcounts_fixed: usize,
    pub repaired: bool,
}

impl FsckReport {
    pub fn is_clean(&self) -> bool {
        self.corrupt_chunks.is_empty() && self.missing_chunks.is_empty() && self.damaged_files.is_empty()
    }
}

impl FileStore {
    pub fn fsck(&self, repair: bool) -> Result<FsckReport> {
        let mut r = FsckReport { repaired: repair, ..Default::default() };
        let known: HashMap<Hash, u64> = self.meta.all_chunks()?.into_iter().collect();
        let mut bad: BTreeSet<Hash> = BTreeSet::new();
        for hash in self.blobs.list()? {
            r.chunks_checked += 1;
            if let Err(detail) = self.verified_chunk(&hash) {
                tracing::error!(chunk = %hex(&hash), %detail, "fsck: chunk failed verification");
                r.corrupt_chunks.push(hex(&hash));
                bad.insert(hash);
                if repair {
                    self.blobs.quarantine(&hash)?;
                }
            } else if !known.contains_key(&hash) {
                r.orphan_blobs += 1;
                if repair {
                    let size = self.verified_chunk(&hash).map(|d| d.len()).unwrap_or(0) as u32;
                    self.meta.record_chunk(&hash, size, size, now_ms())?;
                }
            }
        }
        for hash in known.keys() {
            if !bad.contains(hash) && !self.blobs.exists(hash)? {
                r.missing_chunks.push(hex(hash));
                bad.insert(*hash);
            }
        }
        for id in self.meta.all_file_ids()? {
            r.files_checked += 1;
            let Some(f) = self.meta.file(&id)? else { continue };
            let chunks = self.meta.file_chunks(&id)?;
            let intact = match &f.inline {
                Some(d) => hex(blake3::hash(d).as_bytes()) == f.blake3 && d.len() as u64 == f.size,
                None => {
                    let mut expect = 0u64;
                    chunks.iter().all(|c| {
                        let ok = c.offset == expect && !bad.contains(&c.hash) && known.contains_key(&c.hash);
                        expect += c.len as u64;
                        ok
                    }) && expect == f.size
                }
            };
            if !intact {
                r.damaged_files.push(id.clone());
            }
            if repair && intact == f.damaged {
                self.meta.mark_damaged(&id, !intact)?;
            }
        }
        if repair {
            r.refcounts_fixed = self.meta.rebuild_refcounts(now_ms())?;
        }
        Ok(r)
    }
}
