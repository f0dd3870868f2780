//! Upload path: admission (size, quota, daily limit, idempotency), streaming chunking into durable
//! blobs, then one commit transaction. Nothing here holds more than one chunk (≤ max chunk size) of
//! the file in memory.

use crate::error::{FileStoreError, Result};
use crate::meta::{ChunkRef, CommitExtras, FileRecord, IdemState, MetadataStore};
use crate::{Actor, DAY_MS, FileStore, Hash, blob, hex, now_ms, random_id};
use sha2::Digest;
use std::io::{self, Read};
use std::sync::Arc;

/// How many bytes an upload may bring, and which error applies past that.
#[derive(Clone, Copy, Debug)]
pub struct Admission {
    pub limit: u64,
    quota: Option<(u64, u64)>,
    max: u64,
}

impl Admission {
    /// Only the maximum file size applies (replays, tus uploads admitted at creation).
    pub fn unlimited(max: u64) -> Self {
        Admission { limit: max, quota: None, max }
    }
    fn error(&self) -> FileStoreError {
        match self.quota {
            Some((used, limit)) if self.limit < self.max => FileStoreError::QuotaExceeded { used, limit },
            _ => FileStoreError::TooLarge { max: self.max },
        }
    }
}

/// An idempotency key held by this request. Dropped without `finish`, a new key is released.
pub struct Ticket {
    meta: Option<Arc<dyn MetadataStore>>,
    user_id: String,
    key: Option<String>,
    file_id: String,
    replay_of: Option<String>,
    /// Bytes this upload holds reserved (a finishing tus upload), not counted against itself.
    pub(crate) reserved: u64,
}

impl Drop for Ticket {
    fn drop(&mut self) {
        if let (Some(meta), Some(key), None) = (&self.meta, &self.key, &self.replay_of)
            && let Err(e) = meta.idem_abort(&self.user_id, key)
        {
            tracing::warn!(error = %e, "could not release an idempotency key");
        }
    }
}

/// Chunks that are durable but not yet part of a committed file (pinned against GC until dropped).
pub struct Staged {
    store: Arc<FileStore>,
    pub size: u64,
    pub blake3: Hash,
    pub sha256: [u8; 32],
    pub chunks: Vec<ChunkRef>,
    pub inline: Option<Vec<u8>>,
    /// Stored bytes this upload actually wrote (0 when everything deduplicated).
    pub new_bytes: u64,
    /// `(hash, size, stored size)` of the chunks this upload wrote; recorded at commit.
    new_chunks: Vec<(Hash, u32, u32)>,
    committed: bool,
    started: std::time::Instant,
}

impl Drop for Staged {
    /// An upload that never committed (error, replay, 422) gives back at once the space of the new
    /// chunks nothing else uses (a failed upload on a full disk must not keep the disk full); the rest
    /// become unreferenced rows that GC removes after the grace period.
    fn drop(&mut self) {
        let hashes: Vec<Hash> = self.chunks.iter().map(|c| c.hash).collect();
        if self.committed {
            self.store.unpin(&hashes);
        } else {
            self.store.discard(&hashes, &self.new_chunks);
        }
    }
}

/// What the client said about the file.
#[derive(Clone, Debug, Default)]
pub struct NewFile {
    pub filename: String,
    pub content_type: String,
    pub owner: Option<String>,
    /// `None`: the configured default. `Some(0)`: never expires.
    pub btl_days: Option<i64>,
}

#[derive(Clone, Debug)]
pub struct UploadOutcome {
    pub file_id: String,
    pub sha256: String,
    /// The same key and payload were seen before; nothing new was stored.
    pub replay: bool,
}

/// Counts everything the chunker reads, and stops past the admission limit.
struct CountingReader<'a> {
    inner: &'a mut dyn Read,
    count: u64,
    limit: u64,
    over: bool,
}

impl Read for CountingReader<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        if self.count > self.limit {
            self.over = true;
            return Err(io::Error::other("upload exceeds its limit"));
        }
        Ok(n)
    }
}

/// The file extension FileDB reports: after the last dot, lowercased; "" without one.
pub fn extension(filename: &str) -> String {
    match filename.rfind('.') {
        Some(i) if i > 0 => filename[i + 1..].to_ascii_lowercase(),
        _ => String::new(),
    }
}

impl FileStore {
    /// Size, daily-limit and quota checks before any byte is written. `declared` is the size when known.
    pub fn admit(&self, actor: &Actor, declared: Option<u64>) -> Result<Admission> {
        let max = self.config.max_file_size;
        if declared.is_some_and(|d| d > max) {
            return Err(FileStoreError::TooLarge { max });
        }
        if actor.admin {
            return Ok(Admission { limit: max, quota: None, max });
        }
        let usage = self.usage(actor)?;
        let (used, today) = (usage.used(), usage.today);
        if today >= self.config.max_uploads_per_day {
            return Err(FileStoreError::DailyLimit { used: today, limit: self.config.max_uploads_per_day });
        }
        let quota = self.config.quota_bytes;
        let room = quota.saturating_sub(used);
        if declared.is_some_and(|d| d > room) || (room == 0 && declared != Some(0)) {
            return Err(FileStoreError::QuotaExceeded { used, limit: quota });
        }
        Ok(Admission { limit: room.min(max), quota: Some((used, quota)), max })
    }

    /// Claim an idempotency key (per user). A key still in flight is a conflict.
    pub fn begin(&self, actor: &Actor, key: Option<&str>) -> Result<Ticket> {
        let mut t = Ticket {
            meta: None,
            user_id: actor.user_id.clone(),
            key: key.map(str::to_string),
            file_id: random_id(),
            replay_of: None,
            reserved: 0,
        };
        let Some(key) = key else { return Ok(t) };
        match self.meta.idem_begin(&actor.user_id, key, now_ms())? {
            IdemState::Fresh { file_id } => {
                t.file_id = file_id;
                t.meta = Some(self.meta.clone());
            }
            IdemState::InFlight { .. } => return Err(FileStoreError::IdempotencyInFlight),
            IdemState::Done { file_id, fingerprint } => {
                t.file_id = file_id;
                t.replay_of = Some(fingerprint);
            }
        }
        Ok(t)
    }

    /// Is this ticket a possible replay (so quota admission can be skipped)?
    pub fn is_replay(&self, t: &Ticket) -> bool {
        t.replay_of.is_some()
    }

    /// Read `reader` to its end, cut it into chunks and make every chunk durable.
    pub fn stage(self: &Arc<Self>, reader: &mut dyn Read, adm: Admission) -> Result<Staged> {
        let mut hr = CountingReader { inner: reader, count: 0, limit: adm.limit, over: false };
        let mut staged = Staged {
            store: self.clone(),
            size: 0,
            blake3: [0; 32],
            sha256: [0; 32],
            chunks: Vec::new(),
            inline: None,
            new_bytes: 0,
            new_chunks: Vec::new(),
            committed: false,
            started: std::time::Instant::now(),
        };
        let mut written: Vec<(Hash, u32, u32)> = Vec::new();
        let p = self.config.chunk;
        // Most uploads are smaller than the minimum chunk, so they are one chunk whatever the cut points:
        // read up to `min` bytes first and skip the chunker for them. Its buffer is `max` bytes (4 MiB),
        // zero-filled again after every chunk, so each small upload in flight held 4 MiB resident.
        let mut head = Vec::new();
        if let Err(e) = (&mut hr).take(u64::from(p.min)).read_to_end(&mut head) {
            return Err(if hr.over { adm.error() } else { FileStoreError::Aborted(e.to_string()) });
        }
        let whole = head.len() < p.min as usize;
        // A pipeline with bounded queues (so memory stays a few chunks): chunking and per-chunk BLAKE3
        // here; whole-file BLAKE3 + SHA-256 on a hasher thread; compression, write and fsync on two
        // writer threads (their fsyncs overlap).
        let (tx, rx) = std::sync::mpsc::sync_channel::<(Hash, Arc<Vec<u8>>)>(2);
        let (htx, hrx) = std::sync::mpsc::sync_channel::<Arc<Vec<u8>>>(2);
        let mut digests = ([0u8; 32], [0u8; 32]);
        // Shared by the writers only: once both have stopped (say, the disk is full) the receiver is
        // gone and the chunker's next send fails instead of blocking forever.
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let failed = std::sync::atomic::AtomicBool::new(false);
        let result = std::thread::scope(|scope| -> Result<()> {
            let blobs = &self.blobs;
            let failed = &failed;
            // A writer reports what it wrote even when it fails, so a failed upload frees all of it.
            let write = |rx: Arc<std::sync::Mutex<ChunkQueue>>| {
                move || -> (Vec<(Hash, u32, u32)>, Option<FileStoreError>) {
                    let mut done = Vec::new();
                    loop {
                        let next = crate::lock(&rx).recv();
                        let Ok((hash, data)) = next else { return (done, None) };
                        let stored = blob::encode(&data);
                        if let Err(e) = blobs.put(&hash, &stored) {
                            failed.store(true, std::sync::atomic::Ordering::Relaxed);
                            return (done, Some(e));
                        }
                        done.push((hash, data.len() as u32, stored.len() as u32));
                    }
                }
            };
            let writers = [scope.spawn(write(rx.clone())), scope.spawn(write(rx))];
            let hasher = scope.spawn(move || {
                let (mut b3, mut sha) = (blake3::Hasher::new(), sha2::Sha256::new());
                for data in hrx {
                    b3.update(&data);
                    sha.update(&data[..]);
                }
                (*b3.finalize().as_bytes(), <[u8; 32]>::from(sha.finalize()))
            });
            let mut seen = std::collections::HashSet::new();
            let read = (|| -> Result<()> {
                let chunks: Box<dyn Iterator<Item = _>> = if head.is_empty() {
                    Box::new(std::iter::empty())
                } else if whole {
                    let length = head.len();
                    Box::new(std::iter::once(Ok(fastcdc::v2020::ChunkData {
                        hash: 0,
                        offset: 0,
                        length,
                        data: head,
                    })))
                } else {
                    let rest = io::Cursor::new(head).chain(&mut hr);
                    Box::new(fastcdc::v2020::StreamCDC::new(rest, p.min, p.avg, p.max))
                };
                for item in chunks {
                    let c = item.map_err(|e| match e {
                        fastcdc::v2020::Error::IoError(io) => FileStoreError::Aborted(io.to_string()),
                        other => FileStoreError::Aborted(other.to_string()),
                    })?;
                    let data = Arc::new(c.data);
                    if htx.send(data.clone()).is_err() {
                        break;
                    }
                    // A first chunk shorter than the minimum is the whole file.
                    if c.offset == 0 && c.length <= self.config.inline_max {
                        staged.inline = Some(data.to_vec());
                        continue;
                    }
                    let hash = *blake3::hash(&data).as_bytes();
                    self.pin(&hash);
                    staged.chunks.push(ChunkRef { hash, offset: c.offset, len: c.length as u32 });
                    let known = self.meta.chunk_exists(&hash)? && self.blobs.exists(&hash)?;
                    let failing = failed.load(std::sync::atomic::Ordering::Relaxed);
                    if failing || !known && seen.insert(hash) && tx.send((hash, data)).is_err() {
                        break; // a writer failed; its error is reported below
                    }
                }
                Ok(())
            })();
            drop(tx);
            drop(htx);
            match hasher.join() {
                Ok(d) => digests = d,
                Err(_) => return Err(FileStoreError::Aborted("hasher panicked".into())),
            }
            let mut first_err = None;
            for w in writers {
                match w.join() {
                    Ok((mut done, err)) => {
                        written.append(&mut done);
                        first_err = first_err.or(err);
                    }
                    Err(_) => {
                        first_err =
                            first_err.or(Some(FileStoreError::Aborted("chunk writer panicked".into())))
                    }
                }
            }
            read?;
            if let Some(e) = first_err {
                return Err(e);
            }
            Ok(())
        });
        staged.new_bytes = written.iter().map(|w| w.2 as u64).sum();
        staged.new_chunks = written;
        if hr.over {
            return Err(adm.error());
        }
        result?;
        // Renames become durable here, before anything can reference the chunks.
        let hashes: Vec<Hash> = staged.new_chunks.iter().map(|w| w.0).collect();
        self.blobs.sync(&hashes)?;
        staged.size = hr.count;
        (staged.blake3, staged.sha256) = digests;
        if staged.size == 0 {
            staged.inline = Some(Vec::new());
        }
        Ok(staged)
    }

    /// Commit the staged file (or answer a replay), in one transaction.
    pub fn finish(
        &self,
        actor: &Actor,
        mut ticket: Ticket,
        mut staged: Staged,
        nf: NewFile,
    ) -> Result<UploadOutcome> {
        let owner = nf.owner.filter(|o| !o.is_empty());
        let fingerprint = hex(blake3::Hasher::new()
            .update(&staged.blake3)
            .update(nf.filename.as_bytes())
            .update(b"\0")
            .update(nf.content_type.as_bytes())
            .update(b"\0")
            .update(owner.as_deref().unwrap_or("").as_bytes())
            .finalize()
            .as_bytes());
        let sha256 = hex(&staged.sha256);
        if let Some(prev) = ticket.replay_of.as_deref() {
            return if prev == fingerprint {
                Ok(UploadOutcome { file_id: ticket.file_id.clone(), sha256, replay: true })
            } else {
                Err(FileStoreError::IdempotencyMismatch)
            };
        }
        if !actor.admin {
            // Checked again at commit: other uploads of the user may have finished meanwhile (tus
            // uploads created before the day's limit was reached, say). This one's own reservation
            // does not count against it.
            let usage = self.usage(actor)?;
            let used = usage.used().saturating_sub(ticket.reserved);
            if used + staged.size > self.config.quota_bytes {
                return Err(FileStoreError::QuotaExceeded { used, limit: self.config.quota_bytes });
            }
            if usage.today >= self.config.max_uploads_per_day {
                let limit = self.config.max_uploads_per_day;
                return Err(FileStoreError::DailyLimit { used: usage.today, limit });
            }
        }
        let now = now_ms();
        let btl = nf.btl_days.unwrap_or(self.config.default_btl_days);
        let rec = FileRecord {
            id: ticket.file_id.clone(),
            user_id: actor.user_id.clone(),
            owner,
            extension: extension(&nf.filename),
            filename: nf.filename,
            content_type: nf.content_type,
            size: staged.size,
            blake3: hex(&staged.blake3),
            sha256: sha256.clone(),
            chunk_count: staged.chunks.len().max(1) as u32,
            created_at: now,
            btl_days: Some(btl),
            expires_at: (btl > 0).then(|| now + btl * self.config.btl_day_ms),
            public: false,
            damaged: false,
            inline: staged.inline.clone(),
        };
        let key = ticket.key.clone();
        let extras = CommitExtras {
            idempotency: key.as_deref().map(|k| (actor.user_id.as_str(), k)),
            fingerprint: &fingerprint,
            day: now / DAY_MS,
            new_chunks: &staged.new_chunks,
        };
        self.meta.commit_file(&rec, &staged.chunks, extras)?;
        staged.committed = true;
        ticket.meta = None; // committed: the key is done, not to be released
        let stored = if staged.inline.is_some() { staged.size } else { staged.new_bytes };
        record_upload(staged.size, stored, staged.started.elapsed());
        Ok(UploadOutcome { file_id: rec.id, sha256, replay: false })
    }

    /// The whole upload in one call (tus completion, tests, benchmarks).
    pub fn put(
        self: &Arc<Self>,
        actor: &Actor,
        reader: &mut dyn Read,
        nf: NewFile,
        key: Option<&str>,
    ) -> Result<UploadOutcome> {
        let ticket = self.begin(actor, key)?;
        let adm = if self.is_replay(&ticket) {
            Admission::unlimited(self.config.max_file_size)
        } else {
            self.admit(actor, None)?
        };
        let staged = self.stage(reader, adm)?;
        self.finish(actor, ticket, staged, nf)
    }
}

/// Chunks on their way from the chunker to the writers.
type ChunkQueue = std::sync::mpsc::Receiver<(Hash, Arc<Vec<u8>>)>;

/// Upload figures for `/metrics`. The dedup ratio (space saved by dedup and compression) is over
/// everything uploaded since start.
fn record_upload(size: u64, new_bytes: u64, took: std::time::Duration) {
    use std::sync::atomic::{AtomicU64, Ordering};
    static TOTAL: AtomicU64 = AtomicU64::new(0);
    static STORED: AtomicU64 = AtomicU64::new(0);
    let total = TOTAL.fetch_add(size, Ordering::Relaxed) + size;
    let stored = STORED.fetch_add(new_bytes, Ordering::Relaxed) + new_bytes;
    metrics::counter!("file_uploads_total").increment(1);
    metrics::counter!("file_upload_bytes_total").increment(size);
    metrics::counter!("file_upload_stored_bytes_total").increment(new_bytes);
    metrics::histogram!("file_upload_duration_seconds").record(took.as_secs_f64());
    if total > 0 {
        metrics::gauge!("file_upload_dedup_ratio").set(1.0 - (stored as f64 / total as f64).min(1.0));
    }
}
