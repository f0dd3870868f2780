//! tus 1.0 upload state: a part file per upload plus its durable offset in SQLite. Bytes count only
//! once fsynced and recorded, so `HEAD` after a crash reports exactly what survived. A finished upload
//! goes through the same chunk/commit path as a multipart upload.

use crate::error::{FileStoreError, Result};
use crate::ingest::{Admission, NewFile};
use crate::meta::UploadRecord;
use crate::{Actor, FileStore, lock, now_ms};
use sha2::Digest;
use std::fs::{File, OpenOptions};
use std::io::{ErrorKind, Read, Seek, SeekFrom, Write};
use std::path::PathBuf;
use std::sync::Arc;

/// Bytes between durable checkpoints inside one PATCH (when no checksum forces all-or-nothing).
const CHECKPOINT: u64 = 8 << 20;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChecksumAlgo {
    Sha1,
    Sha256,
    Blake3,
}

impl ChecksumAlgo {
    pub const NAMES: &'static str = "sha1,sha256,blake3";
    pub fn parse(name: &str) -> Option<Self> {
        match name {
            "sha1" => Some(Self::Sha1),
            "sha256" => Some(Self::Sha256),
            "blake3" => Some(Self::Blake3),
            _ => None,
        }
    }
}

#[derive(Clone, Debug)]
pub struct Checksum {
    pub algo: ChecksumAlgo,
    pub digest: Vec<u8>,
}

enum Hasher {
    Sha1(sha1::Sha1),
    Sha256(sha2::Sha256),
    Blake3(Box<blake3::Hasher>),
}

impl Hasher {
    fn new(a: ChecksumAlgo) -> Self {
        match a {
            ChecksumAlgo::Sha1 => Hasher::Sha1(sha1::Sha1::new()),
            ChecksumAlgo::Sha256 => Hasher::Sha256(sha2::Sha256::new()),
            ChecksumAlgo::Blake3 => Hasher::Blake3(Box::new(blake3::Hasher::new())),
        }
    }
    fn update(&mut self, b: &[u8]) {
        match self {
            Hasher::Sha1(h) => h.update(b),
            Hasher::Sha256(h) => h.update(b),
            Hasher::Blake3(h) => {
                h.update(b);
            }
        }
    }
    fn finish(self) -> Vec<u8> {
        match self {
            Hasher::Sha1(h) => h.finalize().to_vec(),
            Hasher::Sha256(h) => h.finalize().to_vec(),
            Hasher::Blake3(h) => h.finalize().as_bytes().to_vec(),
        }
    }
}

/// Held while one request works on an upload.
struct UploadLock<'a> {
    store: &'a FileStore,
    id: String,
}

impl Drop for UploadLock<'_> {
    fn drop(&mut self) {
        lock(&self.store.upload_locks).remove(&self.id);
    }
}

fn meta_value<'a>(rec: &'a UploadRecord, keys: &[&str]) -> Option<&'a str> {
    keys.iter().find_map(|k| rec.metadata.iter().find(|(mk, _)| mk == k).map(|(_, v)| v.as_str()))
}

impl FileStore {
    fn part_path(&self, id: &str) -> PathBuf {
        self.dir.upload_part(id)
    }

    fn lock_upload(&self, id: &str) -> Result<UploadLock<'_>> {
        if !lock(&self.upload_locks).insert(id.to_string()) {
            return Err(FileStoreError::UploadLocked);
        }
        Ok(UploadLock { store: self, id: id.to_string() })
    }

    pub fn tus_create(
        &self,
        actor: &Actor,
        length: u64,
        metadata: Vec<(String, String)>,
    ) -> Result<UploadRecord> {
        // The declared length is reserved against the quota now, so part files count; uploads in
        // progress count against the day's limit and their own cap.
        self.admit(actor, Some(length))?;
        if !actor.admin {
            let usage = self.usage(actor)?;
            let cap = self.config.max_uploads_in_progress;
            if usage.in_progress >= cap {
                return Err(FileStoreError::TooManyUploads { limit: cap });
            }
            let limit = self.config.max_uploads_per_day;
            if usage.today + usage.in_progress >= limit {
                return Err(FileStoreError::DailyLimit { used: usage.today + usage.in_progress, limit });
            }
        }
        let id = crate::hex(&quire_stdx::random::try_bytes::<16>()?);
        let path = self.part_path(&id);
        File::create(&path)?.sync_all()?;
        quire_stdx::fs::sync_dir(&self.dir.uploads())?;
        let now = now_ms();
        let rec = UploadRecord {
            id,
            user_id: actor.user_id.clone(),
            length: Some(length),
            offset: 0,
            metadata,
            created_at: now,
            expires_at: now + self.config.upload_expiry_ms,
            file_id: None,
        };
        self.meta.upload_create(&rec)?;
        Ok(rec)
    }

    /// The upload as the actor may see it; finishes one whose last bytes landed just before a crash.
    pub fn tus_get(self: &Arc<Self>, actor: &Actor, id: &str) -> Result<UploadRecord> {
        let rec = self.tus_record(actor, id)?;
        if rec.file_id.is_none() && rec.length == Some(rec.offset) {
            // A PATCH in progress will finish it; report the state as it is.
            let Ok(_l) = self.lock_upload(id) else { return Ok(rec) };
            let rec = self.tus_record(actor, id)?;
            if rec.file_id.is_none() {
                return self.tus_finalize(rec);
            }
            return Ok(rec);
        }
        Ok(rec)
    }

    fn tus_record(&self, actor: &Actor, id: &str) -> Result<UploadRecord> {
        let rec = self.meta.upload(id)?.ok_or(FileStoreError::UploadNotFound)?;
        if !actor.admin && rec.user_id != actor.user_id {
            return Err(FileStoreError::UploadNotFound);
        }
        if rec.file_id.is_none() && rec.expires_at <= now_ms() {
            return Err(FileStoreError::UploadGone);
        }
        Ok(rec)
    }

    /// Append a PATCH body at `offset`. With a checksum the body is all-or-nothing; without one,
    /// every durable checkpoint counts even if the connection drops.
    pub fn tus_append(
        self: &Arc<Self>,
        actor: &Actor,
        id: &str,
        offset: u64,
        body: &mut dyn Read,
        checksum: Option<Checksum>,
    ) -> Result<UploadRecord> {
        let _l = self.lock_upload(id)?;
        let mut rec = self.tus_record(actor, id)?;
        let length = rec.length.unwrap_or(0);
        if offset != rec.offset || rec.file_id.is_some() && offset != length {
            return Err(FileStoreError::OffsetMismatch { expected: rec.offset, got: offset });
        }
        if rec.file_id.is_some() {
            return Ok(rec);
        }
        let mut f = OpenOptions::new().write(true).open(self.part_path(id))?;
        // Anything past the recorded offset was never acknowledged: drop it.
        f.set_len(rec.offset)?;
        f.seek(SeekFrom::Start(rec.offset))?;
        let mut hasher = checksum.as_ref().map(|c| Hasher::new(c.algo));
        let room = length - rec.offset;
        // Bytes received in this request, and how many of them are durable and recorded.
        let (mut got, mut durable) = (0u64, 0u64);
        let mut buf = vec![0u8; 256 << 10];
        let expiry = self.config.upload_expiry_ms;
        let outcome: Result<()> = loop {
            let n = match body.read(&mut buf) {
                Ok(0) => break Ok(()),
                Ok(n) => n,
                Err(e) if e.kind() == ErrorKind::Interrupted => continue,
                Err(e) => break Err(FileStoreError::Aborted(e.to_string())),
            };
            if got + n as u64 > room {
                break Err(FileStoreError::Invalid("The body goes past Upload-Length".into()));
            }
            if let Err(e) = f.write_all(&buf[..n]) {
                break Err(e.into());
            }
            if let Some(h) = hasher.as_mut() {
                h.update(&buf[..n]);
            }
            got += n as u64;
            if hasher.is_none() && got - durable >= CHECKPOINT {
                let synced = f.sync_data().map_err(FileStoreError::from);
                if let Err(e) =
                    synced.and_then(|()| self.meta.upload_set_offset(id, rec.offset + got, now_ms() + expiry))
                {
                    break Err(e);
                }
                durable = got;
            }
        };
        let has_checksum = hasher.is_some();
        let digest = hasher.map(Hasher::finish);
        let verdict: Result<()> = match (outcome, digest, checksum) {
            (Ok(()), Some(d), Some(c)) if d != c.digest => Err(FileStoreError::ChecksumMismatch),
            (outcome, _, _) => outcome,
        };
        match verdict {
            // Without a checksum a dropped connection keeps what arrived (tus: keep as much as possible).
            Err(FileStoreError::Aborted(m)) if !has_checksum => {
                let kept = f.sync_data().map_err(FileStoreError::from);
                match kept.and_then(|()| self.meta.upload_set_offset(id, rec.offset + got, now_ms() + expiry))
                {
                    Ok(()) => return Err(FileStoreError::Aborted(m)),
                    Err(e) => return Err(self.truncate_to(&f, rec.offset + durable, e)),
                }
            }
            // Everything this request wrote past its last durable checkpoint goes (a full disk must
            // not stay full because of a failed write).
            Err(e) => return Err(self.truncate_to(&f, rec.offset + durable, e)),
            Ok(()) => {}
        }
        if let Err(e) = f.sync_data() {
            return Err(self.truncate_to(&f, rec.offset + durable, e.into()));
        }
        rec.offset += got;
        rec.expires_at = now_ms() + expiry;
        self.meta.upload_set_offset(id, rec.offset, rec.expires_at)?;
        if rec.offset == length {
            return self.tus_finalize(rec);
        }
        Ok(rec)
    }

    /// Cut the part file back to its last recorded offset after a failed write; returns the error.
    fn truncate_to(&self, f: &File, offset: u64, err: FileStoreError) -> FileStoreError {
        if let Err(e) = f.set_len(offset).and_then(|()| f.sync_data()) {
            tracing::warn!(error = %e, "could not cut a part file back after a failed write");
        }
        err
    }

    /// Turn the complete part file into a file (same path as `POST /files`), then drop the part.
    fn tus_finalize(self: &Arc<Self>, mut rec: UploadRecord) -> Result<UploadRecord> {
        let actor = Actor { user_id: rec.user_id.clone(), admin: rec.user_id == crate::users::ADMIN_ID };
        let btl_days = meta_value(&rec, &["btl_days", "ttl_days"]).and_then(|v| v.trim().parse::<i64>().ok());
        let nf = NewFile {
            filename: meta_value(&rec, &["filename", "name"]).unwrap_or("upload").to_string(),
            content_type: meta_value(&rec, &["filetype", "type", "content_type"])
                .filter(|t| !t.is_empty())
                .unwrap_or("application/octet-stream")
                .to_string(),
            owner: meta_value(&rec, &["owner"]).map(str::to_string),
            btl_days,
        };
        let mut f = File::open(self.part_path(&rec.id))?;
        let max = self.config.max_file_size;
        let mut ticket = self.begin(&actor, None)?;
        ticket.reserved = rec.length.unwrap_or(0);
        let staged = self.stage(&mut f, Admission::unlimited(max))?;
        let out = self.finish(&actor, ticket, staged, nf)?;
        self.meta.upload_set_file(&rec.id, &out.file_id)?;
        let _ = std::fs::remove_file(self.part_path(&rec.id));
        rec.file_id = Some(out.file_id);
        Ok(rec)
    }

    pub fn tus_terminate(&self, actor: &Actor, id: &str) -> Result<()> {
        let _l = self.lock_upload(id)?;
        let rec = self.meta.upload(id)?.ok_or(FileStoreError::UploadNotFound)?;
        if !actor.admin && rec.user_id != actor.user_id {
            return Err(FileStoreError::UploadNotFound);
        }
        self.delete_upload_data(id)
    }

    pub(crate) fn delete_upload_data(&self, id: &str) -> Result<()> {
        match std::fs::remove_file(self.part_path(id)) {
            Ok(()) => {}
            Err(e) if e.kind() == ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
        self.meta.upload_delete(id)
    }
}
