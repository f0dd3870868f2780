//! Every `MetadataStore` role in memory. One mutex over the whole state stands in for SQLite's
//! transactions: each call checks everything that can fail before it changes anything, so a failed
//! call (a commit naming an unrecorded chunk, say) leaves the state as it was. For tests, and as the
//! reference a Postgres backend is checked against; compiled in always (no dependencies of its own).

use crate::error::{FileStoreError, Result};
use crate::meta::*;
use crate::{Hash, random_id};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Mutex, MutexGuard};

#[derive(Default)]
pub struct MemoryMeta {
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    chunks: BTreeMap<Hash, Chunk>,
    files: BTreeMap<String, FileRecord>,
    /// Each file's chunks in file order.
    file_chunks: BTreeMap<String, Vec<ChunkRef>>,
    /// Uploads committed per `(user, day)`.
    daily: BTreeMap<(String, i64), u64>,
    idempotency: BTreeMap<(String, String), IdemKey>,
    uploads: BTreeMap<String, UploadRecord>,
}

struct Chunk {
    size: u32,
    stored_size: u32,
    refcount: i64,
    zero_since: Option<i64>,
}

struct IdemKey {
    done: bool,
    fingerprint: Option<String>,
    file_id: String,
    created_at: i64,
}

impl IdemKey {
    fn state(&self) -> IdemState {
        match (&self.fingerprint, self.done) {
            (Some(fp), true) => IdemState::Done { file_id: self.file_id.clone(), fingerprint: fp.clone() },
            _ => IdemState::InFlight { file_id: self.file_id.clone() },
        }
    }
}

impl MemoryMeta {
    pub fn new() -> Self {
        Self::default()
    }

    fn state(&self) -> MutexGuard<'_, State> {
        // No method panics halfway through a change, so a poisoned lock still guards a consistent state.
        quire_stdx::lock(&self.state)
    }
}

fn collectable(c: &Chunk, cutoff: i64) -> bool {
    c.refcount <= 0 && c.zero_since.is_some_and(|t| t < cutoff)
}

fn live(f: &FileRecord, now: i64) -> bool {
    f.expires_at.is_none_or(|t| t > now)
}

fn key(user_id: &str, key: &str) -> (String, String) {
    (user_id.to_string(), key.to_string())
}

impl ChunkStore for MemoryMeta {
    fn chunk_exists(&self, hash: &Hash) -> Result<bool> {
        Ok(self.state().chunks.contains_key(hash))
    }

    fn record_chunk(&self, hash: &Hash, size: u32, stored_size: u32, now: i64) -> Result<()> {
        let mut st = self.state();
        let c = st.chunks.entry(*hash).or_insert(Chunk { size, stored_size, refcount: 0, zero_since: None });
        c.zero_since = (c.refcount == 0).then_some(now);
        Ok(())
    }

    fn gc_candidates(&self, cutoff: i64, limit: usize) -> Result<Vec<Hash>> {
        let st = self.state();
        Ok(st.chunks.iter().filter(|(_, c)| collectable(c, cutoff)).map(|(h, _)| *h).take(limit).collect())
    }

    fn forget_chunk(&self, hash: &Hash, cutoff: i64) -> Result<bool> {
        let mut st = self.state();
        let gone = st.chunks.get(hash).is_some_and(|c| collectable(c, cutoff));
        if gone {
            st.chunks.remove(hash);
        }
        Ok(gone)
    }

    fn chunks_after(&self, cursor: Option<&Hash>, limit: usize) -> Result<Vec<(Hash, u64)>> {
        let st = self.state();
        let after = |h: &Hash| cursor.is_none_or(|c| h > c);
        Ok(st
            .chunks
            .iter()
            .filter(|(h, _)| after(h))
            .take(limit)
            .map(|(h, c)| (*h, u64::from(c.stored_size)))
            .collect())
    }

    fn files_with_chunk(&self, hash: &Hash) -> Result<Vec<String>> {
        let st = self.state();
        Ok(st
            .file_chunks
            .iter()
            .filter(|(_, refs)| refs.iter().any(|r| r.hash == *hash))
            .map(|(id, _)| id.clone())
            .collect())
    }

    fn all_chunks(&self) -> Result<Vec<(Hash, u64)>> {
        Ok(self.state().chunks.iter().map(|(h, c)| (*h, u64::from(c.size))).collect())
    }

    fn rebuild_refcounts(&self, now: i64) -> Result<usize> {
        let mut st = self.state();
        let mut actual: BTreeMap<Hash, i64> = BTreeMap::new();
        for r in st.file_chunks.values().flatten() {
            *actual.entry(r.hash).or_default() += 1;
        }
        let mut changed = 0;
        for (h, c) in st.chunks.iter_mut() {
            let n = actual.get(h).copied().unwrap_or(0);
            if c.refcount != n {
                c.refcount = n;
                c.zero_since = if n == 0 { c.zero_since.or(Some(now)) } else { None };
                changed += 1;
            }
        }
        Ok(changed)
    }
}

impl FileIndex for MemoryMeta {
    fn file(&self, id: &str) -> Result<Option<FileRecord>> {
        Ok(self.state().files.get(id).cloned())
    }

    fn file_chunks(&self, id: &str) -> Result<Vec<ChunkRef>> {
        Ok(self.state().file_chunks.get(id).cloned().unwrap_or_default())
    }

    fn delete_file(&self, id: &str, now: i64) -> Result<bool> {
        let mut st = self.state();
        let refs = st.file_chunks.remove(id).unwrap_or_default();
        for r in refs {
            if let Some(c) = st.chunks.get_mut(&r.hash) {
                c.refcount -= 1;
                c.zero_since = (c.refcount <= 0).then_some(now);
            }
        }
        Ok(st.files.remove(id).is_some())
    }

    fn set_public(&self, id: &str, public: bool) -> Result<()> {
        if let Some(f) = self.state().files.get_mut(id) {
            f.public = public;
        }
        Ok(())
    }

    fn mark_damaged(&self, id: &str, damaged: bool) -> Result<()> {
        if let Some(f) = self.state().files.get_mut(id) {
            f.damaged = damaged;
        }
        Ok(())
    }

    fn list(&self, by: ListBy<'_>, viewer: Viewer<'_>, now: i64) -> Result<Vec<FileRecord>> {
        let matches = |f: &FileRecord| match by {
            ListBy::Owner(o) => f.owner.as_deref() == Some(o),
            ListBy::Extension(e) => f.extension == e.to_ascii_lowercase(),
            ListBy::BaseType(t) => base_type(&f.content_type) == base_type(t),
        };
        let visible = |f: &FileRecord| match viewer {
            Viewer::Admin => true,
            Viewer::User(u) => f.user_id == u || f.public,
        };
        let st = self.state();
        let mut out: Vec<FileRecord> =
            st.files.values().filter(|f| matches(f) && live(f, now) && visible(f)).cloned().collect();
        out.sort_by(|a, b| b.created_at.cmp(&a.created_at).then_with(|| a.id.cmp(&b.id)));
        out.truncate(1000);
        Ok(out)
    }

    fn expired_files(&self, now: i64, limit: usize) -> Result<Vec<String>> {
        let st = self.state();
        Ok(st.files.values().filter(|f| !live(f, now)).map(|f| f.id.clone()).take(limit).collect())
    }

    fn all_file_ids(&self) -> Result<Vec<String>> {
        Ok(self.state().files.keys().cloned().collect())
    }
}

impl Accounting for MemoryMeta {
    fn usage(&self, user_id: &str, day: i64, now: i64) -> Result<Usage> {
        let st = self.state();
        let stored = st.files.values().filter(|f| f.user_id == user_id && live(f, now)).map(|f| f.size).sum();
        let pending: Vec<&UploadRecord> = st
            .uploads
            .values()
            .filter(|u| u.user_id == user_id && u.file_id.is_none() && u.expires_at > now)
            .collect();
        Ok(Usage {
            stored,
            reserved: pending.iter().filter_map(|u| u.length).sum(),
            today: st.daily.get(&(user_id.to_string(), day)).copied().unwrap_or(0),
            in_progress: pending.len() as u64,
        })
    }

    fn totals(&self) -> Result<StoreTotals> {
        let st = self.state();
        Ok(StoreTotals {
            files: st.files.len() as u64,
            file_bytes: st.files.values().map(|f| f.size).sum(),
            chunks: st.chunks.len() as u64,
            chunk_bytes: st.chunks.values().map(|c| u64::from(c.stored_size)).sum(),
        })
    }
}

impl IdempotencyStore for MemoryMeta {
    fn idem_begin(&self, user_id: &str, k: &str, now: i64) -> Result<IdemState> {
        let mut st = self.state();
        if let Some(existing) = st.idempotency.get(&key(user_id, k)) {
            return Ok(existing.state());
        }
        let file_id = random_id();
        let rec = IdemKey { done: false, fingerprint: None, file_id: file_id.clone(), created_at: now };
        st.idempotency.insert(key(user_id, k), rec);
        Ok(IdemState::Fresh { file_id })
    }

    fn idem_abort(&self, user_id: &str, k: &str) -> Result<()> {
        let mut st = self.state();
        if st.idempotency.get(&key(user_id, k)).is_some_and(|i| !i.done) {
            st.idempotency.remove(&key(user_id, k));
        }
        Ok(())
    }

    fn idem_get(&self, user_id: &str, k: &str) -> Result<Option<IdemState>> {
        Ok(self.state().idempotency.get(&key(user_id, k)).map(IdemKey::state))
    }

    fn idem_prune(&self, cutoff: i64, drop_in_flight: bool) -> Result<()> {
        // Keep what is young enough and, when in-flight keys go, done.
        self.state().idempotency.retain(|_, i| i.created_at >= cutoff && (i.done || !drop_in_flight));
        Ok(())
    }
}

impl UploadStore for MemoryMeta {
    fn upload_create(&self, rec: &UploadRecord) -> Result<()> {
        let mut st = self.state();
        if st.uploads.contains_key(&rec.id) {
            return Err(FileStoreError::Database("UNIQUE constraint failed: uploads.id".into()));
        }
        st.uploads.insert(rec.id.clone(), rec.clone());
        Ok(())
    }

    fn upload(&self, id: &str) -> Result<Option<UploadRecord>> {
        Ok(self.state().uploads.get(id).cloned())
    }

    fn upload_set_offset(&self, id: &str, offset: u64, expires_at: i64) -> Result<()> {
        if let Some(u) = self.state().uploads.get_mut(id) {
            u.offset = offset;
            u.expires_at = expires_at;
        }
        Ok(())
    }

    fn upload_set_file(&self, id: &str, file_id: &str) -> Result<()> {
        if let Some(u) = self.state().uploads.get_mut(id) {
            u.file_id = Some(file_id.to_string());
        }
        Ok(())
    }

    fn upload_delete(&self, id: &str) -> Result<()> {
        self.state().uploads.remove(id);
        Ok(())
    }

    fn expired_uploads(&self, now: i64) -> Result<Vec<String>> {
        Ok(self.state().uploads.values().filter(|u| u.expires_at <= now).map(|u| u.id.clone()).collect())
    }
}

impl MetadataStore for MemoryMeta {
    fn commit_file(&self, f: &FileRecord, chunks: &[ChunkRef], extras: CommitExtras<'_>) -> Result<()> {
        let mut st = self.state();
        // Everything that can fail, first: nothing below changes the state until all of it holds.
        if st.files.contains_key(&f.id) {
            return Err(FileStoreError::Database("UNIQUE constraint failed: files.id".into()));
        }
        let new: BTreeSet<Hash> = extras.new_chunks.iter().map(|(h, _, _)| *h).collect();
        if let Some(missing) =
            chunks.iter().find(|c| !st.chunks.contains_key(&c.hash) && !new.contains(&c.hash))
        {
            return Err(FileStoreError::Database(format!(
                "chunk {} is not recorded",
                crate::hex(&missing.hash)
            )));
        }
        for (h, size, stored_size) in extras.new_chunks {
            st.chunks.entry(*h).or_insert(Chunk {
                size: *size,
                stored_size: *stored_size,
                refcount: 0,
                zero_since: None,
            });
        }
        for c in chunks {
            if let Some(row) = st.chunks.get_mut(&c.hash) {
                row.refcount += 1;
                row.zero_since = None;
            }
        }
        st.files.insert(f.id.clone(), f.clone());
        st.file_chunks.insert(f.id.clone(), chunks.to_vec());
        *st.daily.entry((f.user_id.clone(), extras.day)).or_default() += 1;
        if let Some((user, k)) = extras.idempotency
            && let Some(i) = st.idempotency.get_mut(&key(user, k))
        {
            i.done = true;
            i.fingerprint = Some(extras.fingerprint.to_string());
            i.file_id = f.id.clone();
        }
        Ok(())
    }

    fn ping(&self) -> Result<()> {
        Ok(())
    }
}
