//! Download path: pieces of a byte range, one chunk at a time, each chunk re-hashed before any of its
//! bytes leave. A mismatch marks the file damaged and fails with `Corrupt`.

use crate::error::{FileStoreError, Result};
use crate::meta::{ChunkRef, FileRecord};
use crate::{FileStore, Hash, blob};
use std::sync::Arc;

pub struct RangeReader {
    store: Arc<FileStore>,
    file: FileRecord,
    chunks: Vec<ChunkRef>,
    next: usize,
    start: u64,
    end: u64,
    done: bool,
}

impl FileStore {
    /// Bytes `start..end` (end exclusive, clamped) of a file the caller may read.
    pub fn read_range(self: &Arc<Self>, file: FileRecord, start: u64, end: u64) -> Result<RangeReader> {
        let end = end.min(file.size);
        let chunks = if file.inline.is_some() { Vec::new() } else { self.meta.file_chunks(&file.id)? };
        let next = chunks.partition_point(|c| c.offset + c.len as u64 <= start);
        Ok(RangeReader { store: self.clone(), file, chunks, next, start, end, done: start >= end })
    }

    /// Fetch, decode and verify one chunk.
    pub(crate) fn verified_chunk(&self, hash: &Hash) -> std::result::Result<Vec<u8>, String> {
        let result = self.verify_chunk(hash);
        let outcome = if result.is_ok() { "ok" } else { "failed" };
        metrics::counter!("chunk_verifications_total", "result" => outcome).increment(1);
        result
    }

    fn verify_chunk(&self, hash: &Hash) -> std::result::Result<Vec<u8>, String> {
        let stored = match self.blobs.get(hash) {
            Ok(Some(s)) => s,
            Ok(None) => return Err("chunk is missing".into()),
            Err(e) => return Err(format!("chunk unreadable: {e}")),
        };
        let data = blob::decode(stored)?;
        if blake3::hash(&data).as_bytes() != hash {
            return Err("BLAKE3 mismatch".into());
        }
        Ok(data)
    }

    fn damaged(&self, file: &FileRecord, chunk: Hash, detail: String) -> FileStoreError {
        tracing::error!(file_id = %file.id, chunk = %crate::hex(&chunk), %detail, "stored data failed verification");
        if let Err(e) = self.meta.mark_damaged(&file.id, true) {
            tracing::error!(error = %e, "could not mark the file damaged");
        }
        FileStoreError::Corrupt { file_id: file.id.clone(), chunk, detail }
    }
}

impl RangeReader {
    pub fn file(&self) -> &FileRecord {
        &self.file
    }

    /// The next piece of the range, `None` at its end.
    pub fn next_piece(&mut self) -> Option<Result<Vec<u8>>> {
        if self.done {
            return None;
        }
        if let Some(data) = &self.file.inline {
            self.done = true;
            if crate::hex(blake3::hash(data).as_bytes()) != self.file.blake3 {
                return Some(Err(self.store.damaged(&self.file, [0; 32], "inline data mismatch".into())));
            }
            return Some(Ok(data[self.start as usize..self.end as usize].to_vec()));
        }
        let Some(c) = self.chunks.get(self.next).copied() else {
            self.done = true;
            return None;
        };
        self.next += 1;
        let data = match self.store.verified_chunk(&c.hash) {
            Ok(d) if d.len() == c.len as usize => d,
            Ok(_) => {
                self.done = true;
                return Some(Err(self.store.damaged(&self.file, c.hash, "chunk length mismatch".into())));
            }
            Err(detail) => {
                self.done = true;
                return Some(Err(self.store.damaged(&self.file, c.hash, detail)));
            }
        };
        let from = self.start.saturating_sub(c.offset) as usize;
        let to = ((self.end - c.offset) as usize).min(data.len());
        if c.offset + c.len as u64 >= self.end {
            self.done = true;
        }
        let mut data = data;
        if from > 0 || to < data.len() {
            data = data[from..to].to_vec();
        }
        Some(Ok(data))
    }
}

impl Iterator for RangeReader {
    type Item = Result<Vec<u8>>;
    fn next(&mut self) -> Option<Self::Item> {
        self.next_piece()
    }
}
